//! Running a scenario: build the simulation a scenario describes, run it, judge it.
//!
//! The steps, in order (the order is part of the determinism contract): the system's setup,
//! servers `0..nodes`, the system's network shape, the scenario's network overrides, disks,
//! clients, the workload, the system's other nodes, the planned faults (explicit, swarm and
//! the system's own, merged by time into one schedule), then events until the scenario's
//! duration.
//! A protocol panic ends the run early; it is caught and reported as a failed check with the
//! seed, never a crash of the caller.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use hdrhistogram::Histogram;

use super::system::{Consistency, Slot, System};
use crate::backend::{self, Backend};
use crate::judge::{self, Check, CheckKind, Verdict};
use crate::kernel::engine::{Limits, Sim};
use crate::kernel::fault::FaultOutcome;
use crate::kernel::ids::{Message, NodeId};
use crate::kernel::rng::Seed;
use crate::kernel::time::Time;
use crate::kernel::workload::{OpRecord, Outcome};
use crate::report::{
    self, BuggifyRealized, FaultLine, LatencyStats, MessageLine, OpCounts, RoleChange, RunReport, Summary,
    TraceLine, WitnessPart, WitnessStep,
};
use crate::scenario::{
    locate, plan, ClocksSpec, Phase, Place, PlanContext, Scenario, ScenarioError, SwarmDraw,
};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Record every event with its description (`trace.jsonl`).
    pub trace: bool,
    /// Stop after this many events: the run is then inconclusive (verdict unknown), never a
    /// hang. Default: no limit.
    pub max_events: Option<u64>,
    /// Which simulator runs it. Default: the native engine.
    pub backend: Backend,
    /// The report's message diagram: which messages to draw. Default: none.
    pub messages: Messages,
    /// The command that runs scenarios, for the summary's reproduce line: `simctl`, or a
    /// binary of one's own that calls `simctl::main`. Default: `simctl`.
    pub command: &'static str,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            trace: false,
            max_events: None,
            backend: Backend::Native,
            messages: Messages::Off,
            command: "simctl",
        }
    }
}

/// Which messages a run's report draws (the same seed run again, recording its sends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Messages {
    /// None.
    #[default]
    Off,
    /// For a failing run: around its failure (the write the witness's stuck operation should
    /// have seen through that operation's completion; else the second after the first
    /// fault, or the first second).
    Failing,
    /// Those sent in [from, to], nanoseconds.
    Window(u64, u64),
}

/// At most this many messages are drawn (the last ones of the window).
const MESSAGES_DRAWN: usize = 400;

/// Builds the simulation a scenario describes, with its faults scheduled, ready to run.
pub fn build<Y: System>(scenario: &Scenario<Y::Settings>, seed: u64) -> Sim<Y::Msg> {
    assemble::<Y>(scenario, seed).0
}

/// `build`, the system's setup that its hooks share, and what the swarm drew.
fn assemble<Y: System>(
    scenario: &Scenario<Y::Settings>,
    seed: u64,
) -> (Sim<Y::Msg>, Rc<Y::Setup>, SwarmDraw) {
    let setup = Rc::new(Y::setup(scenario, Seed(seed)));
    let mut sim = Sim::new(seed, scenario.network.link_model());
    let add = |sim: &mut Sim<Y::Msg>, slot: Slot| {
        let id = NodeId(sim.node_count() as u32);
        let setup = Rc::clone(&setup);
        sim.add_boxed_node(move || Y::node(&setup, slot, id))
    };
    let servers: Vec<NodeId> = (0..scenario.nodes).map(|i| add(&mut sim, Slot::Server(i))).collect();
    Y::network(scenario, &setup, sim.network_mut());
    scenario.network.apply_overrides(sim.network_mut());
    scenario.network.apply_kinds(super::system::message_kinds::<Y>(), sim.network_mut());
    if let Some(keepalive) = scenario.network.keepalive {
        sim.set_keepalive(keepalive);
    }
    let disk = scenario.disk.config();
    sim.set_damage_budget(scenario.disk.damage_budget);
    sim.set_replicated_files(Y::REPLICATED_FILES);
    for &server in &servers {
        sim.set_disk_config(server, disk.clone());
    }
    if scenario.clocks != ClocksSpec::default() {
        for &server in &servers {
            let (offset, drift) = scenario.clocks.draw(Seed(seed), server.0);
            sim.set_clock(server, offset, drift);
        }
    }
    sim.set_buggify(scenario.buggify.as_ref().map(|b| b.config()));
    if let Some(workload) = &scenario.workload {
        let clients = (0..workload.clients).map(|i| add(&mut sim, Slot::Client(i))).collect();
        sim.set_workload(workload.config(clients, scenario.duration, Y::OPERATIONS));
    }
    for i in 0..Y::other_nodes(&setup) {
        add(&mut sim, Slot::Other(i));
    }
    // Each version's servers are built from a setup of the version's settings.
    for (_, settings) in &scenario.versions {
        let setup = Rc::new(Y::setup(&scenario.with_settings(settings.clone()), Seed(seed)));
        for (i, &server) in servers.iter().enumerate() {
            let setup = Rc::clone(&setup);
            sim.add_version(server, move || Y::node(&setup, Slot::Server(i as u32), server));
        }
    }
    let versions: Vec<String> = scenario.versions.iter().map(|(name, _)| name.clone()).collect();
    let clients: Vec<NodeId> = (0..scenario.workload.as_ref().map_or(0, |w| w.clients))
        .map(|i| NodeId(scenario.nodes + i))
        .collect();
    let context = PlanContext {
        servers: &servers,
        clients: &clients,
        network: &scenario.network.link_model(),
        disk: &disk,
        duration: scenario.duration,
        seed: Seed(seed),
        versions: &versions,
    };
    let system_faults = Y::faults(scenario, &setup);
    let (planned, draw) = plan(&scenario.faults, scenario.swarm.as_ref(), system_faults, &context);
    for planned in planned {
        sim.schedule(planned.at, planned.fault);
    }
    (sim, setup, draw)
}

