//! datas3t's checks, from the metadata store's commits, the client history, and the object
//! store's disk at the end.
//!
//! - `datas3t.every_datapoint_once`: after every commit no datapoint is in two ranges, and
//!   at the end every datapoint of every acknowledged upload is in one (unless a delete of
//!   it was asked for after the upload began).
//! - `datas3t.range_ids_consistent`: every commit adds ranges under ids not in use.
//! - `datas3t.downloads_exact`: every download is a TAR a standard reader accepts whose
//!   every byte is some upload's datapoint, and, where the history leaves no doubt, the
//!   latest acknowledged upload's, with no datapoint missing.
//! - `datas3t.no_dangling_rows`: at the end every range's objects exist.
//! - `datas3t.no_orphans` (liveness): at the end, after the faults, the leases and the
//!   deletion worker's longest idle poll, every object belongs to a range, no multipart
//!   upload is left and the deletion queue is empty.
//! - `datas3t.upload_plan_fits`: the object store never refused a planned PUT as too large.
//! - `datas3t.malformed_rejected`: no upload a client sent malformed was acknowledged.
//! - `datas3t.leases_honoured`: the lease sweep aborts no multipart upload before its lease
//!   ran out.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use sim::harness::system::Check;
use sim::kernel::history::Value;
use sim::kernel::observe::Observations;
use sim::kernel::workload::OpRecord;
use sim::report::{Cell, Table};
use sim::{Outcome, Sim, Status, Time};

use super::config::Config;
use super::msg::{Msg, Range};
use super::{s3, Shared};

/// What the stores state for the checks.
#[derive(Clone, Debug)]
pub enum Datas3tFact {
    /// The metadata store started with these ranges.
    Loaded { ranges: Vec<Range> },
    /// A commit added and removed these ranges.
    Committed { added: Vec<Range>, removed: Vec<u64> },
    /// The object store refused a PUT of `size` bytes as too large.
    RefusedPut { key: String, size: u64 },
    /// A client sent upload `op` malformed (`how`: see the client's `malform`).
    Malformed { op: u64, how: u64 },
    /// The server started upload row `data_key` for client operation `op` (an upload or
    /// an aggregate).
    Leased { op: u64, data_key: String },
    /// The lease sweep aborted the multipart upload of `data_key`; `listed`: an upload row
    /// the sweep read names it (else the row is gone: its upload failed or was dropped).
    LeaseAborted { data_key: String, listed: bool },
    /// The deletion queue holds `queued` entries (stated at open and after each commit that
    /// changed it), these keys among them by presigned URL only (the faithful mode's
    /// `ScheduleKeyForDeletion`: no running worker takes them).
    Deletions { queued: u64, by_url: Rc<Vec<String>> },
}

