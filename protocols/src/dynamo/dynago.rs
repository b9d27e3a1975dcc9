//! Dynago (mdkhanga/dynago at 6bb3e07, and its hash ring at HEAD with `ring = true`) as its
//! code is: `mode = "dynago"`. Each rule names the real code's lines (6bb3e07 unless said).
//!
//! - **Peers are gRPC streams** (`grpcclient/client.go:39`, `grpcserver/server.go:44-56`):
//!   ordered and reliable, broken by a crash or a cut that outlasts the keepalive (the
//!   kernel's connection model). Each end of a stream is a `Peer` value
//!   (`cluster/peer.go:18-33`) with a receive, a process, a send and (on the dialing end
//!   only, `peer.go:75-80`) a ping loop, and an outgoing channel of 100 (`peer.go:106-107`).
//! - **Who dials**: every node but the seed dials the seed at start and again 5 s after that
//!   stream stops (`client.go:21-65`); a member first learned from gossip is dialed after a
//!   random wait under 1 s (`ClusterService.go:260-267`, `peer.go:52-64`) and never again.
//!   The dialing end pings every second (`peer.go:302-334`).
//! - **The member map** (`ClusterService.go:23-26`) holds one `Peer` per node: a ping makes
//!   its stream's `Peer` the node's entry, stamped with the receiver's clock and active
//!   (`peer.go:222-263`, `AddToCluster` at `ClusterService.go:65-78`). Every second a node
//!   restamps itself, marks every entry older than 15 s by its own clock inactive and stops it
//!   (`ClusterService.go:145-168`), and sends the whole map to the active entries that are
//!   accepting ends, the streams others dialed to it (`ClusterService.go:180-198`). A received
//!   entry wins with a timestamp >= the local one and brings its status with it
//!   (`ClusterService.go:247-259`); the answer, computed after the merge, carries every local
//!   entry whose timestamp is >= the received one, so ties included (`ClusterService.go:283-309`).
//! - **A stopped or halted `Peer` is never revived.** Stop closes its stream and ends its loops
//!   (`peer.go:40-50`); a loop also ends after its next item once its entry's status is 1
//!   (`peer.go:134, 176, 204, 309`), leaving the stream open and nobody reading it. Gossip may
//!   mark the entry active again (`ClusterService.go:256`): messages for it then pile up in a
//!   channel no loop drains.
//! - **Writes** (`server/server.go:163-172`): set locally, then `Replicate` sends a KEY_VALUE to
//!   every entry of the map, whatever its status, in Go's random map order, holding the
//!   cluster lock (`ClusterService.go:209-234`); no acknowledgement, retry, quorum or hint. A
//!   channel that is full blocks the write with the lock held, for good: the node then takes no
//!   gossip, ping or merge again (each waits for the lock) and answers no write, though it
//!   still stores them (`server.go:167` runs before the lock) and still reads.
//! - **Reads** are local (`server.go:156-161`); the store is a plain map, empty after a restart.
//! - **The hash ring at HEAD** (`ring = true`): GET and SET go to the key's one owner on the
//!   ring of the nodes this node added to its map by a ping or its seed dial (`AddToCluster` at
//!   HEAD `ClusterService.go:70-90`; members learned from gossip are not added, and nothing is
//!   ever removed): a dead owner's keys fail, they do not move. The owner's map entry must be
//!   active, or the request fails (HEAD `ClusterService.go:339-357`); the request goes on that
//!   entry's stream and its answer comes back on that `Peer`'s channel of one, without a
//!   request id (HEAD `peer.go:113-114, 338-361`): a request sends, then takes whatever answer
//!   is there, a late answer to another key included. SET no longer replicates.
//!
//! Not modelled (docs/design-notes.md): gRPC's flow-control window (a live stream's sender
//! never blocks; a receiver that stopped reading does not push back on its sender), the one
//! message a loop still handles before it sees status 1 when it was not already waiting, and
//! clients over HTTP (their requests are datagrams with a timeout).
//!
//! Values are the workload's values (a set, or a one-element register), where Dynago carries
//! strings.

