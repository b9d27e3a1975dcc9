//! The network model: per-message loss, delay, duplication, FIFO links and bandwidth.
//!
//! Every message is routed once, when it is sent, with the *sender's* network stream: the
//! fate of a message depends only on the seed, the sender and the sender's history, so adding
//! an unrelated node or client changes nothing for the others. The draws happen in a fixed
//! order: loss (skipped when the probability is 0), latency, duplication (skipped when 0),
//! the duplicate's latency.
//!
//! - Delay is drawn from the link's latency distribution; reordering falls out of it.
//! - A FIFO link never delivers a message before one sent earlier on the same link (the
//!   later one waits, as on a TCP connection); equal arrival times keep send order.
//! - A link with a bandwidth serialises messages: each occupies the link for
//!   `wire_size / bandwidth`, and a message waits for the ones sent before it.
//! - With a node bandwidth, every node's interface is shared by all its flows: a message
//!   leaves once the sender's interface has sent what was queued before it (and its link
//!   allows), and arrives no sooner than the receiver's interface has taken in what is due
//!   before it plus its own transmission time. Arrival slots are taken in send order, an
//!   approximation of a switch's output queue that needs no rescheduling. A message that
//!   fits in one packet (`PACKET` bytes) interleaves with the bulk transfers, as packets
//!   of different flows do on a real interface: it takes its own transmission time and
//!   waits for no queue (a heartbeat is not stuck behind a 1 GiB upload).
//! - A duplicate is an independent second delivery of the same message.
//!
//! A message kind with a latency of its own (`set_kind_latency`) draws its delay from that
//! instead of its link's latency; loss, duplication, FIFO and bandwidth stay the link's.
//!
//! Which model a link uses, most specific first: a per-link override, the sender's per-node
//! override, the receiver's per-node override, the pair of the two nodes' classes (regions),
//! the default. The most specific model applies in full; fields are not merged.

use std::collections::BTreeMap;
use std::time::Duration;

use super::dist::{Distribution, InvalidDistribution};
use super::hash::DetHashMap;
use super::ids::{Message, NodeId};
use super::rng::{Probability, Rng};

/// How one directed link behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkModel {
    /// One-way delay. Default: constant 1 ms.
    pub latency: Distribution,
    /// Probability that a message is lost. Default: 0.
    pub loss: Probability,
    /// Probability that a message is delivered twice. Default: 0.
    pub duplicate: Probability,
    /// Deliver in send order on this link. Default: false.
    pub fifo: bool,
    /// Bytes per second, or `None` for unlimited. Default: unlimited.
    pub bandwidth: Option<u64>,
}

impl Default for LinkModel {
    fn default() -> LinkModel {
        LinkModel {
            latency: Distribution::Constant(Duration::from_millis(1)),
            loss: Probability::NEVER,
            duplicate: Probability::NEVER,
            fifo: false,
            bandwidth: None,
        }
    }
}

impl LinkModel {
    /// A lossless link with the given latency.
    pub fn with_latency(latency: Distribution) -> LinkModel {
        LinkModel { latency, ..LinkModel::default() }
    }

    /// Checks the latency distribution and the bandwidth.
    pub fn validate(&self) -> Result<(), InvalidDistribution> {
        self.latency.validate()
    }
}

/// Message counts over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetworkStats {
    /// `send` calls.
    pub sent: u64,
    /// Messages handed to a node (duplicates included).
    pub delivered: u64,
    /// Lost to the loss probability.
    pub dropped_loss: u64,
    /// Dropped by a partition, at send or on arrival.
    pub dropped_partition: u64,
    /// Dropped because the receiver was down or restarted while it was in flight.
    pub dropped_crashed: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Times a message arrived on a clogged link and was held (until an unclog).
    pub clogged: u64,
    /// Late copies of old messages (counted in `duplicated` too).
    pub replayed: u64,
    /// Messages sent on a connection that were lost with it: sent on a closed connection,
    /// or not yet delivered when it closed.
    pub dropped_closed: u64,
    /// Retransmissions on connections (each loss draw of a message on one costs one).
    pub retransmitted: u64,
    /// What happened to connections.
    pub connections: ConnectionStats,
}

