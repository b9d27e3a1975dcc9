//! The datas3t server: the upload, aggregate, download and delete flows, the deletion
//! worker, and (safe mode) the lease collector, each a sequence of metadata-store
//! transactions and object-store requests.
//!
//! A flow waits for one answer at a time. Object-store requests that fail with a 500 or get
//! no answer within `request_timeout` are retried `retries` times with backoff from 100 ms
//! doubling (to 5 s); a metadata-store transaction that gets no answer fails its flow. The
//! index cache is in memory: a restart loses it and every flow in progress.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use sim::prelude::*;

use super::config::{Bug, Mode};
use super::msg::{
    Grant, Msg, Range, Reply, Request, S3Error, S3Request, S3Response, Schedule, Timer, Txn, TxnResult,
    Upload, Url,
};
use super::tarball::{self, IndexEntry, TRAILER};
use super::{class, Datas3tFact, Shared};

/// What a flow gets back.
#[derive(Clone, Debug)]
enum Outcome {
    S3(S3Response),
    Db(TxnResult),
    /// No answer (after the retries, for the object store).
    Lost,
}

/// Where a completion is in its validation.
#[derive(Clone, Debug)]
enum Check {
    Assemble,
    HeadIndex,
    HeadData,
    Index {
        data_size: u64,
    },
    Headers {
        data_size: u64,
        index: Vec<IndexEntry>,
        picks: Vec<usize>,
    },
    /// The faithful mode: the completing transaction's first statement, reading the upload
    /// row again.
    Reread,
    Query,
    Commit,
    Dropped(&'static str),
    Refused(&'static str),
}

#[derive(Clone, Debug)]
enum Flow {
    Upload {
        op: u64,
        client: NodeId,
        first: u64,
        last: u64,
        size: u64,
        aggregate: bool,
        row: Option<Upload>,
        sources: Vec<Range>,
    },
    Complete {
        op: u64,
        client: NodeId,
        etags: Vec<u64>,
        row: Option<Upload>,
        check: Check,
    },
    Cancel {
        op: u64,
        client: NodeId,
        row: Option<Upload>,
        /// The faithful mode: the keys whose immediate deletion is under way.
        deleting: Option<Vec<String>>,
    },
    Download {
        op: u64,
        client: NodeId,
        first: u64,
        last: u64,
        ranges: Vec<Range>,
        next: usize,
        pieces: Vec<Url>,
    },
    Delete {
        op: u64,
        client: NodeId,
        range: Option<Range>,
        span: (u64, u64),
        /// The row's deletion is under way (the objects' is over, or given up).
        row: bool,
    },
    Deletions {
        taken: Vec<(u64, String)>,
    },
    Leases {
        rows: Option<Vec<Upload>>,
        stale: Vec<Upload>,
    },
    /// An abort of an abandoned multipart upload, whose answer changes nothing.
    Abort,
    Import {
        op: u64,
        client: NodeId,
        listed: bool,
    },
}

/// A request in flight: its flow, what to resend, how often it was tried.
struct Waiting {
    flow: u64,
    call: Call,
    attempts: u32,
    timer: TimerId,
}

#[derive(Clone, Debug)]
enum Call {
    S3(S3Request),
    Db(Txn),
}

/// The server.
pub struct Server {
    shared: Rc<Shared>,
    flows: BTreeMap<u64, Flow>,
    waiting: BTreeMap<u64, Waiting>,
    /// Index key -> index (the real one is on disk, keyed the same way; a restart empties it here).
    cache: BTreeMap<String, Vec<IndexEntry>>,
    next: u64,
    idle: Duration,
}

impl Server {
    /// A server.
    pub fn new(shared: Rc<Shared>) -> Server {
        let idle = shared.config.deletion_poll;
        Server {
            shared,
            flows: BTreeMap::new(),
            waiting: BTreeMap::new(),
            cache: BTreeMap::new(),
            next: 0,
            idle,
        }
    }

    fn safe(&self) -> bool {
        self.shared.config.mode == Mode::Safe
    }

    fn id(&mut self, ctx: &Ctx<'_, Msg>) -> u64 {
        self.next += 1;
        (u64::from(ctx.incarnation()) << 40) | self.next
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Msg>, flow: Flow, call: Call) {
        let id = self.id(ctx);
        self.flows.insert(id, flow);
        self.call(ctx, id, call, 0);
    }

    fn call(&mut self, ctx: &mut Ctx<'_, Msg>, flow: u64, call: Call, attempts: u32) {
        let req = self.id(ctx);
        match &call {
            Call::S3(request) => {
                ctx.send(self.shared.object_store, Msg::S3 { req, request: request.clone() })
            }
            Call::Db(txn) => ctx.send(self.shared.metadata_store, Msg::Txn { req, txn: txn.clone() }),
        }
        let timer = ctx.set_timer(self.shared.config.request_timeout, Timer::Request(req));
        self.waiting.insert(req, Waiting { flow, call, attempts, timer });
    }

    fn s3(&mut self, ctx: &mut Ctx<'_, Msg>, flow: u64, request: S3Request) {
        self.call(ctx, flow, Call::S3(request), 0);
    }

    fn db(&mut self, ctx: &mut Ctx<'_, Msg>, flow: u64, txn: Txn) {
        self.call(ctx, flow, Call::Db(txn), 0);
    }

    /// An answer (or its absence) for request `req`.
    fn answered(&mut self, ctx: &mut Ctx<'_, Msg>, req: u64, outcome: Option<Outcome>) {
        let Some(waiting) = self.waiting.remove(&req) else { return };
        ctx.cancel_timer(waiting.timer);
        let retry = matches!(
            (&waiting.call, &outcome),
            (Call::S3(_), None | Some(Outcome::S3(S3Response::Error(S3Error::Internal))))
        );
        if retry && waiting.attempts < self.shared.config.retries {
            let backoff =
                (Duration::from_millis(100) * 2u32.pow(waiting.attempts)).min(Duration::from_secs(5));
            let again = self.id(ctx);
            let timer = ctx.set_timer(backoff, Timer::Retry(again));
            self.waiting.insert(again, Waiting { attempts: waiting.attempts + 1, timer, ..waiting });
            return;
        }
        self.advance(ctx, waiting.flow, outcome.unwrap_or(Outcome::Lost));
    }

    fn reply(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, client: NodeId, op: u64, reply: Reply) {
        self.flows.remove(&id);
        ctx.send(client, Msg::Reply { op, reply });
    }

    fn url(&self, ctx: &Ctx<'_, Msg>, grant: Grant) -> Url {
        Url { grant, expires: ctx.now() + self.shared.config.url_expiry }
    }

    /// A URL to upload `row`'s objects with. The safe mode lets it expire with the upload's
    /// lease, so that no PUT lands after the lease collector dropped the row (the object
    /// store checks expiry on arrival; the collector drops only rows whose lease is over).
    fn upload_url(&self, ctx: &Ctx<'_, Msg>, row: &Upload, grant: Grant) -> Url {
        match self.shared.config.mode {
            Mode::Safe => Url { grant, expires: row.started + self.shared.config.upload_lease },
            Mode::Datas3t => self.url(ctx, grant),
        }
    }

    /// The data URLs of an upload of `size` bytes: one PUT, or parts of the part size,
    /// doubled while there would be more than 10,000.
    fn data_urls(&self, ctx: &Ctx<'_, Msg>, row: &Upload) -> (Vec<Url>, u64) {
        let config = &self.shared.config;
        match row.multipart {
            None => {
                (vec![self.upload_url(ctx, row, Grant::Put { key: row.data_key.clone() })], row.data_size)
            }
            Some(upload) => {
                let mut part_size = config.part_size.0;
                while row.data_size.div_ceil(part_size) > 10_000 {
                    part_size *= 2;
                }
                let parts = row.data_size.div_ceil(part_size).max(1) as u32;
                let urls =
                    (1..=parts).map(|part| self.upload_url(ctx, row, Grant::Part { upload, part })).collect();
                (urls, part_size)
            }
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, request: Request) {
        let safe = self.safe();
        match request {
            Request::StartUpload { first, count, data_size } => {
                let last = first + count.max(1) - 1;
                let flow = Flow::Upload {
                    op,
                    client,
                    first,
                    last,
                    size: data_size,
                    aggregate: false,
                    row: None,
                    sources: vec![],
                };
                self.start(ctx, flow, Call::Db(Txn::Overlapping { first, last }));
            }
            Request::StartAggregate { first, last } => {
                let flow = Flow::Upload {
                    op,
                    client,
                    first,
                    last,
                    size: 0,
                    aggregate: true,
                    row: None,
                    sources: vec![],
                };
                self.start(ctx, flow, Call::Db(Txn::Ranges { first, last }));
            }
            Request::CompleteUpload { upload, etags } => {
                let flow = Flow::Complete { op, client, etags, row: None, check: Check::Assemble };
                self.start(ctx, flow, Call::Db(Txn::Get { upload }));
            }
            Request::CancelUpload { upload } => {
                let flow = Flow::Cancel { op, client, row: None, deleting: None };
                self.start(ctx, flow, Call::Db(Txn::Get { upload }));
            }
            Request::Download { first, last } => {
                let flow =
                    Flow::Download { op, client, first, last, ranges: vec![], next: 0, pieces: vec![] };
                self.start(ctx, flow, Call::Db(Txn::Ranges { first, last }));
            }
            Request::Delete { first, last } if safe => {
                let txn = Txn::DeleteRange { first, last, schedule: Schedule::Named };
                self.start(
                    ctx,
                    Flow::Delete { op, client, range: None, span: (first, last), row: false },
                    Call::Db(txn),
                );
            }
            Request::Import => {
                let prefix = format!("datas3t/{}/dataranges/", super::db::NAME);
                self.start(
                    ctx,
                    Flow::Import { op, client, listed: false },
                    Call::S3(S3Request::List { prefix }),
                );
            }
            Request::Delete { first, last } => {
                // The range [first, last] exactly, if there is one.
                let txn = Txn::Ranges { first, last };
                self.start(
                    ctx,
                    Flow::Delete { op, client, range: None, span: (first, last), row: false },
                    Call::Db(txn),
                );
            }
        }
    }

    fn advance(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, outcome: Outcome) {
        let Some(flow) = self.flows.get(&id).cloned() else { return };
        match flow {
            Flow::Upload { .. } => self.upload(ctx, id, flow, outcome),
            Flow::Complete { .. } => self.complete(ctx, id, flow, outcome),
            Flow::Cancel { .. } => self.cancel(ctx, id, flow, outcome),
            Flow::Download { .. } => self.download(ctx, id, flow, outcome),
            Flow::Delete { op, client, range, span, row } => match (range, outcome) {
                (None, Outcome::Db(TxnResult::Ranges(found))) if self.safe() => {
                    let reply = if found.is_empty() { Reply::Failed("no such range") } else { Reply::Done };
                    self.reply(ctx, id, client, op, reply);
                }
                (None, Outcome::Db(TxnResult::Ranges(ranges))) => {
                    // The real order: delete the objects, then the row.
                    match ranges.into_iter().find(|r| (r.first, r.last) == span) {
                        Some(range) => {
                            let keys = vec![range.data_key.clone(), range.index_key.clone()];
                            self.flows.insert(id, Flow::Delete { op, client, range: Some(range), span, row });
                            self.s3(ctx, id, S3Request::Delete { keys });
                        }
                        None => self.reply(ctx, id, client, op, Reply::Failed("no such range")),
                    }
                }
                (Some(range), Outcome::S3(S3Response::Deleted(_))) => {
                    let txn = Txn::DeleteRangeId { id: range.id, schedule: Schedule::No };
                    self.flows.insert(id, Flow::Delete { op, client, range: Some(range), span, row: true });
                    self.db(ctx, id, txn);
                }
                (Some(range), Outcome::S3(_) | Outcome::Lost) if !row => {
                    // The objects' deletion failed: the code schedules them by presigned URL
                    // (rows the deletion worker never takes: its query needs an object name)
                    // and deletes the row anyway (delete_datarange.go:71-84, 159-164 at
                    // fa4800e), so the objects stay in the store for good.
                    ctx.sometimes("a delete whose objects could not be deleted removed its range", true);
                    let txn = Txn::DeleteRangeId { id: range.id, schedule: Schedule::ByUrl };
                    self.flows.insert(id, Flow::Delete { op, client, range: Some(range), span, row: true });
                    self.db(ctx, id, txn);
                }
                (Some(_), Outcome::Db(TxnResult::Ranges(_))) => self.reply(ctx, id, client, op, Reply::Done),
                (None, Outcome::Db(_)) => self.reply(ctx, id, client, op, Reply::Failed("the delete failed")),
                // A deletion or a transaction that got no answer may have happened.
                _ => self.reply(ctx, id, client, op, Reply::Unknown),
            },
            Flow::Deletions { .. } => self.deletions(ctx, id, flow, outcome),
            Flow::Import { op, client, listed } => match (listed, outcome) {
                (false, Outcome::S3(S3Response::Keys(keys))) => {
                    let (pairs, counters) = import_pairs(&keys);
                    self.flows.insert(id, Flow::Import { op, client, listed: true });
                    self.db(ctx, id, Txn::Import { pairs, counters, careful: self.safe() });
                }
                (true, Outcome::Db(TxnResult::Done)) => self.reply(ctx, id, client, op, Reply::Done),
                (true, Outcome::Lost) => self.reply(ctx, id, client, op, Reply::Unknown),
                _ => self.reply(ctx, id, client, op, Reply::Failed("the import failed")),
            },
            Flow::Leases { .. } => self.leases(ctx, id, flow, outcome),
            Flow::Abort => {
                self.flows.remove(&id);
            }
        }
    }

    fn upload(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, flow: Flow, outcome: Outcome) {
        let Flow::Upload { op, client, first, last, size, aggregate, row, sources } = flow else {
            unreachable!()
        };
        let config = self.shared.config.clone();
        let now = ctx.now();
        match (row, outcome) {
            (None, Outcome::Db(TxnResult::Ranges(found))) if !aggregate => {
                if !found.is_empty() {
                    return self.reply(ctx, id, client, op, Reply::Failed("overlaps a completed range"));
                }
                let txn = Txn::Start {
                    first,
                    last,
                    data_size: size,
                    aggregate: false,
                    started: now,
                    counter_in_keys: !config.has(Bug::NoUploadCounter),
                };
                self.flows.insert(
                    id,
                    Flow::Upload { op, client, first, last, size, aggregate, row: None, sources: vec![] },
                );
                self.db(ctx, id, txn);
            }
            (None, Outcome::Db(TxnResult::Ranges(found))) if !self.safe() && sources.is_empty() => {
                // The code's first statement, outside any transaction: is the span fully
                // covered (start_aggregate.go:88-101 at fa4800e)? Its second, also outside,
                // reads the ranges again (:103-114).
                if !fully_covered(&found, first, last) {
                    return self.reply(ctx, id, client, op, Reply::Failed("the span is not fully covered"));
                }
                self.flows.insert(
                    id,
                    Flow::Upload { op, client, first, last, size, aggregate, row: None, sources: found },
                );
                self.db(ctx, id, Txn::Ranges { first, last });
            }
            (None, Outcome::Db(TxnResult::Ranges(found))) => {
                if !self.safe() && found.len() < 2 {
                    return self.reply(ctx, id, client, op, Reply::Failed("fewer than 2 ranges in the span"));
                }
                // The aggregate's size: its sources' entries under one trailer; 079d590
                // counted the datapoints' bytes alone.
                let total: u64 = found.iter().map(|r| r.size).sum();
                let n = found.len() as u64;
                let estimate = if config.has(Bug::SizeEstimate) {
                    total.saturating_sub(TRAILER * n + tarball::BLOCK * (last - first + 1))
                } else {
                    total.saturating_sub(TRAILER * n.saturating_sub(1))
                };
                let counter_in_keys = !config.has(Bug::NoUploadCounter);
                let txn = if self.safe() {
                    // One transaction checks the span and records its sources.
                    Txn::Start {
                        first,
                        last,
                        data_size: estimate,
                        aggregate: true,
                        started: now,
                        counter_in_keys,
                    }
                } else {
                    // The code's transaction inserts the row with the sources its second
                    // statement read, checking nothing again (:124-277).
                    let sources = found.iter().map(|r| r.id).collect();
                    Txn::StartAggregate {
                        first,
                        last,
                        data_size: estimate,
                        started: now,
                        counter_in_keys,
                        sources,
                    }
                };
                self.flows.insert(
                    id,
                    Flow::Upload {
                        op,
                        client,
                        first,
                        last,
                        size: estimate,
                        aggregate,
                        row: None,
                        sources: found,
                    },
                );
                self.db(ctx, id, txn);
            }
            (None, Outcome::Db(TxnResult::Upload(Some(row)))) => {
                ctx.fact(Datas3tFact::Leased { op, data_key: row.data_key.clone() });
                let multipart = row.data_size >= config.multipart_threshold.0;
                self.flows.insert(
                    id,
                    Flow::Upload {
                        op,
                        client,
                        first,
                        last,
                        size,
                        aggregate,
                        row: Some(row.clone()),
                        sources,
                    },
                );
                if multipart {
                    self.s3(ctx, id, S3Request::Create { key: row.data_key });
                } else {
                    self.plan(ctx, id);
                }
            }
            (Some(row), Outcome::S3(S3Response::Created(upload))) => {
                let row = Upload { multipart: Some(upload), ..row };
                self.flows.insert(
                    id,
                    Flow::Upload {
                        op,
                        client,
                        first,
                        last,
                        size,
                        aggregate,
                        row: Some(row.clone()),
                        sources,
                    },
                );
                self.db(ctx, id, Txn::SetMultipart { upload: row.id, multipart: upload });
            }
            (Some(_), Outcome::Db(TxnResult::Done)) => self.plan(ctx, id),
            (_, Outcome::Db(TxnResult::Refused(why))) => self.reply(ctx, id, client, op, Reply::Failed(why)),
            _ => self.reply(ctx, id, client, op, Reply::Failed("the upload could not start")),
        }
    }

    fn plan(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64) {
        let Some(Flow::Upload { op, client, row: Some(row), sources, aggregate, .. }) =
            self.flows.get(&id).cloned()
        else {
            return;
        };
        let (data, part_size) = self.data_urls(ctx, &row);
        let index = self.upload_url(ctx, &row, Grant::Put { key: row.index_key.clone() });
        let reply = if aggregate {
            let ids = row.sources.clone().unwrap_or_default();
            let sources = sources
                .iter()
                .filter(|s| ids.contains(&s.id))
                .map(|s| {
                    let get = |key: &String| self.url(ctx, Grant::Get { key: key.clone(), range: None });
                    (get(&s.data_key), get(&s.index_key))
                })
                .collect();
            Reply::AggregatePlan { upload: row.id, sources, data, part_size, index }
        } else {
            Reply::UploadPlan { upload: row.id, data, part_size, index }
        };
        self.reply(ctx, id, client, op, reply);
    }

    fn complete(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, flow: Flow, outcome: Outcome) {
        let Flow::Complete { op, client, etags, row, check } = flow else { unreachable!() };
        let set = |server: &mut Server, row: &Upload, check: Check| {
            server.flows.insert(
                id,
                Flow::Complete { op, client, etags: etags.clone(), row: Some(row.clone()), check },
            );
        };
        let fail = |server: &mut Server, ctx: &mut Ctx<'_, Msg>, row: &Upload, why: &'static str| {
            // A failed validation: schedule both objects for deletion, delete the row. The
            // code schedules an upload's by presigned URL (complete_upload.go:182-243 at
            // fa4800e) and an aggregate's by name (complete_aggregate.go:222-257).
            set(server, row, Check::Dropped(why));
            let by_name = server.safe() || row.sources.is_some();
            let schedule = if by_name { Schedule::Named } else { Schedule::ByUrl };
            server.db(ctx, id, drop_row(row, schedule));
        };
        let row = match (row, &outcome) {
            (None, Outcome::Db(TxnResult::Upload(Some(row)))) => {
                let row = row.clone();
                match row.multipart {
                    Some(upload) => {
                        set(self, &row, Check::Assemble);
                        let parts = etags.iter().enumerate().map(|(i, e)| (i as u32 + 1, *e)).collect();
                        self.s3(ctx, id, S3Request::Complete { upload, parts });
                    }
                    None => {
                        set(self, &row, Check::HeadIndex);
                        self.s3(ctx, id, S3Request::Head { key: row.index_key.clone() });
                    }
                }
                return;
            }
            (None, _) => return self.reply(ctx, id, client, op, Reply::Failed("no such upload")),
            (Some(row), _) => row,
        };
        match (check, outcome) {
            (Check::Assemble, Outcome::S3(S3Response::Done)) => {
                set(self, &row, Check::HeadIndex);
                self.s3(ctx, id, S3Request::Head { key: row.index_key.clone() });
            }
            (Check::Assemble, _) => {
                ctx.sometimes(class::MULTIPART_FAILED, true);
                fail(self, ctx, &row, "the multipart upload did not complete")
            }
            (Check::HeadIndex, Outcome::S3(S3Response::Size(_))) => {
                set(self, &row, Check::HeadData);
                self.s3(ctx, id, S3Request::Head { key: row.data_key.clone() });
            }
            (Check::HeadData, Outcome::S3(S3Response::Size(data_size))) => {
                if row.sources.is_none() && data_size != row.data_size {
                    return fail(self, ctx, &row, "the data's size is not the size announced");
                }
                set(self, &row, Check::Index { data_size });
                self.s3(ctx, id, S3Request::Get { key: row.index_key.clone(), range: None });
            }
            (Check::Index { data_size }, Outcome::S3(S3Response::Body(bytes))) => {
                let bytes = bytes.to_vec();
                if bytes.len() % 16 != 0 && !self.safe() {
                    // The code skips validation of an index that is not made of 16-byte
                    // entries, and the range is created (complete_upload.go:280-285,
                    // complete_aggregate.go:330-334 at fa4800e).
                    ctx.sometimes("an index not made of 16-byte entries skipped validation", true);
                    return self.validated(ctx, id, &row);
                }
                let index = match tarball::parse_index(&bytes) {
                    Ok(index) if !index.is_empty() => index,
                    _ => return fail(self, ctx, &row, "the index is empty or malformed"),
                };
                if index.last().expect("not empty").end() + TRAILER != data_size {
                    return fail(self, ctx, &row, "the index does not end where the data does");
                }
                // The entry count is checked for aggregates only (complete_aggregate.go:341-345);
                // the safe mode checks it for every range.
                let counted = row.sources.is_some() || self.safe();
                if counted && index.len() as u64 != row.last - row.first + 1 {
                    return fail(self, ctx, &row, "the index does not hold one entry per datapoint");
                }
                // The first, the last and up to 3 distinct random middle entries
                // (complete_upload.go:303-328).
                let middle = 3.min(index.len().saturating_sub(2));
                let mut picks = vec![0, index.len() - 1];
                while picks.len() < middle + 2 {
                    let pick = 1 + ctx.rng().below(index.len() as u64 - 2) as usize;
                    if !picks.contains(&pick) {
                        picks.push(pick);
                    }
                }
                picks.sort_unstable();
                picks.dedup();
                self.header(ctx, id, &row, data_size, index, picks);
            }
            (Check::Headers { data_size, index, mut picks }, Outcome::S3(S3Response::Body(block))) => {
                let at = picks.remove(0);
                let expected = (tarball::name(row.first + at as u64), index[at].size);
                let stated = tarball::read_header(&block.to_vec()).ok();
                if stated.as_ref().map(|(n, s)| (tarball::number(n), *s))
                    != Some((tarball::number(&expected.0), expected.1))
                {
                    return fail(self, ctx, &row, "a header does not match the index");
                }
                if picks.is_empty() {
                    self.validated(ctx, id, &row);
                } else {
                    self.header(ctx, id, &row, data_size, index, picks);
                }
            }
            (Check::Reread, Outcome::Db(TxnResult::Upload(Some(read)))) => {
                if read.sources.is_some() {
                    if let Some(Flow::Complete { check, .. }) = self.flows.get_mut(&id) {
                        *check = Check::Query;
                    }
                    self.db(ctx, id, Txn::Ranges { first: read.first, last: read.last });
                } else {
                    self.commit(ctx, id, &read, None);
                }
            }
            (Check::Reread, Outcome::Db(TxnResult::Upload(None))) => {
                self.reply(ctx, id, client, op, Reply::Failed("failed to get upload details"))
            }
            (Check::Query, Outcome::Db(TxnResult::Ranges(span))) => self.commit(ctx, id, &row, Some(span)),
            (Check::Commit, Outcome::Db(TxnResult::Done)) => self.reply(ctx, id, client, op, Reply::Done),
            (Check::Commit, Outcome::Lost) => self.reply(ctx, id, client, op, Reply::Unknown),
            (Check::Commit, Outcome::Db(TxnResult::Refused(why))) if self.safe() => {
                set(self, &row, Check::Refused(why));
                self.db(ctx, id, drop_row(&row, Schedule::Named));
            }
            (Check::Dropped(why) | Check::Refused(why), _) => {
                self.reply(ctx, id, client, op, Reply::Failed(why))
            }
            (
                Check::HeadIndex | Check::HeadData | Check::Index { .. } | Check::Headers { .. },
                Outcome::S3(S3Response::Error(S3Error::NotFound)),
            ) => fail(self, ctx, &row, "an object is missing"),
            _ => self.reply(ctx, id, client, op, Reply::Failed("the completion failed")),
        }
    }

    /// A completion whose validation passed (or was skipped) goes on to its transaction.
    fn validated(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, row: &Upload) {
        if self.safe() {
            return self.commit(ctx, id, row, None);
        }
        // The real completion is one READ COMMITTED transaction, run statement by statement:
        // it reads the upload row (complete_upload.go:146-150, complete_aggregate.go:175-179
        // at fa4800e), an aggregate then queries its span, and the writes come last, acting
        // on what those statements saw while other transactions commit in between: two
        // completes of one upload that both read the row both create a range.
        if let Some(Flow::Complete { check, .. }) = self.flows.get_mut(&id) {
            *check = Check::Reread;
        }
        self.db(ctx, id, Txn::Get { upload: row.id });
    }

    /// The completing transaction (its writes, after `span` was queried, if it was).
    fn commit(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, row: &Upload, span: Option<Vec<Range>>) {
        if let Some(Flow::Complete { check, .. }) = self.flows.get_mut(&id) {
            *check = Check::Commit;
        }
        let txn = Txn::Complete {
            upload: row.id,
            recheck: self.safe(),
            delete_own: self.shared.config.has(Bug::AggregateDeletesItself),
            span,
            read: (!self.safe()).then(|| row.clone()),
        };
        self.db(ctx, id, txn);
    }

    fn header(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        id: u64,
        row: &Upload,
        data_size: u64,
        index: Vec<IndexEntry>,
        picks: Vec<usize>,
    ) {
        let offset = index[picks[0]].header_offset;
        let request =
            S3Request::Get { key: row.data_key.clone(), range: Some((offset, offset + tarball::BLOCK)) };
        if let Some(Flow::Complete { check, .. }) = self.flows.get_mut(&id) {
            *check = Check::Headers { data_size, index, picks };
        }
        self.s3(ctx, id, request);
    }

    fn download(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, flow: Flow, outcome: Outcome) {
        let Flow::Download { op, client, first, last, mut ranges, mut next, mut pieces } = flow else {
            unreachable!()
        };
        match outcome {
            Outcome::Db(TxnResult::Ranges(found)) => ranges = found,
            Outcome::S3(S3Response::Body(bytes)) => match tarball::parse_index(&bytes.to_vec()) {
                Ok(index) => {
                    self.cache.insert(ranges[next].index_key.clone(), index);
                }
                Err(_) => return self.reply(ctx, id, client, op, Reply::Failed("an index is malformed")),
            },
            _ => return self.reply(ctx, id, client, op, Reply::Failed("the download could not be planned")),
        }
        while next < ranges.len() {
            let range = &ranges[next];
            let Some(index) = self.cache.get(&range.index_key) else {
                let key = range.index_key.clone();
                self.flows.insert(id, Flow::Download { op, client, first, last, ranges, next, pieces });
                return self.s3(ctx, id, S3Request::Get { key, range: None });
            };
            let from = first.max(range.first) - range.first;
            let to = last.min(range.last) - range.first;
            if let (Some(a), Some(b)) = (index.get(from as usize), index.get(to as usize)) {
                let grant =
                    Grant::Get { key: range.data_key.clone(), range: Some((a.header_offset, b.end())) };
                pieces.push(self.url(ctx, grant));
            }
            next += 1;
        }
        self.reply(ctx, id, client, op, Reply::DownloadPlan { pieces });
    }

    fn deletions(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, flow: Flow, outcome: Outcome) {
        let Flow::Deletions { taken } = flow else { unreachable!() };
        let config = &self.shared.config;
        let (poll, idle_max) = (config.deletion_poll, config.deletion_idle_max);
        match outcome {
            Outcome::Db(TxnResult::Deletions(rows)) if rows.is_empty() => {
                self.flows.remove(&id);
                self.idle = (self.idle.mul_f64(1.5)).min(idle_max);
                ctx.set_timer(self.idle, Timer::Deletion);
            }
            Outcome::Db(TxnResult::Deletions(rows)) => {
                let keys: BTreeSet<String> = rows.iter().map(|(_, k)| k.clone()).collect();
                self.flows.insert(id, Flow::Deletions { taken: rows });
                self.s3(ctx, id, S3Request::Delete { keys: keys.into_iter().collect() });
            }
            Outcome::S3(S3Response::Deleted(keys)) => {
                let ids = taken.iter().filter(|(_, k)| keys.contains(k)).map(|(id, _)| *id).collect();
                self.flows.insert(id, Flow::Deletions { taken: vec![] });
                self.db(ctx, id, Txn::Deleted { ids });
            }
            _ => {
                self.flows.remove(&id);
                self.idle = poll;
                ctx.set_timer(poll, Timer::Deletion);
            }
        }
    }

    fn leases(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, flow: Flow, outcome: Outcome) {
        let Flow::Leases { rows, stale } = flow else { unreachable!() };
        let lease = self.shared.config.upload_lease;
        let now = ctx.now();
        match (rows, outcome) {
            (None, Outcome::Db(TxnResult::Uploads(all))) => {
                let stale = all.iter().filter(|u| u.started + lease < now).cloned().collect();
                self.flows.insert(id, Flow::Leases { rows: Some(all), stale });
                let prefix = format!("datas3t/{}/", super::db::NAME);
                self.s3(ctx, id, S3Request::ListUploads { prefix });
            }
            (Some(all), Outcome::S3(S3Response::Uploads(uploads))) => {
                // Abort the multipart uploads of stale rows, and those no row knows.
                let live: BTreeSet<&String> =
                    all.iter().filter(|u| !stale.contains(u)).map(|u| &u.data_key).collect();
                let doomed: Vec<&(u64, String)> =
                    uploads.iter().filter(|(_, key)| !live.contains(key)).collect();
                ctx.sometimes(class::ABANDONED_ABORTED, !doomed.is_empty());
                for &(upload, ref data_key) in doomed {
                    let listed = all.iter().any(|u| u.data_key == *data_key);
                    ctx.fact(Datas3tFact::LeaseAborted { data_key: data_key.clone(), listed });
                    self.start(ctx, Flow::Abort, Call::S3(S3Request::Abort { upload }));
                }
                self.drop_next(ctx, id, stale);
            }
            (Some(_), Outcome::Db(TxnResult::Done)) => self.drop_next(ctx, id, stale),
            _ => {
                self.flows.remove(&id);
            }
        }
    }

    /// A cancel. The safe mode aborts a multipart upload and drops the row, its objects
    /// scheduled for the deletion worker. The faithful mode does as `cancel_upload.go` at
    /// fa4800e: abort a multipart upload (`:161-212`), try to delete the objects at once (the
    /// index alone after an abort; `:119-159`), schedule those whose deletion failed by
    /// presigned URL (`:247-281`), whatever failed, and delete the row (`:56-64`).
    fn cancel(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, flow: Flow, outcome: Outcome) {
        let Flow::Cancel { op, client, row, deleting } = flow else { unreachable!() };
        let faithful = !self.safe();
        let next = |server: &mut Server, row: &Upload, deleting: Option<Vec<String>>| {
            server.flows.insert(id, Flow::Cancel { op, client, row: Some(row.clone()), deleting });
        };
        match (row, deleting, outcome) {
            (None, _, Outcome::Db(TxnResult::Upload(Some(row)))) => match row.multipart {
                Some(upload) => {
                    next(self, &row, None);
                    self.s3(ctx, id, S3Request::Abort { upload });
                }
                None if faithful => {
                    let keys = vec![row.data_key.clone(), row.index_key.clone()];
                    next(self, &row, Some(keys.clone()));
                    self.s3(ctx, id, S3Request::Delete { keys });
                }
                None => {
                    next(self, &row, None);
                    self.db(ctx, id, drop_row(&row, Schedule::Named));
                }
            },
            (Some(row), None, Outcome::S3(_) | Outcome::Lost) if faithful => {
                let keys = vec![row.index_key.clone()];
                next(self, &row, Some(keys.clone()));
                self.s3(ctx, id, S3Request::Delete { keys });
            }
            (Some(row), None, Outcome::S3(_)) => {
                next(self, &row, None);
                self.db(ctx, id, drop_row(&row, Schedule::Named));
            }
            (Some(row), Some(keys), Outcome::S3(S3Response::Deleted(_))) => {
                next(self, &row, Some(vec![]));
                self.db(ctx, id, Txn::Drop { upload: row.id, schedule: Schedule::No, keys });
            }
            (Some(row), Some(keys), Outcome::S3(_) | Outcome::Lost) if !keys.is_empty() => {
                ctx.sometimes("a cancel scheduled objects by presigned URL", true);
                next(self, &row, Some(vec![]));
                self.db(ctx, id, Txn::Drop { upload: row.id, schedule: Schedule::ByUrl, keys });
            }
            (Some(_), _, Outcome::Db(TxnResult::Done)) => self.reply(ctx, id, client, op, Reply::Done),
            _ => self.reply(ctx, id, client, op, Reply::Failed("the cancel failed")),
        }
    }

    /// Drops the next stale upload row (its objects scheduled for deletion).
    fn drop_next(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, mut stale: Vec<Upload>) {
        if stale.is_empty() {
            self.flows.remove(&id);
            return;
        }
        let row = stale.remove(0);
        self.flows.insert(id, Flow::Leases { rows: Some(vec![]), stale });
        self.db(ctx, id, drop_row(&row, Schedule::Named));
    }
}

/// Drops upload row `row`, its two objects scheduled for deletion as `schedule` says.
/// The code's coverage query (CheckFullDatarangeCoverage, postgresstore/query.sql:266-300 at
/// fa4800e) over the ranges that intersect [first, last], ordered by first datapoint: at least
/// two, reaching both ends (they may reach past them), and none starting more than one past
/// the end of the one before it.
fn fully_covered(ranges: &[Range], first: u64, last: u64) -> bool {
    let mut ordered: Vec<&Range> = ranges.iter().collect();
    ordered.sort_by_key(|r| r.first);
    let reaches = ordered.first().is_some_and(|r| r.first <= first)
        && ordered.iter().map(|r| r.last).max().is_some_and(|end| end >= last);
    let mut previous_end = first.wrapping_sub(1);
    let gapless = ordered.iter().all(|r| {
        let gap = r.first > previous_end.wrapping_add(1);
        previous_end = r.last;
        !gap
    });
    ordered.len() >= 2 && reaches && gapless
}

fn drop_row(row: &Upload, schedule: Schedule) -> Txn {
    Txn::Drop { upload: row.id, schedule, keys: vec![row.data_key.clone(), row.index_key.clone()] }
}

/// The (data, index) object pairs of a listing, as ranges (ids to be given), and the
/// upload counters their keys carry.
fn import_pairs(keys: &[(String, u64)]) -> (Vec<Range>, Vec<u64>) {
    let sizes: BTreeMap<&str, u64> = keys.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    let mut pairs = Vec::new();
    let mut counters = Vec::new();
    for (key, size) in keys {
        let Some(stem) = key.strip_suffix(".tar") else { continue };
        let index_key = format!("{stem}.index");
        if !sizes.contains_key(index_key.as_str()) {
            continue;
        }
        let name = stem.rsplit('/').next().unwrap_or(stem);
        let mut parts = name.split('-').map(str::parse::<u64>);
        let (Some(Ok(first)), Some(Ok(last))) = (parts.next(), parts.next()) else { continue };
        if let Some(Ok(counter)) = parts.next() {
            counters.push(counter);
        }
        pairs.push(Range { id: 0, first, last, data_key: key.clone(), index_key, size: *size });
    }
    (pairs, counters)
}

impl Node for Server {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_role(super::Role::Server);
        ctx.set_timer(self.shared.config.deletion_poll, Timer::Deletion);
        if self.safe() {
            ctx.set_timer(self.shared.config.upload_lease / 2, Timer::Leases);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { op, request } => self.on_request(ctx, from, op, request),
            Msg::S3Reply { req, response } => self.answered(ctx, req, Some(Outcome::S3(response))),
            Msg::TxnReply { req, result } => self.answered(ctx, req, Some(Outcome::Db(result))),
            _ => ctx.unexpected("the server takes client requests and store answers"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Request(req) => self.answered(ctx, req, None),
            Timer::Retry(req) => {
                if let Some(waiting) = self.waiting.remove(&req) {
                    self.call(ctx, waiting.flow, waiting.call, waiting.attempts);
                }
            }
            Timer::Deletion => {
                let limit = 1000;
                self.start(ctx, Flow::Deletions { taken: vec![] }, Call::Db(Txn::TakeDeletions { limit }));
            }
            Timer::Leases => {
                let now = ctx.now();
                self.start(
                    ctx,
                    Flow::Leases { rows: None, stale: vec![] },
                    Call::Db(Txn::Stale { before: now + Duration::from_nanos(1) }),
                );
                // Fault point: the next collection soon, racing uploads that finish as their
                // lease ends.
                let every = self.shared.config.upload_lease / 2;
                let every = if ctx.buggify("datas3t.leases_soon") { every / 10 } else { every };
                ctx.set_timer(every, Timer::Leases);
            }
            Timer::Operation(_) => ctx.unexpected("servers set request, retry and worker timers"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(spans: &[(u64, u64)]) -> Vec<Range> {
        spans
            .iter()
            .enumerate()
            .map(|(i, &(first, last))| Range {
                id: i as u64,
                first,
                last,
                data_key: String::new(),
                index_key: String::new(),
                size: 0,
            })
            .collect()
    }

    /// The code's coverage rule: two or more ranges, reaching both ends (past them too),
    /// without a gap; ranges may overlap.
    #[test]
    fn coverage_is_the_code_query() {
        assert!(fully_covered(&ranges(&[(0, 4), (5, 9)]), 0, 9));
        assert!(fully_covered(&ranges(&[(5, 9), (0, 4)]), 0, 9), "ordered by first datapoint");
        assert!(fully_covered(&ranges(&[(0, 4), (5, 9)]), 3, 7), "ranges reaching past the span");
        assert!(fully_covered(&ranges(&[(0, 6), (3, 9)]), 0, 9), "overlapping ranges");
        assert!(!fully_covered(&ranges(&[(0, 9)]), 0, 9), "one range");
        assert!(!fully_covered(&ranges(&[(0, 3), (5, 9)]), 0, 9), "a gap");
        assert!(!fully_covered(&ranges(&[(1, 4), (5, 9)]), 0, 9), "the first datapoint missing");
        assert!(!fully_covered(&ranges(&[(0, 4), (5, 8)]), 0, 9), "the last datapoint missing");
    }
}
