//! Connections: ordered, reliable streams between two nodes, as TCP or a gRPC stream gives.
//!
//! A node opens one with `Ctx::connect(to)` (it is the *dialer*, `to` the *acceptor*) and
//! sends on it with `Ctx::send_on`; either end may send. Messages sent with `Ctx::send` stay
//! datagrams: a system opts in per message by choosing which call sends it. Each end learns
//! of the connection's end from `Node::on_closed`; a closed connection stays closed, and a
//! new message needs a new `connect` (a new epoch), which the protocol does or not, as the
//! real code does.
//!
//! What the network does to a message on a connection, exactly:
//! - **Loss** does not make a hole: each loss draw of the link's model costs a
//!   retransmission, after a timeout that starts at 200 ms and doubles up to 120 s (TCP's).
//!   If the retransmissions would outlast the keepalive, the connection breaks instead.
//! - **Order**: the receiver hands messages to the node in send order (it reassembles by
//!   sequence number: a message that arrives before an earlier one waits for it).
//! - **No duplicates and no replays**: the link's duplication and `replay` do not apply.
//! - **Cuts and clogs** hold the messages that meet them (at send or on arrival) instead of
//!   dropping them. When the link is whole again (both directions: a connection needs both),
//!   the held messages go out again, in order, each with a fresh latency. A cut or clog
//!   that lasts the keepalive (`[network] keepalive`, 10 s by default: what TCP keepalives
//!   or gRPC's keepalive pings would take to notice) breaks the connection, whether or not
//!   anything was sent meanwhile.
//! - **A crash** of one end resets its connections: their undelivered messages are gone,
//!   and the other end sees the close one link latency later (the peer's kernel sends a
//!   reset), or after the keepalive if the link is cut.
//! - **Breaking** (keepalive, retransmissions) closes the connection at both ends at once:
//!   each end gets `on_closed`; messages not yet delivered are gone (counted in
//!   `dropped_closed`).
//! - **Connecting** to a node that is down (when the handshake reaches it) is refused: the
//!   dialer sees the close one round trip after `connect`. Connecting across a cut waits for the heal, and breaks after the keepalive
//!   like any connection. The acceptor learns of a connection from its first message
//!   (`Ctx::arrived_on`).
//! - **Pauses** and slow nodes keep their connections (the kernel keeps the socket); their
//!   messages wait like any other.
//! - A message sent on a closed connection (or one of an old epoch) is dropped, counted in
//!   `dropped_closed`: a write to a closed socket fails.
//!
//! Connections are the native engine's: a system that uses them says so in its network
//! hook (`NetworkModel::use_connections`), and the hosted backends (madsim, turmoil), whose
//! networks carry the messages, refuse its scenarios.

use std::collections::BTreeMap;

use super::ids::{Message, NodeId};
use super::observe::MessageFate;
use super::time::Time;
use super::world::{sent_record, Event, Status, StreamDelivery, World};

/// Keepalive by default: a cut this long breaks a connection (nanoseconds).
pub const DEFAULT_KEEPALIVE: u64 = 10_000_000_000;

/// A connection: who dialed whom, and which of their connections (`epoch` counts the
/// dialer's connections to the acceptor, from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId {
    /// The node that called `connect`.
    pub dialer: NodeId,
    /// The node it connected to.
    pub acceptor: NodeId,
    /// Which connection of the two: every `connect` after a close opens a new epoch.
    pub epoch: u32,
}

impl ConnId {
    /// The other end, seen from `me`.
    pub fn peer(self, me: NodeId) -> NodeId {
        if me == self.dialer {
            self.acceptor
        } else {
            self.dialer
        }
    }

    fn key(self) -> (NodeId, NodeId) {
        (self.dialer, self.acceptor)
    }

    /// The direction a message from `from` takes: 0 towards the acceptor, 1 back.
    fn direction(self, from: NodeId) -> usize {
        usize::from(from != self.dialer)
    }
}

/// What a connection's timer checks when it runs out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnCheck {
    /// The handshake reached the acceptor.
    Handshake,
    /// The keepalive of a cut found at `since` ran out.
    Cut { since: u64 },
    /// A message's retransmissions outlasted the keepalive.
    GaveUp,
}

