//! redb runs unmodified on the simulated disk: committed and synced transactions survive
//! crashes (torn writes included), unsynced ones vanish, and the run is deterministic.

use std::time::Duration;

use protocols::storage::SimFile;
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use sim::prelude::*;
use sim::DiskConfig;

const COUNTER: TableDefinition<&str, u64> = TableDefinition::new("counter");

#[derive(Clone, Debug, Hash)]
struct Nothing;
impl Message for Nothing {
    type Timer = ();
    type Kind = ();
}

/// Counts up once per tick in redb; even counts commit durably, odd ones without a sync.
struct Counter {
    db: Option<Database>,
}

impl Counter {
    fn read(db: &Database) -> u64 {
        let tx = db.begin_read().unwrap();
        match tx.open_table(COUNTER) {
            Ok(table) => table.get("n").unwrap().map_or(0, |v| v.value()),
            Err(_) => 0,
        }
    }
}

impl Node for Counter {
    type Msg = Nothing;
    fn on_start(&mut self, ctx: &mut Ctx<'_, Nothing>) {
        let db =
            Database::builder().create_with_backend(SimFile::new(ctx.disk_handle(), "state.redb")).unwrap();
        ctx.sample("recovered", Counter::read(&db));
        self.db = Some(db);
        ctx.set_timer(Duration::from_millis(10), ());
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Nothing>, _: NodeId, _: Nothing) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Nothing>, _: ()) {
        let db = self.db.as_ref().unwrap();
        let next = Counter::read(db) + 1;
        let mut tx = db.begin_write().unwrap();
        if next % 2 == 1 {
            tx.set_durability(Durability::None).unwrap();
        }
        tx.open_table(COUNTER).unwrap().insert("n", next).unwrap();
        tx.commit().unwrap();
        ctx.sample("committed", next);
        ctx.set_timer(Duration::from_millis(10), ());
    }
}

fn run(seed: u64, torn: bool) -> (Sim<Nothing>, Vec<u64>) {
    let mut sim = Sim::new(seed, LinkModel::default());
    let node = sim.add_node(|| Counter { db: None });
    let config =
        DiskConfig { torn_writes: torn, fsync_latency: Duration::from_millis(1), ..DiskConfig::default() };
    sim.set_disk_config(node, config);
    let at = |ms| Time::from_duration(Duration::from_millis(ms));
    // Ticks at 10, 20, ... ms (each fsync takes 1 ms, so ticks drift later).
    sim.schedule(at(55), Fault::Crash(node.into()));
    sim.schedule(at(60), Fault::Restart(node.into()));
    sim.schedule(at(125), Fault::Crash(node.into()));
    sim.schedule(at(130), Fault::Restart(node.into()));
    sim.run_until(at(200));
    let recovered = sim.observations().samples["recovered"].clone();
    (sim, recovered)
}

#[test]
fn synced_commits_survive_crashes_and_unsynced_ones_vanish() {
    for torn in [false, true] {
        let (sim, recovered) = run(1, torn);
        let committed = &sim.observations().samples["committed"];
        assert_eq!(recovered.len(), 3, "three starts");
        assert_eq!(recovered[0], 0);
        for &value in &recovered[1..] {
            assert!(
                value % 2 == 0 && value > 0,
                "torn={torn}: recovered {value}: only synced (even) commits survive"
            );
        }
        // The first crash comes after commits 1..=4 (the 4th synced) and before the 5th.
        assert_eq!(recovered[1], 4, "torn={torn}: committed {committed:?}");
        assert!(
            committed.windows(2).all(|w| w[1] == w[0] + 1 || w[1] <= w[0]),
            "counts continue from the recovery"
        );
    }
}

#[test]
fn a_redb_run_is_deterministic() {
    for torn in [false, true] {
        let (a, _) = run(7, torn);
        let (b, _) = run(7, torn);
        assert_eq!(a.trace_hash(), b.trace_hash());
        assert_eq!(
            a.disk(NodeId(0)).read_all("state.redb").unwrap(),
            b.disk(NodeId(0)).read_all("state.redb").unwrap()
        );
    }
}