/// Checks that `options.backend` can run this scenario as `run` would build it, before
/// anything runs: the error names what the backend lacks (`--trace`, a fault, a network
/// setting) or the command that builds a simctl with it.
pub fn check_backend<Y: System>(
    file: &str,
    text: &str,
    scenario: &Scenario<Y::Settings>,
    seed: u64,
    options: &RunOptions,
) -> Result<Vec<String>, ScenarioError> {
    backend_options(file, text, scenario, options)?;
    if options.backend == Backend::Native {
        return Ok(Vec::new());
    }
    hosted_plan(file, &build::<Y>(scenario, seed), options.backend).map(|plan| plan.notes)
}

/// What a backend's plan for a built simulation is, or what it cannot run, as an error.
fn hosted_plan<M: Message>(
    file: &str,
    sim: &Sim<M>,
    backend: Backend,
) -> Result<backend::Plan, ScenarioError> {
    backend::check(sim, backend).map_err(|why| ScenarioError {
        file: file.to_owned(),
        line: None,
        column: None,
        message: format!("--backend {backend}: {why}"),
    })
}

/// The run options a hosted backend cannot honour, before anything is built.
fn backend_options(
    file: &str,
    text: &str,
    scenario: &Scenario<impl Sized>,
    options: &RunOptions,
) -> Result<(), ScenarioError> {
    let backend = options.backend;
    if backend == Backend::Native {
        return Ok(());
    }
    let plain = |message: String| ScenarioError { file: file.to_owned(), line: None, column: None, message };
    if options.trace {
        return Err(plain(format!("--trace records the native engine's events; {backend} runs without it")));
    }
    if options.max_events.is_some() {
        return Err(plain(format!(
            "--max-events counts the native engine's events; {backend} runs without it"
        )));
    }
    if backend == Backend::Turmoil && scenario.turmoil.tick.is_zero() {
        return Err(locate(
            file,
            text,
            &Place::key("turmoil", "tick"),
            "turmoil's tick must be more than zero".into(),
        ));
    }
    Ok(())
}

thread_local! {
    /// Where the last protocol panic on this thread happened, recorded by the hook that
    /// `install_panic_hook` installs.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Whether this thread is inside `run`: only those panics are the protocol's.
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
}

/// Installs a panic hook that records panics inside `run` (message and location) for the
/// run's report instead of printing them; other panics print as before. Call once, at the
/// start of a program that runs scenarios.
pub fn install_panic_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !IN_RUN.with(Cell::get) {
            return previous(info);
        }
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(format!("{message}{location}")));
    }));
}

