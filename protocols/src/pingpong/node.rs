//! The ping-pong node.
//!
//! Timeouts are per window slot and lazy, the way TigerBeetle and most production code
//! keep timeouts: a slot has at most one timer, armed for the deadline of the request that
//! was outstanding when it was set. When it fires, a request past its deadline is replaced,
//! and the timer is re-armed for the current request's deadline. A timer per request would
//! be set and cancelled for every message; this costs one timer event per slot per timeout.
//!
//! Request ids carry the incarnation that sent them in their top bits. A node keeps no
//! state across a crash, so without them its counter restarts at 1, and a pong to a ping
//! of its previous life (held by a clogged link for seconds, then released) would be taken
//! as the answer to a new request with the same id; clogging in the swarm found this
//! (docs/design-notes.md, "Clogging").

use sim::kernel::disk::DiskError;
use sim::prelude::*;
use sim::ConnId;

use super::{Bug, Config, Msg, Timer};

/// Request ids are `incarnation << INCARNATION_SHIFT | counter`.
const INCARNATION_SHIFT: u32 = 40;

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// The outstanding request.
    request: u64,
    /// When it times out, on the local clock.
    deadline: Time,
    /// Whether the slot's timer is armed.
    armed: bool,
}

/// A server that keeps `window` pings outstanding to other servers and answers every ping
/// and every client echo.
#[derive(Debug)]
pub struct PingPong {
    config: Config,
    servers: u32,
    slots: Vec<Slot>,
    next_request: u64,
    /// Replies whose records are appended but not yet synced (group commit): operation and
    /// client.
    group: Vec<(u64, NodeId)>,
    /// Whether the group's flush timer is armed.
    flush_armed: bool,
}

impl PingPong {
    /// A server among `servers` (ids `0..servers`), with empty slots; they fill at start.
    pub fn new(config: Config, servers: u32) -> PingPong {
        let slots = vec![Slot::default(); config.window as usize];
        PingPong { config, servers, slots, next_request: 0, group: Vec::new(), flush_armed: false }
    }

    /// A random other server, if there is one.
    fn random_peer(&self, ctx: &mut Ctx<'_, Msg>) -> Option<NodeId> {
        let count = u64::from(self.servers);
        if count < 2 {
            return None;
        }
        let me = u64::from(ctx.id().0);
        let mut peer = ctx.rng().below(count - 1);
        if peer >= me {
            peer += 1;
        }
        Some(NodeId(peer as u32))
    }

    /// Sends a new request on `slot` to a random peer.
    fn issue(&mut self, ctx: &mut Ctx<'_, Msg>, slot: usize) {
        let Some(peer) = self.random_peer(ctx) else { return };
        if self.next_request == 0 {
            self.next_request = u64::from(ctx.incarnation()) << INCARNATION_SHIFT;
        }
        self.next_request += 1;
        let id = self.next_request;
        self.slots[slot].request = id;
        self.slots[slot].deadline = ctx.now() + self.config.timeout;
        super::send(ctx, &self.config, peer, Msg::Ping { id, slot: slot as u32 });
        if !self.slots[slot].armed {
            self.slots[slot].armed = true;
            ctx.set_timer(self.config.timeout, Timer::Slot(slot as u32));
        }
    }
}

