//! Kademlia's checks and result tables, from the operations and the facts nodes state
//! ([`KadFact`]).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use sim::harness::system::Check;
use sim::kernel::workload::{OpRecord, Outcome};
use sim::report::{histogram, Cell, Table};
use sim::scenario::Scenario;
use sim::{Fault, NodeId, Sim, Target};

use super::config::Config;
use super::msg::Msg;
use super::table::Population;
use super::{Setup, BOOTSTRAP};

/// What Kademlia's nodes state for the checks and tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KadFact {
    /// What a provide or retrieval (operation `op`) cost.
    Op {
        /// The operation's id.
        op: u64,
        /// Sequential requests of its walk.
        hops: u32,
        /// Requests sent in all.
        requests: u32,
        /// The routing table it walked from (the crawl's, for the accelerated client).
        table: u64,
    },
    /// A lookup that ran to upstream's termination.
    Lookup {
        /// The deepest request its walk sent.
        hops: u32,
        /// The hop at which the last of the k closest peers it queried was first heard of.
        hops_seen: u32,
    },
    /// An optimistic provide's network-size estimate (none yet: the classic provide runs).
    NetSize {
        /// The estimate, rounded.
        estimate: Option<u64>,
        /// The true number of reachable servers.
        reachable: u32,
    },
    /// An optimistic provide with a network-size estimate, when it returned.
    Optimistic {
        /// The set threshold stopped its walk before the walk terminated.
        stopped_early: bool,
        /// Stores sent during the walk, to peers below the individual threshold.
        at_once: u32,
        /// Stores sent in all.
        stores: u32,
        /// Stores finished (answered or failed) when it returned.
        finished: u32,
        /// Of the `k` reachable servers closest to the key, how many it stores on.
        closest: u32,
    },
    /// A DHT server's routing table at the warmup's end.
    Table {
        /// Peers in it.
        size: u64,
        /// Buckets holding k peers.
        full_buckets: u64,
        /// Of the k peers nearest to it, how many it holds.
        nearest_held: u64,
        /// 100 x the buckets' spread (`Table::spread`).
        spread_percent: u64,
        /// Buckets a refresh looks into that are empty although `k` reachable servers belong
        /// in each (`Table::empty_buckets`); 0 while its table is not settled.
        empty_buckets: u64,
    },
}

/// Every fact of `sim` as `KadFact`s.
fn facts(sim: &Sim<Msg>) -> impl Iterator<Item = sim::kernel::observe::Fact<'_, KadFact>> {
    sim.observations().facts::<KadFact>()
}

/// What one provide or retrieval cost.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    hops: u64,
    rpcs: u64,
    table: u64,
}

fn costs(sim: &Sim<Msg>) -> BTreeMap<u64, Cost> {
    facts(sim)
        .filter_map(|f| match *f.what {
            KadFact::Op { op, hops, requests, table } => {
                Some((op, Cost { hops: u64::from(hops), rpcs: u64::from(requests), table }))
            }
            _ => None,
        })
        .collect()
}

/// Whether nothing in the scenario can make a lookup fail.
fn fault_free(scenario: &Scenario<Config>) -> bool {
    scenario.faults.is_empty()
        && scenario.swarm.is_none()
        && scenario.settings.unreachable == 0.0
        && scenario.settings.churn.as_ref().is_none_or(|c| c.leave_per_hour == 0.0)
        && scenario.network.link_model().loss.is_never()
}

/// `provide.default` → ("provide", "default").
fn split(f: &str) -> (&str, &str) {
    f.split_once('.').unwrap_or((f, ""))
}

