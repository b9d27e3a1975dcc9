//! Planning: explicit faults expanded (a crash with `restart_after` becomes two faults), the
//! swarm drawn, the system's own faults (churn) added, and all merged by time into the one
//! list the run schedules, in order, so each fault's index (and with it its random streams
//! and what `{ fault = N }` and `restart_after` point at) is fixed by the scenario and seed
//! alone. Nothing else schedules faults in a scenario run.

use std::time::Duration;

use super::faults::{FaultAction, FaultSpec};
use super::shapes::{PartitionSpec, TargetSpec};
use super::swarm::{draw_swarm, SwarmDraw, SwarmSpec};
use crate::kernel::disk::DiskConfig;
use crate::kernel::fault::{Fault, Target};
use crate::kernel::ids::NodeId;
use crate::kernel::network::LinkModel;
use crate::kernel::rng::Probability;
use crate::kernel::rng::Seed;
use crate::kernel::time::Time;

/// A fault at its time, ready for `Sim::schedule` in list order.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// When.
    pub at: Time,
    /// What.
    pub fault: Fault,
}

/// One entry before sorting: `follows` names the entry whose node this one targets.
pub(super) struct Draft {
    pub(super) at: Duration,
    pub(super) fault: Fault,
    pub(super) follows: Option<usize>,
}

/// What planning needs to know about the run.
pub struct PlanContext<'a> {
    /// The server nodes (node faults and shapes range over them).
    pub servers: &'a [NodeId],
    /// The `[network]` default, for loss bursts and restores.
    pub network: &'a LinkModel,
    /// The workload's client nodes (client faults range over them).
    pub clients: &'a [NodeId],
    /// The `[disk]` configuration, for the end of bad-disk episodes.
    pub disk: &'a DiskConfig,
    /// The scenario's duration.
    pub duration: Duration,
    /// The run's seed.
    pub seed: Seed,
    /// The names of the scenario's `[versions]`, in order: version `i + 1` is `versions[i]`
    /// (0 is `"base"`).
    pub versions: &'a [String],
}

impl PlanContext<'_> {
    /// The number of version `name` (validated: "base" or a `[versions]` name): 0 for base.
    pub fn version(&self, name: &str) -> u32 {
        self.versions.iter().position(|v| v == name).map_or(0, |i| i as u32 + 1)
    }
}

/// The schedule: explicit faults expanded, the swarm drawn, the system's faults, merged by
/// time (ties keep explicit faults first, in file order, then the swarm's, then the
/// system's), with follow-up faults (`restart_after`, ...)
/// pointing at the index of the fault they follow; and what the swarm drew for this seed.
pub fn plan(
    explicit: &[FaultSpec],
    swarm: Option<&SwarmSpec>,
    system: Vec<(Time, Fault)>,
    context: &PlanContext<'_>,
) -> (Vec<Planned>, SwarmDraw) {
    let mut drafts = Vec::new();
    for spec in explicit {
        expand(spec, context, &mut drafts);
    }
    let draw = swarm.map(|swarm| draw_swarm(swarm, context, &mut drafts)).unwrap_or_default();
    for (at, fault) in system {
        drafts.push(Draft { at: at.since_start(), fault, follows: None });
    }
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&i| drafts[i].at); // stable: ties keep insertion order
    let mut index_of = vec![0u64; drafts.len()];
    for (index, &draft) in order.iter().enumerate() {
        index_of[draft] = index as u64;
    }
    let planned = order
        .into_iter()
        .map(|i| {
            let draft = &drafts[i];
            let fault = match draft.follows {
                Some(first) => retarget(draft.fault.clone(), Target::SameAs(index_of[first])),
                None => draft.fault.clone(),
            };
            Planned { at: Time::from_duration(draft.at), fault }
        })
        .collect();
    (planned, draw)
}

/// A follow-up pointed at the fault it follows: a restart at the crashed node, a heal at
/// its partition.
fn retarget(fault: Fault, target: Target) -> Fault {
    match (fault, &target) {
        (Fault::HealOne(_), Target::SameAs(index)) => Fault::HealOne(*index),
        (Fault::UnclogOne(_), Target::SameAs(index)) => Fault::UnclogOne(*index),
        (Fault::LinksRestore(_), Target::SameAs(index)) => Fault::LinksRestore(*index),
        (fault, _) => retarget_node(fault, target),
    }
}

fn retarget_node(fault: Fault, target: Target) -> Fault {
    match fault {
        Fault::Restart(_) => Fault::Restart(target),
        Fault::Wipe(_) => Fault::Wipe(target),
        Fault::Resume(_) => Fault::Resume(target),
        Fault::Disk { change, .. } => Fault::Disk { node: target, change },
        Fault::ClockStep { delta_nanos, .. } => Fault::ClockStep { node: target, delta_nanos },
        Fault::ClockDrift { ppm, .. } => Fault::ClockDrift { node: target, ppm },
        Fault::Slow { per_event, .. } => Fault::Slow { node: target, per_event },
        other => other,
    }
}

