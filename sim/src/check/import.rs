//! Reading histories from files, each with its origin's semantics.
//!
//! | format | looks like | `fail` means | `nil` read |
//! |---|---|---|---|
//! | `jsonl` | this project's `history.jsonl` | did not happen | the value nil |
//! | `jepsen-log` | `INFO jepsen.util - 0 :invoke :read nil` (Porcupine's etcd files) | a failed `cas` observed a different value; a `read` failing with `:timed-out` is unknown; any other fail did not happen | the register was never written |
//! | `edn` | one vector or list of op maps (Knossos) | did not happen | matches any value |
//! | `edn-lines` | one op map per line (Porcupine's kv files) | did not happen | the value nil |
//!
//! In every format `info` and an invocation without a completion are unknown: the operation
//! may take effect at any point after its invocation, or never. Real-time order is the order
//! of the events in the file. Entries of the nemesis are not client operations and are
//! skipped.

use std::collections::BTreeMap;
use std::fmt;

use super::edn::{Edn, Reader};
use super::op::{CheckOp, Output};
use crate::kernel::history::{HistoryEvent, OpKind, Value};

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// This project's `history.jsonl`.
    Jsonl,
    /// Jepsen log lines.
    JepsenLog,
    /// One EDN vector or list of operation maps.
    Edn,
    /// One EDN operation map per line.
    EdnLines,
}

impl Format {
    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::JepsenLog => "jepsen-log",
            Format::Edn => "edn",
            Format::EdnLines => "edn-lines",
        }
    }

    /// The format with this name.
    pub fn parse(name: &str) -> Option<Format> {
        [Format::Jsonl, Format::JepsenLog, Format::Edn, Format::EdnLines]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// Guesses the format from the first meaningful line.
    pub fn detect(text: &str) -> Option<Format> {
        let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with(';'))?;
        if first.contains("jepsen.util") {
            Some(Format::JepsenLog)
        } else if first.starts_with('[') || first.starts_with('(') {
            Some(Format::Edn)
        } else if first.starts_with('{') && first.contains("\"type\"") {
            Some(Format::Jsonl)
        } else if first.starts_with('{') && first.contains(":type") {
            Some(Format::EdnLines)
        } else {
            None
        }
    }

    /// Whether a read that returns nil matches any value (Knossos's reading).
    pub fn nil_reads_match_anything(self) -> bool {
        self == Format::Edn
    }
}

/// A malformed history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    /// 1-based line, where there is one.
    pub line: Option<usize>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

fn at<T>(line: usize, message: impl Into<String>) -> Result<T, ImportError> {
    Err(ImportError { line: Some(line), message: message.into() })
}

/// One history event, whatever the format.
struct Event {
    line: usize,
    /// `None` for the nemesis.
    process: Option<u64>,
    kind: OpKind,
    f: String,
    key: Option<Value>,
    value: Value,
    timed_out: bool,
}

/// Reads a history in `format` and pairs its events into operations.
pub fn import(text: &str, format: Format) -> Result<Vec<CheckOp>, ImportError> {
    let events = match format {
        Format::Jsonl => jsonl(text)?,
        Format::JepsenLog => jepsen_log(text)?,
        Format::Edn => {
            let mut reader = Reader::new(text, 1);
            let Some(value) = reader.next_value().map_err(edn_error)? else {
                return at(1, "the file is empty: expected a vector or list of operation maps");
            };
            let line = reader.line();
            if reader.next_value().map_err(edn_error)?.is_some() {
                return at(line, "expected one vector or list of operation maps, found more after it");
            }
            let Edn::Seq(items) = value else { return at(1, "expected a vector or list of operation maps") };
            // Maps carry no line of their own once read; count the lines of the text instead.
            let lines = map_lines(text);
            items
                .iter()
                .enumerate()
                .map(|(i, item)| edn_event(item, *lines.get(i).unwrap_or(&1)))
                .collect::<Result<_, _>>()?
        }
        Format::EdnLines => {
            let mut events = Vec::new();
            for (index, line) in text.lines().enumerate() {
                let mut reader = Reader::new(line, index + 1);
                while let Some(value) = reader.next_value().map_err(edn_error)? {
                    events.push(edn_event(&value, index + 1)?);
                }
            }
            events
        }
    };
    pair(events, format)
}

fn edn_error(error: super::edn::EdnError) -> ImportError {
    ImportError { line: Some(error.line), message: error.message }
}

/// The line each top-level map of an EDN collection starts on.
fn map_lines(text: &str) -> Vec<usize> {
    let (mut depth, mut line, mut starts, mut in_string, mut comment) = (0i32, 1, Vec::new(), false, false);
    let mut escaped = false;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
            comment = false;
            continue;
        }
        if comment {
            continue;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            ';' => comment = true,
            '"' => in_string = true,
            '[' | '(' | '{' => {
                if depth == 1 {
                    starts.push(line);
                }
                depth += 1;
            }
            ']' | ')' | '}' => depth -= 1,
            _ => {}
        }
    }
    starts
}

