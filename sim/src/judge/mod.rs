//! Judging a run: what a check is ([`Check`], with its [`Verdict`]), and the checks the
//! kernel makes of every run from the scenario's `[checks]` (completion, no panic,
//! assertions, latency bounds, liveness), each its own step. The harness runs the steps,
//! adds the consistency model's and the system's own, and builds the summary once; the
//! report reads verdicts from here, so neither depends on the other for them.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::kernel::observe::Violation;
use crate::kernel::time::Time;
use crate::kernel::workload::{OpRecord, Outcome};
use crate::scenario::{ChecksSpec, LatencyBound, LivenessSpec, Phase};

/// A verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It holds.
    Pass,
    /// It does not.
    Fail,
    /// It could not be decided (a budget ran out).
    Unknown,
    /// It was not checked.
    Skipped,
}

impl Verdict {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
            Verdict::Skipped => "skipped",
        }
    }
}

/// What a check is about: the kernel's checks of every run, the consistency model's, or the
/// system's own. Names are for people and scenarios (`caught_by`); this is for code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// `complete`: the run reached its end (not its event budget).
    Completion,
    /// `no_panic`.
    NoPanic,
    /// `assertions`: the `always` assertions.
    Assertions,
    /// `latency.<op>.<percentile>[.<phase>]`: a bound of `[[checks.latency]]`.
    Latency,
    /// `liveness`: service after the last fault.
    Liveness,
    /// `kernel.*`: the simulated disk (and network) did what the scenario asked.
    Kernel,
    /// The history against the system's consistency model (`linearizable`).
    Consistency,
    /// The system's own (`raft.election_safety`, ...).
    System,
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Its name in the summary (`assertions`, `liveness`, `latency.get.p99`, ...).
    pub name: String,
    /// What it is about.
    pub kind: CheckKind,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, for every verdict but pass.
    pub reason: Option<String>,
    /// Whether only the end of the run decides it (convergence, nothing left behind, a
    /// bound after the last fault), as opposed to a safety property a prefix of the run can
    /// refute. A run stopped at its event budget leaves such a check unknown, and bisecting
    /// a failure of one is refused.
    pub whole_run: bool,
}

impl Check {
    /// A passing check.
    pub fn pass(name: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            kind: CheckKind::System,
            verdict: Verdict::Pass,
            reason: None,
            whole_run: false,
        }
    }

    /// A failing check and why.
    pub fn fail(name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            kind: CheckKind::System,
            verdict: Verdict::Fail,
            reason: Some(reason.into()),
            whole_run: false,
        }
    }

    /// A check that could not be decided, and why.
    pub fn unknown(name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            kind: CheckKind::System,
            verdict: Verdict::Unknown,
            reason: Some(reason.into()),
            whole_run: false,
        }
    }

    /// A check that was not made, and why.
    pub fn skipped(name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            kind: CheckKind::System,
            verdict: Verdict::Skipped,
            reason: Some(reason.into()),
            whole_run: false,
        }
    }

    /// This check, of kind `kind` (a new check is the system's own).
    pub fn of_kind(self, kind: CheckKind) -> Check {
        Check { kind, ..self }
    }

    /// This check, marked as decided by the end of the run only (see [`Check::whole_run`]).
    pub fn of_whole_run(self) -> Check {
        Check { whole_run: true, ..self }
    }

    /// A whole-run check owed by `due` (the last fault plus the time the system is given to
    /// recover, say): `judge()` if the run reached `due`, else unknown, because the run
    /// ended (at `end`) before the check was owed; never a failure of the system.
    pub fn owed(name: &str, due: Time, end: Time, why: &str, judge: impl FnOnce() -> Check) -> Check {
        let check = if due > end {
            Check::unknown(
                name,
                format!("the run ended at {end}, before {due} ({why}), when this is owed: lengthen duration"),
            )
        } else {
            judge()
        };
        check.of_whole_run()
    }

    /// Pass if `holds`, else fail with `reason()`.
    pub fn from(name: impl Into<String>, holds: bool, reason: impl FnOnce() -> String) -> Check {
        if holds {
            Check::pass(name)
        } else {
            Check::fail(name, reason())
        }
    }
}

