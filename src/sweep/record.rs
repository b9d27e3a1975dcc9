//! One seed's result: a line of the sweep's `--out` file. It carries everything the summary
//! needs (verdict, failure bucket, coverage, latency histograms), so shards written on
//! different machines merge into exactly the summary a single sweep prints.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
pub use sim::judge::clip;
use sim::judge::{Failure, Verdict};
use sim::report::{RunReport, Table};

/// How often one kind of fault was applied and skipped in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCount {
    /// Applied.
    pub applied: u64,
    /// Scheduled but skipped (its target did not exist, ...).
    pub skipped: u64,
}

/// Where a result came from, so that `simctl merge` joins only shards of one sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// simctl's version and a digest of its executable.
    pub build: String,
    /// A digest of the scenario's text.
    pub scenario_digest: String,
    /// The seed list as given (`--seeds`).
    pub seeds: String,
    /// The shard, `K/N` (`1/1`: all seeds).
    pub shard: String,
}

/// Checks that results read from several files (`(file, its results)`) are shards of one
/// sweep: per scenario, one build, one scenario text, one seed list and one shard count,
/// and no shard twice in different files. The error names the files and what differs.
pub fn same_sweep(files: &[(String, Vec<SeedResult>)]) -> Result<(), String> {
    // scenario -> (file, origin) of the first result seen.
    let mut first: BTreeMap<&str, (&str, &Origin)> = BTreeMap::new();
    let mut shards: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for (file, results) in files {
        for result in results {
            let Some(origin) = &result.origin else {
                return Err(format!(
                    "{file}: {} seed {} does not say which build, scenario and seeds it came from \
                     (written by an older simctl): sweep again to merge",
                    result.scenario, result.seed
                ));
            };
            let (seen_in, seen) = *first.entry(&result.scenario).or_insert((file, origin));
            let differs = [
                ("builds of simctl", &seen.build, &origin.build),
                ("scenario texts", &seen.scenario_digest, &origin.scenario_digest),
                ("seed lists", &seen.seeds, &origin.seeds),
            ]
            .into_iter()
            .find(|(_, a, b)| a != b);
            if let Some((what, a, b)) = differs {
                return Err(format!(
                    "cannot merge: {} was swept with different {what} in {seen_in} ({a}) and {file} ({b})",
                    result.scenario
                ));
            }
            let count = |shard: &str| shard.split_once('/').map(|(_, n)| n.to_owned());
            if count(&seen.shard) != count(&origin.shard) {
                return Err(format!(
                    "cannot merge: {} was cut into different shard counts in {seen_in} ({}) and {file} ({})",
                    result.scenario, seen.shard, origin.shard
                ));
            }
            let owner = *shards.entry((&result.scenario, &origin.shard)).or_insert(file);
            if owner != file {
                return Err(format!(
                    "cannot merge: shard {} of {} is in both {owner} and {file}",
                    origin.shard, result.scenario
                ));
            }
        }
    }
    Ok(())
}