fn expand(spec: &FaultSpec, context: &PlanContext<'_>, drafts: &mut Vec<Draft>) {
    let servers = context.servers;
    let mut push = |at: Duration, fault: Fault, follows: Option<usize>| {
        drafts.push(Draft { at, fault, follows });
        drafts.len() - 1
    };
    let at = spec.at;
    let after = spec.action.after().map(|after| at + after);
    match &spec.action {
        FaultAction::Partition { partition, .. } => {
            let fault = match partition {
                PartitionSpec::Isolate(target @ (TargetSpec::Role(_) | TargetSpec::SameAs(_))) => {
                    Fault::Isolate { node: target.target(servers), among: servers.to_vec() }
                }
                _ => Fault::Partition(partition.partition(servers)),
            };
            let partition = push(at, fault, None);
            if let Some(end) = after {
                push(end, Fault::HealOne(0), Some(partition));
            }
        }
        FaultAction::Heal { partition: None } => {
            push(at, Fault::Heal, None);
        }
        FaultAction::Heal { partition: Some(index) } => {
            push(at, Fault::HealOne(*index), None);
        }
        FaultAction::Clog { partition, reorder, .. } => {
            let clog =
                push(at, Fault::Clog { partition: partition.partition(servers), reorder: *reorder }, None);
            if let Some(end) = after {
                push(end, Fault::UnclogOne(0), Some(clog));
            }
        }
        FaultAction::Unclog { clog: None } => {
            push(at, Fault::Unclog, None);
        }
        FaultAction::Unclog { clog: Some(index) } => {
            push(at, Fault::UnclogOne(*index), None);
        }
        FaultAction::Crash { node, wiped, .. } => {
            let crash = push(at, Fault::Crash(node.target(servers)), None);
            if let Some(end) = after {
                if *wiped {
                    push(end, Fault::Wipe(Target::SameAs(0)), Some(crash));
                }
                push(end, Fault::Restart(Target::SameAs(0)), Some(crash));
            }
        }
        FaultAction::Slow { node, per_event, .. } => {
            let slow = push(at, Fault::Slow { node: node.target(servers), per_event: *per_event }, None);
            if let Some(end) = after {
                push(end, Fault::Slow { node: Target::SameAs(0), per_event: Duration::ZERO }, Some(slow));
            }
        }
        FaultAction::Wipe { node } => {
            push(at, Fault::Wipe(node.target(servers)), None);
        }
        FaultAction::Version { node, to } => {
            let version = context.version(to);
            push(at, Fault::Version { node: node.target(servers), version, name: to.clone() }, None);
        }
        FaultAction::Restart { node } => {
            push(at, Fault::Restart(node.target(servers)), None);
        }
        FaultAction::Pause { node, .. } => {
            let pause = push(at, Fault::Pause(node.target(servers)), None);
            if let Some(end) = after {
                push(end, Fault::Resume(Target::SameAs(0)), Some(pause));
            }
        }
        FaultAction::Resume { node } => {
            push(at, Fault::Resume(node.target(servers)), None);
        }
        FaultAction::ClockStep { node, step } => {
            push(at, Fault::ClockStep { node: node.target(servers), delta_nanos: *step }, None);
        }
        FaultAction::ClockDrift { node, ppm } => {
            push(at, Fault::ClockDrift { node: node.target(servers), ppm: *ppm }, None);
        }
        FaultAction::Corrupt { node, file, offset, len } => {
            let fault =
                Fault::Corrupt { node: node.target(servers), file: file.clone(), offset: *offset, len: *len };
            push(at, fault, None);
        }
        FaultAction::Disk { node, change } => {
            push(at, Fault::Disk { node: node.target(servers), change: change.clone() }, None);
        }
        FaultAction::Link { from, to, change, .. } => {
            let ids = |nodes: &[u32]| nodes.iter().copied().map(NodeId).collect();
            let fault = Fault::Links { from: ids(from), to: ids(to), model: change.apply(context.network) };
            let link = push(at, fault, None);
            if let Some(end) = after {
                push(end, Fault::LinksRestore(0), Some(link));
            }
        }
        FaultAction::LinkRestore { fault } => {
            push(at, Fault::LinksRestore(*fault), None);
        }
        FaultAction::Replay { chance, delay, .. } => {
            let replay = Fault::Replay { chance: *chance, delay_min: delay.0.low, delay_max: delay.0.high };
            push(at, replay, None);
            if let Some(end) = after {
                let stop = Fault::Replay {
                    chance: Probability::NEVER,
                    delay_min: Duration::ZERO,
                    delay_max: Duration::ZERO,
                };
                push(end, stop, None);
            }
        }
        FaultAction::Network { change, .. } => {
            push(at, Fault::Network(change.apply(context.network)), None);
            if let Some(end) = after {
                push(end, Fault::Network(context.network.clone()), None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_up_points_at_its_fault_among_the_systems_faults() {
        let crash = FaultSpec {
            at: Duration::from_secs(3),
            action: FaultAction::Crash {
                node: TargetSpec::Node(crate::scenario::NodeRef::Server(1)),
                restart_after: Some(Duration::from_secs(2)),
                wiped: false,
            },
        };
        let servers: Vec<NodeId> = (0..4).map(NodeId).collect();
        let context = PlanContext {
            servers: &servers,
            network: &LinkModel::default(),
            clients: &[],
            disk: &DiskConfig::default(),
            duration: Duration::from_secs(10),
            seed: Seed(1),
            versions: &[],
        };
        let at = |s| Time::from_duration(Duration::from_secs(s));
        let churn = vec![
            (at(1), Fault::Crash(Target::Node(NodeId(3)))),
            (at(2), Fault::Crash(Target::Node(NodeId(2)))),
            (at(4), Fault::Restart(Target::Node(NodeId(3)))),
        ];
        let (planned, _) = plan(&[crash], None, churn, &context);
        let faults: Vec<&Fault> = planned.iter().map(|p| &p.fault).collect();
        assert_eq!(faults[2], &Fault::Crash(Target::Node(NodeId(1))), "{faults:?}");
        assert_eq!(planned[4].at, at(5));
        assert_eq!(faults[4], &Fault::Restart(Target::SameAs(2)), "the restart follows the crash at index 2");
    }
}
