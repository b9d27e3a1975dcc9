//! What a sweep found, from its per-seed results alone: the same summary whether the seeds
//! ran in one sweep, on any number of jobs, or in shards merged afterwards. Everything but
//! the `timing` part is a function of the set of results; `timing` (wall times, slowest
//! seeds) is the one part that differs between two sweeps of the same seeds.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;
use sim::report::LatencyStats;
use tabled::builder::Builder;
use tabled::settings::Style;

use super::record::{clip, SeedResult};

/// How many seeds of a bucket are listed.
const FIRST_SEEDS: usize = 5;
/// How many of the slowest seeds are listed.
const SLOWEST: usize = 5;

/// The summary of a set of seed results.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Seeds run.
    pub seeds: usize,
    /// Seeds that passed.
    pub passed: usize,
    /// Seeds that failed.
    pub failed: usize,
    /// Seeds that failed no check but left one undecided (see `SeedResult::inconclusive`).
    pub inconclusive: usize,
    /// A digest over every (scenario, seed, trace hash), 16 hex digits.
    pub digest: String,
    /// Per scenario file.
    pub scenarios: BTreeMap<String, ScenarioSummary>,
    /// Wall-clock facts: not part of the comparison between sweeps.
    pub timing: Timing,
}

/// One scenario's part of the summary.
#[derive(Debug, Serialize)]
pub struct ScenarioSummary {
    /// Its name.
    pub name: String,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds that passed.
    pub passed: usize,
    /// Seeds that failed.
    pub failed: usize,
    /// Seeds that failed no check but left one undecided.
    pub inconclusive: usize,
    /// A digest over its (seed, trace hash) pairs.
    pub digest: String,
    /// Events over all its seeds.
    pub events: u64,
    /// Failure bucket → its failed seeds, ascending.
    pub buckets: BTreeMap<String, Bucket>,
    /// Operation kind → latency percentiles over every seed's ok operations, in ms.
    pub latency: BTreeMap<String, LatencyStats>,
    /// Operation kind → phase (before, during, after the faults) → the same, over the seeds
    /// that had faults.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_by_phase: BTreeMap<String, BTreeMap<String, LatencyStats>>,
    /// Sometimes-assertion → in how many seeds it held at least once.
    pub sometimes: BTreeMap<String, usize>,
    /// Fault kind → in how many seeds it was applied, and how often in all.
    pub faults: BTreeMap<String, FaultCoverage>,
    /// The system's additive tables (staleness), added up over every seed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<sim::report::Table>,
}

/// The seeds of one failure bucket.
#[derive(Debug, Serialize)]
pub struct Bucket {
    /// How many.
    pub count: usize,
    /// The first few, ascending.
    pub first_seeds: Vec<u64>,
    /// The command that reproduces the first.
    pub reproduce: String,
    /// The first one's reason, as its check said it.
    pub example: String,
}

/// How often a fault kind was realized.
#[derive(Debug, Default, Serialize)]
pub struct FaultCoverage {
    /// Seeds in which it was applied at least once.
    pub seeds: usize,
    /// Times applied over all seeds.
    pub applied: u64,
    /// Times skipped over all seeds.
    pub skipped: u64,
}

/// Wall-clock facts of the runs.
#[derive(Debug, Default, Serialize)]
pub struct Timing {
    /// Wall time of all seeds added up, in seconds (the CPU a sweep needed).
    pub seed_seconds: f64,
    /// The slowest seeds: (scenario, seed, wall ms).
    pub slowest: Vec<(String, u64, f64)>,
}

/// Two results for the same scenario and seed that disagree: the run is not deterministic,
/// or the results come from different builds.
#[derive(Debug)]
pub struct Conflict {
    /// The scenario file.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The two trace hashes.
    pub hashes: (String, String),
}

/// Sorts `results` by scenario and seed and drops exact repeats of a seed (a resumed sweep,
/// overlapping shards); a seed with two different trace hashes is a conflict.
pub fn dedupe(mut results: Vec<SeedResult>) -> Result<Vec<SeedResult>, Conflict> {
    results.sort_by(|a, b| (&a.scenario, a.seed).cmp(&(&b.scenario, b.seed)));
    let mut kept: Vec<SeedResult> = Vec::with_capacity(results.len());
    for result in results {
        if let Some(last) = kept.last() {
            if last.scenario == result.scenario && last.seed == result.seed {
                if last.trace_hash != result.trace_hash || last.passed != result.passed {
                    return Err(Conflict {
                        scenario: result.scenario,
                        seed: result.seed,
                        hashes: (last.trace_hash.clone(), result.trace_hash),
                    });
                }
                continue;
            }
        }
        kept.push(result);
    }
    Ok(kept)
}