/// `complete`: unknown if the run stopped at its event budget before its end.
pub fn completion(budget: Option<u64>, now: Time) -> Option<Check> {
    budget.map(|budget| {
        Check::unknown(
            "complete",
            format!("stopped at the event budget ({budget} events) at {now}, before the end"),
        )
        .of_kind(CheckKind::Completion)
    })
}

/// `no_panic`: no protocol panicked (the panic is caught, with its message and place).
pub fn no_panic(panic: Option<&str>) -> Check {
    Check::from("no_panic", panic.is_none(), || format!("a protocol panicked: {}", panic.unwrap_or_default()))
        .of_kind(CheckKind::NoPanic)
}

/// `assertions`: no `always` assertion was false, unless `[checks] assertions = false`.
pub fn assertions(spec: &ChecksSpec, violations: &[Violation]) -> Check {
    if !spec.assertions {
        return Check::skipped("assertions", "assertions = false in [checks]").of_kind(CheckKind::Assertions);
    }
    let check = Check::from("assertions", violations.is_empty(), || {
        let first = &violations[0];
        format!(
            "{} always-assertion failures; first: {:?} at {} at {}",
            violations.len(),
            first.name,
            first.node,
            first.time
        )
    });
    check.of_kind(CheckKind::Assertions)
}

/// `latency.<op>.<percentile>[.<phase>]`: each bound of `[[checks.latency]]` against the
/// histogram of its operation (and phase) over the ok operations.
pub fn latency_bounds(
    bounds: &[LatencyBound],
    histograms: &BTreeMap<(String, Option<Phase>), Histogram<u64>>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    for bound in bounds {
        let histogram = histograms.get(&(bound.op.clone(), bound.phase));
        let scope = bound.phase.map(|p| format!(" invoked {} faults", p.name())).unwrap_or_default();
        for (name, quantile, limit) in bound.bounds() {
            let check_name = match bound.phase {
                Some(phase) => format!("latency.{}.{name}.{}", bound.op, phase.name()),
                None => format!("latency.{}.{name}", bound.op),
            };
            let check = match histogram {
                None => Check::fail(check_name, format!("no {} operation{scope} completed", bound.op)),
                Some(h) => {
                    let value = if quantile >= 1.0 { h.max() } else { h.value_at_quantile(quantile) };
                    Check::from(check_name, u128::from(value) <= limit.as_nanos(), || {
                        format!(
                            "{name} of {}{scope} was {:.3}ms, bound {:?}",
                            bound.op,
                            value as f64 / 1e6,
                            limit
                        )
                    })
                }
            };
            checks.push(check.of_whole_run().of_kind(CheckKind::Latency));
        }
    }
    checks
}

/// `liveness`: every kind of operation asked for after the last fault (`window`'s end) is
/// served again within `within`, not just one: a system whose puts hang forever while its
/// reads work is not live.
pub fn liveness(spec: &LivenessSpec, window: Option<(Time, Time)>, operations: &[OpRecord]) -> Check {
    let healed = window.map_or(Time::ZERO, |(_, end)| end);
    let deadline = healed + spec.within;
    let mut kinds: BTreeMap<&str, bool> = BTreeMap::new();
    let asked = |f: &str| spec.ops.is_empty() || spec.ops.iter().any(|op| op == f);
    for r in operations.iter().filter(|r| r.intended >= healed && r.intended <= deadline && asked(&r.op.f)) {
        let ok = matches!(&r.completed, Some((at, Outcome::Ok(_))) if *at <= deadline);
        *kinds.entry(r.op.f.as_str()).or_default() |= ok;
    }
    let starved: Vec<&str> = kinds.iter().filter(|(_, ok)| !**ok).map(|(f, _)| *f).collect();
    let served = !kinds.is_empty() && starved.is_empty();
    let check = if healed > Time::from_duration(spec.heal_by) {
        Check::fail("liveness", format!("faults went on until {healed}, after heal_by {:?}", spec.heal_by))
    } else {
        Check::from("liveness", served, || {
            if kinds.is_empty() {
                format!("no operation was invoked between the last fault ({healed}) and {deadline}")
            } else {
                format!(
                    "no {} invoked after the last fault ({healed}) completed ok by {deadline}",
                    starved.join(" or ")
                )
            }
        })
    };
    check.of_whole_run().of_kind(CheckKind::Liveness)
}

