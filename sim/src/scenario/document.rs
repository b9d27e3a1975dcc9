//! A scenario as its author wrote it, with typed edits: what the shrinker changes.
//!
//! The shrinker's result is the author's file with a few settings lowered and its faults
//! pinned, every table it did not touch (the system's `[settings]`, the network, the checks)
//! as written. So it edits the document, not the parsed [`Scenario`](super::Scenario)
//! (which would need every system's settings written back), through the typed accessors
//! here: the keys it knows are spelled once, beside the parser that reads them.

use std::time::Duration;

use toml::{Table, Value};

use super::faults::FaultSpec;
use super::text::{duration, Rate};

/// A scenario's tables, and, once its faults are pinned, the fault list that replaces its
/// `[[faults]]` and `[swarm]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    tables: Table,
    pinned: Option<Vec<FaultSpec>>,
}

/// A whole-number `[workload]` setting the shrinker lowers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// `clients`.
    Clients,
    /// `keys`.
    Keys,
}

impl Count {
    fn key(self) -> &'static str {
        match self {
            Count::Clients => "clients",
            Count::Keys => "keys",
        }
    }
}

impl Document {
    /// The document of scenario `text` (named `file` in the error): TOML syntax only; the
    /// scenario's own rules are checked when it is run.
    ///
    /// # Errors
    /// The text is not TOML.
    pub fn parse(file: &str, text: &str) -> Result<Document, String> {
        let tables = text.parse().map_err(|e| format!("{file}: {e}"))?;
        Ok(Document { tables, pinned: None })
    }

    /// The scenario text, with the pinned faults in place of `[[faults]]` and `[swarm]`.
    pub fn text(&self) -> String {
        let mut tables = self.tables.clone();
        if let Some(faults) = &self.pinned {
            tables.remove("swarm");
            tables.remove("faults");
            if !faults.is_empty() {
                let list = faults.iter().map(|f| Value::Table(f.to_toml())).collect();
                tables.insert("faults".into(), Value::Array(list));
            }
        }
        toml::to_string(&tables).expect("scenario tables serialize")
    }

    /// `name`, if it is set.
    pub fn name(&self) -> Option<&str> {
        self.tables.get("name").and_then(Value::as_str)
    }

    /// Sets `name`.
    pub fn set_name(&mut self, name: &str) {
        self.tables.insert("name".into(), name.into());
    }

    /// `nodes` (the servers), if it is set.
    pub fn nodes(&self) -> Option<u32> {
        self.tables.get("nodes").and_then(Value::as_integer).and_then(|n| u32::try_from(n).ok())
    }

    /// Sets `nodes`.
    pub fn set_nodes(&mut self, nodes: u32) {
        self.tables.insert("nodes".into(), i64::from(nodes).into());
    }

    /// `duration`, if it is set and well formed.
    pub fn duration(&self) -> Option<Duration> {
        self.tables.get("duration").and_then(Value::as_str).and_then(|t| duration::parse(t).ok())
    }

    /// Sets `duration`.
    pub fn set_duration(&mut self, length: Duration) {
        self.tables.insert("duration".into(), duration::format(length).into());
    }

    fn workload(&self, key: &str) -> Option<&Value> {
        self.tables.get("workload").and_then(|w| w.get(key))
    }

    /// Sets `[workload] key`; false if the scenario has no `[workload]`.
    fn set_workload(&mut self, key: &str, value: Value) -> bool {
        self.tables
            .get_mut("workload")
            .and_then(Value::as_table_mut)
            .map(|w| w.insert(key.into(), value))
            .is_some()
    }

    /// A whole-number workload setting, if it is set.
    pub fn count(&self, count: Count) -> Option<u64> {
        self.workload(count.key()).and_then(Value::as_integer).and_then(|n| u64::try_from(n).ok())
    }

