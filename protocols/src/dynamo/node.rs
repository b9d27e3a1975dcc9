//! The Dynamo server (`mode = "dynamo"`): coordinator and replica.
//!
//! - **Coordination** (Dynamo §4.5): any server coordinates the requests clients send it.
//!   A write's version takes the client's context with the coordinator's counter advanced
//!   (§4.4), goes to the first N healthy servers of the key's ring walk (sloppy quorum,
//!   §4.6; the strict N owners when `sloppy_quorum = false`), each stand-in told which owner
//!   it replaces, and is acknowledged once W of them stored it. A read asks the same N,
//!   answers with the reconciled siblings of the first R replies, and repairs the replicas
//!   that answered with less once all answered or the request timed out (read repair, §5).
//! - **Replication**: the coordinator stores the new version, then sends every other
//!   target its siblings of the key (the new version among them, as Riak sends the whole
//!   object); a replica stores them durably before it acknowledges (`store.rs`).
//! - **Hinted handoff** (§4.6): a stand-in keeps the siblings as a hint, and every
//!   `handoff_interval` offers each hint whose owner it believes up; it deletes the hint
//!   when the owner acknowledges.
//! - **Failure detection** (§4.8): every `gossip_interval` a server gossips with one random
//!   peer; a peer that did not answer the last round, or a request, is suspected until
//!   anything arrives from it.
//! - **Anti-entropy** (§4.7): every `anti_entropy_interval` a server sends the other owners
//!   of its next partition (round-robin) the 16 leaves of that partition's Merkle tree; the
//!   keys under the leaves that differ go both ways and are reconciled.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use sim::prelude::*;

use super::check::{DynamoFact, HintEvent};
use super::config::{Bug, Conflict, CoordinatorReplica, WriteFanout};
use super::msg::{Msg, Timer, Written};
use super::store::Store;
use super::version::{reconcile, VClock, Version};
use super::{class, Shared};

/// Hints offered per handoff round, so a stand-in that kept many does not flood the owner.
const HANDOFFS_PER_ROUND: usize = 64;

enum Request {
    Write {
        client: NodeId,
        op: u64,
        clock: VClock,
        acks: Vec<u32>,
        asked: Vec<u32>,
    },
    Read {
        client: NodeId,
        op: u64,
        key: u64,
        replies: Vec<(u32, Vec<Version>)>,
        asked: Vec<u32>,
        answered: bool,
    },
}

/// A Dynamo server.
pub struct Server {
    shared: Rc<Shared>,
    me: u32,
    /// The actor this incarnation's writes are stamped with (see `on_start`).
    actor: u32,
    /// The last counter this incarnation issued: a write its own store refused (a failed
    /// fsync) still went to the other replicas, so the next counter must pass it even though
    /// this server does not hold it.
    last_counter: u64,
    store: Store,
    suspected: BTreeSet<u32>,
    /// The peer gossiped with last round, until it answers.
    gossip_unanswered: Option<u32>,
    requests: BTreeMap<u64, Request>,
    next_request: u64,
    /// Partitions this server is an owner of.
    partitions: Vec<u32>,
    /// Membership (with `membership` changes): each server's latest change it knows, as
    /// (version, in the ring).
    view: BTreeMap<u32, (u32, bool)>,
    /// The partition anti-entropy compares next (an index into `partitions`).
    next_exchange: usize,
    /// Versions this coordinator issued that its own replica has not stored yet (with
    /// `coordinator_replica = "network"`), sent along with every later write of their key.
    issued: BTreeMap<u64, Vec<Version>>,
}

/// The least actor an incarnation draws: above every node id (`MAX_NODES`).
const FIRST_ACTOR: u32 = 1 << 21;