impl Node for PingPong {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if self.config.durable_replies {
            verify_log(ctx);
            // The log's name must survive a crash too (`names_need_sync_dir`): created
            // here and its directory synced, before any record is acknowledged.
            let mut disk = ctx.disk();
            if disk.create(LOG).is_ok() {
                disk.sync_dir();
            }
        }
        for slot in 0..self.slots.len() {
            self.issue(ctx, slot);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ping { id, slot } => super::answer(ctx, &self.config, from, Msg::Pong { id, slot }),
            Msg::Echo { op } => {
                let relay = self.random_peer(ctx).unwrap_or(ctx.id());
                super::send(ctx, &self.config, relay, Msg::Relay { op, client: from });
            }
            Msg::Relay { op, client } => {
                assert!(
                    !(op == 100 && self.config.bugs.contains(&Bug::PanicOnRelay)),
                    "planted bug: relaying operation 100"
                );
                super::answer(ctx, &self.config, from, Msg::Relayed { op, client })
            }
            Msg::Relayed { op, client } => {
                if !self.config.durable_replies {
                    return super::send(ctx, &self.config, client, Msg::Reply { op });
                }
                if append_record(ctx, op) {
                    self.group.push((op, client));
                    if self.group.len() >= self.config.group_commit as usize {
                        self.flush(ctx);
                    } else if !self.flush_armed {
                        self.flush_armed = true;
                        ctx.set_timer(self.config.group_window, Timer::Flush);
                    }
                }
            }
            Msg::Reply { .. } => ctx.unexpected("servers get no replies"),
            Msg::Pong { id, slot } => {
                ctx.always("a pong answers a ping this node sent", id <= self.next_request);
                if id >> INCARNATION_SHIFT < u64::from(ctx.incarnation()) {
                    ctx.sometimes("a pong to a ping of an earlier incarnation arrives", true);
                    return ctx.count("stale pongs", 1);
                }
                let slot = slot as usize;
                if self.slots.get(slot).is_some_and(|s| s.request == id) {
                    ctx.count("pongs", 1);
                    self.issue(ctx, slot);
                }
            }
        }
    }

    fn on_closed(&mut self, ctx: &mut Ctx<'_, Msg>, _conn: ConnId) {
        super::closed(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        let slot = match timer {
            Timer::Slot(slot) => slot,
            Timer::Flush => {
                self.flush_armed = false;
                return self.flush(ctx);
            }
            Timer::Operation(_) => return ctx.unexpected("servers set no operation timers"),
        };
        let slot = slot as usize;
        self.slots[slot].armed = false;
        let now = ctx.now();
        if self.slots[slot].deadline <= now {
            ctx.count("timeouts", 1);
            self.issue(ctx, slot);
        } else {
            let remaining = self.slots[slot].deadline - now;
            self.slots[slot].armed = true;
            ctx.set_timer(remaining, Timer::Slot(slot as u32));
        }
    }
}

impl PingPong {
    /// Syncs the log and replies to the group's clients; a failed sync (an fsync error, or
    /// a full disk with delayed allocation) sends none of the replies.
    fn flush(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if self.group.is_empty() {
            return;
        }
        let group = std::mem::take(&mut self.group);
        if ctx.disk().fsync(LOG).is_err() {
            return ctx.count("replies refused: sync failed", group.len() as u64);
        }
        for (op, client) in group {
            super::send(ctx, &self.config, client, Msg::Reply { op });
        }
    }
}

/// The durable reply log: one 12-byte record per echo, the operation id and a checksum.
pub(super) const LOG: &str = "replies.log";
pub(super) const RECORD: usize = 12;

fn checksum(op: u64) -> u32 {
    sim::kernel::hash::digest(&op) as u32
}

/// Appends a record; false if the disk refused (full, or a write error), and then no
/// reply goes out.
fn append_record(ctx: &mut Ctx<'_, Msg>, op: u64) -> bool {
    let mut record = [0u8; RECORD];
    record[..8].copy_from_slice(&op.to_le_bytes());
    record[8..].copy_from_slice(&checksum(op).to_le_bytes());
    let written = ctx.disk().append(LOG, &record);
    if written.is_err() {
        ctx.count("replies refused: disk full", 1);
    }
    written.is_ok()
}

/// The operations of a log's intact records.
pub(super) fn records(log: &[u8]) -> impl Iterator<Item = u64> + '_ {
    log.chunks(RECORD).filter_map(|record| {
        let op = u64::from_le_bytes(record.get(..8)?.try_into().expect("8 bytes"));
        (record.len() == RECORD && checksum(op).to_le_bytes() == record[8..]).then_some(op)
    })
}

/// Counts the records that survived and the ones that are corrupt or torn.
fn verify_log(ctx: &mut Ctx<'_, Msg>) {
    // An injected read error is retried (EIO here is transient); the log is never taken
    // for empty because a read failed: its torn tail would then stay.
    let log = (0..40).find_map(|_| match ctx.disk().read_all(LOG) {
        Err(DiskError::Io(_)) => None,
        read => Some(read.unwrap_or_default()),
    });
    ctx.always("the log reads at start within 40 attempts", log.is_some());
    let log = log.unwrap_or_default();
    let intact = records(&log).count() as u64;
    let damaged = log.len().div_ceil(RECORD) as u64 - intact;
    // A torn last record is cut, so the records appended from now on stay aligned.
    let torn = log.len() % RECORD;
    if torn != 0 {
        ctx.sometimes("cut a torn record at the log's end", true);
        let cut = ctx.disk().truncate(LOG, (log.len() - torn) as u64);
        ctx.always("a torn record can be cut", cut.is_ok());
    }
    ctx.count("log records recovered", intact);
    ctx.count("log records damaged", damaged);
    ctx.sometimes("found a damaged log record at start", damaged > 0);
}
