//! A leader lease, written against simctl's kernel from outside simctl: the template for a
//! protocol of your own (docs/your-own-system.md walks through it).
//!
//! Servers elect a leader by lease. A candidate notes the time on its clock, asks every
//! server for a grant, and leads once a majority granted: until its start plus `lease`
//! minus `guard`, by its own clock. A server grants to one candidate at a time and promises
//! not to grant to another until `lease` has passed on its own monotonic clock since it
//! granted. A leader renews every `lease / 4`, and checks every `tick` whether its lease ran
//! out. Since every grant was given after the candidate's start, each promise outlasts the
//! leader's belief by `guard`, so two servers never believe they lead at the same time,
//! provided clocks drift by less than `guard / lease` (a clock that steps does not count:
//! leases are measured on `CLOCK_MONOTONIC`).
//!
//! The planted bug (`bugs = ["wall-clock"]`): the leader measures its lease on the wall
//! clock, which a clock fault can step back, so an isolated leader goes on believing after
//! its grants have expired and the majority has elected another. The check that catches it,
//! `lease.one_leader`, compares every server's belief in true time.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::harness::system::{Check, Slot, System};
use sim::scenario::Scenario;
use sim::{
    Clock, Ctx, Fault, Message, Names, Network, Node, NodeId, Seed, Sim, Target, Time, TimerId, Timers,
};

/// The `[settings]` of a lease scenario.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long a grant lasts, on the granter's monotonic clock. Default: "2s".
    #[serde(with = "sim::scenario::duration")]
    pub lease: Duration,
    /// What a leader gives up of its lease, for clock drift (and the time its last check
    /// takes). Default: "200ms".
    #[serde(with = "sim::scenario::duration")]
    pub guard: Duration,
    /// How often a leader checks whether its lease ran out. Default: "10ms".
    #[serde(with = "sim::scenario::duration")]
    pub tick: Duration,
    /// Planted bugs, for the canary: `"wall-clock"`. Default: none.
    pub bugs: Vec<Bug>,
}

/// A planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// The leader measures its lease on the wall clock, which steps.
    WallClock,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            lease: Duration::from_secs(2),
            guard: Duration::from_millis(200),
            tick: Duration::from_millis(10),
            bugs: Vec::new(),
        }
    }
}

/// The wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// A candidate (or a leader renewing) asks for a grant in its round.
    Request {
        /// The candidate's round.
        round: u64,
    },
    /// A grant for `round`.
    Grant {
        /// The round granted.
        round: u64,
    },
}

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Campaign (or renew, as a leader).
    Campaign,
    /// A leader checks its lease.
    Tick,
}

impl Message for Msg {
    type Timer = Timer;
    type Kind = ();
}

/// What a server states for the check, in true time (the kernel stamps each fact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Belief {
    /// It believes it leads from now.
    Leads,
    /// It no longer does.
    StepsDown,
}

/// A server.
pub struct Server {
    settings: Settings,
    servers: u32,
    /// Granted to this candidate until this time on the monotonic clock.
    promise: Option<(NodeId, Time)>,
    /// The round this server last started, when (by its lease clock), and who granted it.
    round: u64,
    started: Time,
    grants: BTreeSet<NodeId>,
    /// Whether its current round is a campaign that has not yet won.
    campaigning: bool,
    /// Leading until this time by its lease clock.
    leading: Option<Time>,
    tick: Option<TimerId>,
}

impl Server {
    fn new(settings: Settings, servers: u32) -> Server {
        Server {
            settings,
            servers,
            promise: None,
            round: 0,
            started: Time::ZERO,
            grants: BTreeSet::new(),
            campaigning: false,
            leading: None,
            tick: None,
        }
    }

    /// The clock the leader measures its lease on: monotonic, or the wall clock (the bug).
    fn lease_clock(&self, ctx: &Ctx<'_, Msg>) -> Time {
        if self.settings.bugs.contains(&Bug::WallClock) {
            ctx.now()
        } else {
            ctx.monotonic()
        }
    }

