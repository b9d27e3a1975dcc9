//! A DHT server: answers FIND_NODE, GET_PROVIDERS and ADD_PROVIDER from its routing table
//! and provider store (go-libp2p-kad-dht `handlers.go`).
//!
//! With `tables = "constructed"` it starts with the table [`Population::initial_table`]
//! builds and never looks anything up. With `tables = "bootstrap"` it joins at a random time
//! within `join_over` (the bootstrap servers are there from the start and know each other)
//! and then refreshes every `refresh_interval`. Joining and refreshing are upstream's
//! refresh (`rt_refresh_manager.go`): a lookup of its own key, then one lookup into each
//! bucket up to the deepest ([`Table::refresh_targets`]). A server that restarts after
//! churn has lost everything and joins the same way. The servers that answer its lookups,
//! and the servers that send it requests, go into its table. An unreachable server never
//! answers and never looks anything up.
//!
//! At the warmup's end every server states its table as the fact `kad.table` `[size, full
//! buckets, of its k nearest reachable servers how many it holds, 100 x its full buckets'
//! spread ([`Table::spread`]), and, once its table is settled (constructed, or a join or
//! refresh ran to its end), how many buckets a refresh looks into are empty although `k`
//! reachable servers belong in each ([`Table::empty_buckets`])]`.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim::prelude::*;

use super::config::{Config, Tables};
use super::key::Key;
use super::lookup::Lookup;
use super::msg::{Msg, Timer};
use super::report::KadFact;
use super::rpc::Rpcs;
use super::table::{Population, Table};
use super::{class, BOOTSTRAP};

/// A DHT server.
pub struct Server {
    population: Arc<Population>,
    config: Arc<Config>,
    me: u32,
    table: Table,
    /// Provider records: content key → (provider, expiry in local time).
    providers: BTreeMap<Key, Vec<(u32, Time)>>,
    /// Requests out, each for the lookup it serves.
    rpcs: Rpcs<u32>,
    lookups: BTreeMap<u32, Lookup>,
    next_lookup: u32,
    /// The refresh's self-lookup, while it runs: the bucket lookups follow it.
    self_lookup: Option<u32>,
    /// Whether a dead peer was dropped from the table since it last grew.
    dropped: bool,
    /// Whether the table is settled: constructed, or a join or refresh has run to its end.
    settled: bool,
}

impl Server {
    /// Server `me` of `population`.
    pub fn new(population: Arc<Population>, config: Arc<Config>, me: u32) -> Server {
        let table = Table::new(*population.key(me));
        Server {
            population,
            config,
            me,
            table,
            providers: BTreeMap::new(),
            rpcs: Rpcs::new(),
            lookups: BTreeMap::new(),
            next_lookup: 0,
            self_lookup: None,
            dropped: false,
            settled: false,
        }
    }

    fn reachable(&self) -> bool {
        self.population.reachable[self.me as usize]
    }

    /// Peers for a request from `from` about `target`: the `k` closest known, without the
    /// requester (upstream `betterPeersToQuery`).
    fn closer(&self, target: &Key, from: u32) -> Vec<u32> {
        let mut peers = self.table.closest(target, self.config.k + 1, &self.population);
        peers.retain(|p| *p != from);
        peers.truncate(self.config.k);
        peers
    }

    /// A DHT server that talks to us goes into the table (clients do not).
    fn met(&mut self, ctx: &mut Ctx<'_, Msg>, from: u32) {
        if from < self.population.servers && self.table.add(from, &self.population, self.config.k) {
            ctx.sometimes(class::REFILLED, std::mem::take(&mut self.dropped));
        }
    }

    /// The bootstrap servers (other than itself) go into the table.
    fn add_bootstrappers(&mut self) {
        for peer in BOOTSTRAP.filter(|p| *p != self.me && *p < self.population.servers) {
            self.table.add(peer, &self.population, self.config.k);
        }
    }

    /// Joins through the bootstrap servers: they go into the table, then a refresh.
    fn join(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.add_bootstrappers();
        self.refresh(ctx);
    }