impl Server {
    /// Server `me`; its store is opened at start, from its disk.
    pub fn new(shared: Rc<Shared>, me: u32) -> Server {
        let store = Store::closed(shared.config.conflict);
        let initial = shared.config.initial_members(shared.servers);
        let view = (0..shared.servers).map(|s| (s, (0, initial.contains(&s)))).collect();
        let mut server = Server {
            shared,
            me,
            actor: me,
            last_counter: 0,
            store,
            suspected: BTreeSet::new(),
            gossip_unanswered: None,
            requests: BTreeMap::new(),
            next_request: 0,
            partitions: Vec::new(),
            view,
            next_exchange: 0,
            issued: BTreeMap::new(),
        };
        server.partitions = server.owned_partitions();
        server
    }

    /// Whether the scenario changes the membership (else the ring is every server, and
    /// nothing below allocates or sends anything more).
    fn changes(&self) -> bool {
        !self.shared.config.membership.is_empty()
    }

    fn in_ring(&self, server: u32) -> bool {
        self.view.get(&server).is_some_and(|entry| entry.1)
    }

    /// The preference list of `partition` over the ring this server knows.
    fn preference(&self, partition: u32) -> Vec<u32> {
        let n = self.shared.config.replicas;
        if !self.changes() {
            return self.shared.ring.preference_list(partition, n).to_vec();
        }
        self.shared.ring.preference_among(partition, n, |s| self.in_ring(s))
    }

    fn owned_partitions(&self) -> Vec<u32> {
        if !self.changes() {
            return self.shared.ring.replicated_by(self.me, self.shared.config.replicas);
        }
        (0..self.shared.ring.partitions()).filter(|p| self.preference(*p).contains(&self.me)).collect()
    }

    /// Keeps `siblings` of `key` as a hint for `owner`, handed to it by the handoff rounds
    /// until it acknowledges them (Dynamo §4.9: the nodes that no longer own a range, or
    /// that learn of a new owner, transfer its keys).
    fn hand_to(&mut self, ctx: &mut Ctx<'_, Msg>, owner: u32, key: u64, siblings: Vec<Version>) {
        match self.store.add_hint(owner, key, siblings) {
            Ok(id) => {
                ctx.fact(DynamoFact::Hint { id, owner, event: HintEvent::Kept });
                ctx.sometimes("dynamo: a membership change handed a key to a new owner", true);
            }
            Err(_) => ctx.count("dynamo: handoffs refused by a full disk", 1),
        }
    }

    /// What a server stored while outside the key's preference list (its view is ahead of
    /// the sender's) goes on to the owners.
    fn pass_on(&mut self, ctx: &mut Ctx<'_, Msg>, key: u64, siblings: &[Version]) {
        if !self.changes() || self.has(Bug::NoHandoff) {
            return;
        }
        let owners = self.preference(self.shared.ring.partition(key));
        if !owners.contains(&self.me) {
            for owner in owners {
                self.hand_to(ctx, owner, key, siblings.to_vec());
            }
        }
    }

    /// The ring this server knows changed from `before`: anti-entropy follows the new
    /// one, and each key it holds goes to the owners it did not have.
    fn on_view_change(&mut self, ctx: &mut Ctx<'_, Msg>, before: &BTreeSet<u32>) {
        self.partitions = self.owned_partitions();
        self.next_exchange = 0;
        if self.has(Bug::NoHandoff) {
            return;
        }
        let n = self.shared.config.replicas;
        let held: Vec<(u32, u64, Vec<Version>)> =
            self.store.keys().map(|(p, k, s)| (p, k, s.to_vec())).collect();
        for (partition, key, siblings) in held {
            let old = self.shared.ring.preference_among(partition, n, |s| before.contains(&s));
            for owner in self.preference(partition) {
                if owner != self.me && !old.contains(&owner) {
                    self.hand_to(ctx, owner, key, siblings.clone());
                }
            }
        }
    }

    fn members(&self) -> BTreeSet<u32> {
        self.view.iter().filter(|(_, e)| e.1).map(|(s, _)| *s).collect()
    }

