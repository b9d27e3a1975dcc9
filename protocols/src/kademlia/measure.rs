//! A measurement server (parsec's "server"): a DHT client of one fleet that provides fresh
//! content when the schedule says, tells the others to retrieve it, and retrieves what they
//! provide. Every provide and retrieval is a timed operation (`provide.<fleet>`,
//! `retrieve.<fleet>`) with a `kad.op` fact: hops, requests, routing-table size.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use sim::kernel::history::Value;
use sim::prelude::*;

use super::config::{Bug, Config, Fleet, NetsizeTrack, Tables};
use super::key::Key;
use super::lookup::Lookup;
use super::msg::{Msg, Timer};
use super::netsize::{self, Estimator};
use super::report::KadFact;
use super::rpc::Rpcs;
use super::table::{Population, Table};
use super::{class, BOOTSTRAP};

fn find_node(rpc: u32, target: Key) -> Msg {
    Msg::FindNode { rpc, target }
}

fn get_providers(rpc: u32, key: Key) -> Msg {
    Msg::GetProviders { rpc, key }
}

/// The measurement servers: node id and fleet, in schedule order.
pub type Roster = Arc<Vec<(u32, Fleet)>>;

/// What a request is for: a task, and whether it is one of a provide's stores (the rest are
/// a walk's queries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Purpose {
    task: u32,
    put: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Put {
    Out,
    Stored,
    Failed,
}

#[derive(Debug)]
struct Provide {
    op: u64,
    n: u64,
    key: Key,
    /// The walk, while it lasts.
    lookup: Option<Lookup>,
    /// Optimistic provide's thresholds, when it has a network-size estimate.
    optimistic: Option<netsize::Thresholds>,
    puts: BTreeMap<u32, Put>,
    /// Optimistic provide: stores sent during the walk (peers below the individual
    /// threshold), and whether the set threshold stopped the walk before it terminated.
    at_once: u32,
    stopped_early: bool,
    /// Return after this many puts complete (set when the walk ends).
    return_after: Option<usize>,
    returned: bool,
    hops: (u32, u32),
    rpcs: u32,
}

#[derive(Debug)]
enum Task {
    /// A refresh lookup: first the node's own key (`own`), then one into each bucket.
    Refresh {
        lookup: Lookup,
        own: bool,
    },
    Provide(Box<Provide>),
    /// A retrieval by lookup (default, optprov) or by asking known peers at once (fullrt,
    /// ipni: `lookup` is `None`, `out` counts the requests).
    Retrieve {
        op: u64,
        lookup: Option<Lookup>,
        out: usize,
        rpcs: u32,
    },
    Crawl {
        queue: VecDeque<u32>,
        seen: Vec<bool>,
        found: Vec<u32>,
        out: usize,
    },
}

/// A measurement server.
pub struct Measurer {
    population: Arc<Population>,
    config: Arc<Config>,
    me: u32,
    fleet: Fleet,
    roster: Roster,
    indexer: u32,
    table: Table,
    /// The accelerated client's view of the network: every server that answered the last
    /// crawl, sorted by key.
    full: Vec<(Key, u32)>,
    rpcs: Rpcs<Purpose>,
    tasks: BTreeMap<u32, Task>,
    next_task: u32,
    estimator: Estimator,
    next_provide: u64,
}

impl Measurer {
    /// Measurement server `me` of fleet `fleet`.
    pub fn new(
        population: Arc<Population>,
        config: Arc<Config>,
        me: u32,
        fleet: Fleet,
        roster: Roster,
        indexer: u32,
    ) -> Measurer {
        let table = Table::new(*population.key(me));
        Measurer {
            population,
            config,
            me,
            fleet,
            roster,
            indexer,
            table,
            full: Vec::new(),
            rpcs: Rpcs::new(),
            tasks: BTreeMap::new(),
            next_task: 0,
            estimator: Estimator::default(),
            next_provide: 0,
        }
    }

    fn add_task(&mut self, task: Task) -> u32 {
        let id = self.next_task;
        self.next_task += 1;
        self.tasks.insert(id, task);
        id
    }

    // ---- the schedule -------------------------------------------------------------------

