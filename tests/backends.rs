//! The same scenarios on every backend this build has: native, and turmoil (`--features
//! turmoil`) or madsim (`cargo madsim-test`, a build under `--cfg madsim`). Each hosted
//! backend must be deterministic on its own terms (the same seed twice gives the same trace
//! hash, history and verdicts), agree with the native engine where they must (every check
//! of a fault-free run passes; message and operation counts within a tolerance, so a backend
//! that loses what it should deliver is caught), and run every system. What a backend
//! cannot express is refused before the run.
//!
//! `.ci/run` runs this file once per hosted backend; in a default build its backend tests are
//! ignored (they say which command runs them).

use sim::backend::Backend;
use sim::harness::run::RunOptions;
use sim::harness::system::Verdict;
use sim::report::RunReport;

/// The hosted backends of this build; the tests that use it are ignored in a build without
/// one, so none of them passes for having nothing to check.
fn hosted() -> Vec<Backend> {
    let hosted: Vec<Backend> =
        [Backend::Turmoil, Backend::Madsim].into_iter().filter(|b| b.available().is_ok()).collect();
    assert!(!hosted.is_empty(), "this build has no hosted backend (the test should have been ignored)");
    hosted
}

fn run_text(file: &str, text: &str, seed: u64, backend: Backend) -> RunReport {
    let options = RunOptions { backend, ..RunOptions::default() };
    protocols::systems()
        .run(file, text, seed, &options)
        .unwrap_or_else(|e| panic!("{file} on {backend}: {e}"))
}

fn run(file: &str, seed: u64, backend: Backend) -> RunReport {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    run_text(file, &text, seed, backend)
}

/// Every check but the latency bounds passes (a backend's timing is its own: madsim's
/// endpoints add a millisecond or more at each end of a message).
fn assert_correct(report: &RunReport, what: &str) {
    let failed: Vec<_> = report
        .summary
        .checks
        .iter()
        .filter(|(name, verdict)| {
            !name.starts_with("latency.") && **verdict != Verdict::Pass && **verdict != Verdict::Skipped
        })
        .map(|(name, verdict)| {
            format!("{name}: {verdict:?} {}", report.summary.reasons.get(name).cloned().unwrap_or_default())
        })
        .collect();
    assert!(failed.is_empty(), "{what} on {}: {failed:#?}", report.summary.backend);
    assert!(report.summary.events > 0, "{what} on {} ran nothing", report.summary.backend);
}

/// Within `tolerance` (a fraction) of `expected`.
fn near(actual: u64, expected: u64, tolerance: f64) -> bool {
    (actual as f64 - expected as f64).abs() <= tolerance * expected as f64
}

#[test]
fn this_build_names_its_backends() {
    // Native is always there; a hosted backend missing from the build says how to get it.
    assert!(Backend::Native.available().is_ok());
    for backend in [Backend::Turmoil, Backend::Madsim] {
        if let Err(how) = backend.available() {
            assert!(how.contains("cargo"), "{backend}: {how}");
        }
    }
    let any = [Backend::Turmoil, Backend::Madsim].iter().any(|b| b.available().is_ok());
    assert_eq!(
        any,
        cfg!(any(feature = "turmoil", all(feature = "madsim", madsim))),
        "the features say which backends exist"
    );
}

#[test]
#[cfg_attr(
    not(any(feature = "turmoil", all(feature = "madsim", madsim))),
    ignore = "needs a hosted backend: --features turmoil, or cargo madsim-test"
)]
fn a_seed_gives_the_same_run_twice_on_each_backend() {
    for backend in hosted() {
        for file in
            ["scenarios/pingpong/crash.toml", "scenarios/partition.toml", "scenarios/dynamo/partition.toml"]
        {
            let (a, b) = (run(file, 7, backend), run(file, 7, backend));
            assert_eq!(a.summary.trace_hash, b.summary.trace_hash, "{file} on {backend}");
            assert_eq!(a.history, b.history, "{file} on {backend}");
            assert_eq!(a.summary.checks, b.summary.checks, "{file} on {backend}");
            assert_eq!(a.summary.network, b.summary.network, "{file} on {backend}");
            // And another seed gives another run.
            assert_ne!(a.summary.trace_hash, run(file, 8, backend).summary.trace_hash, "{file} on {backend}");
        }
    }
}

