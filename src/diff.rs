//! `simctl diff A B`: what changed between two runs or two sweeps, and a gate on latency in
//! simulated time. A and B are each a report folder (its `summary.json`), a results file of
//! `simctl sweep --out` (one seed a line; shards merged by naming them with commas), or the
//! `--json` summary of a sweep or a merge. Printed: verdicts that changed (per check for
//! report folders, per seed for results files), trace hashes and digests that changed, and
//! latency percentiles per scenario, operation and phase side by side with the change.
//! `--max-regression 10%` (per percentile with `p99=5%`) exits 1 when B is slower than A
//! beyond it, and a check or a seed that passed in A and fails in B is a regression too.
//! Simulated time does not depend on the machine, so the gate has no noise to allow for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::exit::{bad_input, ExitStatus};
use crate::sweep::SeedResult;

/// The percentiles a latency row has, in order.
const PERCENTILES: [&str; 5] = ["p50", "p90", "p99", "p999", "max"];

/// One side of a comparison, whatever it was read from.
#[derive(Default)]
struct Side {
    /// (scenario name, seed) → passed, trace hash, why it failed.
    runs: BTreeMap<(String, u64), (bool, String, Option<String>)>,
    /// (scenario name, seed, check) → verdict (report folders only).
    checks: BTreeMap<(String, u64, String), String>,
    /// Scenario name → digest over its seeds' trace hashes (sweeps only).
    digests: BTreeMap<String, String>,
    /// (scenario name, operation[.phase], percentile) → milliseconds; with the count of
    /// operations under (…, "count").
    latency: BTreeMap<(String, String, String), f64>,
}

fn read_side(arg: &str) -> Result<Side, String> {
    let mut side = Side::default();
    let paths: Vec<PathBuf> = arg.split(',').map(PathBuf::from).collect();
    for path in &paths {
        if path.is_dir() {
            read_report(&path.join("summary.json"), &mut side)?;
            continue;
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let whole: Option<Value> = serde_json::from_str(&text).ok();
        match whole {
            Some(value) if value.get("scenarios").is_some() => read_summary(path, &value, &mut side)?,
            Some(value) if value.get("trace_hash").is_some() && value.get("checks").is_some() => {
                read_report_value(&value, &mut side)
            }
            _ => read_results(path, &text, &mut side)?,
        }
    }
    Ok(side)
}

fn read_report(path: &Path, side: &mut Side) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a run summary: {e}", path.display()))?;
    read_report_value(&value, side);
    Ok(())
}

fn read_report_value(value: &Value, side: &mut Side) {
    let name = value["scenario"].as_str().unwrap_or_default().to_owned();
    let seed = value["seed"].as_u64().unwrap_or_default();
    let reasons = &value["reasons"];
    let first_failure = value["checks"]
        .as_object()
        .into_iter()
        .flatten()
        .find(|(_, v)| v.as_str() == Some("fail"))
        .map(|(check, _)| format!("{check}: {}", reasons[check].as_str().unwrap_or_default()));
    side.runs.insert(
        (name.clone(), seed),
        (
            value["passed"].as_bool().unwrap_or(false),
            value["trace_hash"].as_str().unwrap_or_default().to_owned(),
            first_failure,
        ),
    );
    for (check, verdict) in value["checks"].as_object().into_iter().flatten() {
        side.checks
            .insert((name.clone(), seed, check.clone()), verdict.as_str().unwrap_or_default().to_owned());
    }
    add_latency(&mut side.latency, &name, "", &value["latency"]);
    add_phases(&mut side.latency, &name, &value["latency_by_phase"]);
}

/// `latency_by_phase` (operation → phase → percentiles) as `<operation>.<phase>` rows.
fn add_phases(latency: &mut BTreeMap<(String, String, String), f64>, name: &str, by_phase: &Value) {
    for (op, phases) in by_phase.as_object().into_iter().flatten() {
        for (phase, stats) in phases.as_object().into_iter().flatten() {
            add_stats(latency, name, &format!("{op}.{phase}"), stats);
        }
    }
}

fn add_latency(latency: &mut BTreeMap<(String, String, String), f64>, name: &str, suffix: &str, ops: &Value) {
    for (op, stats) in ops.as_object().into_iter().flatten() {
        add_stats(latency, name, &format!("{op}{suffix}"), stats);
    }
}

fn add_stats(latency: &mut BTreeMap<(String, String, String), f64>, name: &str, op: &str, stats: &Value) {
    for key in PERCENTILES.iter().chain(&["count"]) {
        if let Some(value) = stats[*key].as_f64() {
            latency.insert((name.to_owned(), op.to_owned(), (*key).to_owned()), value);
        }
    }
}