    /// Grants to `candidate` if this server has promised no one else: true if it did.
    fn grant(&mut self, ctx: &Ctx<'_, Msg>, candidate: NodeId) -> bool {
        let now = ctx.monotonic();
        match self.promise {
            Some((other, until)) if other != candidate && now < until => false,
            _ => {
                self.promise = Some((candidate, now + self.settings.lease));
                true
            }
        }
    }

    /// The campaign timer: a leader renews; a candidate that has not won yields (gives up
    /// its round and its grant to itself, so it may grant another) and tries again after a
    /// random back-off; anyone else campaigns if it has promised no one else.
    fn campaign(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let lease = self.settings.lease;
        if self.campaigning && self.leading.is_none() {
            self.campaigning = false;
            self.round += 1;
            self.promise = None;
            let back_off = Duration::from_nanos(ctx.rng().below(lease.as_nanos() as u64 / 2));
            ctx.set_timer(back_off, Timer::Campaign);
            return;
        }
        let retry = lease / 4 + Duration::from_nanos(ctx.rng().below(50_000_000));
        ctx.set_timer(retry, Timer::Campaign);
        if !self.grant(ctx, ctx.id()) {
            return;
        }
        self.round += 1;
        self.campaigning = self.leading.is_none();
        self.started = self.lease_clock(ctx);
        self.grants = BTreeSet::from([ctx.id()]);
        let me = ctx.id();
        for peer in (0..self.servers).map(NodeId).filter(|&p| p != me) {
            ctx.send(peer, Msg::Request { round: self.round });
        }
        self.counted(ctx);
    }

    /// If a majority granted the current round: lead (or go on leading) until its start
    /// plus the lease, less the guard, by the lease clock.
    fn counted(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let until = self.started + self.settings.lease.saturating_sub(self.settings.guard);
        if self.grants.len() as u32 <= self.servers / 2 || self.lease_clock(ctx) >= until {
            return;
        }
        if self.leading.is_none() {
            ctx.set_role(Role::Leader);
            ctx.fact(Belief::Leads);
            self.tick = Some(ctx.set_timer(self.settings.tick, Timer::Tick));
        }
        self.campaigning = false;
        self.leading = Some(until);
    }

    fn step_down(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.leading = None;
        if let Some(tick) = self.tick.take() {
            ctx.cancel_timer(tick);
        }
        ctx.clear_role();
        ctx.fact(Belief::StepsDown);
    }
}

impl Node for Server {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        // Every boot is a fresh start: a restarted server has forgotten its promises, so it
        // waits a whole lease before it grants or campaigns (as it would on a real restart).
        let now = ctx.monotonic();
        self.promise = Some((ctx.id(), now + self.settings.lease));
        let first = self.settings.lease + Duration::from_nanos(ctx.rng().below(500_000_000));
        ctx.set_timer(first, Timer::Campaign);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { round } => {
                if self.grant(ctx, from) {
                    ctx.send(from, Msg::Grant { round });
                }
            }
            Msg::Grant { round } if round == self.round => {
                self.grants.insert(from);
                self.counted(ctx);
            }
            Msg::Grant { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Campaign => self.campaign(ctx),
            Timer::Tick => {
                if self.leading.is_some_and(|until| self.lease_clock(ctx) >= until) {
                    self.step_down(ctx);
                } else {
                    self.tick = Some(ctx.set_timer(self.settings.tick, Timer::Tick));
                }
            }
        }
    }
}

sim::names! {
    /// The role a server reports while it believes it holds the lease: faults can target it
    /// (`crash = "leader"`).
    pub enum Role {
        /// Holds the lease.
        Leader = "leader",
    }
}

/// The lease as a system scenarios can name.
pub struct Lease;

impl System for Lease {
    type Msg = Msg;
    type Settings = Settings;
    type Setup = (Settings, u32);

