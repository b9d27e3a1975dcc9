//! `[swarm]`: random faults drawn per seed.
//!
//! For each kind, a Poisson process at `rate` up to `until`, with durations and sizes
//! uniform in the given ranges, from the stream `("swarm", kind)`, so adding a kind does not
//! change the others' draws. Each seed thus picks its own fault mix; the realized timeline
//! (`faults.toml`) replays it with the swarm off.

use std::time::Duration;

use serde::Deserialize;

use super::plan::{Draft, PlanContext};
use super::shapes::Shape;
use super::text::{duration, DurationRange, IntRange, ProbabilityRange, Rate, RateRange, SignedRange};
use crate::kernel::disk::{DiskChange, DiskConfig};
use crate::kernel::dist::Distribution;
use crate::kernel::fault::{Fault, Target};
use crate::kernel::network::LinkModel;
use crate::kernel::rng::{Probability, Rng};

/// A swarm kind's rate with a range of durations.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpan {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each lasts.
    pub duration: DurationRange,
}

/// `[swarm] crash = { rate = "1/10s", down = "1s..5s" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmCrash {
    /// How often, on average.
    pub rate: RateRange,
    /// How long a crashed node stays down.
    pub down: DurationRange,
}

/// `[swarm] partition = { rate, duration, shapes = [...] }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmPartition {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each lasts.
    pub duration: DurationRange,
    /// Which shapes to draw from. Default: all four.
    #[serde(default = "all_shapes")]
    pub shapes: Vec<Shape>,
}

/// `[swarm] clog = { rate, duration, shapes = [...], reorder = true }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmClog {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each clog holds its messages.
    pub duration: DurationRange,
    /// Which shapes to draw from. Default: all four.
    #[serde(default = "all_shapes")]
    pub shapes: Vec<Shape>,
    /// Release the held messages out of order. Default: false.
    #[serde(default)]
    pub reorder: bool,
}

fn all_shapes() -> Vec<Shape> {
    Shape::ALL.to_vec()
}

/// `[swarm] clock = { rate, step = "-1s..1s" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmClock {
    /// How often, on average.
    pub rate: RateRange,
    /// How far a step moves the clock.
    pub step: SignedRange,
}

/// `[swarm] drift = { rate, duration, ppm = "-500..500" }`: a server's clock runs fast or
/// slow for a while, then at the true rate again.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmDrift {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each episode lasts.
    pub duration: DurationRange,
    /// The drift, in parts per million (each more than -1,000,000).
    pub ppm: IntRange,
}

/// `[swarm] strobe = { rate, duration, step = "50ms..1s", every = "10ms..100ms" }`: a
/// server's clock jumps forward by `step` and back again every `every` for `duration`
/// (Jepsen's clock strobe), ending where it started.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmStrobe {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each episode lasts.
    pub duration: DurationRange,
    /// How far each jump goes.
    pub step: DurationRange,
    /// The time between jumps (at least 1 ms).
    pub every: DurationRange,
}

/// `[swarm] slow = { rate, duration, per_event = "1ms..20ms" }`: a server's handlers take
/// time for a while.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSlow {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each episode lasts.
    pub duration: DurationRange,
    /// What each handler costs during it.
    pub per_event: DurationRange,
}

/// `[swarm] replay = { rate, duration, chance = "0.01..0.1", delay = "1s..5s" }`: episodes in
/// which old messages come back late.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmReplay {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each episode lasts.
    pub duration: DurationRange,
    /// The chance per message of a late copy during an episode.
    pub chance: ProbabilityRange,
    /// How late the copies come.
    pub delay: DurationRange,
}

/// `[swarm] loss = { rate, duration, loss = "0.1..0.5" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmLoss {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each burst lasts.
    pub duration: DurationRange,
    /// Loss probability during a burst.
    pub loss: ProbabilityRange,
}

