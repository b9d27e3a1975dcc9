//! Dynago (mdkhanga/dynago at 6bb3e07) as its code is: `mode = "dynago"`.
//!
//! - **Membership**: every node but the seed (node 0) pings the seed every second; the
//!   seed stamps the pinger with its own wall clock and adds it. Every second a node
//!   refreshes its own timestamp, marks every peer whose timestamp is more than 15 s old
//!   (by its own clock) inactive and stops its stream, and sends the whole member list to
//!   the active peers. A received entry wins when its timestamp is >= the local one (ties go
//!   to the remote; the `>` before 9647b15 is not modelled: a tie here is the same entry,
//!   so the two rules give the same run, docs/design-notes.md); the answer carries
//!   the local entries that are newer.
//! - **Streams**: one per peer, with an outgoing queue of 100 messages. A message counts
//!   against the queue until the peer's transport acknowledges it; a full queue blocks the
//!   sender. A stream whose peer restarted is reset and re-dialed after 5 s; a stopped
//!   stream keeps its queue.
//! - **Writes**: set locally, then a KEY_VALUE to every peer in the member map (whatever
//!   its status), all while holding the cluster lock; no acknowledgement, retry, quorum or
//!   hint. The client is answered once every message is queued. A write that finds a full
//!   queue waits, with the lock, for room: later writes and gossip wait behind it.
//! - **Reads**: local. The store is a plain map (no versions, no deletes); a restarted node
//!   starts empty.
//!
//! - **The hash ring** (HEAD, `ring = true`, `hash_ring.rs`): GET and SET go to the key's
//!   single owner, forwarded with a 5 s timeout, answers on a channel without request ids.
//!
//! Values are the set workload's sets, carried whole, where Dynago carries strings.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use sim::prelude::*;

use super::check::DynamoFact;
use super::hash_ring::{Forwards, Waiter};
use super::msg::{Member, Msg, Timer, Written};
use super::version::{VClock, Version};
use super::Shared;

/// The seed every node dials.
const SEED: u32 = 0;
/// Gossip and seed pings, every second (`gossip.go`).
const GOSSIP: Duration = Duration::from_secs(1);
/// A peer not refreshed for this long is inactive.
const INACTIVE_AFTER_MS: u64 = 15_000;
/// A peer's outgoing queue.
const QUEUE: usize = 100;
/// A dropped stream is re-dialed after this long.
const REDIAL: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Stream {
    /// Sent on this connection, not yet acknowledged by the peer's transport.
    in_flight: usize,
    /// Queued while the stream is stopped or re-dialing.
    backlog: VecDeque<(u64, Rc<Vec<i64>>)>,
    open: bool,
    /// The peer incarnation this connection reaches.
    incarnation: Option<u32>,
}

impl Stream {
    fn is_full(&self) -> bool {
        self.in_flight + self.backlog.len() >= QUEUE
    }
}

/// A write holding the cluster lock while it waits for room in `peers[0]`'s queue.
struct Blocked {
    client: NodeId,
    op: u64,
    key: u64,
    value: Rc<Vec<i64>>,
    peers: VecDeque<u32>,
}

/// A Dynago node.
pub struct Dynago {
    /// With `ring = true`: the forward channels of GET and SET, and forwards numbered.
    gets: Forwards<Option<Rc<Vec<i64>>>>,
    sets: Forwards<()>,
    next_forward: u64,
    shared: Rc<Shared>,
    me: u32,
    store: BTreeMap<u64, Rc<Vec<i64>>>,
    members: BTreeMap<u32, Member>,
    streams: BTreeMap<u32, Stream>,
    blocked: Option<Blocked>,
    /// Requests waiting for the cluster lock, in arrival order.
    waiting: VecDeque<(NodeId, Msg)>,
}

fn now_ms(ctx: &Ctx<'_, Msg>) -> u64 {
    ctx.now().as_nanos() / 1_000_000
}