    /// Starts a refresh with its self-lookup (unless one is running).
    fn refresh(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if self.self_lookup.is_none() {
            let me = *self.population.key(self.me);
            self.self_lookup = Some(self.look_up(ctx, me));
        }
    }

    fn look_up(&mut self, ctx: &mut Ctx<'_, Msg>, target: Key) -> u32 {
        let id = self.next_lookup;
        self.next_lookup += 1;
        let seeds = self.table.closest(&target, self.config.k, &self.population);
        self.lookups.insert(id, Lookup::new(target, &seeds, self.config.lookup(), &self.population));
        self.drive(ctx, id);
        id
    }

    /// Sends what lookup `id` wants to send; when it is done, and it was the refresh's
    /// self-lookup, the bucket lookups start.
    fn drive(&mut self, ctx: &mut Ctx<'_, Msg>, id: u32) {
        let Some(lookup) = self.lookups.get_mut(&id) else { return };
        let target = *lookup.target();
        for peer in lookup.to_query() {
            self.rpcs.send(ctx, peer, id, self.config.read_timeout, |rpc| Msg::FindNode { rpc, target });
        }
        if !lookup.done() {
            return;
        }
        self.lookups.remove(&id);
        if self.self_lookup == Some(id) {
            self.self_lookup = None;
            for target in self.table.refresh_targets(ctx.rng()) {
                self.look_up(ctx, target);
            }
        }
        if self.lookups.is_empty() {
            self.settled = true;
            if ctx.incarnation() > 0 {
                ctx.sometimes("kademlia: a rejoining server bootstrapped", true);
            }
        }
    }

    fn snapshot(&self, ctx: &mut Ctx<'_, Msg>) {
        let nearest = self.population.nearest(self.me, self.config.k);
        let known = nearest.iter().filter(|p| self.table.contains(**p, &self.population)).count();
        let spread = (self.table.spread(self.config.k, &self.population) * 100.0).round() as u64;
        ctx.fact(KadFact::Table {
            size: self.table.len() as u64,
            full_buckets: self.table.full_buckets(self.config.k) as u64,
            nearest_held: known as u64,
            spread_percent: spread,
            empty_buckets: if self.settled {
                self.table.empty_buckets(self.me, self.config.k, &self.population)
            } else {
                0
            },
        });
    }
}

