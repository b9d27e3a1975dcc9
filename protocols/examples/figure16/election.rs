//! Leader election timing, as in Figure 16 of the Raft paper (Ongaro and Ousterhout,
//! "In Search of an Understandable Consensus Algorithm", 2014, section 9.3).
//!
//! The paper's setup: five servers, a broadcast time of about 15 ms, a heartbeat interval of
//! half the shortest election timeout; the leader crashes at a random point within its
//! heartbeat interval, and the time measured is from the crash until the other servers hear
//! the new leader's first heartbeat. One trial here builds that cluster (raft-rs servers, no
//! clients, pre-vote and check-quorum off as in LogCabin then), waits for a leader to hold
//! office for a second, crashes it, and reports when the last surviving follower first hears
//! from its successor.

use std::time::Duration;

use sim::prelude::*;

use protocols::raft_kv::checks::RaftFact;
use protocols::raft_kv::Config;
use protocols::raft_kv::{Msg, Server};
use sim::scenario::text::Range;
use sim::scenario::DurationRange;

/// How one trial is set up.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Election timeout range.
    pub low: Duration,
    /// Its top.
    pub high: Duration,
    /// One-way message latency, uniform in this range (the paper's broadcast time, about
    /// 15 ms, is a round trip).
    pub latency: (Duration, Duration),
    /// Each fsync's latency (votes and appended entries are fsynced before they are
    /// answered).
    pub fsync: Duration,
    /// How long to wait for a new leader before giving up on the trial.
    pub give_up: Duration,
    /// raft-rs's tick: timeouts are whole numbers of it.
    pub tick: Duration,
    /// Servers tick out of step (a random phase each), as real servers' timers do.
    pub phase: bool,
}

impl Setup {
    /// The paper's setup for a timeout range, in milliseconds, with the broadcast time in
    /// the network: one-way latency 3.0–3.5 ms, instant fsync. This is the latency that
    /// fits the paper's three narrow-range figures at once (docs/systems/raft-kv.md: 150–155 ms median,
    /// 12–24 ms mean, 150–150 ms over 10 s); 6–9 ms, a 15 ms round trip, is twice as slow.
    pub fn paper(low_ms: u64, high_ms: u64) -> Setup {
        Setup {
            low: Duration::from_millis(low_ms),
            high: Duration::from_millis(high_ms),
            latency: (Duration::from_micros(3_000), Duration::from_micros(3_500)),
            fsync: Duration::ZERO,
            give_up: Duration::from_secs(60),
            tick: Duration::from_millis(1),
            phase: false,
        }
    }

    /// The same broadcast time spent mostly on the disk, as on the paper's LogCabin cluster
    /// (a server fsyncs its vote or log before it answers): one-way latency 0.1–0.3 ms,
    /// fsync 7 ms.
    pub fn paper_disk(low_ms: u64, high_ms: u64) -> Setup {
        Setup {
            latency: (Duration::from_micros(100), Duration::from_micros(300)),
            fsync: Duration::from_millis(7),
            ..Setup::paper(low_ms, high_ms)
        }
    }

    fn config(&self) -> Config {
        Config {
            tick: self.tick,
            tick_phase: self.phase,
            heartbeat: self.low / 2,
            election_timeout: DurationRange(Range { low: self.low, high: self.high }),
            pre_vote: false,
            check_quorum: false,
            compact_every: 0,
            ..Config::default()
        }
    }
}

/// How a trial ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trial {
    /// The followers heard the new leader this long after the crash.
    Elected(Duration),
    /// No new leader within `give_up`.
    GaveUp,
    /// No first leader within `give_up`, so nothing was crashed.
    NoFirstLeader,
}

const SERVERS: u32 = 5;