/// Connection counts over a run (see `connection`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionStats {
    /// `connect` calls that opened a connection.
    pub opened: u64,
    /// Connections refused: the acceptor was down.
    pub refused: u64,
    /// Connections broken by a cut (or a clog) longer than the keepalive, or by
    /// retransmissions that outlasted it.
    pub broken: u64,
    /// Connections reset because one end crashed.
    pub reset: u64,
    /// Connections closed by one of their ends (`disconnect`).
    pub closed: u64,
}

impl NetworkStats {
    /// Every message dropped, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_partition + self.dropped_crashed + self.dropped_closed
    }
}

/// The fate of one sent message: up to two arrival times (the second is a duplicate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Lost,
    Arrive(u64, Option<u64>),
}

#[derive(Clone, Copy, Debug, Default)]
struct LinkState {
    last_arrival: u64,
    free_at: u64,
}

/// Links a fault changed, each with the override it had before.
type SavedLinks = Vec<((NodeId, NodeId), Option<usize>)>;

/// The network: link models and the per-link state FIFO and bandwidth need.
#[derive(Clone, Debug, Default)]
pub struct NetworkModel {
    default: LinkModel,
    overrides: Vec<LinkModel>,
    per_link: DetHashMap<(NodeId, NodeId), usize>,
    per_node: Vec<Option<usize>>,
    class: Vec<u16>,
    per_class: BTreeMap<(u16, u16), usize>,
    links: DetHashMap<(NodeId, NodeId), LinkState>,
    /// Latency per message kind (the name of a `Message::Kind`), where one is set: a handful
    /// at most, searched only when one is.
    by_kind: Vec<(&'static str, Distribution)>,
    /// Bytes per second of every node's interface, if limited.
    node_bandwidth: Option<u64>,
    /// Per node: when its interface is free to send, and to receive.
    interfaces: Vec<(u64, u64)>,
    pub(crate) stats: NetworkStats,
    /// Whether the system talks over connections (`Ctx::connect`).
    connections: bool,
    /// Links changed by a fault during the run, by fault index, with the override each had
    /// before, so the change can be undone.
    changed: BTreeMap<u64, SavedLinks>,
}

impl NetworkModel {
    /// A network where every link follows `default`.
    pub fn new(default: LinkModel) -> NetworkModel {
        NetworkModel { default, ..NetworkModel::default() }
    }

    /// The model used where nothing more specific is set.
    pub fn default_model(&self) -> &LinkModel {
        &self.default
    }

    /// Replaces the default model (for example a burst of loss during a run).
    pub fn set_default(&mut self, model: LinkModel) {
        self.default = model;
    }

    /// Overrides the directed link `from -> to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, model: LinkModel) {
        let index = self.add_override(model);
        self.per_link.insert((from, to), index);
    }

    /// Fault `owner` sets `links` to `model` (a flaky link, a slow node's links) until
    /// `restore_links(owner)`.
    pub fn change_links(&mut self, owner: u64, links: &[(NodeId, NodeId)], model: LinkModel) {
        let index = self.add_override(model);
        let saved = links.iter().map(|&link| (link, self.per_link.insert(link, index))).collect();
        self.changed.insert(owner, saved);
    }

    /// Undoes fault `owner`'s link change: each link gets back the model it had before.
    /// Returns whether there was one.
    pub fn restore_links(&mut self, owner: u64) -> bool {
        let Some(saved) = self.changed.remove(&owner) else { return false };
        for (link, previous) in saved {
            match previous {
                Some(index) => self.per_link.insert(link, index),
                None => self.per_link.remove(&link),
            };
        }
        true
    }

