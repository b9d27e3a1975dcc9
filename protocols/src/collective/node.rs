//! A storage node: chunks as files on its disk, registration with its member's coordinator.
//!
//! A chunk is a file of described content (`chunk/{owner}/{path}-{i}-{tag}`). The real node
//! writes it with `os.WriteFile` and no fsync; the durable mode fsyncs before it answers.
//! On start the node lists its chunk files (what survived), registers with its
//! coordinator, and heartbeats it every `node_heartbeat`. Every `reregister_interval` it
//! registers again if its last heartbeat went unanswered or its coordinator did not know it
//! (3 dials, 5 s apart) — unless the `no-reregister` bug is planted.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use sim::prelude::*;
use sim::Payload;

use super::check::CollectiveFact;
use super::config::{Bug, Mode};
use super::msg::{ChunkId, Msg, Timer};
use super::{class, Shared};

/// Registration dials and the time between them.
const DIALS: u32 = 3;
const DIAL_GAP: Duration = Duration::from_secs(5);

/// What a node is waiting for.
#[derive(Clone, Copy, Debug)]
enum Waiting {
    Register { dial: u32 },
    Heartbeat,
}

/// A storage node.
pub struct StorageNode {
    shared: Rc<Shared>,
    coordinator: NodeId,
    /// Whether the coordinator is believed to know this node.
    registered: bool,
    waiting: BTreeMap<u64, (Waiting, TimerId)>,
    next_req: u64,
    /// The chunks on its disk: listed at start (as the real node reloads its list on
    /// restart), kept up to date by stores and deletes.
    chunks: BTreeSet<ChunkId>,
}

impl StorageNode {
    /// Node `id`.
    pub fn new(shared: Rc<Shared>, id: NodeId) -> StorageNode {
        let coordinator = shared.coordinator(shared.member_of(id));
        StorageNode {
            shared,
            coordinator,
            registered: false,
            waiting: BTreeMap::new(),
            next_req: 0,
            chunks: BTreeSet::new(),
        }
    }

    fn request(&mut self, ctx: &mut Ctx<'_, Msg>, waiting: Waiting, msg: impl FnOnce(u64) -> Msg) {
        self.next_req += 1;
        let req = (u64::from(ctx.incarnation()) << 40) | self.next_req;
        ctx.send(self.coordinator, msg(req));
        let timeout = match waiting {
            Waiting::Register { .. } => DIAL_GAP,
            Waiting::Heartbeat => self.shared.config.health_timeout,
        };
        let timer = ctx.set_timer(timeout, Timer::Request(req));
        self.waiting.insert(req, (waiting, timer));
    }

    fn register(&mut self, ctx: &mut Ctx<'_, Msg>, dial: u32) {
        self.request(ctx, Waiting::Register { dial }, |req| Msg::Register { req });
    }

    fn store(&mut self, ctx: &mut Ctx<'_, Msg>, chunk: ChunkId, data: Payload) -> bool {
        let name = chunk.file_name();
        let durable = self.shared.config.mode == Mode::Durable;
        // A streamed chunk's id has no checksum (`{path}-chunk-{i}`): a later upload of the
        // path overwrites an earlier one's chunk in place, under a file entry that may still
        // name it.
        let replaced = self.chunks.contains(&chunk) && chunk.tag == 0;
        ctx.sometimes("collective: a streamed chunk was overwritten in place by a later upload", replaced);
        let mut disk = ctx.disk();
        let ok = disk.put_blob(&name, data).is_ok() && (!durable || disk.fsync(&name).is_ok());
        if ok && durable {
            // The chunk's name too: a new file needs its directory synced (POSIX).
            crate::storage::sync_name(&mut disk, &name);
        } else if !ok && !self.chunks.contains(&chunk) {
            // A refused store leaves no file behind: a failed fsync (EIO, or ENOSPC at
            // write-back) would otherwise leave a chunk no file refers to.
            let _ = disk.remove(&name);
        }
        drop(disk);
        if ok {
            self.chunks.insert(chunk);
            ctx.fact(CollectiveFact::Holds { chunk });
        }
        ok
    }
}

