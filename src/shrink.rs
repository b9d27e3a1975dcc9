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
use std::process::ExitCode;
use std::time::Duration;

use protocols::registry;
use sim::harness::run::RunOptions;
use sim::kernel::fault::FaultKind;
use sim::scenario::{self, duration, Rate};
use toml::{Table, Value};

use crate::sweep::SeedResult;
use crate::{bad_input, FAILED};

/// The kinds whose start and end the shrinker joins into one entry (crash and restart,
/// pause and resume, partition and heal): `(start, end, *_after key)`. A network change's
/// restore is a network change itself, so it is left as two entries.
fn pairs() -> impl Iterator<Item = (FaultKind, FaultKind, &'static str)> {
    FaultKind::ALL.into_iter().filter_map(|start| {
        let (after, end) = start.follow_up()?;
        (end != start).then_some((start, end, after))
    })
}

/// Whether an entry of this kind ends an earlier fault's effect.
fn is_ending(kind: &str) -> bool {
    pairs().any(|(_, end, _)| end.name() == kind)
}

struct Shrinker {
    file: String,
    seed: u64,
    bucket: String,
    runs: usize,
    max_runs: usize,
}

impl Shrinker {
    /// Whether the candidate fails in the same bucket (an invalid candidate does not).
    fn fails(&mut self, candidate: &Table) -> bool {
        if self.runs >= self.max_runs {
            return false;
        }
        self.runs += 1;
        let text = toml::to_string(candidate).expect("scenario tables serialize");
        match registry::run(&self.file, &text, self.seed, &RunOptions::default()) {
            Ok(report) => {
                let result = SeedResult::from_report(&self.file, &report, 0.0);
                !result.passed && result.bucket.as_deref() == Some(self.bucket.as_str())
            }
            Err(_) => false,
        }
    }

    /// Tries `change` on a copy of `doc`; keeps it if the run still fails the same way.
    fn attempt(&mut self, doc: &mut Table, change: impl FnOnce(&mut Table) -> bool) -> bool {
        let mut candidate = doc.clone();
        if !change(&mut candidate) || !self.fails(&candidate) {
            return false;
        }
        *doc = candidate;
        true
    }
}

fn faults(doc: &Table) -> Vec<Value> {
    doc.get("faults").and_then(Value::as_array).cloned().unwrap_or_default()
}

fn set_faults(doc: &mut Table, faults: Vec<Value>) {
    if faults.is_empty() {
        doc.remove("faults");
    } else {
        doc.insert("faults".into(), Value::Array(faults));
    }
}

fn at(fault: &Value) -> Duration {
    fault.get("at").and_then(Value::as_str).and_then(|t| duration::parse(t).ok()).unwrap_or_default()
}

fn run_length(doc: &Table) -> Duration {
    doc.get("duration").and_then(Value::as_str).and_then(|t| duration::parse(t).ok()).unwrap_or_default()
}

/// One line for a fault: `4s partition { groups = [[3], [0, 1, 2, 4]] }`.
fn describe(fault: &Value) -> String {
    let Some(table) = fault.as_table() else { return fault.to_string() };
    let what: Vec<String> =
        table.iter().filter(|(k, _)| *k != "at").map(|(k, v)| format!("{k} = {v}")).collect();
    format!("{} {}", duration::format(at(fault)), what.join(", "))
}

/// Start and end faults of the realized timeline joined back into one fault each, as a
/// person writes them: a crash of server N and the next restart of N become
/// `crash = N, restart_after = ...`; a partition and the next heal, `heal_after`; a pause
/// and its resume, `resume_after`. Dropping then removes both halves at once, and shortening
/// shortens the `*_after` duration.
fn paired(list: &[Value]) -> Vec<Value> {
    let mut used = vec![false; list.len()];
    let mut out = Vec::new();
    for (i, fault) in list.iter().enumerate() {
        if used[i] {
            continue;
        }
        let mut fault = fault.clone();
        if let Some(table) = fault.as_table_mut() {
            for (start, end, after) in pairs() {
                let Some(target) = table.get(start.name()).cloned() else { continue };
                let matches = |other: &Value| match other.get(end.name()) {
                    // A heal ends every partition; a restart or resume ends its own server's.
                    Some(value) => start == FaultKind::Partition || *value == target,
                    None => false,
                };
                let ending = (i + 1..list.len()).find(|&j| !used[j] && matches(&list[j]));
                if let Some(j) = ending {
                    used[j] = true;
                    let length = at(&list[j]).saturating_sub(at(&list[i]));
                    table.insert(after.into(), duration::format(length).into());
                }
            }
        }
        used[i] = true;
        out.push(fault);
    }
    out
}