pub(super) fn checks(scenario: &Scenario<Config>, setup: &Setup, sim: &Sim<Msg>) -> Vec<Check> {
    let population = &setup.population;
    let mut checks = vec![population_check(scenario, setup)];
    let name = "kademlia.retrievable";
    if fault_free(scenario) {
        // An operation that failed refutes it on any prefix; one still running only at the end.
        let failed = sim
            .operations()
            .iter()
            .find(|r| matches!(r.completed, Some((_, ref o)) if !matches!(o, Outcome::Ok(_))));
        let running = sim.operations().iter().find(|r| r.completed.is_none());
        let check = match failed.map(|r| (r, false)).or(running.map(|r| (r, true))) {
            None => Check::pass(name).of_whole_run(),
            Some((r, whole_run)) => {
                let what = match &r.completed {
                    None => "was still running at the end of the run".to_owned(),
                    Some((at, outcome)) => format!("ended {outcome:?} at {at}"),
                };
                let check = Check::fail(
                    name,
                    format!(
                        "with no faults every provide and retrieval must succeed; {} #{} (provide {}) by n{} {what}",
                        r.op.f, r.op.id, r.op.key, r.client.0
                    ),
                );
                if whole_run {
                    check.of_whole_run()
                } else {
                    check
                }
            }
        };
        checks.push(check);
    } else {
        checks.push(Check::skipped(
            name,
            "faults, churn, loss or unreachable servers: failures are expected; see min_success",
        ));
    }
    checks.push(buckets_filled(sim));
    if let Some(check) = netsize(population, sim) {
        checks.push(check);
    }
    checks.extend(optimistic_check(scenario.settings.k, sim));
    // An operation still running `hung` after it began counts as failed: a lookup's walk
    // waits at most one read timeout per hop (8 hops is more than any walk here takes) and
    // a provide's puts one put timeout, so it has hung. One begun later may just not have
    // finished yet when the run ends. From the scenario's own timeouts (110 s by default).
    let hung = scenario.settings.read_timeout * 8 + scenario.settings.put_timeout;
    let is_hung = |r: &OpRecord| {
        r.completed.is_none() && r.invoked.is_some_and(|at| sim.now().saturating_since(at) >= hung)
    };
    // `kademlia.no_hang`: whatever the faults, every operation ends (upstream bounds each
    // request and each walk by a context's timeout): none is still running `hung` after it
    // began.
    let hanging: Vec<&OpRecord> = sim.operations().iter().filter(|r| is_hung(r)).collect();
    checks.push(Check::of_whole_run(Check::from("kademlia.no_hang", hanging.is_empty(), || {
        let r = hanging[0];
        format!(
            "{} operations were still running {hung:?} after they began; the first, {} #{} by n{}, began at {}",
            hanging.len(),
            r.op.f,
            r.op.id,
            r.client.0,
            r.invoked.map_or("?".to_owned(), |t| t.to_string())
        )
    })));
    let mut by_op: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for record in sim.operations() {
        let entry = by_op.entry(record.op.f.as_str()).or_default();
        match record.completed {
            Some((_, Outcome::Ok(_))) => entry.0 += 1,
            Some(_) => entry.1 += 1,
            None if is_hung(record) => entry.1 += 1,
            None => {}
        }
    }
    for (op, min) in &scenario.settings.min_success {
        for fleet in &scenario.settings.fleets {
            let f = format!("{op}.{}", fleet.name());
            let (ok, failed) = by_op.get(f.as_str()).copied().unwrap_or_default();
            let share = if ok + failed == 0 { 0.0 } else { ok as f64 / (ok + failed) as f64 };
            checks.push(Check::of_whole_run(Check::from(
                format!("kademlia.success.{f}"),
                ok + failed > 0 && share >= *min,
                || {
                    format!(
                        "{ok} of {} {f} succeeded ({:.1}%), bound {:.1}%",
                        ok + failed,
                        share * 100.0,
                        min * 100.0
                    )
                },
            )));
        }
    }
    checks
}

/// Whether `count` of `n` draws that each hit with probability `p` is within six standard
/// deviations of its mean (squared: no square root in protocols' arithmetic).
fn binomial_fits(count: usize, n: usize, p: f64) -> bool {
    let (count, n) = (count as f64, n as f64);
    let deviation = count - n * p;
    deviation * deviation <= 36.0 * n * p * (1.0 - p) + 1.0
}

