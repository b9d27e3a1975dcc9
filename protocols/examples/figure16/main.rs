//! Raft paper Figure 16: time to elect a new leader after the leader crashes, per election
//! timeout range. Prints p50/p90/p99/max per range and writes one `.hgrm` histogram each.
//!
//! ```text
//! cargo run --release -p protocols --example figure16 -- [--trials N] [--out DIR] [--disk on]
//!     [--tick-us N] [--phase on] [--ranges 150-150,150-155] [--latency-us LOW-HIGH] [--fsync-us N]
//! ```
//!
//! `--disk on` puts the broadcast time mostly in fsync (7 ms) instead of the network;
//! `--tick-us` sets raft-rs's tick (1000 by default: timeouts in whole milliseconds);
//! `--phase on` starts each server's ticks at a random phase instead of all in step;
//! `--ranges` runs only these timeout ranges (milliseconds); `--latency-us` and `--fsync-us`
//! replace the one-way latency range and the fsync time of the setup.
//!
//! ```text
//! ```

use std::time::Duration;

use hdrhistogram::Histogram;
mod election;

use election::{trial, Setup, Trial};

const RANGES: [(u64, u64); 10] = [
    (150, 150),
    (150, 151),
    (150, 155),
    (150, 175),
    (150, 200),
    (150, 300),
    (12, 24),
    (25, 50),
    (50, 100),
    (100, 200),
];

fn main() {
    let mut trials = 1000u64;
    let mut disk = false;
    let mut tick_us = 1000u64;
    let mut phase = false;
    let mut ranges: Vec<(u64, u64)> = RANGES.to_vec();
    let mut latency_us: Option<(u64, u64)> = None;
    let mut fsync_us: Option<u64> = None;
    let mut out = std::path::PathBuf::from("reports/figure16");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--trials", Some(n)) => match n.parse() {
                Ok(n) if n > 0 => trials = n,
                _ => fail(&format!("--trials takes a positive number, got {n:?}")),
            },
            ("--out", Some(dir)) => out = dir.into(),
            ("--disk", Some(flag)) => disk = flag == "on",
            ("--phase", Some(flag)) => phase = flag == "on",
            ("--tick-us", Some(n)) => match n.parse() {
                Ok(n) if n > 0 => tick_us = n,
                _ => fail(&format!("--tick-us takes a positive number of microseconds, got {n:?}")),
            },
            ("--ranges", Some(list)) => ranges = list.split(',').map(parse_range).collect(),
            ("--latency-us", Some(range)) => latency_us = Some(parse_range(&range)),
            ("--fsync-us", Some(n)) => match n.parse() {
                Ok(n) => fsync_us = Some(n),
                _ => fail(&format!("--fsync-us takes a number of microseconds, got {n:?}")),
            },
            _ => fail(&format!(
                "unknown argument {arg:?}; usage: figure16 [--trials N] [--out DIR] [--disk on] [--tick-us N] [--phase on] [--ranges LOW-HIGH,...]"
            )),
        }
    }
    if let Err(error) = std::fs::create_dir_all(&out) {
        fail(&format!("cannot create {}: {error}", out.display()));
    }
    let base = if disk { Setup::paper_disk(150, 150) } else { Setup::paper(150, 150) };
    let latency = latency_us.map(|(low, high)| (Duration::from_micros(low), Duration::from_micros(high)));
    let (latency, fsync) =
        (latency.unwrap_or(base.latency), fsync_us.map_or(base.fsync, Duration::from_micros));
    let where_ = format!("{:?}-{:?} one-way, {:?} fsync", latency.0, latency.1, fsync);
    let ticking = if phase { "out of step" } else { "in step" };
    println!("Raft Figure 16: {trials} trials per range ({where_}; {tick_us} us ticks, {ticking}); ms from the leader's crash until the other servers hear the new leader");
    println!(
        "{:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "timeout", "p50", "p90", "p99", "max", "mean", "gave up", "no first"
    );
    for (low, high) in ranges {
        let setup = if disk { Setup::paper_disk(low, high) } else { Setup::paper(low, high) };
        let setup = Setup { tick: Duration::from_micros(tick_us), phase, latency, fsync, ..setup };
        if setup.tick * 2 > setup.low / 2 {
            fail(&format!(
                "--tick-us {tick_us} leaves less than two ticks in the heartbeat of {low}-{high} ms"
            ));
        }
        let mut histogram =
            Histogram::<u64>::new_with_bounds(1_000, 600_000_000_000, 3).expect("valid bounds");
        let (mut gave_up, mut no_first) = (0, 0);
        for seed in 0..trials {
            match trial(&setup, seed) {
                Trial::Elected(took) => histogram.record(took.as_nanos() as u64).expect("within bounds"),
                Trial::GaveUp => gave_up += 1,
                Trial::NoFirstLeader => no_first += 1,
            }
        }
        let elected = !histogram.is_empty();
        let ms = |value: f64| if elected { format!("{:.1}", value / 1e6) } else { "-".into() };
        let at = |q: f64| ms(histogram.value_at_quantile(q) as f64);
        println!(
            "{:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
            format!("{low}-{high}"),
            at(0.5),
            at(0.9),
            at(0.99),
            ms(histogram.max() as f64),
            ms(histogram.mean()),
            gave_up,
            no_first
        );
        let suffix = format!(
            "{}{}{}",
            if disk { "-disk" } else { "" },
            if tick_us == 1000 { String::new() } else { format!("-tick{tick_us}us") },
            if phase { "-phase" } else { "" }
        );
        let file = out.join(format!("election-{low}-{high}ms{suffix}.hgrm"));
        if let Err(error) = std::fs::write(&file, sim::report::hgrm(&histogram)) {
            fail(&format!("cannot write {}: {error}", file.display()));
        }
    }
    let give_up = Setup::paper(150, 150).give_up;
    println!("histograms: {}/election-*.hgrm (give-up limit {give_up:?} per trial)", out.display());
}

fn parse_range(text: &str) -> (u64, u64) {
    let parsed = text.split_once('-').and_then(|(low, high)| Some((low.parse().ok()?, high.parse().ok()?)));
    match parsed {
        Some((low, high)) if low <= high && low > 0 => (low, high),
        _ => fail(&format!("a range is LOW-HIGH, both positive, LOW <= HIGH; got {text:?}")),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("figure16: {message}");
    std::process::exit(2);
}