/// Runs a scenario with a seed and judges the run, building its simulation once; an error
/// only if a hosted backend cannot run it (see [`check_backend`]).
pub fn run<Y: System>(
    file: &str,
    text: &str,
    scenario: &Scenario<Y::Settings>,
    seed: u64,
    options: &RunOptions,
) -> Result<RunReport, ScenarioError> {
    backend_options(file, text, scenario, options)?;
    let (mut sim, setup, draw) = assemble::<Y>(scenario, seed);
    let until = Time::from_duration(scenario.duration);
    let max_events = options.max_events.unwrap_or(u64::MAX);
    let mut trace = options.trace.then(Vec::new);
    let hosted = match options.backend {
        Backend::Native => None,
        backend => Some((backend, hosted_plan(file, &sim, backend)?)),
    };
    LAST_PANIC.with(|last| last.borrow_mut().take());
    IN_RUN.with(|flag| flag.set(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match trace.as_mut() {
        _ if hosted.is_some() => {
            let (backend, plan) = hosted.as_ref().expect("hosted");
            backend::drive(&mut sim, *backend, plan, until, scenario.turmoil.tick, seed);
        }
        Some(lines) => {
            while sim.events() < max_events {
                let Some((event, what)) = sim.step_described_until(until) else { break };
                lines.push(TraceLine {
                    index: event.index,
                    time_ns: event.time.as_nanos(),
                    node: event.node.map(|n| n.0),
                    kind: event.kind,
                    peer: event.peer.map(|n| n.0),
                    digest: format!("{:016x}", event.digest),
                    what,
                });
            }
        }
        None => {
            sim.run(Limits { until, max_events });
        }
    }));
    IN_RUN.with(|flag| flag.set(false));
    let panic = outcome.err().map(|payload| {
        let recorded = LAST_PANIC.with(|last| last.borrow_mut().take());
        recorded.unwrap_or_else(|| {
            payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned())
        })
    });
    // The run is over: checks read what the disks hold, without stale reads or latency.
    sim.stop_disk_faults();
    let budget = (sim.events() >= max_events && sim.now() < until).then_some(max_events);
    let inputs = RunInputs {
        file,
        text,
        seed,
        command: options.command,
        backend: options.backend,
        backend_notes: hosted.as_ref().map(|(_, plan)| plan.notes.clone()).unwrap_or_default(),
        draw: &draw,
    };
    let mut report = judge::<Y>(&inputs, scenario, &setup, &sim, Stop { panic, budget }, trace);
    if hosted.is_none() {
        if let Some((from, to)) = message_window(options.messages, &report) {
            // The same seed again, recording the messages sent in the window.
            let (mut again, _, _) = assemble::<Y>(scenario, seed);
            again.record_messages(Time(from), Time(to), 50 * MESSAGES_DRAWN);
            IN_RUN.with(|flag| flag.set(true));
            let _ = panic::catch_unwind(AssertUnwindSafe(|| again.run(Limits { until, max_events })));
            IN_RUN.with(|flag| flag.set(false));
            let sent = &again.observations().messages;
            let keep = sent.len().saturating_sub(MESSAGES_DRAWN);
            report.messages = sent[keep..].iter().map(MessageLine::of).collect();
            report.message_window = Some((from, to));
        }
    }
    Ok(report)
}

/// What a run was, besides its scenario: for the summary.
struct RunInputs<'a> {
    file: &'a str,
    text: &'a str,
    seed: u64,
    command: &'a str,
    backend: Backend,
    /// How the backend maps what it has no exact equivalent for.
    backend_notes: Vec<String>,
    /// The swarm's draw for this seed (which fault kinds ran).
    draw: &'a SwarmDraw,
}

/// What the disks did to data silently or by error, summed over every node, as coverage
/// entries (`disk: writes lost`), those that happened only.
fn disk_damage<M: Message>(sim: &Sim<M>) -> Vec<(String, u64)> {
    let mut totals = [0u64; 6];
    for node in 0..sim.node_count() {
        let stats = sim.disk(NodeId(node as u32)).stats();
        for (total, n) in totals.iter_mut().zip([
            stats.lost_writes,
            stats.misdirected_writes,
            stats.stale_reads,
            stats.io_errors,
            stats.full_fsyncs,
            stats.damaged_beside_another,
        ]) {
            *total += n;
        }
    }
    [
        "disk: writes lost",
        "disk: writes misdirected",
        "disk: reads stale",
        "disk: I/O errors",
        "disk: fsyncs full",
        "disk: a block damaged on two replicas at once",
    ]
    .into_iter()
    .zip(totals)
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| (name.to_owned(), n))
    .collect()
}

