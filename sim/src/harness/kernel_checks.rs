//! The kernel's own checks, in every run: the simulated disk did what the scenario asked;
//! and, in a run whose nodes report roles, `kernel.roles`: every role reported is one the
//! system declares in `System::ROLES` (a fault aimed at a role nobody can report never
//! fires, silently).
//!
//! A system passes whether or not a fault it survives really happened, so a disk whose
//! read errors never fire, whose crashes never keep a prefix, or whose budget lets damage
//! through where it should not, goes unseen by the system's checks. `kernel.disk` holds
//! each disk to its configuration, from what its [`DiskAudit`] counted:
//!
//! - each injected fault hit at the rate asked, over all the disks: none at all when at least 20 were expected
//!   (a chance of e^-20), fewer than a quarter of them when at least 100 were (Chernoff:
//!   below e^-28), or more than 6 standard deviations (plus 10) above;
//! - every hit of silent damage was either applied (the ledger's count) or refused by the
//!   damage budget, and the I/O errors the ledger shows are the error hits;
//! - a crash tears a write only while torn writes are on, and some crash tore one where
//!   the chance that none would was below 1e-9; with `crash_keeps`, crashes keep some
//!   change of the files changed since their sync (30 such files that all kept nothing:
//!   below 2^-30);
//! - a misdirected write lands on another sector of its file;
//! - a corruption's flipped bytes are recorded as damaged (the budget's per-block rule
//!   reads that record);
//! - with delayed allocation, no successful fsync leaves more durable bytes than the
//!   capacity;
//! - the bytes the disk counts as used are its live files' bytes;
//! - no more disks were damaged (wiped, torn, corrupted, or holding damage to a file that
//!   is not replicated) than `[disk] damage_budget` allows, and with no budget no damage
//!   to such a file was refused.

use crate::kernel::disk::{DiskAudit, DiskStats, Injected};
use crate::kernel::engine::Sim;
use crate::kernel::ids::{Message, NodeId};

use super::system::Check;

/// `kernel.disk` over every node's disk (see the module docs).
pub fn disk<M: Message>(sim: &Sim<M>) -> Check {
    let mut total = DiskAudit::default();
    let mut torn = 0;
    let mut problem = None;
    for node in 0..sim.node_count() {
        let node = NodeId(node as u32);
        let disk = sim.disk(node);
        let (audit, stats) = (disk.audit(), disk.stats());
        let used = (disk.used(), disk.live_bytes());
        drop(disk);
        if problem.is_none() {
            problem = disk_problem(&audit, &stats, used).map(|p| format!("{node}'s disk: {p}"));
        }
        for (sum, draws) in total.draws.iter_mut().zip(audit.draws) {
            sum.expected += draws.expected;
            sum.hits += draws.hits;
            sum.refused_unreplicated += draws.refused_unreplicated;
        }
        total.untorn_chance *= audit.untorn_chance;
        total.files_keeping += audit.files_keeping;
        total.files_kept += audit.files_kept;
        torn += stats.torn;
    }
    let problem = problem.or_else(|| fault_rates(&total, torn)).or_else(|| over_budget(sim, &total));
    Check::from("kernel.disk", problem.is_none(), || problem.expect("failing")).of_whole_run()
}

/// `kernel.roles`, if any node reported a role: each one reported is among `declared`, the
/// roles system `system` declares.
pub fn roles<M: Message>(system: &str, declared: &[&str], sim: &Sim<M>) -> Option<Check> {
    let reported = &sim.observations().roles;
    if reported.is_empty() {
        return None;
    }
    let stray = reported
        .iter()
        .find_map(|&(at, node, role)| Some((at, node, role.filter(|r| !declared.contains(r))?)));
    Some(Check::from("kernel.roles", stray.is_none(), || {
        let (at, node, role) = stray.expect("failing");
        format!(
            "{node} reported role {role:?} at {at}, which {system} does not declare (its ROLES: {})",
            if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
        )
    }))
}

