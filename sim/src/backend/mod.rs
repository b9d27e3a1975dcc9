//! Backends: who owns time and the network while a scenario runs.
//!
//! The native engine (the default) is simctl's own discrete-event loop. The other backends
//! hand time and the network to another simulator, madsim or turmoil: each node runs in a
//! task of its own on that simulator, its messages cross that simulator's network as bytes
//! (`Wire`), its timers are that simulator's sleeps, and crashes, restarts, partitions and
//! loss are that simulator's. The node code, the workload, the disks, the checks and the
//! reports are the same for every backend (`Sim::host` in the engine says how).
//!
//! What each backend can express is checked before the run ([`check`]): a scenario asking
//! for something a backend does not have is refused with an error naming it, or mapped to
//! the closest thing the backend has, with a note in the report saying so.

use std::fmt;
use std::time::Duration;

use crate::kernel::dist::Distribution;
use crate::kernel::fault::Fault;
use crate::kernel::ids::Message;
use crate::kernel::network::LinkModel;
use crate::kernel::partition::Partition;
use crate::kernel::rng::Seed;
use crate::Sim;

#[cfg(all(feature = "madsim", madsim))]
pub mod madsim;
#[cfg(any(feature = "turmoil", all(feature = "madsim", madsim)))]
mod task;
#[cfg(feature = "turmoil")]
pub mod turmoil;

/// Which simulator runs a scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// simctl's own engine.
    #[default]
    Native,
    /// madsim (a build with `--cfg madsim` and the `madsim` feature).
    Madsim,
    /// turmoil (a build with the `turmoil` feature).
    Turmoil,
}

impl Backend {
    /// Every backend, in the order the CLI lists them.
    pub const ALL: [Backend; 3] = [Backend::Native, Backend::Madsim, Backend::Turmoil];

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Madsim => "madsim",
            Backend::Turmoil => "turmoil",
        }
    }

    /// Whether this build of simctl can run it; if not, the command that builds one that can.
    pub fn available(self) -> Result<(), &'static str> {
        match self {
            Backend::Native => Ok(()),
            Backend::Turmoil if cfg!(feature = "turmoil") => Ok(()),
            Backend::Turmoil => Err("this simctl was built without the turmoil backend; run it with \
                 `cargo run --release --features turmoil -- run FILE --seed N --backend turmoil`"),
            Backend::Madsim if cfg!(all(feature = "madsim", madsim)) => Ok(()),
            Backend::Madsim => Err("madsim simulates only in a build under `--cfg madsim`; run it with \
                 `cargo madsim run FILE --seed N --backend madsim` (the alias in .cargo/config.toml \
                 builds simctl that way in target/madsim)"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(text: &str) -> Result<Backend, String> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == text)
            .ok_or_else(|| format!("unknown backend {text:?}: expected native, madsim or turmoil"))
    }
}

/// A link model as a hosted backend draws it: a latency range and a loss rate.
#[derive(Clone, Debug, PartialEq)]
pub struct HostedLink {
    /// The smallest latency.
    pub min: Duration,
    /// The largest latency.
    pub max: Duration,
    /// The mean latency (turmoil shapes its curve to it).
    pub mean: Duration,
    /// Probability that a message is lost.
    pub loss: f64,
}

/// What a backend cannot express about a scenario (`Err`), or how it maps what it has no
/// exact equivalent for (the notes, for the report).
pub struct Plan {
    /// How each link is drawn at the start.
    pub link: HostedLink,
    /// What was mapped rather than taken as it is, one line each.
    pub notes: Vec<String>,
}

