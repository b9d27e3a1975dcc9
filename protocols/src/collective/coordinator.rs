//! A member's coordinator: node registry and health, peering, placement, and the write,
//! read and delete paths, in the faithful mode and the durable one.
//!
//! Placement is the real one: the healthy nodes the coordinator knows (its own and its
//! peers'), in id order, replica i of chunk c on node (c + i) mod n. A `collective` write
//! stores each chunk's replicas one after the other (each with `store_timeout`), one chunk
//! at a time (a streamed file over 4 MiB: 3 MiB chunks, 10 at a time), keeps a chunk if one
//! replica stored it, and commits whatever it kept. A
//! `durable` write sends each chunk to `replication` nodes at once, replaces a failed one
//! with the next candidate, moves `parallel_chunks` chunks at a time, and commits (to redb)
//! only if every chunk reached the write quorum; else it fails and deletes what it stored.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use sim::prelude::*;
use sim::Payload;

use super::check::CollectiveFact;
use super::config::{Bug, Mode, MIB};
use super::meta::{Chunk, Entry, Meta};
use super::msg::{Answer, ChunkId, Msg, Path, Timer};
use super::{class, Shared};

/// Peer heartbeats and connects time out after this.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);
/// Peering retries back off from 1 s, doubling, to this.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Re-replication copies a coordinator runs at once.
const MAX_COPIES: usize = 16;

/// A storage node the coordinator knows of.
#[derive(Clone, Copy, Debug)]
struct Known {
    member: u32,
    healthy: bool,
    /// Since when it has not been healthy.
    down_since: Option<Time>,
    /// Bytes free on its disk, as its last health response said (unknown: `u64::MAX`).
    free: u64,
}

#[derive(Clone, Copy, Debug)]
struct Peer {
    up: bool,
    backoff: Duration,
}

/// What a request id is waiting for.
#[derive(Clone, Debug)]
enum Request {
    Store { write: u64, chunk: usize, node: NodeId },
    Retrieve { read: u64, chunk: usize, node: NodeId },
    Copy { chunk: ChunkId, source: NodeId, to: NodeId },
    Health { node: NodeId },
    Inventory,
    Peer { member: u32 },
}

/// A put waiting for its lock.
struct Queued {
    op: u64,
    client: NodeId,
    path: Path,
    content: Payload,
}

/// What a write locks: its path, or (`None`) the path `""`, which every streamed upload of
/// the faithful mode locks: the code starts the chunk processor before the stream's header
/// names the path, and the processor takes the lock and records the chunks under the path it
/// captured, still empty (`coordinator_streaming.go:31, 43-45, 196-198` at 317ed19).
type Lock = Option<Path>;

struct ChunkWrite {
    chunk: Chunk,
    data: Payload,
    candidates: Vec<NodeId>,
    tried: usize,
    in_flight: usize,
    done: bool,
}

struct Write {
    op: u64,
    client: NodeId,
    path: Path,
    /// The faithful mode's streaming path (`WriteFileStream`).
    streamed: bool,
    size: u64,
    chunks: Vec<ChunkWrite>,
    next: usize,
}

struct ChunkRead {
    chunk: Chunk,
    tried: usize,
    data: Option<Payload>,
    in_flight: bool,
}

struct Read {
    op: u64,
    client: NodeId,
    chunks: Vec<ChunkRead>,
    next: usize,
}

/// A member's coordinator.
pub struct Coordinator {
    shared: Rc<Shared>,
    member: u32,
    meta: Meta,
    nodes: BTreeMap<NodeId, Known>,
    peers: BTreeMap<u32, Peer>,
    /// Paths with a write under way, and the puts waiting for them.
    locks: BTreeMap<Lock, VecDeque<Queued>>,
    writes: BTreeMap<u64, Write>,
    reads: BTreeMap<u64, Read>,
    requests: BTreeMap<u64, (Request, TimerId)>,
    /// Chunks being copied by re-replication.
    copying: BTreeSet<ChunkId>,
    next: u64,
    started: Time,
    /// The faithful mode's chunk size for whole-file uploads: the real `ChunkManager`'s,
    /// which the first file whose best size is not the default fixes for good (in memory:
    /// a restart starts again from the default).
    whole_chunk: u64,
}

impl Coordinator {
    /// Member `member`'s coordinator.
    pub fn new(shared: Rc<Shared>, member: u32) -> Coordinator {
        Coordinator {
            shared,
            member,
            meta: Meta::memory(),
            nodes: BTreeMap::new(),
            peers: BTreeMap::new(),
            locks: BTreeMap::new(),
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            requests: BTreeMap::new(),
            copying: BTreeSet::new(),
            next: 0,
            started: Time::ZERO,
            whole_chunk: MIB,
        }
    }

