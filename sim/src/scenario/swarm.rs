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
use super::text::{duration, DurationRange, ProbabilityRange, Rate, SignedRange};
use crate::kernel::disk::DiskChange;
use crate::kernel::dist::Distribution;
use crate::kernel::fault::{Fault, Target};
use crate::kernel::network::LinkModel;
use crate::kernel::rng::{Probability, Rng};

/// A swarm kind's rate with a range of durations.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpan {
    /// How often, on average.
    pub rate: Rate,
    /// How long each lasts.
    pub duration: DurationRange,
}

/// `[swarm] crash = { rate = "1/10s", down = "1s..5s" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmCrash {
    /// How often, on average.
    pub rate: Rate,
    /// How long a crashed node stays down.
    pub down: DurationRange,
}

/// `[swarm] partition = { rate, duration, shapes = [...] }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmPartition {
    /// How often, on average.
    pub rate: Rate,
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
    pub rate: Rate,
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
    pub rate: Rate,
    /// How far a step moves the clock.
    pub step: SignedRange,
}

/// `[swarm] loss = { rate, duration, loss = "0.1..0.5" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmLoss {
    /// How often, on average.
    pub rate: Rate,
    /// How long each burst lasts.
    pub duration: DurationRange,
    /// Loss probability during a burst.
    pub loss: ProbabilityRange,
}

/// `[swarm] disk = { rate, duration, fsync_latency = "10ms..200ms" }`: slow-disk episodes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmDisk {
    /// How often, on average.
    pub rate: Rate,
    /// How long each episode lasts.
    pub duration: DurationRange,
    /// Fsync latency during an episode.
    pub fsync_latency: DurationRange,
}

/// The `[swarm]` table.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpec {
    /// No swarm fault starts after this. Default: the scenario's duration.
    #[serde(default, with = "duration::option")]
    pub until: Option<Duration>,
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
    /// Clock steps on random servers.
    #[serde(default)]
    pub clock: Option<SwarmClock>,
    /// Loss bursts on every link.
    #[serde(default)]
    pub loss: Option<SwarmLoss>,
    /// Slow-fsync episodes on random servers.
    #[serde(default)]
    pub disk: Option<SwarmDisk>,
}

impl SwarmSpec {
    /// The rules across fields: `(key, message)` on failure.
    pub fn validate(&self, duration: Duration) -> Result<(), (&'static str, String)> {
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
        let until = self.until.unwrap_or(duration).as_secs_f64();
        let rates = [
            ("crash", self.crash.as_ref().map(|c| c.rate)),
            ("wipe", self.wipe.as_ref().map(|c| c.rate)),
            ("partition", self.partition.as_ref().map(|p| p.rate)),
            ("clog", self.clog.as_ref().map(|c| c.rate)),
            ("pause", self.pause.as_ref().map(|p| p.rate)),
            ("clock", self.clock.as_ref().map(|c| c.rate)),
            ("loss", self.loss.as_ref().map(|l| l.rate)),
            ("disk", self.disk.as_ref().map(|d| d.rate)),
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

pub(super) fn draw_swarm(swarm: &SwarmSpec, context: &PlanContext<'_>, drafts: &mut Vec<Draft>) {
    let until = swarm.until.unwrap_or(context.duration);
    let servers = context.servers;
    let random = || Target::Random(servers.to_vec());
    let stream = |kind: u64| context.seed.stream("swarm", kind);
    let mut push = |at: Duration, fault: Fault, follows: Option<usize>| {
        drafts.push(Draft { at, fault, follows });
        drafts.len() - 1
    };
    if let Some(crash) = &swarm.crash {
        let mut rng = stream(0);
        for at in times(&crash.rate, until, &mut rng) {
            let first = push(at, Fault::Crash(random()), None);
            push(at + between(&crash.down, &mut rng), Fault::Restart(Target::SameAs(0)), Some(first));
        }
    }
    if let Some(partition) = &swarm.partition {
        let mut rng = stream(1);
        for at in times(&partition.rate, until, &mut rng) {
            let shape = *rng.pick(&partition.shapes).expect("validated: at least one shape");
            let first = push(at, Fault::Partition(shape.partition(servers)), None);
            push(at + between(&partition.duration, &mut rng), Fault::HealOne(0), Some(first));
        }
    }
    if let Some(pause) = &swarm.pause {
        let mut rng = stream(2);
        for at in times(&pause.rate, until, &mut rng) {
            let first = push(at, Fault::Pause(random()), None);
            push(at + between(&pause.duration, &mut rng), Fault::Resume(Target::SameAs(0)), Some(first));
        }
    }
    if let Some(clock) = &swarm.clock {
        let mut rng = stream(3);
        for at in times(&clock.rate, until, &mut rng) {
            let range = clock.step.0;
            let offset = rng.between(0, (range.high - range.low) as u64) as i64;
            push(at, Fault::ClockStep { node: random(), delta_nanos: range.low + offset }, None);
        }
    }
    if let Some(loss) = &swarm.loss {
        let mut rng = stream(4);
        for at in times(&loss.rate, until, &mut rng) {
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
    if let Some(clog) = &swarm.clog {
        let mut rng = stream(6);
        for at in times(&clog.rate, until, &mut rng) {
            let shape = *rng.pick(&clog.shapes).expect("validated: at least one shape");
            let first =
                push(at, Fault::Clog { partition: shape.partition(servers), reorder: clog.reorder }, None);
            push(at + between(&clog.duration, &mut rng), Fault::UnclogOne(0), Some(first));
        }
    }
    if let Some(wipe) = &swarm.wipe {
        let mut rng = stream(7);
        for at in times(&wipe.rate, until, &mut rng) {
            let first = push(at, Fault::Crash(random()), None);
            let end = at + between(&wipe.down, &mut rng);
            push(end, Fault::Wipe(Target::SameAs(0)), Some(first));
            push(end, Fault::Restart(Target::SameAs(0)), Some(first));
        }
    }
    if let Some(disk) = &swarm.disk {
        let mut rng = stream(5);
        for at in times(&disk.rate, until, &mut rng) {
            let slow = DiskChange {
                fsync_latency: Some(between(&disk.fsync_latency, &mut rng)),
                ..DiskChange::default()
            };
            let first = push(at, Fault::Disk { node: random(), change: slow }, None);
            let restore = DiskChange { fsync_latency: Some(context.fsync_latency), ..DiskChange::default() };
            let end = at + between(&disk.duration, &mut rng);
            push(end, Fault::Disk { node: Target::SameAs(0), change: restore }, Some(first));
        }
    }
}