/// `[swarm] disk = { rate, duration, fsync_latency = "10ms..200ms", lost_writes =
/// "0.001..0.01", ... }`: episodes of a bad disk on a random server; each field given is
/// drawn in its range for the episode and set back to `[disk]`'s value at its end.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmDisk {
    /// How often, on average.
    pub rate: RateRange,
    /// How long each episode lasts.
    pub duration: DurationRange,
    /// Fsync latency during an episode (a slow or stuck disk).
    #[serde(default)]
    pub fsync_latency: Option<DurationRange>,
    /// The chance an fsync fails.
    #[serde(default)]
    pub fsync_errors: Option<ProbabilityRange>,
    /// The chance a write fails.
    #[serde(default)]
    pub write_errors: Option<ProbabilityRange>,
    /// The chance a read fails.
    #[serde(default)]
    pub read_errors: Option<ProbabilityRange>,
    /// The chance a write is lost silently (within the damage budget).
    #[serde(default)]
    pub lost_writes: Option<ProbabilityRange>,
    /// The chance a write lands at another offset (within the damage budget).
    #[serde(default)]
    pub misdirected_writes: Option<ProbabilityRange>,
    /// The chance a read returns the last synced bytes (within the damage budget).
    #[serde(default)]
    pub stale_reads: Option<ProbabilityRange>,
}

impl SwarmDisk {
    /// An episode's change, drawn, and the change that ends it (back to `base`).
    fn episode(&self, base: &DiskConfig, rng: &mut Rng) -> (DiskChange, DiskChange) {
        let mut chance = |range: &Option<ProbabilityRange>| {
            range.as_ref().map(|r| {
                let p = r.0.low + rng.unit() * (r.0.high - r.0.low);
                Probability::new(p.clamp(0.0, 1.0)).expect("in range")
            })
        };
        let (fsync_errors, write_errors, read_errors) =
            (chance(&self.fsync_errors), chance(&self.write_errors), chance(&self.read_errors));
        let (lost_writes, misdirected_writes, stale_reads) =
            (chance(&self.lost_writes), chance(&self.misdirected_writes), chance(&self.stale_reads));
        let start = DiskChange {
            fsync_latency: self.fsync_latency.as_ref().map(|range| between(range, rng)),
            fsync_errors,
            write_errors,
            read_errors,
            lost_writes,
            misdirected_writes,
            stale_reads,
            ..DiskChange::default()
        };
        let back = |set: Option<Probability>, value: Probability| set.map(|_| value);
        let end = DiskChange {
            fsync_latency: start.fsync_latency.map(|_| base.fsync_latency),
            fsync_errors: back(fsync_errors, base.fsync_errors),
            write_errors: back(write_errors, base.write_errors),
            read_errors: back(read_errors, base.read_errors),
            lost_writes: back(lost_writes, base.lost_writes),
            misdirected_writes: back(misdirected_writes, base.misdirected_writes),
            stale_reads: back(stale_reads, base.stale_reads),
            ..DiskChange::default()
        };
        (start, end)
    }
}

/// `[swarm] upgrade = { rate, down = "1s..3s", to = ["v2", "base"] }`: a random server
/// crashes and restarts, after `down`, into a version drawn from `to` (a rolling upgrade or
/// downgrade in random order).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmUpgrade {
    /// How often, on average.
    pub rate: RateRange,
    /// How long the server is down.
    pub down: DurationRange,
    /// The versions to draw from (`[versions]` names, or "base").
    pub to: Vec<String>,
}