/// A value written in EDN (`0`, `nil`, `"x"`, `[1 2]`), for `--init`.
pub fn parse_value(text: &str) -> Result<Value, ImportError> {
    let mut reader = Reader::new(text, 1);
    match reader.next_value().map_err(edn_error)? {
        Some(value) if reader.next_value().map_err(edn_error)?.is_none() => Ok(to_value(&value)),
        _ => Err(ImportError { line: None, message: format!("expected one EDN value, got {text:?}") }),
    }
}

fn to_value(edn: &Edn) -> Value {
    match edn {
        Edn::Nil => Value::Nil,
        Edn::Int(i) => Value::Int(*i),
        Edn::Str(s) => Value::Str(s.clone()),
        Edn::Seq(items) => Value::List(items.iter().map(to_value).collect()),
        other => Value::Str(other.to_string()),
    }
}

fn kind_of(name: &str, line: usize) -> Result<OpKind, ImportError> {
    match name {
        "invoke" => Ok(OpKind::Invoke),
        "ok" => Ok(OpKind::Ok),
        "fail" => Ok(OpKind::Fail),
        "info" => Ok(OpKind::Info),
        other => at(line, format!("unknown :type {other:?}: expected invoke, ok, fail or info")),
    }
}

fn edn_event(item: &Edn, line: usize) -> Result<Event, ImportError> {
    if !matches!(item, Edn::Map(_)) {
        return at(line, format!("expected an operation map, found {item}"));
    }
    let process = match item.get("process") {
        Some(Edn::Int(p)) if *p >= 0 => Some(*p as u64),
        Some(Edn::Keyword(k)) if k == "nemesis" => None,
        Some(other) => {
            return at(line, format!(":process must be a non-negative integer or :nemesis, found {other}"))
        }
        None => return at(line, "an operation has no :process"),
    };
    let kind = match item.get("type") {
        Some(Edn::Keyword(k)) => kind_of(k, line)?,
        _ => return at(line, "an operation has no :type keyword"),
    };
    let f = match item.get("f") {
        Some(Edn::Keyword(k)) | Some(Edn::Symbol(k)) | Some(Edn::Str(k)) => k.clone(),
        _ => return at(line, "an operation has no :f"),
    };
    let raw = item.get("value").unwrap_or(&Edn::Nil);
    let timed_out = matches!(raw, Edn::Keyword(k) if k == "timed-out");
    Ok(Event { line, process, kind, f, key: item.get("key").map(to_value), value: to_value(raw), timed_out })
}

fn jsonl(text: &str) -> Result<Vec<Event>, ImportError> {
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: HistoryEvent = serde_json::from_str(line)
            .map_err(|e| ImportError { line: Some(index + 1), message: e.to_string() })?;
        events.push(history_event(event, index + 1));
    }
    Ok(events)
}

fn history_event(event: HistoryEvent, line: usize) -> Event {
    Event {
        line,
        process: Some(event.process),
        kind: event.kind,
        f: event.op.f,
        key: event.op.key,
        value: event.op.value,
        timed_out: false,
    }
}

/// The operations of a run's history (`jsonl` semantics; "line" is the event's position).
pub fn from_history(history: &[HistoryEvent]) -> Result<Vec<CheckOp>, ImportError> {
    let events = history.iter().enumerate().map(|(i, event)| history_event(event.clone(), i + 1)).collect();
    pair(events, Format::Jsonl)
}

fn jepsen_log(text: &str) -> Result<Vec<Event>, ImportError> {
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some((_, rest)) = line.split_once("jepsen.util - ") else {
            return at(
                number,
                "expected a Jepsen log line: INFO jepsen.util - <process> :<type> :<f> <value>",
            );
        };
        let mut fields = rest.split_whitespace();
        let (Some(process), Some(kind), Some(f)) = (fields.next(), fields.next(), fields.next()) else {
            return at(number, "expected <process> :<type> :<f> <value>");
        };
        let value_text: String = fields.collect::<Vec<_>>().join(" ");
        let value = Reader::new(&value_text, number).next_value().map_err(edn_error)?.unwrap_or(Edn::Nil);
        let process = match process.parse::<u64>() {
            Ok(p) => Some(p),
            Err(_) if process == ":nemesis" => None,
            Err(_) => return at(number, format!("process {process:?} is not a number")),
        };
        let (Some(kind), Some(f)) = (kind.strip_prefix(':'), f.strip_prefix(':')) else {
            return at(number, "type and f must be keywords, like :invoke :read");
        };
        events.push(Event {
            line: number,
            process,
            kind: kind_of(kind, number)?,
            f: f.to_owned(),
            key: None,
            timed_out: matches!(value, Edn::Keyword(ref k) if k == "timed-out"),
            value: to_value(&value),
        });
    }
    Ok(events)
}

fn is_read(f: &str) -> bool {
    matches!(f, "read" | "get")
}

