//! `simctl shrink`: make a failing run small while it keeps failing the same way.
//!
//! "The same way" is the sweep's failure bucket: the deciding check and its reason with the
//! numbers taken out. The shrinker first pins the run's faults down: the realized fault
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
//! with the same seed, so the result is reproducible, and the output file carries its seed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sim::harness::registry::Registry;
use sim::harness::run::RunOptions;
use sim::scenario::{self, duration, FaultAction, FaultSpec, NodeRef, Rate};
use toml::{Table, Value};

use crate::exit::{bad_input, ExitStatus};
use crate::sweep::SeedResult;

/// A scenario being shrunk: its tables, and, once the faults are pinned to the realized
/// timeline, that timeline as typed entries (which replace `[[faults]]` and `[swarm]`).
#[derive(Clone, PartialEq)]
struct Candidate {
    doc: Table,
    faults: Option<Vec<FaultSpec>>,
}

impl Candidate {
    /// The scenario text this candidate runs.
    fn text(&self) -> String {
        let mut doc = self.doc.clone();
        if let Some(faults) = &self.faults {
            doc.remove("swarm");
            doc.remove("faults");
            if !faults.is_empty() {
                let tables = faults.iter().map(|f| Value::Table(f.to_toml())).collect();
                doc.insert("faults".into(), Value::Array(tables));
            }
        }
        toml::to_string(&doc).expect("scenario tables serialize")
    }

    fn faults(&self) -> &[FaultSpec] {
        self.faults.as_deref().unwrap_or_default()
    }

    fn faults_mut(&mut self) -> &mut Vec<FaultSpec> {
        self.faults.get_or_insert_with(Vec::new)
    }
}

struct Shrinker<'a> {
    registry: &'a Registry,
    file: String,
    seed: u64,
    bucket: String,
    runs: usize,
    max_runs: usize,
}

