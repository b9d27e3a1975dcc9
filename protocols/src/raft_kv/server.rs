//! A Raft KV server: raft-rs `RawNode` driven from the node callbacks.
//!
//! Ticks come from a timer on the local oscillator; messages are stepped in; after every
//! callback the server runs raft-rs's Ready cycle as raft-rs documents it: send the
//! messages, install a received snapshot, apply committed entries, persist entries and hard
//! state (one redb transaction or WAL append, fsynced when raft-rs says it must be), then send the
//! persisted messages (votes, append responses), `advance`, and apply what that commits.
//!
//! With `async_persistence` the cycle is raft-rs's asynchronous one: write the Ready,
//! submit its fsync, `advance_append_async`, and when the fsync completes (`on_io_done`),
//! `on_persist_ready` and send the messages that waited for it. Completions arrive in
//! submission order, so Readies are persisted in order, as raft-rs requires.
//!
//! raft-rs draws each randomized election timeout from `rand::thread_rng`. Every reset of
//! the election timer sets `election_elapsed` to 0, so after every call into raft-rs a
//! non-leader whose `election_elapsed` is 0 gets a timeout drawn from the node's own random
//! stream. raft-rs reads the timeout only when a tick checks it, so its own draw is never
//! used and the run stays a function of the seed.

use std::collections::{BTreeMap, VecDeque};

use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, Entry, EntryType, Message as RaftMessage, MessageType};
use raft::{RawNode, ReadOnlyOption, StateRole};
use sim::prelude::*;

use super::checks::{Configured, LogState, RaftFact, Session};
use super::class;
use super::config::{Bug, Config, ReadMode, Ticks};
use super::log::{Changes, Log};
use super::machine::{Command, Datum, Kv, KvOp, Sessions, StateMachine};
use super::msg::{Msg, Reply, Timer};
use super::wal;

/// A client waiting for a read.
#[derive(Clone, Debug)]
struct Read {
    client: NodeId,
    op: u64,
    key: KvOp,
}

/// A Ready written and waiting for its fsync (`async_persistence`).
struct Persisting {
    /// The fsync that covers it, once submitted.
    io: Option<IoId>,
    /// Whether it needs one (if not, it waits only for those before it).
    needs_sync: bool,
    /// raft-rs's number of the Ready.
    number: u64,
    /// What may leave once it is durable.
    messages: Vec<RaftMessage>,
}

/// A Raft KV server.
pub struct Server {
    config: Config,
    ticks: Ticks,
    voters: u32,
    raw: Option<RawNode<Log>>,
    sessions: Sessions<Kv>,
    applied: u64,
    /// Proposed commands by (client, seq): the client node and operation to answer.
    proposed: BTreeMap<(u32, u64), (NodeId, u64)>,
    /// ReadIndex requests by context number.
    reading: BTreeMap<u64, Read>,
    /// Reads confirmed at an index, waiting for it to be applied.
    confirmed: Vec<(u64, Read)>,
    next_read: u64,
    led_term: u64,
    heard_term: u64,
    /// A configuration change was applied: the next snapshot must carry it, since a server
    /// refuses a snapshot whose configuration does not include it (raft-rs `restore`), and
    /// a joining server catches up from the leader's latest snapshot.
    conf_changed: bool,
    /// Readies written and not yet durable, in order (`async_persistence`).
    persisting: VecDeque<Persisting>,
    /// The fsync in flight: one at a time, and the Readies written meanwhile share the
    /// next (group commit).
    syncing: Option<IoId>,
}

impl Server {
    /// Server `id` of a cluster whose initial voters are `0..voters`.
    pub fn new(config: Config, voters: u32) -> Server {
        Server {
            ticks: config.ticks(),
            config,
            voters,
            raw: None,
            sessions: Sessions::default(),
            applied: 0,
            proposed: BTreeMap::new(),
            reading: BTreeMap::new(),
            confirmed: Vec::new(),
            next_read: 0,
            led_term: 0,
            heard_term: 0,
            conf_changed: false,
            persisting: VecDeque::new(),
            syncing: None,
        }
    }