/// A forward's timeout (`FORWARD_TIMEOUT` at HEAD).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// Dynago keeps no versions: a value is stated as one version with an empty clock.
fn as_version(value: &Rc<Vec<i64>>) -> Version {
    Version { dot: (0, 0), past: VClock::default(), value: Some(value.clone()), timestamp: 0 }
}

impl Dynago {
    /// Node `me`, knowing only itself (and the seed, which it dials at start).
    pub fn new(shared: Rc<Shared>, me: u32) -> Dynago {
        Dynago {
            gets: Forwards::default(),
            sets: Forwards::default(),
            next_forward: 0,
            shared,
            me,
            store: BTreeMap::new(),
            members: BTreeMap::new(),
            streams: BTreeMap::new(),
            blocked: None,
            waiting: VecDeque::new(),
        }
    }

    fn set(&mut self, ctx: &mut Ctx<'_, Msg>, key: u64, value: Rc<Vec<i64>>) {
        ctx.fact(DynamoFact::Stored { key, siblings: Rc::new(vec![as_version(&value)]) });
        self.store.insert(key, value);
    }

    /// Opens the stream to `peer` if it is not (a dial).
    fn dial(&mut self, ctx: &mut Ctx<'_, Msg>, peer: u32) {
        let stream = self.streams.entry(peer).or_default();
        if !stream.open {
            stream.open = true;
            self.flush(ctx, peer);
        }
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, Msg>, peer: u32) {
        let Some(stream) = self.streams.get_mut(&peer) else { return };
        while stream.open {
            let Some((key, value)) = stream.backlog.pop_front() else { break };
            stream.in_flight += 1;
            ctx.send(NodeId(peer), Msg::KeyValue { key, value });
        }
    }

    /// Queues a KEY_VALUE for `peer`; false if its queue is full (the caller blocks).
    fn enqueue(&mut self, ctx: &mut Ctx<'_, Msg>, peer: u32, key: u64, value: &Rc<Vec<i64>>) -> bool {
        let stream = self.streams.entry(peer).or_default();
        if stream.is_full() {
            return false;
        }
        if stream.open {
            stream.in_flight += 1;
            ctx.send(NodeId(peer), Msg::KeyValue { key, value: value.clone() });
        } else {
            stream.backlog.push_back((key, value.clone()));
        }
        true
    }

    fn on_put(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        client: NodeId,
        op: u64,
        key: u64,
        value: Option<Rc<Vec<i64>>>,
    ) {
        let Some(value) = value else {
            ctx.count("dynago: deletes refused (it has none)", 1);
            return ctx.send(client, Msg::PutReply { op, written: None });
        };
        self.set(ctx, key, value.clone());
        let peers = self.members.keys().copied().filter(|p| *p != self.me).collect();
        self.blocked = Some(Blocked { client, op, key, value, peers });
        self.replicate(ctx);
    }

    /// Goes on with the write holding the lock; when it is done, serves what waited.
    fn replicate(&mut self, ctx: &mut Ctx<'_, Msg>) {
        while let Some(mut write) = self.blocked.take() {
            while let Some(&peer) = write.peers.front() {
                if !self.enqueue(ctx, peer, write.key, &write.value) {
                    ctx.sometimes("dynago: a write blocked on a full queue", true);
                    self.blocked = Some(write);
                    return;
                }
                write.peers.pop_front();
            }
            let written = Written { clock: VClock::default(), replicas: vec![self.me] };
            ctx.send(write.client, Msg::PutReply { op: write.op, written: Some(written) });
            while self.blocked.is_none() {
                let Some((from, msg)) = self.waiting.pop_front() else { return };
                self.handle(ctx, from, msg);
            }
        }
    }

    fn merge(&mut self, ctx: &mut Ctx<'_, Msg>, entries: &[Member]) {
        let me = self.me;
        for entry in entries.iter().filter(|e| e.node != me) {
            let wins = match self.members.get(&entry.node) {
                None => true,
                Some(local) => entry.timestamp >= local.timestamp,
            };
            if wins {
                self.members.insert(entry.node, *entry);
                if entry.active {
                    self.dial(ctx, entry.node);
                }
            }
        }
    }