/// The `[swarm]` table.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpec {
    /// No swarm fault starts after this. Default: the scenario's duration.
    #[serde(default, with = "duration::option")]
    pub until: Option<Duration>,
    /// Swarm testing (Groce et al.): each seed turns each kind on with this chance, so
    /// seeds explore different mixes (a fault that masks another is left out on some).
    /// Default: every kind on every seed.
    #[serde(default)]
    pub kinds_on: Option<f64>,
    /// Crashes of random servers, each restarted after `down`.
    #[serde(default)]
    pub crash: Option<SwarmCrash>,
    /// Crashes of random servers, each restarted after `down` into a wiped disk (within
    /// `[disk] damage_budget`).
    #[serde(default)]
    pub wipe: Option<SwarmCrash>,
    /// Partitions of random shapes, each healed after `duration`.
    #[serde(default)]
    pub partition: Option<SwarmPartition>,
    /// Clogs of random shapes, each released after `duration`.
    #[serde(default)]
    pub clog: Option<SwarmClog>,
    /// Pauses of random servers.
    #[serde(default)]
    pub pause: Option<SwarmSpan>,
    /// Slow episodes of random servers.
    #[serde(default)]
    pub slow: Option<SwarmSlow>,
    /// Clock steps on random servers.
    #[serde(default)]
    pub clock: Option<SwarmClock>,
    /// Clock drift episodes on random servers.
    #[serde(default)]
    pub drift: Option<SwarmDrift>,
    /// Clock strobes on random servers.
    #[serde(default)]
    pub strobe: Option<SwarmStrobe>,
    /// Loss bursts on every link.
    #[serde(default)]
    pub loss: Option<SwarmLoss>,
    /// Episodes of old messages replayed late.
    #[serde(default)]
    pub replay: Option<SwarmReplay>,
    /// Bad-disk episodes on random servers.
    #[serde(default)]
    pub disk: Option<SwarmDisk>,
    /// Crashes of random workload clients, each restarted after `down`.
    #[serde(default)]
    pub client_crash: Option<SwarmCrash>,
    /// Restarts of random servers into drawn versions.
    #[serde(default)]
    pub upgrade: Option<SwarmUpgrade>,
}

impl SwarmSpec {
    /// The rules across fields: `(key, message)` on failure.
    pub fn validate(&self, duration: Duration) -> Result<(), (&'static str, String)> {
        if self.drift.as_ref().is_some_and(|d| d.ppm.0.low <= -1_000_000) {
            return Err(("drift", "a drift of -1000000 ppm or less would stop the clock".to_owned()));
        }
        if self.strobe.as_ref().is_some_and(|s| s.every.0.low < Duration::from_millis(1)) {
            return Err(("strobe", "every must be at least 1ms".to_owned()));
        }
        if let Some(on) = self.kinds_on {
            Probability::new(on).map_err(|e| ("kinds_on", e.to_string()))?;
        }
        if let Some(until) = self.until {
            if until > duration {
                return Err(("until", "until is after the end of the run".to_owned()));
            }
        }
        if self.partition.as_ref().is_some_and(|p| p.shapes.is_empty()) {
            return Err(("partition", "shapes must name at least one shape".to_owned()));
        }
        if self.clog.as_ref().is_some_and(|c| c.shapes.is_empty()) {
            return Err(("clog", "shapes must name at least one shape".to_owned()));
        }
        if let Some(disk) = &self.disk {
            let fields = [
                disk.fsync_errors.is_some(),
                disk.write_errors.is_some(),
                disk.read_errors.is_some(),
                disk.lost_writes.is_some(),
                disk.misdirected_writes.is_some(),
                disk.stale_reads.is_some(),
            ];
            if disk.fsync_latency.is_none() && !fields.contains(&true) {
                return Err((
                    "disk",
                    "a disk episode needs fsync_latency or a chance of errors or damage".to_owned(),
                ));
            }
        }
        if self.upgrade.as_ref().is_some_and(|u| u.to.is_empty()) {
            return Err(("upgrade", "to must name at least one version".to_owned()));
        }
        let until = self.until.unwrap_or(duration).as_secs_f64();
        let rates = [
            ("crash", self.crash.as_ref().map(|c| c.rate.0.high)),
            ("wipe", self.wipe.as_ref().map(|c| c.rate.0.high)),
            ("partition", self.partition.as_ref().map(|p| p.rate.0.high)),
            ("clog", self.clog.as_ref().map(|c| c.rate.0.high)),
            ("pause", self.pause.as_ref().map(|p| p.rate.0.high)),
            ("slow", self.slow.as_ref().map(|p| p.rate.0.high)),
            ("clock", self.clock.as_ref().map(|c| c.rate.0.high)),
            ("drift", self.drift.as_ref().map(|c| c.rate.0.high)),
            ("strobe", self.strobe.as_ref().map(|c| c.rate.0.high)),
            ("loss", self.loss.as_ref().map(|l| l.rate.0.high)),
            ("replay", self.replay.as_ref().map(|l| l.rate.0.high)),
            ("disk", self.disk.as_ref().map(|d| d.rate.0.high)),
            ("client_crash", self.client_crash.as_ref().map(|d| d.rate.0.high)),
            ("upgrade", self.upgrade.as_ref().map(|d| d.rate.0.high)),
        ];
        for (kind, rate) in rates {
            if let Some(rate) = rate {
                let expected = rate.per_second * until;
                if expected > MAX_SWARM_FAULTS as f64 {
                    return Err((kind, format!("{kind} at {rate} until {until}s is about {expected:.0} faults; at most {MAX_SWARM_FAULTS} per kind")));
                }
            }
        }
        Ok(())
    }
}