/// `kademlia.population`: the network a run measures is the scenario's, each count within
/// six standard deviations of its binomial mean: the DHT servers spread over the regions by
/// their shares, the share of them that answers dials (`unreachable`), and with `churn` the
/// servers that left at least once (each first leaves after an exponential time of mean
/// `1 / leave_per_hour`). Another layout measures another network: latencies, what a region
/// cut takes away, how many servers a lookup finds gone.
fn population_check(scenario: &Scenario<Config>, setup: &Setup) -> Check {
    let (config, population) = (&scenario.settings, &setup.population);
    let servers = population.servers as usize;
    let total: f64 = config.regions.iter().map(|r| r.share).sum();
    let mut counts = vec![0usize; config.regions.len()];
    for region in &population.region[..servers] {
        counts[*region as usize] += 1;
    }
    let mut off = config.regions.iter().zip(&counts).find_map(|(region, count)| {
        (!binomial_fits(*count, servers, region.share / total)).then(|| {
            format!(
                "region {} holds {count} of the {servers} DHT servers; its share is {:.1}%",
                region.name,
                100.0 * region.share / total
            )
        })
    });
    // The bootstrap servers always answer; the others by the unreachable share.
    let others: Vec<u32> = (BOOTSTRAP.end..population.servers).collect();
    let answering = others.iter().filter(|id| population.reachable[**id as usize]).count();
    if off.is_none() && !binomial_fits(answering, others.len(), 1.0 - config.unreachable) {
        off = Some(format!(
            "{answering} of {} non-bootstrap servers answer dials; unreachable is {}",
            others.len(),
            config.unreachable
        ));
    }
    if let Some(churn) = config.churn.as_ref().filter(|c| c.leave_per_hour > 0.0 && off.is_none()) {
        let left: std::collections::BTreeSet<u32> = setup
            .churn
            .iter()
            .filter_map(|(_, fault)| match fault {
                Fault::Crash(Target::Node(id)) => Some(id.0),
                _ => None,
            })
            .collect();
        let hours = scenario.duration.as_secs_f64() / 3600.0;
        let p = 1.0 - libm::exp(-churn.leave_per_hour * hours);
        if !binomial_fits(left.len(), answering, p) {
            off = Some(format!(
                "{} of {answering} churning servers left at least once in {:?}; at {} departures an hour, \
                 {:.1}% should",
                left.len(),
                scenario.duration,
                churn.leave_per_hour,
                100.0 * p
            ));
        }
    }
    Check::of_whole_run(Check::from("kademlia.population", off.is_none(), || off.clone().unwrap_or_default()))
}

/// `kademlia.netsize`: optimistic provide's network-size estimates are there and near the
/// truth: at most half of its provides go without one, and their median is within a factor
/// 1.5 of the number of DHT servers (go-libp2p-kad-dht's estimator is within about 10% of
/// it in these runs: p10 to p90 of 181 to 223 on 200 servers, 2,619 to 3,174 on 3,000).
/// A wrong estimate stops an optimistic provide's walk too early or too late.
fn netsize(population: &Population, sim: &Sim<Msg>) -> Option<Check> {
    let estimates: Vec<Option<u64>> = facts(sim)
        .filter_map(|f| match *f.what {
            KadFact::NetSize { estimate, .. } => Some(estimate),
            _ => None,
        })
        .collect();
    if estimates.is_empty() {
        return None;
    }
    let mut known: Vec<u64> = estimates.iter().flatten().copied().collect();
    known.sort_unstable();
    let servers = u64::from(population.servers);
    let median = known.get(known.len() / 2).copied();
    let near = median.is_some_and(|m| 2 * m >= servers * 4 / 3 && 2 * m <= 3 * servers);
    let ok = 2 * known.len() >= estimates.len() && near;
    Some(Check::of_whole_run(Check::from("kademlia.netsize", ok, || {
        format!(
            "{} of {} optimistic provides had a network-size estimate, median {}; {servers} DHT servers",
            known.len(),
            estimates.len(),
            median.map_or("none".to_owned(), |m| m.to_string())
        )
    })))
}