/// One direction of a connection.
#[derive(Debug)]
struct Stream<M> {
    /// Sequence number of the next message sent.
    sent: u64,
    /// Sequence number of the next message the receiver hands to its node.
    next: u64,
    /// Messages a cut or clog holds, by sequence number, sent again at the heal.
    held: BTreeMap<u64, M>,
    /// Messages that arrived before an earlier one, by sequence number.
    early: BTreeMap<u64, M>,
}

impl<M> Default for Stream<M> {
    fn default() -> Stream<M> {
        Stream { sent: 0, next: 0, held: BTreeMap::new(), early: BTreeMap::new() }
    }
}

#[derive(Debug)]
struct Conn<M> {
    epoch: u32,
    open: bool,
    /// When the link (either direction) was last found cut or clogged, while it still is.
    cut_since: Option<u64>,
    streams: [Stream<M>; 2],
}

/// Every connection of a simulation, by (dialer, acceptor).
#[derive(Debug)]
pub(crate) struct Connections<M> {
    conns: BTreeMap<(NodeId, NodeId), Conn<M>>,
    /// How long a cut lasts before it breaks a connection, nanoseconds.
    pub(crate) keepalive: u64,
}

impl<M> Default for Connections<M> {
    fn default() -> Connections<M> {
        Connections { conns: BTreeMap::new(), keepalive: DEFAULT_KEEPALIVE }
    }
}

impl<M> Connections<M> {
    /// Messages on connections not yet handed to a node: held by a cut, or waiting for an
    /// earlier one (those on the wire are queue events).
    pub(crate) fn waiting(&self) -> usize {
        self.conns.values().flat_map(|c| &c.streams).map(|s| s.held.len() + s.early.len()).sum()
    }

    fn open(&mut self, conn: ConnId) -> Option<&mut Conn<M>> {
        self.conns.get_mut(&conn.key()).filter(|c| c.open && c.epoch == conn.epoch)
    }

    /// Whether `conn` is open.
    pub(crate) fn is_open(&self, conn: ConnId) -> bool {
        self.conns.get(&conn.key()).is_some_and(|c| c.open && c.epoch == conn.epoch)
    }
}

impl<M: Message> World<M> {
    /// Whether a cut or a clog stands between `a` and `b`, in either direction.
    fn blocks(&self, a: NodeId, b: NodeId) -> bool {
        self.is_cut(a, b) || self.is_cut(b, a) || self.is_clogged(a, b) || self.is_clogged(b, a)
    }

    /// `me` connects to `to`: its open connection if it has one, else a new one.
    pub(crate) fn connect(&mut self, me: NodeId, to: NodeId) -> ConnId {
        assert!(to.index() < self.processes.len() && to != me, "{me} cannot connect to {to}");
        assert!(
            self.hosted.is_none(),
            "connections are the native engine's: a system that uses them declares it \
             (NetworkModel::use_connections) so that other backends refuse the scenario"
        );
        let key = (me, to);
        let previous = self.connections.conns.get(&key);
        if let Some(conn) = previous.filter(|c| c.open) {
            return ConnId { dialer: me, acceptor: to, epoch: conn.epoch };
        }
        let epoch = previous.map_or(1, |c| c.epoch + 1);
        let conn = Conn { epoch, open: true, cut_since: None, streams: Default::default() };
        self.connections.conns.insert(key, conn);
        self.network.stats.connections.opened += 1;
        let id = ConnId { dialer: me, acceptor: to, epoch };
        let now = self.handler_time(me);
        if self.blocks(me, to) {
            self.arm_keepalive(id, now);
        } else {
            let at = now + self.sample_latency(me, to);
            self.queue.push(at, Event::ConnCheck { conn: id, check: ConnCheck::Handshake });
        }
        id
    }