fn digest<'a>(pairs: impl Iterator<Item = (&'a str, u64, &'a str)>) -> String {
    let pairs: Vec<(&str, u64, &str)> = pairs.collect();
    format!("{:016x}", sim::kernel::hash::digest(&pairs))
}

impl Summary {
    /// Summarizes results already deduplicated and sorted by [`dedupe`].
    pub fn of(results: &[SeedResult]) -> Result<Summary, String> {
        let mut scenarios = BTreeMap::new();
        let mut start = 0;
        while start < results.len() {
            let file = &results[start].scenario;
            let end = start + results[start..].iter().take_while(|r| &r.scenario == file).count();
            scenarios.insert(file.clone(), ScenarioSummary::of(&results[start..end])?);
            start = end;
        }
        let (passed, inconclusive) = count(results);
        let mut slowest: Vec<(String, u64, f64)> =
            results.iter().map(|r| (r.scenario.clone(), r.seed, r.wall_ms)).collect();
        slowest.sort_by(|a, b| b.2.total_cmp(&a.2));
        slowest.truncate(SLOWEST);
        Ok(Summary {
            seeds: results.len(),
            passed,
            failed: results.len() - passed - inconclusive,
            inconclusive,
            digest: digest(results.iter().map(|r| (r.scenario.as_str(), r.seed, r.trace_hash.as_str()))),
            scenarios,
            timing: Timing { seed_seconds: results.iter().map(|r| r.wall_ms).sum::<f64>() / 1e3, slowest },
        })
    }

    /// The tables a person reads after a sweep.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut overview = Builder::default();
        overview.push_record([
            "scenario",
            "seeds",
            "passed",
            "failed",
            "inconclusive",
            "events/seed",
            "digest",
        ]);
        for (file, s) in &self.scenarios {
            overview.push_record([
                file.clone(),
                s.seeds.to_string(),
                s.passed.to_string(),
                s.failed.to_string(),
                s.inconclusive.to_string(),
                (s.events / s.seeds.max(1) as u64).to_string(),
                s.digest.clone(),
            ]);
        }
        out += &format!("{}\n", overview.build().with(Style::rounded()));

        if self.failed + self.inconclusive > 0 {
            let mut buckets = Builder::default();
            buckets.push_record(["scenario", "failure bucket", "seeds", "first seeds"]);
            let mut reproduce = Vec::new();
            for (file, s) in &self.scenarios {
                for (name, bucket) in &s.buckets {
                    let first: Vec<String> = bucket.first_seeds.iter().map(u64::to_string).collect();
                    buckets.push_record([
                        file.clone(),
                        name.clone(),
                        bucket.count.to_string(),
                        first.join(" "),
                    ]);
                    reproduce.push(format!("  {}\n      {}", bucket.reproduce, bucket.example));
                }
            }
            let heading = if self.inconclusive > 0 { "failures and inconclusive seeds" } else { "failures" };
            out += &format!("{heading} by bucket:\n{}\n", buckets.build().with(Style::rounded()));
            out += &format!("reproduce the first seed of each bucket:\n{}\n", reproduce.join("\n"));
        }

        let mut latency = Builder::default();
        latency.push_record([
            "scenario",
            "operation",
            "ok",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
        ]);
        let mut any_latency = false;
        for (file, s) in &self.scenarios {
            for (op, p) in &s.latency {
                any_latency = true;
                let ms = |v: f64| format!("{v:.2}");
                latency.push_record([
                    file.clone(),
                    op.clone(),
                    p.count.to_string(),
                    ms(p.p50),
                    ms(p.p90),
                    ms(p.p99),
                    ms(p.p999),
                    ms(p.max),
                ]);
            }
        }
        if any_latency {
            out += &format!("latency over all seeds:\n{}\n", latency.build().with(Style::rounded()));
        }
        for (file, s) in &self.scenarios {
            for table in &s.tables {
                out += &format!(
                    "{file}, added up over {} seeds: {}\n",
                    s.seeds,
                    crate::print::render_table(table)
                );
            }
        }

        let mut coverage = Builder::default();
        coverage.push_record([
            "scenario",
            "sometimes-assertion / fault",
            "seeds",
            "of",
            "times (applied / skipped)",
        ]);
        let mut any_coverage = false;
        for (file, s) in &self.scenarios {
            for (name, seeds) in &s.sometimes {
                any_coverage = true;
                let label = if *seeds == 0 { format!("{name}  (NEVER FIRED)") } else { name.clone() };
                coverage.push_record([
                    file.clone(),
                    label,
                    seeds.to_string(),
                    s.seeds.to_string(),
                    String::new(),
                ]);
            }
            for (kind, fault) in &s.faults {
                any_coverage = true;
                coverage.push_record([
                    file.clone(),
                    format!("fault: {kind}"),
                    fault.seeds.to_string(),
                    s.seeds.to_string(),
                    format!("{} / {}", fault.applied, fault.skipped),
                ]);
            }
        }
        if any_coverage {
            out += &format!("coverage:\n{}\n", coverage.build().with(Style::rounded()));
        }

