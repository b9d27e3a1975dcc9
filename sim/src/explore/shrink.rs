//! Make a failing run small while it keeps failing the same way (`simctl shrink`).
//!
//! "The same way" is the run's [`Failure`] with the same bucket: the deciding check and its
//! reason with the numbers taken out. The shrinker first pins the run's faults down: the realized fault
//! timeline (every random or role-targeted fault resolved to a time and a server) replaces
//! `[swarm]` and the written `[[faults]]`, so the result does not depend on how faults are
//! drawn. Then, each step kept only if the run still fails in the same bucket:
//!
//! 1. drop faults (delta debugging: halves, quarters, ... then single faults);
//! 2. shorten what is left: faults that end something (heal, restart, resume) move earlier,
//!    the others later, by halving the gap to their neighbour;
//! 3. the workload: fewer clients, a lower rate, fewer keys;
//! 4. a shorter run, then fewer servers, where the scenario stays valid.
//!
//! Rounds repeat while a round removes something. Every candidate is one deterministic run
//! with the same seed, so the result is reproducible. Candidates are [`Document`]s: the
//! author's scenario with typed edits, so what is not shrunk stays as written.

use std::time::Duration;

use super::{failed, fails_as};
use crate::harness::registry::Registry;
use crate::harness::run::RunOptions;
use crate::judge::Failure;
use crate::scenario::{self, duration, Count, Document, FaultAction, FaultSpec, NodeRef, Rate};

/// A scenario being shrunk: its document, its faults pinned once the realized timeline
/// fails the same way on its own.
type Candidate = Document;

struct Shrinker<'a> {
    registry: &'a Registry,
    file: String,
    seed: u64,
    bucket: String,
    runs: usize,
    max_runs: usize,
}

impl Shrinker<'_> {
    /// Whether the candidate fails the same way (an invalid candidate does not).
    fn fails(&mut self, candidate: &Candidate) -> bool {
        if self.runs >= self.max_runs {
            return false;
        }
        self.runs += 1;
        match self.registry.run(&self.file, &candidate.text(), self.seed, &RunOptions::default()) {
            Ok(report) => fails_as(&report, &self.bucket),
            Err(_) => false,
        }
    }

    /// Tries `change` on a copy of `current`; keeps it if the run still fails the same way.
    fn attempt(&mut self, current: &mut Candidate, change: impl FnOnce(&mut Candidate) -> bool) -> bool {
        let mut candidate = current.clone();
        if !change(&mut candidate) || !self.fails(&candidate) {
            return false;
        }
        *current = candidate;
        true
    }
}

fn faults(candidate: &Candidate) -> &[FaultSpec] {
    candidate.pinned().unwrap_or_default()
}

/// One line for a fault: `4s partition = { groups = [[3], [0, 1, 2, 4]] }`.
fn describe(fault: &FaultSpec) -> String {
    let what: Vec<String> =
        fault.to_toml().iter().filter(|(k, _)| *k != "at").map(|(k, v)| format!("{k} = {v}")).collect();
    format!("{} {}", duration::format(fault.at), what.join(", "))
}