/// The kinds a `[swarm]` table can draw, as `simctl list` names them.
pub const SWARM_KINDS: [&str; 14] = [
    "crash",
    "wipe",
    "partition",
    "clog",
    "pause",
    "slow",
    "clock",
    "drift",
    "strobe",
    "loss",
    "replay",
    "disk",
    "client_crash",
    "upgrade",
];

/// The most faults of one kind a swarm may draw in a run (planning them is eager).
pub const MAX_SWARM_FAULTS: u64 = 100_000;
/// Poisson times in `[0, until)` at `rate`.
fn times(rate: &Rate, until: Duration, rng: &mut Rng) -> Vec<Duration> {
    let gap = Distribution::Exponential { mean: rate.mean_interval() };
    let mut at = Duration::ZERO;
    let mut times = Vec::new();
    loop {
        at += gap.sample(rng).max(Duration::from_nanos(1));
        if at >= until {
            return times;
        }
        times.push(at);
    }
}

fn between(range: &DurationRange, rng: &mut Rng) -> Duration {
    let (low, high) = (range.0.low.as_nanos() as u64, range.0.high.as_nanos() as u64);
    Duration::from_nanos(rng.between(low, high))
}

/// What a seed drew for its swarm, when the swarm draws (`kinds_on`, or a kind's rate given
/// as a range): per kind, its rate, or `None` when it is off in this run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwarmDraw {
    /// The kinds the swarm names, in `[swarm]`'s order, with what was drawn.
    pub kinds: Vec<(&'static str, Option<Rate>)>,
}

impl SwarmDraw {
    /// The kinds on, joined with `+` ("none" if none): what the coverage ledger counts.
    pub fn combination(&self) -> String {
        let on: Vec<&str> = self.kinds.iter().filter(|(_, r)| r.is_some()).map(|(k, _)| *k).collect();
        if on.is_empty() {
            "none".to_owned()
        } else {
            on.join("+")
        }
    }

    /// One line per kind: `crash 1/4.5s` or `partition off`.
    pub fn lines(&self) -> Vec<String> {
        self.kinds
            .iter()
            .map(|(kind, rate)| match rate {
                Some(rate) => {
                    let every = Duration::from_millis((1_000.0 / rate.per_second).round() as u64);
                    format!("{kind} 1/{}", duration::format(every))
                }
                None => format!("{kind} off"),
            })
            .collect()
    }
}

/// The swarm's draw for this seed: each kind on or off (`kinds_on`) and its rate within its
/// range, from the stream `("swarm-draw", kind)`; nothing is drawn, and `SwarmDraw` stays
/// empty, when every kind is always on at one rate.
struct Drawer<'a> {
    swarm: &'a SwarmSpec,
    seed: crate::kernel::rng::Seed,
    drawn: SwarmDraw,
}