/// Checks that `backend` can run `sim` as built (its network, its scheduled faults), before
/// anything runs. `Err` names what it cannot express.
pub fn check<M: Message>(sim: &Sim<M>, backend: Backend) -> Result<Plan, String> {
    backend.available().map_err(str::to_owned)?;
    let mut notes = Vec::new();
    let model = sim.network().uniform_model().map_err(|why| {
        format!("{backend} has one network model for every link; this scenario sets {why}, which it cannot express")
    })?;
    let link = map_link(model, backend, &mut notes)?;
    if sim.network().uses_connections() {
        return Err(format!(
            "this system talks over connections (ordered, reliable streams that cuts and crashes break), \
             which are simctl's network's, and {backend}'s network carries the messages: use the native engine"
        ));
    }
    for fault in sim.scheduled_faults() {
        match fault {
            Fault::Pause(_) | Fault::Resume(_) if backend == Backend::Turmoil => {
                return Err("turmoil cannot pause a host (it has crash and bounce, hold and release for \
                     links, but no pause): remove the pause and resume faults, or use madsim or native"
                    .into())
            }
            Fault::Links { .. } | Fault::LinksRestore(_) => {
                return Err(format!(
                    "{backend} has one network model for every link; a link fault changes some links' own"
                ))
            }
            Fault::Clog { reorder: true, .. } if backend == Backend::Turmoil => {
                return Err("turmoil's release delivers held messages in order: a clog with reorder needs \
                     the native engine"
                    .into())
            }
            Fault::Clog { partition, .. } if backend == Backend::Turmoil => {
                if matches!(partition, Partition::OneWay { .. } | Partition::Cuts(_)) {
                    note(&mut notes, "turmoil's hold is both ways: a one-way clog holds the way back too".into());
                }
                note(&mut notes, "clogs are turmoil's hold and release".into());
            }
            Fault::Unclog | Fault::UnclogOne(_) if backend == Backend::Turmoil => {}
            Fault::Clog { .. } | Fault::Unclog | Fault::UnclogOne(_) | Fault::Replay { .. } => {
                return Err(format!(
                    "clogs and replayed packets are simctl's network's, and {backend}'s network carries the \
                     messages: remove the clog and replay faults, or use the native engine (turmoil runs \
                     clogs that keep order)"
                ))
            }
            Fault::Network(model) => {
                map_link(model, backend, &mut notes)
                    .map_err(|why| format!("a network fault's model: {why}"))?;
            }
            Fault::ClockStep { .. } | Fault::ClockDrift { .. } => note(
                &mut notes,
                format!(
                    "clock faults are applied by simctl's clock layer: the node reads {backend}'s time through it"
                ),
            ),
            Fault::Slow { .. } => note(
                &mut notes,
                format!("slow nodes are simctl's: a handler's cost keeps the node busy on {backend} as a slow fsync does"),
            ),
            Fault::Corrupt { .. } | Fault::Disk { .. } | Fault::Wipe(_) => note(
                &mut notes,
                "disk faults are simctl's: nodes keep simctl's simulated disk on every backend".into(),
            ),
            _ => {}
        }
    }
    Ok(Plan { link, notes })
}

fn note(notes: &mut Vec<String>, line: String) {
    if !notes.contains(&line) {
        notes.push(line);
    }
}

/// A link model as `backend` draws it, or why it cannot.
pub(crate) fn map_link(
    model: &LinkModel,
    backend: Backend,
    notes: &mut Vec<String>,
) -> Result<HostedLink, String> {
    if model.duplicate.as_f64() > 0.0 {
        return Err(format!(
            "[network] duplicate = {}: {backend}'s network never duplicates a message",
            model.duplicate.as_f64()
        ));
    }
    if let Some(bandwidth) = model.bandwidth {
        return Err(format!("[network] bandwidth = {bandwidth}: {backend}'s network has no bandwidth limit"));
    }
    if model.fifo {
        return Err(format!("[network] fifo = true: {backend}'s datagrams are not delivered in send order"));
    }
    let (min, max, mean) = match &model.latency {
        Distribution::Constant(c) => (*c, *c, *c),
        Distribution::Uniform { min, max } => (*min, *max, (*min + *max) / 2),
        other => {
            let (low, high, mean) = quantiles(other);
            note(
                notes,
                format!(
                    "latency {other:?} has no equivalent on {backend}: drawn from {low:?}..{high:?} (its 1st to 99th percentile)"
                ),
            );
            (low, high, mean)
        }
    };
    if backend == Backend::Turmoil && min != max {
        note(
            notes,
            "turmoil draws latency from an exponential curve between its min and max, in whole milliseconds, \
             not as the scenario says: the curve is set so that the mean latency is the scenario's"
                .into(),
        );
    }
    if backend == Backend::Turmoil && model.loss.as_f64() > 0.0 {
        note(
            notes,
            "turmoil loses a message by failing its link (repaired at the next message): the messages \
             in flight on that link are lost with it"
                .into(),
        );
    }
    if backend == Backend::Madsim {
        note(
            notes,
            "madsim's endpoints add at least 2 ms to every message (a sleep of at least 1 ms at send and at \
             receive): simctl takes 2 ms off the latency range it gives madsim, down to zero"
                .into(),
        );
    }
    Ok(HostedLink { min, max, mean, loss: model.loss.as_f64() })
}