        let slowest: Vec<String> = self
            .timing
            .slowest
            .iter()
            .map(|(file, seed, ms)| format!("{file} --seed {seed} ({ms:.0} ms)"))
            .collect();
        out += &format!("slowest seeds: {}\n", slowest.join(", "));
        out += &format!(
            "{}: {} seeds, {} passed, {} failed, {} inconclusive; digest {} over every seed's trace hash\n",
            match (self.failed, self.inconclusive) {
                (0, 0) => "PASSED",
                (0, _) => "INCONCLUSIVE",
                _ => "FAILED",
            },
            self.seeds,
            self.passed,
            self.failed,
            self.inconclusive,
            self.digest
        );
        out
    }
}

impl ScenarioSummary {
    fn of(results: &[SeedResult]) -> Result<ScenarioSummary, String> {
        let mut buckets: BTreeMap<String, Bucket> = BTreeMap::new();
        let mut histograms: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
        let mut phase_histograms: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
        let mut sometimes: BTreeMap<String, usize> = BTreeMap::new();
        let mut faults: BTreeMap<String, FaultCoverage> = BTreeMap::new();
        let mut tables: Vec<sim::report::Table> = Vec::new();
        for result in results {
            for table in &result.tables {
                if !tables.iter_mut().any(|total| total.add(table)) {
                    tables.push(table.clone());
                }
            }
            if let Some(name) = result.bucket.as_ref().filter(|_| !result.passed) {
                let bucket = buckets.entry(name.clone()).or_insert_with(|| Bucket {
                    count: 0,
                    first_seeds: Vec::new(),
                    reproduce: result.reproduce.clone(),
                    // Witnesses run over many lines; the first says what failed, and a
                    // linearizability witness's "then no order explains" line says which.
                    example: clip(&example(result.reason.as_deref().unwrap_or_default()), 160),
                });
                bucket.count += 1;
                if bucket.first_seeds.len() < FIRST_SEEDS {
                    bucket.first_seeds.push(result.seed);
                }
            }
            for (op, histogram) in result.histograms()? {
                // A decoded histogram has a fixed range; the total resizes to hold them all.
                let total = histograms.entry(op.clone()).or_insert_with(sim::report::histogram);
                total.add(&histogram).map_err(|e| format!("latency of {op}: {e:?}"))?;
            }
            for (key, histogram) in result.phase_histograms()? {
                let total = phase_histograms.entry(key.clone()).or_insert_with(sim::report::histogram);
                total.add(&histogram).map_err(|e| format!("latency of {key}: {e:?}"))?;
            }
            for (name, hits) in &result.sometimes {
                *sometimes.entry(name.clone()).or_default() += usize::from(*hits > 0);
            }
            for (kind, count) in &result.faults {
                let coverage = faults.entry(kind.clone()).or_default();
                coverage.seeds += usize::from(count.applied > 0);
                coverage.applied += count.applied;
                coverage.skipped += count.skipped;
            }
        }
        let (passed, inconclusive) = count(results);
        Ok(ScenarioSummary {
            name: results[0].name.clone(),
            seeds: results.len(),
            passed,
            failed: results.len() - passed - inconclusive,
            inconclusive,
            digest: digest(results.iter().map(|r| ("", r.seed, r.trace_hash.as_str()))),
            events: results.iter().map(|r| r.events).sum(),
            buckets,
            latency: histograms.iter().map(|(op, h)| (op.clone(), LatencyStats::of(h))).collect(),
            latency_by_phase: {
                let mut by_phase: BTreeMap<String, BTreeMap<String, LatencyStats>> = BTreeMap::new();
                for (key, h) in &phase_histograms {
                    let (op, phase) = key.rsplit_once('.').unwrap_or((key, ""));
                    by_phase.entry(op.to_owned()).or_default().insert(phase.to_owned(), LatencyStats::of(h));
                }
                by_phase
            },
            sometimes,
            faults,
            tables,
        })
    }
}

/// A failure's reason in one line: its first, or for a linearizability witness the
/// operation no order explains.
fn example(reason: &str) -> String {
    match reason.lines().find_map(|line| line.strip_prefix("then no order explains: ")) {
        Some(stuck) => format!("not linearizable: no order explains {}", stuck.trim()),
        None => reason.lines().next().unwrap_or_default().to_owned(),
    }
}

/// Seeds that passed, and seeds that were inconclusive.
fn count(results: &[SeedResult]) -> (usize, usize) {
    (results.iter().filter(|r| r.passed).count(), results.iter().filter(|r| r.inconclusive).count())
}
