//! `simctl check-history`: histories from files, checked for linearizability.

use std::path::PathBuf;

use sim::scenario;

use crate::exit::{bad_input, ExitStatus};

pub fn check_history(
    files: &[PathBuf],
    model: &str,
    init: Option<&str>,
    format: Option<&str>,
    budget: &str,
    max_states: usize,
    json: bool,
) -> ExitStatus {
    use sim::check::import::{self, Format};
    use sim::check::{check_named, Budget, ModelName, Verdict};
    let Some(model) = ModelName::parse(model) else {
        let known: Vec<&str> = ModelName::ALL.iter().map(|m| m.name()).collect();
        return bad_input(&format!("unknown model {model:?}; expected one of: {}", known.join(", ")));
    };
    let init = match init.map(import::parse_value).transpose() {
        Ok(init) => init.unwrap_or(sim::kernel::history::Value::Nil),
        Err(error) => return bad_input(&format!("--init: {error}")),
    };
    let forced = match format.map(|f| Format::parse(f).ok_or(f)).transpose() {
        Ok(forced) => forced,
        Err(name) => {
            return bad_input(&format!(
                "unknown format {name:?}; expected jsonl, jepsen-log, edn or edn-lines"
            ))
        }
    };
    let limit = match scenario::duration::parse(budget) {
        Ok(limit) => limit,
        Err(error) => return bad_input(&format!("--budget: {error}")),
    };
    let (mut bad, mut refuted, mut unknown) = (false, false, false);
    for path in files {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                bad = true;
                eprintln!("error: {file}: cannot read: {error}");
                continue;
            }
        };
        let Some(format) = forced.or_else(|| Format::detect(&text)) else {
            bad = true;
            eprintln!("error: {file}: cannot tell the format; give --format");
            continue;
        };
        let ops = match import::import(&text, format) {
            Ok(ops) => ops,
            Err(error) => {
                bad = true;
                match error.line {
                    Some(line) => eprintln!("error: {file}:{line}: {}", error.message),
                    None => eprintln!("error: {file}: {}", error.message),
                }
                continue;
            }
        };
        let started = std::time::Instant::now();
        let past_deadline = || started.elapsed() >= limit;
        let budget =
            Budget { max_steps: None, max_states: Some(max_states), should_stop: Some(&past_deadline) };
        let outcome = match check_named(model, &init, format.nil_reads_match_anything(), &ops, &budget) {
            Ok(outcome) => outcome,
            Err(error) => {
                bad = true;
                eprintln!("error: {file}: {error}");
                continue;
            }
        };
        let check_ms = started.elapsed().as_secs_f64() * 1e3;
        let (verdict, detail) = match &outcome.verdict {
            Verdict::Linearizable => ("linearizable", None),
            Verdict::NotLinearizable(witness) => {
                refuted = true;
                ("not-linearizable", Some(witness.to_string()))
            }
            Verdict::Unknown(reason) => {
                unknown = true;
                ("unknown", Some(reason.clone()))
            }
        };
        if json {
            let mut object = serde_json::json!({
                "file": file,
                "verdict": verdict,
                "ops": ops.len(),
                "check_ms": check_ms,
                "model": model.name(),
                "format": format.name(),
                "partitions": outcome.partitions,
                "steps": outcome.steps,
                "states": outcome.states,
            });
            match &outcome.verdict {
                Verdict::NotLinearizable(witness) => {
                    object["witness"] = serde_json::json!({
                        "prefix": witness.prefix.iter().map(|op| op.to_string()).collect::<Vec<_>>(),
                        "states": witness.states,
                        "stuck": witness.stuck.to_string(),
                        "concurrent": witness.concurrent.iter().map(|op| op.to_string()).collect::<Vec<_>>(),
                    });
                }
                Verdict::Unknown(reason) => object["reason"] = reason.as_str().into(),
                Verdict::Linearizable => {}
            }
            println!("{object}");
        } else {
            println!(
                "{file}: {verdict} ({} operations, {} partitions, {} search steps, {check_ms:.1} ms, {} model, {} format)",
                ops.len(),
                outcome.partitions,
                outcome.steps,
                model.name(),
                format.name()
            );
            if let Some(detail) = detail {
                println!("{}", detail.trim_end());
            }
        }
    }
    if bad {
        ExitStatus::BadInput
    } else if refuted {
        ExitStatus::Failed
    } else if unknown {
        ExitStatus::Inconclusive
    } else {
        ExitStatus::Passed
    }
}
