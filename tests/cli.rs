//! The command line as a user meets it: tables, reports, exit statuses, replay, the realized
//! fault timeline, determinism across processes.

use crate::common;

use common::{scratch, simctl, stderr, write};

use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn summary(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("--json prints JSON ({e}): {}", stdout(output)))
}

/// How often `needle` occurs in `page`.
fn count(page: &str, needle: &str) -> usize {
    page.matches(needle).count()
}

/// The timeline has a lane per client of the history and per server, a bar per operation;
/// a passing run has no failure view; a failing one shows its witness, the operation no
/// order explains outlined in both pictures, numbered steps with the state after each.
#[test]
fn the_report_draws_the_timeline_and_the_linearizability_failure() {
    let out = scratch("report-pictures");
    let folder = |name: &str, seed: &str| out.join(name).join(seed);
    let output = simctl(&["run", "scenarios/partition.toml", "--seed", "42", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = std::fs::read_to_string(folder("partition", "42").join("report.html")).unwrap();
    let history = std::fs::read_to_string(folder("partition", "42").join("history.jsonl")).unwrap();
    let events: Vec<Value> = history.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let invokes = events.iter().filter(|e| e["type"] == "invoke").count();
    let mut clients: Vec<u64> = events.iter().map(|e| e["node"].as_u64().unwrap()).collect();
    clients.sort_unstable();
    clients.dedup();
    assert_eq!(count(&page, "<g class=\"lane\">"), clients.len() + 5, "a lane per client and per server");
    assert_eq!(count(&page, "<rect class=\"op "), invokes, "a bar per operation");
    assert!(count(&page, "<line class=\"fault\"") >= 2, "the partition and its heal");
    assert!(count(&page, "<rect class=\"role\"") >= 5, "every server reports a role");
    assert!(!page.contains("Linearizability failure"));
    assert!(!page.contains("<h2>Messages</h2>"), "a passing run draws no messages unless asked");
    assert_eq!(count(&page, "<script>"), 1, "the zoom script, inline");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(folder("partition", "42").join("summary.json")).unwrap(),
    )
    .unwrap();
    let timed = summary["latency"].as_object().unwrap().len();
    assert_eq!(count(&page, "<polyline class=\"percentiles\""), timed, "a percentile line per operation");
    let phases: usize =
        summary["latency_by_phase"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(count(&page, "<polyline class=\"percentiles phase\""), phases, "and per operation and phase");
    let seconds = summary["sim_time_ns"].as_u64().unwrap().div_ceil(1_000_000_000) as usize;
    assert_eq!(count(&page, "<rect class=\"second\""), seconds, "a throughput bar per simulated second");

    let file = "scenarios/raft/canary/ack-before-commit.toml";
    let output = simctl(&["run", file, "--seed", "1", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let page = std::fs::read_to_string(folder("canary-ack-before-commit", "1").join("report.html")).unwrap();
    assert!(page.contains("<h2 class=\"fail\">Linearizability failure</h2>"));
    assert_eq!(count(&page, "<rect class=\"op failed stuck\""), 1, "the stuck operation in the failure view");
    assert_eq!(count(&page, " stuck\" x="), 2, "and outlined on the timeline");
    let numbered = count(&page, "<tr class=\"linearized\"><td>");
    assert!(numbered >= 2, "numbered steps: {numbered}");
    assert_eq!(count(&page, "<text class=\"order\""), numbered, "each numbered on its bar");
    assert!(page.contains("<td>9</td><td>n6</td><td>93</td>"), "step 9 is process 93's put");
    assert!(
        page.contains("put key 1 93</td><td style=\"text-align:left\">93</td>"),
        "with the state after it"
    );
    // The message diagram, recorded by running the seed again: from the write the stuck read
    // should have seen (4.078900 s) to the read's completion.
    assert!(page.contains("<h2>Messages</h2>") && page.contains("between 4.078900 s and 4.376844 s"));
    let arrows = count(&page, "<line class=\"message ");
    assert!((1..=400).contains(&arrows), "{arrows} arrows");
    assert!(count(&page, "<line class=\"message cut\"") > 0, "the isolated old leader's datagrams, cut");
    // Raft's own series: term and commit index, a line per server.
    assert!(page.contains("<h2>Per-node state</h2>") && page.contains("<h3>term <small>(1 to "));
    assert_eq!(count(&page, "<path class=\"series\""), 10, "two series, five servers");
}

#[test]
fn run_prints_tables_and_writes_a_report_a_person_can_open() {
    let out = scratch("report");
    let output = simctl(&["run", "scenarios/partition.toml", "--seed", "42", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    for expected in
        ["operation", "p99 ms", "during faults", "partition [", "heal", "liveness", "PASS", "trace hash"]
    {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(text.contains("reproduce: simctl run scenarios/partition.toml --seed 42"), "{text}");
    let folder = out.join("partition").join("42");
    for file in
        ["summary.json", "get.hgrm", "put.during.hgrm", "history.jsonl", "faults.toml", "scenario.toml"]
    {
        assert!(folder.join(file).is_file(), "{file} in {}", folder.display());
    }
    assert!(!folder.join("trace.jsonl").exists(), "only with --trace");
    let page = std::fs::read_to_string(folder.join("report.html")).unwrap();
    for expected in
        ["PASSED", "<svg", "liveness", "partition [n", "simctl run scenarios/partition.toml --seed 42"]
    {
        assert!(page.contains(expected), "{expected:?} in report.html");
    }
    for external in ["<link", "src=", "href=", "url(", "https:"] {
        assert!(!page.contains(external), "report.html is self-contained: no {external:?}");
    }
    let history = std::fs::read_to_string(folder.join("history.jsonl")).unwrap();
    let first: Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"].as_str(), Some("invoke"));
    assert!(["get", "put", "cas", "append", "delete"].contains(&first["f"].as_str().unwrap()), "{first}");
    let ok = history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "ok")
        .unwrap();
    assert!(ok["served_by"].as_u64().unwrap() < 5, "completions name the server: {ok}");
}

#[test]
fn summary_json_has_the_contract_fields() {
    let out = scratch("summary");
    let output =
        simctl(&["run", "scenarios/partition.toml", "--seed", "7", "--json", "--out", out.to_str().unwrap()]);
    let s = summary(&output);
    for field in [
        "scenario",
        "system",
        "seed",
        "trace_hash",
        "events",
        "sim_time_ns",
        "passed",
        "checks",
        "ops",
        "latency",
        "network",
        "simctl_version",
    ] {
        assert!(!s[field].is_null(), "summary has {field}");
    }
    assert_eq!(s["trace_hash"].as_str().unwrap().len(), 16);
    assert!(s["trace_hash"].as_str().unwrap().chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(s["seed"], 7);
    for (name, verdict) in s["checks"].as_object().unwrap() {
        let verdict = verdict.as_str().unwrap();
        assert!(["pass", "fail", "unknown", "skipped"].contains(&verdict), "{name}: {verdict}");
        assert_eq!(
            verdict != "pass",
            !s["reasons"][name].is_null(),
            "{name} has a reason exactly when not pass"
        );
    }
    let get = &s["ops"]["get"];
    assert!(get["ok"].as_u64().unwrap() > 1000 && s["ops"]["cas"]["fail"].as_u64().unwrap() > 0, "{get}");
    for stat in ["count", "p50", "p90", "p99", "max"] {
        assert!(s["latency"]["put"][stat].is_number(), "latency.put.{stat}");
    }
    for field in ["sent", "delivered", "dropped", "duplicated"] {
        assert!(s["network"][field].is_u64(), "network.{field}");
    }
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("partition/7/summary.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk, s, "--json prints summary.json");
}

#[test]
fn latency_counts_each_ok_operation_once() {
    let out = scratch("counts");
    let calm = "name = \"calm\"\nsystem = \"pingpong\"\nnodes = 3\nduration = \"5s\"\n[workload]\nrate = \"100/s\"\n";
    let calm = write(&out, "calm.toml", calm);
    for scenario in [calm.as_str(), "scenarios/partition.toml"] {
        let s = summary(&simctl(&["run", scenario, "--seed", "1", "--json", "--out", out.to_str().unwrap()]));
        let ops = &s["ops"];
        for (op, counts) in ops.as_object().unwrap() {
            assert_eq!(s["latency"][op]["count"], counts["ok"], "{scenario} {op}");
            let by_phase: u64 = s["latency_by_phase"][op]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, l)| l["count"].as_u64().unwrap())
                .sum();
            assert!(counts["ok"].as_u64().unwrap() > 100);
            let expected =
                if s["faults"].as_array().unwrap().is_empty() { 0 } else { counts["ok"].as_u64().unwrap() };
            assert_eq!(by_phase, expected, "{scenario} {op}: phases only with faults, and they add up");
        }
    }
}

#[test]
fn a_failed_check_exits_1_and_says_why() {
    let dir = scratch("failed");
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/partition.toml"))
            .unwrap()
            .replace("p90 = \"60ms\"", "p50 = \"1ms\"");
    let path = write(&dir, "strict.toml", &text);
    let output = simctl(&["run", &path, "--seed", "1", "--json", "--out", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let s = summary(&output);
    assert_eq!(s["passed"], false);
    assert_eq!(s["checks"]["latency.get.p50.before"], "fail");
    assert!(s["reasons"]["latency.get.p50.before"].as_str().unwrap().contains("bound 1ms"));
}

#[test]
fn protocol_panics_and_broken_invariants_fail_the_run_not_simctl() {
    let dir = scratch("canary");
    let base = "name = \"canary\"\nsystem = \"pingpong\"\nnodes = 3\nduration = \"5s\"\n[workload]\nrate = \"100/s\"\n";
    let panicking = write(&dir, "panic.toml", &format!("{base}[settings]\nbugs = [\"panic-on-relay\"]\n"));
    let output = simctl(&["run", &panicking, "--seed", "1", "--json", "--out", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let s = summary(&output);
    assert_eq!(s["checks"]["no_panic"], "fail");
    let reason = s["reasons"]["no_panic"].as_str().unwrap();
    assert!(
        reason.contains("planted bug: relaying operation 100") && reason.contains("node.rs:"),
        "{reason}"
    );
    assert!(s["reproduce"].as_str().unwrap().ends_with("--seed 1"));
    assert!(!stderr(&output).contains("panicked at"), "the panic is reported, not printed");
    let phantom = write(&dir, "phantom.toml", &format!("{base}[settings]\nbugs = [\"phantom-reply\"]\n"));
    let s = summary(&simctl(&["run", &phantom, "--seed", "1", "--json", "--out", dir.to_str().unwrap()]));
    assert_eq!(s["checks"]["pingpong.served_by_a_server"], "fail");
}

#[test]
fn an_exhausted_event_budget_is_inconclusive() {
    let out = scratch("budget");
    let output = simctl(&[
        "run",
        "scenarios/partition.toml",
        "--seed",
        "1",
        "--max-events",
        "1000",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let s = summary(&output);
    assert_eq!((s["checks"]["complete"].as_str(), s["passed"].as_bool()), (Some("unknown"), Some(false)));
    assert!(s["reasons"]["complete"].as_str().unwrap().contains("1000 events"));
    assert_eq!(s["events"], 1000);
}

#[test]
fn whole_run_checks_of_a_run_cut_by_its_event_budget_are_unknown_not_failed() {
    // Regression: a cut run used to fail dynamo.convergence ("the run ended ... before the
    // bound") and exit 1; only the end of a run decides convergence or handing back.
    let out = scratch("budget-whole-run");
    let args = ["--seed", "1", "--max-events", "20000", "--json", "--out", out.to_str().unwrap()];
    let output = simctl(&[&["run", "scenarios/dynamo/scale.toml"][..], &args].concat());
    assert_eq!(output.status.code(), Some(4), "{}{}", stdout(&output), stderr(&output));
    let s = summary(&output);
    for check in ["complete", "dynamo.convergence", "dynamo.hints_handed_back"] {
        assert_eq!(s["checks"][check].as_str(), Some("unknown"), "{check}: {}", s["reasons"]);
    }
    assert!(s["whole_run_checks"].as_array().unwrap().iter().any(|c| c == "dynamo.convergence"));
    // Safety checks are still judged on the prefix.
    assert_eq!(s["checks"]["dynamo.acknowledged_writes_kept"].as_str(), Some("pass"));
    // A sweep counts such seeds as inconclusive (exit 4), not as failures.
    let results = out.join("sweep.jsonl");
    let output = simctl(&[
        "sweep",
        "scenarios/dynamo/scale.toml",
        "--seeds",
        "0..2",
        "--max-events",
        "20000",
        "--json",
        "--out",
        results.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(4), "{}{}", stdout(&output), stderr(&output));
    let s = summary(&output);
    assert_eq!((s["failed"].as_u64(), s["inconclusive"].as_u64()), (Some(0), Some(2)), "{s}");
}

#[test]
fn a_check_owed_after_the_end_of_the_run_is_unknown() {
    // converge_within reaches past the end: the check cannot be judged, which is not a
    // failure of the system.
    let dir = scratch("owed");
    let text = std::fs::read_to_string("scenarios/dynamo/partition.toml").unwrap();
    let text = text.replacen("[settings]", "[settings]\nconverge_within = \"44s\"", 1);
    let file = write(&dir, "late.toml", &text);
    let output = simctl(&["run", &file, "--seed", "1", "--json", "--out", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(4), "{}{}", stdout(&output), stderr(&output));
    let s = summary(&output);
    assert_eq!(s["checks"]["dynamo.convergence"].as_str(), Some("unknown"));
    assert!(s["reasons"]["dynamo.convergence"].as_str().unwrap().contains("lengthen duration"), "{s}");
}

#[test]
fn replay_agrees_and_detects_a_changed_scenario() {
    let out = scratch("replay");
    simctl(&["run", "scenarios/pingpong/crash.toml", "--seed", "5", "--out", out.to_str().unwrap()]);
    let folder = out.join("crash").join("5");
    let output = simctl(&["replay", folder.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("replay agrees"));
    let scenario = folder.join("scenario.toml");
    let changed = std::fs::read_to_string(&scenario).unwrap().replace("crash = 2", "crash = 3");
    std::fs::write(&scenario, changed).unwrap();
    let output = simctl(&["replay", folder.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("replay differs"));
    assert_eq!(simctl(&["replay", out.to_str().unwrap()]).status.code(), Some(2), "not a report folder");
}

#[test]
fn faults_toml_replays_the_same_run_with_the_swarm_off() {
    let out = scratch("swarm");
    let original = summary(&simctl(&[
        "run",
        "scenarios/pingpong/swarm.toml",
        "--seed",
        "3",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(original["faults"].as_array().unwrap().len() > 10, "the swarm drew faults");
    let scenario =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/pingpong/swarm.toml"))
            .unwrap();
    let without_swarm = scenario[..scenario.find("[swarm]").unwrap()].to_owned()
        + &scenario[scenario.find("[checks]").unwrap()..];
    let faults = std::fs::read_to_string(out.join("swarm/3/faults.toml")).unwrap();
    let path = write(&out, "explicit.toml", &format!("{without_swarm}\n{faults}"));
    let replayed = summary(&simctl(&["run", &path, "--seed", "3", "--json", "--out", out.to_str().unwrap()]));
    assert_eq!(replayed["trace_hash"], original["trace_hash"]);
    assert_eq!(replayed["faults"], original["faults"]);
}

#[test]
fn faults_toml_replays_a_run_with_clogs_and_fault_points() {
    // The raft swarm draws clogs and has [buggify]; faults.toml carries both the realized
    // faults and the active points, so with [swarm] and [buggify] removed it replays the run.
    let out = scratch("swarm-points");
    let file = "scenarios/raft/swarm.toml";
    let run = |path: &str| {
        summary(&simctl(&["run", path, "--seed", "5", "--json", "--out", out.to_str().unwrap()]))
    };
    let original = run(file);
    let sometimes = original["sometimes"].as_object().unwrap();
    assert!(sometimes.keys().any(|k| k.starts_with("buggify ")), "a point was active: {sometimes:?}");
    assert!(
        original["faults"].as_array().unwrap().iter().any(|f| f["kind"] == "clog"),
        "the swarm drew a clog"
    );
    let scenario = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let without = scenario[..scenario.find("[swarm]").unwrap()].to_owned()
        + &scenario[scenario.find("[checks]").unwrap()..];
    let faults = std::fs::read_to_string(out.join("swarm/5/faults.toml")).unwrap();
    assert!(faults.contains("[buggify]") && faults.contains("points = 1.0"), "{faults}");
    let path = write(&out, "explicit.toml", &format!("{without}\n{faults}"));
    let replayed = run(&path);
    assert_eq!(replayed["trace_hash"], original["trace_hash"]);
    // The same points fired as often; only the swarm's draw is gone (there is no swarm).
    let without_draw = |summary: &Value| {
        let mut sometimes = summary["sometimes"].as_object().unwrap().clone();
        sometimes.retain(|name, _| !name.starts_with("swarm "));
        sometimes
    };
    assert_eq!(without_draw(&replayed), without_draw(&original));
    assert!(original["swarm_draw"].as_array().is_some_and(|d| !d.is_empty()), "the swarm drew its kinds");
}

#[test]
fn trace_writes_every_event() {
    let out = scratch("trace");
    let s = summary(&simctl(&[
        "run",
        "scenarios/pingpong/pause.toml",
        "--seed",
        "2",
        "--trace",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]));
    let trace = std::fs::read_to_string(out.join("pause/2/trace.jsonl")).unwrap();
    assert_eq!(trace.lines().count() as u64, s["events"].as_u64().unwrap());
    let fault = trace
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["kind"] == "fault")
        .unwrap();
    assert!(fault["what"].as_str().unwrap().contains("Pause"), "{fault}");
    let plain = summary(&simctl(&[
        "run",
        "scenarios/pingpong/pause.toml",
        "--seed",
        "2",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(plain["trace_hash"], s["trace_hash"], "tracing does not change the run");
    assert!(!out.join("pause/2/trace.jsonl").exists(), "a rerun without --trace removes the stale trace");
}

#[test]
fn same_seed_same_hash_across_processes_and_seeds_differ() {
    let out = scratch("determinism");
    let run = |seed: &str| {
        summary(&simctl(&[
            "run",
            "scenarios/pingpong/network.toml",
            "--seed",
            seed,
            "--json",
            "--out",
            out.to_str().unwrap(),
        ]))
    };
    let (a, b, c) = (run("11"), run("11"), run("12"));
    assert_eq!(a["trace_hash"], b["trace_hash"]);
    assert_ne!(a["trace_hash"], c["trace_hash"]);
    let file = "scenarios/pingpong/network.toml";
    let text = std::fs::read_to_string(file).unwrap();
    let here = protocols::systems().run(file, &text, 11, &Default::default()).unwrap();
    assert_eq!(a["trace_hash"], here.summary.trace_hash.as_str(), "and the same in this process");
    let output = simctl(&[
        "run",
        "scenarios/pingpong/network.toml",
        "--seed",
        "11",
        "--check-determinism",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("the same in a second run"));
}

#[test]
fn every_subcommand_has_an_example_in_its_help() {
    for command in ["run", "replay", "validate", "list"] {
        let help = stdout(&simctl(&[command, "--help"]));
        assert!(help.contains("Example"), "simctl {command} --help:\n{help}");
    }
}

#[test]
fn list_shows_systems_settings_fault_kinds_and_scenarios() {
    let listed = stdout(&simctl(&["list"]));
    for expected in [
        "system pingpong",
        "window = 1",
        "durable_replies",
        "crash",
        "clock",
        "disk",
        "[swarm]",
        "{ classes }",
        "scenarios/partition.toml",
    ] {
        assert!(listed.contains(expected), "{expected:?} in\n{listed}");
    }
    assert!(!listed.contains("INVALID"), "{listed}");
}

#[test]
fn a_systems_own_tables_are_in_the_terminal_and_in_report_html() {
    let out = scratch("tables");
    let args =
        ["run", "scenarios/collective/crash-restart.toml", "--seed", "3", "--out", out.to_str().unwrap()];
    let output = simctl(&args);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("Throughput by file size"), "{}", stdout(&output));
    let page =
        std::fs::read_to_string(out.join("collective-crash-restart").join("3").join("report.html")).unwrap();
    assert!(page.contains("<h2>Throughput by file size"), "the table's title in report.html");
    assert!(
        page.contains("<th>write MB/s</th>") && page.contains("<td>small (&lt; 1 MiB)</td>"),
        "its cells, escaped"
    );
}

/// Clock faults are drawn as per-node series: the offset the steps added up to and the drift.
#[test]
fn the_report_draws_clock_offsets_per_node() {
    let out = scratch("report-clocks");
    let output =
        simctl(&["run", "scenarios/raft/clock-lease.toml", "--seed", "1", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = std::fs::read_to_string(out.join("clock-lease").join("1").join("report.html")).unwrap();
    for series in ["clock offset from steps (ms)", "clock drift (ppm)", "term", "commit index"] {
        assert!(page.contains(&format!("<h3>{series} ")), "{series}");
    }
}
