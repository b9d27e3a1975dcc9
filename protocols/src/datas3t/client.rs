//! A datas3t client: builds real TAR dataranges of numbered datapoints, uploads them by the
//! server's plan (one PUT or parts, then the index), aggregates (downloads the sources,
//! concatenates their entries, uploads the result), downloads ranges and checks them byte
//! for byte, and deletes ranges.
//!
//! Datapoint n of the upload with value v is `content(n, v)`: its first 16 bytes say n and
//! v, the rest come from the run's seed, so a download names the upload it returns and the
//! client checks every byte. A download's value lists (n, v) per datapoint, or is a `bad:`
//! mark if a byte, a name or the TAR itself is wrong.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use sim::kernel::hash::mix64;
use sim::kernel::workload::Operations;
use sim::prelude::*;

use super::check::Datas3tFact;
use super::msg::{Body, Grant, Msg, Reply, Request, S3Error, S3Request, S3Response, Timer, Url};
use super::tarball::{self, Datarange, Layout, TRAILER};
use super::Datas3tOp;
use super::Shared;

fn word(seed: u64, n: u64, version: u64, i: u64) -> u64 {
    mix64(seed ^ mix64(n.wrapping_mul(0x9E37_79B9) ^ mix64(version ^ i)))
}

/// The length of `content(seed, n, version, max)`, without making it.
pub fn content_len(seed: u64, n: u64, version: u64, max: u64) -> u64 {
    16 + word(seed, n, version, u64::MAX) % max
}

/// Datapoint `n` as the upload with value `version` writes it (`max`: the size bound).
pub fn content(seed: u64, n: u64, version: u64, max: u64) -> Vec<u8> {
    let word = |i: u64| word(seed, n, version, i);
    let len = content_len(seed, n, version, max);
    let mut bytes = Vec::with_capacity(len as usize);
    bytes.extend_from_slice(&n.to_be_bytes());
    bytes.extend_from_slice(&version.to_be_bytes());
    let mut i = 0;
    while (bytes.len() as u64) < len {
        bytes.extend_from_slice(&word(i).to_le_bytes());
        i += 1;
    }
    bytes.truncate(len as usize);
    bytes
}

/// Breaks a datarange the way a faulty client could: 0 cuts the index short, 1 makes the
/// first header name another datapoint (checksum fixed, so only the name is wrong), 2 drops
/// the index's last entry.
fn malform(range: &mut Datarange, how: u64) {
    match how {
        0 => range.index.truncate(range.index.len() - 7),
        1 => {
            let mut header = tar::Header::new_ustar();
            header.as_mut_bytes().copy_from_slice(&range.tar[..512]);
            let (name, _) = tarball::read_header(&range.tar[..512]).expect("a header we built");
            let n = tarball::number(&name).expect("a datapoint name");
            header.set_path(tarball::name(n + 1_000_000)).expect("a datapoint name fits");
            header.set_cksum();
            range.tar[..512].copy_from_slice(header.as_bytes());
        }
        _ => range.index.truncate(range.index.len() - 16),
    }
}

/// A datarange to upload: described (its bytes rendered where read) or, when a client
/// breaks one or an aggregate's sources came back as bytes, held.
enum Built {
    Described(Layout),
    Bytes(Datarange),
}

impl Built {
    fn body(&self) -> Body {
        match self {
            Built::Described(layout) => Body::Tar(Rc::new(layout.clone())),
            Built::Bytes(range) => Body::bytes(&range.tar),
        }
    }

    fn index(&self) -> Vec<u8> {
        match self {
            Built::Described(layout) => layout.index(),
            Built::Bytes(range) => range.index.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Upload,
    Aggregate,
    Download,
    Delete,
    Import,
    /// The cancel of the upload `upload_op` whose object-store calls failed for good.
    Cancel {
        upload_op: u64,
    },
}

/// What to do once the queued object-store calls are done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    Complete,
    Concatenate,
    Verify,
}

struct Pending {
    kind: Kind,
    first: u64,
    last: u64,
    /// The TAR being uploaded (an upload's, or an aggregate's once concatenated).
    tar: Option<Built>,
    upload: Option<u64>,
    /// The object-store calls left, in order, and what comes after them.
    calls: VecDeque<S3Request>,
    then: Then,
    /// The plan's upload URLs, kept while an aggregate downloads its sources.
    plan: Option<(Vec<Url>, u64, Url)>,
    etags: Vec<u64>,
    bodies: Vec<Body>,
    /// The call in flight: its request id, attempts, timer.
    call: Option<(u64, u32, TimerId)>,
    /// The server request's timer.
    timer: Option<TimerId>,
}

/// A client.
pub struct Client {
    shared: Rc<Shared>,
    pending: BTreeMap<u64, Pending>,
    /// Object-store request id -> operation.
    calls: BTreeMap<u64, u64>,
    next: u64,
    /// The bulk load's ranges left for this client, and its upload in progress.
    load: VecDeque<u64>,
    loading: Option<u64>,
}

impl Client {
    /// Client `me`: in a bulk load it uploads ranges me, me + clients, ...
    pub fn new(shared: Rc<Shared>, me: u64) -> Client {
        let step = shared.clients.max(1);
        let load = (me..shared.config.load).step_by(step as usize).collect();
        Client { shared, pending: BTreeMap::new(), calls: BTreeMap::new(), next: 0, load, loading: None }
    }