/// What the optimistic provides with a network-size estimate did (`KadFact::Optimistic`).
#[derive(Debug, Default)]
struct Optimistic {
    provides: u64,
    stopped_early: u64,
    stored_at_once: u64,
    at_once: u64,
    stores: u64,
    closest: u64,
    /// The fewest stores finished when a provide returned.
    least_finished: Option<u32>,
    /// Provides that returned before half of `k` stores (or all of theirs, when they had
    /// fewer) finished, and the first one's (finished, needed).
    returned_early: u64,
    first_early: Option<(u32, u32)>,
}

fn optimistic(k: usize, sim: &Sim<Msg>) -> Optimistic {
    let mut o = Optimistic::default();
    for f in facts(sim) {
        if let KadFact::Optimistic { stopped_early, at_once, stores, finished, closest } = *f.what {
            o.provides += 1;
            o.stopped_early += u64::from(stopped_early);
            o.stored_at_once += u64::from(at_once > 0);
            o.at_once += u64::from(at_once);
            o.stores += u64::from(stores);
            o.closest += u64::from(closest);
            o.least_finished = Some(o.least_finished.map_or(finished, |least| least.min(finished)));
            let needed = stores.min(k.div_ceil(2) as u32);
            if finished < needed {
                o.returned_early += 1;
                o.first_early.get_or_insert((finished, needed));
            }
        }
    }
    o
}

/// `kademlia.optimistic`: optimistic provide (go-libp2p-kad-dht `lookup_optim.go`) does what
/// its thresholds are for, on the provides that had a network-size estimate. Its set
/// threshold is the 90% quantile of the `k` closest peers' average distance, so most walks
/// stop early (at least half must); its individual threshold is the distance within which a
/// peer is among the `k` closest with 90% probability (about 14 of 20 fall inside it), so
/// most provides store on some peers during the walk (at least half must); its records land
/// on the key's `k` closest reachable servers (on average at least half of them); and it
/// returns once 75% of its stores finished (here: none returned before half of `k`, or all
/// of its stores when it had fewer, had finished). Wrong thresholds make it as slow as a
/// classic provide or scatter its records; an early return leaves a record on few servers.
fn optimistic_check(k: usize, sim: &Sim<Msg>) -> Option<Check> {
    let o = optimistic(k, sim);
    if o.provides == 0 {
        return None;
    }
    let n = o.provides;
    let wrong = if 2 * o.stopped_early < n {
        Some(format!("{} of {n} walks stopped early (below the set threshold); most should", o.stopped_early))
    } else if 2 * o.stored_at_once < n {
        Some(format!(
            "{} of {n} provides stored on a peer during the walk (below the individual threshold); most should",
            o.stored_at_once
        ))
    } else if 2 * o.closest < n * k as u64 {
        Some(format!(
            "on average a record landed on {:.1} of the key's {k} closest reachable servers; at least half should",
            o.closest as f64 / n as f64
        ))
    } else {
        o.first_early.map(|(finished, needed)| {
            format!(
                "{} provides returned before enough stores finished; the first with {finished}, not {needed}",
                o.returned_early
            )
        })
    };
    Some(Check::of_whole_run(Check::from("kademlia.optimistic", wrong.is_none(), || {
        wrong.clone().unwrap_or_default()
    })))
}