    /// Merges a peer's view: each server's latest change wins.
    fn on_members(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, view: &[(u32, u32, bool)], reply: bool) {
        let before = self.members();
        let mut changed = false;
        for &(server, version, member) in view {
            let entry = self.view.entry(server).or_insert((0, false));
            if version > entry.0 {
                *entry = (version, member);
                changed = true;
            }
        }
        if changed && self.members() != before {
            self.on_view_change(ctx, &before);
        }
        if reply {
            let view = self.view.iter().map(|(s, e)| (*s, e.0, e.1)).collect();
            ctx.send(from, Msg::Members { view, reply: false });
        }
    }

    /// This server's own membership change `index` is due: it announces it.
    fn on_membership(&mut self, ctx: &mut Ctx<'_, Msg>, index: usize) {
        let before = self.members();
        let (server, join) = self.shared.config.membership[index].what();
        let entry = self.view.entry(server).or_insert((0, false));
        *entry = (entry.0 + 1, join);
        ctx.sometimes(if join { "dynamo: a server joined" } else { "dynamo: a server left" }, true);
        if self.members() != before {
            self.on_view_change(ctx, &before);
        }
    }

    fn has(&self, bug: Bug) -> bool {
        self.shared.config.bugs.contains(&bug)
    }

    /// The servers a request for `partition` goes to, each with the owner it stands in for.
    fn targets(&self, partition: u32) -> Vec<(u32, Option<u32>)> {
        let n = self.shared.config.replicas as usize;
        let full = self.shared.ring.walk(partition);
        let in_ring: Vec<u32>;
        let walk = if self.changes() {
            in_ring = full.iter().copied().filter(|s| self.in_ring(*s)).collect();
            &in_ring[..]
        } else {
            full
        };
        if !self.shared.config.sloppy_quorum {
            return walk.iter().take(n).map(|&s| (s, None)).collect();
        }
        let healthy = |s: &u32| *s == self.me || !self.suspected.contains(s);
        let mut skipped: Vec<u32> =
            walk[..n.min(walk.len())].iter().copied().filter(|s| !healthy(s)).collect();
        skipped.reverse();
        let mut targets = Vec::with_capacity(n);
        for (i, &server) in walk.iter().enumerate() {
            if targets.len() == n {
                break;
            }
            if healthy(&server) {
                let hint = if i >= n { skipped.pop() } else { None };
                targets.push((server, hint));
            }
        }
        targets
    }

    fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    /// Stores `versions` in the main store (facts and all); false if the disk refused.
    /// `overwrite` (a canary's) replaces what is held instead of reconciling.
    fn store_versions(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        key: u64,
        versions: &[Version],
        overwrite: bool,
    ) -> bool {
        let partition = self.shared.ring.partition(key);
        let replace = overwrite || self.has(Bug::ArrivalOrder);
        let before = self.store.get(partition, key);
        let late_tombstone = versions
            .iter()
            .any(|v| v.value.is_none() && before.iter().any(|held| held.value.is_some() && v.covers(held)));
        ctx.sometimes(class::LATE_TOMBSTONE, late_tombstone);
        let result = self.store.apply(partition, key, versions, replace);
        if self.shared.config.conflict == Conflict::Lww {
            let held = self.store.get(partition, key);
            ctx.sometimes(class::LWW_DISCARDED, versions.iter().any(|v| !held.iter().any(|h| h.covers(v))));
        }
        if let Some(issued) = self.issued.get_mut(&key) {
            let held = self.store.get(partition, key);
            issued.retain(|v| !held.iter().any(|h| h.covers(v)));
            if issued.is_empty() {
                self.issued.remove(&key);
            }
        }
        match result {
            Ok(Some(siblings)) => {
                ctx.fact(DynamoFact::Stored { key, siblings: Rc::new(siblings) });
                true
            }
            Ok(None) => true,
            Err(_) => {
                ctx.count("dynamo: writes refused by a full disk", 1);
                false
            }
        }
    }

