//! Every number a scenario holds, set to its extremes: the run is refused with a clear error
//! (exit 2) or runs to its event budget, never allocating for minutes or panicking. Each
//! value is checked before anything is allocated, so a run that is accepted is bounded by
//! `--max-events` alone; a run still going after `DEADLINE` is a failure (a result that
//! arrives after its deadline), not a race: an accepted run here takes well under a second.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::scratch;

/// Far beyond what any accepted mutation takes (under a second here).
const DEADLINE: Duration = Duration::from_secs(60);

/// Scenarios that between them hold every table of the schema and every system's settings.
const SCENARIOS: &[&str] = &[
    "scenarios/pingpong/swarm.toml",
    "scenarios/pingpong/crash.toml",
    "scenarios/pingpong/disk.toml",
    "scenarios/partition.toml",
    "scenarios/raft/membership.toml",
    "scenarios/kademlia/small.toml",
];

const INTEGERS: &[i64] = &[0, -1, 1, 999_999_999, 4_294_967_296, i64::MAX, i64::MIN];
const FLOATS: &[f64] = &[0.0, -1.0, 1e300, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE];
const DURATIONS: &[&str] = &["0s", "1ns", "100000h"];
const RATES: &[&str] = &["0/s", "1000000000/s", "1/1ns", "1/100000h"];
const RANGES: &[&str] = &["0s..0s", "1ns..100000h", "0..1", "0..1000000000"];

/// Whether a string is a number in words: a duration, a rate or a range.
fn is_numeric(text: &str) -> bool {
    sim::scenario::duration::parse(text).is_ok() || text.contains('/') || text.contains("..")
}

/// Every path to a number (or a duration, rate or range) in a TOML value.
fn numbers(value: &toml::Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        toml::Value::Integer(_) | toml::Value::Float(_) => out.push(path.clone()),
        toml::Value::String(text) if is_numeric(text) => out.push(path.clone()),
        toml::Value::Table(table) => {
            for (key, value) in table {
                path.push(Step::Key(key.clone()));
                numbers(value, path, out);
                path.pop();
            }
        }
        toml::Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                path.push(Step::Index(index));
                numbers(value, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'a>(value: &'a mut toml::Value, path: &[Step]) -> &'a mut toml::Value {
    path.iter().fold(value, |value, step| match step {
        Step::Key(key) => &mut value[key.as_str()],
        Step::Index(index) => &mut value[*index],
    })
}

fn extremes(current: &toml::Value) -> Vec<toml::Value> {
    match current {
        toml::Value::String(text) => {
            let words = if text.contains('/') {
                RATES
            } else if text.contains("..") {
                RANGES
            } else {
                DURATIONS
            };
            words.iter().map(|w| toml::Value::String((*w).into())).collect()
        }
        _ => INTEGERS
            .iter()
            .map(|i| toml::Value::Integer(*i))
            .chain(FLOATS.iter().map(|f| toml::Value::Float(*f)))
            .collect(),
    }
}

/// Runs one mutated scenario; returns what went wrong, if anything.
fn run(file: &Path, out: &Path) -> Option<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(["run", file.to_str().unwrap(), "--seed", "1", "--max-events", "2000", "--out"])
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return Some(format!("still running after {DEADLINE:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    match status.code() {
        Some(2) if stderr.contains(':') && !stderr.contains("panicked") => None,
        Some(0 | 1 | 4) if !stderr.contains("panicked") => None,
        code => Some(format!("exit {code:?}: {stderr}")),
    }
}

#[test]
fn every_number_at_its_extremes_is_refused_or_bounded() {
    let dir = scratch("extremes");
    let mut failures = Vec::new();
    let mut tried = 0;
    for scenario in SCENARIOS {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(scenario)).unwrap();
        let document: toml::Value = toml::from_str(&text).unwrap();
        let mut paths = Vec::new();
        numbers(&document, &mut Vec::new(), &mut paths);
        assert!(!paths.is_empty(), "{scenario} has numbers");
        for path in paths {
            let mut mutated = document.clone();
            for value in extremes(at(&mut mutated, &path)) {
                *at(&mut mutated, &path) = value.clone();
                let file = dir.join(format!("m{tried}.toml"));
                std::fs::write(&file, toml::to_string(&mutated).unwrap()).unwrap();
                if let Some(problem) = run(&file, &dir.join("reports")) {
                    failures.push(format!("{scenario} {path:?} = {value}: {problem}"));
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 300, "only {tried} mutations");
    assert!(
        failures.is_empty(),
        "{} of {tried} mutations misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