/// What is wrong with one disk's accounting, if anything: `used` is the bytes it counts
/// as used and those its live files hold.
fn disk_problem(audit: &DiskAudit, stats: &DiskStats, used: (u64, u64)) -> Option<String> {
    for kind in [Injected::LostWrite, Injected::MisdirectedWrite, Injected::StaleRead] {
        let draws = audit.draws[kind as usize];
        let applied = match kind {
            Injected::LostWrite => stats.lost_writes,
            Injected::MisdirectedWrite => stats.misdirected_writes,
            _ => stats.stale_reads,
        };
        if draws.refused > draws.hits || applied != draws.hits - draws.refused {
            return Some(format!(
                "{} hit {} times, {} refused by the damage budget, but the ledger counts {applied} applied",
                kind.name(),
                draws.hits,
                draws.refused
            ));
        }
    }
    let errors: u64 = [Injected::ReadError, Injected::WriteError, Injected::FsyncError]
        .iter()
        .map(|&k| audit.draws[k as usize].hits)
        .sum();
    if stats.io_errors != errors {
        return Some(format!("{errors} injected I/O errors, but the ledger counts {}", stats.io_errors));
    }
    if stats.torn > audit.crashes_tearing {
        return Some(format!(
            "{} crashes tore a write, but torn writes were on in {}",
            stats.torn, audit.crashes_tearing
        ));
    }
    if audit.files_kept > audit.files_keeping {
        return Some(format!(
            "crashes kept changes of {} files, but only {} had some",
            audit.files_kept, audit.files_keeping
        ));
    }
    if audit.misdirected_astray > 0 {
        return Some(format!(
            "{} misdirected writes landed past their file's end or on their own sector",
            audit.misdirected_astray
        ));
    }
    if audit.corruptions_unrecorded > 0 {
        return Some(format!(
            "{} corruptions flipped bytes the disk does not record as damaged",
            audit.corruptions_unrecorded
        ));
    }
    if audit.overfull_syncs > 0 {
        return Some(format!(
            "{} fsyncs succeeded past the capacity (delayed allocation)",
            audit.overfull_syncs
        ));
    }
    if used.0 != used.1 {
        return Some(format!("{} bytes counted as used, but the live files hold {}", used.0, used.1));
    }
    None
}

/// Whether more disks were damaged than `[disk] damage_budget` allows: wiped, torn,
/// corrupted, or holding damage to a file that is not replicated (damage to replicated
/// files follows the per-block rule instead).
fn over_budget<M: Message>(sim: &Sim<M>, total: &DiskAudit) -> Option<String> {
    let Some(max) = sim.damage_budget() else {
        // No budget: nothing may refuse damage to a file that is not replicated.
        let refused: u64 = total.draws.iter().map(|d| d.refused_unreplicated).sum();
        return (refused > 0)
            .then(|| format!("{refused} hits of silent damage were refused with no damage budget"));
    };
    let damaged: Vec<NodeId> = (0..sim.node_count() as u32)
        .map(NodeId)
        .filter(|&node| {
            let disk = sim.disk(node);
            let stats = disk.stats();
            let own = disk.damaged().files().any(|name| !sim.is_replicated(name));
            own || stats.wipes + stats.torn + stats.corruptions > 0
        })
        .collect();
    (damaged.len() > max).then(|| {
        format!("{} disks were damaged ({damaged:?}), but the damage budget allows {max}", damaged.len())
    })
}

/// Whether the faults, over every disk, happened as often as asked (`total`'s draws and
/// crash outcomes; `torn`: crashes that tore a write).
fn fault_rates(total: &DiskAudit, torn: u64) -> Option<String> {
    for kind in Injected::ALL {
        let draws = total.draws[kind as usize];
        let (expected, hits) = (draws.expected, draws.hits as f64);
        // hits > expected + 6 sqrt(expected) + 10, without a square root.
        let excess = hits - expected - 10.0;
        if (expected >= 20.0 && draws.hits == 0)
            || (expected >= 100.0 && hits < expected / 4.0)
            || (excess > 0.0 && excess * excess > 36.0 * expected)
        {
            return Some(format!(
                "{} hit {} times over the disks where {expected:.1} were expected",
                kind.name(),
                draws.hits
            ));
        }
    }
    if torn == 0 && total.untorn_chance < 1e-9 {
        return Some(format!(
            "no crash tore a write, a chance of {:.1e} with torn writes on",
            total.untorn_chance
        ));
    }
    if total.files_keeping >= 30 && total.files_kept == 0 {
        return Some(format!(
            "crashes kept no change of the {} files changed since their sync (crash_keeps)",
            total.files_keeping
        ));
    }
    None
}
