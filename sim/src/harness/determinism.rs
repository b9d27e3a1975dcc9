//! The double-run check: run the same simulation twice and find the first difference.
//!
//! The two runs are built by the same closure and stepped in lock step, comparing each
//! event. Stepping plainly is fast; only when a difference is found are both runs rebuilt
//! and replayed up to it with descriptions on, so the report can print the two differing
//! events in full (message contents included) without slowing down the common case.
//!
//! A lock-step check in one process catches every source of nondeterminism that differs
//! between two instances (randomly seeded hash maps, addresses, global state). Differences
//! between processes (environment, ASLR) need two processes: compare `trace_hash` values
//! printed by two runs of the binary, as the CLI's `--check-determinism` and the tests do.

use std::fmt;

use crate::kernel::engine::{Limits, Sim};
use crate::kernel::ids::Message;
use crate::kernel::trace::TraceEvent;
use crate::report::RunReport;

/// Where two runs of the same simulation first differed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the first differing event.
    pub index: u64,
    /// That event in the first run (`None`: the run had ended), with its description.
    pub first: Option<(TraceEvent, String)>,
    /// That event in the second run.
    pub second: Option<(TraceEvent, String)>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runs diverge at event #{}:", self.index)?;
        for (label, side) in [("first ", &self.first), ("second", &self.second)] {
            match side {
                Some((event, text)) => writeln!(f, "  {label} run: {event}\n               {text}")?,
                None => writeln!(f, "  {label} run: (no more events)")?,
            }
        }
        Ok(())
    }
}

/// What an agreeing double run produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreement {
    /// The common trace hash.
    pub trace_hash: u64,
    /// The common number of events.
    pub events: u64,
}

/// Builds the simulation twice with `build`, runs both within `limits`, and reports the
/// first event at which they differ.
pub fn check_determinism<M: Message>(
    mut build: impl FnMut() -> Sim<M>,
    limits: Limits,
) -> Result<Agreement, Box<Divergence>> {
    let (mut first, mut second) = (build(), build());
    let mut index = 0;
    loop {
        let a = step_within(&mut first, limits);
        let b = step_within(&mut second, limits);
        if a != b {
            return Err(Box::new(describe(&mut build, limits, index)));
        }
        if a.is_none() {
            return Ok(Agreement { trace_hash: first.trace_hash(), events: first.events() });
        }
        index += 1;
    }
}

/// What differs between two runs of one seed, each made whole (a hosted backend, whose
/// events cannot be stepped in lock step from outside): the trace hash (every boot,
/// delivery, timer, invocation and fault, in order, with its time), the history or the
/// verdicts; `None` if they agree.
pub fn compare_runs(first: &RunReport, second: &RunReport) -> Option<&'static str> {
    let differs = [
        ("trace hash", first.summary.trace_hash != second.summary.trace_hash),
        ("history", first.history != second.history),
        ("verdicts", first.summary.checks != second.summary.checks),
    ];
    differs.iter().find(|(_, differs)| *differs).map(|(what, _)| *what)
}

fn step_within<M: Message>(sim: &mut Sim<M>, limits: Limits) -> Option<TraceEvent> {
    if sim.events() >= limits.max_events {
        return None;
    }
    sim.step_until(limits.until)
}

/// Rebuilds both runs, replays them to `index` and describes event `index` of each.
fn describe<M: Message>(build: &mut impl FnMut() -> Sim<M>, limits: Limits, index: u64) -> Divergence {
    let mut side = || {
        let mut sim = build();
        while sim.events() < index {
            step_within(&mut sim, limits)?;
        }
        if sim.events() >= limits.max_events {
            return None;
        }
        sim.step_described_until(limits.until)
    };
    let first = side();
    let second = side();
    Divergence { index, first, second }
}