/// Every check of a run.
pub fn all(shared: &Rc<Shared>, sim: &Sim<Msg>) -> Vec<Check> {
    let facts = sim.observations();
    let ops = sim.operations();
    let Replay { overlap, misnumbered, ranges } = replay(facts);
    let config = &shared.config;
    let mut checks = vec![
        every_datapoint_once(overlap, &ranges, ops, config),
        range_ids_consistent(misnumbered),
        downloads_exact(ops, config),
    ];
    if sim.status(shared.object_store) == Status::Up {
        let disk = sim.disk(shared.object_store);
        let objects: BTreeSet<String> = s3::objects(&disk).into_iter().collect();
        let uploads = s3::uploads(&disk, "");
        drop(disk);
        checks.push(no_dangling_rows(&ranges, &objects));
        let config = &shared.config;
        let quiet = sim.fault_log().iter().map(|r| r.time).chain(ops.iter().filter_map(|r| r.invoked)).max();
        let due = quiet.unwrap_or(Time::ZERO) + config.upload_lease * 2 + config.deletion_idle_max;
        let (queued, by_url) = facts
            .facts::<Datas3tFact>()
            .filter_map(|f| match f.what {
                Datas3tFact::Deletions { queued, by_url } => Some((*queued, by_url.clone())),
                _ => None,
            })
            .last()
            .unwrap_or_default();
        checks.push(Check::owed(
            "datas3t.no_orphans",
            due,
            sim.now(),
            "the last fault or operation + the quiet collection needs",
            || no_orphans(&ranges, &objects, &uploads, queued, &by_url),
        ));
    } else {
        for name in ["datas3t.no_dangling_rows", "datas3t.no_orphans"] {
            checks.push(
                Check::unknown(name, "the object store is down at the end: its objects cannot be listed")
                    .of_whole_run(),
            );
        }
    }
    let refused: Vec<String> = facts
        .facts::<Datas3tFact>()
        .filter_map(|f| match f.what {
            Datas3tFact::RefusedPut { key, size } => Some(format!("{key} ({size} bytes) at {}", f.time)),
            _ => None,
        })
        .collect();
    checks.push(Check::from("datas3t.upload_plan_fits", refused.is_empty(), || {
        format!("the object store refused a single PUT as too large: {}", refused[0])
    }));
    checks.push(malformed_rejected(facts, ops));
    checks.push(leases_honoured(facts, ops, config));
    checks
}

/// `datas3t.leases_honoured`: the lease sweep aborts the multipart upload of a row it read
/// only once the row's lease has run out: not before `upload_lease` after its operation was
/// invoked (the row starts later than that, so an upload aborted sooner was live). Uploads
/// no row names any more (failed, dropped) may go at once. A server clock stepped forward
/// fails it too, as it would make the real sweep abort live uploads.
fn leases_honoured(facts: &Observations, ops: &[OpRecord], config: &Config) -> Check {
    let name = "datas3t.leases_honoured";
    let invoked: BTreeMap<u64, Time> = ops.iter().filter_map(|r| Some((r.op.id, r.invoked?))).collect();
    let mut started: BTreeMap<&str, Time> = BTreeMap::new();
    for fact in facts.facts::<Datas3tFact>() {
        match fact.what {
            Datas3tFact::Leased { op, data_key } => {
                if let Some(at) = invoked.get(op) {
                    started.insert(data_key, *at);
                }
            }
            Datas3tFact::LeaseAborted { data_key, listed: true } => {
                let Some(at) = started.get(data_key.as_str()) else { continue };
                if fact.time < *at + config.upload_lease {
                    return Check::fail(
                        name,
                        format!(
                            "the lease sweep aborted the multipart upload of {data_key} at {}, {:?} after its \
                             operation was invoked, before its lease ({:?}) ran out",
                            fact.time,
                            fact.time - *at,
                            config.upload_lease
                        ),
                    );
                }
            }
            _ => {}
        }
    }
    Check::pass(name)
}

/// `datas3t.malformed_rejected`: no upload a client sent malformed was acknowledged.
fn malformed_rejected(facts: &Observations, ops: &[OpRecord]) -> Check {
    let name = "datas3t.malformed_rejected";
    for fact in facts.facts::<Datas3tFact>() {
        let Datas3tFact::Malformed { op, how } = fact.what else { continue };
        let accepted = ops.iter().any(|r| r.op.id == *op && matches!(r.completed, Some((_, Outcome::Ok(_)))));
        if accepted {
            let what = [
                "an index cut short",
                "a header naming another datapoint",
                "an index missing its last entry",
            ];
            return Check::fail(
                name,
                format!("upload #{op} was acknowledged with {}", what[(*how).min(2) as usize]),
            );
        }
    }
    Check::pass(name)
}

/// What replaying the commits found.
struct Replay {
    /// The first overlap seen after a commit.
    overlap: Option<String>,
    /// The first commit that added a range under an id in use.
    misnumbered: Option<String>,
    /// The ranges at the end.
    ranges: BTreeMap<u64, Range>,
}