    fn raft_config(&self, id: u64, applied: u64) -> raft::Config {
        let read_only_option = match self.config.read_mode {
            ReadMode::Lease => ReadOnlyOption::LeaseBased,
            ReadMode::ReadIndex | ReadMode::Log => ReadOnlyOption::Safe,
        };
        raft::Config {
            id,
            election_tick: self.ticks.election_low,
            min_election_tick: self.ticks.election_low,
            max_election_tick: self.ticks.election_high + 1,
            heartbeat_tick: self.ticks.heartbeat,
            applied,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: self.config.check_quorum,
            pre_vote: self.config.pre_vote,
            read_only_option,
            ..raft::Config::default()
        }
    }

    /// Draws the election timeout from the node's stream after raft-rs reset it.
    fn randomize(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let Some(raw) = self.raw.as_mut() else { return };
        if raw.raft.state != StateRole::Leader && raw.raft.election_elapsed == 0 {
            // Fault point: the shortest timeout raft-rs allows, so elections overlap more.
            let timeout = if ctx.buggify("raft.short_election_timeout") {
                self.ticks.election_low as u64
            } else {
                ctx.rng().between(self.ticks.election_low as u64, self.ticks.election_high as u64)
            };
            raw.raft.set_randomized_election_timeout(timeout as usize);
        }
    }

    /// Ticks raft-rs and sets the next tick; a stopped server (no `RawNode`) ticks no more.
    fn tick(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let Some(raw) = self.raw.as_mut() else { return };
        ctx.set_timer(self.config.tick, Timer::Tick);
        raw.tick();
        self.randomize(ctx);
        self.propose_membership(ctx);
    }

    /// The leader proposes the next scheduled membership change that is due.
    fn propose_membership(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let Some(raw) = self.raw.as_mut() else { return };
        if self.config.membership.is_empty()
            || raw.raft.state != StateRole::Leader
            || raw.raft.has_pending_conf()
        {
            return;
        }
        let now = ctx.now();
        let voters: Vec<u64> = raw.raft.prs().conf().voters().ids().iter().collect();
        let due = self.config.membership.iter().filter(|c| Time::from_duration(c.at) <= now).find_map(|c| {
            match (c.add, c.remove) {
                (Some(s), _) if !voters.contains(&(u64::from(s) + 1)) => Some((ConfChangeType::AddNode, s)),
                (_, Some(s)) if voters.contains(&(u64::from(s) + 1)) => Some((ConfChangeType::RemoveNode, s)),
                _ => None,
            }
        });
        if let Some((change_type, server)) = due {
            let node_id = u64::from(server) + 1;
            if change_type == ConfChangeType::RemoveNode && node_id == raw.raft.id {
                // A leader cannot remove itself (raft-rs loses its own progress and panics):
                // hand leadership to another voter, which proposes the removal.
                if let Some(&next) = voters.iter().find(|v| **v != node_id) {
                    raw.transfer_leader(next);
                    ctx.sometimes("leadership handed over before removing the leader", true);
                }
                return;
            }
            let change = ConfChange { change_type, node_id, ..ConfChange::default() };
            if raw.propose_conf_change(vec![], change).is_ok() {
                ctx.count("membership changes proposed", 1);
            }
        }
    }

