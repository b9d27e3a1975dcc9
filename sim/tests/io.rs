//! Asynchronous disk I/O (`sim::kernel::io`): a submitted sync completes later, in order,
//! on the disk's own time, while the node goes on; a crash before completion loses it.

use crate::common;

use common::*;
use sim::prelude::*;
use sim::{DiskConfig, EventKind, IoId};

/// Node 0 writes a record and submits its fsync and a directory sync at start, then pings
/// node 1 at once; samples when each completion and the echo arrive (ms).
fn submitter() -> Script {
    Script::default()
        .on_start(|ctx| {
            let len = ctx.disk().len("wal").unwrap_or(0);
            ctx.sample("recovered", len);
            if ctx.incarnation() == 0 {
                ctx.disk().append("wal", b"record").unwrap();
                assert_eq!(ctx.fsync_async("wal"), IoId(1));
                assert_eq!(ctx.sync_dir_async(), IoId(2));
                ctx.send(NodeId(1), Num(1));
            }
        })
        .on_message(|ctx, _, _| {
            let now = ctx.now().as_nanos() / 1_000_000;
            ctx.sample("echo", now);
        })
        .on_io_done(|ctx, io, result| {
            let now = ctx.now().as_nanos() / 1_000_000;
            ctx.sample(if result.is_ok() { "done" } else { "failed" }, now * 10 + io.0);
        })
}

fn echo() -> Script {
    Script::default().on_message(|ctx, from, msg| ctx.send(from, msg))
}

#[test]
fn a_stuck_disk_delays_completions_not_the_node() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let node = sim.add_node(submitter().factory());
    sim.add_node(echo().factory());
    sim.set_disk_config(node, DiskConfig { fsync_latency: ms(500), ..DiskConfig::default() });
    let events = events_until(&mut sim, at_ms(2_000));
    let samples = &sim.observations().samples;
    assert_eq!(samples["echo"], vec![2], "the node answers while its disk works");
    assert_eq!(samples["done"], vec![5_001, 10_002], "in order, one after the other: 500 ms, then 1 s");
    assert_eq!(of_kind(&events, EventKind::IoDone), vec![(500, 0, None), (1_000, 0, None)]);
    assert!(sim.disk(node).is_name_durable("wal"));
}

#[test]
fn a_crash_before_completion_loses_the_sync() {
    for (crash_at, recovered) in [(400, 0), (600, 6)] {
        let mut sim = Sim::new(1, constant(ms(1)));
        let node = sim.add_node(submitter().factory());
        sim.add_node(echo().factory());
        sim.set_disk_config(node, DiskConfig { fsync_latency: ms(500), ..DiskConfig::default() });
        sim.schedule(at_ms(crash_at), Fault::Crash(node.into()));
        sim.schedule(at_ms(1_500), Fault::Restart(node.into()));
        let events = events_until(&mut sim, at_ms(3_000));
        assert_eq!(sim.observations().samples["recovered"], vec![0, recovered], "crash at {crash_at} ms");
        let completions = of_kind(&events, EventKind::IoDone).len();
        assert_eq!(completions, usize::from(crash_at > 500), "a lost sync is never reported, not even later");
    }
}

#[test]
fn a_failed_sync_reports_its_error_and_leaves_the_data_not_durable() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let node = sim.add_node(submitter().factory());
    sim.add_node(echo().factory());
    let config =
        DiskConfig { fsync_latency: ms(5), fsync_errors: Probability::ALWAYS, ..DiskConfig::default() };
    sim.set_disk_config(node, config);
    sim.run_until(at_ms(100));
    assert_eq!(sim.observations().samples["failed"], vec![51], "the fsync failed at 5 ms");
    assert_eq!(sim.observations().samples["done"], vec![102], "the directory sync did not");
    assert_eq!(sim.disk(node).read_all("wal"), Ok(b"record".to_vec()), "readable until a crash");
    sim.apply(Fault::Crash(node.into()));
    assert_eq!(
        sim.disk(node).read_all("wal"),
        Ok(Vec::new()),
        "its name survived (the directory sync), its bytes did not"
    );
}
