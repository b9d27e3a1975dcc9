//! The metadata store: the real service's tables, each transaction run atomically and
//! committed to redb on the node's simulated disk before it is answered.
//!
//! PostgreSQL runs the real service at READ COMMITTED; here one request is one
//! transaction, run whole. The races that matter are between requests (an overlap checked
//! in one transaction and a range created in another), and those interleave exactly as
//! they do there; docs/design-notes.md says what this leaves out.

use std::collections::BTreeMap;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use sim::prelude::*;

use super::check::Datas3tFact;
use super::class;
use super::msg::{Deletion, Msg, Range, Schedule, Txn, TxnResult, Upload};
use crate::storage::SimFile;

const FILE: &str = "meta.redb";
const ROWS: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("rows");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RANGE: u8 = 0;
const UPLOAD: u8 = 1;
const DELETION: u8 = 2;

/// The dataset's name (one datas3t per run).
pub const NAME: &str = "ds";

/// The tables.
#[derive(Clone, Debug, Default)]
pub struct Tables {
    /// `datas3ts.upload_counter`.
    pub counter: u64,
    /// The next row id.
    pub next_id: u64,
    /// `dataranges`.
    pub ranges: BTreeMap<u64, Range>,
    /// `datarange_uploads` and `aggregate_uploads`.
    pub uploads: BTreeMap<u64, Upload>,
    /// `objects_to_delete`.
    pub deletions: BTreeMap<u64, Deletion>,
}

/// A row change, applied to redb and to the tables together.
#[derive(Clone, Debug)]
enum Change {
    Range(u64, Option<Range>),
    Upload(u64, Option<Upload>),
    Deletion(u64, Option<Deletion>),
}

/// The object keys of an upload: with the counter (the fix of 9cae85f) or without.
/// Why a completion is refused when a range committed meanwhile overlaps it.
const OVERLAPS: &str = "a completed range overlaps it";

pub fn keys(first: u64, last: u64, counter: Option<u64>) -> (String, String) {
    let stem = match counter {
        Some(c) => format!("datas3t/{NAME}/dataranges/{first:020}-{last:020}-{c:012}"),
        None => format!("datas3t/{NAME}/dataranges/{first:020}-{last:020}"),
    };
    (format!("{stem}.tar"), format!("{stem}.index"))
}

impl Tables {
    fn intersecting(&self, first: u64, last: u64) -> Vec<Range> {
        let mut ranges: Vec<Range> =
            self.ranges.values().filter(|r| r.first <= last && r.last >= first).cloned().collect();
        ranges.sort_by_key(|r| (r.first, r.id));
        ranges
    }