fn read_summary(path: &Path, value: &Value, side: &mut Side) -> Result<(), String> {
    let scenarios = value["scenarios"]
        .as_object()
        .ok_or_else(|| format!("{}: \"scenarios\" is not a table", path.display()))?;
    for (file, scenario) in scenarios {
        let name = scenario["name"].as_str().unwrap_or(file).to_owned();
        side.digests.insert(name.clone(), scenario["digest"].as_str().unwrap_or_default().to_owned());
        add_latency(&mut side.latency, &name, "", &scenario["latency"]);
        add_phases(&mut side.latency, &name, &scenario["latency_by_phase"]);
    }
    Ok(())
}

fn read_results(path: &Path, text: &str, side: &mut Side) -> Result<(), String> {
    let mut results = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let result: SeedResult = serde_json::from_str(line).map_err(|e| {
            format!(
                "{}:{}: not a report folder, a sweep's results line or a sweep summary: {e}",
                path.display(),
                number + 1
            )
        })?;
        results.push(result);
    }
    if results.is_empty() {
        return Err(format!("{}: no results", path.display()));
    }
    for result in &results {
        side.runs.insert(
            (result.name.clone(), result.seed),
            (result.passed, result.trace_hash.clone(), result.bucket.clone()),
        );
    }
    let summary = crate::sweep::summarize(&results)?;
    let summary = serde_json::to_value(&summary).expect("summaries serialize");
    read_summary(path, &summary, side)
}

/// A latency limit per percentile: `10%` for all, `p99=5%` for one (later ones win).
fn limits(specs: &[String]) -> Result<BTreeMap<&'static str, f64>, String> {
    let mut limits = BTreeMap::new();
    for spec in specs {
        let (which, percent) = match spec.split_once('=') {
            Some((which, percent)) => (Some(which.trim()), percent),
            None => (None, spec.as_str()),
        };
        let number =
            percent.trim().strip_suffix('%').and_then(|n| n.trim().parse::<f64>().ok()).filter(|n| *n >= 0.0);
        let Some(number) = number else {
            return Err(format!("--max-regression {spec}: expected a percentage such as 10% or p99=5%"));
        };
        match which {
            None => PERCENTILES.iter().for_each(|p| {
                limits.insert(*p, number);
            }),
            Some(which) => {
                let Some(p) = PERCENTILES.iter().find(|p| **p == which) else {
                    return Err(format!(
                        "--max-regression {spec}: {which:?} is not one of {}",
                        PERCENTILES.join(", ")
                    ));
                };
                limits.insert(*p, number);
            }
        }
    }
    Ok(limits)
}

fn change(a: f64, b: f64) -> Option<f64> {
    (a > 0.0).then(|| (b - a) / a * 100.0)
}