    fn schedule_next(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let index = self.roster.iter().position(|(id, _)| *id == self.me).expect("on the roster") as u64;
        let count = self.roster.len() as u64;
        let now = ctx.now().since_start();
        let mut n = index;
        while n < self.config.provides && self.config.warmup + self.config.interval * n as u32 <= now {
            n += count;
        }
        if n < self.config.provides {
            self.next_provide = n;
            let at = self.config.warmup + self.config.interval * n as u32;
            ctx.set_timer(at - now, Timer::Provide);
        }
    }

    fn start_provide(&mut self, ctx: &mut Ctx<'_, Msg>, n: u64) {
        let mut content = [0u8; 40];
        content[..8].copy_from_slice(&n.to_be_bytes());
        for chunk in content[8..].chunks_mut(8) {
            chunk.copy_from_slice(&ctx.rng().next_u64().to_be_bytes());
        }
        let key = Key::of_content(&content);
        let op = ctx.begin_operation(&format!("provide.{}", self.fleet.name()), n, Value::Nil);
        let mut provide = Provide {
            op,
            n,
            key,
            lookup: None,
            optimistic: None,
            puts: BTreeMap::new(),
            at_once: 0,
            stopped_early: false,
            return_after: None,
            returned: false,
            hops: (0, 0),
            rpcs: 0,
        };
        match self.fleet {
            Fleet::Default | Fleet::Optprov => {
                if self.fleet == Fleet::Optprov {
                    // Upstream falls back to the classic provide without an estimate.
                    let size = self.estimator.size(ctx.now());
                    let estimate = size.map(|s| s.round() as u64);
                    ctx.fact(KadFact::NetSize { estimate, reachable: self.population.reachable_servers });
                    provide.optimistic = size.map(|size| netsize::Thresholds::new(self.config.k, size));
                    ctx.sometimes(
                        "kademlia: optimistic provide had a network-size estimate",
                        provide.optimistic.is_some(),
                    );
                }
                let seeds = self.table.closest(&key, self.config.k, &self.population);
                provide.lookup = Some(Lookup::new(key, &seeds, self.config.lookup(), &self.population));
            }
            Fleet::Fullrt => {
                let peers = self.full_closest(&key);
                provide.hops = (1, 0);
                provide.return_after = Some(peers.len());
                for peer in peers {
                    provide.puts.insert(peer, Put::Out);
                }
            }
            Fleet::Ipni => {
                provide.return_after = Some(1);
                provide.puts.insert(self.indexer, Put::Out);
                provide.hops = (1, 0);
            }
        }
        let puts: Vec<u32> = provide.puts.keys().copied().collect();
        let timeout =
            if self.fleet == Fleet::Fullrt { self.config.fullrt_timeout } else { self.config.put_timeout };
        let id = self.add_task(Task::Provide(Box::new(provide)));
        for peer in puts {
            self.send_put(ctx, id, peer, key, timeout);
        }
        self.advance(ctx, id);
    }

    fn send_put(&mut self, ctx: &mut Ctx<'_, Msg>, task: u32, peer: u32, key: Key, timeout: Duration) {
        if self.fleet == Fleet::Ipni {
            self.rpcs.send(ctx, peer, Purpose { task, put: true }, timeout, |rpc| Msg::Announce { rpc, key });
        } else {
            self.rpcs
                .send(ctx, peer, Purpose { task, put: true }, timeout, |rpc| Msg::AddProvider { rpc, key });
        }
    }

    fn full_closest(&self, key: &Key) -> Vec<u32> {
        let mut all: Vec<(Key, u32)> = self.full.iter().map(|(k, p)| (k.distance(key), *p)).collect();
        let n = self.config.k.min(all.len());
        if n == 0 {
            return Vec::new();
        }
        all.select_nth_unstable(n - 1);
        all.truncate(n);
        all.sort_unstable();
        all.into_iter().map(|(_, p)| p).collect()
    }

