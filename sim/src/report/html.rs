//! `report.html`: one self-contained page (inline SVG and CSS, one inline script, nothing fetched)
//! that a person can open from the report folder: verdicts, operations and latency, a plot
//! of every operation's latency over time with the faults marked, and the fault timeline.

use std::fmt::Write as _;

use super::RunReport;
use crate::kernel::workload::{OpRecord, Outcome};

/// At most this many operations are drawn; beyond it, every k-th one (the tables still
/// count them all).
const MAX_POINTS: usize = 10_000;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 30.0;

/// `text` made safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page for a run.
pub fn page(report: &RunReport, operations: &[OpRecord]) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let verdict = if s.passed { ("PASSED", "pass") } else { ("FAILED", "fail") };
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{name} seed {seed}: {v}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;max-width:960px;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}.pass{{color:#17692b}}.fail{{color:#b00020}}\
         .unknown,.skipped{{color:#8a6d00}}code{{background:#f4f4f4;padding:2px 4px}}{timeline_style}\
         </style></head><body>\
         <h1>{name} <small>({system}, seed {seed})</small> <span class=\"{class}\">{v}</span></h1>\
         <p>{secs:.3} s simulated on the {backend} backend, {events} events, trace hash <code>{hash}</code>. \
         Reproduce: <code>{reproduce}</code></p>",
        name = escape(&s.scenario),
        system = escape(&s.system),
        seed = s.seed,
        v = verdict.0,
        class = verdict.1,
        secs = s.sim_time_ns as f64 / 1e9,
        events = s.events,
        hash = s.trace_hash,
        backend = escape(&s.backend),
        reproduce = escape(&s.reproduce),
        timeline_style = super::timeline::STYLE,
    );
    for note in &s.backend_notes {
        let _ = write!(out, "<p><small>{}: {}</small></p>", escape(&s.backend), escape(note));
    }
    out += "<h2>Checks</h2><table><tr><th>check</th><th>verdict</th><th>why</th></tr>";
    for (name, verdict) in &s.checks {
        let reason = s.reasons.get(name).map(|r| escape(r)).unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"{v}\">{v}</td><td style=\"text-align:left;white-space:pre-wrap\">{reason}</td></tr>",
            escape(name),
            v = verdict.name()
        );
    }
    out += "</table>";
    out += &super::timeline::failure(report);
    out += &super::timeline::operations(report, operations);
    out += &super::timeline::series(report);
    out += &super::timeline::messages(report);
    out += "<h2>Operations</h2><table><tr><th>operation</th><th>ok</th><th>fail</th><th>info</th>\
            <th>pending</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th></tr>";
    for (op, counts) in &s.ops {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            escape(op),
            counts.ok,
            counts.fail,
            counts.info,
            counts.pending
        );
        match s.latency.get(op) {
            Some(l) => {
                let _ = write!(
                    out,
                    "<td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
                    l.p50, l.p90, l.p99, l.max
                );
            }
            None => out += "<td>-</td><td>-</td><td>-</td><td>-</td></tr>",
        }
    }
    out += "</table>";
    out += &super::timeline::latency(report, operations);
    out += &plot(report, operations);
    for table in &s.tables {
        let _ = write!(out, "<h2>{}</h2><table><tr>", escape(&table.title));
        for column in &table.columns {
            let _ = write!(out, "<th>{}</th>", escape(column));
        }
        out += "</tr>";
        for row in &table.rows {
            out += "<tr>";
            for cell in row {
                let _ = write!(out, "<td>{}</td>", escape(&cell.to_string()));
            }
            out += "</tr>";
        }
        out += "</table>";
    }
    let n = &s.network;
    let _ = write!(
        out,
        "<h2>Network</h2><p>{} sent, {} delivered, {} dropped (loss {}, partition {}, receiver down {}), {} duplicated \
         ({} of them old packets replayed late), {} held by a clog.</p>",
        n.sent,
        n.delivered,
        n.dropped,
        n.dropped_loss,
        n.dropped_partition,
        n.dropped_crashed,
        n.duplicated,
        n.replayed,
        n.clogged
    );
    let c = &n.connections;
    if c.opened > 0 {
        let _ = write!(
            out,
            "<p>Connections: {} opened, {} refused, {} broken by a cut or by loss, {} reset by a crash, {} closed by a node; {} messages lost with their connection, {} retransmissions.</p>",
            c.opened, c.refused, c.broken, c.reset, c.closed, n.dropped_closed, n.retransmitted
        );
    }
    out += "<h2>Faults</h2>";
    if s.faults.is_empty() {
        out += "<p>None.</p>";
    } else {
        out += "<table><tr><th>#</th><th>at</th><th>fault</th><th>outcome</th></tr>";
        for fault in &s.faults {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{:.3} s</td><td style=\"text-align:left\">{}</td><td style=\"text-align:left\">{}</td></tr>",
                fault.index,
                fault.at_ns as f64 / 1e9,
                escape(&fault.fault),
                escape(&fault.outcome)
            );
        }
        out += "</table><p>The realized timeline is in <code>faults.toml</code>: as the scenario's \
                <code>[[faults]]</code>, with <code>[swarm]</code> removed, it replays this run.</p>";
    }
    if let Some(panic) = &s.panic {
        let _ = write!(out, "<h2 class=\"fail\">Panic</h2><pre>{}</pre>", escape(panic));
    }
    out += "<p>Files: <code>summary.json</code>, <code>history.jsonl</code>, <code>*.hgrm</code> \
            (HdrHistogram percentile distributions), <code>faults.toml</code>, <code>scenario.toml</code>.</p>";
    out += super::timeline::SCRIPT;
    out += "</body></html>\n";
    out
}