/// Ping-pong with a constant latency and no faults: every backend delivers what was sent,
/// and a round trip takes the same time, so the counts agree closely.
#[test]
#[cfg_attr(
    not(any(feature = "turmoil", all(feature = "madsim", madsim))),
    ignore = "needs a hosted backend: --features turmoil, or cargo madsim-test"
)]
fn ping_pong_agrees_with_the_native_engine() {
    let text = std::fs::read_to_string("scenarios/pingpong/bench-5.toml").unwrap().replace(
        r#"latency = { dist = "uniform", min = "1ms", max = "10ms" }"#,
        r#"latency = { dist = "constant", value = "5ms" }"#,
    );
    assert!(text.contains("constant"), "bench-5 sets its latency as this test expects");
    let native = run_text("bench-5-constant.toml", &text, 1, Backend::Native);
    assert_correct(&native, "ping-pong");
    for backend in hosted() {
        let hosted = run_text("bench-5-constant.toml", &text, 1, backend);
        assert_correct(&hosted, "ping-pong");
        let (n, h) = (native.summary.network, hosted.summary.network);
        assert!(near(h.sent, n.sent, 0.02), "{backend} sent {} messages, native {}", h.sent, n.sent);
        // Delivered is what arrived: at most the few in flight at the end are missing.
        assert!(h.sent - h.delivered <= 10, "{backend} lost {} of {} messages", h.sent - h.delivered, h.sent);
        assert_eq!(hosted.summary.counters.get("timeouts"), None, "{backend}: a ping timed out");
    }
}

/// raft-kv with no faults: linearizable and every invariant holds on every backend, and the
/// workload gets about as much done.
#[test]
#[cfg_attr(
    not(any(feature = "turmoil", all(feature = "madsim", madsim))),
    ignore = "needs a hosted backend: --features turmoil, or cargo madsim-test"
)]
fn raft_kv_agrees_with_the_native_engine() {
    let text = std::fs::read_to_string("scenarios/partition.toml").unwrap();
    let fault_free = text[..text.find("[[faults]]").expect("partition.toml has faults")]
        .replace("loss = 0.01", "loss = 0.0");
    let native = run_text("partition-fault-free.toml", &fault_free, 3, Backend::Native);
    assert_correct(&native, "raft-kv");
    let ok = |report: &RunReport| report.summary.ops.values().map(|c| c.ok).sum::<u64>();
    for backend in hosted() {
        let hosted = run_text("partition-fault-free.toml", &fault_free, 3, backend);
        assert_correct(&hosted, "raft-kv");
        assert_eq!(hosted.summary.checks.get("linearizable"), Some(&Verdict::Pass), "{backend}");
        assert!(
            near(ok(&hosted), ok(&native), 0.10),
            "{backend}: {} operations ok, native {}",
            ok(&hosted),
            ok(&native)
        );
    }
}

/// Every system, with the faults each backend can express (crashes, restarts, partitions,
/// loss, disk and clock faults), checked by its own invariants.
#[test]
#[cfg_attr(
    not(any(feature = "turmoil", all(feature = "madsim", madsim))),
    ignore = "needs a hosted backend: --features turmoil, or cargo madsim-test"
)]
fn every_system_runs_on_each_backend() {
    let files = [
        "scenarios/pingpong/crash.toml",
        "scenarios/pingpong/partition.toml",
        "scenarios/pingpong/clock.toml",
        "scenarios/partition.toml",
        "scenarios/raft/crash-restart.toml",
        "scenarios/kademlia/one-region.toml",
        "scenarios/dynamo/crash-restart.toml",
        "scenarios/dynamo/partition.toml",
        "scenarios/collective/backends.toml",
        "scenarios/datas3t/uploads.toml",
        "scenarios/datas3t/server-crash.toml",
    ];
    for backend in hosted() {
        for file in files {
            assert_correct(&run(file, 1, backend), file);
        }
    }
}