/// Why a run ended before its duration, if it did.
struct Stop {
    panic: Option<String>,
    /// The event budget that ran out.
    budget: Option<u64>,
}

/// The clock faults as per-node series for the report: the offset the steps added up to (ms)
/// and the drift in force (ppm), each from 0 at the start.
fn clock_series(log: &[crate::kernel::fault::FaultRecord]) -> report::Series {
    use crate::kernel::fault::{Fault, Target};
    let mut series = report::Series::new();
    for record in log.iter().filter(|r| r.outcome == FaultOutcome::Applied) {
        let (name, node, value) = match &record.fault {
            Fault::ClockStep { node: Target::Node(node), delta_nanos } => {
                ("clock offset from steps (ms)", node, *delta_nanos / 1_000_000)
            }
            Fault::ClockDrift { node: Target::Node(node), ppm } => ("clock drift (ppm)", node, *ppm),
            _ => continue,
        };
        let points = series.entry((name.to_owned(), node.0)).or_insert_with(|| vec![(0, 0)]);
        let value =
            if name.starts_with("clock offset") { points.last().map_or(0, |p| p.1) + value } else { value };
        points.push((record.time.as_nanos(), value));
    }
    series
}

/// The window of the message diagram, if the run draws one.
fn message_window(messages: Messages, report: &RunReport) -> Option<(u64, u64)> {
    match messages {
        Messages::Off => None,
        Messages::Window(from, to) => Some((from, to)),
        Messages::Failing if report.summary.passed => None,
        Messages::Failing => {
            let steps = report.witness.as_deref().unwrap_or_default();
            if let Some(stuck) = steps.iter().find(|s| s.part == WitnessPart::Stuck) {
                let to = stuck.ret_ns.unwrap_or(report.summary.sim_time_ns);
                let before = steps
                    .iter()
                    .filter(|s| matches!(s.part, WitnessPart::Linearized(_) | WitnessPart::Unordered))
                    .map(|s| s.call_ns)
                    .filter(|call| *call < stuck.call_ns)
                    .max();
                return Some((before.unwrap_or(stuck.call_ns), to));
            }
            let start = report.summary.faults.iter().map(|f| f.at_ns).min().unwrap_or(0);
            Some((start, start + 1_000_000_000))
        }
    }
}

/// When the faults were on: the first and last applied fault.
fn fault_window<M: Message>(sim: &Sim<M>) -> Option<(Time, Time)> {
    let applied: Vec<Time> =
        sim.fault_log().iter().filter(|r| r.outcome == FaultOutcome::Applied).map(|r| r.time).collect();
    Some((*applied.iter().min()?, *applied.iter().max()?))
}

fn phase_of(record: &OpRecord, window: Option<(Time, Time)>) -> Phase {
    match window {
        Some((start, _)) if record.intended < start => Phase::Before,
        Some((_, end)) if record.intended <= end => Phase::During,
        _ => Phase::After,
    }
}

/// The client history against the system's consistency model.
fn consistency(
    scenario: &Scenario<impl Sized>,
    consistency: Consistency,
    sim: &Sim<impl Message>,
) -> (Check, Option<Vec<WitnessStep>>) {
    use crate::check::{import, Budget, Verdict as Found};
    let name = consistency.name;
    let ops = match import::from_history(&sim.observations().history) {
        Ok(ops) => ops,
        Err(error) => return (Check::fail(name, format!("the client history is malformed: {error}")), None),
    };
    let budget = Budget { max_steps: Some(scenario.checks.linearizable_steps), ..Budget::default() };
    let outcome = match (consistency.judge)(&ops, &budget) {
        Ok(outcome) => outcome,
        Err(error) => return (Check::fail(name, error), None),
    };
    // On a run cut short by its event budget this judges the prefix that ran: a refutation
    // there stands for the whole run.
    match outcome.verdict {
        Found::Linearizable => (Check::pass(name), None),
        Found::NotLinearizable(witness) => {
            let history = &sim.observations().history;
            // Positions in the history, as the importer numbered its events.
            let at = |position: u64| history.get(usize::try_from(position).ok()?);
            let describe = |op: &crate::check::CheckOp| {
                let when = |position| at(position).map_or("open".to_owned(), |e| e.time.to_string());
                let client = at(op.call).map_or(String::new(), |e| format!("n{} ", e.node.0));
                format!(
                    "{client}process {} {}  [{} .. {}]",
                    op.process,
                    op.action(),
                    when(op.call),
                    when(op.ret)
                )
            };
            let ordered = witness.states.len() == witness.prefix.len();
            let step = |op: &crate::check::CheckOp, part, state: Option<&String>| WitnessStep {
                part,
                process: op.process,
                client: at(op.call).map_or(0, |e| e.node.0),
                call_ns: at(op.call).map_or(0, |e| e.time.as_nanos()),
                ret_ns: at(op.ret).map(|e| e.time.as_nanos()),
                action: op.action(),
                state: state.cloned(),
            };
            let steps = witness
                .prefix
                .iter()
                .enumerate()
                .map(|(i, op)| {
                    let part = if ordered { WitnessPart::Linearized(i + 1) } else { WitnessPart::Unordered };
                    step(op, part, witness.states.get(i))
                })
                .chain(std::iter::once(step(&witness.stuck, WitnessPart::Stuck, None)))
                .chain(witness.concurrent.iter().map(|op| step(op, WitnessPart::Overlapping, None)))
                .collect();
            (Check::fail(name, format!("not linearizable: {}", witness.render(&describe))), Some(steps))
        }
        Found::Unknown(reason) if scenario.checks.allow_unknown => {
            (Check::skipped(name, format!("unknown, allowed by allow_unknown: {reason}")), None)
        }
        Found::Unknown(reason) => (Check::unknown(name, reason), None),
    }
}

