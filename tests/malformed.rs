//! Bad scenarios: each is refused with exit status 2 and a message that names the file, the
//! line and the column and says what was expected, never a panic.

use std::process::Command;

use crate::common;

const BASE: &str = r#"name = "m"
system = "pingpong"
nodes = 3
duration = "10s"

[network]
latency = { dist = "uniform", min = "1ms", max = "10ms" }

[workload]
clients = 2
rate = "100/s"
"#;

/// The base scenario with `from` replaced by `to` (which must occur), or with `to` appended
/// when `from` is empty.
fn edit(from: &str, to: &str) -> Vec<u8> {
    if from.is_empty() {
        return format!("{BASE}{to}").into_bytes();
    }
    assert!(BASE.contains(from), "{from:?} is in the base scenario");
    BASE.replacen(from, to, 1).into_bytes()
}

struct Case {
    name: &'static str,
    text: Vec<u8>,
    /// `line:column: ` and a part of the message.
    place: &'static str,
    says: &'static str,
}

fn case(name: &'static str, text: Vec<u8>, place: &'static str, says: &'static str) -> Case {
    Case { name, text, place, says }
}

fn cases() -> Vec<Case> {
    vec![
        case("empty", Vec::new(), "1:1", "missing field `name`"),
        case("not-utf8", [b"name = \"m".as_slice(), &[0xff], &edit("name = \"m", "")].concat(), "1:10", "not valid UTF-8"),
        case("syntax", edit("nodes = 3", "nodes = = 3"), "3:9", "extra `=`, expected nothing"),
        case("unknown-top-key", edit("nodes = 3", "nodes = 3\ncolour = \"blue\""), "4:1", "unknown field `colour`"),
        case("key-in-the-wrong-table", edit("", "colour = \"blue\"\n"), "12:1", "unknown field `colour`, expected one of `clients`"),
        case("unknown-system", edit("\"pingpong\"", "\"raft-kvv\""), "2:10", "unknown system \"raft-kvv\""),
        case("nodes-wrong-type", edit("nodes = 3", "nodes = \"three\""), "3:9", "invalid type: string \"three\""),
        case("nodes-zero", edit("nodes = 3", "nodes = 0"), "3:1", "nodes must be between 1 and 1000000"),
        case("nodes-too-many", edit("nodes = 3", "nodes = 2000000"), "3:1", "nodes must be between 1 and 1000000"),
        case("nodes-negative", edit("nodes = 3", "nodes = -1"), "3:9", "invalid value: integer `-1`"),
        case("bad-duration", edit("\"10s\"", "\"10 seconds\""), "4:12", "expected a duration like \"150ms\""),
        case("zero-duration", edit("\"10s\"", "\"0s\""), "4:1", "duration must be greater than zero"),
        case("unknown-setting", edit("", "[settings]\nwindw = 2\n"), "13:1", "unknown field `windw`"),
        case("setting-wrong-type", edit("", "[settings]\nwindow = \"two\"\n"), "13:10", "invalid type: string \"two\""),
        case("setting-out-of-range", edit("", "[settings]\nwindow = 20000\n"), "13:1", "window must be at most 10000"),
        case("unknown-network-key", edit("latency =", "latncy ="), "7:1", "unknown field `latncy`"),
        case("unknown-distribution", edit("\"uniform\"", "\"gaussian\""), "7:20", "unknown variant `gaussian`"),
        case("uniform-min-above-max", edit("min = \"1ms\", max = \"10ms\"", "min = \"10ms\", max = \"1ms\""), "7:11", "uniform distribution has min"),
        case("loss-above-one", edit("[network]\n", "[network]\nloss = 1.5\n"), "7:8", "probability 1.5 is not between 0 and 1"),
        case("duplicate-negative", edit("[network]\n", "[network]\nduplicate = -0.1\n"), "7:13", "probability -0.1 is not between 0 and 1"),
        case("bad-rate", edit("\"100/s\"", "\"100 per second\""), "11:8", "expected a rate like \"200/s\""),
        case("rate-and-concurrency", edit("rate = \"100/s\"", "rate = \"100/s\"\nconcurrency = 4"), "11:1", "rate and concurrency cannot both be set"),
        case("no-rate-nor-concurrency", edit("rate = \"100/s\"\n", ""), "10:1", "set rate (open loop) or concurrency"),
        case("zero-clients", edit("clients = 2", "clients = 0"), "10:1", "clients must be between 1 and 100000"),
        case("unknown-operation", edit("", "mix = { put = 1.0 }\n"), "12:1", "unknown operation \"put\""),
        case("hot-keys-above-keys", edit("rate = \"100/s\"", "rate = \"100/s\"\nkeys = 2\nhot_keys = 5"), "13:1", "hot_keys must be between 1 and keys"),
        case("zipf-exponent", edit("rate = \"100/s\"", "rate = \"100/s\"\nzipf_exponent = 1.5"), "12:1", "zipf_exponent must be in (0, 1)"),
        case("stop-after-end", edit("rate = \"100/s\"", "rate = \"100/s\"\nstop = \"20s\""), "12:1", "stop is after the end of the run"),
        case("fault-without-kind", edit("", "[[faults]]\nat = \"1s\"\n"), "13:1", "a fault has exactly one of"),
        case("fault-two-kinds", edit("", "[[faults]]\nat = \"1s\"\ncrash = 1\nheal = true\n"), "13:1", "found heal, crash"),
        case("fault-after-end", edit("", "[[faults]]\nat = \"30s\"\nheal = true\n"), "13:1", "is not before the end of the run"),
        case("fault-node-out-of-range", edit("", "[[faults]]\nat = \"1s\"\ncrash = 7\n"), "14:1", "node 7 does not exist"),
        case("fault-client-out-of-range", edit("", "[[faults]]\nat = \"1s\"\ncrash = { client = 2 }\n"), "14:1", "client 2 does not exist (the workload has 2 clients)"),
        case("partition-client-out-of-range", edit("", "[[faults]]\nat = \"1s\"\npartition = { groups = [[0, { client = 0 }], [1, { client = 9 }]] }\n"), "14:1", "client 9 does not exist"),
        case("client-table-typo", edit("", "[[faults]]\nat = \"1s\"\ncrash = { clint = 0 }\n"), "14:11", "unknown field `clint`, expected `client` or `fault`"),
        case("unknown-version", edit("", "[[faults]]\nat = \"1s\"\nversion = { node = 0, to = \"v3\" }\n"), "14:1", "unknown version \"v3\"; the versions are base"),
        case("version-bad-setting", edit("", "[versions.v2]\nwindw = 2\n"), "12:1", "version v2: unknown field `windw`"),
        case("version-bad-value", edit("", "[versions.v2]\nwindow = 20000\n"), "12:1", "version v2: window: window must be at most 10000"),
        case("version-named-base", edit("", "[versions.base]\nwindow = 2\n"), "12:1", "\"base\" is the scenario's [settings]"),
        case("delayed-allocation-without-capacity", edit("", "[disk]\ndelayed_allocation = true\n"), "13:1", "delayed_allocation needs a capacity"),
        case("zero-keepalive", edit("latency =", "keepalive = \"0s\"\nlatency ="), "7:1", "keepalive must be greater than zero"),
        case("fault-unknown-role", edit("", "[[faults]]\nat = \"1s\"\ncrash = \"leader\"\n"), "14:1", "unknown target \"leader\""),
        case("heal-after-with-crash", edit("", "[[faults]]\nat = \"1s\"\ncrash = 1\nheal_after = \"2s\"\n"), "15:1", "heal_after goes with partition"),
        case("unknown-shape", edit("", "[[faults]]\nat = \"1s\"\npartition = \"triangle\"\n"), "14:13", "unknown variant `triangle`"),
        case("group-node-twice", edit("", "[[faults]]\nat = \"1s\"\npartition = { groups = [[0, 1], [1, 2]] }\n"), "14:1", "a node appears in two groups"),
        case("clock-step-and-drift", edit("", "[[faults]]\nat = \"1s\"\nclock = { node = 0, step = \"1s\", drift_ppm = 5 }\n"), "14:1", "exactly one of step, drift_ppm"),
        case("clock-drift-stops-clock", edit("", "[[faults]]\nat = \"1s\"\nclock = { node = 0, drift_ppm = -1000000 }\n"), "14:1", "would stop the clock"),
        case("disk-corrupt-and-config", edit("", "[[faults]]\nat = \"1s\"\ndisk = { node = 0, corrupt = { file = \"f\", len = 4 }, torn_writes = true }\n"), "14:1", "either corrupts or changes"),
        case("disk-bad-capacity", edit("", "[[faults]]\nat = \"1s\"\ndisk = { node = 0, capacity = \"lots\" }\n"), "14:31", "expected bytes or \"unlimited\""),
        case("swarm-empty-range", edit("", "[swarm]\ncrash = { rate = \"1/5s\", down = \"3s..1s\" }\n"), "13:33", "range \"3s..1s\" is empty"),
        case("swarm-upgrade-unknown-version", edit("", "[swarm]\nupgrade = { rate = \"1/5s\", down = \"1s\", to = [\"v9\"] }\n"), "13:1", "unknown version \"v9\"; the versions are base"),
        case("swarm-disk-episode-without-change", edit("", "[swarm]\ndisk = { rate = \"1/5s\", duration = \"1s\" }\n"), "13:1", "a disk episode needs fsync_latency or a chance"),
        case("swarm-unknown-kind", edit("", "[swarm]\nmeteor = { rate = \"1/5s\" }\n"), "13:1", "unknown field `meteor`"),
        case("latency-check-unknown-op", edit("", "[[checks.latency]]\nop = \"get\"\np99 = \"1s\"\n"), "13:1", "unknown operation \"get\""),
        case("latency-check-no-bound", edit("", "[[checks.latency]]\nop = \"ping\"\n"), "13:1", "needs p50, p90, p99, p999 or max"),
        case("liveness-after-end", edit("", "[checks]\nliveness = { heal_by = \"8s\", within = \"5s\" }\n"), "13:1", "after the end of the run"),
        case("liveness-unknown-op", edit("", "[checks]\nliveness = { heal_by = \"1s\", within = \"1s\", ops = [\"put\"] }\n"), "13:1", "ops: unknown operation \"put\""),
        case("swarm-too-many-faults", edit("", "[swarm]\ncrash = { rate = \"1/1ns\", down = \"1s\" }\n"), "13:1", "at most 100000 per kind"),
        case("zipfian-too-many-keys", edit("rate = \"100/s\"", "rate = \"100/s\"\nkeys = 100000000\nkey_distribution = \"zipfian\""), "12:1", "at most 10000000 keys"),
        case("workload-too-many-operations", edit("\"100/s\"", "\"1/1ns\""), "11:1", "at most 1000000000"),
        case("linearizable-without-model", edit("", "[checks]\nlinearizable = true\n"), "13:1", "this system has no linearizability model"),
        case("unknown-checks-key", edit("", "[checks]\nlinearisable = true\n"), "13:1", "unknown field `linearisable`"),
        case(
            "datas3t-mix-cancel",
            BASE.replacen("\"pingpong\"", "\"datas3t\"", 1)
                .replacen("rate = \"100/s\"", "rate = \"100/s\"\nmix = { upload = 1.0, cancel = 0.5 }", 1)
                .into_bytes(),
            "12:1",
            "mix names cancel",
        ),
        case("link-override-unknown-node", edit("", "[[network.links]]\nfrom = 0\nto = 9\nloss = 0.5\n"), "14:1", "node 9 does not exist"),
    ]
}

#[test]
fn malformed_scenarios_exit_2_with_file_line_and_column() {
    let dir = common::scratch("malformed");
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for case in &cases {
        let path = dir.join(format!("{}.toml", case.name));
        std::fs::write(&path, &case.text).unwrap();
        let path = path.display().to_string();
        for command in
            [vec!["run", &path, "--seed", "1", "--out", dir.to_str().unwrap()], vec!["validate", &path]]
        {
            let output = Command::new(env!("CARGO_BIN_EXE_simctl")).args(&command).output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let expected = format!("{path}:{}: ", case.place);
            if output.status.code() != Some(2)
                || !stderr.contains(&expected)
                || !stderr.contains(case.says)
                || stderr.contains("panicked")
            {
                failures.push(format!(
                    "{} ({}): exit {:?}, expected {expected:?} and {:?} in:\n  {}",
                    case.name,
                    command[0],
                    output.status.code(),
                    case.says,
                    stderr.trim()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