    /// Declares that the system's nodes talk over connections (`Ctx::connect`), which only
    /// the native engine models: other backends refuse the run.
    pub fn use_connections(&mut self) {
        self.connections = true;
    }

    /// Whether the system declared that it talks over connections.
    pub fn uses_connections(&self) -> bool {
        self.connections
    }

    /// Overrides every link to and from `node`.
    pub fn set_node(&mut self, node: NodeId, model: LinkModel) {
        let index = self.add_override(model);
        grow(&mut self.per_node, node.index(), None)[node.index()] = Some(index);
    }

    /// The class of `node` (0 unless set).
    #[inline]
    pub fn class(&self, node: NodeId) -> u16 {
        self.class.get(node.index()).copied().unwrap_or(0)
    }

    /// Puts `node` in a class (a region, a rack); classes start at 0.
    pub fn set_class(&mut self, node: NodeId, class: u16) {
        grow(&mut self.class, node.index(), 0)[node.index()] = class;
    }

    /// Sets the model for links from class `from` to class `to`.
    pub fn set_class_link(&mut self, from: u16, to: u16, model: LinkModel) {
        let index = self.add_override(model);
        self.per_class.insert((from, to), index);
    }

    /// Limits every node's interface to `bytes_per_second`, shared by its flows (`None`:
    /// unlimited).
    pub fn set_node_bandwidth(&mut self, bytes_per_second: Option<u64>) {
        self.node_bandwidth = bytes_per_second.filter(|b| *b > 0);
    }

    /// Gives message kind `kind` (the name of a `Message::Kind`) a latency of its own, on every
    /// link and on loopback.
    pub fn set_kind_latency(&mut self, kind: &'static str, latency: Distribution) {
        match self.by_kind.iter_mut().find(|(name, _)| *name == kind) {
            Some((_, was)) => *was = latency,
            None => self.by_kind.push((kind, latency)),
        }
    }

    /// The latency of message kind `kind`, if it has one of its own.
    #[inline]
    pub fn kind_latency(&self, kind: &str) -> Option<&Distribution> {
        if self.by_kind.is_empty() {
            return None;
        }
        self.by_kind.iter().find(|(name, _)| *name == kind).map(|(_, latency)| latency)
    }