    fn on_raft(&mut self, ctx: &mut Ctx<'_, Msg>, message: RaftMessage) {
        let Some(raw) = self.raw.as_mut() else { return };
        let kind = message.get_msg_type();
        if kind == MessageType::MsgRequestVote && message.term >= raw.raft.term {
            let stale = !raw.raft.raft_log.is_up_to_date(message.index, message.log_term);
            ctx.sometimes("vote request rejected for a stale log", stale);
        }
        let log = &raw.raft.raft_log;
        match kind {
            MessageType::MsgAppend => {
                let overwrites = message.entries.iter().any(|e| {
                    e.index <= log.last_index() && log.term(e.index).is_ok_and(|term| term != e.term)
                });
                ctx.sometimes(class::TRUNCATED, overwrites);
                ctx.sometimes(class::SNAPSHOT_RACE, message.index + 1 < log.first_index());
            }
            MessageType::MsgSnapshot => {
                ctx.sometimes(
                    class::SNAPSHOT_RACE,
                    message.get_snapshot().get_metadata().index <= log.last_index(),
                );
            }
            MessageType::MsgAppendResponse if !message.reject => {
                let stale = raw.raft.prs().get(message.from).is_some_and(|p| message.index < p.matched);
                ctx.sometimes(class::STALE_RESPONSE, stale);
            }
            _ => {}
        }
        if matches!(kind, MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot)
            && message.term > self.heard_term
        {
            self.heard_term = message.term;
            ctx.fact(RaftFact::Heard { term: message.term, leader: (message.from - 1) as u32 });
        }
        // Errors are messages from peers the configuration does not know: dropped.
        let _ = raw.step(message);
        self.randomize(ctx);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Msg>, client: NodeId, op: u64, command: Command) {
        let Some(raw) = self.raw.as_mut() else { return };
        if command.op.is_read() && self.config.has(Bug::LocalReads) {
            let reply = self.sessions.machine.query(&command.op).expect("reads are queries");
            return ctx.send(client, Msg::Reply { op, reply });
        }
        if raw.raft.state != StateRole::Leader {
            let hint = raw.raft.leader_id.checked_sub(1).map(|l| NodeId(l as u32));
            return ctx.send(client, Msg::Reply { op, reply: Reply::NotLeader(hint) });
        }
        if command.op.is_read() && self.config.read_mode != ReadMode::Log {
            self.next_read += 1;
            raw.read_index(self.next_read.to_le_bytes().to_vec());
            self.reading.insert(self.next_read, Read { client, op, key: command.op });
            return;
        }
        let early = self.config.has(Bug::AckBeforeCommit)
            && matches!(command.op, KvOp::Put(..) | KvOp::Append(..) | KvOp::Delete(..));
        let session = (command.client, command.seq);
        if raw.propose(vec![], command.encode()).is_err() {
            return ctx.send(client, Msg::Reply { op, reply: Reply::NotLeader(None) });
        }
        if early {
            ctx.send(client, Msg::Reply { op, reply: Reply::Done(Datum::Nil) });
        } else {
            self.proposed.insert(session, (client, op));
        }
    }

    /// Runs the Ready cycle until raft-rs has nothing more to do.
    fn ready(&mut self, ctx: &mut Ctx<'_, Msg>) {
        while self.raw.as_ref().is_some_and(|raw| raw.has_ready()) {
            self.ready_once(ctx);
        }
        self.note_role(ctx);
    }

    fn ready_once(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let raw = self.raw.as_mut().expect("checked");
        let mut ready = raw.ready();
        send_all(ctx, raw, ready.take_messages());
        let snapshot = (!ready.snapshot().is_empty()).then(|| ready.snapshot().clone());
        if let Some(snapshot) = &snapshot {
            if let Err(error) = self.sessions.restore(&snapshot.data) {
                panic!("server {} got a snapshot it cannot read: {error}", ctx.id());
            }
            self.applied = snapshot.get_metadata().index;
            self.confirmed.retain(|(index, _)| *index > self.applied);
            ctx.sometimes("snapshot installed", true);
        }
        let committed = ready.take_committed_entries();
        self.apply(ctx, committed);
        let read_states = ready.take_read_states();
        let raw = self.raw.as_mut().expect("checked");
        // A Ready with a snapshot is synced at once even with asynchronous persistence: the
        // state machine restored it already, and raft-rs applies nothing past what is durable.
        let asynchronous = self.config.async_persistence && snapshot.is_none();
        let changes = Changes {
            snapshot: snapshot.as_ref(),
            entries: ready.entries(),
            hard_state: ready.hs(),
            sync: ready.must_sync() && !asynchronous,
        };
        match raw.mut_store().save(&changes) {
            Ok(true) => ctx.count("log writes", 1),
            Ok(false) => {}
            Err(_) => return self.fail(ctx),
        }
        if changes.sync {
            ctx.fact(raw.store().state(false));
        }
        if asynchronous {
            self.persist_async(ctx, ready);
        } else if self.config.async_persistence {
            self.persisted_at_once(ctx, ready);
        } else {
            send_all(ctx, raw, ready.take_persisted_messages());
            let mut light = raw.advance(ready);
            if let Some(commit) = light.commit_index() {
                raw.mut_store().set_commit(commit);
            }
            send_all(ctx, raw, light.take_messages());
            let committed = light.take_committed_entries();
            self.apply(ctx, committed);
        }
        self.raw.as_mut().expect("checked").advance_apply();
        for state in read_states {
            let Ok(context) = <[u8; 8]>::try_from(state.request_ctx.as_slice()) else { continue };
            if let Some(read) = self.reading.remove(&u64::from_le_bytes(context)) {
                self.confirmed.push((state.index, read));
            }
        }
        self.serve_reads(ctx);
        self.compact(ctx);
    }