    /// A replica stores a coordinator's siblings (as a hint when it stands in for `hint`).
    fn replicate(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        key: u64,
        siblings: &[Version],
        hint: Option<u32>,
    ) -> bool {
        match hint {
            None => {
                let stored = self.store_versions(ctx, key, siblings, false);
                if stored {
                    self.pass_on(ctx, key, siblings);
                }
                stored
            }
            Some(owner) => match self.store.add_hint(owner, key, siblings.to_vec()) {
                Ok(id) => {
                    ctx.fact(DynamoFact::Hint { id, owner, event: HintEvent::Kept });
                    true
                }
                Err(_) => false,
            },
        }
    }

    fn on_put(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        client: NodeId,
        op: u64,
        key: u64,
        value: Option<Rc<Vec<i64>>>,
        ctx_clock: VClock,
    ) {
        let partition = self.shared.ring.partition(key);
        let issued = self.issued.get(&key).map_or(&[][..], Vec::as_slice);
        let held = self.store.get(partition, key).iter().chain(issued);
        let held_counter = held.map(|v| v.clock().get(self.actor)).chain([ctx_clock.get(self.actor)]).max();
        let counter = held_counter.unwrap_or(0).max(self.last_counter) + 1;
        self.last_counter = counter;
        let now = ctx.now().as_nanos();
        let version = Version { dot: (self.actor, counter), past: ctx_clock, value, timestamp: now };
        let req = self.request_id();
        let mut targets = self.targets(partition);
        if self.shared.config.write_fanout == WriteFanout::Quorum {
            // PBS's non-expanding quorums: the write goes to W of the N, chosen at random.
            ctx.rng().shuffle(&mut targets);
            targets.truncate(self.shared.config.write_quorum as usize);
        }
        let asked: Vec<u32> = targets.iter().map(|t| t.0).collect();
        self.requests
            .insert(req, Request::Write { client, op, clock: version.clock(), acks: Vec::new(), asked });
        ctx.set_timer(self.shared.config.request_timeout, Timer::Request(req));
        let through_network = self.shared.config.coordinator_replica == CoordinatorReplica::Network;
        // The coordinator is one of its targets (an owner, and healthy to itself). It stores
        // the version first (or, with its replica reached through the network, keeps it as
        // issued until its own Replicate arrives), then sends every target its siblings with
        // the version among them.
        let stored = !through_network && self.store_versions(ctx, key, std::slice::from_ref(&version), false);
        if stored {
            self.on_replicated(ctx, req, self.me);
        }
        // Last-write-wins needs no context, so it sends the new version alone (and keeps no
        // issued versions): the siblings go along only so that a vector-clock context read
        // anywhere claims no version it did not see.
        let vclock = self.shared.config.conflict == Conflict::Vclock;
        let mut siblings = if vclock { self.store.get(partition, key).to_vec() } else { Vec::new() };
        for issued in self.issued.get(&key).into_iter().flatten() {
            reconcile(&mut siblings, issued, self.shared.config.conflict);
        }
        if !siblings.contains(&version) {
            siblings.push(version.clone()); // an arrival-order canary may have dropped it, or the disk refused
        }
        if through_network && vclock {
            self.issued.entry(key).or_default().push(version);
        }
        for (server, hint) in targets {
            if server != self.me || through_network {
                ctx.send(NodeId(server), Msg::Replicate { req, key, siblings: siblings.clone(), hint });
            }
        }
    }

    fn on_replicated(&mut self, ctx: &mut Ctx<'_, Msg>, req: u64, from: u32) {
        let w = self.shared.config.write_quorum as usize;
        let Some(Request::Write { client, op, clock, acks, .. }) = self.requests.get_mut(&req) else {
            return;
        };
        if !acks.contains(&from) {
            acks.push(from);
        }
        if acks.len() >= w {
            let written = Written { clock: clock.clone(), replicas: acks.clone() };
            ctx.send(*client, Msg::PutReply { op: *op, written: Some(written) });
            self.requests.remove(&req);
        }
    }

