//! Using `sim` as a library: a protocol of our own, checked under faults from `cargo test`.
//!
//! A sender streams numbered entries to a receiver over a lossy, duplicating, reordering
//! network. The receiver appends each next entry to a log on its disk, fsyncs it, and acks
//! how many entries it holds; the sender retransmits what is not acked. The property: every
//! entry the sender saw acknowledged is on the receiver's disk, exactly once and in order,
//! whatever the network and crashes did, and the stream completes once faults heal.
//!
//! `Receiver::lazy_fsync` plants a bug: it acks entries before they are fsynced. A crash
//! then loses acknowledged entries, and the check must catch it.
//!
//! Run it: `cargo run -p sim --example reliable_delivery` (prints a line per seed).
//! Test it: `cargo test -p sim --example reliable_delivery`.

use std::time::Duration;

use sim::prelude::*;

const TOTAL: u64 = 200;
const WINDOW: u64 = 8;
const LOG: &str = "log";

#[derive(Clone, Copy, Debug, Hash)]
enum Msg {
    Entry { index: u64 },
    Ack { upto: u64 },
}

impl Message for Msg {
    type Timer = ();
    type Kind = ();
}

const SENDER: NodeId = NodeId(0);
const RECEIVER: NodeId = NodeId(1);

struct Sender {
    acked: u64,
}

impl Sender {
    fn send_window(&self, ctx: &mut Ctx<'_, Msg>) {
        for index in self.acked..(self.acked + WINDOW).min(TOTAL) {
            ctx.send(RECEIVER, Msg::Entry { index });
        }
    }
}

impl Node for Sender {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.send_window(ctx);
        ctx.set_timer(Duration::from_millis(50), ());
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _from: NodeId, msg: Msg) {
        if let Msg::Ack { upto } = msg {
            if upto > self.acked {
                self.acked = upto;
                ctx.sample("acked", upto);
                self.send_window(ctx);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: ()) {
        if self.acked < TOTAL {
            self.send_window(ctx); // retransmit
            ctx.set_timer(Duration::from_millis(50), ());
        }
    }
}

struct Receiver {
    stored: u64,
    lazy_fsync: bool,
}

impl Node for Receiver {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        // Recover from the durable log only: the previous value's memory is gone.
        self.stored = ctx.disk().len(LOG).unwrap_or(0) / 8;
        ctx.sometimes("recovered a non-empty log", self.stored > 0);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let Msg::Entry { index } = msg else { return };
        if index == self.stored {
            ctx.disk().append(LOG, &index.to_le_bytes()).expect("disk has room");
            if !self.lazy_fsync || index % 4 == 3 {
                ctx.disk().fsync(LOG).expect("log exists");
            }
            self.stored += 1;
        }
        ctx.send(from, Msg::Ack { upto: self.stored });
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Msg>, _timer: ()) {}
}

/// One run under faults; `Err` says which property broke.
fn check(seed: u64, lazy_fsync: bool) -> Result<(), String> {
    let network = LinkModel {
        latency: Distribution::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(30) },
        loss: Probability::new(0.2).unwrap(),
        duplicate: Probability::new(0.1).unwrap(),
        ..LinkModel::default()
    };
    let mut sim = Sim::new(seed, network);
    sim.add_node(|| Sender { acked: 0 });
    sim.add_node(move || Receiver { stored: 0, lazy_fsync });
    let at = |ms: u64| Time::from_duration(Duration::from_millis(ms));
    sim.schedule(at(300), Fault::Partition(Partition::Groups(vec![vec![SENDER], vec![RECEIVER]])));
    sim.schedule(at(600), Fault::Heal);
    sim.schedule(at(900 + seed % 200), Fault::Crash(RECEIVER.into()));
    sim.schedule(at(1_200), Fault::Restart(RECEIVER.into()));
    sim.schedule(at(1_400), Fault::Pause(SENDER.into()));
    sim.schedule(at(1_700), Fault::Resume(SENDER.into()));
    sim.run(Limits::duration(Duration::from_secs(30)));

    let log = sim.disk(RECEIVER).read_all(LOG).unwrap_or_default();
    let durable: Vec<u64> =
        log.chunks_exact(8).map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap())).collect();
    if durable != (0..durable.len() as u64).collect::<Vec<_>>() {
        return Err(format!("seed {seed}: log is not 0, 1, 2, ... in order: {durable:?}"));
    }
    let acked = sim.observations().samples.get("acked").and_then(|s| s.iter().max()).copied().unwrap_or(0);
    if acked > durable.len() as u64 {
        return Err(format!("seed {seed}: {acked} entries acknowledged but only {} durable", durable.len()));
    }
    if acked < TOTAL {
        return Err(format!("seed {seed}: stream stalled at {acked} of {TOTAL} after faults healed"));
    }
    Ok(())
}

fn main() {
    for seed in 0..10 {
        let verdict = check(seed, false).map_or_else(|e| format!("FAIL {e}"), |()| "ok".to_owned());
        let canary = check(seed, true).map_or_else(|e| format!("caught: {e}"), |()| "not caught".to_owned());
        println!("seed {seed}: correct receiver {verdict}; lazy-fsync receiver {canary}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correct_receiver_survives_faults() {
        for seed in 0..20 {
            check(seed, false).unwrap();
        }
    }

    #[test]
    fn acking_before_fsync_is_caught() {
        let caught = (0..20).filter(|&seed| check(seed, true).is_err()).count();
        assert!(caught >= 10, "the planted bug was caught in only {caught} of 20 seeds");
    }
}