/// Pairs invocations with completions by process, applying the origin's semantics.
fn pair(events: Vec<Event>, format: Format) -> Result<Vec<CheckOp>, ImportError> {
    let mut open: BTreeMap<u64, (usize, Event)> = BTreeMap::new();
    let mut ops: Vec<Option<CheckOp>> = Vec::new();
    for (time, event) in events.into_iter().enumerate() {
        let time = time as u64;
        let Some(process) = event.process else { continue };
        if event.kind == OpKind::Invoke {
            if let Some((_, previous)) = open.get(&process) {
                return at(
                    event.line,
                    format!(
                        "process {process} invokes again before its invocation on line {} completed",
                        previous.line
                    ),
                );
            }
            let input = if is_read(&event.f) { Value::Nil } else { event.value.clone() };
            ops.push(Some(CheckOp {
                id: ops.len(),
                process,
                call: time,
                ret: u64::MAX,
                f: event.f.clone(),
                key: event.key.clone(),
                input,
                output: Output::Unknown,
            }));
            open.insert(process, (ops.len() - 1, event));
            continue;
        }
        let Some((index, invocation)) = open.remove(&process) else {
            return at(event.line, format!("process {process} completes an operation it never invoked"));
        };
        if invocation.f != event.f {
            return at(
                event.line,
                format!(
                    "process {process} invoked {} on line {} but completes {}",
                    invocation.f, invocation.line, event.f
                ),
            );
        }
        let op = ops[index].as_mut().expect("open operations exist");
        match event.kind {
            OpKind::Ok => {
                op.ret = time;
                op.output = Output::Value(if is_read(&event.f) { event.value } else { Value::Nil });
            }
            OpKind::Info => {}
            OpKind::Fail if format == Format::JepsenLog && event.f == "cas" => {
                op.ret = time;
                op.output = Output::Failed;
            }
            OpKind::Fail if format == Format::JepsenLog && event.timed_out => {}
            OpKind::Fail => ops[index] = None,
            OpKind::Invoke => unreachable!("handled above"),
        }
    }
    let mut ops: Vec<CheckOp> = ops.into_iter().flatten().collect();
    for (id, op) in ops.iter_mut().enumerate() {
        op.id = id;
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(Format::detect("INFO  jepsen.util - 0\t:invoke\t:read\tnil"), Some(Format::JepsenLog));
        assert_eq!(Format::detect("; knossos\n[{:process 0}]"), Some(Format::Edn));
        assert_eq!(Format::detect("{:process 0, :type :invoke}"), Some(Format::EdnLines));
        assert_eq!(Format::detect("{\"time\":0,\"type\":\"invoke\"}"), Some(Format::Jsonl));
        assert_eq!(Format::detect("hello"), None);
    }

    #[test]
    fn jepsen_log_semantics() {
        let log = "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n\
                   INFO  jepsen.util - 1\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 0\t:fail\t:cas\t[1 2]\n\
                   INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n\
                   INFO  jepsen.util - 2\t:invoke\t:write\t3\n\
                   INFO  jepsen.util - 2\t:fail\t:write\t3\n\
                   INFO  jepsen.util - 3\t:invoke\t:write\t4\n\
                   INFO  jepsen.util - 3\t:info\t:write\t:timed-out\n";
        let ops = import(log, Format::JepsenLog).unwrap();
        assert_eq!(ops.len(), 3, "the failed write did not happen");
        assert_eq!(
            (ops[0].output.clone(), ops[0].ret),
            (Output::Failed, 2),
            "a failed cas is an observation"
        );
        assert_eq!(
            (ops[1].output.clone(), ops[1].ret),
            (Output::Unknown, u64::MAX),
            "a timed-out read is unknown"
        );
        assert_eq!((ops[2].input.clone(), ops[2].output.clone()), (Value::Int(4), Output::Unknown));
    }

    #[test]
    fn knossos_semantics_and_lines() {
        let edn = "[{:process 0, :type :invoke, :f :write, :value 1}\n\
                    {:process :nemesis, :type :info, :f :start, :value nil}\n\
                    {:process 0, :type :fail, :f :write, :value 1}\n\
                    {:process 1, :type :invoke, :f :read, :value nil}]";
        let ops = import(edn, Format::Edn).unwrap();
        assert_eq!(ops.len(), 1, "fail dropped, nemesis skipped");
        assert_eq!(ops[0].output, Output::Unknown, "never completed");
        let bad = "[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0, :type :ok, :f :read, :value 1}]";
        assert_eq!(import(bad, Format::Edn).unwrap_err().line, Some(2));
        let orphan = "{:process 0, :type :invoke, :f :get, :key \"a\", :value nil}\n{:process 1, :type :ok, :f :get, :key \"a\", :value \"x\"}";
        let error = import(orphan, Format::EdnLines).unwrap_err();
        assert_eq!(error.to_string(), "line 2: process 1 completes an operation it never invoked");
    }
}
