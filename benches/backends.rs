//! The same scenarios on the three backends, side by side: the ping-pong fixed points (5
//! and 100 nodes, 60 simulated seconds) and the raft-kv flagship (`scenarios/partition.toml`).
//! For each: messages delivered per wall-second, simulated seconds per wall-second, peak
//! memory, and the ratio of each to the native engine's.
//!
//! Run: `cargo bench --bench backends [-- SEEDS]` (default 1 seed each; turmoil's 100-node
//! ping-pong alone takes minutes). It builds simctl twice first: with the turmoil backend in
//! `target/turmoil`, and under `--cfg madsim` in `target/madsim` (madsim simulates only
//! there), then runs every case in a process of its own, so peak memory is the run's.
//! Wall time is the run's own (`wall_ms` of `simctl sweep --jobs 1`), without process start.
//! Benchmarks measure wall-clock time, which the kernel never may; this file is outside
//! `sim` and `protocols`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Command, Stdio};

const CASES: [(&str, &str); 3] = [
    ("ping-pong, 5 nodes", "scenarios/pingpong/bench-5.toml"),
    ("ping-pong, 100 nodes", "scenarios/pingpong/bench-100.toml"),
    ("raft-kv flagship", "scenarios/partition.toml"),
];

/// One backend's build: its name and the simctl that runs it.
struct Build {
    backend: &'static str,
    simctl: String,
}

fn cargo(args: &[&str]) -> bool {
    eprintln!("cargo {}", args.join(" "));
    Command::new(env!("CARGO")).args(args).status().is_ok_and(|s| s.success())
}

fn builds() -> Vec<Build> {
    let mut builds = Vec::new();
    if cargo(&["build", "--release", "--features", "turmoil", "--target-dir", "target/turmoil"]) {
        for backend in ["native", "turmoil"] {
            builds.push(Build { backend, simctl: "target/turmoil/release/simctl".into() });
        }
    }
    let madsim = ["build", "--release", "--features", "madsim", "--target-dir", "target/madsim"];
    if cargo(&[&madsim[..], &["--config", "build.rustflags=['--cfg', 'madsim']"]].concat()) {
        builds.push(Build { backend: "madsim", simctl: "target/madsim/release/simctl".into() });
    }
    builds
}

/// What one run of one case on one backend measured.
#[derive(Clone, Copy, Default)]
struct Measure {
    delivered: u64,
    sim_seconds: f64,
    wall_seconds: f64,
    peak_mib: f64,
}

/// Runs `simctl` with `args` and waits for it: its exit status, stdout, and peak RSS in KiB.
/// (`wait4` reaps the child, for its resource usage; `Child::wait` cannot give that.)
#[allow(clippy::zombie_processes)]
fn measured(simctl: &str, args: &[&str]) -> (bool, String, i64) {
    let child = Command::new(simctl).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn();
    let mut child = child.unwrap_or_else(|e| panic!("{simctl}: {e}"));
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().expect("piped"), &mut out).expect("stdout");
    let mut status = 0;
    // SAFETY: waiting for our own child by pid, with out-parameters we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    (libc::WIFEXITED(status), out, usage.ru_maxrss)
}

fn field(json: &str, path: &[&str]) -> f64 {
    let mut value: serde_json::Value = serde_json::from_str(json).expect("simctl prints JSON");
    for key in path {
        value = value[*key].take();
    }
    value.as_f64().unwrap_or_else(|| panic!("no {path:?} in {json}"))
}

fn measure(build: &Build, file: &str, seed: u64) -> Measure {
    let seed_text = seed.to_string();
    let backend = ["--backend", build.backend];
    let out = std::env::temp_dir().join(format!("simctl-bench-backends-{}", std::process::id()));
    let out = out.to_str().expect("utf-8 temp dir");
    let run = [&["run", file, "--seed", &seed_text, "--json", "--out", out][..], &backend].concat();
    let (ok, summary, peak_kib) = measured(&build.simctl, &run);
    assert!(ok, "{} {run:?} did not finish", build.simctl);
    let jsonl = format!("{out}/seed.jsonl");
    let _ = std::fs::remove_file(&jsonl);
    let seeds = format!("{seed}..{}", seed + 1);
    let sweep = [
        &["sweep", file, "--seeds", &seeds, "--jobs", "1", "--out", &jsonl][..],
        &["--reports", out],
        &backend,
    ]
    .concat();
    measured(&build.simctl, &sweep);
    let line = std::fs::read_to_string(&jsonl).unwrap_or_else(|e| panic!("{jsonl}: {e}"));
    let _ = std::fs::remove_dir_all(out);
    Measure {
        delivered: field(&summary, &["network", "delivered"]) as u64,
        sim_seconds: field(&summary, &["sim_time_ns"]) / 1e9,
        wall_seconds: field(line.trim(), &["wall_ms"]) / 1e3,
        peak_mib: peak_kib as f64 / 1024.0,
    }
}

fn main() {
    let seeds: u64 =
        std::env::args().skip(1).find(|a| !a.starts_with('-')).map_or(1, |a| a.parse().expect("SEEDS"));
    assert!(
        Path::new("scenarios/partition.toml").exists(),
        "run from the repository root (cargo bench does)"
    );
    let builds = builds();
    println!("\n| case | backend | messages / wall s | sim s / wall s | peak MiB | × native (messages/s) |");
    println!("|---|---|---:|---:|---:|---:|");
    for (name, file) in CASES {
        let mut native_rate = None;
        for build in &builds {
            let mut total = Measure::default();
            for seed in 1..=seeds {
                let m = measure(build, file, seed);
                total.delivered += m.delivered;
                total.sim_seconds += m.sim_seconds;
                total.wall_seconds += m.wall_seconds;
                total.peak_mib = total.peak_mib.max(m.peak_mib);
            }
            let rate = total.delivered as f64 / total.wall_seconds;
            let native = *native_rate.get_or_insert(rate);
            println!(
                "| {name} | {} | {} | {:.1} | {:.0} | {:.4} |",
                build.backend,
                human(rate),
                total.sim_seconds / total.wall_seconds,
                total.peak_mib,
                rate / native
            );
        }
    }
}

fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else {
        format!("{:.1}k", rate / 1e3)
    }
}