impl Node for Server {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if !self.reachable() {
            return;
        }
        let now = ctx.now().since_start();
        if now < self.config.warmup {
            ctx.set_timer(self.config.warmup - now, Timer::Snapshot);
        }
        let bootstrap = self.config.tables == Tables::Bootstrap;
        if ctx.incarnation() > 0 {
            self.join(ctx);
        } else if !bootstrap {
            self.table = self.population.initial_table(self.me, self.config.k, ctx.rng());
            self.settled = true;
        } else if BOOTSTRAP.contains(&self.me) {
            self.add_bootstrappers();
        } else {
            let at = self.config.join_over.mul_f64(ctx.rng().unit());
            ctx.set_timer(at, Timer::Join);
            return;
        }
        if bootstrap {
            ctx.set_timer(self.config.refresh_interval, Timer::Refresh);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        if !self.reachable() {
            return;
        }
        match msg {
            Msg::FindNode { rpc, target } => {
                self.met(ctx, from.0);
                let closer = self.closer(&target, from.0);
                ctx.send(from, Msg::Peers { rpc, closer, providers: Vec::new() });
            }
            Msg::GetProviders { rpc, key } => {
                self.met(ctx, from.0);
                if ctx.incarnation() > 0 {
                    ctx.sometimes(class::RECORDS_CHURNED, !self.providers.contains_key(&key));
                }
                let now = ctx.now();
                // Fault point: answer as a server whose record expired early would, with closer
                // peers only; the lookup must go on to the other closest servers.
                let withhold = ctx.buggify("kademlia.withhold_providers");
                let providers = self
                    .providers
                    .get(&key)
                    .filter(|_| !withhold)
                    .map(|records| {
                        records.iter().filter(|(_, until)| *until > now).map(|(p, _)| *p).collect()
                    })
                    .unwrap_or_default();
                let closer = self.closer(&key, from.0);
                ctx.send(from, Msg::Peers { rpc, closer, providers });
            }
            Msg::AddProvider { rpc, key } => {
                self.met(ctx, from.0);
                let now = ctx.now();
                let until = now + self.config.provider_ttl;
                let records = self.providers.entry(key).or_default();
                records.retain(|(p, expiry)| *p != from.0 && *expiry > now);
                records.push((from.0, until));
                ctx.send(from, Msg::Ack { rpc });
            }
            Msg::Crawl { rpc } => {
                let closer = self.table.peers().collect();
                ctx.send(from, Msg::Peers { rpc, closer, providers: Vec::new() });
            }
            Msg::Peers { rpc, closer, .. } => {
                let Some(pending) = self.rpcs.answered(ctx, rpc, from) else { return };
                self.met(ctx, from.0);
                if let Some(lookup) = self.lookups.get_mut(&pending.purpose) {
                    lookup.answered(from.0, &closer, &self.population);
                }
                self.drive(ctx, pending.purpose);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Rpc(rpc) => {
                let Some(pending) = self.rpcs.expired(rpc) else { return };
                ctx.sometimes(class::SILENT_PEER, true);
                ctx.sometimes(class::DEAD_SEED, BOOTSTRAP.contains(&pending.peer));
                ctx.sometimes(class::UNREACHABLE, !self.population.reachable[pending.peer as usize]);
                self.table.remove(pending.peer, &self.population);
                self.dropped = true;
                if let Some(lookup) = self.lookups.get_mut(&pending.purpose) {
                    lookup.failed(pending.peer, &self.population);
                }
                self.drive(ctx, pending.purpose);
            }
            Timer::Join => {
                self.join(ctx);
                ctx.set_timer(self.config.refresh_interval, Timer::Refresh);
            }
            Timer::Refresh => {
                self.refresh(ctx);
                ctx.set_timer(self.config.refresh_interval, Timer::Refresh);
            }
            Timer::Snapshot => self.snapshot(ctx),
            Timer::Provide | Timer::Crawl => ctx.unexpected("DHT servers neither provide nor crawl"),
        }
    }
}

/// The central indexer of the `ipni` fleet: on an announcement it fetches the provider's
/// advertisement, ingests it, and confirms; a lookup is one request.
pub struct Indexer {
    config: Arc<Config>,
    records: BTreeMap<Key, Vec<u32>>,
    /// Fetches out: (announcer, its announcement's rpc, key).
    rpcs: Rpcs<(u32, u32, Key)>,
}

impl Indexer {
    /// An empty indexer.
    pub fn new(config: Arc<Config>) -> Indexer {
        Indexer { config, records: BTreeMap::new(), rpcs: Rpcs::new() }
    }
}

impl Node for Indexer {
    type Msg = Msg;

    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Announce { rpc, key } => {
                let purpose = (from.0, rpc, key);
                self.rpcs
                    .send(ctx, from.0, purpose, self.config.read_timeout, |rpc| Msg::FetchAd { rpc, key });
            }
            Msg::Ack { rpc } => {
                if let Some(pending) = self.rpcs.answered(ctx, rpc, from) {
                    let (announcer, announce_rpc, key) = pending.purpose;
                    let records = self.records.entry(key).or_default();
                    if !records.contains(&announcer) {
                        records.push(announcer);
                    }
                    ctx.send(NodeId(announcer), Msg::Ack { rpc: announce_rpc });
                }
            }
            Msg::Find { rpc, key } => {
                let providers = self.records.get(&key).cloned().unwrap_or_default();
                ctx.send(from, Msg::Peers { rpc, closer: Vec::new(), providers });
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            // The provider did not hand over its advertisement: the announcement times out there.
            Timer::Rpc(rpc) => drop(self.rpcs.expired(rpc)),
            _ => ctx.unexpected("the indexer sets request timers only"),
        }
    }
}
