//! A DHT server: answers FIND_NODE, GET_PROVIDERS and ADD_PROVIDER from its routing table
//! and provider store (go-libp2p-kad-dht `handlers.go`).
//!
//! It starts with the table [`Population::initial_table`] builds. After a restart (churn) it
//! has lost everything: it bootstraps from the bootstrap servers with one lookup of its own
//! key and keeps the peers that answer (upstream runs a refresh of every bucket after
//! connecting to the bootstrappers; one self-lookup is cheaper and fills the buckets that
//! matter most to others, those near its own key). An unreachable server never answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim::prelude::*;

use super::config::Config;
use super::key::Key;
use super::lookup::Lookup;
use super::msg::Msg;
use super::rpc::Rpcs;
use super::table::{Population, Table};
use super::BOOTSTRAP;

/// A DHT server.
pub struct Server {
    population: Arc<Population>,
    config: Arc<Config>,
    me: u32,
    table: Table,
    /// Provider records: content key → (provider, expiry in local time).
    providers: BTreeMap<Key, Vec<(u32, Time)>>,
    rpcs: Rpcs<()>,
    bootstrap: Option<Lookup>,
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
            bootstrap: None,
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
    fn met(&mut self, from: u32) {
        if from < self.population.servers {
            self.table.add(from, &self.population, self.config.k);
        }
    }

    fn drive_bootstrap(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let Some(lookup) = self.bootstrap.as_mut() else { return };
        let target = *lookup.target();
        for peer in lookup.to_query() {
            self.rpcs.send(ctx, peer, (), self.config.read_timeout, |rpc| Msg::FindNode { rpc, target });
        }
        if lookup.done() {
            self.bootstrap = None;
            ctx.sometimes("kademlia: a rejoining server bootstrapped", true);
        }
    }
}

impl Node for Server {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if !self.reachable() {
            return;
        }
        if ctx.incarnation() == 0 {
            self.table = self.population.initial_table(self.me, self.config.k, ctx.rng());
            return;
        }
        for peer in BOOTSTRAP.filter(|p| *p != self.me && *p < self.population.servers) {
            self.table.add(peer, &self.population, self.config.k);
        }
        let me = *self.population.key(self.me);
        let seeds = self.table.closest(&me, self.config.k, &self.population);
        self.bootstrap = Some(Lookup::new(me, &seeds, self.config.lookup(), &self.population));
        self.drive_bootstrap(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        if !self.reachable() {
            return;
        }
        match msg {
            Msg::FindNode { rpc, target } => {
                self.met(from.0);
                let closer = self.closer(&target, from.0);
                ctx.send(from, Msg::Peers { rpc, closer, providers: Vec::new() });
            }
            Msg::GetProviders { rpc, key } => {
                self.met(from.0);
                let now = ctx.now();
                let providers = self
                    .providers
                    .get(&key)
                    .map(|records| {
                        records.iter().filter(|(_, until)| *until > now).map(|(p, _)| *p).collect()
                    })
                    .unwrap_or_default();
                let closer = self.closer(&key, from.0);
                ctx.send(from, Msg::Peers { rpc, closer, providers });
            }
            Msg::AddProvider { rpc, key } => {
                self.met(from.0);
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
            Msg::Peers { rpc, closer, .. } if self.rpcs.answered(ctx, rpc, from).is_some() => {
                self.met(from.0);
                if let Some(lookup) = self.bootstrap.as_mut() {
                    lookup.answered(from.0, &closer, &self.population);
                }
                self.drive_bootstrap(ctx);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        if let Some(pending) = self.rpcs.expired(timer) {
            self.table.remove(pending.peer, &self.population);
            if let Some(lookup) = self.bootstrap.as_mut() {
                lookup.failed(pending.peer, &self.population);
            }
            self.drive_bootstrap(ctx);
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

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        // The provider did not hand over its advertisement: the announcement times out there.
        self.rpcs.expired(timer);
    }
}