    fn deletions_fact(&self) -> Datas3tFact {
        let by_url = self.deletions.values().filter(|d| !d.named).map(|d| d.key.clone()).collect();
        Datas3tFact::Deletions { queued: self.deletions.len() as u64, by_url: std::rc::Rc::new(by_url) }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Raises the upload counter and builds an upload row (the caller commits it).
    fn insert_upload(
        &mut self,
        first: u64,
        last: u64,
        data_size: u64,
        started: Time,
        counter_in_keys: bool,
        sources: Option<Vec<u64>>,
    ) -> Upload {
        self.counter += 1;
        let (data_key, index_key) = keys(first, last, counter_in_keys.then_some(self.counter));
        Upload {
            id: self.id(),
            first,
            last,
            multipart: None,
            data_key,
            index_key,
            data_size,
            started,
            sources,
        }
    }

    /// Runs `txn`: its result and the changes to commit (none if refused).
    fn run(&mut self, txn: &Txn) -> (TxnResult, Vec<Change>, bool) {
        let mut changes = Vec::new();
        let mut meta = false;
        let result = match txn {
            Txn::Overlapping { first, last } => TxnResult::Ranges(self.intersecting(*first, *last)),
            Txn::Start { first, last, data_size, aggregate, started, counter_in_keys } => {
                let sources = if *aggregate {
                    let sources = self.intersecting(*first, *last);
                    let covered = sources.len() >= 2
                        && sources.first().is_some_and(|s| s.first == *first)
                        && sources.last().is_some_and(|s| s.last == *last)
                        && sources.windows(2).all(|w| w[0].last + 1 == w[1].first);
                    if !covered {
                        return (
                            TxnResult::Refused("the span is not covered by 2 or more ranges without gaps"),
                            changes,
                            false,
                        );
                    }
                    Some(sources.iter().map(|s| s.id).collect())
                } else {
                    None
                };
                meta = true;
                let upload =
                    self.insert_upload(*first, *last, *data_size, *started, *counter_in_keys, sources);
                changes.push(Change::Upload(upload.id, Some(upload.clone())));
                TxnResult::Upload(Some(upload))
            }
            Txn::StartAggregate { first, last, data_size, started, counter_in_keys, sources } => {
                meta = true;
                let sources = Some(sources.clone());
                let upload =
                    self.insert_upload(*first, *last, *data_size, *started, *counter_in_keys, sources);
                changes.push(Change::Upload(upload.id, Some(upload.clone())));
                TxnResult::Upload(Some(upload))
            }
            Txn::SetMultipart { upload, multipart } => match self.uploads.get(upload) {
                Some(row) => {
                    changes.push(Change::Upload(
                        *upload,
                        Some(Upload { multipart: Some(*multipart), ..row.clone() }),
                    ));
                    TxnResult::Done
                }
                None => TxnResult::Refused("no such upload"),
            },
            Txn::Get { upload } => TxnResult::Upload(self.uploads.get(upload).cloned()),
            Txn::Complete { upload, recheck, delete_own, span: queried, read } => {
                let Some(row) = self.uploads.get(upload).cloned().or_else(|| read.clone()) else {
                    return (TxnResult::Refused("no such upload"), changes, false);
                };
                let span = match queried {
                    Some(span) => span.clone(),
                    None => self.intersecting(row.first, row.last),
                };
                if *recheck {
                    let conflict = match &row.sources {
                        None => !span.is_empty(),
                        Some(ids) => span.iter().map(|r| r.id).collect::<Vec<_>>() != *ids,
                    };
                    if conflict {
                        return (TxnResult::Refused(OVERLAPS), changes, false);
                    }
                }
                meta = true;
                let id = self.id();
                let range = Range {
                    id,
                    first: row.first,
                    last: row.last,
                    data_key: row.data_key.clone(),
                    index_key: row.index_key.clone(),
                    size: row.data_size,
                };
                if let Some(sources) = &row.sources {
                    // Query the ranges in the span and schedule their objects for deletion
                    // (68990f3: after inserting the aggregate, which is then in the span).
                    let mut doomed = span.clone();
                    if *delete_own {
                        doomed.push(range.clone());
                    }
                    for r in &doomed {
                        for key in [&r.data_key, &r.index_key] {
                            let d = self.id();
                            changes
                                .push(Change::Deletion(d, Some(Deletion { key: key.clone(), named: true })));
                        }
                    }
                    for source in sources {
                        changes.push(Change::Range(*source, None));
                    }
                }
                changes.push(Change::Range(id, Some(range)));
                changes.push(Change::Upload(*upload, None));
                TxnResult::Done
            }
            Txn::Drop { upload, schedule, keys } => {
                if self.uploads.contains_key(upload) {
                    for key in keys.iter().filter(|_| *schedule != Schedule::No) {
                        let d = self.id();
                        let named = *schedule == Schedule::Named;
                        changes.push(Change::Deletion(d, Some(Deletion { key: key.clone(), named })));
                    }
                    changes.push(Change::Upload(*upload, None));
                    meta = true;
                }
                TxnResult::Done
            }
            Txn::Ranges { first, last } => TxnResult::Ranges(self.intersecting(*first, *last)),
            Txn::DeleteRange { .. } | Txn::DeleteRangeId { .. } => {
                let (found, schedule): (Vec<Range>, _) = match txn {
                    Txn::DeleteRange { first, last, schedule } => (
                        self.ranges
                            .values()
                            .filter(|r| r.first == *first && r.last == *last)
                            .cloned()
                            .collect(),
                        schedule,
                    ),
                    Txn::DeleteRangeId { id, schedule } => {
                        (self.ranges.get(id).cloned().into_iter().collect(), schedule)
                    }
                    _ => unreachable!(),
                };
                for r in &found {
                    changes.push(Change::Range(r.id, None));
                    if *schedule != Schedule::No {
                        for key in [&r.data_key, &r.index_key] {
                            let d = self.id();
                            meta = true;
                            let named = *schedule == Schedule::Named;
                            changes.push(Change::Deletion(d, Some(Deletion { key: key.clone(), named })));
                        }
                    }
                }
                TxnResult::Ranges(found)
            }
            Txn::TakeDeletions { limit } => TxnResult::Deletions(
                self.deletions
                    .iter()
                    .filter(|(_, d)| d.named)
                    .take(*limit)
                    .map(|(id, d)| (*id, d.key.clone()))
                    .collect(),
            ),
            Txn::Deleted { ids } => {
                changes.extend(ids.iter().map(|id| Change::Deletion(*id, None)));
                TxnResult::Done
            }
            Txn::Stale { before } => {
                TxnResult::Uploads(self.uploads.values().filter(|u| u.started < *before).cloned().collect())
            }
            Txn::Import { pairs, counters, careful } => {
                let known: std::collections::BTreeSet<&String> =
                    self.ranges.values().map(|r| &r.data_key).collect();
                let doomed: std::collections::BTreeSet<&String> =
                    self.deletions.values().map(|d| &d.key).collect();
                let uploading: std::collections::BTreeSet<&String> =
                    self.uploads.values().map(|u| &u.data_key).collect();
                let mut taken: Vec<(u64, u64)> = self.ranges.values().map(|r| (r.first, r.last)).collect();
                let mut added = Vec::new();
                for pair in pairs {
                    let overlaps = taken.iter().any(|(f, l)| *f <= pair.last && *l >= pair.first);
                    let skip = if *careful {
                        known.contains(&pair.data_key)
                            || doomed.contains(&pair.data_key)
                            || uploading.contains(&pair.data_key)
                            || overlaps
                    } else {
                        // The code skips a pair only when a range over exactly its span
                        // exists, one this import created included (import_datas3t.go:278-288
                        // at fa4800e): objects of another upload of that span stay out.
                        taken.contains(&(pair.first, pair.last))
                    };
                    if skip {
                        continue;
                    }
                    taken.push((pair.first, pair.last));
                    added.push(pair.clone());
                }
                for pair in added {
                    let id = self.id();
                    changes.push(Change::Range(id, Some(Range { id, ..pair })));
                }
                self.counter = self.counter.max(counters.iter().copied().max().unwrap_or(0));
                meta = true;
                TxnResult::Done
            }
        };
        (result, changes, meta)
    }

    fn apply(&mut self, change: &Change) {
        match change.clone() {
            Change::Range(id, Some(r)) => drop(self.ranges.insert(id, r)),
            Change::Range(id, None) => drop(self.ranges.remove(&id)),
            Change::Upload(id, Some(u)) => drop(self.uploads.insert(id, u)),
            Change::Upload(id, None) => drop(self.uploads.remove(&id)),
            Change::Deletion(id, Some(k)) => drop(self.deletions.insert(id, k)),
            Change::Deletion(id, None) => drop(self.deletions.remove(&id)),
        }
    }
}

/// The metadata store node.
pub struct MetadataStore {
    db: Option<Database>,
    tables: Tables,
}

impl MetadataStore {
    /// A store (it opens its database at start).
    pub fn new() -> MetadataStore {
        MetadataStore { db: None, tables: Tables::default() }
    }