    /// The one model every link follows, or what makes some links or messages differ (a
    /// backend with one model for every link cannot express that). Nodes all in one class
    /// follow that class's model, if it has one.
    pub fn uniform_model(&self) -> Result<&LinkModel, &'static str> {
        if !self.per_link.is_empty() {
            Err("a model of some links' own ([[network.links]])")
        } else if self.per_node.iter().any(Option::is_some) {
            Err("a model of some nodes' own ([[network.nodes]])")
        } else if !self.by_kind.is_empty() {
            Err("latencies per message kind ([network.kinds])")
        } else if self.node_bandwidth.is_some() {
            Err("node interfaces' bandwidth ([network] node_bandwidth)")
        } else if self.per_class.is_empty() {
            Ok(&self.default)
        } else if self.class.iter().all(|&c| c == 0) && self.per_class.keys().all(|&k| k == (0, 0)) {
            Ok(self.per_class.get(&(0, 0)).map_or(&self.default, |&i| &self.overrides[i]))
        } else {
            Err("latencies between node classes (regions)")
        }
    }

    /// Message counts so far.
    pub fn stats(&self) -> NetworkStats {
        self.stats
    }

    /// The model that applies to `from -> to`.
    #[inline(always)]
    pub fn model(&self, from: NodeId, to: NodeId) -> &LinkModel {
        if self.overrides.is_empty() {
            return &self.default;
        }
        let node = |n: NodeId| self.per_node.get(n.index()).copied().flatten();
        let class = |n: NodeId| self.class.get(n.index()).copied().unwrap_or(0);
        let index = self
            .per_link
            .get(&(from, to))
            .copied()
            .or_else(|| node(from))
            .or_else(|| node(to))
            .or_else(|| self.per_class.get(&(class(from), class(to))).copied());
        index.map_or(&self.default, |i| &self.overrides[i])
    }

    /// Decides the fate of a message sent at `now` (nanoseconds) and updates link state.
    #[inline]
    pub(crate) fn route(
        &mut self,
        now: u64,
        from: NodeId,
        to: NodeId,
        size: u64,
        kind: &str,
        rng: &mut Rng,
    ) -> Route {
        let model = self.model(from, to);
        if rng.chance(model.loss) {
            self.stats.dropped_loss += 1;
            return Route::Lost;
        }
        let delay = self.kind_latency(kind).unwrap_or(&model.latency);
        let latency = delay.sample_nanos(rng);
        let duplicate = rng.chance(model.duplicate).then(|| delay.sample_nanos(rng));
        let link = (model.fifo, model.bandwidth);
        self.stats.duplicated += u64::from(duplicate.is_some());
        let (first, second) = self.transit((from, to), link, now, size, latency, duplicate);
        Route::Arrive(first, second)
    }

    /// When a message (and its duplicate, if any) that left at `now` on `from -> to`, whose
    /// model is `(fifo, bandwidth)`, and spends `latency` (and `duplicate`) on the wire
    /// arrives: FIFO links and bandwidth applied.
    #[inline(always)]
    fn transit(
        &mut self,
        (from, to): (NodeId, NodeId),
        (fifo, bandwidth): (bool, Option<u64>),
        now: u64,
        size: u64,
        latency: u64,
        duplicate: Option<u64>,
    ) -> (u64, Option<u64>) {
        let interface = self.node_bandwidth.filter(|_| from != to && size > PACKET);
        let latency = match self.node_bandwidth {
            Some(bytes_per_second) if from != to && size <= PACKET => {
                latency.saturating_add(transmit_nanos(size, bytes_per_second))
            }
            _ => latency,
        };
        if !(fifo || bandwidth.is_some() || interface.is_some()) {
            return (now.saturating_add(latency), duplicate.map(|d| now.saturating_add(d)));
        }
        let link = self.links.entry((from, to)).or_default();
        let mut departure = now;
        if let Some(bytes_per_second) = bandwidth.filter(|b| *b > 0) {
            departure = link.free_at.max(now).saturating_add(transmit_nanos(size, bytes_per_second));
            link.free_at = departure;
        }
        // The receiver's interface: the earliest it can have taken the message in.
        let mut received = 0;
        if let Some(bytes_per_second) = interface {
            let transmit = transmit_nanos(size, bytes_per_second);
            let needed = from.index().max(to.index()) + 1;
            if self.interfaces.len() < needed {
                self.interfaces.resize(needed, (0, 0));
            }
            let sent = self.interfaces[from.index()].0.max(now).saturating_add(transmit);
            self.interfaces[from.index()].0 = sent;
            departure = departure.max(sent);
            let inbound = &mut self.interfaces[to.index()].1;
            received = (*inbound)
                .max(departure.saturating_add(latency).saturating_sub(transmit))
                .saturating_add(transmit);
            *inbound = received;
        }
        let mut arrive = |delay: u64| {
            let mut at = departure.saturating_add(delay).max(received);
            if fifo {
                at = at.max(link.last_arrival);
                link.last_arrival = at;
            }
            at
        };
        let first = arrive(latency);
        (first, duplicate.map(arrive))
    }

    /// The arrival time of a message sent at `now` on a connection (an ordered, reliable
    /// stream): each loss draw costs a retransmission after a timeout that starts at
    /// [`RTO_MIN`] and doubles up to [`RTO_MAX`], as TCP's does; there are no duplicates.
    /// `None` when the retransmissions would outlast `give_up` nanoseconds: the connection
    /// breaks. Latency, kind latencies and bandwidth apply as to any message; order is the
    /// receiver's business (it reassembles by sequence number).
    pub(crate) fn route_stream(
        &mut self,
        now: u64,
        from: NodeId,
        to: NodeId,
        msg: &impl Message,
        give_up: u64,
        rng: &mut Rng,
    ) -> Option<u64> {
        let (size, kind) = (msg.wire_size(), super::ids::kind_name(msg));
        let model = self.model(from, to);
        let (loss, link) = (model.loss, (model.fifo, model.bandwidth));
        let (mut waited, mut timeout) = (0u64, RTO_MIN);
        while rng.chance(loss) {
            self.stats.retransmitted += 1;
            waited = waited.saturating_add(timeout);
            timeout = timeout.saturating_mul(2).min(RTO_MAX);
            if waited > give_up {
                return None;
            }
        }
        let sent = now.saturating_add(waited);
        let delay = self.kind_latency(kind).unwrap_or(&self.model(from, to).latency);
        let latency = delay.sample_nanos(rng);
        Some(self.transit((from, to), link, sent, size, latency, None).0)
    }

    fn add_override(&mut self, model: LinkModel) -> usize {
        self.overrides.push(model);
        self.overrides.len() - 1
    }
}