use std::collections::{BTreeMap, BTreeSet};
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
/// Gossip (`ClusterService.go:135`) and pings (`peer.go:323`), every second.
const TICK: Duration = Duration::from_secs(1);
/// An entry not refreshed for this long is inactive (`ClusterService.go:154`).
const INACTIVE_AFTER_MS: u64 = 15_000;
/// A `Peer`'s outgoing channel (`peer.go:107`).
const QUEUE: usize = 100;
/// The seed link is re-dialed this long after it stopped (`client.go:62-63`).
const REDIAL: Duration = Duration::from_secs(5);
/// A member learned from gossip is dialed after a random wait under this (`peer.go:59`), in ms.
const DIAL_JITTER_MS: u64 = 1_000;
/// How long after a node is killed Dynago's own test expects every member list to agree
/// (`e2e-tests/test_membership.py`: `stop_server` waits 2 s, then the test 25 s).
pub const MEMBERSHIP_WITHIN: Duration = Duration::from_secs(27);
/// A forward's timeout (HEAD `ClusterService.go:379, 432`).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

type PeerId = u64;

/// One `Peer` value (`peer.go:18-33`): one end of one stream and its goroutines.
struct Peer {
    /// Its node (`Host`, `Port`): unknown on an accepted stream until its first ping.
    node: Option<u32>,
    conn: Option<ConnId>,
    /// `Clientend`: true on the accepting end (`server.go:49`), false on the dialing end.
    accepted: bool,
    /// The seed link of `client.go`, re-dialed when it stops.
    seed_link: bool,
    timestamp: u64,
    /// `Status == 0`.
    active: bool,
    /// The receive and process loops run.
    receiving: bool,
    /// The send loop runs.
    sending: bool,
    /// The ping loop runs (dialing ends only).
    pinging: bool,
    /// `stopChan` is closed.
    stopped: bool,
    /// The process loop waits for the cluster lock a frozen node never frees.
    waits_for_lock: bool,
    /// Messages in the outgoing channel that no send loop will take.
    stuck: usize,
    /// HEAD: the answer channels of forwarded GETs and SETs.
    gets: Forwards<Option<Rc<Vec<i64>>>>,
    sets: Forwards<()>,
}

impl Peer {
    fn new(node: Option<u32>, conn: Option<ConnId>, accepted: bool, timestamp: u64, active: bool) -> Peer {
        let running = conn.is_some() && active;
        Peer {
            node,
            conn,
            accepted,
            seed_link: false,
            timestamp,
            active,
            receiving: running,
            sending: running,
            pinging: running && !accepted,
            stopped: false,
            waits_for_lock: false,
            stuck: 0,
            gets: Forwards::default(),
            sets: Forwards::default(),
        }
    }
}

/// A Dynago node.
pub struct Dynago {
    shared: Rc<Shared>,
    me: u32,
    store: BTreeMap<u64, Rc<Vec<i64>>>,
    /// Its own entry of the map (`Mine`, `server.go:54`): merges may change it too.
    own: Member,
    /// Every `Peer` value alive, whether or not the map still holds it.
    peers: BTreeMap<PeerId, Peer>,
    next_peer: PeerId,
    /// `clusterMap` without the node's own entry: node → its `Peer`.
    map: BTreeMap<u32, PeerId>,
    by_conn: BTreeMap<ConnId, PeerId>,
    /// HEAD: the nodes on this node's hash ring.
    ring: BTreeSet<u32>,
    /// A send into a full channel holds the cluster lock for good.
    frozen: bool,
    next_forward: u64,
    /// The member list last stated (`GET /members`).
    listed: Vec<u32>,
}

fn now_ms(ctx: &Ctx<'_, Msg>) -> u64 {
    ctx.now().as_nanos() / 1_000_000
}

/// Dynago keeps no versions: a value is stated as one version with an empty clock.
fn as_version(value: &Rc<Vec<i64>>) -> Version {
    Version { dot: (0, 0), past: VClock::default(), value: Some(value.clone()), timestamp: 0 }
}