    fn start_retrieve(&mut self, ctx: &mut Ctx<'_, Msg>, key: Key, n: u64) {
        let op = ctx.begin_operation(&format!("retrieve.{}", self.fleet.name()), n, Value::Nil);
        let timeout = self.config.read_timeout;
        match self.fleet {
            Fleet::Default | Fleet::Optprov => {
                let seeds = self.table.closest(&key, self.config.k, &self.population);
                let lookup = Lookup::new(key, &seeds, self.config.lookup(), &self.population);
                let id = self.add_task(Task::Retrieve { op, lookup: Some(lookup), out: 0, rpcs: 0 });
                self.advance(ctx, id);
            }
            Fleet::Fullrt => {
                let peers = self.full_closest(&key);
                let id = self.add_task(Task::Retrieve {
                    op,
                    lookup: None,
                    out: peers.len(),
                    rpcs: peers.len() as u32,
                });
                for peer in peers {
                    self.rpcs.send(ctx, peer, Purpose { task: id, put: false }, timeout, |rpc| {
                        Msg::GetProviders { rpc, key }
                    });
                }
                self.advance(ctx, id);
            }
            Fleet::Ipni => {
                let id = self.add_task(Task::Retrieve { op, lookup: None, out: 1, rpcs: 1 });
                self.rpcs.send(ctx, self.indexer, Purpose { task: id, put: false }, timeout, |rpc| {
                    Msg::Find { rpc, key }
                });
            }
        }
    }

    /// A refresh (go-libp2p-kad-dht `rt_refresh_manager.go`): a lookup of the node's own
    /// key, then one into each bucket ([`Table::refresh_targets`]).
    fn start_refresh(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let me = *self.population.key(self.me);
        self.refresh_lookup(ctx, me, true);
    }

    fn refresh_lookup(&mut self, ctx: &mut Ctx<'_, Msg>, target: Key, own: bool) {
        let seeds = self.table.closest(&target, self.config.k, &self.population);
        let lookup = Lookup::new(target, &seeds, self.config.lookup(), &self.population);
        let id = self.add_task(Task::Refresh { lookup, own });
        self.advance(ctx, id);
    }

    fn start_crawl(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let mut seen = vec![false; self.population.keys.len()];
        let queue: VecDeque<u32> = self.table.peers().collect();
        for &peer in &queue {
            seen[peer as usize] = true;
        }
        let task = Task::Crawl { queue, seen, found: Vec::new(), out: 0 };
        let id = self.add_task(task);
        self.advance(ctx, id);
    }

    // ---- progress -----------------------------------------------------------------------

    /// Feeds a completed lookup to the network-size estimator (upstream does after every
    /// `GetClosestPeers` and optimistic provide that completed).
    fn track(&mut self, now: Time, lookup: &Lookup) {
        let me = self.population.key(self.me);
        let cpl = me.common_prefix(lookup.target());
        let peers = match self.config.netsize_track {
            NetsizeTrack::Known => lookup.closest_known(),
            NetsizeTrack::Queried => lookup.closest_queried(),
        };
        let fitting = peers.iter().filter(|p| me.common_prefix(self.population.key(**p)) == cpl).count();
        let weight = netsize::weight(self.table.bucket_len(cpl), fitting, self.config.k);
        let distances: Vec<f64> =
            peers.iter().map(|p| self.population.key(*p).distance(lookup.target()).normed()).collect();
        self.estimator.track(&distances, self.config.k, weight, now);
    }

    /// Sends task `id`'s lookup the requests it wants now: `request(rpc, target)` to each.
    fn query(&mut self, ctx: &mut Ctx<'_, Msg>, id: u32, lookup: &mut Lookup, request: fn(u32, Key) -> Msg) {
        let target = *lookup.target();
        for peer in lookup.to_query() {
            let purpose = Purpose { task: id, put: false };
            self.rpcs.send(ctx, peer, purpose, self.config.read_timeout, |rpc| request(rpc, target));
        }
    }