impl Drawer<'_> {
    fn draws(&self) -> bool {
        let ranged = [
            self.swarm.crash.as_ref().map(|c| c.rate),
            self.swarm.wipe.as_ref().map(|c| c.rate),
            self.swarm.partition.as_ref().map(|c| c.rate),
            self.swarm.clog.as_ref().map(|c| c.rate),
            self.swarm.pause.as_ref().map(|c| c.rate),
            self.swarm.slow.as_ref().map(|c| c.rate),
            self.swarm.clock.as_ref().map(|c| c.rate),
            self.swarm.drift.as_ref().map(|c| c.rate),
            self.swarm.strobe.as_ref().map(|c| c.rate),
            self.swarm.loss.as_ref().map(|c| c.rate),
            self.swarm.replay.as_ref().map(|c| c.rate),
            self.swarm.disk.as_ref().map(|c| c.rate),
            self.swarm.client_crash.as_ref().map(|c| c.rate),
            self.swarm.upgrade.as_ref().map(|c| c.rate),
        ];
        self.swarm.kinds_on.is_some() || ranged.iter().flatten().any(|r| !r.is_fixed())
    }

    /// This seed's rate for `kind` (stream `index`), or `None` if it is off.
    fn rate(&mut self, kind: &'static str, index: u64, rate: &RateRange) -> Option<Rate> {
        if !self.draws() {
            return Some(rate.0.low);
        }
        let mut rng = self.seed.stream("swarm-draw", index);
        let on = self.swarm.kinds_on.is_none_or(|p| rng.unit() < p);
        let (low, high) = (rate.0.low.per_second, rate.0.high.per_second);
        let drawn = (on).then(|| Rate { per_second: low + rng.unit() * (high - low) });
        self.drawn.kinds.push((kind, drawn));
        drawn
    }
}