/// Replays the commits. Ranges are kept ordered by their first datapoint, so a commit checks
/// only the neighbours of what it added (the rest did not change).
fn replay(facts: &Observations) -> Replay {
    let mut ranges: BTreeMap<u64, Range> = BTreeMap::new();
    let mut ordered: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut overlap = None;
    let mut misnumbered = None;
    for fact in facts.facts::<Datas3tFact>() {
        let added = match fact.what {
            Datas3tFact::Loaded { ranges: loaded } => {
                ranges = loaded.iter().map(|r| (r.id, r.clone())).collect();
                ordered = ranges.values().map(|r| ((r.first, r.id), r.last)).collect();
                loaded.as_slice()
            }
            Datas3tFact::Committed { added, removed } => {
                // Removing a row that is gone already is a no-op (an aggregate's source a
                // delete took first, in the real code's SQL too).
                for id in removed {
                    if let Some(r) = ranges.remove(id) {
                        ordered.remove(&(r.first, r.id));
                    }
                }
                for r in added {
                    if let Some(old) = ranges.insert(r.id, r.clone()) {
                        ordered.remove(&(old.first, old.id));
                        misnumbered.get_or_insert_with(|| {
                            format!(
                                "a commit at {} added range #{} while range #{} existed",
                                fact.time, r.id, old.id
                            )
                        });
                    }
                    ordered.insert((r.first, r.id), r.last);
                }
                added.as_slice()
            }
            _ => continue,
        };
        for r in added {
            if overlap.is_some() {
                break;
            }
            let before = ordered.range(..(r.first, r.id)).next_back().filter(|(_, last)| **last >= r.first);
            let after =
                ordered.range((r.first, r.id + 1)..).next().filter(|((first, _), _)| *first <= r.last);
            if let Some(((first, id), last)) = before.or(after) {
                let n = r.first.max(*first);
                overlap = Some(format!(
                    "after a commit at {}, ranges #{id} [{first}..={last}] and #{} [{}..={}] both hold datapoint {n}",
                    fact.time, r.id, r.first, r.last
                ));
            }
        }
    }
    Replay { overlap, misnumbered, ranges }
}

/// `datas3t.range_ids_consistent`: every commit adds ranges under ids not in use (a row that
/// carries another row's id is deleted or aggregated as that row).
fn range_ids_consistent(misnumbered: Option<String>) -> Check {
    let name = "datas3t.range_ids_consistent";
    match misnumbered {
        None => Check::pass(name),
        Some(reason) => Check::fail(name, reason),
    }
}

/// `datas3t.every_datapoint_once`.
fn every_datapoint_once(
    overlap: Option<String>,
    ranges: &BTreeMap<u64, Range>,
    ops: &[OpRecord],
    config: &Config,
) -> Check {
    let name = "datas3t.every_datapoint_once";
    if let Some(overlap) = overlap {
        return Check::fail(name, overlap);
    }
    let deletes = deletes(ops, config);
    let ordered: BTreeMap<u64, u64> = ranges.values().map(|r| (r.first, r.last)).collect();
    let covered = |n: u64| ordered.range(..=n).next_back().is_some_and(|(_, last)| *last >= n);
    for upload in ops.iter().filter(|r| r.op.is(super::Datas3tOp::Upload)) {
        let (Some(invoked), Some((done, Outcome::Ok(_))), Value::Int(v)) =
            (upload.invoked, &upload.completed, &upload.op.value)
        else {
            continue;
        };
        let (first, last) = config.upload_range(upload.op.key, *v as u64);
        if deletes.iter().any(|(f, l, at)| *f <= last && *l >= first && *at > invoked) {
            continue;
        }
        for n in first..=last {
            if !covered(n) {
                return Check::fail(
                    name,
                    format!(
                        "datapoint {n} of upload #{} (acknowledged at {done}) is in no range at the end",
                        upload.op.id
                    ),
                );
            }
        }
    }
    Check::pass(name)
}

