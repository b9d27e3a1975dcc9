//! simctl, the command line, as a library: [`main`] gives a binary every subcommand (`run`,
//! `replay`, `validate`, `list`, `sweep`, `merge`, `diff`, `shrink`, `bisect`,
//! `check-history`) for the systems of a [`Registry`]. simctl's own binary passes the
//! shipped systems (`protocols::systems()`); a crate with a protocol of its own passes its
//! own, with or without them:
//!
//! ```no_run
//! # use sim::harness::registry::Registry;
//! # fn my_systems() -> Registry { Registry::new(Vec::new()) }
//! fn main() -> std::process::ExitCode {
//!     simctl::main(my_systems()).into()   // e.g. sim::systems![lease::Lease]
//! }
//! ```
//!
//! A `cargo test` needs only `sim`: `sim::explore::shrink::shrink_scenario` makes a failing
//! seed small, `sim::explore::bisect::bisect_run` finds the event that decides it. Here,
//! [`sweep::SeedResult`] is a run's line in a sweep. Argument parsing is `cli`, printing
//! `print`; the work is in `sim`.

mod bisect;
mod check_history;
mod cli;
mod diff;
pub mod exit;
mod print;
mod run;
mod shrink;
pub mod sweep;

use clap::Parser;
use sim::harness::run::{Messages, RunOptions};

pub use exit::ExitStatus;

/// The README's Rust examples, compiled and run by `cargo test --doc` (`tests/docs.rs`
/// checks the other blocks of the README and the documents against their files).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
pub use sim::harness::registry::{register, Registry};

use check_history::check_history;
use cli::{Cli, Command};
use exit::bad_input;
use print::list;
use run::{message_window, replay, run, validate};

/// This program's name, as a user runs it (`simctl`, or the binary of a crate of its own),
/// for the reproduce lines it prints.
pub(crate) fn program() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::args_os()
            .next()
            .and_then(|arg0| {
                std::path::Path::new(&arg0).file_stem().map(|s| s.to_string_lossy().into_owned())
            })
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "simctl".to_owned())
    })
}

/// The whole command line for `registry`'s systems: parses the arguments, runs the
/// subcommand, returns how it ended.
pub fn main(registry: Registry) -> ExitStatus {
    restore_sigpipe();
    sim::harness::run::install_panic_hook();
    let registry = &registry;
    match Cli::parse().command {
        Command::Run {
            scenario,
            seed,
            out,
            json,
            trace,
            check_determinism,
            max_events,
            backend,
            messages,
        } => {
            let messages = match messages.as_deref().map(message_window).transpose() {
                Ok(window) => window.unwrap_or(Messages::Failing),
                Err(error) => return bad_input(&error),
            };
            let options = RunOptions { trace, max_events, backend, messages, command: program() };
            run(registry, &scenario, seed, &out, json, options, check_determinism)
        }
        Command::Replay { report } => replay(registry, &report),
        Command::Validate { scenarios } => validate(registry, &scenarios),
        Command::List => list(registry),
        Command::Sweep(args) => sweep::sweep(registry, args),
        Command::Shrink { scenario, seed, out, max_runs } => {
            shrink::shrink(registry, &scenario, seed, out.as_deref(), max_runs)
        }
        Command::Bisect { scenario, seed, window } => bisect::bisect(registry, &scenario, seed, window),
        Command::Merge { files, junit, html, reports, json } => {
            let html = html.as_deref().map(|page| (page, reports.as_deref()));
            sweep::merge(&files, junit.as_deref(), html, json)
        }
        Command::Diff { a, b, max_regression, json } => diff::diff(&a, &b, &max_regression, json),
        Command::SweepWorker { scenarios, max_events, backend, reports } => {
            let options = RunOptions {
                trace: false,
                max_events,
                backend,
                messages: Messages::Failing,
                command: program(),
            };
            sweep::worker(registry, &scenarios, options, reports.as_deref())
        }
        Command::CheckHistory { files, model, init, format, budget, max_states, json } => {
            check_history(&files, &model, init.as_deref(), format.as_deref(), &budget, max_states, json)
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`simctl list | head`) would panic;
/// the default action ends the process quietly, as for any Unix filter.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any thread or handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
