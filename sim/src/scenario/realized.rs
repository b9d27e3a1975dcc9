//! The realized fault timeline, written back out as a `[[faults]]` list (`faults.toml`).

use super::faults::TargetSpec;
use super::network::link_model_toml;
use super::text::{duration, format_signed};
use crate::kernel::fault::{Fault, FaultRecord};
use crate::kernel::ids::NodeId;
use crate::kernel::partition::Partition;

/// The realized timeline as a `[[faults]]` list that replays it (with the swarm off).
/// Skipped faults are kept, as they were asked for, so that every fault keeps its index
/// and its random streams; a comment says why each was skipped.
pub fn realized_toml(records: &[FaultRecord]) -> String {
    let mut records: Vec<&FaultRecord> = records.iter().collect();
    records.sort_by_key(|r| r.index);
    let mut out = String::from(
        "# The realized fault timeline of this run, in schedule order. As the [[faults]] of the\n\
         # scenario, with [swarm] removed, it replays the same faults and the same run.\n",
    );
    for record in records {
        let mut entry = toml::Table::new();
        entry.insert("at".into(), duration::format(record.time.since_start()).into());
        entry.insert(record.fault.kind().name().into(), fault_toml(&record.fault));
        out.push('\n');
        out.push_str(&format!("# fault {} at {}: {}\n", record.index, record.time, record.outcome));
        let mut root = toml::Table::new();
        root.insert("faults".into(), toml::Value::Array(vec![toml::Value::Table(entry)]));
        out.push_str(&toml::to_string(&root).expect("fault tables serialize"));
    }
    out
}

/// The value under the entry's kind key.
fn fault_toml(fault: &Fault) -> toml::Value {
    let ids = |nodes: &[NodeId]| {
        toml::Value::Array(nodes.iter().map(|n| toml::Value::Integer(i64::from(n.0))).collect())
    };
    let table = |pairs: Vec<(&str, toml::Value)>| {
        toml::Value::Table(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let target = TargetSpec::to_toml;
    match fault {
        Fault::Partition(partition) => {
            let value = match partition {
                Partition::Groups(groups) => {
                    table(vec![("groups", toml::Value::Array(groups.iter().map(|g| ids(g)).collect()))])
                }
                Partition::OneWay { from, to } => {
                    table(vec![("one_way", table(vec![("from", ids(from)), ("to", ids(to))]))])
                }
                Partition::Cuts(cuts) => {
                    let pairs = cuts.iter().map(|(a, b)| ids(&[*a, *b])).collect();
                    table(vec![("cuts", toml::Value::Array(pairs))])
                }
                Partition::Classes(groups) => {
                    let group =
                        |g: &Vec<u16>| toml::Value::Array(g.iter().map(|c| i64::from(*c).into()).collect());
                    table(vec![("classes", toml::Value::Array(groups.iter().map(group).collect()))])
                }
                Partition::Isolate { node: Some(node), .. } => {
                    table(vec![("isolate", i64::from(node.0).into())])
                }
                Partition::Isolate { node: None, .. } => "isolate".into(),
                Partition::MajorityMinority { .. } => "majority-minority".into(),
                Partition::Bridge { .. } => "bridge".into(),
                Partition::MajoritiesRing { .. } => "majorities-ring".into(),
            };
            value
        }
        Fault::Isolate { node, .. } => table(vec![("isolate", target(node))]),
        Fault::Heal => true.into(),
        Fault::Crash(t) => target(t),
        Fault::Restart(t) => target(t),
        Fault::Pause(t) => target(t),
        Fault::Resume(t) => target(t),
        Fault::ClockStep { node, delta_nanos } => {
            table(vec![("node", target(node)), ("step", format_signed(*delta_nanos).into())])
        }
        Fault::ClockDrift { node, ppm } => table(vec![("node", target(node)), ("drift_ppm", (*ppm).into())]),
        Fault::Corrupt { node, file, offset, len } => {
            let corrupt = table(vec![
                ("file", file.as_str().into()),
                ("offset", (*offset as i64).into()),
                ("len", (*len as i64).into()),
            ]);
            table(vec![("node", target(node)), ("corrupt", corrupt)])
        }
        Fault::Disk { node, change } => {
            let mut pairs = vec![("node", target(node))];
            if let Some(latency) = change.fsync_latency {
                pairs.push(("fsync_latency", duration::format(latency).into()));
            }
            if let Some(capacity) = change.capacity {
                pairs.push(("capacity", capacity.map_or_else(|| "unlimited".into(), |c| (c as i64).into())));
            }
            if let Some(torn) = change.torn_writes {
                pairs.push(("torn_writes", torn.into()));
            }
            table(pairs)
        }
        Fault::Network(model) => toml::Value::Table(link_model_toml(model)),
    }
}