    /// Sends what task `id` can send now, and finishes it if it is done.
    fn advance(&mut self, ctx: &mut Ctx<'_, Msg>, id: u32) {
        let Some(mut task) = self.tasks.remove(&id) else { return };
        let finished = match &mut task {
            Task::Refresh { lookup, own } => {
                self.query(ctx, id, lookup, find_node);
                if lookup.done() {
                    let (finish, seen) = lookup.hops();
                    ctx.fact(KadFact::Lookup { hops: finish, hops_seen: seen });
                    self.track(ctx.now(), lookup);
                    if *own {
                        for target in self.table.refresh_targets(ctx.rng()) {
                            self.refresh_lookup(ctx, target, false);
                        }
                    }
                }
                lookup.done()
            }
            Task::Provide(provide) => self.advance_provide(ctx, id, provide),
            Task::Retrieve { op, lookup, out, rpcs } => match lookup {
                Some(lookup) => {
                    self.query(ctx, id, lookup, get_providers);
                    if lookup.done() {
                        self.finish_retrieve(ctx, *op, None, (0, 0), lookup.rpcs);
                    }
                    lookup.done()
                }
                None if *out == 0 => {
                    self.finish_retrieve(ctx, *op, None, (1, 0), *rpcs);
                    true
                }
                None => false,
            },
            Task::Crawl { queue, found, out, .. } => {
                while *out < self.config.crawl_parallelism {
                    let Some(peer) = queue.pop_front() else { break };
                    *out += 1;
                    self.rpcs.send(
                        ctx,
                        peer,
                        Purpose { task: id, put: false },
                        self.config.fullrt_timeout,
                        |rpc| Msg::Crawl { rpc },
                    );
                }
                if *out == 0 {
                    let mut full: Vec<(Key, u32)> =
                        found.iter().map(|p| (*self.population.key(*p), *p)).collect();
                    full.sort_unstable();
                    self.full = full;
                    true
                } else {
                    false
                }
            }
        };
        if !finished {
            self.tasks.insert(id, task);
        }
    }

    fn advance_provide(&mut self, ctx: &mut Ctx<'_, Msg>, id: u32, provide: &mut Provide) -> bool {
        if let Some(lookup) = provide.lookup.as_mut() {
            let mut stop = false;
            if let Some(thresholds) = provide.optimistic {
                // Optimistic provide's stop function (`lookup_optim.go`, `stopFn`), asked
                // during the walk and its follow-up.
                let closest = lookup.closest_live(self.config.k);
                for &(peer, distance) in &closest {
                    if distance <= thresholds.individual && !provide.puts.contains_key(&peer) {
                        provide.puts.insert(peer, Put::Out);
                        provide.at_once += 1;
                        self.send_put(ctx, id, peer, provide.key, self.config.put_timeout);
                    }
                }
                let live = provide.puts.values().filter(|s| **s != Put::Failed).count();
                // Upstream averages over `k` slots, counting missing peers as distance 0.
                let average = closest.iter().map(|(_, d)| d).sum::<f64>() / self.config.k as f64;
                stop = live >= self.config.k || average < thresholds.set;
                if stop && !lookup.walk_ended() {
                    provide.stopped_early = true;
                    ctx.sometimes("kademlia: optimistic provide stopped its walk early", true);
                }
            }
            if !stop {
                self.query(ctx, id, lookup, find_node);
                stop = lookup.done();
                if stop {
                    let (finish, seen) = lookup.hops();
                    ctx.fact(KadFact::Lookup { hops: finish, hops_seen: seen });
                    self.track(ctx.now(), lookup);
                }
            }
            if !stop {
                return false;
            }
            let lookup = provide.lookup.take().expect("walking");
            provide.hops = lookup.hops();
            provide.rpcs += lookup.rpcs;
            // The lookup's queries still out are cancelled (upstream cancels the query's
            // context); stores already out go on.
            self.rpcs.forget(ctx, |p| p.task == id && !p.put);
            let stores = if self.config.has_bug(Bug::StoreNearSelf) {
                // Planted: ranked by distance to this server's own key.
                self.table.closest(self.population.key(self.me), self.config.k, &self.population)
            } else {
                lookup.result(&self.population)
            };
            for peer in stores {
                if let std::collections::btree_map::Entry::Vacant(entry) = provide.puts.entry(peer) {
                    entry.insert(Put::Out);
                    self.send_put(ctx, id, peer, provide.key, self.config.put_timeout);
                }
            }
            provide.return_after = Some(if provide.optimistic.is_some() {
                netsize::return_threshold(self.config.k).min(provide.puts.len())
            } else {
                provide.puts.len()
            });
        }
        let done = provide.puts.values().filter(|s| **s != Put::Out).count();
        let stored = provide.puts.values().filter(|s| **s == Put::Stored).count();
        if !provide.returned && provide.return_after.is_some_and(|after| done >= after) {
            provide.returned = true;
            if provide.optimistic.is_some() {
                let closest = self.population.closest_reachable(&provide.key, self.config.k);
                ctx.fact(KadFact::Optimistic {
                    stopped_early: provide.stopped_early,
                    at_once: provide.at_once,
                    stores: provide.puts.len() as u32,
                    finished: done as u32,
                    closest: closest.iter().filter(|p| provide.puts.contains_key(p)).count() as u32,
                });
            }
            let rpcs = provide.rpcs + provide.puts.len() as u32;
            self.record(ctx, provide.op, provide.hops, rpcs);
            if stored > 0 {
                ctx.complete(provide.op, Outcome::Ok(Value::Int(stored as i64)), None);
                self.announce(ctx, provide.key, provide.n);
            } else {
                ctx.complete(provide.op, Outcome::Fail, None);
            }
        }
        done == provide.puts.len()
    }

