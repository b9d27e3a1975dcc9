//! The realized fault timeline, written back out as a `[[faults]]` list (`faults.toml`).

use super::faults::{FaultAction, FaultSpec};
use crate::kernel::fault::FaultRecord;

/// The realized timeline of a run with `servers` servers as typed entries, in schedule
/// order: what the shrinker starts from.
pub fn realized(records: &[FaultRecord], servers: u32) -> Vec<FaultSpec> {
    let mut records: Vec<&FaultRecord> = records.iter().collect();
    records.sort_by_key(|r| r.index);
    records
        .into_iter()
        .map(|record| FaultSpec {
            at: record.time.since_start(),
            action: FaultAction::of(&record.fault, servers),
        })
        .collect()
}

/// The realized timeline as a `[[faults]]` list that replays it (with the swarm off).
/// Skipped faults are kept, as they were asked for, so that every fault keeps its index
/// and its random streams; a comment says why each was skipped.
pub fn realized_toml(records: &[FaultRecord], servers: u32) -> String {
    let mut records: Vec<&FaultRecord> = records.iter().collect();
    records.sort_by_key(|r| r.index);
    let mut out = String::from(
        "# The realized fault timeline of this run, in schedule order. As the [[faults]] of the\n\
         # scenario, with [swarm] removed, it replays the same faults and the same run.\n",
    );
    for record in records {
        let action = FaultAction::of(&record.fault, servers);
        let entry = FaultSpec { at: record.time.since_start(), action };
        out.push('\n');
        out.push_str(&format!("# fault {} at {}: {}\n", record.index, record.time, record.outcome));
        let mut root = toml::Table::new();
        root.insert("faults".into(), toml::Value::Array(vec![toml::Value::Table(entry.to_toml())]));
        out.push_str(&toml::to_string(&root).expect("fault tables serialize"));
    }
    out
}