/// The deletes that may have happened: (first, last, invoked).
fn deletes(ops: &[OpRecord], config: &Config) -> Vec<(u64, u64, Time)> {
    let per = config.datapoints_per_upload;
    ops.iter()
        .filter(|r| r.op.is(super::Datas3tOp::Delete) && !matches!(r.completed, Some((_, Outcome::Fail))))
        .filter_map(|r| Some((r.op.key * per, r.op.key * per + per - 1, r.invoked?)))
        .collect()
}

/// By first datapoint: the uploads that may have written their range:
/// (last, invoked, acknowledged at, version).
type Writes = BTreeMap<u64, Vec<(u64, Time, Option<Time>, i64)>>;

/// `datas3t.downloads_exact`.
fn downloads_exact(ops: &[OpRecord], config: &Config) -> Check {
    let name = "datas3t.downloads_exact";
    let per = config.datapoints_per_upload;
    let mut writes: Writes = BTreeMap::new();
    for r in ops.iter().filter(|r| r.op.is(super::Datas3tOp::Upload)) {
        let (Some(invoked), Value::Int(version)) = (r.invoked, &r.op.value) else { continue };
        let acked = match &r.completed {
            Some((_, Outcome::Fail)) => continue,
            Some((at, Outcome::Ok(_))) => Some(*at),
            _ => None,
        };
        let (first, last) = config.upload_range(r.op.key, *version as u64);
        writes.entry(first).or_default().push((last, invoked, acked, *version));
    }
    let deletes = deletes(ops, config);
    for r in ops.iter().filter(|r| r.op.is(super::Datas3tOp::Download)) {
        let (Some(invoked), Some((returned, Outcome::Ok(value)))) = (r.invoked, &r.completed) else {
            continue;
        };
        let got: BTreeMap<u64, i64> = match value {
            Value::List(items) => items
                .iter()
                .filter_map(|item| match item {
                    Value::List(pair) => match pair.as_slice() {
                        [Value::Int(n), Value::Int(v)] => Some((*n as u64, *v)),
                        _ => None,
                    },
                    _ => None,
                })
                .collect(),
            other => {
                return Check::fail(name, format!("a download ({invoked}..{returned}) returned {other}"))
            }
        };
        let (first, last) = (r.op.key * per, (r.op.key + 2) * per - 1);
        for n in first..=last {
            let candidates: Vec<(Time, Option<Time>, i64)> = writes
                .range(n.saturating_sub(per - 1)..=n)
                .flat_map(|(_, ws)| ws.iter().filter(|w| w.0 >= n).map(|w| (w.1, w.2, w.3)))
                .collect();
            if let Some(v) = got.get(&n) {
                if !candidates.iter().any(|w| w.2 == *v) {
                    return Check::fail(name, format!("a download at {invoked} returned datapoint {n} of version {v}, which no upload wrote"));
                }
            }
            if deletes.iter().any(|(f, l, at)| (*f..=*l).contains(&n) && *at < *returned) {
                continue;
            }
            let Some(at) = candidates.iter().filter_map(|w| w.1).filter(|t| *t < invoked).max() else {
                continue;
            };
            let latest = candidates.iter().find(|w| w.1 == Some(at)).expect("the maximum is one of them");
            let raced = candidates
                .iter()
                .any(|w| !std::ptr::eq(w, latest) && w.0 < *returned && w.1.is_none_or(|t| t >= latest.0));
            if raced {
                continue;
            }
            match got.get(&n) {
                Some(v) if *v == latest.2 => {}
                Some(v) => {
                    return Check::fail(
                        name,
                        format!("datapoint {n}: upload #{} was acknowledged at {at}, but a download at {invoked} returned version {v}", latest.2),
                    )
                }
                None => {
                    return Check::fail(
                        name,
                        format!("datapoint {n}: upload #{} was acknowledged at {at}, but a download at {invoked} left it out", latest.2),
                    )
                }
            }
        }
    }
    Check::pass(name)
}