    fn record(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, hops: (u32, u32), rpcs: u32) {
        let size = if self.fleet == Fleet::Fullrt { self.full.len() } else { self.table.len() };
        ctx.fact(KadFact::Op { op, hops: hops.0, requests: rpcs, table: size as u64 });
    }

    fn finish_retrieve(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        op: u64,
        provider: Option<u32>,
        hops: (u32, u32),
        rpcs: u32,
    ) {
        self.record(ctx, op, hops, rpcs);
        match provider {
            Some(p) => ctx.complete(op, Outcome::Ok(Value::Int(i64::from(p))), None),
            None => ctx.complete(op, Outcome::Fail, None),
        }
    }

    /// The scheduler's step after a successful provide: every other server of a fleet that
    /// can find the content retrieves it.
    fn announce(&mut self, ctx: &mut Ctx<'_, Msg>, key: Key, provide: u64) {
        for &(peer, fleet) in self.roster.iter() {
            if peer != self.me && fleet.uses_dht() == self.fleet.uses_dht() {
                ctx.send(NodeId(peer), Msg::Retrieve { key, provide });
            }
        }
    }

    fn answered(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        from: u32,
        purpose: Purpose,
        closer: &[u32],
        providers: &[u32],
    ) {
        let id = purpose.task;
        let Some(mut task) = self.tasks.remove(&id) else { return };
        if from < self.population.servers && self.fleet != Fleet::Fullrt {
            self.table.add(from, &self.population, self.config.k);
        }
        let mut finished = false;
        match &mut task {
            Task::Refresh { lookup, .. } => {
                lookup.answered(from, closer, &self.population);
            }
            Task::Provide(provide) if purpose.put => {
                if let Some(state) = provide.puts.get_mut(&from) {
                    *state = Put::Stored;
                }
            }
            Task::Provide(provide) => {
                if let Some(lookup) = provide.lookup.as_mut() {
                    lookup.answered(from, closer, &self.population);
                }
            }
            Task::Retrieve { op, lookup, out, rpcs } => {
                let hops = match lookup {
                    Some(lookup) => (lookup.query_hop(from, &self.population), 0),
                    None => (1, 0),
                };
                let counts = match lookup {
                    Some(lookup) => lookup.answered(from, closer, &self.population),
                    None => {
                        *out -= 1;
                        true
                    }
                };
                if let Some(&provider) = providers.first().filter(|_| counts) {
                    let rpcs = lookup.as_ref().map_or(*rpcs, |l| l.rpcs);
                    self.rpcs.forget(ctx, |p| p.task == id);
                    self.finish_retrieve(ctx, *op, Some(provider), hops, rpcs);
                    finished = true;
                }
            }
            Task::Crawl { queue, seen, found, out } => {
                *out -= 1;
                found.push(from);
                for &peer in closer {
                    if !std::mem::replace(&mut seen[peer as usize], true) {
                        queue.push_back(peer);
                    }
                }
            }
        }
        self.tasks.insert(id, task);
        if !finished {
            self.advance(ctx, id);
        } else {
            self.tasks.remove(&id);
        }
    }