    fn open(ctx: &mut Ctx<'_, Msg>) -> Result<(Database, Tables), Box<dyn std::error::Error>> {
        let db = Database::builder().create_with_backend(SimFile::new(ctx.disk_handle(), FILE))?;
        let mut tables = Tables::default();
        let tx = db.begin_read()?;
        if let Ok(meta) = tx.open_table(META) {
            tables.counter = meta.get("counter")?.map_or(0, |v| v.value());
            tables.next_id = meta.get("next_id")?.map_or(0, |v| v.value());
        }
        if let Ok(rows) = tx.open_table(ROWS) {
            for row in rows.iter()? {
                let (key, bytes) = row?;
                let ((table, id), bytes) = (key.value(), bytes.value());
                match table {
                    RANGE => drop(tables.ranges.insert(id, postcard::from_bytes(bytes)?)),
                    UPLOAD => drop(tables.uploads.insert(id, postcard::from_bytes(bytes)?)),
                    _ => drop(tables.deletions.insert(id, postcard::from_bytes(bytes)?)),
                }
            }
        }
        drop(tx);
        Ok((db, tables))
    }

    fn commit(&self, changes: &[Change], meta: bool) -> Result<(), Box<dyn std::error::Error>> {
        let Some(db) = &self.db else { return Err("the database is not open".into()) };
        let tx = db.begin_write()?;
        {
            let mut rows = tx.open_table(ROWS)?;
            for change in changes {
                let (table, id, bytes) = match change {
                    Change::Range(id, r) => (RANGE, *id, r.as_ref().map(postcard::to_allocvec)),
                    Change::Upload(id, u) => (UPLOAD, *id, u.as_ref().map(postcard::to_allocvec)),
                    Change::Deletion(id, k) => (DELETION, *id, k.as_ref().map(postcard::to_allocvec)),
                };
                match bytes {
                    Some(bytes) => drop(rows.insert((table, id), bytes?.as_slice())?),
                    None => drop(rows.remove((table, id))?),
                }
            }
            if meta {
                let mut m = tx.open_table(META)?;
                m.insert("counter", self.tables.counter)?;
                m.insert("next_id", self.tables.next_id)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl Default for MetadataStore {
    fn default() -> MetadataStore {
        MetadataStore::new()
    }
}

impl Node for MetadataStore {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_role(super::Role::MetadataStore);
        match MetadataStore::open(ctx) {
            Ok((db, tables)) => {
                if ctx.incarnation() > 0 {
                    ctx.sometimes(class::METADATA_RECOVERED, !tables.ranges.is_empty());
                    ctx.sometimes(class::DELETIONS_ACROSS_CRASH, !tables.deletions.is_empty());
                }
                let ranges = tables.ranges.values().cloned().collect();
                ctx.fact(Datas3tFact::Loaded { ranges });
                ctx.fact(tables.deletions_fact());
                self.db = Some(db);
                self.tables = tables;
            }
            Err(_) => ctx.always("datas3t.metadata_opens", false),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let Msg::Txn { req, txn } = msg else {
            return ctx.unexpected("the metadata store takes transactions only");
        };
        let before = (self.tables.counter, self.tables.next_id);
        let (result, changes, meta) = self.tables.run(&txn);
        if matches!(txn, Txn::Complete { .. }) {
            ctx.sometimes(class::COMMIT_CONFLICT, matches!(result, TxnResult::Refused(OVERLAPS)));
        }
        if changes.is_empty() && !meta {
            return ctx.send(from, Msg::TxnReply { req, result });
        }
        if self.commit(&changes, meta).is_err() {
            (self.tables.counter, self.tables.next_id) = before;
            return ctx.send(from, Msg::TxnReply { req, result: TxnResult::Refused("the commit failed") });
        }
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for change in &changes {
            self.tables.apply(change);
            match change {
                Change::Range(_, Some(r)) => added.push(r.clone()),
                Change::Range(id, None) => removed.push(*id),
                _ => {}
            }
        }
        if !added.is_empty() || !removed.is_empty() {
            ctx.fact(Datas3tFact::Committed { added, removed });
        }
        if changes.iter().any(|c| matches!(c, Change::Deletion(..))) {
            ctx.fact(self.tables.deletions_fact());
        }
        ctx.series("ranges", self.tables.ranges.len() as i64);
        ctx.series("uploads in progress", self.tables.uploads.len() as i64);
        ctx.series("objects queued for deletion", self.tables.deletions.len() as i64);
        ctx.send(from, Msg::TxnReply { req, result });
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: super::msg::Timer) {
        ctx.unexpected("the metadata store sets no timers");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(tables: &mut Tables) -> Upload {
        let (data_key, index_key) = keys(0, 9, Some(1));
        let row = Upload {
            id: tables.id(),
            first: 0,
            last: 9,
            multipart: None,
            data_key,
            index_key,
            data_size: 100,
            started: Time::ZERO,
            sources: None,
        };
        tables.apply(&Change::Upload(row.id, Some(row.clone())));
        row
    }

    fn complete(tables: &mut Tables, row: &Upload, read: Option<Upload>) -> TxnResult {
        let txn =
            Txn::Complete { upload: row.id, recheck: read.is_none(), delete_own: false, span: None, read };
        let (result, changes, _) = tables.run(&txn);
        changes.iter().for_each(|c| tables.apply(c));
        result
    }

    /// READ COMMITTED, statement by statement (the faithful mode): two completes of one
    /// upload that both read the row before either committed both create a range; run
    /// whole (the safe mode), the second finds the row gone.
    #[test]
    fn two_completes_that_read_the_row_both_create_a_range() {
        let mut tables = Tables::default();
        let row = upload(&mut tables);
        let (first, second) = (Some(row.clone()), Some(row.clone()));
        assert_eq!(complete(&mut tables, &row, first), TxnResult::Done);
        assert_eq!(complete(&mut tables, &row, second), TxnResult::Done);
        assert_eq!(tables.ranges.len(), 2, "{:?}", tables.ranges);
        let mut whole = Tables::default();
        let row = upload(&mut whole);
        assert_eq!(complete(&mut whole, &row, None), TxnResult::Done);
        assert_eq!(complete(&mut whole, &row, None), TxnResult::Refused("no such upload"));
        assert_eq!(whole.ranges.len(), 1);
    }

    fn run(tables: &mut Tables, txn: Txn) -> TxnResult {
        let (result, changes, _) = tables.run(&txn);
        changes.iter().for_each(|c| tables.apply(c));
        result
    }

    fn range(tables: &mut Tables, first: u64, last: u64) -> u64 {
        let id = tables.id();
        let (data_key, index_key) = keys(first, last, Some(id));
        tables.apply(&Change::Range(id, Some(Range { id, first, last, data_key, index_key, size: 10 })));
        id
    }

    fn pair(first: u64, last: u64, counter: u64) -> Range {
        let (data_key, index_key) = keys(first, last, Some(counter));
        Range { id: 0, first, last, data_key, index_key, size: 10 }
    }

    /// The faithful import (import_datas3t.go:278-288 at fa4800e) skips a pair only when a
    /// range over exactly its span exists: another upload's objects of a span a range holds
    /// stay out, and so does the second of two pairs over one span, but an aggregate's
    /// sources come back beside it. The careful import skips every pair that overlaps.
    #[test]
    fn the_code_import_skips_only_pairs_over_a_span_a_range_has_exactly() {
        let mut tables = Tables::default();
        range(&mut tables, 0, 9);
        let pairs = vec![pair(0, 9, 7), pair(0, 4, 1), pair(5, 9, 2), pair(10, 19, 3), pair(10, 19, 4)];
        let import = |careful| Txn::Import { pairs: pairs.clone(), counters: vec![7], careful };
        let mut careful = tables.clone();
        assert_eq!(run(&mut careful, import(true)), TxnResult::Done);
        let spans = |t: &Tables| t.ranges.values().map(|r| (r.first, r.last)).collect::<Vec<_>>();
        assert_eq!(spans(&careful), vec![(0, 9), (10, 19)]);
        assert_eq!(run(&mut tables, import(false)), TxnResult::Done);
        assert_eq!(spans(&tables), vec![(0, 9), (0, 4), (5, 9), (10, 19)]);
        assert_eq!(tables.counter, 7);
    }

    /// The faithful aggregate start (start_aggregate.go at fa4800e): its sources were read
    /// outside the transaction, so an aggregate that completed over them meanwhile does not
    /// stop it; completing it then creates a second range over the span and schedules the
    /// first aggregate's objects for deletion while its row stays. The safe start checks the
    /// span in its transaction and is refused.
    #[test]
    fn an_aggregate_started_on_sources_read_earlier_is_not_checked_again() {
        let mut tables = Tables::default();
        let sources = vec![range(&mut tables, 0, 4), range(&mut tables, 5, 9)];
        let start = |sources: &Vec<u64>| Txn::StartAggregate {
            first: 0,
            last: 9,
            data_size: 20,
            started: Time::ZERO,
            counter_in_keys: true,
            sources: sources.clone(),
        };
        let TxnResult::Upload(Some(a)) = run(&mut tables, start(&sources)) else { panic!() };
        assert_eq!(complete(&mut tables, &a, Some(a.clone())), TxnResult::Done);
        let first_aggregate = tables.ranges.values().next().cloned().expect("the aggregate's range");
        assert_eq!((first_aggregate.first, first_aggregate.last, tables.ranges.len()), (0, 9, 1));

        let mut safe = tables.clone();
        let txn = Txn::Start {
            first: 0,
            last: 9,
            data_size: 20,
            aggregate: true,
            started: Time::ZERO,
            counter_in_keys: true,
        };
        assert!(matches!(run(&mut safe, txn), TxnResult::Refused(_)));

        let TxnResult::Upload(Some(b)) = run(&mut tables, start(&sources)) else { panic!() };
        assert_eq!(b.sources, Some(sources));
        assert_eq!(complete(&mut tables, &b, Some(b.clone())), TxnResult::Done);
        assert_eq!(tables.ranges.len(), 2, "both aggregates' ranges: {:?}", tables.ranges);
        assert!(tables.ranges.contains_key(&first_aggregate.id));
        let doomed: Vec<&String> = tables.deletions.values().map(|d| &d.key).collect();
        assert!(doomed.contains(&&first_aggregate.data_key), "{doomed:?}");
    }
}