    fn durable(&self) -> bool {
        self.shared.config.mode == Mode::Durable
    }

    fn id(&mut self, ctx: &Ctx<'_, Msg>) -> u64 {
        self.next += 1;
        (u64::from(ctx.incarnation()) << 40) | self.next
    }

    /// Sends `msg(req)` to `to` and waits `timeout` for the answer.
    fn request(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        to: NodeId,
        request: Request,
        timeout: Duration,
        msg: impl FnOnce(u64) -> Msg,
    ) {
        let req = self.id(ctx);
        ctx.send(to, msg(req));
        let timer = ctx.set_timer(timeout, Timer::Request(req));
        self.requests.insert(req, (request, timer));
    }

    fn answer(&mut self, ctx: &mut Ctx<'_, Msg>, req: u64) -> Option<Request> {
        let (request, timer) = self.requests.remove(&req)?;
        ctx.cancel_timer(timer);
        Some(request)
    }

    // --- metadata, with the facts the checks replay ---

    fn set_entry(&mut self, ctx: &mut Ctx<'_, Msg>, path: Path, entry: Entry) -> Result<(), String> {
        let chunks = entry.chunks.iter().map(|c| (c.id, c.replicas.clone())).collect();
        self.meta.put(path, entry)?;
        ctx.fact(CollectiveFact::File { path, chunks: Some(chunks) });
        Ok(())
    }

    fn remove_entry(&mut self, ctx: &mut Ctx<'_, Msg>, path: Path) -> Result<Option<Entry>, String> {
        let removed = self.meta.remove(path)?;
        ctx.fact(CollectiveFact::File { path, chunks: None });
        Ok(removed)
    }

    // --- nodes and peers ---

