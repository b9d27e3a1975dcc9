//! `simctl check-history`: every format, the exit statuses, the JSON contract, malformed
//! files named by line, and a run's own history checked end to end.

use crate::common;

use common::{scratch, simctl, write};

use std::process::Output;

use serde_json::Value;

fn verdict(output: &Output) -> Value {
    let line = String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().to_owned();
    serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("{e}: {line:?} {}", String::from_utf8_lossy(&output.stderr)))
}

const JEPSEN_GOOD: &str = "INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
                           INFO  jepsen.util - 0\t:ok\t:write\t1\n\
                           INFO  jepsen.util - 1\t:invoke\t:cas\t[0 2]\n\
                           INFO  jepsen.util - 1\t:fail\t:cas\t[0 2]\n\
                           INFO  jepsen.util - 2\t:invoke\t:read\tnil\n\
                           INFO  jepsen.util - 2\t:ok\t:read\t1\n";

#[test]
fn every_format_with_its_verdict_and_exit_status() {
    let jepsen_bad = JEPSEN_GOOD.replace(":ok\t:read\t1", ":ok\t:read\t2");
    let knossos_good = "; Knossos style\n[{:process 0, :type :invoke, :f :write, :value 3}\n {:process 0, :type :ok, :f :write, :value 3}\n \
                        {:process :nemesis, :type :info, :f :start, :value nil}\n {:process 1, :type :invoke, :f :read, :value nil}\n \
                        {:process 1, :type :ok, :f :read, :value nil}]";
    let knossos_bad = knossos_good.replace(":ok, :f :read, :value nil", ":ok, :f :read, :value 0");
    let kv_good = "{:process 0, :type :invoke, :f :append, :key \"a\", :value \"x\"}\n{:process 0, :type :ok, :f :append, :key \"a\", :value \"x\"}\n\
                   {:process 1, :type :invoke, :f :get, :key \"a\", :value nil}\n{:process 1, :type :ok, :f :get, :key \"a\", :value \"x\"}\n\
                   {:process 1, :type :invoke, :f :get, :key \"b\", :value nil}\n{:process 1, :type :ok, :f :get, :key \"b\", :value \"\"}\n";
    let kv_bad = kv_good.replace("\"b\", :value \"\"}", "\"b\", :value \"x\"}");
    let cases = [
        ("jepsen-good.log", JEPSEN_GOOD.to_owned(), "cas-register", None, "linearizable", 0),
        ("jepsen-bad.log", jepsen_bad, "cas-register", None, "not-linearizable", 1),
        ("knossos-good.edn", knossos_good.to_owned(), "cas-register", Some("0"), "linearizable", 0),
        ("knossos-bad.edn", knossos_bad, "cas-register", Some("0"), "not-linearizable", 1),
        ("kv-good.txt", kv_good.to_owned(), "kv", None, "linearizable", 0),
        ("kv-bad.txt", kv_bad, "kv", None, "not-linearizable", 1),
    ];
    let dir = scratch("check-formats");
    for (name, text, model, init, expected, status) in cases {
        let path = write(&dir, name, &text);
        let mut args = vec!["check-history", &path, "--model", model, "--json"];
        if let Some(init) = init {
            args.extend(["--init", init]);
        }
        let output = simctl(&args);
        assert_eq!(output.status.code(), Some(status), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        let v = verdict(&output);
        assert_eq!(v["verdict"], expected, "{name}: {v}");
        for field in ["file", "ops", "check_ms", "steps", "states", "partitions"] {
            assert!(!v[field].is_null(), "{name}: {field} in {v}");
        }
        if expected == "not-linearizable" {
            assert!(v["witness"]["stuck"].is_string(), "{name}: a witness names the stuck operation: {v}");
        }
    }
}

#[test]
fn a_runs_own_history_checks_out() {
    let out = scratch("check-run");
    let run =
        simctl(&["run", "scenarios/pingpong/crash.toml", "--seed", "3", "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0));
    // Ping-pong's `ping` is not a register operation: the model refuses it as bad input...
    let history = out.join("crash/3/history.jsonl");
    let refused = simctl(&["check-history", history.to_str().unwrap(), "--model", "register"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not one the register model knows"));
    // ...while a history in the same format with register operations is checked.
    let own = "{\"time\":0,\"node\":3,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n\
               {\"time\":5,\"node\":3,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":null}\n\
               {\"time\":6,\"node\":4,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n\
               {\"time\":9,\"node\":4,\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n";
    let path = write(&out, "own.jsonl", own);
    assert_eq!(simctl(&["check-history", &path, "--model", "register"]).status.code(), Some(0));
}

#[test]
fn malformed_histories_exit_2_naming_the_line() {
    let cases = [
        ("truncated.edn", "[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0, :type :ok", 2),
        ("orphan.log", "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 5\t:ok\t:read\tnil\n", 2),
        ("garbage.log", "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nthis is not a log line\n", 2),
        ("twice.txt", "{:process 0, :type :invoke, :f :get, :key \"a\", :value nil}\n{:process 0, :type :invoke, :f :get, :key \"a\", :value nil}\n", 2),
        ("bad-json.jsonl", "{\"time\":0,\"node\":3,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n{\"time\":\n", 2),
        ("bad-type.edn", "[{:process 0, :type :maybe, :f :read, :value nil}]", 1),
    ];
    let dir = scratch("check-malformed");
    for (name, text, line) in cases {
        let path = write(&dir, name, text);
        let output = simctl(&["check-history", &path, "--model", "kv"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&format!("{path}:{line}: ")), "{name}: line {line} in {stderr:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let empty = write(&dir, "empty.edn", "");
    assert_eq!(simctl(&["check-history", &empty, "--model", "kv"]).status.code(), Some(2));
    let good = write(&dir, "good.log", JEPSEN_GOOD);
    assert_eq!(simctl(&["check-history", &good, "--model", "stack"]).status.code(), Some(2), "unknown model");
    assert_eq!(simctl(&["check-history", &good, "--model", "kv", "--format", "xml"]).status.code(), Some(2));
}

#[test]
fn an_exhausted_budget_is_unknown_exit_4() {
    // Twelve concurrent writes and reads of values never written: refuting it means trying
    // every interleaving; a zero time budget stops the search at the first check.
    let mut log = String::new();
    for p in 0..12 {
        log += &format!("INFO  jepsen.util - {p}\t:invoke\t:write\t{p}\n");
    }
    for p in 12..16 {
        log += &format!("INFO  jepsen.util - {p}\t:invoke\t:read\tnil\n");
    }
    for p in 0..12 {
        log += &format!("INFO  jepsen.util - {p}\t:ok\t:write\t{p}\n");
    }
    for p in 12..16 {
        log += &format!("INFO  jepsen.util - {p}\t:ok\t:read\t99\n");
    }
    let dir = scratch("check-budget");
    let path = write(&dir, "hard.log", &log);
    let output = simctl(&["check-history", &path, "--model", "cas-register", "--budget", "0s", "--json"]);
    assert_eq!(output.status.code(), Some(4), "{}", String::from_utf8_lossy(&output.stderr));
    let v = verdict(&output);
    assert_eq!(v["verdict"], "unknown");
    assert!(v["reason"].as_str().unwrap().contains("time budget"), "{v}");
}
