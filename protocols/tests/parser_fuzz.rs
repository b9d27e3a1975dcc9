//! The scenario parser never panics, whatever it is fed: arbitrary text, and random
//! mutations of the shipped scenarios (which reach every table of the schema). A mutated
//! scenario that still validates must also run without a kernel panic.

use proptest::prelude::*;

use crate::common;

use common::seed;
use sim::harness::run::RunOptions;

fn shipped() -> Vec<String> {
    let files = sim::scenario::find_files(std::path::Path::new("../scenarios"));
    files.iter().map(|path| std::fs::read_to_string(path).unwrap()).collect()
}

/// Pieces a mutation may insert: keys, values and punctuation of the schema.
const TOKENS: &[&str] = &[
    "=",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "\n",
    "[[faults]]\n",
    "[swarm]\n",
    "[workload]\n",
    "[checks]\n",
    "[settings]\n",
    "[network]\n",
    "[[network.links]]\n",
    "at = ",
    "crash = ",
    "partition = ",
    "heal = true",
    "\"random\"",
    "\"leader\"",
    "\"majority-minority\"",
    "\"bridge\"",
    "{ fault = 0 }",
    "{ groups = [[0], [1]] }",
    "\"1s\"",
    "\"0s\"",
    "\"-5ms\"",
    "\"1ms..0ms\"",
    "\"1/0s\"",
    "\"200/s\"",
    "0",
    "1",
    "-1",
    "99999999999",
    "1e309",
    "0.5",
    "1.5",
    "nan",
    "inf",
    "true",
    "nodes = ",
    "duration = ",
    "rate = ",
    "concurrency = ",
    "keys = ",
    "clients = ",
    "window = ",
    "restart_after = ",
    "heal_after = ",
    "resume_after = ",
    "clock = ",
    "{ node = 0, step = \"1s\" }",
    "disk = ",
    "{ node = 0, capacity = 0 }",
    "network = ",
    "{ loss = 1.0 }",
    "latency = ",
    "{ dist = \"pareto\", scale = \"0ms\", shape = 0 }",
    "{ dist = \"mixture\", parts = [] }",
    "liveness = ",
    "{ heal_by = \"1s\", within = \"1s\" }",
    "limit = 0",
    "start = ",
    "stop = ",
    "é",
    "\u{0}",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, usize),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Edit::Insert(at, token)),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_owned();
    let boundary = |text: &str, at: usize| {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    for edit in edits {
        match *edit {
            Edit::Delete(at, len) => {
                let start = boundary(&text, at);
                let end = boundary(&text, (start + len).min(text.len()));
                text.replace_range(start..end.max(start), "");
            }
            Edit::Insert(at, token) => {
                let at = boundary(&text, at);
                text.insert_str(at, TOKENS[token]);
            }
            Edit::DuplicateLine(line) => {
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let line = lines[line % lines.len()].to_owned();
                    text = format!("{text}\n{line}\n");
                }
            }
        }
    }
    text
}

/// Values a value mutation may put anywhere in a scenario.
fn candidate(index: usize) -> Option<toml::Value> {
    use toml::Value;
    let values = [
        Value::Integer(0),
        Value::Integer(1),
        Value::Integer(-1),
        Value::Integer(2),
        Value::Integer(7),
        Value::Integer(i64::MAX),
        Value::Float(0.0),
        Value::Float(0.999),
        Value::Float(1.5),
        Value::Float(f64::NAN),
        Value::Boolean(true),
        Value::String("0s".into()),
        Value::String("1ns".into()),
        Value::String("3s".into()),
        Value::String("100000h".into()),
        Value::String("-1s".into()),
        Value::String("1ms..1s".into()),
        Value::String("5/s".into()),
        Value::String("1/1ns".into()),
        Value::String("random".into()),
        Value::String("leader".into()),
        Value::String("bridge".into()),
        Value::String("zipfian".into()),
        Value::String("hot-key".into()),
        Value::String("unlimited".into()),
        Value::String(String::new()),
        Value::Array(Vec::new()),
        Value::Table(toml::Table::new()),
    ];
    values.get(index).cloned()
}

/// Every path to a leaf value, as keys and array indices.
fn leaves(value: &toml::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                path.push(key.clone());
                leaves(value, path, out);
                path.pop();
            }
        }
        toml::Value::Array(items) if !items.is_empty() => {
            for (index, value) in items.iter().enumerate() {
                path.push(index.to_string());
                leaves(value, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

/// Replaces (or, with `None`, removes) the value at `path`.
fn set(value: &mut toml::Value, path: &[String], new: Option<toml::Value>) {
    let (last, parents) = path.split_last().expect("a leaf has a path");
    let mut at = value;
    for key in parents {
        at = match at {
            toml::Value::Table(table) => table.get_mut(key).expect("path exists"),
            toml::Value::Array(items) => &mut items[key.parse::<usize>().expect("an index")],
            _ => unreachable!("parents are containers"),
        };
    }
    match (at, new) {
        (toml::Value::Table(table), Some(new)) => {
            table.insert(last.clone(), new);
        }
        (toml::Value::Table(table), None) => {
            table.remove(last);
        }
        (toml::Value::Array(items), Some(new)) => items[last.parse::<usize>().expect("an index")] = new,
        (toml::Value::Array(items), None) => {
            items.remove(last.parse::<usize>().expect("an index"));
        }
        _ => unreachable!("parents are containers"),
    }
}

fn lookup<'a>(value: &'a toml::Value, path: &[String]) -> &'a toml::Value {
    path.iter().fold(value, |at, key| match at {
        toml::Value::Table(table) => &table[key],
        toml::Value::Array(items) => &items[key.parse::<usize>().expect("an index")],
        _ => unreachable!("parents are containers"),
    })
}

fn validate_and_run(text: &str) -> Result<(), TestCaseError> {
    match protocols::systems().validate("fuzz.toml", text) {
        Err(error) => prop_assert!(error.line.is_some(), "every parse error has a place: {error}"),
        Ok(brief) if brief.nodes <= 20 => {
            let options = RunOptions { max_events: Some(200_000), ..RunOptions::default() };
            let _ = protocols::systems().run("fuzz.toml", text, 1, &options);
        }
        Ok(_) => {}
    }
    Ok(())
}

proptest! {
    // A fixed seed keeps CI reproducible; set PROPTEST_RNG_SEED=random locally to explore.
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: seed(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = protocols::systems().validate("fuzz.toml", &text);
    }

    #[test]
    fn mutated_text_never_panics(pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..6)) {
        let texts = shipped();
        validate_and_run(&apply(&texts[pick % texts.len()], &edits))?;
    }

    #[test]
    fn mutated_values_never_panic(
        pick in any::<usize>(),
        changes in prop::collection::vec((any::<usize>(), 0usize..30, any::<bool>()), 1..4),
    ) {
        let texts = shipped();
        let mut scenario: toml::Value = toml::from_str(&texts[pick % texts.len()]).unwrap();
        for (leaf, value, same_type) in changes {
            let mut paths = Vec::new();
            leaves(&scenario, &mut Vec::new(), &mut paths);
            let path = &paths[leaf % paths.len()];
            let new = if same_type {
                // Half the changes keep the type, so more scenarios validate and run.
                let old = lookup(&scenario, path).type_str();
                let same: Vec<toml::Value> = (0..30).filter_map(candidate).filter(|c| c.type_str() == old).collect();
                same.get(value % same.len().max(1)).cloned().or_else(|| candidate(value))
            } else {
                candidate(value)
            };
            set(&mut scenario, path, new);
        }
        validate_and_run(&toml::to_string(&scenario).unwrap())?;
    }
}