    fn on_gossip(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_timer(GOSSIP, Timer::Gossip);
        if self.me != SEED {
            ctx.send(NodeId(SEED), Msg::Ping);
        }
        if self.blocked.is_some() {
            return; // the cluster lock is held by a blocked write
        }
        let now = now_ms(ctx);
        self.members.insert(self.me, Member { node: self.me, timestamp: now, active: true });
        for member in self.members.values_mut().filter(|m| m.node != self.me && m.active) {
            if now.saturating_sub(member.timestamp) > INACTIVE_AFTER_MS {
                member.active = false;
                if let Some(stream) = self.streams.get_mut(&member.node) {
                    stream.open = false;
                }
            }
        }
        let members: Vec<Member> = self.members.values().copied().collect();
        for peer in members.iter().filter(|m| m.active && m.node != self.me) {
            ctx.send(NodeId(peer.node), Msg::ClusterInfoRequest { members: members.clone() });
        }
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let locked = matches!(
            msg,
            Msg::Put { .. } | Msg::ClusterInfoRequest { .. } | Msg::ClusterInfoResponse { .. } | Msg::Ping
        );
        if locked && self.blocked.is_some() {
            return self.waiting.push_back((from, msg));
        }
        match msg {
            Msg::Get { op, key } if self.shared.hash_ring.is_some() => self.forward_get(ctx, from, op, key),
            Msg::Put { op, key, value, .. } if self.shared.hash_ring.is_some() => {
                self.forward_set(ctx, from, op, key, value)
            }
            Msg::Get { op, key } => {
                let siblings = self.store.get(&key).map(as_version).into_iter().collect();
                ctx.send(from, Msg::GetReply { op, siblings });
            }
            Msg::Put { op, key, value, .. } => self.on_put(ctx, from, op, key, value),
            Msg::ForwardGet { key } => {
                ctx.send(from, Msg::ForwardGetResponse { value: self.store.get(&key).cloned() })
            }
            Msg::ForwardSet { key, value } => {
                self.set(ctx, key, value);
                ctx.send(from, Msg::ForwardSetResponse);
            }
            Msg::ForwardGetResponse { value } => {
                if let Some((waiter, value)) = self.gets.answer(value) {
                    let siblings = value.as_ref().map(as_version).into_iter().collect();
                    ctx.send(waiter.client, Msg::GetReply { op: waiter.op, siblings });
                }
            }
            Msg::ForwardSetResponse => {
                if let Some((waiter, ())) = self.sets.answer(()) {
                    let written = Written { clock: VClock::default(), replicas: vec![self.me] };
                    ctx.send(waiter.client, Msg::PutReply { op: waiter.op, written: Some(written) });
                }
            }
            Msg::KeyValue { key, value } => {
                self.set(ctx, key, value);
                let incarnation = ctx.incarnation();
                ctx.send(from, Msg::StreamAck { incarnation });
            }
            Msg::StreamAck { incarnation } => {
                let stream = self.streams.entry(from.0).or_default();
                if stream.incarnation.is_some_and(|known| known < incarnation) {
                    // The peer restarted: the old connection is gone with what it carried.
                    stream.in_flight = 0;
                    stream.open = false;
                    ctx.set_timer(REDIAL, Timer::Redial(from.0));
                } else {
                    stream.in_flight = stream.in_flight.saturating_sub(1);
                }
                stream.incarnation = Some(incarnation);
                self.replicate(ctx);
            }
            Msg::Ping => {
                let now = now_ms(ctx);
                self.members.insert(from.0, Member { node: from.0, timestamp: now, active: true });
                self.dial(ctx, from.0);
                ctx.send(from, Msg::PingResponse);
            }
            Msg::PingResponse => {
                let now = now_ms(ctx);
                self.members.entry(SEED).or_insert(Member { node: SEED, timestamp: now, active: true });
                self.dial(ctx, SEED);
            }
            Msg::ClusterInfoRequest { members } => {
                let newer: Vec<Member> = self
                    .members
                    .values()
                    .filter(|local| {
                        !members.iter().any(|m| m.node == local.node && m.timestamp >= local.timestamp)
                    })
                    .copied()
                    .collect();
                self.merge(ctx, &members);
                ctx.send(from, Msg::ClusterInfoResponse { members: newer });
            }
            Msg::ClusterInfoResponse { members } => self.merge(ctx, &members),
            Msg::GetReply { .. } | Msg::PutReply { .. } => ctx.unexpected("servers get no client replies"),
            _ => ctx.unexpected("Dynago speaks no Dynamo"),
        }
    }
}