/// The size classes of uploads and downloads: the TAR bytes written or read.
const SIZES: [(&str, u64); 3] = [("lt16KiB", 16 << 10), ("16KiB-1MiB", 1 << 20), ("ge1MiB", u64::MAX)];

/// The size class of an acknowledged upload or download (its latency is reported per
/// class too: `upload.16KiB-1MiB.hgrm`).
pub fn size_class(shared: &Shared, r: &OpRecord) -> Option<&'static str> {
    let config = &shared.config;
    let entry = |n: u64, v: u64| {
        512 + super::content_len(shared.seed, n, v, config.max_datapoint_size.0).div_ceil(512) * 512
    };
    let Some((_, Outcome::Ok(value))) = &r.completed else { return None };
    let bytes = match (r.op.kind::<super::Datas3tOp>(), &r.op.value, value) {
        (super::Datas3tOp::Upload, Value::Int(v), _) => {
            let (first, last) = config.upload_range(r.op.key, *v as u64);
            (first..=last).map(|n| entry(n, *v as u64)).sum::<u64>() + 1024
        }
        (super::Datas3tOp::Download, _, Value::List(items)) => {
            let entries = items.iter().filter_map(|item| match item {
                Value::List(pair) => match pair.as_slice() {
                    [Value::Int(n), Value::Int(v)] => Some(entry(*n as u64, *v as u64)),
                    _ => None,
                },
                _ => None,
            });
            entries.sum::<u64>() + 1024
        }
        _ => return None,
    };
    SIZES.iter().find(|(_, max)| bytes < *max).map(|(name, _)| *name)
}

/// The dataranges at the end: how many, and the datapoints they hold.
pub fn ranges_at_end(facts: &Observations) -> Table {
    let ranges = replay(facts).ranges;
    let datapoints: u64 = ranges.values().map(|r| r.last - r.first + 1).sum();
    Table {
        title: "Dataranges at the end".into(),
        columns: ["dataranges", "datapoints"].map(String::from).to_vec(),
        rows: vec![vec![Cell::Int(ranges.len() as u64), Cell::Int(datapoints)]],
    }
}

/// `datas3t.no_dangling_rows`.
fn no_dangling_rows(ranges: &BTreeMap<u64, Range>, objects: &BTreeSet<String>) -> Check {
    for r in ranges.values() {
        for key in [&r.data_key, &r.index_key] {
            if !objects.contains(key) {
                return Check::fail(
                    "datas3t.no_dangling_rows",
                    format!(
                        "range #{} [{}..={}] refers to {key}, which the object store does not have",
                        r.id, r.first, r.last
                    ),
                );
            }
        }
    }
    Check::pass("datas3t.no_dangling_rows")
}