    /// Submits a written Ready's fsync and queues what waits for it; a Ready with nothing
    /// to sync is durable once those before it are.
    fn persist_async(&mut self, ctx: &mut Ctx<'_, Msg>, mut ready: raft::Ready) {
        let raw = self.raw.as_mut().expect("checked");
        let mut messages = ready.take_persisted_messages();
        if self.config.has(Bug::AckBeforeSync) {
            send_all(ctx, raw, std::mem::take(&mut messages));
        }
        let needs_sync = ready.must_sync() && !self.config.has(Bug::SkipFsync);
        self.persisting.push_back(Persisting { io: None, needs_sync, number: ready.number(), messages });
        raw.advance_append_async(ready);
        self.submit_sync(ctx);
        self.persisted(ctx, None);
    }

    /// Submits one fsync for every Ready written since the last was submitted, unless one
    /// is in flight (group commit: those wait for the next).
    fn submit_sync(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let unsubmitted = || self.persisting.iter().filter(|p| p.io.is_none());
        if self.syncing.is_some() || !unsubmitted().any(|p| p.needs_sync) {
            return;
        }
        let io = ctx.fsync_async(wal::FILE);
        self.syncing = Some(io);
        for waiting in self.persisting.iter_mut().filter(|p| p.io.is_none()) {
            waiting.io = Some(io);
        }
    }

    /// A Ready synced at once, with asynchronous persistence on: the fsync of the log file
    /// covered every write before it, so the Readies waiting for theirs are durable too.
    fn persisted_at_once(&mut self, ctx: &mut Ctx<'_, Msg>, mut ready: raft::Ready) {
        let raw = self.raw.as_mut().expect("checked");
        let messages = ready.take_persisted_messages();
        let number = ready.number();
        raw.advance_append_async(ready);
        for waiting in self.persisting.drain(..) {
            send_all(ctx, raw, waiting.messages);
        }
        raw.on_persist_ready(number);
        send_all(ctx, raw, messages);
    }

    /// Hands raft-rs the Readies that are durable now that `done` completed (none: only
    /// those waiting for nothing), in order, and sends what waited for them.
    fn persisted(&mut self, ctx: &mut Ctx<'_, Msg>, done: Option<IoId>) {
        let Some(raw) = self.raw.as_mut() else { return };
        while let Some(front) = self.persisting.front() {
            let durable = match front.io {
                Some(io) => done.is_some_and(|done| io <= done),
                None => !front.needs_sync,
            };
            if !durable {
                break;
            }
            let Persisting { number, messages, .. } = self.persisting.pop_front().expect("peeked");
            raw.on_persist_ready(number);
            send_all(ctx, raw, messages);
        }
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, Msg>, entries: Vec<Entry>) {
        for entry in entries {
            let mut session = None;
            match entry.get_entry_type() {
                EntryType::EntryNormal if entry.data.is_empty() => {}
                EntryType::EntryNormal => match Command::decode(&entry.data) {
                    Ok(command) => {
                        session = Some(Session { client: command.client, seq: command.seq });
                        let applied = self.sessions.apply(&command);
                        if !applied.fresh {
                            ctx.count("retried commands not applied twice", 1);
                        }
                        ctx.sometimes(class::DUPLICATE, !applied.fresh);
                        let raw = self.raw.as_ref().expect("applying");
                        if raw.raft.state == StateRole::Leader {
                            ctx.sometimes(class::EARLIER_TERM, entry.term < raw.raft.term);
                        }
                        if let Some((node, op)) = self.proposed.remove(&(command.client, command.seq)) {
                            ctx.sometimes(class::UNSYNCED_ACK, !self.persisting.is_empty());
                            ctx.send(node, Msg::Reply { op, reply: applied.reply });
                        }
                    }
                    Err(error) => panic!("server {} applied an entry it cannot read: {error}", ctx.id()),
                },
                EntryType::EntryConfChange => {
                    let change = ConfChange::parse_from_bytes(&entry.data).expect("conf changes decode");
                    let raw = self.raw.as_mut().expect("applying");
                    let leaving = change.get_change_type() == ConfChangeType::RemoveNode
                        && change.node_id == raw.raft.id;
                    if raw.raft.state == StateRole::Leader {
                        let cut_off = raw.raft.prs().iter().any(|(_, p)| !p.recent_active);
                        ctx.sometimes(class::MEMBERSHIP_CUT_OFF, cut_off);
                    }
                    if leaving && raw.raft.state == StateRole::Leader {
                        // Leadership moved to this server after the removal was proposed.
                        let term = raw.raft.term;
                        raw.raft.become_follower(term, raft::INVALID_ID);
                    }
                    match raw.apply_conf_change(&change) {
                        Ok(conf_state) => {
                            let voters = conf_state.voters.iter().map(|v| (v - 1) as u32).collect();
                            ctx.fact(Configured { voters });
                            raw.mut_store().set_conf_state(conf_state);
                            self.conf_changed = true;
                            ctx.sometimes("membership changed", true);
                        }
                        Err(error) => panic!("server {} could not apply {change:?}: {error}", ctx.id()),
                    }
                }
                EntryType::EntryConfChangeV2 => unreachable!("only simple conf changes are proposed"),
            }
            ctx.fact(RaftFact::Apply { index: entry.index, term: entry.term, command: session });
            self.applied = entry.index;
        }
    }