impl Dynago {
    /// The owner of `key` on the ring of the members this node knows as active.
    fn owner(&self, key: u64) -> u32 {
        let ring = self.shared.hash_ring.as_ref().expect("ring mode");
        let active = |n: u32| n == self.me || self.members.get(&n).is_some_and(|m| m.active);
        ring.owner(key, active).unwrap_or(self.me)
    }

    fn next_waiter(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64) -> Waiter {
        self.next_forward += 1;
        ctx.set_timer(FORWARD_TIMEOUT, Timer::Forward(self.next_forward));
        Waiter { client, op, seq: self.next_forward }
    }

    fn forward_get(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, key: u64) {
        let owner = self.owner(key);
        if owner == self.me {
            let siblings = self.store.get(&key).map(as_version).into_iter().collect();
            return ctx.send(client, Msg::GetReply { op, siblings });
        }
        let waiter = self.next_waiter(ctx, client, op);
        match self.gets.wait(waiter) {
            Some(stale) => {
                ctx.sometimes("dynago ring: a GET took an answer left in the channel", true);
                let siblings = stale.as_ref().map(as_version).into_iter().collect();
                ctx.send(client, Msg::GetReply { op, siblings });
            }
            None => ctx.send(NodeId(owner), Msg::ForwardGet { key }),
        }
    }

    fn forward_set(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        client: NodeId,
        op: u64,
        key: u64,
        value: Option<Rc<Vec<i64>>>,
    ) {
        let Some(value) = value else {
            ctx.count("dynago: deletes refused (it has none)", 1);
            return ctx.send(client, Msg::PutReply { op, written: None });
        };
        let owner = self.owner(key);
        let written = || Some(Written { clock: VClock::default(), replicas: vec![owner] });
        if owner == self.me {
            self.set(ctx, key, value);
            return ctx.send(client, Msg::PutReply { op, written: written() });
        }
        ctx.send(NodeId(owner), Msg::ForwardSet { key, value });
        let waiter = self.next_waiter(ctx, client, op);
        if self.sets.wait(waiter).is_some() {
            ctx.sometimes("dynago ring: a SET took an answer left in the channel", true);
            ctx.send(client, Msg::PutReply { op, written: written() });
        }
    }

    fn on_forward_timeout(&mut self, ctx: &mut Ctx<'_, Msg>, seq: u64) {
        if let Some(waiter) = self.gets.expire(seq).or_else(|| self.sets.expire(seq)) {
            ctx.send(waiter.client, Msg::Refused { op: waiter.op });
        }
    }
}

impl Node for Dynago {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.fact(DynamoFact::Wiped);
        let now = now_ms(ctx);
        self.members.insert(self.me, Member { node: self.me, timestamp: now, active: true });
        if self.me != SEED {
            ctx.send(NodeId(SEED), Msg::Ping);
        }
        let phase = Duration::from_nanos(ctx.rng().below(GOSSIP.as_nanos() as u64));
        ctx.set_timer(phase, Timer::Gossip);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        self.handle(ctx, from, msg);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Gossip => self.on_gossip(ctx),
            Timer::Redial(peer) => {
                self.dial(ctx, peer);
                self.replicate(ctx);
            }
            Timer::Forward(seq) => self.on_forward_timeout(ctx, seq),
            _ => ctx.unexpected("Dynago sets gossip and re-dial timers only"),
        }
    }
}
