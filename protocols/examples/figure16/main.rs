//! Raft paper Figure 16: time to elect a new leader after the leader crashes, per election
//! timeout range. Prints p50/p90/p99/max per range and writes one `.hgrm` histogram each.
//!
//! ```text
//! cargo run --release -p protocols --example figure16 -- [--trials N] [--out DIR] [--disk on]
//! ```
//!
//! `--disk on` puts the 15 ms broadcast time mostly in fsync instead of the network.
//!
//! ```text
//! ```

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
            _ => fail(&format!(
                "unknown argument {arg:?}; usage: figure16 [--trials N] [--out DIR] [--disk on]"
            )),
        }
    }
    if let Err(error) = std::fs::create_dir_all(&out) {
        fail(&format!("cannot create {}: {error}", out.display()));
    }
    let where_ = if disk { "0.1-0.3 ms one-way, 7 ms fsync" } else { "6-9 ms one-way, instant fsync" };
    println!("Raft Figure 16: {trials} trials per range ({where_}); ms from the leader's crash until the other servers hear the new leader");
    println!(
        "{:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "timeout", "p50", "p90", "p99", "max", "mean", "gave up"
    );
    for (low, high) in RANGES {
        let setup = if disk { Setup::paper_disk(low, high) } else { Setup::paper(low, high) };
        let mut histogram =
            Histogram::<u64>::new_with_bounds(1_000, 600_000_000_000, 3).expect("valid bounds");
        let mut gave_up = 0;
        for seed in 0..trials {
            match trial(&setup, seed) {
                Trial::Elected(took) => histogram.record(took.as_nanos() as u64).expect("within bounds"),
                Trial::GaveUp | Trial::NoFirstLeader => gave_up += 1,
            }
        }
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1e6;
        println!(
            "{:>10} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9}",
            format!("{low}-{high}"),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            histogram.max() as f64 / 1e6,
            histogram.mean() / 1e6,
            gave_up
        );
        let suffix = if disk { "-disk" } else { "" };
        let file = out.join(format!("election-{low}-{high}ms{suffix}.hgrm"));
        if let Err(error) = std::fs::write(&file, sim::report::hgrm(&histogram)) {
            fail(&format!("cannot write {}: {error}", file.display()));
        }
    }
    let give_up = Setup::paper(150, 150).give_up;
    println!("histograms: {}/election-*.hgrm (give-up limit {give_up:?} per trial)", out.display());
}

fn fail(message: &str) -> ! {
    eprintln!("figure16: {message}");
    std::process::exit(2);
}
