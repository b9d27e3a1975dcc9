//! `simctl sweep` and `simctl merge`: the same results however the seeds are split, resume,
//! isolation of failing seeds, JUnit output.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{scratch, simctl, stderr, write};
use serde_json::Value;

/// A cheap scenario: ping-pong with crashes, 30 simulated seconds, about 40 ms a seed.
const CHEAP: &str = "scenarios/pingpong/crash.toml";

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// The summary JSON without its wall-clock part.
fn summary(output: &std::process::Output) -> Value {
    let mut value: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("--json prints JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    value.as_object_mut().unwrap().remove("timing");
    value
}

fn sweep(dir: &Path, name: &str, extra: &[&str]) -> (std::process::Output, std::path::PathBuf) {
    let out = dir.join(name);
    let mut args = vec!["sweep", CHEAP, "--seeds", "0..12", "--json", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    (simctl(&args), out)
}

#[test]
fn one_and_two_jobs_give_the_same_results_and_digest() {
    let dir = scratch("sweep-jobs");
    let (one, one_out) = sweep(&dir, "one.jsonl", &["--jobs", "1"]);
    let (two, two_out) = sweep(&dir, "two.jsonl", &["--jobs", "2"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let (one, two) = (summary(&one), summary(&two));
    assert_eq!(one, two);
    assert_eq!(one["seeds"], 12);
    assert_eq!(one["digest"].as_str().unwrap().len(), 16);
    let keys = |path: &Path| -> BTreeSet<(u64, String, bool)> {
        lines(path)
            .iter()
            .map(|l| {
                (
                    l["seed"].as_u64().unwrap(),
                    l["trace_hash"].as_str().unwrap().to_owned(),
                    l["passed"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(keys(&one_out), keys(&two_out));
    assert_eq!(keys(&one_out).len(), 12);
}

#[test]
fn three_shards_merge_into_the_full_summary() {
    let dir = scratch("sweep-shards");
    let (full, _) = sweep(&dir, "full.jsonl", &["--jobs", "2"]);
    let mut shard_files = Vec::new();
    let mut seen = Vec::new();
    for k in 1..=3 {
        let (output, out) =
            sweep(&dir, &format!("shard-{k}.jsonl"), &["--shard", &format!("{k}/3"), "--jobs", "1"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        seen.extend(lines(&out).iter().map(|l| l["seed"].as_u64().unwrap()));
        shard_files.push(out.display().to_string());
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..12).collect::<Vec<u64>>(), "the shards split the seeds exactly");
    let mut args = vec!["merge", "--json"];
    args.extend(shard_files.iter().map(String::as_str));
    let merged = simctl(&args);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(summary(&merged), summary(&full));
}

#[test]
fn a_resumed_sweep_runs_no_seed_twice() {
    let dir = scratch("sweep-resume");
    let out = dir.join("results.jsonl");
    // An interrupted sweep: the first five seeds done, the sixth cut off mid-line.
    let (first, _) = sweep(&dir, "results.jsonl", &["--jobs", "1"]);
    assert_eq!(first.status.code(), Some(0));
    let text = std::fs::read_to_string(&out).unwrap();
    let kept: Vec<&str> = text.lines().take(5).collect();
    let sixth = text.lines().nth(5).unwrap();
    std::fs::write(&out, format!("{}\n{}", kept.join("\n"), &sixth[..sixth.len() / 2])).unwrap();
    let (resumed, _) = sweep(&dir, "results.jsonl", &["--jobs", "2"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("5 seeds already in the results file, 7 to run"),
        "{}",
        stderr(&resumed)
    );
    let seeds: Vec<u64> = lines(&out).iter().map(|l| l["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds.len(), 12, "every seed once: {seeds:?}");
    assert_eq!(seeds.iter().collect::<BTreeSet<_>>().len(), 12);
    assert_eq!(summary(&resumed)["digest"], summary(&first)["digest"]);
    // Nothing left to do: a third run runs nothing and reports the same.
    let (again, _) = sweep(&dir, "results.jsonl", &[]);
    assert!(stderr(&again).contains("12 seeds already in the results file, 0 to run"), "{}", stderr(&again));
    assert_eq!(lines(&out).len(), 12);
}

#[test]
fn a_panicking_canary_fails_its_seeds_and_the_sweep_goes_on() {
    let dir = scratch("sweep-panic");
    let panicking = write(
        &dir,
        "panic.toml",
        "name = \"canary\"\nsystem = \"pingpong\"\nnodes = 3\nduration = \"5s\"\n[workload]\nrate = \"100/s\"\n\
         [settings]\nbugs = [\"panic-on-relay\"]\n",
    );
    let out = dir.join("r.jsonl");
    let junit = dir.join("junit.xml");
    let output = simctl(&[
        "sweep",
        &panicking,
        CHEAP,
        "--seeds",
        "0..4",
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--reports",
        dir.join("reports").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let results = lines(&out);
    assert_eq!(results.len(), 8, "every seed of both scenarios ran");
    for result in &results {
        let panicked = result["scenario"] == panicking.as_str();
        assert_eq!(result["passed"], !panicked, "{result}");
        if panicked {
            assert_eq!(result["failed_check"], "no_panic");
            assert!(result["bucket"]
                .as_str()
                .unwrap()
                .starts_with("no_panic: planted bug: relaying operation N"));
        }
    }
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("failures by bucket") && text.contains(&format!("simctl run {panicking} --seed 0")),
        "{text}"
    );
    assert!(dir.join("reports/canary/0/summary.json").exists(), "failed seeds get a report folder");
    validate_junit(&std::fs::read_to_string(&junit).unwrap(), 8, 4);
}

#[test]
fn a_seed_over_its_time_budget_fails_alone() {
    let dir = scratch("sweep-timeout");
    let (output, out) = sweep(&dir, "r.jsonl", &["--seed-timeout", "1ns", "--jobs", "2"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let results = lines(&out);
    assert_eq!(results.len(), 12, "the sweep went on after each killed worker");
    for result in results {
        assert_eq!(result["failed_check"], "budget");
        assert_eq!(result["trace_hash"], "");
    }
}

#[test]
fn a_seed_over_its_event_budget_is_inconclusive_alone() {
    let dir = scratch("sweep-events");
    let (output, out) = sweep(&dir, "r.jsonl", &["--max-events", "1000", "--jobs", "2"]);
    assert_eq!(output.status.code(), Some(4), "inconclusive, not failed: {}", stderr(&output));
    let results = lines(&out);
    assert_eq!(results.len(), 12);
    for result in results {
        assert_eq!(result["failed_check"], "complete", "{result}");
        assert_eq!(result["inconclusive"], true, "{result}");
        assert_eq!(result["events"], 1000);
        assert!(result["bucket"]
            .as_str()
            .unwrap()
            .starts_with("complete: stopped at the event budget (N events)"));
    }
}

#[test]
fn fail_fast_stops_handing_out_seeds() {
    let dir = scratch("sweep-fail-fast");
    let output = simctl(&[
        "sweep",
        "scenarios/raft/canary/local-reads.toml",
        "--seeds",
        "0..50",
        "--jobs",
        "1",
        "--fail-fast",
        "--out",
        dir.join("r.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(lines(&dir.join("r.jsonl")).len(), 1, "one worker stops after its first failed seed");
    assert!(String::from_utf8_lossy(&output.stdout).contains("--fail-fast"));
}

#[test]
fn bad_sweep_arguments_are_named() {
    for (args, wanted) in [
        (vec!["--seeds", "9..3"], "the range is empty"),
        (vec!["--seeds", "10", "--shard", "4/3"], "--shard 4/3"),
        (vec!["--seeds", "10", "--jobs", "0"], "--jobs 0"),
        (vec!["--seeds", "10", "--seed-timeout", "soon"], "--seed-timeout"),
    ] {
        let mut all = vec!["sweep", CHEAP];
        all.extend(args);
        let output = simctl(&all);
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains(wanted), "{}", stderr(&output));
    }
    let dir = scratch("sweep-bad-merge");
    let bad = write(&dir, "bad.jsonl", "{\"seed\": 1}\n");
    let output = simctl(&["merge", &bad]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("bad.jsonl:1: not a sweep result"), "{}", stderr(&output));
}

/// Validates JUnit XML against the rules of the JUnit schema CI tools read (Jenkins'
/// junit-10.xsd, from the xunit plugin): which elements may appear where, their required
/// attributes, the attributes allowed, and the numeric types.
fn validate_junit(text: &str, tests: usize, failures: usize) {
    struct Rule {
        element: &'static str,
        required: &'static [&'static str],
        allowed: &'static [&'static str],
        children: &'static [&'static str],
    }
    const RULES: &[Rule] = &[
        Rule {
            element: "testsuites",
            required: &[],
            allowed: &["name", "time", "tests", "failures", "disabled", "errors"],
            children: &["testsuite"],
        },
        Rule {
            element: "testsuite",
            required: &["name", "tests"],
            allowed: &[
                "name",
                "tests",
                "failures",
                "errors",
                "time",
                "disabled",
                "skipped",
                "timestamp",
                "hostname",
                "id",
                "package",
                "file",
                "log",
                "url",
                "version",
            ],
            children: &["properties", "testcase", "system-out", "system-err"],
        },
        Rule {
            element: "testcase",
            required: &["name"],
            allowed: &[
                "name",
                "assertions",
                "time",
                "timestamp",
                "classname",
                "status",
                "class",
                "file",
                "line",
                "log",
                "group",
                "url",
            ],
            children: &["skipped", "error", "failure", "system-out", "system-err"],
        },
        Rule { element: "failure", required: &[], allowed: &["type", "message"], children: &[] },
    ];
    const INTEGERS: &[&str] = &["tests", "failures", "errors", "skipped", "disabled"];
    let document =
        roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{text}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut cases = 0;
    let mut failed = 0;
    for node in root.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        let rule = RULES
            .iter()
            .find(|r| r.element == name)
            .unwrap_or_else(|| panic!("<{name}> is not in the schema"));
        for attribute in rule.required {
            assert!(node.has_attribute(*attribute), "<{name}> lacks {attribute}");
        }
        for attribute in node.attributes() {
            assert!(rule.allowed.contains(&attribute.name()), "<{name}> may not have {}", attribute.name());
            if INTEGERS.contains(&attribute.name()) {
                attribute
                    .value()
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("{}: not an integer", attribute.name()));
            }
            if attribute.name() == "time" {
                attribute.value().parse::<f64>().unwrap_or_else(|_| panic!("time: not a decimal"));
            }
        }
        for child in node.children().filter(|c| c.is_element()) {
            assert!(
                rule.children.contains(&child.tag_name().name()),
                "<{name}> may not contain <{}>",
                child.tag_name().name()
            );
        }
        cases += usize::from(name == "testcase");
        failed += usize::from(name == "failure");
    }
    assert_eq!((cases, failed), (tests, failures));
    assert_eq!(root.attribute("tests"), Some(tests.to_string().as_str()));
    assert_eq!(root.attribute("failures"), Some(failures.to_string().as_str()));
}

#[test]
fn the_coverage_ledger_counts_a_fault_kind_once_whatever_its_shape() {
    // Groups, a one-way cut, an isolated node, a bridge and a majorities ring: five
    // partitions, each healed. They are one kind (their `[[faults]]` key), not three (the
    // first word of how each prints).
    let dir = scratch("sweep-kinds");
    let output = simctl(&[
        "sweep",
        "scenarios/pingpong/partitions.toml",
        "--seeds",
        "2",
        "--json",
        "--out",
        dir.join("r.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary = summary(&output);
    let faults = &summary["scenarios"]["scenarios/pingpong/partitions.toml"]["faults"];
    let kinds: Vec<&str> = faults.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(kinds, ["heal", "partition"], "{faults}");
    assert_eq!(faults["partition"]["applied"], 10);
}

/// `merge` joins only shards of one sweep: one build, one scenario text, one seed list, one
/// shard count, each shard once; anything else is refused with what differs and where.
#[test]
fn merge_refuses_shards_of_different_sweeps() {
    let dir = scratch("sweep-merge-refuses");
    let scenario = dir.join("cheap.toml");
    let text = std::fs::read_to_string(CHEAP).unwrap();
    std::fs::write(&scenario, &text).unwrap();
    let shard = |name: &str, seeds: &str, shard: &str| {
        let out = dir.join(name);
        let output = simctl(&[
            "sweep",
            scenario.to_str().unwrap(),
            "--seeds",
            seeds,
            "--shard",
            shard,
            "--jobs",
            "1",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        out.to_str().unwrap().to_owned()
    };
    let refused = |files: &[&str], expected: &str| {
        let mut args = vec!["merge"];
        args.extend_from_slice(files);
        let output = simctl(&args);
        assert_eq!(output.status.code(), Some(2), "{files:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{expected:?} in {}", stderr(&output));
    };
    let one = shard("one.jsonl", "0..6", "1/2");
    let two = shard("two.jsonl", "0..6", "2/2");
    let merged = simctl(&["merge", &one, &two, "--json"]);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(summary(&merged)["seeds"], 6);

    refused(&[&one, &shard("other-seeds.jsonl", "0..8", "2/2")], "different seed lists");
    refused(&[&one, &shard("thirds.jsonl", "0..6", "2/3")], "different shard counts");
    refused(&[&one, &shard("again.jsonl", "0..6", "1/2")], "shard 1/2 of");
    std::fs::write(&scenario, text.replace("name = ", "# edited\nname = ")).unwrap();
    refused(&[&one, &shard("edited.jsonl", "0..6", "2/2")], "different scenario texts");
    let rebuilt = dir.join("rebuilt.jsonl");
    let edited: String = std::fs::read_to_string(&two)
        .unwrap()
        .lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).unwrap();
            value["origin"]["build"] = Value::from("0.0.0 0000000000000000");
            format!("{value}\n")
        })
        .collect();
    std::fs::write(&rebuilt, edited).unwrap();
    refused(&[&one, rebuilt.to_str().unwrap()], "different builds of simctl");
}

/// `--html`: one page with every failed seed linked to its report (which exists), the
/// coverage ledger and the latency; at 10,000 seeds (the results of a sweep repeated under
/// other seeds, merged) it lists the failures up to its limit and stays small.
#[test]
fn the_sweep_page_links_each_failure_to_its_report_and_stays_small() {
    let dir = scratch("sweep-html");
    let page = dir.join("sweep.html");
    let results = dir.join("r.jsonl");
    let reports = dir.join("reports");
    let output = simctl(&[
        "sweep",
        "scenarios/raft/canary/local-reads.toml",
        CHEAP,
        "--seeds",
        "4",
        "--jobs",
        "2",
        "--out",
        results.to_str().unwrap(),
        "--reports",
        reports.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let html = std::fs::read_to_string(&page).unwrap();
    let failed = lines(&results).iter().filter(|l| l["passed"] == false).count();
    assert!(failed > 0);
    let links: Vec<&str> =
        html.split("<a class=\"seed\" href=\"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    assert_eq!(links.len(), failed, "a link per failed seed");
    for link in &links {
        assert!(dir.join(link).is_file(), "{link} is a report under the page's folder");
    }
    for expected in
        ["Failures by bucket", "no order explains", "Latency over all seeds", "Coverage", "Slowest seeds"]
    {
        assert!(html.contains(expected), "{expected:?}");
    }

    // 10,000 seeds (two scenarios, 5,000 each): the same results under other seeds, merged.
    let template = std::fs::read_to_string(&results).unwrap();
    let mut big = String::new();
    for copy in 0..1_250u64 {
        for line in template.lines() {
            let mut value: Value = serde_json::from_str(line).unwrap();
            let seed = value["seed"].as_u64().unwrap() + 4 * copy;
            value["seed"] = Value::from(seed);
            big += &format!("{value}\n");
        }
    }
    let big_file = dir.join("big.jsonl");
    std::fs::write(&big_file, big).unwrap();
    let big_page = dir.join("big.html");
    let output =
        simctl(&["merge", big_file.to_str().unwrap(), "--html", big_page.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(summary(&output)["seeds"], 10_000);
    let html = std::fs::read_to_string(&big_page).unwrap();
    assert!(html.len() < 200_000, "{} bytes", html.len());
    assert!(html.contains("<p>Seeds: ") && html.contains(" more</p>"), "failures listed up to the limit");
}