    /// Starts the next upload of the bulk load (its version: past any workload value).
    fn load_next(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let Some(key) = self.load.pop_front() else { return };
        let version = (1 << 40) + key;
        let op = ctx.begin_operation(Datas3tOp::Upload.name(), key, Value::Int(version as i64));
        self.loading = Some(op);
        self.start_upload(ctx, op, key, version);
    }

    fn start_upload(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, key: u64, v: u64) {
        let config = &self.shared.config;
        let per = config.datapoints_per_upload;
        let (first, last) = config.upload_range(key, v);
        let (seed, max) = (self.shared.seed, config.max_datapoint_size.0);
        let entries = (first..=last).map(|n| (n, v, content_len(seed, n, v, max))).collect();
        let mut tar = Built::Described(Layout { seed, max, entries });
        if ctx.rng().unit() < config.malformed_rate {
            // Built with the tar crate, then broken.
            let files: Vec<(u64, Vec<u8>)> = (first..=last).map(|n| (n, content(seed, n, v, max))).collect();
            let mut range = tarball::build(&files);
            let how = ctx.rng().below(3);
            malform(&mut range, how);
            ctx.fact(Datas3tFact::Malformed { op, how });
            tar = Built::Bytes(range);
        }
        let request = Request::StartUpload { first, count: per, data_size: tar.body().len() };
        let mut p = self.pending_for(Kind::Upload, first, last);
        p.tar = Some(tar);
        self.pending.insert(op, p);
        self.ask(ctx, op, request);
    }

    fn ask(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, request: Request) {
        ctx.send(self.shared.server, Msg::Request { op, request });
        let timer = ctx.set_timer(self.shared.config.client_timeout, Timer::Operation(op));
        if let Some(p) = self.pending.get_mut(&op) {
            p.timer = Some(timer);
        }
    }

    fn done(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, outcome: Outcome) {
        let mut cancelled = None;
        if let Some(p) = self.pending.remove(&op) {
            if let Some(timer) = p.timer {
                ctx.cancel_timer(timer);
            }
            if let Some((req, _, timer)) = p.call {
                ctx.cancel_timer(timer);
                self.calls.remove(&req);
            }
            if let Kind::Cancel { upload_op } = p.kind {
                cancelled = Some(upload_op);
            }
        }
        ctx.complete(op, outcome, Some(self.shared.server));
        if let Some(upload_op) = cancelled {
            // The cancel returned, whatever it said: the upload fails.
            return self.done(ctx, upload_op, Outcome::Fail);
        }
        if self.loading == Some(op) {
            self.loading = None;
            self.load_next(ctx);
        }
    }

    /// Sends the next queued object-store call, or does what comes after them.
    fn next_call(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, attempts: u32) {
        let Some(p) = self.pending.get_mut(&op) else { return };
        let Some(request) = p.calls.front().cloned() else {
            return self.after_calls(ctx, op);
        };
        self.next += 1;
        let req = self.next;
        ctx.send(self.shared.object_store, Msg::S3 { req, request });
        let timer = ctx.set_timer(self.shared.config.request_timeout, Timer::Request(req));
        p.call = Some((req, attempts, timer));
        self.calls.insert(req, op);
    }

    fn s3_answered(&mut self, ctx: &mut Ctx<'_, Msg>, req: u64, response: Option<S3Response>) {
        let Some(op) = self.calls.remove(&req) else { return };
        let Some(p) = self.pending.get_mut(&op) else { return };
        let Some((_, attempts, timer)) = p.call.take() else { return };
        ctx.cancel_timer(timer);
        match response {
            None | Some(S3Response::Error(S3Error::Internal)) if attempts < self.shared.config.retries => {
                self.next_call(ctx, op, attempts + 1);
            }
            Some(S3Response::Etag(etag)) => {
                p.etags.push(etag);
                p.calls.pop_front();
                self.next_call(ctx, op, 0);
            }
            Some(S3Response::Body(body)) => {
                p.bodies.push(body);
                p.calls.pop_front();
                self.next_call(ctx, op, 0);
            }
            Some(S3Response::Done) => {
                p.calls.pop_front();
                self.next_call(ctx, op, 0);
            }
            _ => self.give_up(ctx, op),
        }
    }