impl Dynago {
    /// Node `me`, knowing only itself.
    pub fn new(shared: Rc<Shared>, me: u32) -> Dynago {
        Dynago {
            shared,
            me,
            store: BTreeMap::new(),
            own: Member { node: me, timestamp: 0, active: true },
            peers: BTreeMap::new(),
            next_peer: 0,
            map: BTreeMap::new(),
            by_conn: BTreeMap::new(),
            ring: BTreeSet::from([me]),
            frozen: false,
            next_forward: 0,
            listed: Vec::new(),
        }
    }

    fn set(&mut self, ctx: &mut Ctx<'_, Msg>, key: u64, value: Rc<Vec<i64>>) {
        ctx.fact(DynamoFact::Stored { key, siblings: Rc::new(vec![as_version(&value)]) });
        self.store.insert(key, value);
    }

    fn reply_read(&self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, value: Option<&Rc<Vec<i64>>>) {
        let siblings = value.map(as_version).into_iter().collect();
        ctx.send(client, Msg::GetReply { op, siblings });
    }

    fn add_peer(&mut self, peer: Peer) -> PeerId {
        self.next_peer += 1;
        if let Some(conn) = peer.conn {
            self.by_conn.insert(conn, self.next_peer);
        }
        self.peers.insert(self.next_peer, peer);
        self.next_peer
    }

    fn peer(&mut self, id: PeerId) -> &mut Peer {
        self.peers.get_mut(&id).expect("a peer id names a live Peer")
    }

    /// `AddToCluster` (`ClusterService.go:65-78`): the node's entry becomes `id`, active; at
    /// HEAD a node new to the map joins the ring (HEAD `ClusterService.go:79-88`).
    fn add_to_cluster(&mut self, node: u32, id: PeerId) {
        self.peer(id).active = true;
        if self.map.insert(node, id).is_none() {
            self.ring.insert(node);
        }
    }

    /// `p.OutMessagesChan <- msg`; false if the channel is full and the sender blocks.
    fn push(&mut self, ctx: &mut Ctx<'_, Msg>, id: PeerId, msg: Msg) -> bool {
        let peer = self.peer(id);
        if let (true, Some(conn)) = (peer.sending, peer.conn) {
            // The send loop takes it, then sees the status (`peer.go:176`).
            peer.sending = peer.active;
            ctx.send_on(conn, msg);
            return true;
        }
        if peer.stuck >= QUEUE {
            return false;
        }
        peer.stuck += 1;
        ctx.count("dynago: messages into a channel no loop drains", 1);
        true
    }

    /// `Peer.Stop` (`peer.go:87-95`): its loops end and its stream closes; the seed link's
    /// `Init` returns and it is re-dialed after 5 s (`client.go:56-63`).
    fn stop(&mut self, ctx: &mut Ctx<'_, Msg>, id: PeerId) {
        let peer = self.peer(id);
        if peer.stopped {
            return;
        }
        peer.stopped = true;
        (peer.receiving, peer.sending, peer.pinging) = (false, false, false);
        let (conn, seed_link) = (peer.conn, peer.seed_link);
        if let Some(conn) = conn {
            ctx.disconnect(conn);
        }
        if seed_link {
            ctx.set_timer(REDIAL, Timer::Redial);
        }
    }

    /// `CallGrpcServer`'s dial of the seed (`client.go:25-56`).
    fn dial_seed(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let conn = ctx.connect(NodeId(SEED));
        let mut peer = Peer::new(Some(SEED), Some(conn), false, now_ms(ctx), true);
        peer.seed_link = true;
        let id = self.add_peer(peer);
        self.add_to_cluster(SEED, id);
        ctx.set_timer(TICK, Timer::Ping(id));
    }

    fn on_ping_tick(&mut self, ctx: &mut Ctx<'_, Msg>, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else { return };
        if !peer.pinging {
            return;
        }
        if !peer.active {
            peer.pinging = false;
            return;
        }
        self.push(ctx, id, Msg::Ping);
        ctx.set_timer(TICK, Timer::Ping(id));
    }