    /// A connection's timer ran out: the handshake reached the acceptor (refused if it is
    /// down: the dialer hears the reset one latency later), or the keepalive or the
    /// retransmissions ran out (it breaks, if that still holds).
    pub(crate) fn check_connection(&mut self, conn: ConnId, check: ConnCheck) {
        let Some(c) = self.connections.open(conn) else { return };
        let now = self.now;
        match check {
            ConnCheck::Handshake => {
                if self.processes[conn.acceptor.index()].status == Status::Down {
                    self.network.stats.connections.refused += 1;
                    self.covered("connection refused");
                    let at = now + self.sample_latency(conn.acceptor, conn.dialer);
                    self.close(conn, &[(conn.dialer, at)]);
                }
            }
            ConnCheck::Cut { since } if c.cut_since != Some(since) => {}
            ConnCheck::Cut { .. } | ConnCheck::GaveUp => {
                self.network.stats.connections.broken += 1;
                self.covered(match check {
                    ConnCheck::GaveUp => "connection broken: retransmissions outlasted the keepalive",
                    _ => "connection broken: a cut outlasted the keepalive",
                });
                self.close(conn, &[(conn.dialer, now), (conn.acceptor, now)]);
            }
        }
    }

    /// `me` sends `msg` on `conn`.
    pub(crate) fn send_on(&mut self, me: NodeId, conn: ConnId, msg: M) {
        assert!(me == conn.dialer || me == conn.acceptor, "{me} sent on {conn:?}, which is not its own");
        let to = conn.peer(me);
        self.network.stats.sent += 1;
        let now = self.handler_time(me);
        let Some(stream) = self.connections.open(conn).map(|c| &mut c.streams[conn.direction(me)]) else {
            self.network.stats.dropped_closed += 1;
            self.observations.message(sent_record(now, me, to, MessageFate::Closed, None, &msg), Time(now));
            return;
        };
        let seq = stream.sent;
        stream.sent += 1;
        if self.blocks(me, to) {
            self.observations.message(sent_record(now, me, to, MessageFate::Held, None, &msg), Time(now));
            self.hold(conn, me, seq, msg, now);
        } else {
            self.transmit(conn, me, seq, msg, now);
        }
    }

    /// Puts a message on the wire; breaks the connection if its retransmissions would
    /// outlast the keepalive.
    fn transmit(&mut self, conn: ConnId, from: NodeId, seq: u64, msg: M, now: u64) {
        let to = conn.peer(from);
        let rng = &mut self.processes[from.index()].network_rng;
        let keepalive = self.connections.keepalive;
        let route = self.network.route_stream(now, from, to, &msg, keepalive, rng);
        let fate = if route.is_some() { MessageFate::Stream } else { MessageFate::Closed };
        self.observations.message(sent_record(now, from, to, fate, route, &msg), Time(now));
        match route {
            Some(at) => {
                let delivery = StreamDelivery { conn, from, seq, admitted: false, msg };
                self.queue.push(at, Event::Stream(Box::new(delivery)));
            }
            None => {
                self.network.stats.dropped_closed += 1;
                self.queue.push(now + keepalive, Event::ConnCheck { conn, check: ConnCheck::GaveUp });
            }
        }
    }

    fn hold(&mut self, conn: ConnId, from: NodeId, seq: u64, msg: M, now: u64) {
        if let Some(c) = self.connections.open(conn) {
            c.streams[conn.direction(from)].held.insert(seq, msg);
            self.arm_keepalive(conn, now);
        }
    }

    /// Starts the keepalive's count for a connection found cut at `now`, unless it runs.
    fn arm_keepalive(&mut self, conn: ConnId, now: u64) {
        let keepalive = self.connections.keepalive;
        if let Some(c) = self.connections.open(conn).filter(|c| c.cut_since.is_none()) {
            c.cut_since = Some(now);
            let check = ConnCheck::Cut { since: now };
            self.queue.push(now.saturating_add(keepalive), Event::ConnCheck { conn, check });
        }
    }

    /// A message on a connection arrives: the message to hand to the node now, if any
    /// (else it was dropped with its connection, held by a cut, or waits for an earlier one).
    pub(crate) fn stream_arrival(
        &mut self,
        now: u64,
        conn: ConnId,
        from: NodeId,
        seq: u64,
        msg: M,
    ) -> Option<M> {
        let to = conn.peer(from);
        if !self.connections.is_open(conn) {
            self.network.stats.dropped_closed += 1;
            return None;
        }
        if self.processes[to.index()].status == Status::Down {
            // Opened across a cut to a node that was down: its host resets it.
            self.network.stats.dropped_closed += 1;
            self.network.stats.connections.refused += 1;
            let at = now + self.sample_latency(to, from);
            self.close(conn, &[(from, at)]);
            return None;
        }
        if self.blocks(from, to) {
            self.hold(conn, from, seq, msg, now);
            return None;
        }
        let stream = &mut self.connections.open(conn).expect("open").streams[conn.direction(from)];
        if seq != stream.next {
            stream.early.insert(seq, msg);
            return None;
        }
        stream.next += 1;
        if let Some(next) = stream.early.remove(&stream.next) {
            let delivery = StreamDelivery { conn, from, seq: seq + 1, admitted: false, msg: next };
            self.queue.push(now, Event::Stream(Box::new(delivery)));
        }
        Some(msg)
    }