    fn healthy(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|(_, k)| k.healthy).map(|(id, _)| *id).collect()
    }

    fn is_healthy(&self, node: NodeId) -> bool {
        self.nodes.get(&node).is_some_and(|k| k.healthy)
    }

    fn is_lost(&self, node: NodeId, now: Time) -> bool {
        match self.nodes.get(&node) {
            // Unknown: lost once this coordinator has been up long enough to have heard
            // from every live node (after a restart, nodes register again first).
            None => now >= self.started + self.shared.config.lost_after,
            Some(k) => k.down_since.is_some_and(|since| now >= since + self.shared.config.lost_after),
        }
    }

    fn mark(&mut self, node: NodeId, member: u32, healthy: bool, now: Time) {
        let known =
            self.nodes.entry(node).or_insert(Known { member, healthy, down_since: None, free: u64::MAX });
        known.member = member;
        known.healthy = healthy;
        known.down_since = if healthy { None } else { known.down_since.or(Some(now)) };
    }

    fn register(&mut self, ctx: &mut Ctx<'_, Msg>, node: NodeId) {
        let now = ctx.now();
        self.mark(node, self.member, true, now);
        self.share_nodes(ctx);
    }

    fn own_nodes(&self) -> Vec<(NodeId, bool)> {
        self.nodes.iter().filter(|(_, k)| k.member == self.member).map(|(id, k)| (*id, k.healthy)).collect()
    }

    /// The peers heartbeats and node lists go to: the durable mode's connected ones; the
    /// code's every known peer, whatever its last heartbeat said (`sendHeartbeats` and
    /// `shareNodeListWithPeers`, coordinator.go:508-538, 869-915 at 317ed19; gRPC redials
    /// on its own).
    fn reachable_peers(&self) -> Vec<u32> {
        let durable = self.durable();
        self.peers.iter().filter(|(_, p)| p.up || !durable).map(|(m, _)| *m).collect()
    }

    fn share_nodes(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let nodes = self.own_nodes();
        for member in self.reachable_peers() {
            ctx.send(self.shared.coordinator(member), Msg::NodeList { nodes: nodes.clone() });
        }
    }

    fn connect(&mut self, ctx: &mut Ctx<'_, Msg>, member: u32) {
        let to = self.shared.coordinator(member);
        self.request(ctx, to, Request::Peer { member }, PEER_TIMEOUT, |req| Msg::PeerConnect { req });
    }

    fn peer_up(&mut self, ctx: &mut Ctx<'_, Msg>, member: u32) {
        let peer = self.peers.entry(member).or_insert(Peer { up: false, backoff: Duration::from_secs(1) });
        let was = peer.up;
        peer.up = true;
        peer.backoff = Duration::from_secs(1);
        if !was {
            let nodes = self.own_nodes();
            ctx.send(self.shared.coordinator(member), Msg::NodeList { nodes });
        }
    }

    fn peer_down(&mut self, ctx: &mut Ctx<'_, Msg>, member: u32) {
        let now = ctx.now();
        let durable = self.durable();
        let Some(peer) = self.peers.get_mut(&member) else { return };
        let backoff = peer.backoff;
        peer.up = false;
        if !durable {
            // The code only marks the peer unhealthy (coordinator.go:527-529 at 317ed19):
            // the member's nodes keep the health its last node list gave them, and the
            // peer is not connected again (heartbeats keep going to it).
            return;
        }
        peer.backoff = (peer.backoff * 2).min(MAX_BACKOFF);
        let theirs: Vec<NodeId> =
            self.nodes.iter().filter(|(_, k)| k.member == member).map(|(id, _)| *id).collect();
        for node in theirs {
            self.mark(node, member, false, now);
        }
        ctx.set_timer(backoff, Timer::PeerRetry(member));
    }

    // --- placement ---

    /// Nodes for chunk `index`, in placement order: (c + i) mod n over the healthy nodes.
    /// The code (the faithful mode) places a chunk of `len` bytes on the first RF of them
    /// only, over the healthy nodes with some room, and skips those without room for it,
    /// without taking others instead (`AllocateChunks`, storage.go:191-234 at 317ed19).
    fn candidates(&self, index: usize, len: u64) -> Vec<NodeId> {
        if self.durable() {
            let healthy = self.healthy();
            let n = healthy.len();
            return (0..n).map(|i| healthy[(index + i) % n]).collect();
        }
        let roomy: Vec<(NodeId, u64)> =
            self.nodes.iter().filter(|(_, k)| k.healthy && k.free > 0).map(|(id, k)| (*id, k.free)).collect();
        let n = roomy.len();
        let replication = (self.shared.config.replication as usize).min(n);
        (0..replication)
            .map(|i| roomy[(index + i) % n])
            .filter(|(_, free)| *free >= len)
            .map(|(id, _)| id)
            .collect()
    }

    // --- writes ---

    fn on_put(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, path: Path, content: Payload) {
        if self.shared.config.has(Bug::ConcurrentUpload) {
            return self.start_write(ctx, Queued { op, client, path, content });
        }
        let lock = self.lock(path, content.len());
        match self.locks.get_mut(&lock) {
            Some(queue) => queue.push_back(Queued { op, client, path, content }),
            None => {
                self.locks.insert(lock, VecDeque::new());
                self.start_write(ctx, Queued { op, client, path, content });
            }
        }
    }

    fn start_write(&mut self, ctx: &mut Ctx<'_, Msg>, put: Queued) {
        let Queued { op, client, path, content } = put;
        let size = content.len();
        let streamed = self.shared.config.streams(size);
        let lock = self.lock(path, size);
        if !self.durable() && self.healthy().is_empty() {
            // The code refuses a write with no healthy node to place it on
            // (coordinator_file.go:206-213 at 317ed19: "No healthy storage nodes available").
            let answer = Answer::Failed("no healthy storage nodes available");
            ctx.send(client, Msg::Reply { op, answer });
            return self.release(ctx, lock);
        }
        let chunk_size = if self.durable() || streamed {
            self.shared.config.chunk_size(size)
        } else {
            self.shared.config.whole_file_chunk(&mut self.whole_chunk, size)
        };
        let count = size.div_ceil(chunk_size).max(1);
        let chunks: Vec<ChunkWrite> = (0..count)
            .map(|c| {
                let data = content.slice(c * chunk_size, chunk_size);
                let digest = data.digest();
                // A streamed chunk's id is `{path}-chunk-{i}`, without its checksum
                // (storage.go:123-129 at 317ed19): every upload of a path reuses the ids.
                let tag = if streamed { 0 } else { digest };
                let id = ChunkId { owner: self.member, path, index: c as u32, tag };
                let candidates = self.candidates(c as usize, data.len());
                let chunk = Chunk { id, digest, len: data.len(), replicas: Vec::new() };
                ChunkWrite { chunk, data, candidates, tried: 0, in_flight: 0, done: false }
            })
            .collect();
        if !self.durable() && chunks.iter().any(|c| c.candidates.is_empty()) {
            // The code's allocation fails when a chunk has no node with room for it, and the
            // write with it, before anything is stored (storage.go:215-230,
            // coordinator_file.go:216-224 at 317ed19).
            let answer = Answer::Failed("no nodes with sufficient capacity for a chunk");
            ctx.send(client, Msg::Reply { op, answer });
            return self.release(ctx, lock);
        }
        if self.shared.config.has(Bug::ConcurrentUpload) {
            // The entry is shared and updated in place as chunks land.
            let placeholders = chunks.iter().map(|c| c.chunk.clone()).collect();
            let _ = self.set_entry(ctx, path, Entry { size, chunks: placeholders });
        }
        let write = self.id(ctx);
        self.writes.insert(write, Write { op, client, path, streamed, size, chunks, next: 0 });
        self.advance_write(ctx, write);
    }

    /// Starts what the write may start now, and finishes it when every chunk is done.
    fn advance_write(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64) {
        let durable = self.durable();
        let replication = self.shared.config.replication as usize;
        let timeout = self.shared.config.store_timeout;
        let Some(write) = self.writes.get_mut(&id) else { return };
        let parallel = self.shared.config.chunks_in_flight(write.size);
        let mut sends = Vec::new();
        // Chunks in flight: fill their replica slots; then start new chunks.
        loop {
            let open = write.chunks[..write.next].iter().filter(|c| !c.done).count();
            let mut progressed = false;
            for (index, chunk) in write.chunks[..write.next].iter_mut().enumerate() {
                if chunk.done {
                    continue;
                }
                let wanted = if durable {
                    replication.saturating_sub(chunk.chunk.replicas.len())
                } else {
                    // Sequential replicas to the first RF candidates.
                    let targets = chunk.candidates.len().min(self.shared.config.replication as usize);
                    usize::from(chunk.tried < targets)
                };
                while chunk.in_flight < wanted && chunk.tried < chunk.candidates.len() {
                    let to = chunk.candidates[chunk.tried];
                    chunk.tried += 1;
                    chunk.in_flight += 1;
                    sends.push((index, to, chunk.chunk.id, chunk.data.clone()));
                }
                if chunk.in_flight == 0 {
                    chunk.done = true;
                    progressed = true;
                }
            }
            if open < parallel && write.next < write.chunks.len() {
                write.next += 1;
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        let finished = write.next == write.chunks.len() && write.chunks.iter().all(|c| c.done);
        for (index, to, chunk, data) in sends {
            let me = ctx.id();
            let request = Request::Store { write: id, chunk: index, node: to };
            self.request(ctx, to, request, timeout, |req| Msg::StoreChunk { req, chunk, data, reply_to: me });
        }
        if finished {
            self.finish_write(ctx, id);
        } else if durable {
            // A chunk that cannot reach its quorum fails the write at once.
            let quorum = self.shared.config.quorum() as usize;
            let write = &self.writes[&id];
            if write.chunks.iter().any(|c| c.done && c.chunk.replicas.len() < quorum) {
                self.fail_write(ctx, id, "a chunk did not reach its write quorum");
            }
        }
    }

    fn on_stored(&mut self, ctx: &mut Ctx<'_, Msg>, write: u64, index: usize, node: NodeId, ok: bool) {
        let in_place = self.shared.config.has(Bug::ConcurrentUpload);
        let Some(w) = self.writes.get_mut(&write) else {
            if ok {
                // A write that already failed or finished: the node holds a chunk no file
                // refers to (the durable GC removes it).
                ctx.count("collective.late_stores", 1);
            }
            return;
        };
        let chunk = &mut w.chunks[index];
        chunk.in_flight -= 1;
        if ok {
            chunk.chunk.replicas.push(node.0);
        }
        if in_place && ok {
            let (path, size, landed) = (w.path, w.size, chunk.chunk.clone());
            let mut entry = self.meta.files.get(&path).cloned().unwrap_or_default();
            entry.size = size;
            if entry.chunks.len() <= index {
                entry.chunks.resize(index + 1, landed.clone());
            }
            entry.chunks[index] = landed;
            let _ = self.set_entry(ctx, path, entry);
        }
        self.advance_write(ctx, write);
    }

    fn finish_write(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64) {
        let Some(write) = self.writes.remove(&id) else { return };
        let quorum = self.shared.config.quorum() as usize;
        let chunks: Vec<Chunk> = write.chunks.into_iter().map(|c| c.chunk).collect();
        let ids: Vec<ChunkId> = chunks.iter().map(|c| c.id).collect();
        let result = if self.durable() {
            if chunks.iter().any(|c| c.replicas.len() < quorum) {
                self.release(ctx, self.lock(write.path, write.size));
                return self.abandon(
                    ctx,
                    write.op,
                    write.client,
                    &chunks,
                    "a chunk did not reach its write quorum",
                );
            }
            let old = self.meta.files.get(&write.path).cloned();
            let result = self.set_entry(ctx, write.path, Entry { size: write.size, chunks: chunks.clone() });
            if let (Ok(()), Some(old)) = (&result, old) {
                let kept: BTreeSet<ChunkId> = chunks.iter().map(|c| c.id).collect();
                self.delete_chunks(ctx, old.chunks.iter().filter(|c| !kept.contains(&c.id)));
            }
            result
        } else if self.shared.config.has(Bug::ConcurrentUpload) {
            // The path's allocations are replaced by this write's: chunks of other uploads
            // left in the shared entry lose their replicas.
            let mine: BTreeSet<ChunkId> = chunks.iter().map(|c| c.id).collect();
            let mut entry = self.meta.files.get(&write.path).cloned().unwrap_or_default();
            for chunk in &mut entry.chunks {
                if !mine.contains(&chunk.id) {
                    chunk.replicas.clear();
                }
            }
            entry.chunks.retain(|c| !c.replicas.is_empty() || !mine.contains(&c.id));
            self.set_entry(ctx, write.path, entry)
        } else if write.streamed {
            // The streaming path lists every chunk, stored or not (coordinator_streaming.go:
            // 248-275 at 317ed19), and records a chunk's allocation only when some replica
            // stored it: a chunk no node took keeps the allocation its id had before, an
            // earlier upload's, or none.
            let old = self.meta.files.get(&write.path).cloned().unwrap_or_default();
            let listed = chunks
                .into_iter()
                .map(|mut c| {
                    if c.replicas.is_empty() {
                        if let Some(before) = old.chunks.iter().find(|o| o.id == c.id) {
                            c.replicas = before.replicas.clone();
                            ctx.sometimes(
                                "collective: a streamed chunk kept an earlier upload's allocation",
                                true,
                            );
                        }
                    }
                    c
                })
                .collect();
            self.set_entry(ctx, write.path, Entry { size: write.size, chunks: listed })
        } else {
            // A chunk with no stored replica is left out, and the put still succeeds.
            let kept = chunks.into_iter().filter(|c| !c.replicas.is_empty()).collect();
            self.set_entry(ctx, write.path, Entry { size: write.size, chunks: kept })
        };
        let answer = match result {
            Ok(()) => Answer::Done,
            Err(_) => Answer::Failed("metadata write failed"),
        };
        if self.durable() && answer == Answer::Done {
            ctx.fact(CollectiveFact::Acked { chunks: ids });
        }
        ctx.send(write.client, Msg::Reply { op: write.op, answer });
        self.release(ctx, self.lock(write.path, write.size));
    }

    fn fail_write(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, why: &'static str) {
        let Some(write) = self.writes.remove(&id) else { return };
        let chunks: Vec<Chunk> = write.chunks.into_iter().map(|c| c.chunk).collect();
        self.abandon(ctx, write.op, write.client, &chunks, why);
        self.release(ctx, self.lock(write.path, write.size));
    }

    /// Answers a failed put and deletes the replicas it stored.
    fn abandon(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        op: u64,
        client: NodeId,
        chunks: &[Chunk],
        why: &'static str,
    ) {
        self.delete_chunks(ctx, chunks.iter());
        ctx.send(client, Msg::Reply { op, answer: Answer::Failed(why) });
    }

    fn delete_chunks<'a>(&mut self, ctx: &mut Ctx<'_, Msg>, chunks: impl Iterator<Item = &'a Chunk>) {
        for chunk in chunks {
            for &node in &chunk.replicas {
                ctx.send(NodeId(node), Msg::DeleteChunk { chunk: chunk.id });
            }
        }
    }

    /// Ends a write's hold on `path` and starts the next put waiting for it.
    /// What a put of `size` bytes to `path` locks (see `Lock`).
    fn lock(&self, path: Path, size: u64) -> Lock {
        (!self.shared.config.streams(size)).then_some(path)
    }

    fn release(&mut self, ctx: &mut Ctx<'_, Msg>, lock: Lock) {
        let Some(queue) = self.locks.get_mut(&lock) else { return };
        match queue.pop_front() {
            Some(next) => self.start_write(ctx, next),
            None => {
                self.locks.remove(&lock);
            }
        }
    }

    // --- reads ---

    fn on_get(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, path: Path) {
        let Some(entry) = self.meta.files.get(&path) else {
            return ctx.send(client, Msg::Reply { op, answer: Answer::NotFound });
        };
        let chunks = entry
            .chunks
            .iter()
            .map(|c| ChunkRead { chunk: c.clone(), tried: 0, data: None, in_flight: false })
            .collect();
        let read = self.id(ctx);
        self.reads.insert(read, Read { op, client, chunks, next: 0 });
        self.advance_read(ctx, read);
    }

    fn advance_read(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64) {
        let parallel = if self.durable() { self.shared.config.parallel_chunks as usize } else { 1 };
        let timeout = self.shared.config.retrieve_timeout;
        let Some(mut read) = self.reads.remove(&id) else { return };
        while read.next < read.chunks.len()
            && read.chunks[..read.next].iter().filter(|c| c.data.is_none()).count() < parallel
        {
            read.next += 1;
        }
        let mut sends = Vec::new();
        for (index, chunk) in read.chunks[..read.next].iter_mut().enumerate() {
            if chunk.data.is_some() || chunk.in_flight {
                continue;
            }
            // The first healthy replica in allocation order not tried yet.
            let replicas = &chunk.chunk.replicas;
            let Some(i) = (chunk.tried..replicas.len()).find(|&i| self.is_healthy(NodeId(replicas[i])))
            else {
                let answer = Answer::Failed("a chunk has no replica to read");
                return ctx.send(read.client, Msg::Reply { op: read.op, answer });
            };
            chunk.tried = i + 1;
            chunk.in_flight = true;
            sends.push((index, NodeId(replicas[i]), chunk.chunk.id));
        }
        if read.chunks.iter().all(|c| c.data.is_some()) {
            let mut parts: Vec<Payload> = read.chunks.into_iter().filter_map(|c| c.data).collect();
            if self.shared.config.has(Bug::ReassemblyIndexZero) && parts.len() > 1 {
                // Every chunk placed at index 0: the reassembled file is empty.
                parts.clear();
            }
            return ctx.send(read.client, Msg::Reply { op: read.op, answer: Answer::Content(parts) });
        }
        self.reads.insert(id, read);
        for (index, node, chunk) in sends {
            self.request(ctx, node, Request::Retrieve { read: id, chunk: index, node }, timeout, |req| {
                Msg::RetrieveChunk { req, chunk }
            });
        }
    }

    fn on_retrieved(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        id: u64,
        index: usize,
        node: NodeId,
        data: Option<Payload>,
    ) {
        let durable = self.durable();
        let Some(read) = self.reads.get_mut(&id) else { return };
        let chunk = &mut read.chunks[index];
        chunk.in_flight = false;
        let bad = match data {
            Some(data) if durable && data.digest() != chunk.chunk.digest => Some(chunk.chunk.id),
            Some(data) => {
                chunk.data = Some(data);
                None
            }
            None => None,
        };
        if let Some(bad) = bad {
            // A bad replica: fail over, and drop it so re-replication replaces it.
            ctx.fact(CollectiveFact::Damaged { chunk: bad, node });
            ctx.count("collective.checksum_mismatches", 1);
            ctx.sometimes(class::FAILOVER_CHECKSUM, true);
            self.drop_replica(ctx, bad, node);
        }
        self.advance_read(ctx, id);
    }

    /// Removes `node` from `chunk`'s allocation (it holds a bad copy) and deletes its copy.
    fn drop_replica(&mut self, ctx: &mut Ctx<'_, Msg>, chunk: ChunkId, node: NodeId) {
        if let Some(mut entry) = self.meta.files.get(&chunk.path).cloned() {
            if let Some(c) = entry.chunks.iter_mut().find(|c| c.id == chunk) {
                c.replicas.retain(|r| *r != node.0);
                if self.set_entry(ctx, chunk.path, entry).is_ok() {
                    ctx.send(node, Msg::DeleteChunk { chunk });
                }
            }
        }
    }

    // --- deletes and directories ---

    fn on_delete(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, path: Path) {
        let answer = match self.remove_entry(ctx, path) {
            Ok(removed) => {
                if let Some(entry) = removed {
                    self.delete_chunks(ctx, entry.chunks.iter());
                }
                Answer::Done
            }
            Err(_) => Answer::Failed("metadata write failed"),
        };
        ctx.send(client, Msg::Reply { op, answer });
    }

    /// This member's files in directory `dir`.
    fn on_list(&self, dir: u32) -> Answer {
        let dirs = u64::from(self.shared.config.dirs);
        Answer::Listing(self.meta.files.keys().copied().filter(|p| p % dirs == u64::from(dir)).collect())
    }

    // --- durable: re-replication and garbage collection ---

    fn repair(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let replication = self.shared.config.replication as usize;
        let mut copies = Vec::new();
        for entry in self.meta.files.values() {
            for chunk in &entry.chunks {
                if self.copying.len() + copies.len() >= MAX_COPIES {
                    break;
                }
                if self.copying.contains(&chunk.id) {
                    continue;
                }
                let live: Vec<NodeId> =
                    chunk.replicas.iter().map(|r| NodeId(*r)).filter(|r| !self.is_lost(*r, now)).collect();
                if live.len() >= replication {
                    continue;
                }
                let Some(&source) = live.iter().find(|r| self.is_healthy(**r)) else { continue };
                let candidates = self.candidates(chunk.id.index as usize, chunk.len);
                let passed_over = candidates.iter().any(|n| live.contains(n));
                ctx.sometimes(class::TARGET_HOLDS, passed_over);
                let target =
                    candidates.into_iter().find(|n| !chunk.replicas.contains(&n.0) && !live.contains(n));
                if let Some(to) = target {
                    copies.push((chunk.id, chunk.digest, source, to));
                }
            }
        }
        let timeout = self.shared.config.store_timeout * 2;
        for (chunk, digest, source, to) in copies {
            self.copying.insert(chunk);
            let request = Request::Copy { chunk, source, to };
            self.request(ctx, source, request, timeout, |req| Msg::Copy { req, chunk, to, digest });
        }
    }

    /// A copy's answer: `from` is the target, or the source if it had no good copy.
    fn on_copied(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        chunk: ChunkId,
        source: NodeId,
        to: NodeId,
        from: Option<NodeId>,
        ok: bool,
    ) {
        self.copying.remove(&chunk);
        if !ok && from == Some(source) {
            return self.drop_replica(ctx, chunk, source);
        }
        let now = ctx.now();
        let Some(mut entry) = self.meta.files.get(&chunk.path).cloned() else {
            // The file went away meanwhile: the copy is an orphan.
            return ctx.send(to, Msg::DeleteChunk { chunk });
        };
        let Some(c) = entry.chunks.iter_mut().find(|c| c.id == chunk) else {
            return ctx.send(to, Msg::DeleteChunk { chunk });
        };
        if !ok {
            return;
        }
        let lost: Vec<u32> = c.replicas.iter().copied().filter(|r| self.is_lost(NodeId(*r), now)).collect();
        c.replicas.retain(|r| !lost.contains(r));
        c.replicas.retain(|r| *r != to.0);
        c.replicas.push(to.0);
        if self.set_entry(ctx, chunk.path, entry).is_ok() {
            for node in lost {
                ctx.send(NodeId(node), Msg::DeleteChunk { chunk });
            }
        }
    }

    fn collect_garbage(&mut self, ctx: &mut Ctx<'_, Msg>, node: NodeId, held: Vec<ChunkId>) {
        let writing: BTreeSet<ChunkId> =
            self.writes.values().flat_map(|w| w.chunks.iter().map(|c| c.chunk.id)).collect();
        for chunk in held {
            let referenced = self
                .meta
                .files
                .get(&chunk.path)
                .and_then(|e| e.chunks.iter().find(|c| c.id == chunk))
                .is_some_and(|c| c.replicas.contains(&node.0));
            let in_flight = writing.contains(&chunk) || self.copying.contains(&chunk);
            ctx.sometimes(class::GC_MEETS_UPLOAD, !referenced && in_flight);
            if !referenced && !in_flight {
                ctx.count("collective.gc_deletes", 1);
                ctx.send(node, Msg::DeleteChunk { chunk });
            }
        }
    }
}