/// One seed of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The scenario file, as given on the command line.
    pub scenario: String,
    /// The scenario's name.
    pub name: String,
    /// The seed.
    pub seed: u64,
    /// The run's trace hash; empty when the seed never finished (timeout, worker died).
    pub trace_hash: String,
    /// Every check passed or was skipped.
    pub passed: bool,
    /// The run failed no check but could not decide one (stopped at its event budget, a
    /// check owed after the end): inconclusive, not a failure of the system.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inconclusive: bool,
    /// The check that decided the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_check: Option<String>,
    /// Why, as the check said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The failure's bucket: the check and its reason with the numbers taken out, so
    /// failures that differ only in keys, times or indexes fall together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Events run.
    pub events: u64,
    /// Simulated time at the end, in nanoseconds.
    pub sim_time_ns: u64,
    /// Wall time of the seed in its worker, in milliseconds (the one field that differs
    /// between two sweeps of the same seeds).
    pub wall_ms: f64,
    /// The command that reproduces the run.
    pub reproduce: String,
    /// Sometimes-assertions evaluated in the run → how many times each held.
    #[serde(default)]
    pub sometimes: BTreeMap<String, u64>,
    /// Fault kind → how often it was applied and skipped.
    #[serde(default)]
    pub faults: BTreeMap<String, FaultCount>,
    /// Operation kind → latency of the operations that completed ok, as an HdrHistogram
    /// (V2 with DEFLATE, base64; plain V2 reads too), so merged shards give exact aggregate
    /// percentiles.
    #[serde(default)]
    pub latency: BTreeMap<String, String>,
    /// `<operation>.<phase>` → the same, for the operations invoked before, during and after
    /// the faults (runs with faults only), so `simctl diff` compares sweeps per phase.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_by_phase: BTreeMap<String, String>,
    /// The system's additive tables (counts and shares: staleness), which the summary adds
    /// up over seeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    /// Where it came from (set by the sweep that wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl SeedResult {
    /// The result of a run that finished.
    pub fn from_report(scenario: &str, report: &RunReport, wall_ms: f64) -> SeedResult {
        let summary = &report.summary;
        let failure = report.failure();
        let reason = failure.as_ref().and_then(|f| summary.reasons.get(&f.check).cloned());
        let mut faults: BTreeMap<String, FaultCount> = BTreeMap::new();
        for line in &summary.faults {
            let kind = line.kind.name().to_owned();
            let count = faults.entry(kind).or_default();
            if line.outcome == "applied" {
                count.applied += 1;
            } else {
                count.skipped += 1;
            }
        }
        let latency = report
            .histograms
            .iter()
            .filter(|((_, phase), _)| phase.is_none())
            .map(|((op, _), histogram)| (op.clone(), encode(histogram)))
            .collect();
        let latency_by_phase = report
            .histograms
            .iter()
            .filter_map(|((op, phase), histogram)| {
                Some((format!("{op}.{}", phase.as_ref()?.name()), encode(histogram)))
            })
            .collect();
        SeedResult {
            scenario: scenario.to_owned(),
            name: summary.scenario.clone(),
            seed: summary.seed,
            trace_hash: summary.trace_hash.clone(),
            passed: summary.passed,
            inconclusive: failure.as_ref().is_some_and(|f| f.verdict == Verdict::Unknown),
            failed_check: failure.as_ref().map(|f| f.check.clone()),
            bucket: failure.as_ref().map(Failure::bucket),
            reason,
            events: summary.events,
            sim_time_ns: summary.sim_time_ns,
            wall_ms,
            reproduce: summary.reproduce.clone(),
            sometimes: summary.sometimes.clone(),
            faults,
            latency,
            latency_by_phase,
            tables: summary.tables.iter().filter(|t| t.is_additive()).cloned().collect(),
            origin: None,
        }
    }

    /// The result of a seed that did not finish: `check` is `budget` or `worker`.
    pub fn unfinished(
        scenario: &str,
        name: &str,
        seed: u64,
        check: &str,
        reason: String,
        wall_ms: f64,
    ) -> SeedResult {
        SeedResult {
            scenario: scenario.to_owned(),
            name: name.to_owned(),
            seed,
            trace_hash: String::new(),
            passed: false,
            inconclusive: false,
            failed_check: Some(check.to_owned()),
            bucket: Some(Failure::unfinished(check, &reason).bucket()),
            reason: Some(reason),
            events: 0,
            sim_time_ns: 0,
            wall_ms,
            reproduce: format!("{} run {scenario} --seed {seed}", crate::program()),
            sometimes: BTreeMap::new(),
            faults: BTreeMap::new(),
            latency: BTreeMap::new(),
            latency_by_phase: BTreeMap::new(),
            tables: Vec::new(),
            origin: None,
        }
    }

    /// The latency histograms, decoded.
    pub fn histograms(&self) -> Result<BTreeMap<String, Histogram<u64>>, String> {
        self.decode(&self.latency)
    }

    /// The latency histograms per operation and phase (`get.during`), decoded.
    pub fn phase_histograms(&self) -> Result<BTreeMap<String, Histogram<u64>>, String> {
        self.decode(&self.latency_by_phase)
    }

    fn decode(&self, encoded: &BTreeMap<String, String>) -> Result<BTreeMap<String, Histogram<u64>>, String> {
        encoded
            .iter()
            .map(|(op, text)| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| format!("seed {}: latency of {op}: {e}", self.seed))?;
                let histogram = Deserializer::new()
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| format!("seed {}: latency of {op}: {e:?}", self.seed))?;
                Ok((op.clone(), histogram))
            })
            .collect()
    }
}

fn encode(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(histogram, &mut bytes).expect("histograms serialize into memory");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_the_line() {
        let mut histogram = sim::report::histogram();
        for v in [1_000_000u64, 2_500_000, 9_999_999, 120_000_000] {
            histogram.record(v).unwrap();
        }
        let mut result = SeedResult::unfinished("s.toml", "s", 1, "budget", "slow".into(), 1.0);
        result.latency.insert("get".into(), encode(&histogram));
        let line = serde_json::to_string(&result).unwrap();
        let back: SeedResult = serde_json::from_str(&line).unwrap();
        assert_eq!(back, result);
        let decoded = back.histograms().unwrap();
        assert_eq!(decoded["get"], histogram);
    }
}