    fn on_get(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, key: u64) {
        let partition = self.shared.ring.partition(key);
        let req = self.request_id();
        let targets = self.targets(partition);
        let asked: Vec<u32> = targets.iter().map(|t| t.0).collect();
        self.requests.insert(
            req,
            Request::Read { client, op, key, replies: Vec::new(), asked: asked.clone(), answered: false },
        );
        ctx.set_timer(self.shared.config.request_timeout, Timer::Request(req));
        let through_network = self.shared.config.coordinator_replica == CoordinatorReplica::Network;
        for server in asked {
            if server == self.me && !through_network {
                let siblings = self.read_local(key);
                self.on_read_reply(ctx, req, self.me, siblings);
            } else {
                ctx.send(NodeId(server), Msg::Read { req, key });
            }
        }
    }

    /// What this replica holds of `key`: its own siblings and the hints it keeps of it.
    fn read_local(&self, key: u64) -> Vec<Version> {
        let partition = self.shared.ring.partition(key);
        let mut siblings = self.store.get(partition, key).to_vec();
        for version in self.store.hinted(key) {
            reconcile(&mut siblings, version, self.shared.config.conflict);
        }
        siblings
    }

    fn on_read_reply(&mut self, ctx: &mut Ctx<'_, Msg>, req: u64, from: u32, siblings: Vec<Version>) {
        let r = self.shared.config.read_quorum as usize;
        let Some(Request::Read { client, op, replies, asked, answered, .. }) = self.requests.get_mut(&req)
        else {
            return;
        };
        if replies.iter().any(|(s, _)| *s == from) {
            return;
        }
        replies.push((from, siblings));
        if !*answered && replies.len() >= r {
            *answered = true;
            let merged = merged(replies, self.shared.config.conflict);
            ctx.send(*client, Msg::GetReply { op: *op, siblings: merged });
        }
        if replies.len() == asked.len() {
            self.finish_read(ctx, req);
        }
    }

    /// Read repair: every replica that answered with less than the reconciled siblings gets
    /// them.
    fn finish_read(&mut self, ctx: &mut Ctx<'_, Msg>, req: u64) {
        let Some(Request::Read { key, replies, answered, .. }) = self.requests.remove(&req) else { return };
        if !answered {
            // Fewer than R answered in time: the client hears nothing and tries elsewhere.
            ctx.count("dynamo: reads short of R", 1);
        }
        // Fault point: read repair is best effort; anti-entropy must converge without it.
        if !self.shared.config.read_repair || ctx.buggify("dynamo.skip_read_repair") {
            return;
        }
        let merged = merged(&replies, self.shared.config.conflict);
        if self.has(Bug::RepairOlder) {
            // The canary: "repair" every replica that answered with the oldest version seen,
            // over what it holds.
            let oldest = replies.iter().flat_map(|(_, s)| s).min_by_key(|v| (v.timestamp, v.dot)).cloned();
            let stale = replies.iter().any(|(_, s)| *s != merged);
            if let Some(oldest) = oldest.filter(|_| stale) {
                for (server, _) in &replies {
                    self.send_repair(ctx, *server, key, vec![oldest.clone()], true);
                }
            }
            return;
        }
        for (server, siblings) in &replies {
            if *siblings != merged {
                ctx.sometimes(class::READ_REPAIR, true);
                self.send_repair(ctx, *server, key, merged.clone(), false);
            }
        }
    }

    fn send_repair(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        server: u32,
        key: u64,
        siblings: Vec<Version>,
        overwrite: bool,
    ) {
        ctx.count("dynamo: read repairs", 1);
        if server == self.me {
            self.on_repair(ctx, key, &siblings, overwrite);
        } else {
            ctx.send(NodeId(server), Msg::Repair { key, siblings, overwrite });
        }
    }

    fn on_repair(&mut self, ctx: &mut Ctx<'_, Msg>, key: u64, siblings: &[Version], overwrite: bool) {
        self.store_versions(ctx, key, siblings, overwrite);
    }