/// The 1st and 99th percentiles of a distribution, and its mean between them, from 10,000
/// draws of a fixed stream.
fn quantiles(latency: &Distribution) -> (Duration, Duration, Duration) {
    let mut rng = Seed(0).stream("backend-latency", 0);
    let mut draws: Vec<u64> = (0..10_000).map(|_| latency.sample_nanos(&mut rng)).collect();
    draws.sort_unstable();
    let (low, high) = (draws[100], draws[9_899]);
    let mean = draws.iter().map(|d| u128::from((*d).clamp(low, high))).sum::<u128>() / draws.len() as u128;
    (Duration::from_nanos(low), Duration::from_nanos(high), Duration::from_nanos(mean as u64))
}

/// turmoil draws a latency as `min + (max - min) * min(X, 1)` with `X ~ Exp(rate)`; the
/// rate whose mean `E[min(X, 1)] = (1 - e^-rate) / rate` puts the mean latency at `mean`.
#[cfg_attr(not(feature = "turmoil"), allow(dead_code))]
pub(crate) fn turmoil_curve(link: &HostedLink) -> Option<f64> {
    let span = link.max.saturating_sub(link.min).as_secs_f64();
    if span <= 0.0 {
        return None;
    }
    let target = (link.mean.saturating_sub(link.min).as_secs_f64() / span).clamp(0.001, 0.999);
    let mean_of = |rate: f64| (1.0 - libm::exp(-rate)) / rate;
    // The mean falls from 1 (rate -> 0) to 0 (rate -> infinity): bisect on a log scale.
    let (mut low, mut high) = (1e-6_f64, 1e4_f64);
    for _ in 0..100 {
        let mid = libm::sqrt(low * high);
        if mean_of(mid) > target {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(libm::sqrt(low * high))
}

/// Runs `sim` (built, not started) on `backend` until `until` with `plan` (from [`check`]);
/// `tick` is turmoil's step. Afterwards `sim` holds the run, to be judged like a native one.
/// A protocol panic inside the backend unwinds out of here, with `sim` holding what ran.
#[cfg(any(feature = "turmoil", all(feature = "madsim", madsim)))]
pub fn drive<M: Message + crate::kernel::wire::Wire>(
    sim: &mut Sim<M>,
    backend: Backend,
    plan: &Plan,
    until: crate::kernel::time::Time,
    tick: Duration,
    seed: u64,
) {
    use std::panic::{self, AssertUnwindSafe};
    #[cfg(not(feature = "turmoil"))]
    let _ = tick; // turmoil's step: unused in a build without turmoil
    sim.host();
    let shared = task::Shared::new(std::mem::replace(sim, Sim::new(seed, LinkModel::default())));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match backend {
        #[cfg(feature = "turmoil")]
        Backend::Turmoil => turmoil::run(&shared, plan, until, tick, seed),
        #[cfg(all(feature = "madsim", madsim))]
        Backend::Madsim => madsim::run(&shared, plan, until, seed),
        other => Err(format!("{other} is not a hosted backend of this build")),
    }));
    *sim = shared.into_sim();
    match outcome {
        Ok(Ok(())) => sim.hosted_finish(until),
        Ok(Err(why)) => panic::resume_unwind(Box::new(why)),
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Without a hosted backend in the build, [`check`] refuses every one before this is reached.
#[cfg(not(any(feature = "turmoil", all(feature = "madsim", madsim))))]
pub fn drive<M: Message>(
    _sim: &mut Sim<M>,
    backend: Backend,
    _plan: &Plan,
    _until: crate::kernel::time::Time,
    _tick: Duration,
    _seed: u64,
) {
    unreachable!("{backend} is not in this build: `check` refuses it before the run");
}