    fn serve_reads(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let applied = self.applied;
        if self.confirmed.iter().all(|(index, _)| *index > applied) {
            return;
        }
        let (ready, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.confirmed).into_iter().partition(|(index, _)| *index <= applied);
        self.confirmed = waiting;
        for (_, read) in ready {
            let reply = self.sessions.machine.query(&read.key).expect("reads are queries");
            ctx.send(read.client, Msg::Reply { op: read.op, reply });
        }
    }

    /// Snapshots the state machine and compacts the log every `compact_every` entries, and
    /// after every configuration change.
    fn compact(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let every = self.config.compact_every;
        let raw = self.raw.as_mut().expect("running");
        let snapshot_index = raw.store().snapshot_index();
        let due = every > 0 && self.applied >= snapshot_index + every;
        // Fault point: snapshot and compact now, so followers catch up from snapshots that
        // race new entries.
        let early = self.applied > snapshot_index && ctx.buggify("raft.early_compaction");
        if !(due || early || self.conf_changed && self.applied > snapshot_index) {
            return;
        }
        self.conf_changed = false;
        match raw.mut_store().compact(self.applied, self.sessions.snapshot()) {
            Ok(()) => ctx.count("log compactions", 1),
            Err(_) => self.fail(ctx),
        }
    }

    /// Notes leadership changes: the role for fault targeting, a fact per term led, and
    /// answers to clients whose commands this server can no longer vouch for.
    fn note_role(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let Some(raw) = self.raw.as_ref() else { return };
        ctx.series("term", raw.raft.term as i64);
        ctx.series("commit index", raw.raft.raft_log.committed as i64);
        let leading = raw.raft.state == StateRole::Leader;
        if leading && raw.raft.term != self.led_term {
            self.led_term = raw.raft.term;
            ctx.fact(RaftFact::Leader { term: raw.raft.term });
            ctx.set_role(super::Role::Leader);
        } else if !leading && self.led_term != 0 {
            self.led_term = 0;
            ctx.sometimes("leader stepped down", true);
            ctx.sometimes(class::DEPOSED_WITH_READS, !self.reading.is_empty() || !self.confirmed.is_empty());
            ctx.set_role(super::Role::Follower);
            for (_, (client, op)) in std::mem::take(&mut self.proposed) {
                ctx.send(client, Msg::Reply { op, reply: Reply::Unknown });
            }
            let reads = std::mem::take(&mut self.reading)
                .into_values()
                .chain(std::mem::take(&mut self.confirmed).into_iter().map(|(_, read)| read));
            for read in reads {
                ctx.send(read.client, Msg::Reply { op: read.op, reply: Reply::NotLeader(None) });
            }
        }
    }