    /// A member learned from gossip is dialed (`peer.go:52-80`): with status 1 its loops end
    /// at once, the stream left open.
    fn on_connect(&mut self, ctx: &mut Ctx<'_, Msg>, id: PeerId) {
        let Some(peer) = self.peers.get(&id) else { return };
        let (Some(node), false) = (peer.node, peer.stopped) else { return };
        let conn = ctx.connect(NodeId(node));
        self.by_conn.insert(conn, id);
        let peer = self.peer(id);
        peer.conn = Some(conn);
        let active = peer.active;
        (peer.receiving, peer.sending, peer.pinging) = (active, active, active);
        if active {
            ctx.set_timer(TICK, Timer::Ping(id));
        } else {
            ctx.sometimes("dynago: a member learned as inactive was dialed and left unread", true);
        }
    }

    /// `MergePeerLists` (`ClusterService.go:236-313`).
    fn merge(&mut self, ctx: &mut Ctx<'_, Msg>, received: &[Member], respond: bool) -> Vec<Member> {
        for m in received {
            if m.node == self.me {
                if m.timestamp >= self.own.timestamp {
                    self.own = *m;
                }
                continue;
            }
            match self.map.get(&m.node) {
                Some(&id) => {
                    let peer = self.peer(id);
                    if m.timestamp >= peer.timestamp {
                        let revived = peer.stopped && !peer.active && m.active;
                        peer.timestamp = m.timestamp;
                        peer.active = m.active;
                        ctx.sometimes("dynago: gossip marked a stopped peer active again", revived);
                    }
                }
                None => {
                    let id = self.add_peer(Peer::new(Some(m.node), None, false, m.timestamp, m.active));
                    self.map.insert(m.node, id);
                    let wait = ctx.rng().below(DIAL_JITTER_MS);
                    ctx.set_timer(Duration::from_millis(wait), Timer::Connect(id));
                }
            }
        }
        if !respond {
            return Vec::new();
        }
        let mut answer = Vec::new();
        for local in self.members() {
            match received.iter().find(|m| m.node == local.node) {
                Some(_) if local.node == self.me => {}
                Some(m) if local.timestamp < m.timestamp => {}
                _ => answer.push(local),
            }
        }
        answer
    }

    /// The map's entries, this node's own first.
    fn members(&self) -> Vec<Member> {
        let entries = self.map.iter().map(|(&node, id)| {
            let peer = &self.peers[id];
            Member { node, timestamp: peer.timestamp, active: peer.active }
        });
        std::iter::once(self.own).chain(entries).collect()
    }