/// `kademlia.buckets_filled`: at the warmup's end no settled routing table has an empty bucket
/// that a refresh looks into while `k` reachable servers belong in it (routing tables that
/// never refill, or refreshes that look into the wrong bucket).
fn buckets_filled(sim: &Sim<Msg>) -> Check {
    let name = "kademlia.buckets_filled";
    let tables: Vec<(NodeId, u64)> = facts(sim)
        .filter_map(|f| match *f.what {
            KadFact::Table { empty_buckets, .. } => Some((f.node, empty_buckets)),
            _ => None,
        })
        .collect();
    if tables.is_empty() {
        return Check::skipped(name, "no routing table was stated (the run ended before the warmup did)");
    }
    let empty: Vec<&(NodeId, u64)> = tables.iter().filter(|(_, n)| *n > 0).collect();
    Check::of_whole_run(Check::from(name, empty.is_empty(), || {
        let (node, n) = empty[0];
        format!(
            "{} of {} settled routing tables at the warmup's end have empty buckets that a refresh \
             looks into while k reachable servers belong in each; n{} has {n}",
            empty.len(),
            tables.len(),
            node.0
        )
    }))
}

#[derive(Default)]
struct Group {
    ok: u64,
    failed: u64,
    latency: Option<Histogram<u64>>,
    hops: Vec<u64>,
    rpcs: u64,
    table: u64,
    costed: u64,
}

impl Group {
    fn add(&mut self, record: &OpRecord, cost: Option<&Cost>) {
        match &record.completed {
            Some((_, Outcome::Ok(_))) => {
                self.ok += 1;
                let latency = record.latency_nanos().unwrap_or(0).max(1);
                self.latency.get_or_insert_with(histogram).record(latency).expect("histograms resize");
                if let Some(cost) = cost {
                    self.hops.push(cost.hops);
                }
            }
            Some(_) => self.failed += 1,
            None => return,
        }
        if let Some(cost) = cost {
            self.rpcs += cost.rpcs;
            self.table += cost.table;
            self.costed += 1;
        }
    }

    fn success(&self) -> Cell {
        let n = self.ok + self.failed;
        if n == 0 {
            Cell::Empty
        } else {
            Cell::Float(self.ok as f64 * 100.0 / n as f64)
        }
    }

    fn seconds(&self, q: f64) -> Cell {
        self.latency.as_ref().map_or(Cell::Empty, |h| Cell::Float(h.value_at_quantile(q) as f64 / 1e9))
    }

    fn hops(&mut self, q: f64) -> Cell {
        if self.hops.is_empty() {
            return Cell::Empty;
        }
        self.hops.sort_unstable();
        quantile(&self.hops, q)
    }

    fn mean(&self, total: u64) -> Cell {
        if self.costed == 0 {
            Cell::Empty
        } else {
            Cell::Float(total as f64 / self.costed as f64)
        }
    }
}

