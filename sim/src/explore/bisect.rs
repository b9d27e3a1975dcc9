//! The earliest point of a failing run at which the failure is already determined
//! (`simctl bisect`).
//!
//! A run stopped at an event budget runs exactly the first events of the full run (the budget
//! changes nothing before it), and its safety checks (linearizability of the history so far,
//! the system's invariants) are judged on that prefix; both are prefix-closed, so once a
//! prefix fails it stays failed. A binary search over the budget finds the first event after
//! which the run fails in the same bucket as the full run. The events just before it are the
//! first bad step: the delivery that completes the stale read, the message that overwrites
//! the last copy of an acknowledged write.

use super::{failed, fails_as};
use crate::harness::registry::Registry;
use crate::harness::run::RunOptions;
use crate::judge::Failure;
use crate::report::RunReport;

/// Where a failing run's failure is determined: what [`bisect_run`] finds.
#[derive(Debug)]
pub struct Bisected {
    /// The full run's failure (its `check` decides it).
    pub failure: Failure,
    /// Its bucket, as sweeps group failures.
    pub bucket: String,
    /// Events in the full run.
    pub events: u64,
    /// The first this many events fail the same way; one fewer do not.
    pub first_failing: u64,
    /// Runs it took to find it (the full run and the search; the traced prefix besides).
    pub runs: usize,
    /// The run stopped after `first_failing` events, with its trace.
    pub prefix: RunReport,
}

/// Why a run cannot be bisected.
#[derive(Debug, PartialEq, Eq)]
pub enum NotBisectable {
    /// The scenario is invalid, or a run could not be made.
    Invalid(String),
    /// It passes on that seed.
    Passes,
    /// Its deciding check is judged over the whole run (liveness, a latency bound,
    /// convergence): no prefix decides it.
    WholeRun {
        /// The check.
        check: String,
        /// The failure's bucket.
        bucket: String,
    },
}

/// Finds the first event after which scenario `text` (named `file`), failing on `seed`, is
/// bound to fail the same way: a binary search over event budgets, each prefix judged by
/// its safety checks. The library's `simctl bisect`, for a `cargo test`.
///
/// # Errors
/// See [`NotBisectable`].
pub fn bisect_run(registry: &Registry, file: &str, text: &str, seed: u64) -> Result<Bisected, NotBisectable> {
    let run = |max_events: Option<u64>, trace: bool| -> Result<RunReport, NotBisectable> {
        registry
            .run(file, text, seed, &RunOptions { trace, max_events, ..RunOptions::default() })
            .map_err(|e| NotBisectable::Invalid(e.to_string()))
    };
    let full = run(None, false)?;
    let failure = failed(&full).ok_or(NotBisectable::Passes)?;
    let bucket = failure.bucket();
    if failure.check == "complete" || full.summary.whole_run_checks.contains(&failure.check) {
        return Err(NotBisectable::WholeRun { check: failure.check, bucket });
    }
    let fails_at =
        |events: u64| -> Result<bool, NotBisectable> { Ok(fails_as(&run(Some(events), false)?, &bucket)) };
    // Invariant: a prefix of `low` events does not fail, one of `high` events does.
    let (mut low, mut high) = (0u64, full.summary.events);
    let mut runs = 1;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        runs += 1;
        if fails_at(middle)? {
            high = middle;
        } else {
            low = middle;
        }
    }
    let prefix = run(Some(high), true)?;
    Ok(Bisected { failure, bucket, events: full.summary.events, first_failing: high, runs, prefix })
}