    /// An object-store call failed for good: cancel the upload if there is one, and fail
    /// once the cancel returns. The real client awaits its cancel and ignores its error
    /// ("Best effort, ignore error", `client/upload_datarange_file.go:191, 202, 216` at
    /// fa4800e); the cancel is an operation of its own here (`cancel`, keyed by the range's
    /// first datapoint), so the history shows whether it worked.
    fn give_up(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64) {
        let Some(p) = self.pending.get(&op) else { return };
        let Some(upload) = p.upload else { return self.done(ctx, op, Outcome::Fail) };
        let (first, last) = (p.first, p.last);
        let cancel = ctx.begin_operation(Datas3tOp::Cancel.name(), first, Value::Int(upload as i64));
        let mut p = self.pending_for(Kind::Cancel { upload_op: op }, first, last);
        p.upload = Some(upload);
        self.pending.insert(cancel, p);
        self.ask(ctx, cancel, Request::CancelUpload { upload });
    }

    fn after_calls(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64) {
        let Some(p) = self.pending.get_mut(&op) else { return };
        match p.then {
            Then::Complete => {
                if ctx.rng().unit() < self.shared.config.abandon_rate {
                    // The client disappears: its objects are up, its upload never completed.
                    return self.done(ctx, op, Outcome::Info);
                }
                let Some(p) = self.pending.get_mut(&op) else { return };
                let (upload, etags) = (p.upload.expect("planned"), std::mem::take(&mut p.etags));
                self.ask(ctx, op, Request::CompleteUpload { upload, etags });
            }
            Then::Concatenate => {
                let bodies = std::mem::take(&mut p.bodies);
                let layouts: Option<Vec<&Layout>> = bodies
                    .chunks(2)
                    .map(|pair| match &pair[0] {
                        Body::Tar(layout) => Some(layout.as_ref()),
                        Body::Bytes(_) => None,
                    })
                    .collect();
                let joined = match layouts.and_then(|l| Layout::concat(&l)) {
                    Some(layout) => Built::Described(layout),
                    None => {
                        let sources: Vec<Datarange> = bodies
                            .chunks(2)
                            .map(|pair| Datarange { tar: pair[0].to_vec(), index: pair[1].to_vec() })
                            .collect();
                        let Ok(joined) = tarball::concat(&sources) else { return self.give_up(ctx, op) };
                        Built::Bytes(joined)
                    }
                };
                let (data, part_size, index) = p.plan.take().expect("planned");
                p.tar = Some(joined);
                if !self.queue_upload(op, &data, part_size, index) {
                    return self.give_up(ctx, op);
                }
                self.next_call(ctx, op, 0);
            }
            Then::Verify => {
                let mut bytes: Vec<u8> = p.bodies.iter().flat_map(Body::to_vec).collect();
                bytes.resize(bytes.len() + TRAILER as usize, 0);
                let (first, last) = (p.first, p.last);
                let value = self.verify(&bytes, first, last);
                self.done(ctx, op, Outcome::Ok(value));
            }
        }
    }

    /// Queues the PUTs of the pending TAR by `data` (one PUT, or parts) and its index.
    fn queue_upload(&mut self, op: u64, data: &[Url], part_size: u64, index: Url) -> bool {
        let Some(p) = self.pending.get_mut(&op) else { return false };
        let tar = p.tar.as_ref().expect("built");
        let body = tar.body();
        let single = matches!(data, [Url { grant: Grant::Put { .. }, .. }]);
        if single {
            p.calls.push_back(S3Request::Presigned { url: data[0].clone(), body: Some(body) });
        } else {
            let part_size = part_size.max(1);
            if body.len().div_ceil(part_size) != data.len() as u64 {
                return false;
            }
            for (i, url) in data.iter().enumerate() {
                let start = i as u64 * part_size;
                let part = Body::bytes(&body.slice(start, start + part_size));
                p.calls.push_back(S3Request::Presigned { url: url.clone(), body: Some(part) });
            }
        }
        p.calls.push_back(S3Request::Presigned { url: index, body: Some(Body::bytes(&tar.index())) });
        p.then = Then::Complete;
        true
    }