/// Start and end faults of the realized timeline joined back into one fault each, as a
/// person writes them: a crash of server N and the next restart of N become
/// `crash = N, restart_after = ...`; a partition and the next heal, `heal_after`; a pause
/// and its resume, `resume_after`. Dropping then removes both halves at once, and shortening
/// shortens the `*_after` duration. A clog and the next unclog become `unclog_after`.
fn paired(list: &[FaultSpec]) -> Vec<FaultSpec> {
    let mut used = vec![false; list.len()];
    let mut out = Vec::new();
    for (i, fault) in list.iter().enumerate() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let mut fault = fault.clone();
        // A restart or resume ends its own server's crash or pause.
        let ends = |other: &FaultAction| match (&fault.action, other) {
            // A heal of every cut, or of this partition's (the realized list is in index order).
            (FaultAction::Partition { .. }, FaultAction::Heal { partition: one })
            | (FaultAction::Clog { .. }, FaultAction::Unclog { clog: one }) => {
                one.is_none_or(|n| n == i as u64)
            }
            (FaultAction::Crash { node, .. }, FaultAction::Restart { node: other }) => node == other,
            (FaultAction::Pause { node, .. }, FaultAction::Resume { node: other }) => node == other,
            (FaultAction::Link { .. }, FaultAction::LinkRestore { fault }) => *fault == i as u64,
            (FaultAction::Slow { node, .. }, FaultAction::Slow { node: other, per_event, .. }) => {
                node == other && per_event.is_zero()
            }
            _ => false,
        };
        let ending = (i + 1..list.len()).find(|&j| !used[j] && ends(&list[j].action));
        if let Some(j) = ending.filter(|&j| list[j].at > fault.at) {
            // A wipe of the crashed server at its restart is the same fault's `wiped`.
            let wipe = (i + 1..j).find(|&w| {
                !used[w]
                    && list[w].at == list[j].at
                    && matches!((&fault.action, &list[w].action),
                        (FaultAction::Crash { node, .. }, FaultAction::Wipe { node: wiped }) if node == wiped)
            });
            if let Some(w) = wipe {
                used[w] = true;
                if let FaultAction::Crash { wiped, .. } = &mut fault.action {
                    *wiped = true;
                }
            }
            if let Some(after) = fault.action.after_mut() {
                used[j] = true;
                *after = Some(list[j].at - fault.at);
            }
        }
        out.push(fault);
    }
    out
}

/// The faults of a run with one server fewer: faults of the last server are dropped and it is
/// taken out of partitions; a partition left with nothing to cut is dropped.
fn without_server(list: &[FaultSpec], server: u32) -> Vec<FaultSpec> {
    let mut out = Vec::new();
    for fault in list {
        if fault.action.target().and_then(|t| t.node()) == Some(NodeRef::Server(server)) {
            continue;
        }
        let mut fault = fault.clone();
        if let FaultAction::Link { from, to, .. } = &mut fault.action {
            from.retain(|n| *n != server);
            to.retain(|n| *n != server);
            if from.is_empty() || to.is_empty() {
                continue;
            }
        }
        if let FaultAction::Partition { partition, .. } | FaultAction::Clog { partition, .. } =
            &mut fault.action
        {
            match partition.without(NodeRef::Server(server)) {
                Some(smaller) => *partition = smaller,
                None => continue,
            }
        }
        out.push(fault);
    }
    out
}

/// Delta debugging over the fault list: drop chunks of it while the run fails.
fn drop_faults(shrinker: &mut Shrinker, current: &mut Candidate) {
    let mut chunks = 2;
    loop {
        let list = faults(current).to_vec();
        if list.is_empty() {
            return;
        }
        let size = list.len().div_ceil(chunks);
        let mut removed = false;
        for start in (0..list.len()).step_by(size.max(1)) {
            let kept: Vec<FaultSpec> = list
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < start || *i >= start + size)
                .map(|(_, f)| f.clone())
                .collect();
            if shrinker.attempt(current, |c| {
                c.pin(kept);
                true
            }) {
                removed = true;
                break;
            }
        }
        if removed {
            chunks = (chunks - 1).max(2);
        } else if size <= 1 {
            return;
        } else {
            chunks = (chunks * 2).min(list.len());
        }
    }
}

