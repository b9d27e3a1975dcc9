//! The command line as a user meets it: exit statuses, error messages, determinism across
//! processes.

use std::process::{Command, Output};

fn simctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn scenario_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("simctl-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn json_field(output: &Output, field: &str) -> serde_json::Value {
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    summary[field].clone()
}

#[test]
fn run_prints_a_table_and_the_reproduce_command() {
    let output = simctl(&["run", "scenarios/pingpong/bench-5.toml", "--seed", "42"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("bench-5 (pingpong)"), "{stdout}");
    assert!(stdout.contains("trace hash"), "{stdout}");
    assert!(stdout.contains("reproduce: simctl run scenarios/pingpong/bench-5.toml --seed 42"), "{stdout}");
}

#[test]
fn same_seed_same_hash_across_processes_and_seeds_differ() {
    let run = |seed: &str| simctl(&["run", "scenarios/pingpong/bench-5.toml", "--seed", seed, "--json"]);
    let (a, b, c) = (run("7"), run("7"), run("8"));
    assert_eq!(json_field(&a, "trace_hash"), json_field(&b, "trace_hash"));
    assert_ne!(json_field(&a, "trace_hash"), json_field(&c, "trace_hash"));
    assert_eq!(json_field(&a, "seed"), 7);
    assert_eq!(json_field(&a, "sim_time_ns"), 60_000_000_000u64);
}

#[test]
fn check_determinism_passes_on_shipped_scenarios() {
    let output = simctl(&["run", "scenarios/pingpong/bench-5.toml", "--seed", "3", "--check-determinism"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("same in a second run"));
}

#[test]
fn bad_input_exits_2_naming_file_line_and_column() {
    let base = "name = \"x\"\nsystem = \"pingpong\"\nnodes = 3\nduration = \"2s\"\n";
    let cases = [
        ("typo.toml", format!("{base}[settings]\nwindw = 2\n"), "typo.toml:6:1: unknown field `windw`"),
        ("system.toml", base.replace("pingpong", "nope"), "system.toml:2:10: unknown system \"nope\""),
        ("duration.toml", base.replace("\"2s\"", "\"2 parsecs\""), "duration.toml:4:12: expected a duration"),
        (
            "zero.toml",
            format!("{base}[settings]\nwindow = 0\n"),
            "zero.toml: settings.window must be at least 1",
        ),
        ("syntax.toml", format!("{base}nodes = = 3\n"), "syntax.toml:5:"),
    ];
    for (name, text, expected) in cases {
        let path = scenario_file(name, &text);
        let output = simctl(&["run", &path, "--seed", "1"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: expected {expected:?} in {stderr:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(simctl(&["validate", &path]).status.code(), Some(2));
    }
    assert_eq!(simctl(&["run", "no/such/file.toml", "--seed", "1"]).status.code(), Some(2));
    assert_eq!(simctl(&["run", "scenarios/pingpong/bench-5.toml"]).status.code(), Some(2), "missing --seed");
}

#[test]
fn validate_and_list() {
    let output =
        simctl(&["validate", "scenarios/pingpong/bench-5.toml", "scenarios/pingpong/bench-100.toml"]);
    assert_eq!(output.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&simctl(&["list"]).stdout).into_owned();
    assert!(listed.contains("pingpong") && listed.contains("window = 1"), "{listed}");
}