pub(super) fn tables(scenario: &Scenario<Config>, sim: &Sim<Msg>) -> Vec<Table> {
    let costs = costs(sim);
    let regions = &scenario.settings.regions;
    let mut fleets: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut by_region: BTreeMap<(String, usize, String), Group> = BTreeMap::new();
    for record in sim.operations() {
        let (op, fleet) = split(&record.op.f);
        let cost = costs.get(&record.op.id);
        fleets.entry((fleet.to_owned(), op.to_owned())).or_default().add(record, cost);
        let region = region_of(scenario, record.client.0);
        by_region.entry((fleet.to_owned(), region, op.to_owned())).or_default().add(record, cost);
    }
    let mut tables = Vec::new();
    let mut rows = Vec::new();
    for ((fleet, op), group) in &mut fleets {
        rows.push(vec![
            Cell::Text(fleet.clone()),
            Cell::Text(op.clone()),
            Cell::Int(group.ok + group.failed),
            group.success(),
            group.seconds(0.5),
            group.seconds(0.9),
            group.seconds(0.99),
            group.hops(0.5),
            group.hops(0.9),
            group.mean(group.rpcs),
            group.mean(group.table),
        ]);
    }
    tables.push(Table {
        title: "fleet comparison (latency in seconds of simulated time)".into(),
        columns: [
            "fleet",
            "op",
            "done",
            "success %",
            "p50 s",
            "p90 s",
            "p99 s",
            "hops p50",
            "hops p90",
            "requests",
            "table size",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    });
    // Median latency by the measurement server's region: one row per fleet and operation.
    let mut rows = Vec::new();
    for (fleet, op) in fleets.keys() {
        let mut row = vec![Cell::Text(fleet.clone()), Cell::Text(op.clone())];
        for region in 0..regions.len() {
            let key = (fleet.clone(), region, op.clone());
            row.push(by_region.get(&key).map_or(Cell::Empty, |g| g.seconds(0.5)));
        }
        rows.push(row);
    }
    let mut columns = vec!["fleet".to_owned(), "op".to_owned()];
    columns.extend(regions.iter().map(|r| r.name.clone()));
    tables.push(Table { title: "p50 seconds by region of the measurement server".into(), columns, rows });
    if let Some(hops) = hop_table(scenario, sim) {
        tables.push(hops);
    }
    if let Some(routing) = routing_table(scenario, sim) {
        tables.push(routing);
    }
    if let Some(table) = optimistic_table(scenario.settings.k, sim) {
        tables.push(table);
    }
    if let Some(netsize) = netsize_table(scenario.nodes, sim) {
        tables.push(netsize);
    }
    tables
}

/// The nearest-rank `q` quantile of `sorted` (empty when it is).
fn quantile(sorted: &[u64], q: f64) -> Cell {
    if sorted.is_empty() {
        return Cell::Empty;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Cell::Int(sorted[i])
}

/// The DHT servers' routing tables at the warmup's end (`kad.table`): how full, and whether
/// each holds its `k` nearest reachable servers.
fn routing_table(scenario: &Scenario<Config>, sim: &Sim<Msg>) -> Option<Table> {
    let facts: Vec<[u64; 4]> = facts(sim)
        .filter_map(|f| match *f.what {
            KadFact::Table { size, full_buckets, nearest_held, spread_percent, .. } => {
                Some([size, full_buckets, nearest_held, spread_percent])
            }
            _ => None,
        })
        .collect();
    if facts.is_empty() {
        return None;
    }
    let n = facts.len() as f64;
    let k = scenario.settings.k as u64;
    let mut sizes: Vec<u64> = facts.iter().map(|f| f[0]).collect();
    sizes.sort_unstable();
    let size = |q: f64| quantile(&sizes, q);
    let mean = |i: usize| Cell::Float(facts.iter().map(|f| f[i] as f64).sum::<f64>() / n);
    let all_nearest = facts.iter().filter(|f| f[2] == k).count() as f64;
    Some(Table {
        title: format!(
            "routing tables of the {} reachable DHT servers up at the warmup's end ({})",
            facts.len(),
            match scenario.settings.tables {
                super::config::Tables::Constructed => "constructed at start",
                super::config::Tables::Bootstrap => "grown by joins and refreshes",
            }
        ),
        columns: [
            "size p10",
            "size p50",
            "size p90",
            "mean size",
            "mean full buckets",
            "mean of k nearest held",
            "hold all k nearest %",
            "bucket spread (of 16)",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![vec![
            size(0.1),
            size(0.5),
            size(0.9),
            mean(0),
            mean(1),
            mean(2),
            Cell::Float(all_nearest * 100.0 / n),
            Cell::Float(facts.iter().map(|f| f[3] as f64).sum::<f64>() / n / 100.0),
        ]],
    })
}

/// Optimistic provide's network-size estimates against the number of servers (the estimate
/// counts every server a lookup hears of, unreachable or not, with `netsize_track = "known"`).
fn netsize_table(servers: u32, sim: &Sim<Msg>) -> Option<Table> {
    let facts: Vec<(Option<u64>, u32)> = facts(sim)
        .filter_map(|f| match *f.what {
            KadFact::NetSize { estimate, reachable } => Some((estimate, reachable)),
            _ => None,
        })
        .collect();
    let truth = u64::from(facts.first()?.1);
    let mut estimates: Vec<u64> = facts.iter().filter_map(|f| f.0).filter(|e| *e > 0).collect();
    estimates.sort_unstable();
    let at = |q: f64| quantile(&estimates, q);
    Some(Table {
        title: "optimistic provide's network-size estimate (provides without one fall back to the classic provide)"
            .into(),
        columns: ["provides", "without estimate", "p10", "p50", "p90", "servers", "reachable servers"]
            .map(String::from)
            .to_vec(),
        rows: vec![vec![
            Cell::Int(facts.len() as u64),
            Cell::Int((facts.len() - estimates.len()) as u64),
            at(0.1),
            at(0.5),
            at(0.9),
            Cell::Int(u64::from(servers)),
            Cell::Int(truth),
        ]],
    })
}

fn optimistic_table(k: usize, sim: &Sim<Msg>) -> Option<Table> {
    let o = optimistic(k, sim);
    if o.provides == 0 {
        return None;
    }
    let n = o.provides as f64;
    let percent = |x: u64| Cell::Float(100.0 * x as f64 / n);
    let mean = |x: u64| Cell::Float(x as f64 / n);
    Some(Table {
        title: format!(
            "optimistic provide's walks (the {} provides with a network-size estimate)",
            o.provides
        ),
        columns: [
            "stopped early %",
            "stored during the walk %",
            "stores during the walk",
            "stores",
            "of the k closest stored",
            "fewest stores finished at return",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![vec![
            percent(o.stopped_early),
            percent(o.stored_at_once),
            mean(o.at_once),
            mean(o.stores),
            mean(o.closest),
            Cell::Int(o.least_finished.map_or(0, u64::from)),
        ]],
    })
}

fn region_of(scenario: &Scenario<Config>, node: u32) -> usize {
    // Measurement servers are laid out fleet by fleet, region by region, `per_region` each.
    let index = node.saturating_sub(scenario.nodes) / scenario.settings.per_region;
    index as usize % scenario.settings.regions.len()
}

/// The distribution of hops over every lookup that ran to termination after the warmup
/// (during it, a joining measurement server's first lookups start from a nearly empty table).
fn hop_table(scenario: &Scenario<Config>, sim: &Sim<Msg>) -> Option<Table> {
    let warmup = sim::Time::from_duration(scenario.settings.warmup);
    let lookups: Vec<[u64; 2]> = facts(sim)
        .filter(|f| f.time >= warmup)
        .filter_map(|f| match *f.what {
            KadFact::Lookup { hops, hops_seen } => Some([u64::from(hops), u64::from(hops_seen)]),
            _ => None,
        })
        .collect();
    if lookups.is_empty() {
        return None;
    }
    let max = lookups.iter().map(|l| l[0].max(l[1])).max().unwrap_or(0);
    let n = lookups.len() as f64;
    let (mut finish_total, mut seen_total) = (0u64, 0u64);
    let mut rows = Vec::new();
    for hops in 0..=max {
        let finish = lookups.iter().filter(|l| l[0] == hops).count() as u64;
        let seen = lookups.iter().filter(|l| l[1] == hops).count() as u64;
        finish_total += finish;
        seen_total += seen;
        rows.push(vec![
            Cell::Int(hops),
            Cell::Float(finish as f64 * 100.0 / n),
            Cell::Float(finish_total as f64 * 100.0 / n),
            Cell::Float(seen as f64 * 100.0 / n),
            Cell::Float(seen_total as f64 * 100.0 / n),
        ]);
    }
    Some(Table {
        title: format!(
            "lookup hops over {} lookups run to termination after the warmup (refresh and provide walks)",
            lookups.len()
        ),
        columns: ["hops", "finish %", "finish cum %", "all k seen %", "all k seen cum %"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}