/// Halves each fault's `*_after` duration, then moves each fault toward its neighbour,
/// while the run fails: endings earlier, the rest later. Returns how many changes were kept.
fn shorten(shrinker: &mut Shrinker, current: &mut Candidate) -> usize {
    let mut moves = 0;
    for index in 0..faults(current).len() {
        while let Some(length) = faults(current)[index].action.after() {
            if length < Duration::from_millis(2) {
                break;
            }
            let kept = shrinker.attempt(current, |c| {
                let after = c.pinned_mut()[index].action.after_mut().expect("it has a follow-up");
                *after = Some(length / 2);
                true
            });
            if !kept {
                break;
            }
            moves += 1;
        }
        loop {
            let list = faults(current);
            let now = list[index].at;
            let target = if list[index].action.is_ending() {
                let previous = if index == 0 { Duration::ZERO } else { list[index - 1].at };
                previous + (now - previous) / 2
            } else {
                let next = list.get(index + 1).map_or(current.duration().unwrap_or_default(), |f| f.at);
                now + next.saturating_sub(now) / 2
            };
            if target.abs_diff(now) < Duration::from_millis(1) {
                break;
            }
            if !shrinker.attempt(current, |c| {
                c.pinned_mut()[index].at = target;
                true
            }) {
                break;
            }
            moves += 1;
        }
    }
    moves
}

/// Lowers a whole-number workload setting (clients, keys) while the run fails.
fn lower_count(shrinker: &mut Shrinker, candidate: &mut Candidate, count: Count, floor: u64) {
    while let Some(current) = candidate.count(count) {
        let candidates = [(current / 2).max(floor), current.saturating_sub(1)];
        let lowered = candidates
            .iter()
            .filter(|&&v| v >= floor && v < current)
            .any(|&value| shrinker.attempt(candidate, |c| c.set_count(count, value)));
        if !lowered {
            return;
        }
    }
}

fn lower_rate(shrinker: &mut Shrinker, candidate: &mut Candidate) {
    while let Some(rate) = candidate.rate() {
        let half = rate.per_second / 2.0;
        if half < 0.5 {
            return;
        }
        let lower = Rate { per_second: (half * 100.0).round() / 100.0 };
        if !shrinker.attempt(candidate, |c| c.set_rate(lower)) {
            return;
        }
    }
}

fn shorter_run(shrinker: &mut Shrinker, candidate: &mut Candidate) {
    while let Some(length) = candidate.duration() {
        let last_fault = faults(candidate).iter().map(|f| f.at).max().unwrap_or_default();
        let target = last_fault + (length.saturating_sub(last_fault)) / 2;
        if length.saturating_sub(target) < Duration::from_millis(100) {
            return;
        }
        if !shrinker.attempt(candidate, |c| {
            c.set_duration(target);
            true
        }) {
            return;
        }
    }
}

fn fewer_nodes(shrinker: &mut Shrinker, candidate: &mut Candidate) {
    while let Some(nodes) = candidate.nodes().filter(|n| *n > 1) {
        if !shrinker.attempt(candidate, |c| {
            c.set_nodes(nodes - 1);
            if let Some(pinned) = c.pinned() {
                let fewer = without_server(pinned, nodes - 1);
                c.pin(fewer);
            }
            true
        }) {
            return;
        }
    }
}

/// A failing run made small: what [`shrink_scenario`] returns.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The failure it keeps failing with.
    pub failure: Failure,
    /// Its bucket, as sweeps group failures (the deciding check's reason, numbers taken
    /// out).
    pub bucket: String,
    /// The scenario, named `<name>-shrunk`, as TOML: it fails with `bucket` on the same seed.
    pub text: String,
    /// What was removed, a line each (faults, clients, rate, keys, duration, nodes, runs,
    /// and the faults before and after).
    pub account: Vec<String>,
    /// The faults kept, pinned to times and servers (empty if the realized timeline did not
    /// fail the same way on its own, and the faults were left as written).
    pub faults: Vec<FaultSpec>,
    /// How many runs it took.
    pub runs: usize,
}