    /// The map's `Peer`s in Go's map order, which is random.
    fn map_order(&self, ctx: &mut Ctx<'_, Msg>) -> Vec<PeerId> {
        let mut order: Vec<PeerId> = self.map.values().copied().collect();
        for i in (1..order.len()).rev() {
            let j = ctx.rng().below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        order
    }

    fn freeze(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.frozen = true;
        ctx.sometimes("dynago: a send into a full channel holds the cluster lock for good", true);
    }

    /// `ClusterInfoGossip` (`ClusterService.go:126-207`).
    fn on_gossip(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_timer(TICK, Timer::Gossip);
        if self.frozen {
            return;
        }
        let now = now_ms(ctx);
        self.own.timestamp = now;
        let ids: Vec<PeerId> = self.map.values().copied().collect();
        for id in ids {
            let peer = self.peer(id);
            if now.saturating_sub(peer.timestamp) > INACTIVE_AFTER_MS {
                peer.active = false;
                self.stop(ctx, id);
            }
        }
        let members = self.members();
        for id in self.map_order(ctx) {
            let peer = &self.peers[&id];
            if !peer.accepted || !peer.active {
                continue;
            }
            if !self.push(ctx, id, Msg::ClusterInfoRequest { members: members.clone() }) {
                return self.freeze(ctx);
            }
        }
    }

    /// `setValue` at 6bb3e07 (`server.go:163-172`).
    fn on_put(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, key: u64, value: Rc<Vec<i64>>) {
        self.set(ctx, key, value.clone());
        if self.frozen {
            return ctx.count("dynago: writes stored but never answered (the lock is held)", 1);
        }
        for id in self.map_order(ctx) {
            if !self.push(ctx, id, Msg::KeyValue { key, value: value.clone() }) {
                return self.freeze(ctx);
            }
        }
        let written = Written { clock: VClock::default(), replicas: vec![self.me] };
        ctx.send(client, Msg::PutReply { op, written: Some(written) });
    }

    /// What a `Peer`'s process loop does with a message (`peer.go:221-294`, HEAD `:298-361`).
    fn process(&mut self, ctx: &mut Ctx<'_, Msg>, id: PeerId, from: NodeId, msg: Msg) {
        let locks =
            matches!(msg, Msg::Ping | Msg::ClusterInfoRequest { .. } | Msg::ClusterInfoResponse { .. });
        if locks && self.frozen {
            // It waits for the lock, and everything after it on this stream waits behind it.
            self.peer(id).waits_for_lock = true;
            return;
        }
        match msg {
            Msg::Ping => {
                let now = now_ms(ctx);
                let peer = self.peer(id);
                peer.node = Some(from.0);
                peer.timestamp = now;
                self.add_to_cluster(from.0, id);
                self.push(ctx, id, Msg::PingResponse);
            }
            Msg::PingResponse => {}
            Msg::ClusterInfoRequest { members } => {
                let members = self.merge(ctx, &members, true);
                self.push(ctx, id, Msg::ClusterInfoResponse { members });
            }
            Msg::ClusterInfoResponse { members } => {
                self.merge(ctx, &members, false);
            }
            Msg::KeyValue { key, value } => self.set(ctx, key, value),
            Msg::ForwardGet { key } => {
                let value = self.store.get(&key).cloned();
                self.push(ctx, id, Msg::ForwardGetResponse { value });
            }
            Msg::ForwardSet { key, value } => {
                self.set(ctx, key, value);
                self.push(ctx, id, Msg::ForwardSetResponse);
            }
            Msg::ForwardGetResponse { value } => {
                if let Some((waiter, value)) = self.peer(id).gets.answer(value) {
                    self.reply_read(ctx, waiter.client, waiter.op, value.as_ref());
                }
            }
            Msg::ForwardSetResponse => {
                if let Some((waiter, ())) = self.peer(id).sets.answer(()) {
                    let written = Written { clock: VClock::default(), replicas: vec![self.me] };
                    ctx.send(waiter.client, Msg::PutReply { op: waiter.op, written: Some(written) });
                }
            }
            _ => ctx.unexpected("a Dynago stream carries Dynago's messages only"),
        }
    }

    /// A message on a stream: to its `Peer`, an accepting end made for it if it is new
    /// (`server.go:44-56`).
    fn on_stream(&mut self, ctx: &mut Ctx<'_, Msg>, conn: ConnId, from: NodeId, msg: Msg) {
        let id = match self.by_conn.get(&conn) {
            Some(&id) => id,
            None => self.add_peer(Peer::new(None, Some(conn), true, now_ms(ctx), true)),
        };
        let peer = self.peer(id);
        if !peer.receiving || peer.waits_for_lock {
            return ctx.count("dynago: messages on a stream nobody reads", 1);
        }
        self.process(ctx, id, from, msg);
        // The loops see the status after each item (`peer.go:134, 204`).
        let peer = self.peer(id);
        peer.receiving &= peer.active;
    }

    fn on_client(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, msg: Msg) {
        let ring = self.shared.hash_ring.is_some();
        match msg {
            Msg::Get { op, key } if ring => self.forward(ctx, client, op, key, None),
            Msg::Get { op, key } => self.reply_read(ctx, client, op, self.store.get(&key)),
            Msg::Put { op, value: None, .. } => {
                ctx.count("dynago: deletes refused (it has none)", 1);
                ctx.send(client, Msg::PutReply { op, written: None });
            }
            Msg::Put { op, key, value: Some(value), .. } if ring => {
                self.forward(ctx, client, op, key, Some(value))
            }
            Msg::Put { op, key, value: Some(value), .. } => self.on_put(ctx, client, op, key, value),
            _ => ctx.unexpected("clients send gets and puts"),
        }
    }

    /// `GET /members` (`server.go:185-203`): the map's active entries, this node's included.
    fn note_members(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let mut listed: Vec<u32> = self.members().iter().filter(|m| m.active).map(|m| m.node).collect();
        listed.sort_unstable();
        if listed != self.listed {
            ctx.fact(DynamoFact::Members { listed: listed.clone() });
            self.listed = listed;
        }
    }
}

impl Dynago {
    /// HEAD's `getValue` and `setValue` (HEAD `server.go:156-240`): local if this node owns the
    /// key on its ring, else forwarded to the owner's map entry (`ForwardGet`, `ForwardSet`).
    fn forward(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        client: NodeId,
        op: u64,
        key: u64,
        value: Option<Rc<Vec<i64>>>,
    ) {
        let ring = self.shared.hash_ring.as_ref().expect("ring mode");
        let owner = ring.owner(key, |n| self.ring.contains(&n)).expect("a node's ring holds itself");
        if owner == self.me {
            return match value {
                None => self.reply_read(ctx, client, op, self.store.get(&key)),
                Some(value) => {
                    self.set(ctx, key, value);
                    let written = Written { clock: VClock::default(), replicas: vec![owner] };
                    ctx.send(client, Msg::PutReply { op, written: Some(written) });
                }
            };
        }
        if self.frozen {
            return ctx.count("dynago ring: forwards waiting for the lock", 1);
        }
        let Some(id) = self.map.get(&owner).copied().filter(|id| self.peers[id].active) else {
            ctx.sometimes("dynago ring: a key's owner has no active entry", true);
            return ctx.send(client, Msg::Refused { op });
        };
        let is_get = value.is_none();
        let request = match value {
            None => Msg::ForwardGet { key },
            Some(value) => Msg::ForwardSet { key, value },
        };
        if !self.push(ctx, id, request) {
            return ctx.count("dynago ring: forwards blocked on a full channel", 1);
        }
        self.next_forward += 1;
        let waiter = Waiter { client, op, seq: self.next_forward };
        let peer = self.peer(id);
        let stale =
            if is_get { peer.gets.wait(waiter).map(Some) } else { peer.sets.wait(waiter).map(|()| None) };
        match stale {
            None => {
                ctx.set_timer(FORWARD_TIMEOUT, Timer::Forward(self.next_forward));
            }
            Some(answer) => {
                ctx.sometimes("dynago ring: a forward took an answer left in the channel", true);
                match answer {
                    Some(read) => self.reply_read(ctx, client, op, read.as_ref()),
                    None => {
                        let written = Written { clock: VClock::default(), replicas: vec![owner] };
                        ctx.send(client, Msg::PutReply { op, written: Some(written) });
                    }
                }
            }
        }
    }

