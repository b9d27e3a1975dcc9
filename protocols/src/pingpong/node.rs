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
}

impl PingPong {
    /// A server among `servers` (ids `0..servers`), with empty slots; they fill at start.
    pub fn new(config: Config, servers: u32) -> PingPong {
        let slots = vec![Slot::default(); config.window as usize];
        PingPong { config, servers, slots, next_request: 0 }
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
                if !self.config.durable_replies || append_record(ctx, op) {
                    super::send(ctx, &self.config, client, Msg::Reply { op });
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
        let Timer::Slot(slot) = timer else { return ctx.unexpected("servers set no operation timers") };
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

/// The durable reply log: one 12-byte record per echo, the operation id and a checksum.
const LOG: &str = "replies.log";
const RECORD: usize = 12;

fn checksum(op: u64) -> u32 {
    sim::kernel::hash::digest(&op) as u32
}

/// Appends and fsyncs a record; false if the disk refused (full), and then no reply goes out.
fn append_record(ctx: &mut Ctx<'_, Msg>, op: u64) -> bool {
    let mut record = [0u8; RECORD];
    record[..8].copy_from_slice(&op.to_le_bytes());
    record[8..].copy_from_slice(&checksum(op).to_le_bytes());
    let written = {
        let mut disk = ctx.disk();
        disk.append(LOG, &record).and_then(|_| disk.fsync(LOG))
    };
    match written {
        Ok(()) => true,
        Err(_) => {
            ctx.count("replies refused: disk full", 1);
            false
        }
    }
}

/// Counts the records that survived and the ones that are corrupt or torn.
fn verify_log(ctx: &mut Ctx<'_, Msg>) {
    let log = ctx.disk().read_all(LOG).unwrap_or_default();
    let records = log.chunks(RECORD);
    let (mut intact, mut damaged) = (0, 0);
    for record in records {
        let whole = record.len() == RECORD;
        let op = whole.then(|| u64::from_le_bytes(record[..8].try_into().expect("8 bytes")));
        if op.is_some_and(|op| checksum(op).to_le_bytes() == record[8..]) {
            intact += 1;
        } else {
            damaged += 1;
        }
    }
    ctx.count("log records recovered", intact);
    ctx.count("log records damaged", damaged);
    ctx.sometimes("found a damaged log record at start", damaged > 0);
}