    fn on_request_timer(&mut self, ctx: &mut Ctx<'_, Msg>, req: u64) {
        let silent: Vec<u32> = match self.requests.get(&req) {
            Some(Request::Write { acks, asked, .. }) => {
                asked.iter().copied().filter(|s| !acks.contains(s)).collect()
            }
            Some(Request::Read { replies, asked, .. }) => {
                asked.iter().copied().filter(|s| !replies.iter().any(|(r, _)| r == s)).collect()
            }
            None => return,
        };
        self.suspected.extend(silent.into_iter().filter(|s| *s != self.me));
        match self.requests.get(&req) {
            Some(Request::Write { client, op, .. }) => {
                ctx.send(*client, Msg::PutReply { op: *op, written: None });
                self.requests.remove(&req);
            }
            _ => self.finish_read(ctx, req),
        }
    }

    fn on_gossip_timer(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if let Some(peer) = self.gossip_unanswered.take() {
            self.suspected.insert(peer);
        }
        let servers = u64::from(self.shared.servers);
        if servers > 1 {
            let mut peer = ctx.rng().below(servers - 1) as u32;
            if peer >= self.me {
                peer += 1;
            }
            self.gossip_unanswered = Some(peer);
            ctx.send(NodeId(peer), Msg::Gossip);
            if self.changes() {
                let view = self.view.iter().map(|(s, e)| (*s, e.0, e.1)).collect();
                ctx.send(NodeId(peer), Msg::Members { view, reply: true });
            }
        }
        ctx.set_timer(self.shared.config.gossip_interval, Timer::Gossip);
    }

    /// Offers hints to their owners: all of them (up to a round's worth) to owners believed
    /// up, and one to each suspected owner, as a probe: "A then periodically retries B to
    /// check for the latter's recovery" (Dynamo §4.8). Waiting to hear from a suspected owner
    /// left hints for good at 100 servers, where two servers gossip once in 99 rounds.
    fn on_handoff_timer(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let mut probed = BTreeSet::new();
        let offers: Vec<(u64, u32, u64, Vec<Version>)> = self
            .store
            .hints()
            .iter()
            .filter(|(_, h)| !self.suspected.contains(&h.owner) || probed.insert(h.owner))
            .take(HANDOFFS_PER_ROUND)
            .map(|(&id, h)| (id, h.owner, h.key, h.siblings.clone()))
            .collect();
        for (id, owner, key, siblings) in offers {
            ctx.fact(DynamoFact::Hint { id, owner, event: HintEvent::Sent });
            ctx.send(NodeId(owner), Msg::Handoff { hint: id, key, siblings });
            if self.has(Bug::HintDeletedEarly) && self.store.remove_hint(id).unwrap_or(false) {
                ctx.fact(DynamoFact::Hint { id, owner, event: HintEvent::Deleted });
            }
        }
        // Fault point: the next round soon, so handoffs race the writes and acknowledgements
        // of the round before.
        let interval = self.shared.config.handoff_interval;
        let interval = if ctx.buggify("dynamo.handoff_soon") { interval / 10 } else { interval };
        ctx.set_timer(interval, Timer::Handoff);
    }

    /// Anti-entropy walks this server's partitions round-robin (as Riak's active
    /// anti-entropy does), comparing each with every other owner: a full cycle takes
    /// partitions × `anti_entropy_interval`, so a replica that missed writes is found within
    /// one cycle. (A random partition and peer per round left a pair unchecked for 25 s
    /// and more at 5 servers.)
    fn on_anti_entropy_timer(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_timer(self.shared.config.anti_entropy_interval, Timer::AntiEntropy);
        if self.partitions.is_empty() {
            return;
        }
        self.next_exchange = (self.next_exchange + 1) % self.partitions.len();
        let partition = self.partitions[self.next_exchange];
        let leaves = self.store.leaves(partition);
        for peer in self.preference(partition) {
            if peer != self.me && !self.suspected.contains(&peer) {
                ctx.send(NodeId(peer), Msg::Digest { partition, leaves });
            }
        }
    }

