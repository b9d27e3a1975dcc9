//! What simctl prints on a terminal: a run's tables, and `simctl list`.

use std::path::Path;

use sim::harness::registry::Registry;
use sim::kernel::fault::FaultKind;
use sim::report::RunReport;
use sim::scenario;
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::exit::ExitStatus;

/// `simctl list`: the registry's systems, the fault kinds, the scenario files here.
pub fn list(registry: &Registry) -> ExitStatus {
    for system in registry.systems() {
        println!("system {}: {}", system.name, system.about);
        let operations: Vec<&str> = system.operations.iter().map(|op| op.name).collect();
        if operations.is_empty() {
            println!("  operations: none (its scenarios have no [workload])");
        } else {
            println!("  operations: {}", operations.join(", "));
        }
        let roles = if system.roles.is_empty() { "none".to_owned() } else { system.roles.join(", ") };
        println!("  roles (fault targets): {roles}");
        if !system.message_kinds.is_empty() {
            println!("  message kinds ([network] kinds): {}", system.message_kinds.join(", "));
        }
        if !system.replicated_files.is_empty() {
            let files = system.replicated_files.iter().map(|p| format!("{p}*")).collect::<Vec<_>>();
            println!(
                "  replicated files (per-I/O disk damage keeps an intact copy of each block): {}",
                files.join(", ")
            );
        }
        if !system.bug_classes.is_empty() {
            println!("  bug classes (coverage ledger entries its scenarios must reach, and one that does):");
            for class in system.bug_classes {
                println!("    {} ({})", class.name, class.reached_by);
            }
        }
        println!("  [settings] defaults:");
        for line in (system.default_settings)().lines() {
            println!("    {line}");
        }
    }
    println!("\nfault kinds ([[faults]] entries; targets: a server index, \"random\", a role, or {{ fault = N }}):");
    for kind in FaultKind::ALL {
        let follow_up = kind.follow_up().map(|after| format!("; {after}")).unwrap_or_default();
        println!("  {:<10} {}{follow_up}", kind.name(), scenario::syntax(kind));
    }
    println!(
        "  [swarm]    {}: random faults at a rate, e.g. crash = {{ rate = \"1/10s\", down = \"1s..5s\" }}; \
         kinds_on = 0.75 draws which run per seed",
        sim::scenario::SWARM_KINDS.join(", ")
    );
    println!("\nscenarios:");
    for path in scenario::find_files(Path::new("scenarios")) {
        let checked = scenario::read(&path).and_then(|(file, text)| registry.validate(&file, &text));
        match checked {
            Ok(brief) => println!("  {}  ({}, {} servers)", path.display(), brief.system, brief.nodes),
            Err(error) => println!("  {}  INVALID: {error}", path.display()),
        }
    }
    ExitStatus::Passed
}

pub fn print_report(report: &RunReport, folder: &Path, determinism_checked: bool) {
    let summary = &report.summary;
    let network = &summary.network;
    println!(
        "{} ({}) seed {}: {:.3}s simulated, {} events, {} messages sent, {} delivered, {} dropped, {} duplicated",
        summary.scenario,
        summary.system,
        summary.seed,
        summary.sim_time_ns as f64 / 1e9,
        summary.events,
        network.sent,
        network.delivered,
        network.dropped,
        network.duplicated
    );
    if summary.backend != "native" {
        // The backend decides loss and partitions: its drops are not counted one by one.
        println!("backend: {} (dropped counts only what simctl saw; the rest of sent - delivered was lost in {} or in flight at the end)", summary.backend, summary.backend);
        for note in &summary.backend_notes {
            println!("  note: {note}");
        }
    }
    if !summary.ops.is_empty() {
        let mut ops = Builder::default();
        ops.push_record([
            "operation",
            "ok",
            "fail",
            "info",
            "pending",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
        ]);
        for (op, counts) in &summary.ops {
            let latency = summary.latency.get(op);
            let ms = |pick: fn(&sim::report::LatencyStats) -> f64| {
                latency.map_or("-".to_owned(), |l| format!("{:.2}", pick(l)))
            };
            ops.push_record([
                op.clone(),
                counts.ok.to_string(),
                counts.fail.to_string(),
                counts.info.to_string(),
                counts.pending.to_string(),
                ms(|l| l.p50),
                ms(|l| l.p90),
                ms(|l| l.p99),
                ms(|l| l.max),
            ]);
            // Rows under the operation: its latency classes (`<op>.<class>`, a system's size
            // classes), then its latency before, during and after the faults.
            let sub_row = |label: String, stats: &sim::report::LatencyStats| {
                let ms = |x: f64| format!("{x:.2}");
                let count = stats.count.to_string();
                [
                    label,
                    count,
                    String::new(),
                    String::new(),
                    String::new(),
                    ms(stats.p50),
                    ms(stats.p90),
                    ms(stats.p99),
                    ms(stats.max),
                ]
            };
            let prefix = format!("{op}.");
            for (class, stats) in
                summary.latency.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix))
            {
                ops.push_record(sub_row(format!("  {}", &class[prefix.len()..]), stats));
            }
            for (phase, stats) in summary.latency_by_phase.get(op).into_iter().flatten() {
                ops.push_record(sub_row(format!("  {} faults", phase.name()), stats));
            }
        }
        println!("{}", ops.build().with(Style::rounded()));
    }
    for table in &summary.tables {
        println!("{}", render_table(table));
    }
    if !summary.faults.is_empty() {
        let applied = summary.faults.iter().filter(|f| f.outcome == "applied").count();
        println!("faults: {applied} applied, {} skipped", summary.faults.len() - applied);
        const SHOWN: usize = 12;
        for fault in summary.faults.iter().take(SHOWN) {
            println!(
                "  {:>10.3}s  {}{}",
                fault.at_ns as f64 / 1e9,
                fault.fault,
                if fault.outcome == "applied" { String::new() } else { format!("  ({})", fault.outcome) }
            );
        }
        if summary.faults.len() > SHOWN {
            println!("  ... {} more in faults.toml", summary.faults.len() - SHOWN);
        }
    }
    let mut checks = Builder::default();
    checks.push_record(["check", "verdict", "why"]);
    for (name, verdict) in &summary.checks {
        let reason = summary.reasons.get(name).cloned().unwrap_or_default();
        checks.push_record([name.clone(), verdict.name().to_uppercase(), reason]);
    }
    println!("{}", checks.build().with(Style::rounded()));
    let hash_note = if determinism_checked { " (the same in a second run)" } else { "" };
    println!(
        "{}: trace hash {}{hash_note}",
        crate::exit::ExitStatus::of_verdicts(summary).word(),
        summary.trace_hash
    );
    println!("report: {}", folder.display());
    println!("reproduce: {}", summary.reproduce);
}

/// A system's table under its title.
pub fn render_table(table: &sim::report::Table) -> String {
    let mut builder = Builder::default();
    builder.push_record(table.columns.iter().cloned());
    for row in &table.rows {
        builder.push_record(row.iter().map(ToString::to_string));
    }
    format!("{}\n{}", table.title, builder.build().with(Style::rounded()))
}