/// Judges a run that ended: the kernel's checks (`crate::judge`), the consistency model's,
/// the system's own; then the report, its summary built once.
fn judge<Y: System>(
    inputs: &RunInputs<'_>,
    scenario: &Scenario<Y::Settings>,
    setup: &Y::Setup,
    sim: &Sim<Y::Msg>,
    stop: Stop,
    trace: Option<Vec<TraceLine>>,
) -> RunReport {
    let RunInputs { file, text, seed, command, backend, .. } = *inputs;
    let Stop { panic, budget } = stop;
    let window = fault_window(sim);
    let mut ops: BTreeMap<String, OpCounts> = BTreeMap::new();
    let mut histograms: BTreeMap<(String, Option<Phase>), Histogram<u64>> = BTreeMap::new();
    for record in sim.operations() {
        let counts = ops.entry(record.op.f.clone()).or_default();
        match &record.completed {
            Some((_, Outcome::Ok(_))) => counts.ok += 1,
            Some((_, Outcome::Fail)) => counts.fail += 1,
            Some((_, Outcome::Info)) => counts.info += 1,
            None => counts.pending += 1,
        }
        // Latency is of operations that completed ok; failures and unknown outcomes are
        // counted above, as YCSB and Jepsen report them apart.
        if let (Some(latency), Some((_, Outcome::Ok(_)))) = (record.latency_nanos(), &record.completed) {
            // Phases only mean something when faults were applied.
            let phase = window.map(|_| phase_of(record, window));
            let class = Y::latency_class(setup, record).map(|class| format!("{}.{class}", record.op.f));
            for op in std::iter::once(record.op.f.clone()).chain(class) {
                for phase in std::iter::once(None).chain(phase.map(Some)) {
                    histograms
                        .entry((op.clone(), phase))
                        .or_insert_with(report::histogram)
                        .record(latency.max(1))
                        .expect("histograms resize");
                }
            }
        }
    }
    let observations = sim.observations();
    let mut checks: Vec<Check> = judge::completion(budget, sim.now()).into_iter().collect();
    checks.push(judge::no_panic(panic.as_deref()));
    checks.push(judge::assertions(&scenario.checks, &observations.violations));
    checks.extend(judge::latency_bounds(&scenario.checks.latency, &histograms));
    if let Some(liveness) = &scenario.checks.liveness {
        checks.push(judge::liveness(liveness, window, sim.operations()));
    }
    checks.push(super::kernel_checks::disk(sim).of_kind(CheckKind::Kernel));
    checks.extend(super::kernel_checks::roles(Y::NAME, Y::ROLES, sim).map(|c| c.of_kind(CheckKind::Kernel)));
    let mut witness = None;
    if let Some(model) = Y::CONSISTENCY.filter(|_| scenario.checks.is_consistency_checked()) {
        let (check, steps) = consistency(scenario, model, sim);
        checks.push(check.of_kind(CheckKind::Consistency));
        witness = steps;
    }
    if panic.is_none() {
        checks.extend(Y::check(scenario, setup, sim));
    } else {
        checks
            .push(Check::skipped(format!("{}.invariants", Y::NAME), "the run panicked; state is incomplete"));
    }
    if budget.is_some() {
        judge::stopped_early(&mut checks);
    }
    let reproduce = match backend {
        Backend::Native => format!("{command} run {file} --seed {seed}"),
        backend => format!("{command} run {file} --seed {seed} --backend {backend}"),
    };
    let draw = inputs.draw;
    // Swarm testing: which kinds this seed ran, for the coverage ledger and faults.toml.
    let swarm = (!draw.kinds.is_empty()).then(|| (format!("swarm {}", draw.combination()), 1));
    let summary = Summary {
        scenario: scenario.name.clone(),
        system: scenario.system.clone(),
        seed,
        backend: backend.name().to_owned(),
        backend_notes: inputs.backend_notes.clone(),
        caught_by: scenario.checks.caught_by.clone(),
        trace_hash: format!("{:016x}", sim.trace_hash()),
        events: sim.events(),
        sim_time_ns: sim.now().as_nanos(),
        passed: checks.iter().all(|c| matches!(c.verdict, Verdict::Pass | Verdict::Skipped)),
        checks: checks.iter().map(|c| (c.name.clone(), c.verdict)).collect(),
        reasons: checks.iter().filter_map(|c| c.reason.clone().map(|r| (c.name.clone(), r))).collect(),
        whole_run_checks: checks.iter().filter(|c| c.whole_run).map(|c| c.name.clone()).collect(),
        check_kinds: checks.iter().map(|c| (c.name.clone(), c.kind)).collect(),
        ops,
        latency: histograms
            .iter()
            .filter(|((_, p), _)| p.is_none())
            .map(|((op, _), h)| (op.clone(), LatencyStats::of(h)))
            .collect(),
        latency_by_phase: {
            let mut by_phase: BTreeMap<String, BTreeMap<Phase, LatencyStats>> = BTreeMap::new();
            for ((op, phase), h) in &histograms {
                if let Some(phase) = phase {
                    by_phase.entry(op.clone()).or_default().insert(*phase, LatencyStats::of(h));
                }
            }
            by_phase
        },
        faults: sim
            .fault_log()
            .iter()
            .map(|r| FaultLine {
                index: r.index,
                at_ns: r.time.as_nanos(),
                kind: r.fault.kind(),
                fault: r.fault.to_string(),
                outcome: r.outcome.to_string(),
            })
            .collect(),
        fault_window_ns: window.map(|(start, end)| [start.as_nanos(), end.as_nanos()]),
        network: sim.network_stats().into(),
        counters: sim.observations().counters.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        swarm_draw: if draw.kinds.is_empty() { Vec::new() } else { draw.lines() },
        sometimes: sim
            .observations()
            .sometimes
            .iter()
            .map(|(k, s)| ((*k).to_owned(), s.hits))
            .chain(
                sim.buggify_points()
                    .filter(|(_, p)| p.active)
                    .map(|(k, p)| (format!("buggify {k}"), p.fired)),
            )
            .chain(disk_damage(sim))
            .chain(swarm)
            .chain(
                Y::BUG_CLASSES
                    .iter()
                    .filter(|class| !sim.observations().sometimes.contains_key(class.name))
                    .map(|class| (class.name.to_owned(), 0)),
            )
            .collect(),
        tables: if panic.is_none() { Y::tables(scenario, setup, sim) } else { Vec::new() },
        panic,
        file: file.to_owned(),
        reproduce,
        simctl_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    RunReport {
        summary,
        history: sim.observations().history.clone(),
        histograms,
        fault_log: sim.fault_log().to_vec(),
        servers: scenario.nodes,
        buggify: sim.buggify_config().map(|config| BuggifyRealized {
            fire: config.fire.as_f64(),
            active: sim.buggify_points().filter(|(_, p)| p.active).map(|(k, _)| k.to_owned()).collect(),
        }),
        scenario_text: text.to_owned(),
        trace,
        operations: sim.operations().to_vec(),
        messages: Vec::new(),
        message_window: None,
        series: sim
            .observations()
            .series
            .iter()
            .map(|((name, node), points)| {
                ((name.to_string(), node.0), points.iter().map(|(at, v)| (at.as_nanos(), *v)).collect())
            })
            .chain(clock_series(sim.fault_log()))
            .collect(),
        roles: sim
            .observations()
            .roles
            .iter()
            .map(|&(at, node, role)| RoleChange { at_ns: at.as_nanos(), node: node.0, role })
            .collect(),
        witness,
    }
}