    fn on_digest(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, partition: u32, leaves: [u64; 16]) {
        let mine = self.store.leaves(partition);
        let mask = (0..16).filter(|&i| mine[i] != leaves[i]).fold(0u16, |m, i| m | (1 << i));
        ctx.sometimes(class::RANGES_DIFFER, mask != 0);
        if mask != 0 {
            ctx.count("dynamo: anti-entropy exchanges", 1);
            let entries = self.store.entries(partition, mask);
            ctx.send(from, Msg::Sync { partition, mask, entries, reply: true });
        }
    }

    fn on_sync(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        from: NodeId,
        partition: u32,
        mask: u16,
        entries: Vec<(u64, Vec<Version>)>,
        reply: bool,
    ) {
        let answer = reply.then(|| self.store.entries(partition, mask));
        let mut caught_up = false;
        for (key, siblings) in entries {
            let before = self.store.get(partition, key).to_vec();
            self.store_versions(ctx, key, &siblings, false);
            caught_up |= self.store.get(partition, key) != before.as_slice();
        }
        ctx.sometimes(class::CAUGHT_UP, caught_up);
        if let Some(entries) = answer {
            ctx.send(from, Msg::Sync { partition, mask, entries, reply: false });
        }
    }
}

impl Node for Server {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let config = &self.shared.config;
        self.store = match Store::open(ctx.disk_handle(), config.fsync, config.conflict) {
            Ok(store) => store,
            Err(error) => panic!("server {}: its store does not open: {error}", ctx.id()),
        };
        ctx.fact(DynamoFact::Wiped);
        if ctx.incarnation() > 0 {
            ctx.sometimes(class::HINTS_ACROSS_CRASH, !self.store.hints().is_empty());
        }
        // Actor epochs (Riak's fix for KV679): each incarnation stamps its writes as a new
        // actor, drawn at random above every node id, so a server that lost its log tail (a
        // wipe, a failed fsync's hole) never reissues a dot an earlier incarnation gave out:
        // its counters restart from what it holds, which may be less than it issued.
        if !self.has(Bug::ReusedActor) {
            self.actor = FIRST_ACTOR + ctx.rng().between(0, u64::from(u32::MAX - FIRST_ACTOR)) as u32;
        }
        for (&id, hint) in self.store.hints() {
            ctx.fact(DynamoFact::Hint { id, owner: hint.owner, event: HintEvent::Kept });
        }
        let recovered: Vec<(u64, Vec<Version>)> =
            self.store.keys().map(|(_, k, s)| (k, s.to_vec())).collect();
        for (key, siblings) in recovered {
            ctx.fact(DynamoFact::Stored { key, siblings: Rc::new(siblings) });
        }
        // Its own membership changes: those past are what it knows of itself (others'
        // come back by gossip), those ahead are timers.
        let now = ctx.now();
        let mine: Vec<(usize, std::time::Duration)> = (self.shared.config.membership.iter().enumerate())
            .filter(|(_, c)| c.what().0 == self.me)
            .map(|(i, c)| (i, c.at))
            .collect();
        for (index, at) in mine {
            match at.checked_sub(std::time::Duration::from_nanos(now.as_nanos())) {
                Some(wait) if !wait.is_zero() => {
                    ctx.set_timer(wait, Timer::Membership(index));
                }
                _ => self.on_membership(ctx, index),
            }
        }
        let config = &self.shared.config;
        let (gossip, handoff, anti_entropy) =
            (config.gossip_interval, config.handoff_interval, config.anti_entropy_interval);
        // Rounds start at a random phase, so servers do not gossip in lock step.
        self.next_exchange = ctx.rng().below(self.partitions.len().max(1) as u64) as usize;
        let phase = |ctx: &mut Ctx<'_, Msg>, every: std::time::Duration| {
            std::time::Duration::from_nanos(ctx.rng().below(every.as_nanos() as u64 + 1))
        };
        let at = phase(ctx, gossip);
        ctx.set_timer(at, Timer::Gossip);
        let at = phase(ctx, handoff);
        ctx.set_timer(at, Timer::Handoff);
        let at = phase(ctx, anti_entropy);
        ctx.set_timer(at, Timer::AntiEntropy);
        self.report_hints(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        if from.0 < self.shared.servers {
            self.suspected.remove(&from.0);
            if self.gossip_unanswered == Some(from.0) {
                self.gossip_unanswered = None;
            }
        }
        match msg {
            Msg::Get { op, key } => self.on_get(ctx, from, op, key),
            Msg::Put { op, key, value, context } => self.on_put(ctx, from, op, key, value, context),
            Msg::Replicate { req, key, siblings, hint } => {
                if self.replicate(ctx, key, &siblings, hint) {
                    ctx.send(from, Msg::Replicated { req });
                }
            }
            Msg::Replicated { req } => self.on_replicated(ctx, req, from.0),
            Msg::Read { req, key } => {
                let siblings = self.read_local(key);
                ctx.send(from, Msg::ReadReply { req, siblings });
            }
            Msg::ReadReply { req, siblings } => self.on_read_reply(ctx, req, from.0, siblings),
            Msg::Repair { key, siblings, overwrite } => self.on_repair(ctx, key, &siblings, overwrite),
            Msg::Handoff { hint, key, siblings } => {
                if self.store_versions(ctx, key, &siblings, false) {
                    ctx.send(from, Msg::HandoffAck { hint });
                    self.pass_on(ctx, key, &siblings);
                }
            }
            Msg::HandoffAck { hint } => {
                let owner = self.store.hints().get(&hint).map(|h| h.owner);
                if let Some(owner) = owner {
                    ctx.fact(DynamoFact::Hint { id: hint, owner, event: HintEvent::Acknowledged });
                    ctx.sometimes(class::HINT_HANDED_OFF, true);
                    if self.store.remove_hint(hint).unwrap_or(false) {
                        ctx.fact(DynamoFact::Hint { id: hint, owner, event: HintEvent::Deleted });
                    }
                }
            }
            Msg::Gossip => ctx.send(from, Msg::GossipAck),
            Msg::Members { view, reply } => self.on_members(ctx, from, &view, reply),
            Msg::GossipAck => {}
            Msg::Digest { partition, leaves } => self.on_digest(ctx, from, partition, leaves),
            Msg::Sync { partition, mask, entries, reply } => {
                self.on_sync(ctx, from, partition, mask, entries, reply)
            }
            Msg::GetReply { .. } | Msg::PutReply { .. } => ctx.unexpected("servers get no client replies"),
            _ => ctx.unexpected("dynamo servers speak no Dynago"),
        }
        self.report_hints(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        self.dispatch_timer(ctx, timer);
        self.report_hints(ctx);
    }
}

impl Server {
    /// The hints pending, for the report's per-node state: after every event that may have
    /// stored or handed one off (the series keeps the changes only).
    fn report_hints(&self, ctx: &mut Ctx<'_, Msg>) {
        ctx.series("hints pending", self.store.hints().len() as i64);
    }

    fn dispatch_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Gossip => self.on_gossip_timer(ctx),
            Timer::Handoff => self.on_handoff_timer(ctx),
            Timer::AntiEntropy => self.on_anti_entropy_timer(ctx),
            Timer::Request(req) => self.on_request_timer(ctx, req),
            Timer::Membership(index) => self.on_membership(ctx, index),
            Timer::Attempt(_) | Timer::Redial | Timer::Ping(_) | Timer::Connect(_) | Timer::Forward(_) => {
                ctx.unexpected("dynamo servers set no client or Dynago timers")
            }
        }
    }
}

/// The reconciled siblings of a read's replies.
fn merged(replies: &[(u32, Vec<Version>)], conflict: super::version::Conflict) -> Vec<Version> {
    let mut merged = Vec::new();
    for version in replies.iter().flat_map(|(_, s)| s) {
        reconcile(&mut merged, version, conflict);
    }
    merged
}