/// Runs one trial with `seed`.
pub fn trial(setup: &Setup, seed: u64) -> Trial {
    let (min, max) = setup.latency;
    let network = LinkModel { latency: Distribution::Uniform { min, max }, ..LinkModel::default() };
    let mut sim: Sim<Msg> = Sim::new(seed, network);
    for _ in 0..SERVERS {
        let config = setup.config();
        let node = sim.add_node(move || Server::new(config.clone(), SERVERS));
        sim.set_disk_config(
            node,
            sim::DiskConfig { fsync_latency: setup.fsync, ..sim::DiskConfig::default() },
        );
    }
    // A leader that has held office for a second.
    let deadline = setup.give_up;
    let mut settled = None;
    while sim.now() < Time::from_duration(deadline) {
        sim.run_until(sim.now() + Duration::from_millis(100));
        let leader = last_leader(&sim);
        if let Some((term, node, since)) = leader {
            if sim.now() >= since + Duration::from_secs(1) {
                settled = Some((term, node));
                break;
            }
        }
    }
    let Some((term, leader)) = settled else { return Trial::NoFirstLeader };
    // Crash it at a uniformly random point of a heartbeat interval, drawn from the seed.
    let mut rng = sim::Seed(seed).stream("figure16", 0);
    let offset = rng.below(setup.config().heartbeat.as_nanos() as u64);
    let crash_at = sim.now() + Duration::from_nanos(offset);
    sim.run_until(crash_at);
    sim.apply(Fault::Crash(Target::Node(NodeId(leader as u32))));
    let crashed = sim.now();
    let limit = crashed + setup.give_up;
    while sim.now() < limit {
        sim.run_until(sim.now() + Duration::from_millis(50));
        if let Some(heard) = all_heard(&sim, term, leader, crashed) {
            return Trial::Elected(heard - crashed);
        }
    }
    Trial::GaveUp
}

/// The latest leader: (term, node, elected at).
fn last_leader(sim: &Sim<Msg>) -> Option<(u64, u64, Time)> {
    let leaders = sim.observations().facts::<RaftFact>().filter_map(|f| match *f.what {
        RaftFact::Leader { term } => Some((term, u64::from(f.node.0), f.time)),
        _ => None,
    });
    leaders.last()
}

/// When the last surviving follower first heard from the first leader elected after
/// `crashed` in a term after `term`.
fn all_heard(sim: &Sim<Msg>, term: u64, old: u64, crashed: Time) -> Option<Time> {
    let facts = sim.observations();
    let (new_term, new_leader) = facts.facts::<RaftFact>().find_map(|f| match *f.what {
        RaftFact::Leader { term: new } if f.time >= crashed && new > term => Some((new, f.node.0)),
        _ => None,
    })?;
    let mut last = None;
    for server in (0..SERVERS).filter(|s| u64::from(*s) != old && *s != new_leader) {
        let heard = facts.facts::<RaftFact>().find(|f| {
            f.node.0 == server && *f.what == RaftFact::Heard { term: new_term, leader: new_leader }
        })?;
        last = last.max(Some(heard.time));
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crashed_leader_is_replaced_within_a_few_timeouts() {
        let setup = Setup::paper(150, 300);
        for seed in 0..5 {
            match trial(&setup, seed) {
                Trial::Elected(took) => {
                    assert!(
                        took >= Duration::from_millis(75),
                        "seed {seed}: {took:?} is under half a timeout"
                    );
                    assert!(took < Duration::from_millis(1500), "seed {seed}: {took:?}");
                }
                other => panic!("seed {seed}: {other:?}"),
            }
        }
    }

    fn elected(setup: &Setup, trials: u64) -> Vec<f64> {
        let mut took: Vec<f64> = (0..trials)
            .map(|seed| match trial(setup, seed) {
                Trial::Elected(took) => took.as_secs_f64() * 1e3,
                other => panic!("seed {seed}: {other:?}"),
            })
            .collect();
        took.sort_by(f64::total_cmp);
        took
    }

    /// The paper's narrow-range figures, over 200 trials each: 150-155 ms elects with a
    /// median within 20% of 287 ms, 12-24 ms with a mean within 20% of 35 ms, and 150-150 ms
    /// elects no leader within 10 s, not even the first: every vote splits, and a candidate's
    /// request resets every follower's timer at once, so they fire together again.
    #[test]
    fn the_paper_setup_gives_the_papers_narrow_range_figures() {
        let narrow = elected(&Setup::paper(150, 155), 200);
        let median = narrow[narrow.len() / 2];
        assert!((median - 287.0).abs() <= 0.2 * 287.0, "150-155 ms: median {median:.1} ms");
        let short = elected(&Setup::paper(12, 24), 200);
        let mean = short.iter().sum::<f64>() / short.len() as f64;
        assert!((mean - 35.0).abs() <= 0.2 * 35.0, "12-24 ms: mean {mean:.1} ms");
        let fixed = Setup { give_up: Duration::from_secs(10), ..Setup::paper(150, 150) };
        for seed in 0..10 {
            assert_eq!(trial(&fixed, seed), Trial::NoFirstLeader, "150-150 ms, seed {seed}");
        }
    }

    #[test]
    fn trials_are_deterministic() {
        let setup = Setup::paper(150, 155);
        assert_eq!(trial(&setup, 7), trial(&setup, 7));
    }
}
