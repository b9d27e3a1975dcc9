//! The Kademlia system end to end: the fleet comparison the issue asks for (optimistic
//! provide at least 10x faster than the classic provide at the median, the accelerated
//! client between them, ipni one request), a region cut, and bad settings named.

use crate::common;

use common::{scratch, simctl, stderr, write};

fn summary(file: &str, seed: &str) -> serde_json::Value {
    let out = scratch("kademlia-out");
    let output = simctl(&["run", file, "--seed", seed, "--json", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{file} seed {seed}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("summary.json")
}

/// The fleet comparison row of `fleet` and `op`, by column name.
fn row(summary: &serde_json::Value, fleet: &str, op: &str, column: &str) -> f64 {
    let table = &summary["tables"][0];
    let columns: Vec<&str> =
        table["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let at = columns.iter().position(|c| *c == column).unwrap_or_else(|| panic!("no column {column}"));
    let row = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == fleet && r[1] == op)
        .unwrap_or_else(|| panic!("no row {fleet} {op}"));
    row[at].as_f64().unwrap_or_else(|| panic!("{fleet} {op} {column}: {}", row[at]))
}

#[test]
fn amino_10k_fleets_compare_as_upstream_reports() {
    let s = summary("scenarios/kademlia/amino-10k.toml", "42");
    let (default, optprov, fullrt) = (
        row(&s, "default", "provide", "p50 s"),
        row(&s, "optprov", "provide", "p50 s"),
        row(&s, "fullrt", "provide", "p50 s"),
    );
    assert!(optprov * 10.0 <= default, "optprov p50 {optprov}s vs default {default}s: less than 10x");
    assert!(fullrt < default, "fullrt p50 {fullrt}s vs default {default}s");
    assert_eq!(row(&s, "ipni", "retrieve", "requests"), 1.0, "an ipni lookup is one request");
    assert_eq!(row(&s, "ipni", "retrieve", "hops p90"), 1.0);
    // 1,000 provides, 11,500 retrievals.
    let done = |fleet: &str, op: &str| row(&s, fleet, op, "done");
    let provides: f64 = ["default", "fullrt", "optprov", "ipni"].iter().map(|f| done(f, "provide")).sum();
    let retrievals: f64 = ["default", "fullrt", "optprov", "ipni"].iter().map(|f| done(f, "retrieve")).sum();
    assert_eq!((provides, retrievals), (1000.0, 11_500.0));
    assert!(row(&s, "default", "retrieve", "success %") >= 99.0);
}

/// The one row of the table whose title starts with `title`, by column name.
fn cell(summary: &serde_json::Value, title: &str, column: &str) -> f64 {
    let table = summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"].as_str().unwrap().starts_with(title))
        .unwrap_or_else(|| panic!("no table {title}"));
    let at = table["columns"].as_array().unwrap().iter().position(|c| c == column).unwrap();
    table["rows"][0][at].as_f64().unwrap()
}

#[test]
fn constructed_tables_match_tables_grown_by_joins() {
    let grown = summary("scenarios/kademlia/bootstrap.toml", "3");
    let text = std::fs::read_to_string("scenarios/kademlia/bootstrap.toml").unwrap();
    let dir = scratch("kademlia-constructed");
    let file =
        write(&dir, "constructed.toml", &text.replace("tables = \"bootstrap\"", "tables = \"constructed\""));
    let built = summary(&file, "3");
    let near = |what: &str, a: f64, b: f64, within: f64| {
        assert!((a - b).abs() <= within * b.abs(), "{what}: grown {a} vs constructed {b}");
    };
    for column in ["mean size", "mean full buckets", "mean of k nearest held"] {
        near(column, cell(&grown, "routing tables", column), cell(&built, "routing tables", column), 0.01);
    }
    near(
        "bucket spread",
        cell(&grown, "routing tables", "bucket spread (of 16)"),
        cell(&built, "routing tables", "bucket spread (of 16)"),
        0.08,
    );
    for op in ["provide", "retrieve"] {
        near(
            &format!("{op} requests"),
            row(&grown, "default", op, "requests"),
            row(&built, "default", op, "requests"),
            0.1,
        );
        assert_eq!(row(&grown, "default", op, "success %"), 100.0);
        assert_eq!(row(&built, "default", op, "success %"), 100.0);
    }
}

#[test]
fn a_cut_region_drops_messages_and_heals() {
    let s = summary("scenarios/kademlia/region-cut.toml", "1");
    assert!(s["network"]["dropped_partition"].as_u64().unwrap() > 100, "{}", s["network"]);
    // The ap ipni server cannot reach the indexer (in us-east) during the cut.
    assert!(row(&s, "ipni", "provide", "success %") < 100.0);
    assert_eq!(s["faults"].as_array().unwrap().len(), 2, "the cut and its heal");
}

#[test]
fn bad_settings_are_named_with_their_place() {
    let dir = scratch("kademlia-bad");
    let base = "name = \"k\"\nsystem = \"kademlia\"\nnodes = 100\nduration = \"2m\"\n";
    let cases = [
        ("[settings]\nlatency_ms = [[5.0]]\n", "latency_ms", "5 x 5"),
        ("[settings]\nprovides = 1000\n", "provides", "before the end of the run"),
        ("[settings]\nunreachable = 1.5\n", "unreachable", "[0, 1)"),
        ("[settings]\ntables = \"bootstrap\"\n", "warmup", "longer than join_over"),
        ("[settings]\ntables = \"grown\"\n", "tables", "unknown variant"),
        ("[settings]\nfleets = [\"dht\"]\n", "fleets", "unknown variant"),
        ("[workload]\nclients = 1\nrate = \"1/s\"\n", "workload", "takes no client operations"),
    ];
    for (i, (extra, key, says)) in cases.iter().enumerate() {
        let file = write(&dir, &format!("bad{i}.toml"), &format!("{base}{extra}"));
        let output = simctl(&["run", &file, "--seed", "1"]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{extra}: {err}");
        assert!(err.contains(&file) && err.contains(says), "{key}: {err}");
    }
}

#[test]
fn a_restart_after_a_crash_restarts_that_node_when_the_system_brings_faults_of_its_own() {
    // Churn is the system's own faults; the scenario's crash and its restart_after join
    // them in one plan, so the restart points at the crash's index in that plan. When churn
    // was scheduled apart, the restart hit whichever node the churn's fault of that index
    // had hit (n104 here) and n50 never came back.
    let dir = scratch("kademlia-restart");
    let file = write(
        &dir,
        "churn-restart.toml",
        "name = \"churn-restart\"\nsystem = \"kademlia\"\nnodes = 200\nduration = \"5m\"\n\
         [settings]\nwarmup = \"30s\"\ninterval = \"5s\"\nprovides = 40\n\
         churn = { leave_per_hour = 6.0, downtime = \"1m\" }\n\
         min_success = { provide = 0.0, retrieve = 0.0 }\n\
         [[faults]]\nat = \"1s\"\ncrash = 50\nrestart_after = \"5s\"\n",
    );
    let s = summary(&file, "1");
    let faults = s["faults"].as_array().unwrap();
    let at = |ns: u64| faults.iter().find(|f| f["at_ns"] == ns).unwrap_or_else(|| panic!("no fault at {ns}"));
    assert_eq!(at(1_000_000_000)["fault"], "crash n50");
    assert_eq!(at(6_000_000_000)["fault"], "restart n50", "{faults:?}");
    assert_eq!(at(6_000_000_000)["outcome"], "applied");
    assert!(faults.len() > 50, "churn faults are in the same schedule: {}", faults.len());
}