/// TCP's first retransmission timeout (Linux's `TCP_RTO_MIN`, 200 ms).
pub const RTO_MIN: u64 = 200_000_000;
/// TCP's largest retransmission timeout (Linux's `TCP_RTO_MAX`, 120 s).
pub const RTO_MAX: u64 = 120_000_000_000;

/// Messages up to this size interleave with bulk transfers on a node's interface.
pub const PACKET: u64 = 1500;

/// Nanoseconds `size` bytes take at `bytes_per_second`.
fn transmit_nanos(size: u64, bytes_per_second: u64) -> u64 {
    u64::try_from(u128::from(size) * 1_000_000_000 / u128::from(bytes_per_second)).unwrap_or(u64::MAX)
}

fn grow<T: Clone>(table: &mut Vec<T>, index: usize, fill: T) -> &mut Vec<T> {
    if table.len() <= index {
        table.resize(index + 1, fill);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::rng::Seed;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    fn arrivals(route: Route) -> Vec<u64> {
        match route {
            Route::Lost => vec![],
            Route::Arrive(a, b) => std::iter::once(a).chain(b).collect(),
        }
    }

    #[test]
    fn overrides_resolve_most_specific_first() {
        let mut network = NetworkModel::new(LinkModel::with_latency(Distribution::Constant(ms(1))));
        network.set_class(NodeId(2), 1);
        network.set_class(NodeId(3), 1);
        network.set_class_link(0, 1, LinkModel::with_latency(Distribution::Constant(ms(50))));
        network.set_node(NodeId(4), LinkModel::with_latency(Distribution::Constant(ms(20))));
        network.set_link(NodeId(0), NodeId(2), LinkModel::with_latency(Distribution::Constant(ms(7))));
        let latency = |a, b| network.model(NodeId(a), NodeId(b)).latency.clone();
        assert_eq!(latency(0, 1), Distribution::Constant(ms(1)));
        assert_eq!(latency(1, 3), Distribution::Constant(ms(50)), "class pair 0 -> 1");
        assert_eq!(latency(3, 1), Distribution::Constant(ms(1)), "class pair 1 -> 0 is unset");
        assert_eq!(latency(0, 2), Distribution::Constant(ms(7)), "link beats class");
        assert_eq!(latency(4, 2), Distribution::Constant(ms(20)), "sender node beats class");
        assert_eq!(latency(2, 4), Distribution::Constant(ms(20)), "receiver node applies too");
    }

    #[test]
    fn a_node_interface_is_shared_by_its_flows() {
        let mut network = NetworkModel::new(LinkModel::with_latency(Distribution::Constant(ms(1))));
        network.set_node_bandwidth(Some(1_000_000)); // 1 MB/s: 100 kB take 100 ms
        let mut rng = Seed(1).stream("network", 0);
        let mut at =
            |from, to| arrivals(network.route(0, NodeId(from), NodeId(to), 100_000, "", &mut rng))[0];
        assert_eq!(at(0, 1), 101_000_000, "sent in 100 ms, then 1 ms on the wire");
        assert_eq!(at(0, 2), 201_000_000, "the sender's second flow waits for its first");
        assert_eq!(at(3, 2), 301_000_000, "the receiver takes in one flow after the other");
        assert_eq!(at(4, 5), 101_000_000, "other nodes' interfaces are their own");
        assert_eq!(at(6, 6), 1_000_000, "loopback does not cross the interface");
        let small = arrivals(network.route(0, NodeId(0), NodeId(2), 1_000, "", &mut rng))[0];
        assert_eq!(small, 2_000_000, "a one-packet message interleaves: 1 ms to send, 1 ms on the wire");
    }

    #[test]
    fn a_kind_with_a_latency_of_its_own_takes_it_on_every_link() {
        let mut network = NetworkModel::new(LinkModel::with_latency(Distribution::Constant(ms(3))));
        network.set_link(NodeId(0), NodeId(1), LinkModel::with_latency(Distribution::Constant(ms(7))));
        network.set_kind_latency("write", Distribution::Constant(ms(50)));
        let mut rng = Seed(1).stream("network", 0);
        let mut at =
            |from, to, kind| arrivals(network.route(0, NodeId(from), NodeId(to), 8, kind, &mut rng))[0];
        assert_eq!(at(0, 1, "read"), 7_000_000, "other kinds keep the link's");
        assert_eq!(at(0, 1, "write"), 50_000_000, "the kind's beats the link's");
        assert_eq!(at(1, 0, "write"), 50_000_000, "and the default's");
        assert_eq!(at(1, 0, "ack"), 3_000_000);
    }

    #[test]
    fn fifo_never_overtakes() {
        let model = LinkModel {
            latency: Distribution::Uniform { min: ms(1), max: ms(100) },
            fifo: true,
            ..LinkModel::default()
        };
        let mut network = NetworkModel::new(model);
        let mut rng = Seed(1).stream("network", 0);
        let mut last = 0;
        for i in 0..1000 {
            let at = arrivals(network.route(i * 10_000, NodeId(0), NodeId(1), 8, "", &mut rng))[0];
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    fn bandwidth_serialises_by_size() {
        let model = LinkModel {
            latency: Distribution::Constant(ms(10)),
            bandwidth: Some(1_000_000), // 1 MB/s: 1,000 bytes take 1 ms
            ..LinkModel::default()
        };
        let mut network = NetworkModel::new(model);
        let mut rng = Seed(1).stream("network", 0);
        let times: Vec<u64> = (0..3)
            .map(|_| arrivals(network.route(0, NodeId(0), NodeId(1), 1_000, "", &mut rng))[0])
            .collect();
        assert_eq!(times, vec![11_000_000, 12_000_000, 13_000_000]);
        // Another link is not slowed down.
        assert_eq!(arrivals(network.route(0, NodeId(1), NodeId(0), 1_000, "", &mut rng)), vec![11_000_000]);
    }

    #[test]
    fn duplication_rate() {
        let model = LinkModel { duplicate: Probability::new(0.2).unwrap(), ..LinkModel::default() };
        let mut network = NetworkModel::new(model);
        let mut rng = Seed(1).stream("network", 0);
        let copies: usize = (0..50_000)
            .map(|_| arrivals(network.route(0, NodeId(0), NodeId(1), 8, "", &mut rng)).len())
            .sum();
        // 50,000 + Binomial(50,000, 0.2): mean 10,000, sd ~89.
        assert!((59_600..60_400).contains(&copies), "{copies}");
        assert_eq!(network.stats().duplicated as usize, copies - 50_000);
    }
}