    /// What a download returned: (n, v) per datapoint, or a `bad:` mark.
    fn verify(&self, bytes: &[u8], first: u64, last: u64) -> Value {
        let files = match tarball::read(bytes) {
            Ok(files) => files,
            Err(e) => return Value::Str(format!("bad: {e}")),
        };
        let (seed, max) = (self.shared.seed, self.shared.config.max_datapoint_size.0);
        let mut seen = Vec::new();
        let mut previous = None;
        for (n, bytes) in files {
            if !(first..=last).contains(&n) || previous.is_some_and(|p| p >= n) {
                return Value::Str(format!("bad: datapoint {n} out of order or outside {first}..={last}"));
            }
            previous = Some(n);
            let version = bytes.get(8..16).map(|v| u64::from_be_bytes(v.try_into().expect("8 bytes")));
            match version {
                Some(v)
                    if bytes.get(..8) == Some(&n.to_be_bytes()[..]) && bytes == content(seed, n, v, max) =>
                {
                    seen.push(Value::List(vec![Value::Int(n as i64), Value::Int(v as i64)]));
                }
                _ => return Value::Str(format!("bad: datapoint {n}'s bytes are no upload's")),
            }
        }
        Value::List(seen)
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, reply: Reply) {
        let Some(p) = self.pending.get_mut(&op) else { return };
        if let Some(timer) = p.timer.take() {
            ctx.cancel_timer(timer);
        }
        match reply {
            Reply::Failed(_) => self.done(ctx, op, Outcome::Fail),
            Reply::Unknown => self.done(ctx, op, Outcome::Info),
            Reply::Done => self.done(ctx, op, Outcome::Ok(Value::Nil)),
            Reply::UploadPlan { upload, data, part_size, index } if p.kind == Kind::Upload => {
                p.upload = Some(upload);
                if !self.queue_upload(op, &data, part_size, index) {
                    return self.give_up(ctx, op);
                }
                self.next_call(ctx, op, 0);
            }
            Reply::AggregatePlan { upload, sources, data, part_size, index } if p.kind == Kind::Aggregate => {
                p.upload = Some(upload);
                p.plan = Some((data, part_size, index));
                for (tar, index) in sources {
                    p.calls.push_back(S3Request::Presigned { url: tar, body: None });
                    p.calls.push_back(S3Request::Presigned { url: index, body: None });
                }
                p.then = Then::Concatenate;
                self.next_call(ctx, op, 0);
            }
            Reply::DownloadPlan { pieces } if p.kind == Kind::Download => {
                p.calls.extend(pieces.into_iter().map(|url| S3Request::Presigned { url, body: None }));
                p.then = Then::Verify;
                self.next_call(ctx, op, 0);
            }
            _ => ctx.unexpected("a plan for another kind of operation"),
        }
    }
}

impl Node for Client {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.load_next(ctx);
    }

    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Msg>, op: Operation) {
        let config = &self.shared.config;
        let per = config.datapoints_per_upload;
        let (first, last) = (op.key * per, op.key * per + per - 1);
        let (kind, first, last, request) = match (op.kind::<Datas3tOp>(), &op.value) {
            (Datas3tOp::Upload, Value::Int(version)) => {
                return self.start_upload(ctx, op.id, op.key, *version as u64)
            }
            (Datas3tOp::Aggregate, _) => {
                let span = config.aggregate_ranges;
                let k0 = op.key - op.key % span;
                let (first, last) = (k0 * per, (k0 + span) * per - 1);
                (Kind::Aggregate, first, last, Request::StartAggregate { first, last })
            }
            (Datas3tOp::Download, _) => {
                (Kind::Download, first, last + per, Request::Download { first, last: last + per })
            }
            (Datas3tOp::Delete, _) => (Kind::Delete, first, last, Request::Delete { first, last }),
            (Datas3tOp::Import, _) => (Kind::Import, first, last, Request::Import),
            // `cancel` is the client's own (validation keeps it out of a mix).
            _ => return ctx.complete(op.id, Outcome::Fail, None),
        };
        let p = self.pending_for(kind, first, last);
        self.pending.insert(op.id, p);
        self.ask(ctx, op.id, request);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Reply { op, reply } => self.on_reply(ctx, op, reply),
            Msg::S3Reply { req, response } => self.s3_answered(ctx, req, Some(response)),
            _ => ctx.unexpected("clients get replies only"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Request(req) => self.s3_answered(ctx, req, None),
            Timer::Operation(op) => {
                // No answer from the server: a completion may have committed.
                let unknown = self.pending.get(&op).is_some_and(|p| {
                    p.kind != Kind::Download && p.upload.is_some()
                        || matches!(p.kind, Kind::Delete | Kind::Import)
                });
                if let Some(p) = self.pending.get_mut(&op) {
                    p.timer = None;
                }
                self.done(ctx, op, if unknown { Outcome::Info } else { Outcome::Fail });
            }
            _ => ctx.unexpected("clients set request and operation timers"),
        }
    }
}

impl Client {
    fn pending_for(&self, kind: Kind, first: u64, last: u64) -> Pending {
        Pending {
            kind,
            first,
            last,
            tar: None,
            upload: None,
            calls: VecDeque::new(),
            then: Then::Complete,
            plan: None,
            etags: Vec::new(),
            bodies: Vec::new(),
            call: None,
            timer: None,
        }
    }
}