pub(super) fn draw_swarm(swarm: &SwarmSpec, context: &PlanContext<'_>, drafts: &mut Vec<Draft>) -> SwarmDraw {
    let until = swarm.until.unwrap_or(context.duration);
    let mut drawer = Drawer { swarm, seed: context.seed, drawn: SwarmDraw::default() };
    let servers = context.servers;
    let random = || Target::Random(servers.to_vec());
    let stream = |kind: u64| context.seed.stream("swarm", kind);
    let mut push = |at: Duration, fault: Fault, follows: Option<usize>| {
        drafts.push(Draft { at, fault, follows });
        drafts.len() - 1
    };
    if let Some((crash, rate)) =
        swarm.crash.as_ref().and_then(|x| Some((x, drawer.rate("crash", 0, &x.rate)?)))
    {
        let mut rng = stream(0);
        for at in times(&rate, until, &mut rng) {
            let first = push(at, Fault::Crash(random()), None);
            push(at + between(&crash.down, &mut rng), Fault::Restart(Target::SameAs(0)), Some(first));
        }
    }
    if let Some((partition, rate)) =
        swarm.partition.as_ref().and_then(|x| Some((x, drawer.rate("partition", 1, &x.rate)?)))
    {
        let mut rng = stream(1);
        for at in times(&rate, until, &mut rng) {
            let shape = *rng.pick(&partition.shapes).expect("validated: at least one shape");
            let first = push(at, Fault::Partition(shape.partition(servers)), None);
            push(at + between(&partition.duration, &mut rng), Fault::HealOne(0), Some(first));
        }
    }
    if let Some((pause, rate)) =
        swarm.pause.as_ref().and_then(|x| Some((x, drawer.rate("pause", 2, &x.rate)?)))
    {
        let mut rng = stream(2);
        for at in times(&rate, until, &mut rng) {
            let first = push(at, Fault::Pause(random()), None);
            push(at + between(&pause.duration, &mut rng), Fault::Resume(Target::SameAs(0)), Some(first));
        }
    }
    if let Some((clock, rate)) =
        swarm.clock.as_ref().and_then(|x| Some((x, drawer.rate("clock", 3, &x.rate)?)))
    {
        let mut rng = stream(3);
        for at in times(&rate, until, &mut rng) {
            let range = clock.step.0;
            let offset = rng.between(0, (range.high - range.low) as u64) as i64;
            push(at, Fault::ClockStep { node: random(), delta_nanos: range.low + offset }, None);
        }
    }
    if let Some((loss, rate)) = swarm.loss.as_ref().and_then(|x| Some((x, drawer.rate("loss", 4, &x.rate)?)))
    {
        let mut rng = stream(4);
        for at in times(&rate, until, &mut rng) {
            let range = loss.loss.0;
            let p = range.low + rng.unit() * (range.high - range.low);
            let burst = LinkModel {
                loss: Probability::new(p.clamp(0.0, 1.0)).expect("in range"),
                ..context.network.clone()
            };
            push(at, Fault::Network(burst), None);
            push(at + between(&loss.duration, &mut rng), Fault::Network(context.network.clone()), None);
        }
    }
    if let Some((clog, rate)) = swarm.clog.as_ref().and_then(|x| Some((x, drawer.rate("clog", 6, &x.rate)?)))
    {
        let mut rng = stream(6);
        for at in times(&rate, until, &mut rng) {
            let shape = *rng.pick(&clog.shapes).expect("validated: at least one shape");
            let first =
                push(at, Fault::Clog { partition: shape.partition(servers), reorder: clog.reorder }, None);
            push(at + between(&clog.duration, &mut rng), Fault::UnclogOne(0), Some(first));
        }
    }
    if let Some((wipe, rate)) = swarm.wipe.as_ref().and_then(|x| Some((x, drawer.rate("wipe", 7, &x.rate)?)))
    {
        let mut rng = stream(7);
        for at in times(&rate, until, &mut rng) {
            let first = push(at, Fault::Crash(random()), None);
            let end = at + between(&wipe.down, &mut rng);
            push(end, Fault::Wipe(Target::SameAs(0)), Some(first));
            push(end, Fault::Restart(Target::SameAs(0)), Some(first));
        }
    }
    if let Some((disk, rate)) = swarm.disk.as_ref().and_then(|x| Some((x, drawer.rate("disk", 5, &x.rate)?)))
    {
        let mut rng = stream(5);
        for at in times(&rate, until, &mut rng) {
            let (bad, restore) = disk.episode(context.disk, &mut rng);
            let first = push(at, Fault::Disk { node: random(), change: bad }, None);
            let end = at + between(&disk.duration, &mut rng);
            push(end, Fault::Disk { node: Target::SameAs(0), change: restore }, Some(first));
        }
    }
    if let Some((drift, rate)) =
        swarm.drift.as_ref().and_then(|x| Some((x, drawer.rate("drift", 8, &x.rate)?)))
    {
        let mut rng = stream(8);
        for at in times(&rate, until, &mut rng) {
            let range = drift.ppm.0;
            let ppm = range.low + rng.between(0, range.high.abs_diff(range.low)) as i64;
            let first = push(at, Fault::ClockDrift { node: random(), ppm }, None);
            let end = at + between(&drift.duration, &mut rng);
            push(end, Fault::ClockDrift { node: Target::SameAs(0), ppm: 0 }, Some(first));
        }
    }
    if let Some((strobe, rate)) =
        swarm.strobe.as_ref().and_then(|x| Some((x, drawer.rate("strobe", 9, &x.rate)?)))
    {
        let mut rng = stream(9);
        for at in times(&rate, until, &mut rng) {
            let step = between(&strobe.step, &mut rng).as_nanos() as i64;
            let every = between(&strobe.every, &mut rng);
            let end = at + between(&strobe.duration, &mut rng);
            let first = push(at, Fault::ClockStep { node: random(), delta_nanos: step }, None);
            let (mut next, mut back) = (at + every, true);
            while next < end || back {
                let delta = if back { -step } else { step };
                push(next, Fault::ClockStep { node: Target::SameAs(0), delta_nanos: delta }, Some(first));
                next += every;
                back = !back;
            }
        }
    }
    if let Some((slow, rate)) = swarm.slow.as_ref().and_then(|x| Some((x, drawer.rate("slow", 10, &x.rate)?)))
    {
        let mut rng = stream(10);
        for at in times(&rate, until, &mut rng) {
            let per_event = between(&slow.per_event, &mut rng);
            let first = push(at, Fault::Slow { node: random(), per_event }, None);
            let end = at + between(&slow.duration, &mut rng);
            push(end, Fault::Slow { node: Target::SameAs(0), per_event: Duration::ZERO }, Some(first));
        }
    }
    if let Some((replay, rate)) =
        swarm.replay.as_ref().and_then(|x| Some((x, drawer.rate("replay", 11, &x.rate)?)))
    {
        let mut rng = stream(11);
        for at in times(&rate, until, &mut rng) {
            let range = replay.chance.0;
            let p = range.low + rng.unit() * (range.high - range.low);
            let chance = Probability::new(p.clamp(0.0, 1.0)).expect("in range");
            let (delay_min, delay_max) = (replay.delay.0.low, replay.delay.0.high);
            push(at, Fault::Replay { chance, delay_min, delay_max }, None);
            let stop = Fault::Replay { chance: Probability::NEVER, delay_min, delay_max };
            push(at + between(&replay.duration, &mut rng), stop, None);
        }
    }
    if let Some((crash, rate)) =
        swarm.client_crash.as_ref().and_then(|x| Some((x, drawer.rate("client_crash", 12, &x.rate)?)))
    {
        let mut rng = stream(12);
        let clients = Target::Random(context.clients.to_vec());
        for at in times(&rate, until, &mut rng) {
            let first = push(at, Fault::Crash(clients.clone()), None);
            push(at + between(&crash.down, &mut rng), Fault::Restart(Target::SameAs(0)), Some(first));
        }
    }
    if let Some((upgrade, rate)) =
        swarm.upgrade.as_ref().and_then(|x| Some((x, drawer.rate("upgrade", 13, &x.rate)?)))
    {
        let mut rng = stream(13);
        for at in times(&rate, until, &mut rng) {
            let name = rng.pick(&upgrade.to).expect("validated: at least one version").clone();
            let version = context.version(&name);
            let first = push(at, Fault::Crash(random()), None);
            let end = at + between(&upgrade.down, &mut rng);
            push(end, Fault::Version { node: Target::SameAs(0), version, name }, Some(first));
            push(end, Fault::Restart(Target::SameAs(0)), Some(first));
        }
    }
    drawer.drawn
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ids::NodeId;
    use crate::kernel::rng::Seed;

    fn swarm(text: &str) -> SwarmSpec {
        toml::from_str(text).unwrap()
    }

    fn drawn(spec: &SwarmSpec, seed: u64) -> (SwarmDraw, usize) {
        let servers: Vec<NodeId> = (0..5).map(NodeId).collect();
        let context = PlanContext {
            servers: &servers,
            network: &LinkModel::default(),
            clients: &[],
            disk: &DiskConfig::default(),
            duration: Duration::from_secs(100),
            seed: Seed(seed),
            versions: &[],
        };
        let mut drafts = Vec::new();
        let draw = draw_swarm(spec, &context, &mut drafts);
        (draw, drafts.len())
    }

    #[test]
    fn swarm_kinds_name_every_kind_the_table_takes() {
        let error = toml::from_str::<SwarmSpec>("bogus = 1").unwrap_err().to_string();
        for kind in SWARM_KINDS {
            assert!(error.contains(&format!("`{kind}`")), "{kind} in {error}");
        }
        let fields = error.matches('`').count() / 2 - 1; // less `bogus`
        assert_eq!(fields, SWARM_KINDS.len() + 2, "until and kinds_on besides the kinds: {error}");
    }

    #[test]
    fn a_swarm_that_draws_nothing_records_nothing() {
        let (draw, faults) = drawn(&swarm("crash = { rate = \"1/10s\", down = \"1s\" }"), 1);
        assert!(draw.kinds.is_empty());
        assert!(faults > 0);
    }

    #[test]
    fn swarm_testing_turns_kinds_on_per_seed_and_draws_rates_in_their_range() {
        let spec = swarm(
            "kinds_on = 0.5\ncrash = { rate = \"1/10s..1/2s\", down = \"1s\" }\npause = { rate = \"1/5s\", duration = \"1s\" }",
        );
        let mut on = 0;
        for seed in 0..200 {
            let (draw, faults) = drawn(&spec, seed);
            assert_eq!(draw, drawn(&spec, seed).0, "the same seed draws the same");
            assert_eq!(draw.kinds.len(), 2);
            if draw.kinds.iter().all(|(_, rate)| rate.is_none()) {
                assert_eq!(faults, 0, "seed {seed}: every kind off, no faults");
                assert_eq!(draw.combination(), "none");
            }
            for (kind, rate) in &draw.kinds {
                let Some(rate) = rate else { continue };
                on += 1;
                let (low, high) = if *kind == "crash" { (0.1, 0.5) } else { (0.2, 0.2) };
                assert!((low..=high).contains(&rate.per_second), "{kind} {rate}");
            }
        }
        assert!((160..=240).contains(&on), "{on} of 400 kind-runs on");
    }
}