impl Shrinker<'_> {
    /// Whether the candidate fails in the same bucket (an invalid candidate does not).
    fn fails(&mut self, candidate: &Candidate) -> bool {
        if self.runs >= self.max_runs {
            return false;
        }
        self.runs += 1;
        match self.registry.run(&self.file, &candidate.text(), self.seed, &RunOptions::default()) {
            Ok(report) => {
                let result = SeedResult::from_report(&self.file, &report, 0.0);
                !result.passed && result.bucket.as_deref() == Some(self.bucket.as_str())
            }
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

fn run_length(doc: &Table) -> Duration {
    doc.get("duration").and_then(Value::as_str).and_then(|t| duration::parse(t).ok()).unwrap_or_default()
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
        let list = current.faults().to_vec();
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
                *c.faults_mut() = kept;
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
    for index in 0..current.faults().len() {
        while let Some(length) = current.faults()[index].action.after() {
            if length < Duration::from_millis(2) {
                break;
            }
            let kept = shrinker.attempt(current, |c| {
                let after = c.faults_mut()[index].action.after_mut().expect("it has a follow-up");
                *after = Some(length / 2);
                true
            });
            if !kept {
                break;
            }
            moves += 1;
        }
        loop {
            let list = current.faults();
            let now = list[index].at;
            let target = if list[index].action.is_ending() {
                let previous = if index == 0 { Duration::ZERO } else { list[index - 1].at };
                previous + (now - previous) / 2
            } else {
                let next = list.get(index + 1).map_or(run_length(&current.doc), |f| f.at);
                now + next.saturating_sub(now) / 2
            };
            if target.abs_diff(now) < Duration::from_millis(1) {
                break;
            }
            if !shrinker.attempt(current, |c| {
                c.faults_mut()[index].at = target;
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
fn lower_count(shrinker: &mut Shrinker, candidate: &mut Candidate, key: &str, floor: i64) {
    loop {
        let Some(current) =
            candidate.doc.get("workload").and_then(|w| w.get(key)).and_then(Value::as_integer)
        else {
            return;
        };
        let candidates = [(current / 2).max(floor), current - 1];
        let lowered = candidates.iter().filter(|&&v| v >= floor && v < current).any(|&value| {
            shrinker.attempt(candidate, |c| {
                c.doc
                    .get_mut("workload")
                    .and_then(Value::as_table_mut)
                    .map(|w| w.insert(key.into(), value.into()))
                    .is_some()
            })
        });
        if !lowered {
            return;
        }
    }
}

fn lower_rate(shrinker: &mut Shrinker, candidate: &mut Candidate) {
    while let Some(rate) = candidate.doc.get("workload").and_then(|w| w.get("rate")).and_then(Value::as_str) {
        let Ok(rate) = Rate::parse(rate) else { return };
        let half = rate.per_second / 2.0;
        if half < 0.5 {
            return;
        }
        let text = format!("{}/s", (half * 100.0).round() / 100.0);
        if !shrinker.attempt(candidate, |c| {
            c.doc
                .get_mut("workload")
                .and_then(Value::as_table_mut)
                .map(|w| w.insert("rate".into(), text.into()))
                .is_some()
        }) {
            return;
        }
    }
}

fn shorter_run(shrinker: &mut Shrinker, candidate: &mut Candidate) {
    loop {
        let length = run_length(&candidate.doc);
        let last_fault = candidate.faults().iter().map(|f| f.at).max().unwrap_or_default();
        let target = last_fault + (length.saturating_sub(last_fault)) / 2;
        if length.saturating_sub(target) < Duration::from_millis(100) {
            return;
        }
        if !shrinker.attempt(candidate, |c| {
            c.doc.insert("duration".into(), duration::format(target).into());
            true
        }) {
            return;
        }
    }
}

fn fewer_nodes(shrinker: &mut Shrinker, candidate: &mut Candidate) {
    while let Some(nodes) = candidate.doc.get("nodes").and_then(Value::as_integer).filter(|n| *n > 1) {
        if !shrinker.attempt(candidate, |c| {
            c.doc.insert("nodes".into(), (nodes - 1).into());
            if let Some(faults) = &mut c.faults {
                *faults = without_server(faults, (nodes - 1) as u32);
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
    /// The failure it keeps failing with: the sweep's bucket (the deciding check and its
    /// reason, numbers taken out).
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
    let original = SeedResult::from_report(file, &report, 0.0);
    let Some(bucket) = original.bucket.clone().filter(|_| !original.passed) else {
        return Err(format!("{file} seed {seed} passes: there is no failure to shrink"));
    };
    let doc: Table = text.parse().map_err(|e| format!("{file}: {e}"))?;
    let mut shrinker =
        Shrinker { registry, file: file.to_owned(), seed, bucket: bucket.clone(), runs: 0, max_runs };
    progress(&format!("shrinking {file} seed {seed}, which fails: {bucket}"));

    // Pin the faults: the realized timeline instead of [swarm] and role or random targets.
    let realized = scenario::realized(&report.fault_log, report.servers);
    let before = Shape::of(&doc, realized.len());
    let mut current = Candidate { doc, faults: None };
    let pinned = Candidate { doc: current.doc.clone(), faults: Some(realized.clone()) };
    let faults_pinned = shrinker.fails(&pinned);
    if faults_pinned {
        current = pinned;
        let pairs = paired(&realized);
        if pairs.len() < realized.len() {
            shrinker.attempt(&mut current, |c| {
                c.faults = Some(pairs);
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
        lower_count(&mut shrinker, &mut current, "clients", 1);
        lower_rate(&mut shrinker, &mut current);
        lower_count(&mut shrinker, &mut current, "keys", 1);
        shorter_run(&mut shrinker, &mut current);
        fewer_nodes(&mut shrinker, &mut current);
        if current == start {
            break;
        }
    }

    let name = current.doc.get("name").and_then(Value::as_str).unwrap_or("scenario").to_owned();
    current.doc.insert("name".into(), format!("{name}-shrunk").into());
    let kept = current.faults().to_vec();
    let original: Vec<String> =
        if faults_pinned { paired(&realized).iter().map(describe).collect() } else { Vec::new() };
    let written_faults = current.doc.get("faults").and_then(Value::as_array).map_or(0, Vec::len);
    let after = Shape::of(&current.doc, if faults_pinned { kept.len() } else { written_faults });
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
    Ok(Shrunk { bucket, text: current.text(), account, faults: kept, runs: shrinker.runs })
}

/// `simctl shrink`: [`shrink_scenario`], written to a file that says how it was made, and
/// run once more to confirm it fails the same way.
pub fn shrink(
    registry: &Registry,
    path: &Path,
    seed: u64,
    out: Option<&Path>,
    max_runs: usize,
) -> ExitStatus {
    let program = crate::program();
    let (file, text) = match scenario::read(path) {
        Ok(read) => read,
        Err(error) => return bad_input(&error),
    };
    let shrunk = match shrink_scenario(registry, &file, &text, seed, max_runs, |line| println!("{line}")) {
        Ok(shrunk) => shrunk,
        Err(error) => return bad_input(&error),
    };
    let name =
        text.parse::<Table>().ok().and_then(|doc| doc.get("name").and_then(Value::as_str).map(str::to_owned));
    let out = out.map_or_else(
        || {
            PathBuf::from("reports")
                .join(name.as_deref().unwrap_or("scenario"))
                .join(seed.to_string())
                .join("shrunk.toml")
        },
        Path::to_path_buf,
    );
    let out_label = out.display().to_string();
    let bucket = &shrunk.bucket;
    let mut header = format!(
        "# Shrunk by `{program} shrink {file} --seed {seed}`: it fails with\n#   {bucket}\n# Reproduce: {program} run {out_label} --seed {seed}\n#\n"
    );
    for line in &shrunk.account {
        header += &format!("# {line}\n");
    }
    let written = format!("{header}\n{}", shrunk.text);
    if let Some(parent) = out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(error) = std::fs::write(&out, &written) {
        return bad_input(&format!("{out_label}: cannot write: {error}"));
    }
    for line in &shrunk.account {
        println!("  {line}");
    }
    // The file as written must fail the same way.
    let check = scenario::read(&out).map_err(|e| e.to_string()).and_then(|(label, text)| {
        registry.run(&label, &text, seed, &RunOptions::default()).map_err(|e| e.to_string())
    });
    match check {
        Ok(report) => {
            let result = SeedResult::from_report(&out_label, &report, 0.0);
            if !result.passed && result.bucket.as_deref() == Some(bucket.as_str()) {
                println!(
                    "written {out_label}; it fails the same way: {program} run {out_label} --seed {seed}"
                );
                ExitStatus::Passed
            } else {
                eprintln!(
                    "error: {out_label} does not fail the same way when run ({:?}); please report this",
                    result.bucket
                );
                ExitStatus::Failed
            }
        }
        Err(error) => bad_input(&format!("{out_label}: {error}")),
    }
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
    fn of(doc: &Table, faults: usize) -> Shape {
        let workload = |key: &str| {
            doc.get("workload")
                .and_then(|w| w.get(key))
                .map_or("default".to_owned(), |v| v.to_string().trim_matches('"').to_owned())
        };
        let top =
            |key: &str| doc.get(key).map_or("-".to_owned(), |v| v.to_string().trim_matches('"').to_owned());
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