/// `simctl diff`.
pub fn diff(a: &str, b: &str, max_regression: &[String], json: bool) -> ExitStatus {
    let (limits, a_side, b_side) = match (limits(max_regression), read_side(a), read_side(b)) {
        (Ok(limits), Ok(x), Ok(y)) => (limits, x, y),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return bad_input(&e),
    };
    let mut regressions: Vec<String> = Vec::new();
    let mut out = String::new();
    // Verdicts.
    let mut verdicts = Vec::new();
    for (key, (passed_b, _, why_b)) in &b_side.runs {
        if let Some((passed_a, _, _)) = a_side.runs.get(key) {
            if passed_a != passed_b {
                let (name, seed) = key;
                let line = format!(
                    "{name} seed {seed}: {} -> {}{}",
                    if *passed_a { "passed" } else { "FAILED" },
                    if *passed_b { "passed" } else { "FAILED" },
                    why_b.as_deref().map_or(String::new(), |w| format!(" ({})", crate::sweep::clip(w, 120)))
                );
                if *passed_a {
                    regressions.push(line.clone());
                }
                verdicts.push(line);
            }
        }
    }
    for (key, verdict_b) in &b_side.checks {
        if let Some(verdict_a) = a_side.checks.get(key) {
            if verdict_a != verdict_b {
                let (name, seed, check) = key;
                let line = format!("{name} seed {seed} {check}: {verdict_a} -> {verdict_b}");
                if verdict_a == "pass" && verdict_b == "fail" {
                    regressions.push(line.clone());
                }
                verdicts.push(line);
            }
        }
    }
    let only = |x: &Side, y: &Side| x.runs.keys().filter(|k| !y.runs.contains_key(*k)).count();
    out += &format!(
        "verdicts: {} changed{}\n",
        verdicts.len(),
        if verdicts.is_empty() { String::new() } else { format!(":\n  {}", verdicts.join("\n  ")) }
    );
    // Trace hashes and digests.
    let common: Vec<&(String, u64)> = b_side.runs.keys().filter(|k| a_side.runs.contains_key(*k)).collect();
    let changed: Vec<String> = common
        .iter()
        .filter(|k| a_side.runs[**k].1 != b_side.runs[**k].1)
        .map(|(name, seed)| format!("{name} seed {seed}"))
        .collect();
    out += &format!(
        "trace hashes: {} of {} runs in both differ{}{}\n",
        changed.len(),
        common.len(),
        if changed.is_empty() {
            String::new()
        } else {
            format!(" (first: {})", changed[..changed.len().min(5)].join(", "))
        },
        match (only(&a_side, &b_side), only(&b_side, &a_side)) {
            (0, 0) => String::new(),
            (x, y) => format!("; {x} runs only in A, {y} only in B"),
        }
    );
    for (name, digest_b) in &b_side.digests {
        match a_side.digests.get(name) {
            Some(digest_a) if digest_a == digest_b => {
                out += &format!("digest {name}: {digest_b} (unchanged)\n")
            }
            Some(digest_a) => out += &format!("digest {name}: {digest_a} -> {digest_b}\n"),
            None => {}
        }
    }
    // Latency.
    let mut table = Builder::default();
    table.push_record(["scenario", "operation", "percentile", "A ms", "B ms", "change", "limit"]);
    let mut rows = Vec::new();
    let ops: BTreeSet<(&String, &String)> =
        b_side.latency.keys().filter(|(_, _, p)| p != "count").map(|(s, o, _)| (s, o)).collect();
    for (scenario, op) in ops {
        for p in PERCENTILES {
            let key = (scenario.clone(), op.clone(), p.to_owned());
            let (Some(a), Some(b)) = (a_side.latency.get(&key), b_side.latency.get(&key)) else { continue };
            let delta = change(*a, *b);
            let limit = limits.get(p).copied();
            let over = matches!((delta, limit), (Some(d), Some(l)) if d > l);
            if over {
                regressions.push(format!(
                    "{scenario} {op} {p}: {a:.3} ms -> {b:.3} ms (+{:.1}%, limit {:.1}%)",
                    delta.unwrap_or_default(),
                    limit.unwrap_or_default()
                ));
            }
            rows.push(
                serde_json::json!({"scenario": scenario, "operation": op, "percentile": p, "a": a, "b": b,
                "change_percent": delta, "over_limit": over}),
            );
            table.push_record([
                scenario.clone(),
                op.clone(),
                p.to_owned(),
                format!("{a:.3}"),
                format!("{b:.3}"),
                delta.map_or("-".to_owned(), |d| format!("{d:+.1}%")),
                match (limit, over) {
                    (Some(l), true) => format!("{l:.1}% EXCEEDED"),
                    (Some(l), false) => format!("{l:.1}%"),
                    (None, _) => String::new(),
                },
            ]);
        }
    }
    if json {
        let report = serde_json::json!({
            "verdicts": verdicts,
            "trace_hashes_changed": changed.len(),
            "runs_in_both": common.len(),
            "latency": rows,
            "regressions": regressions,
        });
        println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    } else {
        print!("{out}");
        if rows.is_empty() {
            println!("latency: no operation timed in both");
        } else {
            println!("latency in simulated time (B against A):\n{}", table.build().with(Style::rounded()));
        }
        if regressions.is_empty() {
            println!("no regression");
        } else {
            println!("REGRESSED ({}):\n  {}", regressions.len(), regressions.join("\n  "));
        }
    }
    if regressions.is_empty() {
        ExitStatus::Passed
    } else {
        ExitStatus::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_to_all_percentiles_or_one() {
        let all = limits(&["10%".to_owned()]).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all["p99"], 10.0);
        let mixed = limits(&["10%".to_owned(), "p99=2.5%".to_owned()]).unwrap();
        assert_eq!((mixed["p50"], mixed["p99"]), (10.0, 2.5));
        assert!(limits(&["ten".to_owned()]).unwrap_err().contains("expected a percentage"));
        assert!(limits(&["p95=1%".to_owned()]).unwrap_err().contains("\"p95\" is not one of"));
    }

    #[test]
    fn change_is_relative_to_a() {
        assert_eq!(change(10.0, 11.0), Some(10.0));
        assert_eq!(change(10.0, 5.0), Some(-50.0));
        assert_eq!(change(0.0, 5.0), None);
    }
}