    const NAME: &'static str = "lease";
    const ABOUT: &'static str = "a leader lease: grants on monotonic clocks, at most one leader at a time";
    const ROLES: &'static [&'static str] = Role::NAMES;

    fn validate(scenario: &Scenario<Settings>) -> Result<(), (&'static str, String)> {
        let s = &scenario.settings;
        if s.guard >= s.lease {
            return Err((
                "guard",
                format!("guard ({:?}) must be shorter than lease ({:?})", s.guard, s.lease),
            ));
        }
        if s.tick.is_zero() || s.tick > s.guard {
            return Err(("tick", format!("tick must be above zero and at most guard, got {:?}", s.tick)));
        }
        Ok(())
    }

    fn setup(scenario: &Scenario<Settings>, _seed: Seed) -> (Settings, u32) {
        (scenario.settings.clone(), scenario.nodes)
    }

    fn node((settings, servers): &(Settings, u32), _slot: Slot, _id: NodeId) -> Box<dyn Node<Msg = Msg>> {
        Box::new(Server::new(settings.clone(), *servers))
    }

    fn check(scenario: &Scenario<Settings>, _setup: &(Settings, u32), sim: &Sim<Msg>) -> Vec<Check> {
        let intervals = beliefs(sim, scenario.nodes);
        let mut checks = vec![one_leader(&intervals)];
        if scenario.faults.is_empty() && scenario.swarm.is_none() {
            checks.push(Check::from("lease.elected", !intervals.is_empty(), || {
                "no server led in a run without faults".to_owned()
            }));
        }
        checks
    }
}

/// Each server's beliefs that it leads, as true-time intervals: from `Leads` to `StepsDown`
/// or its crash, or open (`None`: it still believes at the end of the run).
fn beliefs(sim: &Sim<Msg>, servers: u32) -> Vec<(Time, Option<Time>, NodeId)> {
    let mut events: Vec<(Time, NodeId, bool)> =
        sim.observations().facts::<Belief>().map(|f| (f.time, f.node, *f.what == Belief::Leads)).collect();
    for record in sim.fault_log() {
        if let Fault::Crash(Target::Node(node)) = record.fault {
            events.push((record.time, node, false));
        }
    }
    events.sort_by_key(|&(time, node, leads)| (time, node, leads));
    let mut open: Vec<Option<Time>> = vec![None; servers as usize];
    let mut intervals = Vec::new();
    for (time, node, leads) in events {
        let slot = &mut open[node.index()];
        match (leads, *slot) {
            (true, None) => *slot = Some(time),
            (false, Some(from)) => {
                intervals.push((from, Some(time), node));
                *slot = None;
            }
            _ => {}
        }
    }
    intervals.extend(
        open.iter().enumerate().filter_map(|(i, from)| from.map(|from| (from, None, NodeId(i as u32)))),
    );
    intervals.sort();
    intervals
}

/// `lease.one_leader`: no two servers believe they lead at the same true time. A belief
/// still open at the end of the run (or of a prefix of it: `simctl bisect`) overlaps any
/// other that began by then.
fn one_leader(intervals: &[(Time, Option<Time>, NodeId)]) -> Check {
    // The belief that ends last so far; `None` ends after everything.
    let mut latest: Option<(Time, Option<Time>, NodeId)> = None;
    let ends_after = |to: Option<Time>, at: Time| to.is_none_or(|to| to > at);
    for &(from, to, node) in intervals {
        let overlapped =
            latest.filter(|&(_, was_to, was)| was != node && (was_to.is_none() || ends_after(was_to, from)));
        if let Some((was_from, _, was)) = overlapped {
            // Said the same way whether the earlier belief ended later or runs on to the end
            // of a prefix, so `simctl bisect` and `shrink` see one failure.
            return Check::fail(
                "lease.one_leader",
                format!("{node} led from {from} while {was} still led (since {was_from})"),
            );
        }
        if latest.is_none_or(|(_, was_to, _)| was_to.is_some_and(|was_to| ends_after(to, was_to))) {
            latest = Some((from, to, node));
        }
    }
    Check::pass("lease.one_leader")
}