/// `datas3t.no_orphans`.
fn no_orphans(
    ranges: &BTreeMap<u64, Range>,
    objects: &BTreeSet<String>,
    uploads: &[(u64, String)],
    queued: u64,
    by_url: &[String],
) -> Check {
    let referenced: BTreeSet<&String> = ranges.values().flat_map(|r| [&r.data_key, &r.index_key]).collect();
    if let Some(orphan) = objects.iter().find(|o| !referenced.contains(o)) {
        let why = if by_url.contains(orphan) {
            ": it is scheduled for deletion by presigned URL only, a row the deletion worker's query never takes (query.sql:98-122 at fa4800e)"
        } else {
            ""
        };
        return Check::fail("datas3t.no_orphans", format!("{orphan} belongs to no range{why}"));
    }
    if let Some((id, key)) = uploads.first() {
        return Check::fail(
            "datas3t.no_orphans",
            format!("multipart upload {id} of {key} was never completed or aborted"),
        );
    }
    if queued > 0 {
        return Check::fail(
            "datas3t.no_orphans",
            format!("the deletion queue still holds {queued} entries: deleted objects never marked done"),
        );
    }
    Check::pass("datas3t.no_orphans")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::harness::system::Verdict;
    use sim::kernel::workload::Operation;
    use sim::NodeId;

    fn range(id: u64, first: u64, last: u64) -> Range {
        Range { id, first, last, data_key: format!("d{id}"), index_key: format!("i{id}"), size: 1 }
    }

    fn op(id: u64, f: &str, key: u64, value: Value, at: (u64, u64), outcome: Outcome) -> OpRecord {
        OpRecord {
            op: Operation { id, process: id, f: f.into(), key, value },
            client: NodeId(9),
            intended: Time(at.0),
            invoked: Some(Time(at.0)),
            completed: Some((Time(at.1), outcome)),
            served_by: None,
        }
    }

    #[test]
    fn two_ranges_over_one_datapoint_fail_after_the_commit_that_made_them() {
        let mut obs = Observations::default();
        obs.facts.state(
            Time(1),
            NodeId(2),
            Datas3tFact::Committed { added: vec![range(1, 0, 9)], removed: vec![] },
        );
        obs.facts.state(
            Time(2),
            NodeId(2),
            Datas3tFact::Committed { added: vec![range(2, 10, 19)], removed: vec![] },
        );
        let overlap = replay(&obs).overlap;
        assert!(overlap.is_none());
        obs.facts.state(
            Time(3),
            NodeId(2),
            Datas3tFact::Committed { added: vec![range(3, 5, 14)], removed: vec![] },
        );
        // Removed again at once: the overlap after the commit at 3 is still found.
        obs.facts.state(Time(4), NodeId(2), Datas3tFact::Committed { added: vec![], removed: vec![3] });
        let Replay { overlap, ranges, .. } = replay(&obs);
        assert!(overlap.unwrap().contains("after a commit at 0.000000003s"));
        let lost = [op(7, "upload", 3, Value::Int(7), (10, 20), Outcome::Ok(Value::Nil))];
        let config = Config { datapoints_per_upload: 10, ..Config::default() };
        let check = every_datapoint_once(None, &ranges, &lost, &config);
        assert_eq!(check.verdict, Verdict::Fail, "datapoints 30..39 are in no range");
        assert!(check.reason.unwrap().contains("datapoint 30 of upload #7"));
    }

    #[test]
    fn a_download_of_an_older_version_or_with_a_datapoint_missing_fails() {
        let pair = |n: i64, v: i64| Value::List(vec![Value::Int(n), Value::Int(v)]);
        let upload = |id, v, at| op(id, "upload", 0, Value::Int(v), at, Outcome::Ok(Value::Nil));
        let download =
            |got: Vec<Value>| op(9, "download", 0, Value::Nil, (100, 110), Outcome::Ok(Value::List(got)));
        let all = |v| (0..2).map(|n| pair(n, v)).collect::<Vec<_>>();
        let config = Config { datapoints_per_upload: 2, ..Config::default() };
        let history = [upload(1, 1, (0, 10)), upload(2, 2, (20, 30)), download(all(2))];
        assert_eq!(downloads_exact(&history, &config).verdict, Verdict::Pass);
        let stale = [upload(1, 1, (0, 10)), upload(2, 2, (20, 30)), download(all(1))];
        assert!(downloads_exact(&stale, &config).reason.unwrap().contains("returned version 1"));
        let missing = [upload(1, 1, (0, 10)), download(vec![pair(0, 1)])];
        assert!(downloads_exact(&missing, &config).reason.unwrap().contains("datapoint 1: upload #1"));
        let invented = [upload(1, 1, (0, 10)), download(vec![pair(0, 1), pair(1, 5)])];
        assert!(downloads_exact(&invented, &config).reason.unwrap().contains("which no upload wrote"));
    }

    #[test]
    fn rows_without_objects_and_objects_without_rows_fail() {
        let ranges: BTreeMap<u64, Range> = [(1, range(1, 0, 9))].into();
        let objects: BTreeSet<String> = ["d1".to_string()].into();
        assert!(no_dangling_rows(&ranges, &objects).reason.unwrap().contains("refers to i1"));
        let objects: BTreeSet<String> = ["d1", "i1", "stray"].map(String::from).into();
        assert_eq!(no_dangling_rows(&ranges, &objects).verdict, Verdict::Pass);
        let stray = no_orphans(&ranges, &objects, &[], 0, &[]).reason.unwrap();
        assert!(stray.ends_with("stray belongs to no range"), "{stray}");
        let by_url = no_orphans(&ranges, &objects, &[], 1, &["stray".into()]).reason.unwrap();
        assert!(
            by_url.contains("stray belongs to no range: it is scheduled for deletion by presigned URL only")
        );
        let objects: BTreeSet<String> = ["d1", "i1"].map(String::from).into();
        assert!(no_orphans(&ranges, &objects, &[(4, "k".into())], 0, &[])
            .reason
            .unwrap()
            .contains("multipart upload 4"));
        assert!(no_orphans(&ranges, &objects, &[], 2, &[])
            .reason
            .unwrap()
            .contains("deletion queue still holds 2"));
        assert_eq!(no_orphans(&ranges, &objects, &[], 0, &[]).verdict, Verdict::Pass);
    }

    #[test]
    fn a_listed_upload_aborted_inside_its_lease_fails() {
        let config = Config::default();
        let lease = config.upload_lease;
        let upload = |id| op(id, "upload", 0, Value::Int(1), (0, 10), Outcome::Fail);
        let run = |listed: bool, at: Time| {
            let mut obs = Observations::default();
            obs.facts.state(Time(5), NodeId(0), Datas3tFact::Leased { op: 1, data_key: "d".into() });
            obs.facts.state(at, NodeId(0), Datas3tFact::LeaseAborted { data_key: "d".into(), listed });
            leases_honoured(&obs, &[upload(1)], &config)
        };
        let early = Time(0) + (lease - std::time::Duration::from_nanos(1));
        assert!(run(true, early).reason.unwrap().contains("before its lease"));
        // A row already gone may go at once; a listed one once its lease ran out.
        assert_eq!(run(false, early).verdict, Verdict::Pass);
        assert_eq!(run(true, Time(0) + lease).verdict, Verdict::Pass);
    }

    #[test]
    fn a_range_added_under_an_id_in_use_fails() {
        let mut obs = Observations::default();
        obs.facts.state(
            Time(1),
            NodeId(2),
            Datas3tFact::Committed { added: vec![range(1, 0, 9)], removed: vec![] },
        );
        obs.facts.state(Time(2), NodeId(2), Datas3tFact::Committed { added: vec![], removed: vec![7] });
        assert!(replay(&obs).misnumbered.is_none(), "removing a row that is gone is a no-op");
        obs.facts.state(
            Time(3),
            NodeId(2),
            Datas3tFact::Committed { added: vec![range(1, 10, 19)], removed: vec![] },
        );
        assert!(replay(&obs).misnumbered.unwrap().contains("added range #1 while range #1 existed"));
    }

    #[test]
    fn an_acknowledged_malformed_upload_fails() {
        let mut obs = Observations::default();
        obs.facts.state(Time(1), NodeId(3), Datas3tFact::Malformed { op: 5, how: 1 });
        let rejected = [op(5, "upload", 0, Value::Int(5), (1, 2), Outcome::Fail)];
        assert_eq!(malformed_rejected(&obs, &rejected).verdict, Verdict::Pass);
        let accepted = [op(5, "upload", 0, Value::Int(5), (1, 2), Outcome::Ok(Value::Nil))];
        assert!(malformed_rejected(&obs, &accepted)
            .reason
            .unwrap()
            .contains("a header naming another datapoint"));
    }
}