    /// Whether a request is a lookup walk's query (not a store, a crawl's or a fullrt
    /// retrieval's request).
    fn walking(&self, purpose: Purpose) -> bool {
        !purpose.put
            && match self.tasks.get(&purpose.task) {
                Some(Task::Refresh { .. }) => true,
                Some(Task::Provide(provide)) => provide.lookup.is_some(),
                Some(Task::Retrieve { lookup, .. }) => lookup.is_some(),
                Some(Task::Crawl { .. }) | None => false,
            }
    }

    fn failed(&mut self, ctx: &mut Ctx<'_, Msg>, peer: u32, purpose: Purpose) {
        let id = purpose.task;
        let Some(task) = self.tasks.get_mut(&id) else { return };
        if self.fleet != Fleet::Fullrt {
            self.table.remove(peer, &self.population);
        }
        match task {
            Task::Refresh { lookup, .. } => lookup.failed(peer, &self.population),
            Task::Provide(provide) if purpose.put => {
                if let Some(state) = provide.puts.get_mut(&peer) {
                    *state = Put::Failed;
                }
            }
            Task::Provide(provide) => {
                if let Some(lookup) = provide.lookup.as_mut() {
                    lookup.failed(peer, &self.population);
                }
            }
            Task::Retrieve { lookup, out, .. } => match lookup {
                Some(lookup) => lookup.failed(peer, &self.population),
                None => *out -= 1,
            },
            Task::Crawl { out, .. } => *out -= 1,
        }
        self.advance(ctx, id);
    }
}

impl Node for Measurer {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if self.fleet.uses_dht() {
            let first = if self.config.tables == Tables::Bootstrap {
                // Joins once every DHT server has: its first refresh or crawl then.
                for peer in BOOTSTRAP {
                    self.table.add(peer, &self.population, self.config.k);
                }
                self.config.join_over
            } else {
                self.table = self.population.initial_table(self.me, self.config.k, ctx.rng());
                Duration::ZERO
            };
            let tick = if self.fleet == Fleet::Fullrt { Timer::Crawl } else { Timer::Refresh };
            ctx.set_timer(first, tick);
        }
        self.schedule_next(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Peers { rpc, closer, providers } => {
                if let Some(pending) = self.rpcs.answered(ctx, rpc, from) {
                    self.answered(ctx, from.0, pending.purpose, &closer, &providers);
                }
            }
            Msg::Ack { rpc } => {
                if let Some(pending) = self.rpcs.answered(ctx, rpc, from) {
                    self.answered(ctx, from.0, pending.purpose, &[], &[]);
                }
            }
            Msg::FetchAd { rpc, .. } => ctx.send(from, Msg::Ack { rpc }),
            Msg::Retrieve { key, provide } => self.start_retrieve(ctx, key, provide),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Rpc(rpc) => {
                if let Some(pending) = self.rpcs.expired(rpc) {
                    if self.config.has_bug(Bug::QueryWithoutTimeout) && self.walking(pending.purpose) {
                        // Planted: the walk goes on waiting for this answer.
                        return;
                    }
                    ctx.sometimes(class::UNREACHABLE, !self.population.reachable[pending.peer as usize]);
                    self.failed(ctx, pending.peer, pending.purpose);
                }
            }
            Timer::Provide => {
                let n = self.next_provide;
                self.start_provide(ctx, n);
                self.schedule_next(ctx);
            }
            Timer::Refresh => {
                self.start_refresh(ctx);
                ctx.set_timer(self.config.refresh_interval, Timer::Refresh);
            }
            Timer::Crawl => {
                self.start_crawl(ctx);
                ctx.set_timer(self.config.crawl_interval, Timer::Crawl);
            }
            Timer::Join | Timer::Snapshot => ctx.unexpected("measurement servers neither join nor snapshot"),
        }
    }
}