impl Node for Coordinator {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_role(super::Role::Coordinator);
        self.started = ctx.now();
        if self.durable() {
            match Meta::open(ctx.disk_handle()) {
                Ok(meta) => self.meta = meta,
                Err(_) => ctx.always("collective.metadata_opens", false),
            }
        }
        if ctx.incarnation() > 0 {
            ctx.sometimes(class::COORDINATOR_RECOVERED, !self.meta.files.is_empty());
        }
        let files = self
            .meta
            .files
            .iter()
            .map(|(p, e)| (*p, e.chunks.iter().map(|c| (c.id, c.replicas.clone())).collect()))
            .collect();
        ctx.fact(CollectiveFact::Loaded { files });
        for member in 0..self.shared.members {
            if member != self.member {
                self.peers.insert(member, Peer { up: false, backoff: Duration::from_secs(1) });
                self.connect(ctx, member);
            }
        }
        let config = &self.shared.config;
        let (health, peer, sync, gc) =
            (config.health_interval, config.peer_heartbeat, config.sync_interval, config.gc_interval);
        ctx.set_timer(health, Timer::Health);
        ctx.set_timer(peer, Timer::PeerHeartbeat);
        ctx.set_timer(sync, Timer::Sync);
        if self.durable() {
            ctx.set_timer(gc, Timer::Gc);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::Put { op, path, content } => self.on_put(ctx, from, op, path, content),
            Msg::Get { op, path } => self.on_get(ctx, from, op, path),
            Msg::Delete { op, path } => self.on_delete(ctx, from, op, path),
            Msg::Mkdir { op, dir } => {
                let answer = match self.meta.mkdir(dir) {
                    Ok(()) => Answer::Done,
                    Err(_) => Answer::Failed("metadata write failed"),
                };
                ctx.send(from, Msg::Reply { op, answer });
            }
            Msg::List { op, dir } => {
                let answer = self.on_list(dir);
                ctx.send(from, Msg::Reply { op, answer });
            }
            Msg::Register { req } => {
                self.register(ctx, from);
                ctx.send(from, Msg::Registered { req });
            }
            Msg::Heartbeat { req } => {
                let known = self.nodes.get(&from).is_some_and(|k| k.member == self.member);
                if known {
                    self.mark(from, self.member, true, now);
                } else if !self.shared.config.has(Bug::NoReregister) {
                    // An unknown node of this member is registered from its heartbeat.
                    self.register(ctx, from);
                }
                let known = self.nodes.contains_key(&from);
                ctx.send(from, Msg::HeartbeatAck { req, known });
            }
            Msg::Healthy { req, free } => {
                if let Some(Request::Health { node }) = self.answer(ctx, req) {
                    self.mark(node, self.member, true, now);
                    self.nodes.entry(node).and_modify(|k| k.free = free);
                }
            }
            Msg::Stored { req, ok } => match self.answer(ctx, req) {
                Some(Request::Store { write, chunk, node }) => self.on_stored(ctx, write, chunk, node, ok),
                Some(Request::Copy { chunk, source, to }) => {
                    self.on_copied(ctx, chunk, source, to, Some(from), ok)
                }
                _ => {}
            },
            Msg::Retrieved { req, data } => {
                if let Some(Request::Retrieve { read, chunk, node }) = self.answer(ctx, req) {
                    self.on_retrieved(ctx, read, chunk, node, data);
                }
            }
            Msg::Held { req, chunks } => {
                if let Some(Request::Inventory) = self.answer(ctx, req) {
                    self.collect_garbage(ctx, from, chunks);
                }
            }
            Msg::PeerConnect { req } => {
                ctx.send(from, Msg::PeerAck { req });
                self.peer_up(ctx, self.shared.member_of(from));
            }
            Msg::PeerHeartbeat { req } => {
                ctx.send(from, Msg::PeerAck { req });
            }
            Msg::PeerAck { req } => {
                if let Some(Request::Peer { member }) = self.answer(ctx, req) {
                    self.peer_up(ctx, member);
                }
            }
            Msg::NodeList { nodes } => {
                let member = self.shared.member_of(from);
                for (node, healthy) in nodes {
                    self.mark(node, member, healthy, now);
                }
            }
            _ => ctx.unexpected("coordinators get client, node and peer requests"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        let now = ctx.now();
        let config = &self.shared.config;
        match timer {
            Timer::Health => {
                let (interval, timeout) = (config.health_interval, config.health_timeout);
                let own: Vec<NodeId> = self.own_nodes().into_iter().map(|(n, _)| n).collect();
                for node in own {
                    self.request(ctx, node, Request::Health { node }, timeout, |req| Msg::HealthCheck {
                        req,
                    });
                }
                if self.durable() {
                    self.repair(ctx);
                }
                ctx.set_timer(interval, Timer::Health);
            }
            Timer::PeerHeartbeat => {
                let interval = config.peer_heartbeat;
                for member in self.reachable_peers() {
                    let to = self.shared.coordinator(member);
                    self.request(ctx, to, Request::Peer { member }, PEER_TIMEOUT, |req| Msg::PeerHeartbeat {
                        req,
                    });
                }
                ctx.set_timer(interval, Timer::PeerHeartbeat);
            }
            Timer::Sync => {
                let interval = config.sync_interval;
                self.share_nodes(ctx);
                ctx.set_timer(interval, Timer::Sync);
            }
            Timer::PeerRetry(member) => {
                if self.peers.get(&member).is_some_and(|p| !p.up) {
                    self.connect(ctx, member);
                }
            }
            Timer::Gc => {
                // Fault point: collect again soon, racing uploads whose chunks are not yet in a
                // file.
                let interval = if ctx.buggify("collective.gc_soon") {
                    config.gc_interval / 10
                } else {
                    config.gc_interval
                };
                let timeout = config.health_timeout;
                let member = self.member;
                for node in self.healthy() {
                    self.request(ctx, node, Request::Inventory, timeout, |req| Msg::Inventory {
                        req,
                        owner: member,
                    });
                }
                ctx.set_timer(interval, Timer::Gc);
            }
            Timer::Request(req) => {
                let Some((request, _)) = self.requests.remove(&req) else { return };
                match request {
                    Request::Store { write, chunk, node } => self.on_stored(ctx, write, chunk, node, false),
                    Request::Retrieve { read, chunk, node } => {
                        self.on_retrieved(ctx, read, chunk, node, None)
                    }
                    Request::Copy { chunk, source, to } => {
                        self.on_copied(ctx, chunk, source, to, None, false)
                    }
                    Request::Health { node } => self.mark(node, self.member, false, now),
                    Request::Inventory => {}
                    Request::Peer { member } => self.peer_down(ctx, member),
                }
            }
            _ => ctx.unexpected("coordinators set health, peering, GC and request timers"),
        }
    }
}