/// A run stopped at its event budget: checks about the whole run cannot be judged on the
/// prefix that ran, so they become unknown (saying how they stood); safety checks stand.
pub fn stopped_early(checks: &mut [Check]) {
    for check in checks.iter_mut().filter(|c| c.whole_run) {
        let so_far = match (&check.verdict, &check.reason) {
            (Verdict::Pass, _) => "; it held so far".to_owned(),
            (Verdict::Fail, Some(reason)) => format!("; so far: {reason}"),
            _ => String::new(),
        };
        check.verdict = Verdict::Unknown;
        check.reason = Some(format!("the run stopped at the event budget, before the end{so_far}"));
    }
}

/// Which way a run failed: the check that decides it, and what it failed with. A sweep
/// groups failed seeds by its [`bucket`](Failure::bucket); shrinking keeps a run failing in
/// the same one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The deciding check: `no_panic` if a protocol panicked (a panic explains the rest),
    /// else the first failed check by name, else the first inconclusive one.
    pub check: String,
    /// `Fail`, or `Unknown` for an inconclusive run.
    pub verdict: Verdict,
    /// What it failed with.
    pub cause: Cause,
}

/// What a run failed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A protocol panicked: its message and place.
    Panic(String),
    /// The deciding check's reason.
    Reason(String),
}

impl Failure {
    /// The failure of a run with these verdicts, reasons and panic (the summary's); `None`
    /// if every check passed or was skipped.
    pub fn of(
        checks: &BTreeMap<String, Verdict>,
        reasons: &BTreeMap<String, String>,
        panic: Option<&str>,
    ) -> Option<Failure> {
        if let Some(panic) = panic {
            let cause = Cause::Panic(panic.to_owned());
            return Some(Failure { check: "no_panic".to_owned(), verdict: Verdict::Fail, cause });
        }
        let with = |wanted: Verdict| checks.iter().find(|(_, v)| **v == wanted).map(|(name, v)| (name, *v));
        let (check, verdict) = with(Verdict::Fail).or_else(|| with(Verdict::Unknown))?;
        let reason = reasons.get(check).cloned().unwrap_or_default();
        Some(Failure { check: check.clone(), verdict, cause: Cause::Reason(reason) })
    }

    /// A seed that did not finish (`check` is the sweep's `budget` or `worker`).
    pub fn unfinished(check: &str, reason: &str) -> Failure {
        Failure { check: check.to_owned(), verdict: Verdict::Fail, cause: Cause::Reason(reason.to_owned()) }
    }