    /// Sets a whole-number workload setting; false if the scenario has no `[workload]`.
    pub fn set_count(&mut self, count: Count, value: u64) -> bool {
        self.set_workload(count.key(), i64::try_from(value).unwrap_or(i64::MAX).into())
    }

    /// `[workload] rate`, if it is one rate (not a range to draw from).
    pub fn rate(&self) -> Option<Rate> {
        self.workload("rate").and_then(Value::as_str).and_then(|t| Rate::parse(t).ok())
    }

    /// Sets `[workload] rate`; false if the scenario has no `[workload]`.
    pub fn set_rate(&mut self, rate: Rate) -> bool {
        self.set_workload("rate", rate.to_string().into())
    }

    /// The pinned faults, if the faults are pinned (empty if none are left).
    pub fn pinned(&self) -> Option<&[FaultSpec]> {
        self.pinned.as_deref()
    }

    /// The pinned faults, pinning an empty list if none were.
    pub fn pinned_mut(&mut self) -> &mut Vec<FaultSpec> {
        self.pinned.get_or_insert_with(Vec::new)
    }

    /// Pins the faults: `faults` replaces `[[faults]]` and `[swarm]`.
    pub fn pin(&mut self, faults: Vec<FaultSpec>) {
        self.pinned = Some(faults);
    }

    /// How many `[[faults]]` entries are written (not pinned).
    pub fn written_faults(&self) -> usize {
        self.tables.get("faults").and_then(Value::as_array).map_or(0, Vec::len)
    }

    /// A setting as written, for an account of what changed: `[workload] key` for
    /// `section = Some("workload")`, a top-level key otherwise; `None` if it is not set.
    pub fn written(&self, section: Option<&str>, key: &str) -> Option<String> {
        let value = match section {
            Some(section) => self.tables.get(section).and_then(|s| s.get(key)),
            None => self.tables.get(key),
        };
        value.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
name = "p"
system = "pingpong"
nodes = 5
duration = "30s"

[settings]
window = 2

[workload]
clients = 4
rate = "100/s"

[swarm]
partition = { every = "5s" }
"#;

    #[test]
    fn edits_keep_what_they_do_not_touch_and_pinned_faults_replace_the_written_ones() {
        let mut doc = Document::parse("p.toml", TEXT).unwrap();
        assert_eq!((doc.nodes(), doc.duration()), (Some(5), Some(Duration::from_secs(30))));
        assert_eq!((doc.count(Count::Clients), doc.count(Count::Keys)), (Some(4), None));
        assert_eq!(doc.rate().map(|r| r.per_second), Some(100.0));
        doc.set_nodes(3);
        doc.set_duration(Duration::from_secs(12));
        assert!(doc.set_count(Count::Keys, 2));
        assert!(doc.set_rate(Rate { per_second: 12.5 }));
        doc.pin(Vec::new());
        let edited = Document::parse("p.toml", &doc.text()).unwrap();
        assert_eq!(edited.nodes(), Some(3));
        assert_eq!(edited.duration(), Some(Duration::from_secs(12)));
        assert_eq!(edited.count(Count::Keys), Some(2));
        assert_eq!(edited.rate().map(|r| r.per_second), Some(12.5));
        assert_eq!(edited.written(None, "swarm"), None, "pinned faults replace the swarm");
        assert_eq!(edited.written(Some("settings"), "window").as_deref(), Some("2"));
        assert_eq!(edited.name(), Some("p"));
    }

    #[test]
    fn a_scenario_without_a_workload_takes_no_workload_edits() {
        let mut doc = Document::parse("p.toml", "name = \"p\"\nnodes = 2\n").unwrap();
        assert!(!doc.set_count(Count::Clients, 1));
        assert!(!doc.set_rate(Rate { per_second: 1.0 }));
        assert_eq!(doc.count(Count::Clients), None);
        assert!(Document::parse("bad.toml", "nodes = ").unwrap_err().starts_with("bad.toml: "));
    }
}