/// Shrinks scenario `text` (named `file` in messages), which fails on `seed`, while it
/// keeps failing the same way, in at most `max_runs` runs: the library's `simctl shrink`,
/// for a `cargo test` that found a failing seed. `progress` hears a line as it starts.
///
/// # Errors
/// The scenario is invalid, or passes on `seed` (there is nothing to shrink).
pub fn shrink_scenario(
    registry: &Registry,
    file: &str,
    text: &str,
    seed: u64,
    max_runs: usize,
    mut progress: impl FnMut(&str),
) -> Result<Shrunk, String> {
    let report = registry.run(file, text, seed, &RunOptions::default()).map_err(|e| e.to_string())?;
    let Some(failure) = failed(&report) else {
        return Err(format!("{file} seed {seed} passes: there is no failure to shrink"));
    };
    let bucket = failure.bucket();
    let doc = Document::parse(file, text)?;
    let mut shrinker =
        Shrinker { registry, file: file.to_owned(), seed, bucket: bucket.clone(), runs: 0, max_runs };
    progress(&format!("shrinking {file} seed {seed}, which fails: {bucket}"));

    // Pin the faults: the realized timeline instead of [swarm] and role or random targets.
    let realized = scenario::realized(&report.fault_log, report.servers);
    let before = Shape::of(&doc, realized.len());
    let mut current = doc;
    let mut pinned = current.clone();
    pinned.pin(realized.clone());
    let faults_pinned = shrinker.fails(&pinned);
    if faults_pinned {
        current = pinned;
        let pairs = paired(&realized);
        if pairs.len() < realized.len() {
            shrinker.attempt(&mut current, |c| {
                c.pin(pairs);
                true
            });
        }
    } else {
        progress(
            "  the realized fault timeline does not fail the same way on its own; faults are left as written",
        );
    }

    let mut moves = 0;
    for _round in 0..3 {
        let start = current.clone();
        if faults_pinned {
            drop_faults(&mut shrinker, &mut current);
            moves += shorten(&mut shrinker, &mut current);
        }
        lower_count(&mut shrinker, &mut current, Count::Clients, 1);
        lower_rate(&mut shrinker, &mut current);
        lower_count(&mut shrinker, &mut current, Count::Keys, 1);
        shorter_run(&mut shrinker, &mut current);
        fewer_nodes(&mut shrinker, &mut current);
        if current == start {
            break;
        }
    }

    let name = current.name().unwrap_or("scenario").to_owned();
    current.set_name(&format!("{name}-shrunk"));
    let kept = faults(&current).to_vec();
    let original: Vec<String> =
        if faults_pinned { paired(&realized).iter().map(describe).collect() } else { Vec::new() };
    let after = Shape::of(&current, if faults_pinned { kept.len() } else { current.written_faults() });
    let mut account = vec![
        format!(
            "faults      {} realized events -> {} faults kept ({moves} changes shortened them)",
            before.faults, after.faults
        ),
        format!("clients     {} -> {}", before.clients, after.clients),
        format!("rate        {} -> {}", before.rate, after.rate),
        format!("keys        {} -> {}", before.keys, after.keys),
        format!("duration    {} -> {}", before.duration, after.duration),
        format!("nodes       {} -> {}", before.nodes, after.nodes),
        format!("runs        {} (at most {max_runs})", shrinker.runs),
    ];
    if !original.is_empty() {
        account.push("realized faults of the original run:".to_owned());
        account.extend(original.iter().take(10).map(|d| format!("  {d}")));
        if original.len() > 10 {
            account.push(format!("  ... and {} more", original.len() - 10));
        }
        account.push("kept, as shortened and moved:".to_owned());
    }
    for fault in &kept {
        account.push(format!("  {}", describe(fault)));
    }
    Ok(Shrunk { failure, bucket, text: current.text(), account, faults: kept, runs: shrinker.runs })
}

/// What the account compares.
struct Shape {
    faults: usize,
    clients: String,
    rate: String,
    keys: String,
    duration: String,
    nodes: String,
}

impl Shape {
    fn of(doc: &Document, faults: usize) -> Shape {
        let workload = |key: &str| doc.written(Some("workload"), key).unwrap_or_else(|| "default".to_owned());
        let top = |key: &str| doc.written(None, key).unwrap_or_else(|| "-".to_owned());
        Shape {
            faults,
            clients: workload("clients"),
            rate: workload("rate"),
            keys: workload("keys"),
            duration: top("duration"),
            nodes: top("nodes"),
        }
    }
}