    fn on_forward_timeout(&mut self, ctx: &mut Ctx<'_, Msg>, seq: u64) {
        let waiter = self.peers.values_mut().find_map(|p| p.gets.expire(seq).or_else(|| p.sets.expire(seq)));
        if let Some(waiter) = waiter {
            ctx.send(waiter.client, Msg::Refused { op: waiter.op });
        }
    }
}

impl Node for Dynago {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.fact(DynamoFact::Wiped);
        self.own.timestamp = now_ms(ctx);
        if self.me != SEED {
            self.dial_seed(ctx);
        }
        let phase = Duration::from_nanos(ctx.rng().below(TICK.as_nanos() as u64));
        ctx.set_timer(phase, Timer::Gossip);
        self.note_members(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match ctx.arrived_on() {
            Some(conn) => self.on_stream(ctx, conn, from, msg),
            None => self.on_client(ctx, from, msg),
        }
        self.note_members(ctx);
    }

    fn on_closed(&mut self, ctx: &mut Ctx<'_, Msg>, conn: ConnId) {
        // The receive loop's error stops its `Peer` (`peer.go:150-156`); a loop that already
        // ended notices nothing.
        if let Some(&id) = self.by_conn.get(&conn) {
            if self.peer(id).receiving {
                self.stop(ctx, id);
            }
        }
        self.note_members(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Gossip => self.on_gossip(ctx),
            Timer::Redial => self.dial_seed(ctx),
            Timer::Ping(id) => self.on_ping_tick(ctx, id),
            Timer::Connect(id) => self.on_connect(ctx, id),
            Timer::Forward(seq) => self.on_forward_timeout(ctx, seq),
            _ => ctx.unexpected("Dynago sets gossip, ping, dial and forward timers only"),
        }
        self.note_members(ctx);
    }
}