/// The faults of a run with one server fewer: faults of the last server are dropped and it is
/// taken out of partition groups; a partition left with one group is dropped.
fn without_server(list: &[Value], server: i64) -> Vec<Value> {
    let mut out = Vec::new();
    for fault in list {
        let Some(table) = fault.as_table() else { continue };
        let targets_it = ["crash", "restart", "pause", "resume"]
            .iter()
            .any(|k| table.get(*k) == Some(&Value::Integer(server)));
        if targets_it {
            continue;
        }
        let mut fault = fault.clone();
        if let Some(groups) =
            fault.get_mut("partition").and_then(|p| p.get_mut("groups")).and_then(Value::as_array_mut)
        {
            for group in groups.iter_mut() {
                if let Some(members) = group.as_array_mut() {
                    members.retain(|m| *m != Value::Integer(server));
                }
            }
            groups.retain(|g| g.as_array().is_some_and(|m| !m.is_empty()));
            if groups.len() < 2 {
                continue;
            }
        }
        out.push(fault);
    }
    out
}

/// Delta debugging over the fault list: drop chunks of it while the run fails.
fn drop_faults(shrinker: &mut Shrinker, doc: &mut Table) {
    let mut chunks = 2;
    loop {
        let list = faults(doc);
        if list.is_empty() {
            return;
        }
        let size = list.len().div_ceil(chunks);
        let mut removed = false;
        for start in (0..list.len()).step_by(size.max(1)) {
            let kept: Vec<Value> = list
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < start || *i >= start + size)
                .map(|(_, f)| f.clone())
                .collect();
            if shrinker.attempt(doc, |c| {
                set_faults(c, kept);
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
fn shorten(shrinker: &mut Shrinker, doc: &mut Table) -> usize {
    let mut moves = 0;
    for index in 0..faults(doc).len() {
        for key in ["restart_after", "resume_after", "heal_after", "restore_after"] {
            loop {
                let list = faults(doc);
                let Some(length) =
                    list[index].get(key).and_then(Value::as_str).and_then(|t| duration::parse(t).ok())
                else {
                    break;
                };
                if length < Duration::from_millis(2) {
                    break;
                }
                let halved = duration::format(length / 2);
                let kept = shrinker.attempt(doc, |c| {
                    let mut list = faults(c);
                    let changed =
                        list[index].as_table_mut().map(|t| t.insert(key.into(), halved.into())).is_some();
                    set_faults(c, list);
                    changed
                });
                if !kept {
                    break;
                }
                moves += 1;
            }
        }
        loop {
            let list = faults(doc);
            let fault = &list[index];
            let now = at(fault);
            let ending = fault.as_table().is_some_and(|t| t.keys().any(|k| is_ending(k)));
            let target = if ending {
                let previous = if index == 0 { Duration::ZERO } else { at(&list[index - 1]) };
                previous + (now - previous) / 2
            } else {
                let next = list.get(index + 1).map_or(run_length(doc), at);
                now + next.saturating_sub(now) / 2
            };
            let step = target.abs_diff(now);
            if step < Duration::from_millis(1) {
                break;
            }
            let moved = shrinker.attempt(doc, |c| {
                let mut list = faults(c);
                list[index]
                    .as_table_mut()
                    .map(|t| t.insert("at".into(), Value::String(duration::format(target))))
                    .is_some()
                    && {
                        set_faults(c, list);
                        true
                    }
            });
            if !moved {
                break;
            }
            moves += 1;
        }
    }
    moves
}

/// Lowers a whole-number workload setting (clients, keys) while the run fails.
fn lower_count(shrinker: &mut Shrinker, doc: &mut Table, key: &str, floor: i64) {
    loop {
        let Some(current) = doc.get("workload").and_then(|w| w.get(key)).and_then(Value::as_integer) else {
            return;
        };
        let candidates = [(current / 2).max(floor), current - 1];
        let lowered = candidates.iter().filter(|&&v| v >= floor && v < current).any(|&value| {
            shrinker.attempt(doc, |c| {
                c.get_mut("workload")
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

fn lower_rate(shrinker: &mut Shrinker, doc: &mut Table) {
    while let Some(rate) = doc.get("workload").and_then(|w| w.get("rate")).and_then(Value::as_str) {
        let Ok(rate) = Rate::parse(rate) else { return };
        let half = rate.per_second / 2.0;
        if half < 0.5 {
            return;
        }
        let text = format!("{}/s", (half * 100.0).round() / 100.0);
        if !shrinker.attempt(doc, |c| {
            c.get_mut("workload")
                .and_then(Value::as_table_mut)
                .map(|w| w.insert("rate".into(), text.into()))
                .is_some()
        }) {
            return;
        }
    }
}

fn shorter_run(shrinker: &mut Shrinker, doc: &mut Table) {
    loop {
        let length = run_length(doc);
        let last_fault = faults(doc).iter().map(at).max().unwrap_or_default();
        let target = last_fault + (length.saturating_sub(last_fault)) / 2;
        if length.saturating_sub(target) < Duration::from_millis(100) {
            return;
        }
        if !shrinker.attempt(doc, |c| {
            c.insert("duration".into(), duration::format(target).into());
            true
        }) {
            return;
        }
    }
}

fn fewer_nodes(shrinker: &mut Shrinker, doc: &mut Table) {
    while let Some(nodes) = doc.get("nodes").and_then(Value::as_integer).filter(|n| *n > 1) {
        if !shrinker.attempt(doc, |c| {
            c.insert("nodes".into(), (nodes - 1).into());
            let list = without_server(&faults(c), nodes - 1);
            set_faults(c, list);
            true
        }) {
            return;
        }
    }
}

/// `simctl shrink`.
pub fn shrink(path: &Path, seed: u64, out: Option<&Path>, max_runs: usize) -> ExitCode {
    let (file, text) = match scenario::read(path) {
        Ok(read) => read,
        Err(error) => return bad_input(&error),
    };
    let report = match registry::run(&file, &text, seed, &RunOptions::default()) {
        Ok(report) => report,
        Err(error) => return bad_input(&error),
    };
    let original = SeedResult::from_report(&file, &report, 0.0);
    let Some(bucket) = original.bucket.clone().filter(|_| !original.passed) else {
        return bad_input(&format!("{file} seed {seed} passes: there is no failure to shrink"));
    };
    let mut doc: Table = match text.parse() {
        Ok(doc) => doc,
        Err(error) => return bad_input(&format!("{file}: {error}")),
    };
    let mut shrinker = Shrinker { file: file.clone(), seed, bucket: bucket.clone(), runs: 0, max_runs };
    println!("shrinking {file} seed {seed}, which fails: {bucket}");

    // Pin the faults: the realized timeline instead of [swarm] and role or random targets.
    let realized: Table = report.faults_toml.parse().unwrap_or_default();
    let realized = realized.get("faults").and_then(Value::as_array).cloned().unwrap_or_default();
    let before = Shape::of(&doc, realized.len());
    let mut pinned = doc.clone();
    pinned.remove("swarm");
    set_faults(&mut pinned, realized.clone());
    let faults_pinned = shrinker.fails(&pinned);
    if faults_pinned {
        doc = pinned;
        let pairs = paired(&realized);
        if pairs.len() < realized.len() {
            shrinker.attempt(&mut doc, |c| {
                set_faults(c, pairs);
                true
            });
        }
    } else {
        println!(
            "  the realized fault timeline does not fail the same way on its own; faults are left as written"
        );
    }

    let mut moves = 0;
    for _round in 0..3 {
        let start = doc.clone();
        if faults_pinned {
            drop_faults(&mut shrinker, &mut doc);
            moves += shorten(&mut shrinker, &mut doc);
        }
        lower_count(&mut shrinker, &mut doc, "clients", 1);
        lower_rate(&mut shrinker, &mut doc);
        lower_count(&mut shrinker, &mut doc, "keys", 1);
        shorter_run(&mut shrinker, &mut doc);
        fewer_nodes(&mut shrinker, &mut doc);
        if doc == start {
            break;
        }
    }

    let name = doc.get("name").and_then(Value::as_str).unwrap_or("scenario").to_owned();
    let out = out.map_or_else(
        || PathBuf::from("reports").join(&name).join(seed.to_string()).join("shrunk.toml"),
        Path::to_path_buf,
    );
    doc.insert("name".into(), format!("{name}-shrunk").into());
    let kept = faults(&doc);
    let original: Vec<String> =
        if faults_pinned { paired(&realized).iter().map(describe).collect() } else { Vec::new() };
    let after = Shape::of(&doc, kept.len());
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
    let out_label = out.display().to_string();
    let mut header = format!(
        "# Shrunk by `simctl shrink {file} --seed {seed}`: it fails with\n#   {bucket}\n# Reproduce: simctl run {out_label} --seed {seed}\n#\n"
    );
    for line in &account {
        header += &format!("# {line}\n");
    }
    let body = toml::to_string(&doc).expect("scenario tables serialize");
    let written = format!("{header}\n{body}");
    if let Some(parent) = out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(error) = std::fs::write(&out, &written) {
        return bad_input(&format!("{out_label}: cannot write: {error}"));
    }
    for line in &account {
        println!("  {line}");
    }
    // The file as written must fail the same way.
    let check = scenario::read(&out).map_err(|e| e.to_string()).and_then(|(label, text)| {
        registry::run(&label, &text, seed, &RunOptions::default()).map_err(|e| e.to_string())
    });
    match check {
        Ok(report) => {
            let result = SeedResult::from_report(&out_label, &report, 0.0);
            if !result.passed && result.bucket.as_deref() == Some(bucket.as_str()) {
                println!("written {out_label}; it fails the same way: simctl run {out_label} --seed {seed}");
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "error: {out_label} does not fail the same way when run ({:?}); please report this",
                    result.bucket
                );
                ExitCode::from(FAILED)
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