    /// After a fault changed cuts or clogs: connections newly cut start their keepalive,
    /// and connections whole again send what they held, in order.
    pub(crate) fn recheck_connections(&mut self) {
        let now = self.now;
        let open: Vec<ConnId> = self
            .connections
            .conns
            .iter()
            .filter(|(_, c)| c.open)
            .map(|(&(dialer, acceptor), c)| ConnId { dialer, acceptor, epoch: c.epoch })
            .collect();
        for conn in open {
            if self.blocks(conn.dialer, conn.acceptor) {
                self.arm_keepalive(conn, now);
                continue;
            }
            let c = self.connections.open(conn).expect("open");
            if c.cut_since.take().is_none() {
                continue;
            }
            if c.streams.iter().any(|s| !s.held.is_empty()) {
                self.covered("connection held messages across a cut");
            }
            for from in [conn.dialer, conn.acceptor] {
                let stream = &mut self.connections.open(conn).expect("open").streams[conn.direction(from)];
                for (seq, msg) in std::mem::take(&mut stream.held) {
                    self.transmit(conn, from, seq, msg, now);
                }
            }
        }
    }

    /// `me` closes `conn`: the peer sees it one link latency later.
    pub(crate) fn disconnect(&mut self, me: NodeId, conn: ConnId) {
        if !self.connections.is_open(conn) {
            return;
        }
        self.network.stats.connections.closed += 1;
        let peer = conn.peer(me);
        let at = self.handler_time(me) + self.sample_latency(me, peer);
        self.close(conn, &[(peer, at)]);
    }

    /// `node` crashed: its connections are reset; each peer sees it one latency later, or
    /// after the keepalive across a cut.
    pub(crate) fn reset_connections(&mut self, node: NodeId) {
        let now = self.now;
        let mine: Vec<ConnId> = self
            .connections
            .conns
            .iter()
            .filter(|(&(dialer, acceptor), c)| c.open && (dialer == node || acceptor == node))
            .map(|(&(dialer, acceptor), c)| ConnId { dialer, acceptor, epoch: c.epoch })
            .collect();
        for conn in mine {
            self.network.stats.connections.reset += 1;
            self.covered("connection reset by a crash");
            let peer = conn.peer(node);
            let after = if self.blocks(node, peer) {
                self.connections.keepalive
            } else {
                self.sample_latency(peer, node)
            };
            self.close(conn, &[(peer, now + after)]);
        }
    }

    /// Closes `conn`: what it still carries is gone; each `(node, at)` is told at `at`.
    fn close(&mut self, conn: ConnId, tell: &[(NodeId, u64)]) {
        let c = self.connections.open(conn).expect("closing an open connection");
        c.open = false;
        c.cut_since = None;
        let lost: usize = c.streams.iter().map(|s| s.held.len() + s.early.len()).sum();
        c.streams = Default::default();
        self.network.stats.dropped_closed += lost as u64;
        for &(node, at) in tell {
            let process = &self.processes[node.index()];
            if process.status != Status::Down {
                let incarnation = process.incarnation;
                self.push_node_event(node, at, Event::Closed { node, incarnation, conn });
            }
        }
    }

    /// Marks a connection event in the coverage ledger (a kernel `sometimes`), so a sweep
    /// shows its scenarios reached it.
    fn covered(&mut self, what: &'static str) {
        let now = Time(self.now);
        self.observations.sometimes(now, what, true);
    }

    /// One draw of the latency of `from -> to`, from `from`'s network stream.
    fn sample_latency(&mut self, from: NodeId, to: NodeId) -> u64 {
        let rng = &mut self.processes[from.index()].network_rng;
        self.network.model(from, to).latency.sample_nanos(rng)
    }
}