impl Node for StorageNode {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_role(super::Role::Storage);
        self.chunks = ctx.disk().names_with_prefix("chunk/").filter_map(ChunkId::parse).collect();
        ctx.fact(CollectiveFact::Inventory { chunks: self.chunks.iter().copied().collect() });
        ctx.series("chunks held", self.chunks.len() as i64);
        if ctx.incarnation() > 0 {
            ctx.sometimes(class::NODE_CRASHED_HOLDING, !self.chunks.is_empty());
        }
        self.register(ctx, 1);
        let config = &self.shared.config;
        let (heartbeat, reregister) = (config.node_heartbeat, config.reregister_interval);
        ctx.set_timer(heartbeat, Timer::Heartbeat);
        if !config.has(Bug::NoReregister) {
            ctx.set_timer(reregister, Timer::Reregister);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Registered { req } | Msg::HeartbeatAck { req, known: true } => {
                if let Some((_, timer)) = self.waiting.remove(&req) {
                    ctx.cancel_timer(timer);
                    self.registered = true;
                }
            }
            Msg::HeartbeatAck { req, known: false } => {
                if let Some((_, timer)) = self.waiting.remove(&req) {
                    ctx.cancel_timer(timer);
                    self.registered = false;
                }
            }
            Msg::HealthCheck { req } => {
                let free = {
                    let disk = ctx.disk();
                    disk.config().capacity.map_or(u64::MAX, |capacity| capacity.saturating_sub(disk.used()))
                };
                ctx.send(from, Msg::Healthy { req, free })
            }
            Msg::StoreChunk { req, chunk, data, reply_to } => {
                let ok = self.store(ctx, chunk, data);
                ctx.send(reply_to, Msg::Stored { req, ok });
            }
            Msg::RetrieveChunk { req, chunk } => {
                let data = ctx.disk().get_blob(&chunk.file_name()).ok();
                ctx.send(from, Msg::Retrieved { req, data });
            }
            Msg::DeleteChunk { chunk } => {
                let name = chunk.file_name();
                let mut disk = ctx.disk();
                if disk.remove(&name).is_ok() {
                    disk.sync_dir();
                    drop(disk);
                    self.chunks.remove(&chunk);
                    ctx.fact(CollectiveFact::Drops { chunk });
                }
            }
            Msg::Copy { req, chunk, to, digest } => {
                let held = ctx.disk().get_blob(&chunk.file_name()).ok();
                match held {
                    Some(data) if data.digest() == digest => {
                        ctx.send(to, Msg::StoreChunk { req, chunk, data, reply_to: from });
                    }
                    held => {
                        ctx.sometimes(class::DAMAGED_SOURCE, held.is_some());
                        if held.is_some() {
                            ctx.count("collective.damaged_sources", 1);
                            ctx.fact(CollectiveFact::Damaged { chunk, node: ctx.id() });
                        }
                        ctx.send(from, Msg::Stored { req, ok: false });
                    }
                }
            }
            Msg::Inventory { req, owner } => {
                let chunks = self.chunks.iter().filter(|c| c.owner == owner).copied().collect();
                ctx.send(from, Msg::Held { req, chunks });
            }
            _ => ctx.unexpected("storage nodes get coordinator requests only"),
        }
        // Chunks are found at start and stored and dropped on messages only: the series
        // sees every change.
        ctx.series("chunks held", self.chunks.len() as i64);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Heartbeat => {
                self.request(ctx, Waiting::Heartbeat, |req| Msg::Heartbeat { req });
                ctx.set_timer(self.shared.config.node_heartbeat, Timer::Heartbeat);
            }
            Timer::Reregister => {
                if !self.registered {
                    self.register(ctx, 1);
                }
                ctx.set_timer(self.shared.config.reregister_interval, Timer::Reregister);
            }
            Timer::Request(req) => match self.waiting.remove(&req) {
                Some((Waiting::Register { dial }, _)) if dial < DIALS => self.register(ctx, dial + 1),
                Some((Waiting::Heartbeat, _)) => self.registered = false,
                _ => {}
            },
            _ => ctx.unexpected("storage nodes set heartbeat, registration and request timers"),
        }
    }
}