    /// The disk refused a write (full, or redb found it damaged): the server stops taking
    /// part until it restarts, since raft-rs already counts on what was not persisted.
    fn fail(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.count("servers stopped: could not persist", 1);
        ctx.sometimes("a server stopped because its disk failed", true);
        self.raw = None;
        ctx.clear_role();
    }
}

/// Sends raft-rs's messages, then hands the emptied vector back to raft-rs: it takes its
/// outbox on every Ready, and growing a fresh one message by message was 2% of a flagship
/// seed's instructions (a `Message` is 192 bytes, and every doubling copies them all).
fn send_all(ctx: &mut Ctx<'_, Msg>, raw: &mut RawNode<Log>, mut messages: Vec<RaftMessage>) {
    for message in messages.drain(..) {
        let to = NodeId((message.to - 1) as u32);
        ctx.send(to, Msg::Raft(Box::new(message)));
    }
    let outbox = &mut raw.raft.msgs;
    if outbox.is_empty() && outbox.capacity() < messages.capacity() {
        *outbox = messages;
    }
}

impl Node for Server {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let id = u64::from(ctx.id().0) + 1;
        let voters: Vec<u64> = (1..=u64::from(self.voters)).collect();
        let initial = (ctx.id().0 < self.voters).then_some(voters.as_slice());
        let fsync = !self.config.has(Bug::SkipFsync);
        let (log, opened) = match Log::open(ctx.disk_handle(), self.config.storage, fsync, initial) {
            Ok(opened) => opened,
            Err(_) => {
                // A log that does not open recovered nothing of what was synced.
                let nothing = LogState { recovered: true, last: 0, term: 0, vote: 0 };
                if ctx.incarnation() > 0 {
                    ctx.fact(nothing);
                }
                return self.fail(ctx);
            }
        };
        if ctx.incarnation() > 0 {
            ctx.fact(log.state(true));
        }
        let snapshot = log.latest_snapshot();
        if !snapshot.is_empty() {
            if let Err(error) = self.sessions.restore(&snapshot.data) {
                panic!("server {} cannot read its own snapshot: {error}", ctx.id());
            }
            self.applied = snapshot.get_metadata().index;
        }
        let config = self.raft_config(id, self.applied);
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        match RawNode::new(&config, log, &logger) {
            Ok(raw) => {
                if ctx.incarnation() > 0 {
                    ctx.sometimes(class::VOTE_RECOVERED, raw.raft.vote != raft::INVALID_ID);
                    ctx.sometimes(class::TAIL_CUT, opened.cut_tail);
                    ctx.sometimes(class::EMPTY_RESTART, opened.empty);
                    ctx.sometimes(class::REPLAYED, raw.raft.raft_log.committed > self.applied);
                }
                self.raw = Some(raw);
            }
            Err(error) => panic!("server {}: raft-rs refused its configuration: {error}", ctx.id()),
        }
        ctx.set_role(super::Role::Follower);
        self.randomize(ctx);
        let first = match self.config.tick_phase {
            true => std::time::Duration::from_nanos(1 + ctx.rng().below(self.config.tick.as_nanos() as u64)),
            false => self.config.tick,
        };
        ctx.set_timer(first, Timer::Tick);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Raft(message) => self.on_raft(ctx, *message),
            Msg::Request { op, command } => self.on_request(ctx, from, op, command),
            Msg::Reply { .. } => ctx.unexpected("servers get no replies"),
        }
        self.ready(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _tick: Timer) {
        self.tick(ctx);
        self.ready(ctx);
    }

    fn on_io_done(&mut self, ctx: &mut Ctx<'_, Msg>, io: IoId, result: IoResult) {
        if self.raw.is_none() {
            return; // stopped: nothing waits
        }
        if result.is_err() {
            return self.fail(ctx);
        }
        // A new log's name as well (POSIX: a no-op unless the rule is on and it is new).
        crate::storage::sync_name(&mut ctx.disk(), wal::FILE);
        ctx.sometimes("a Ready persisted asynchronously", true);
        self.syncing = None;
        self.persisted(ctx, Some(io));
        self.submit_sync(ctx);
        self.ready(ctx);
    }
}