    /// `check: what`, with each word-run of letters and digits that holds a digit (a number,
    /// an id such as `n4` or a hex digest such as `5be2867c`) replaced by `N`, at most 100
    /// characters. A reason is cut at its first `": "` (what follows is the particular
    /// witness); a panic keeps its whole message and place, which tell one panic from
    /// another, its path under the cargo home cut to the crate's folder on (it differs
    /// between machines).
    pub fn bucket(&self) -> String {
        let head = match &self.cause {
            Cause::Panic(panic) => panic.as_str(),
            Cause::Reason(reason) => reason.split(": ").next().unwrap_or(""),
        };
        let head: String = head
            .split(' ')
            .map(|word| match word.find("/registry/src/") {
                Some(at) => {
                    let rest = &word[at + "/registry/src/".len()..];
                    rest.split_once('/').map_or(rest, |(_, path)| path)
                }
                None => word,
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut normalized = String::new();
        let mut run = String::new();
        let flush = |run: &mut String, normalized: &mut String| {
            if run.chars().any(|c| c.is_ascii_digit()) {
                normalized.push('N');
            } else {
                normalized.push_str(run);
            }
            run.clear();
        };
        for c in head.chars() {
            if c.is_ascii_alphanumeric() {
                run.push(c);
            } else {
                flush(&mut run, &mut normalized);
                normalized.push(c);
            }
        }
        flush(&mut run, &mut normalized);
        clip(&format!("{}: {}", self.check, normalized.trim()), 100)
    }
}

/// `text` cut to at most `chars` characters, with `…` where it was cut.
pub fn clip(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(check: &str, reason: &str) -> String {
        Failure::unfinished(check, reason).bucket()
    }

    fn panicked(message: &str) -> String {
        let checks =
            BTreeMap::from([("no_panic".to_owned(), Verdict::Fail), ("a".to_owned(), Verdict::Fail)]);
        let reasons = BTreeMap::from([("no_panic".to_owned(), format!("a protocol panicked: {message}"))]);
        Failure::of(&checks, &reasons, Some(message)).expect("failed").bucket()
    }

    #[test]
    fn buckets_ignore_numbers_and_witnesses() {
        let a = bucket("linearizable", "not linearizable: get k3 -> 7 at 1.204s");
        let b = bucket("linearizable", "not linearizable: get k9 -> 12 at 8.5s");
        assert_eq!(a, "linearizable: not linearizable");
        assert_eq!(a, b);
        assert_eq!(
            bucket("raft.acknowledged_writes_kept", "operation 812 was acknowledged at 9.1s by server 3"),
            bucket("raft.acknowledged_writes_kept", "operation 17 was acknowledged at 2.04s by server 1"),
        );
        assert!(bucket("x", &"y".repeat(300)).chars().count() <= 101);
        assert_eq!(
            bucket("c", "n4's copy of chunk m0:f12-12-5be2867c was found damaged at 55.9s"),
            bucket("c", "n11's copy of chunk m2:f3-0-e9992c8f was found damaged at 7.25s"),
            "ids and hex digests are numbers"
        );
    }

    #[test]
    fn a_panic_is_the_failure_and_keeps_its_message_and_place() {
        assert_eq!(
            panicked("relay of operation 100 at protocols/src/pingpong/server.rs:88"),
            "no_panic: relay of operation N at protocols/src/pingpong/server.rs:N"
        );
        assert_eq!(
            panicked(
                "boom at /home/a/.cargo/registry/src/index.crates.io-1949cf8c/raft-0.7.0/src/raft.rs:12"
            ),
            "no_panic: boom at raft-N.N.N/src/raft.rs:N"
        );
    }

    #[test]
    fn the_first_failed_check_decides_then_the_first_unknown() {
        let checks = BTreeMap::from([
            ("b".to_owned(), Verdict::Unknown),
            ("c".to_owned(), Verdict::Fail),
            ("d".to_owned(), Verdict::Fail),
        ]);
        let failure = Failure::of(&checks, &BTreeMap::new(), None).unwrap();
        assert_eq!((failure.check.as_str(), failure.verdict), ("c", Verdict::Fail));
        let unknown = BTreeMap::from([("b".to_owned(), Verdict::Unknown), ("a".to_owned(), Verdict::Pass)]);
        assert_eq!(Failure::of(&unknown, &BTreeMap::new(), None).unwrap().verdict, Verdict::Unknown);
        let passed = BTreeMap::from([("a".to_owned(), Verdict::Pass), ("s".to_owned(), Verdict::Skipped)]);
        assert_eq!(Failure::of(&passed, &BTreeMap::new(), None), None);
    }
}