/// A canary's bug is found on a hosted backend too: the checks do not depend on the engine.
#[test]
#[cfg_attr(
    not(any(feature = "turmoil", all(feature = "madsim", madsim))),
    ignore = "needs a hosted backend: --features turmoil, or cargo madsim-test"
)]
fn a_canary_fails_on_each_backend() {
    for backend in hosted() {
        let report = run("scenarios/dynamo/canary/arrival-order.toml", 1, backend);
        assert!(!report.summary.passed, "the arrival-order canary passed on {backend}");
    }
}

#[test]
#[cfg_attr(
    not(any(feature = "turmoil", all(feature = "madsim", madsim))),
    ignore = "needs a hosted backend: --features turmoil, or cargo madsim-test"
)]
fn what_a_backend_cannot_express_is_refused_before_the_run() {
    let base = std::fs::read_to_string("scenarios/pingpong/crash.toml").unwrap();
    let refuse = |text: &str, backend: Backend, expect: &str| {
        let options = RunOptions { backend, ..RunOptions::default() };
        let error = protocols::systems().run("x.toml", text, 1, &options).err().map(|e| e.to_string());
        let error = error.unwrap_or_else(|| panic!("{backend} ran what it should refuse ({expect})"));
        assert!(error.contains(expect), "{backend}: {error}");
    };
    for backend in hosted() {
        let duplicate = base.replace("[network]", "[network]\nduplicate = 0.1");
        assert!(duplicate.contains("duplicate = 0.1"), "crash.toml has a [network] table");
        refuse(&duplicate, backend, "never duplicates");
        refuse(&base.replace("[network]", "[network]\nbandwidth = \"1MB\""), backend, "bandwidth");
        let connections = std::fs::read_to_string("scenarios/pingpong/connections.toml").unwrap();
        refuse(&connections, backend, "talks over connections");
        let options = RunOptions { backend, trace: true, ..RunOptions::default() };
        let Err(error) = protocols::systems().run("x.toml", &base, 1, &options) else {
            panic!("{backend} ran with --trace")
        };
        assert!(error.to_string().contains("--trace"), "{error}");
    }
    if hosted().contains(&Backend::Turmoil) {
        let pause = std::fs::read_to_string("scenarios/pingpong/pause.toml").unwrap();
        refuse(&pause, Backend::Turmoil, "cannot pause");
        let reorder = std::fs::read_to_string("scenarios/raft/clog.toml").unwrap();
        assert!(reorder.contains("reorder = true"), "raft/clog.toml reorders");
        refuse(&reorder, Backend::Turmoil, "delivers held messages in order");
    }
}

/// turmoil runs clogs as its hold and release: pings a clog holds past their timeout time
/// out, as on the native engine, and nothing is lost or broken.
#[test]
#[cfg_attr(not(feature = "turmoil"), ignore = "needs turmoil: --features turmoil")]
fn turmoil_holds_and_releases_clogged_links() {
    let base = std::fs::read_to_string("scenarios/pingpong/crash.toml").unwrap();
    let fault_free = &base[..base.find("[[faults]]").expect("crash.toml has faults")];
    let clogged = format!("{fault_free}[[faults]]\nat = \"5s\"\nclog = \"isolate\"\nunclog_after = \"2s\"\n");
    for backend in [Backend::Native, Backend::Turmoil] {
        let quiet = run_text("fault-free.toml", fault_free, 1, backend);
        assert_correct(&quiet, "ping-pong");
        assert_eq!(
            quiet.summary.counters.get("timeouts"),
            None,
            "{backend}: a ping timed out without a clog"
        );
        let report = run_text("clogged.toml", &clogged, 1, backend);
        assert_correct(&report, "ping-pong with a clog");
        assert!(
            report.summary.counters.get("timeouts").is_some_and(|n| *n > 0),
            "{backend}: the clog held nothing"
        );
    }
}