/// Latency of every operation against its start time; failures and unknowns along the top,
/// faults as vertical lines, the fault window shaded.
fn plot(report: &RunReport, operations: &[OpRecord]) -> String {
    if operations.is_empty() {
        return String::new();
    }
    let s = &report.summary;
    let end = s.sim_time_ns.max(1) as f64;
    let ok_latency =
        |r: &OpRecord| matches!(r.completed, Some((_, Outcome::Ok(_)))).then(|| r.latency_nanos()).flatten();
    let max_latency = operations.iter().filter_map(ok_latency).max().unwrap_or(1).max(1) as f64;
    let x = |ns: u64| LEFT + ns as f64 / end * (WIDTH - LEFT - 10.0);
    let y = |ns: u64| HEIGHT - BOTTOM - ns as f64 / max_latency * (HEIGHT - BOTTOM - 20.0);
    let mut svg = format!(
        "<h2>Latency over time</h2><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         font-size=\"11\"><rect x=\"{LEFT}\" y=\"10\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"#999\"/>",
        w = WIDTH - LEFT - 10.0,
        h = HEIGHT - BOTTOM - 10.0
    );
    if let Some([start, stop]) = s.fault_window_ns {
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"10\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#fbe3e3\"/>",
            x(start),
            (x(stop) - x(start)).max(1.0),
            HEIGHT - BOTTOM - 10.0
        );
    }
    for fault in &s.faults {
        let at = x(fault.at_ns);
        let _ = write!(
            svg,
            "<line x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"10\" y2=\"{:.1}\" stroke=\"#c44\" stroke-dasharray=\"3,3\">\
             <title>{:.3} s: {}</title></line>",
            HEIGHT - BOTTOM,
            fault.at_ns as f64 / 1e9,
            escape(&fault.fault)
        );
    }
    let stride = operations.len().div_ceil(MAX_POINTS);
    for record in operations.iter().step_by(stride) {
        let cx = x(record.intended.as_nanos());
        let (cy, colour) = match (&record.completed, ok_latency(record)) {
            (_, Some(latency)) => (y(latency), "#2a6ebb"),
            (Some((_, Outcome::Fail)), _) => (14.0, "#b00020"),
            _ => (18.0, "#e08a00"),
        };
        let _ = write!(svg, "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"1.3\" fill=\"{colour}\"/>");
    }
    let _ = write!(
        svg,
        "<text x=\"{LEFT}\" y=\"{:.0}\">0 s</text><text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{:.1} s</text>\
         <text x=\"{:.0}\" y=\"24\" text-anchor=\"end\">{:.1} ms</text><text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">0</text></svg>\
         <p>Each dot is an operation at its start time: blue, ok at its latency; orange along the top, \
         unknown outcome (info) or never completed; red, failed. Dashed lines are faults (hover for which); \
         the shaded band is the fault window.{}</p>",
        HEIGHT - 12.0,
        WIDTH - 10.0,
        HEIGHT - 12.0,
        end / 1e9,
        LEFT - 4.0,
        max_latency / 1e6,
        LEFT - 4.0,
        HEIGHT - BOTTOM,
        if stride > 1 { format!(" Every {stride}th operation is drawn.") } else { String::new() }
    );
    svg
}
