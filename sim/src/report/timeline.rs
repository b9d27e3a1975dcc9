//! The report's pictures in simulated time: the operation timeline (a lane per client, a bar
//! per operation, the servers' roles, crashes and pauses below, faults across), and the
//! linearizability failure view (the witness's operations numbered in the order that
//! explains them, with the model's state after each, the operation no order explains and
//! those overlapping it). Both are SVG that a small inline script zooms (wheel) and pans
//! (drag) along the time axis; a double click resets.

use std::collections::BTreeMap;
use std::f64::consts::LOG10_2;
use std::fmt::Write as _;

use super::html::escape;
use super::{RunReport, WitnessPart};
use crate::kernel::fault::{Fault, FaultOutcome, Target};
use crate::kernel::workload::{OpRecord, Outcome};

/// At most this many operations are drawn as bars; beyond it, every k-th one.
pub const MAX_BARS: usize = 6_000;

/// Up to this many servers, each has a lane; beyond it, only servers with a role or an
/// outage do (a 10,000-node DHT's report would otherwise be lanes of nothing).
const MAX_SERVER_LANES: usize = 64;

const WIDTH: f64 = 1000.0;
const LANE: f64 = 16.0;
const BAR: f64 = 11.0;

/// The zoom and pan script, once per page.
pub const SCRIPT: &str = "<script>\
document.querySelectorAll('svg.zoomable').forEach(function(svg){\
var b=svg.viewBox.baseVal,full=b.width,h=b.height,x0=0,w=full,drag=null,\
span=+svg.dataset.spanNs,start=+(svg.dataset.startNs||0),label=document.getElementById(svg.id+'-range');\
function show(){svg.setAttribute('viewBox',x0+' 0 '+w+' '+h);if(label){label.textContent=\
((start+x0/full*span)/1e9).toFixed(3)+' s to '+((start+(x0+w)/full*span)/1e9).toFixed(3)+' s';}}\
function clamp(){w=Math.max(full/5000,Math.min(full,w));x0=Math.max(0,Math.min(x0,full-w));show();}\
svg.addEventListener('wheel',function(e){e.preventDefault();var r=svg.getBoundingClientRect(),\
f=(e.clientX-r.left)/r.width,at=x0+f*w;w=w*(e.deltaY<0?0.8:1.25);x0=at-f*w;clamp();},{passive:false});\
svg.addEventListener('mousedown',function(e){drag={x:e.clientX,x0:x0};e.preventDefault();});\
window.addEventListener('mousemove',function(e){if(drag){var r=svg.getBoundingClientRect();\
x0=drag.x0-(e.clientX-drag.x)/r.width*w;clamp();}});\
window.addEventListener('mouseup',function(){drag=null;});\
svg.addEventListener('dblclick',function(){x0=0;w=full;clamp();});show();});\
</script>";

/// The page's CSS for the pictures.
pub const STYLE: &str = ".ok{fill:#2a6ebb}.failed{fill:#b00020}.info{fill:#e08a00}.open{fill:#bbb}\
    rect.op{stroke:none}rect.stuck{stroke:#000;stroke-width:2px;vector-effect:non-scaling-stroke}\
    rect.overlapping{fill:#e08a00}rect.linearized{fill:#2a6ebb}.lanes{display:flex;align-items:flex-start}\
    .names{font-size:11px;line-height:16px;padding-top:0;margin-right:4px;text-align:right;white-space:nowrap}\
    svg.zoomable{border:1px solid #999;cursor:grab;flex:1;min-width:0}\
    .legend .sw{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px}";

/// A time axis mapping [0, span] nanoseconds onto the picture's width.
struct Axis {
    start: u64,
    span: u64,
}

impl Axis {
    fn x(&self, ns: u64) -> f64 {
        ns.saturating_sub(self.start) as f64 / self.span.max(1) as f64 * WIDTH
    }
}

fn seconds(ns: u64) -> String {
    format!("{:.6} s", ns as f64 / 1e9)
}

fn outcome_class(record: &OpRecord) -> (&'static str, String) {
    match &record.completed {
        Some((_, Outcome::Ok(value))) => ("ok", format!("ok {value}")),
        Some((_, Outcome::Fail)) => ("failed", "failed".to_owned()),
        Some((_, Outcome::Info)) => ("info", "unknown (info)".to_owned()),
        None => ("open", "never completed".to_owned()),
    }
}

/// The node a realized fault acts on, for the per-node lanes.
fn node_of(target: &Target) -> Option<u32> {
    match target {
        Target::Node(node) => Some(node.0),
        _ => None,
    }
}

/// Down (crashed) and paused intervals per node, from the realized fault log.
fn down_intervals(report: &RunReport, end: u64) -> BTreeMap<u32, Vec<(u64, u64, &'static str)>> {
    let mut open: BTreeMap<(u32, &'static str), u64> = BTreeMap::new();
    let mut intervals: BTreeMap<u32, Vec<(u64, u64, &'static str)>> = BTreeMap::new();
    for record in report.fault_log.iter().filter(|r| r.outcome == FaultOutcome::Applied) {
        let at = record.time.as_nanos();
        let (node, kind, starts) = match &record.fault {
            Fault::Crash(t) => (node_of(t), "down", true),
            Fault::Restart(t) => (node_of(t), "down", false),
            Fault::Pause(t) => (node_of(t), "paused", true),
            Fault::Resume(t) => (node_of(t), "paused", false),
            _ => continue,
        };
        let Some(node) = node else { continue };
        if starts {
            open.entry((node, kind)).or_insert(at);
        } else if let Some(from) = open.remove(&(node, kind)) {
            intervals.entry(node).or_default().push((from, at, kind));
        }
    }
    for ((node, kind), from) in open {
        intervals.entry(node).or_default().push((from, end, kind));
    }
    intervals
}

/// The operation timeline with the servers' state below it.
pub fn operations(report: &RunReport, operations: &[OpRecord]) -> String {
    let s = &report.summary;
    let end = s.sim_time_ns.max(1);
    let axis = Axis { start: 0, span: end };
    let mut clients: Vec<u32> = operations.iter().map(|r| r.client.0).collect();
    clients.sort_unstable();
    clients.dedup();
    // The servers' roles as segments, and their down and paused intervals.
    let mut current: BTreeMap<u32, (u64, Option<&'static str>)> = BTreeMap::new();
    let mut segments: Vec<(u32, u64, u64, &'static str)> = Vec::new();
    for change in report.roles.iter().filter(|c| c.node < report.servers) {
        if let Some((from, Some(role))) = current.insert(change.node, (change.at_ns, change.role)) {
            segments.push((change.node, from, change.at_ns, role));
        }
    }
    for (node, (from, role)) in current {
        if let Some(role) = role {
            segments.push((node, from, end, role));
        }
    }
    let mut intervals = down_intervals(report, end);
    intervals.retain(|node, _| *node < report.servers);
    // A lane per server; beyond MAX_SERVER_LANES, only for servers with a role or an outage.
    let servers: Vec<u32> = if report.servers as usize <= MAX_SERVER_LANES {
        (0..report.servers).collect()
    } else {
        let mut shown: Vec<u32> = segments.iter().map(|s| s.0).chain(intervals.keys().copied()).collect();
        shown.sort_unstable();
        shown.dedup();
        shown.truncate(MAX_SERVER_LANES);
        shown
    };
    let server_lane: BTreeMap<u32, usize> =
        servers.iter().enumerate().map(|(i, s)| (*s, clients.len() + i)).collect();
    let lane_of: BTreeMap<u32, usize> = clients.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let height = (clients.len() + servers.len()) as f64 * LANE + 4.0;
    let stuck = report.witness.as_ref().and_then(|steps| steps.iter().find(|s| s.part == WitnessPart::Stuck));
    let mut names = String::new();
    for client in &clients {
        let _ = write!(names, "<div>client n{client}</div>");
    }
    for server in &servers {
        let _ = write!(names, "<div>server n{server}</div>");
    }
    let mut svg = format!(
        "<svg id=\"timeline\" class=\"zoomable\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         preserveAspectRatio=\"none\" height=\"{height}\" data-span-ns=\"{end}\">"
    );
    if let Some([from, to]) = s.fault_window_ns {
        let _ = write!(
            svg,
            "<rect class=\"window\" x=\"{:.3}\" y=\"0\" width=\"{:.3}\" height=\"{height}\" fill=\"#fbe3e3\"/>",
            axis.x(from),
            (axis.x(to) - axis.x(from)).max(0.5)
        );
    }
    for (i, _) in clients.iter().chain(&servers).enumerate() {
        let _ = write!(
            svg,
            "<g class=\"lane\"><line x1=\"0\" x2=\"{WIDTH}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\" \
             vector-effect=\"non-scaling-stroke\"/></g>",
            y = (i as f64 + 1.0) * LANE
        );
    }
    let stride = operations.len().div_ceil(MAX_BARS).max(1);
    for record in operations.iter().step_by(stride) {
        let start = record.invoked.unwrap_or(record.intended).as_nanos();
        let stop = record.completed.as_ref().map_or(end, |(at, _)| at.as_nanos());
        let (class, result) = outcome_class(record);
        let is_stuck = stuck.is_some_and(|w| w.process == record.op.process && w.call_ns == start);
        let op = &record.op;
        let _ = write!(
            svg,
            "<rect class=\"op {class}{}\" x=\"{:.3}\" y=\"{:.1}\" width=\"{:.3}\" height=\"{BAR}\">\
             <title>#{} client n{} process {}: {} key {} {} -&gt; {result}\n{} .. {}{}</title></rect>",
            if is_stuck { " stuck" } else { "" },
            axis.x(start),
            lane_of[&record.client.0] as f64 * LANE + 2.0,
            (axis.x(stop) - axis.x(start)).max(0.3),
            op.id,
            record.client.0,
            op.process,
            escape(&op.f),
            op.key,
            escape(&op.value.to_string()),
            seconds(start),
            record.completed.as_ref().map_or("open".to_owned(), |(at, _)| seconds(at.as_nanos())),
            if is_stuck { "\nno order of the history explains its result" } else { "" },
        );
    }
    // The servers: roles as segments, down and paused intervals over them.
    for (node, from, to, role) in &segments {
        let Some(lane) = server_lane.get(node) else { continue };
        let colour = if *role == "leader" { "#1b5e20" } else { "#a5d6a7" };
        let _ = write!(
            svg,
            "<rect class=\"role\" x=\"{:.3}\" y=\"{:.1}\" width=\"{:.3}\" height=\"{BAR}\" fill=\"{colour}\">\
             <title>n{node} {}: {} .. {}</title></rect>",
            axis.x(*from),
            *lane as f64 * LANE + 2.0,
            (axis.x(*to) - axis.x(*from)).max(0.3),
            escape(role),
            seconds(*from),
            seconds(*to)
        );
    }
    for (node, intervals) in intervals {
        let Some(lane) = server_lane.get(&node) else { continue };
        for (from, to, kind) in intervals {
            let colour = if kind == "down" { "#b00020" } else { "#777" };
            let _ = write!(
                svg,
                "<rect class=\"{kind}\" x=\"{:.3}\" y=\"{:.1}\" width=\"{:.3}\" height=\"{BAR}\" fill=\"{colour}\" \
                 fill-opacity=\"0.55\"><title>n{node} {kind}: {} .. {}</title></rect>",
                axis.x(from),
                *lane as f64 * LANE + 2.0,
                (axis.x(to) - axis.x(from)).max(0.3),
                seconds(from),
                seconds(to)
            );
        }
    }
    for fault in &s.faults {
        let at = axis.x(fault.at_ns);
        let _ = write!(
            svg,
            "<line class=\"fault\" x1=\"{at:.3}\" x2=\"{at:.3}\" y1=\"0\" y2=\"{height}\" stroke=\"#c44\" \
             stroke-dasharray=\"3,3\" vector-effect=\"non-scaling-stroke\"><title>{}: {} ({})</title></line>",
            seconds(fault.at_ns),
            escape(&fault.fault),
            escape(&fault.outcome)
        );
    }
    svg += "</svg>";
    format!(
        "<h2>Timeline</h2><p class=\"legend\">Operations by client, from invocation to completion in simulated \
         time:<span class=\"sw\" style=\"background:#2a6ebb\"></span>ok<span class=\"sw\" style=\"background:#b00020\"></span>failed\
         <span class=\"sw\" style=\"background:#e08a00\"></span>unknown<span class=\"sw\" style=\"background:#bbb\"></span>never completed; \
         servers below: <span class=\"sw\" style=\"background:#1b5e20\"></span>leader<span class=\"sw\" style=\"background:#a5d6a7\"></span>\
         other roles<span class=\"sw\" style=\"background:#b00020;opacity:.55\"></span>down<span class=\"sw\" style=\"background:#777;opacity:.55\">\
         </span>paused; dashed lines are faults, the shaded band the fault window{}. Hover for details; wheel to zoom, \
         drag to pan, double click to reset. Showing <span id=\"timeline-range\"></span>.{}</p>\
         <div class=\"lanes\"><div class=\"names\">{names}</div>{svg}</div>",
        if stuck.is_some() { "; the outlined bar is the operation no order explains" } else { "" },
        if stride > 1 { format!(" Every {stride}th operation is drawn.") } else { String::new() }
    )
}

/// The linearizability failure view, if the run has a witness.
pub fn failure(report: &RunReport) -> String {
    let Some(steps) = &report.witness else { return String::new() };
    let (Some(first), Some(last)) = (
        steps.iter().map(|s| s.call_ns).min(),
        steps.iter().map(|s| s.ret_ns.unwrap_or(report.summary.sim_time_ns)).max(),
    ) else {
        return String::new();
    };
    let margin = (last - first) / 50 + 1;
    let axis = Axis { start: first.saturating_sub(margin), span: last - first + 2 * margin };
    let mut processes: Vec<u64> = steps.iter().map(|s| s.process).collect();
    processes.sort_unstable();
    processes.dedup();
    let lane: BTreeMap<u64, usize> = processes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let height = processes.len() as f64 * LANE + 4.0;
    let mut names = String::new();
    for process in &processes {
        let client = steps.iter().find(|s| s.process == *process).map_or(0, |s| s.client);
        let _ = write!(names, "<div>n{client} p{process}</div>");
    }
    let mut svg = format!(
        "<svg id=\"witness\" class=\"zoomable\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         preserveAspectRatio=\"none\" height=\"{height}\" data-span-ns=\"{}\" data-start-ns=\"{}\">",
        axis.span,
        axis.start
    );
    let mut rows = String::new();
    for step in steps {
        let (class, label) = match step.part {
            WitnessPart::Linearized(n) => ("linearized", n.to_string()),
            WitnessPart::Unordered => ("linearized", String::new()),
            WitnessPart::Stuck => ("failed stuck", "✗".to_owned()),
            WitnessPart::Overlapping => ("overlapping", "~".to_owned()),
        };
        let stop = step.ret_ns.unwrap_or(report.summary.sim_time_ns);
        let x = axis.x(step.call_ns);
        let y = lane[&step.process] as f64 * LANE + 2.0;
        let _ = write!(
            svg,
            "<rect class=\"op {class}\" x=\"{x:.3}\" y=\"{y:.1}\" width=\"{:.3}\" height=\"{BAR}\">\
             <title>{label} n{} p{} {}\n{} .. {}{}</title></rect>",
            (axis.x(stop) - x).max(12.0),
            step.client,
            step.process,
            escape(&step.action),
            seconds(step.call_ns),
            step.ret_ns.map_or("open".to_owned(), seconds),
            step.state.as_ref().map_or(String::new(), |s| format!("\nstate after: {}", escape(s))),
        );
        let _ = write!(
            rows,
            "<tr class=\"{class}\"><td>{label}</td><td>n{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td style=\"text-align:left\">{}</td><td style=\"text-align:left\">{}</td></tr>",
            step.client,
            step.process,
            seconds(step.call_ns),
            step.ret_ns.map_or("open".to_owned(), seconds),
            escape(&step.action),
            step.state.as_ref().map_or(String::new(), |s| escape(s))
        );
    }
    // The order numbers, drawn after the bars; they stretch with a zoom but stay legible at 1x.
    for step in steps {
        if let WitnessPart::Linearized(n) = step.part {
            let _ = write!(
                svg,
                "<text class=\"order\" x=\"{:.3}\" y=\"{:.1}\" font-size=\"10\" fill=\"#fff\">{n}</text>",
                axis.x(step.call_ns) + 1.0,
                lane[&step.process] as f64 * LANE + 11.0
            );
        }
    }
    svg += "</svg>";
    let ordered = steps.iter().any(|s| matches!(s.part, WitnessPart::Linearized(_)));
    format!(
        "<h2 class=\"fail\">Linearizability failure</h2><p>The operations of the failing partition that the checker \
         linearized on the path that got furthest{}, the operation whose result no order of them explains (outlined, \
         ✗), and the operations overlapping it (~), between {} and {}. Wheel to zoom, drag to pan. Showing \
         <span id=\"witness-range\"></span>.</p><div class=\"lanes\"><div class=\"names\">{names}</div>{svg}</div>\
         <table><tr><th>#</th><th>client</th><th>process</th><th>invoked</th><th>completed</th><th>operation</th>\
         <th>state after</th></tr>{rows}</table>",
        if ordered { ", numbered in an order that explains them, with the model's state after each" } else { "" },
        seconds(first),
        seconds(last)
    )
}

/// Quantiles drawn on the percentile plot with their place on its axis, log10(1/(1-q)) as
/// HdrHistogram's plotter spaces them (written out: no platform math in `sim`); the maximum
/// (q = 1) is drawn at the right edge.
const QUANTILES: [(f64, f64); 12] = [
    (0.0, 0.0),
    (0.5, LOG10_2),
    (0.75, 2.0 * LOG10_2),
    (0.9, 1.0),
    (0.95, 1.0 + LOG10_2),
    (0.99, 2.0),
    (0.995, 2.0 + LOG10_2),
    (0.999, 3.0),
    (0.9995, 3.0 + LOG10_2),
    (0.9999, 4.0),
    (0.99999, 5.0),
    (1.0, 5.0),
];

/// Colours for the operations' lines, in order.
const COLOURS: [&str; 8] =
    ["#2a6ebb", "#b00020", "#1b5e20", "#e08a00", "#6a1b9a", "#00838f", "#5d4037", "#c2185b"];

/// The latency percentile distribution of each operation (HdrHistogram's plot: the
/// percentile on a log axis of 1/(1-q), latency in simulated ms), and ok operations
/// completed per second over the run.
pub fn latency(report: &RunReport, operations: &[OpRecord]) -> String {
    const W: f64 = 900.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 60.0;
    const BOTTOM: f64 = 30.0;
    let histograms: Vec<(&String, &hdrhistogram::Histogram<u64>)> = report
        .histograms
        .iter()
        .filter(|((_, phase), h)| phase.is_none() && !h.is_empty())
        .map(|((op, _), h)| (op, h))
        .collect();
    if histograms.is_empty() {
        return String::new();
    }
    // x: log10 of 1/(1-q), 0 (q = 0) to 5 (q = 0.99999; the maximum is drawn there too).
    let x = |decades: f64| LEFT + decades / 5.0 * (W - LEFT - 10.0);
    let top = histograms.iter().map(|(_, h)| h.max()).max().unwrap_or(1).max(1) as f64 / 1e6;
    let y = |ms: f64| H - BOTTOM - ms / top * (H - BOTTOM - 10.0);
    let mut svg = format!(
        "<svg id=\"percentiles\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-size=\"11\">\
         <rect x=\"{LEFT}\" y=\"10\" width=\"{:.0}\" height=\"{:.0}\" fill=\"none\" stroke=\"#999\"/>",
        W - LEFT - 10.0,
        H - BOTTOM - 10.0
    );
    for (label, decades) in
        [("0%", 0.0), ("90%", 1.0), ("99%", 2.0), ("99.9%", 3.0), ("99.99%", 4.0), ("max", 5.0)]
    {
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"10\" y2=\"{:.0}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.0}\" \
             text-anchor=\"middle\">{label}</text>",
            H - BOTTOM,
            H - 12.0,
            x = x(decades)
        );
    }
    // A distribution's polyline points.
    let points = |histogram: &hdrhistogram::Histogram<u64>| {
        let point = |&(q, decades): &(f64, f64)| {
            let ms = if q >= 1.0 { histogram.max() } else { histogram.value_at_quantile(q) } as f64 / 1e6;
            format!("{:.1},{:.1}", x(decades), y(ms))
        };
        QUANTILES.iter().map(point).collect::<Vec<_>>().join(" ")
    };
    let mut legend = String::new();
    for (index, (op, histogram)) in histograms.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let _ = write!(
            svg,
            "<polyline class=\"percentiles\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\">\
             <title>{}: p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms ({} ok)</title></polyline>",
            points(histogram),
            escape(op),
            histogram.value_at_quantile(0.5) as f64 / 1e6,
            histogram.value_at_quantile(0.99) as f64 / 1e6,
            histogram.value_at_quantile(0.999) as f64 / 1e6,
            histogram.max() as f64 / 1e6,
            histogram.len()
        );
        let _ = write!(legend, "<span class=\"sw\" style=\"background:{colour}\"></span>{}", escape(op));
        // Its phases (before, during, after the faults), thin and dashed in its colour.
        let phases = report.histograms.iter().filter_map(|((name, phase), h)| match phase {
            Some(phase) if name == *op && !h.is_empty() => Some((phase, h)),
            _ => None,
        });
        for (phase, histogram) in phases {
            let dash = match phase.name() {
                "before" => "1,3",
                "during" => "6,3",
                _ => "2,2",
            };
            let _ = write!(
                svg,
                "<polyline class=\"percentiles phase\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" \
                 stroke-width=\"0.8\" stroke-dasharray=\"{dash}\"><title>{} {} the faults: p50 {:.3} ms, p99 {:.3} ms, \
                 max {:.3} ms ({} ok)</title></polyline>",
                points(histogram),
                escape(op),
                phase.name(),
                histogram.value_at_quantile(0.5) as f64 / 1e6,
                histogram.value_at_quantile(0.99) as f64 / 1e6,
                histogram.max() as f64 / 1e6,
                histogram.len()
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{:.0}\" y=\"20\" text-anchor=\"end\">{top:.1} ms</text><text x=\"{:.0}\" y=\"{:.0}\" \
         text-anchor=\"end\">0</text></svg>",
        LEFT - 4.0,
        LEFT - 4.0,
        H - BOTTOM
    );
    // Throughput: ok completions per simulated second.
    let seconds = report.summary.sim_time_ns.div_ceil(1_000_000_000).max(1) as usize;
    let mut per_second = vec![0u64; seconds];
    for record in operations {
        if let Some((at, Outcome::Ok(_))) = &record.completed {
            per_second[((at.as_nanos() / 1_000_000_000) as usize).min(seconds - 1)] += 1;
        }
    }
    let peak = per_second.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar = (W - LEFT - 10.0) / seconds as f64;
    let mut throughput = format!(
        "<svg id=\"throughput\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"140\" font-size=\"11\">\
         <rect x=\"{LEFT}\" y=\"10\" width=\"{:.0}\" height=\"100\" fill=\"none\" stroke=\"#999\"/>",
        W - LEFT - 10.0
    );
    for (second, count) in per_second.iter().enumerate() {
        let h = *count as f64 / peak * 100.0;
        let _ = write!(
            throughput,
            "<rect class=\"second\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{h:.2}\" fill=\"#2a6ebb\">\
             <title>{second} s: {count} ok</title></rect>",
            LEFT + second as f64 * bar,
            110.0 - h,
            (bar - 0.5).max(0.5)
        );
    }
    for fault in &report.summary.faults {
        let at = LEFT + fault.at_ns as f64 / 1e9 * bar;
        let _ = write!(
            throughput,
            "<line x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"10\" y2=\"110\" stroke=\"#c44\" stroke-dasharray=\"3,3\"><title>{}</title></line>",
            escape(&fault.fault)
        );
    }
    let _ = write!(
        throughput,
        "<text x=\"{:.0}\" y=\"20\" text-anchor=\"end\">{peak:.0}/s</text><text x=\"{LEFT}\" y=\"128\">0 s</text>\
         <text x=\"{:.0}\" y=\"128\" text-anchor=\"end\">{seconds} s</text></svg>",
        LEFT - 4.0,
        W - 10.0
    );
    format!(
        "<h2>Latency percentiles</h2><p class=\"legend\">Each operation's latency distribution in simulated time \
         (ok operations; the percentile on a log axis, as HdrHistogram plots it; the <code>.hgrm</code> files hold \
         the same; thin dashed lines: before, during and after the faults):{legend}</p>{svg}<h2>Throughput</h2><p>Operations completed ok per simulated second; dashed lines \
         are faults.</p>{throughput}"
    )
}

/// The system's own series per node (`Ctx::series`), each a step line over the run, one
/// chart per series with a line per node; zoomed and panned like the timeline.
pub fn series(report: &RunReport) -> String {
    if report.series.is_empty() {
        return String::new();
    }
    const H: f64 = 120.0;
    let end = report.summary.sim_time_ns.max(1);
    let axis = Axis { start: 0, span: end };
    let mut names: Vec<&String> = report.series.keys().map(|(name, _)| name).collect();
    names.dedup();
    let mut out = String::from(
        "<h2>Per-node state</h2><p class=\"legend\">What each node reported of its own state over the run \
         (the system's series; roles, crashes and pauses are on the timeline). Hover a line for its node; wheel \
         to zoom, drag to pan.</p>",
    );
    for (chart, name) in names.into_iter().enumerate() {
        let lines: Vec<(&u32, &Vec<(u64, i64)>)> = report
            .series
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, node), points)| (node, points))
            .collect();
        let values = lines.iter().flat_map(|(_, points)| points.iter().map(|(_, v)| *v));
        let (low, high) = values.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let range = (high - low).max(1) as f64;
        let y = |v: i64| H - 6.0 - (v - low) as f64 / range * (H - 12.0);
        let id = format!("series-{chart}");
        let _ = write!(
            out,
            "<h3>{} <small>({low} to {high})</small></h3><div class=\"lanes\"><div class=\"names\"></div>\
             <svg id=\"{id}\" class=\"zoomable\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {H}\" \
             preserveAspectRatio=\"none\" height=\"{H}\" data-span-ns=\"{end}\">",
            escape(name)
        );
        let mut legend = String::new();
        for (index, (node, points)) in lines.iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            let mut path = String::new();
            for (i, (at, value)) in points.iter().enumerate() {
                let x = axis.x(*at);
                if i == 0 {
                    let _ = write!(path, "M{x:.3},{:.2}", y(*value));
                } else {
                    let _ = write!(path, " H{x:.3} V{:.2}", y(*value));
                }
            }
            let last = points.last().map_or(0, |(_, v)| *v);
            let _ = write!(
                out,
                "<path class=\"series\" d=\"{path} H{WIDTH}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" \
                 vector-effect=\"non-scaling-stroke\"><title>n{node} {}: {} changes, last {last}</title></path>",
                escape(name),
                points.len()
            );
            let _ = write!(legend, "<span class=\"sw\" style=\"background:{colour}\"></span>n{node}");
        }
        let _ = write!(
            out,
            "</svg></div><p class=\"legend\">{legend} Showing <span id=\"{id}-range\"></span>.</p>"
        );
    }
    out
}

/// The message diagram (Maelstrom's messages.svg, on its side): a lane per node, an arrow
/// per message from its send to its arrival; datagrams blue, messages on connections teal;
/// lost ones (and ones on a closed connection) end in a cross, ones sent over a cut link are
/// dashed orange (a connection holds them: they go again at the heal, a new arrow),
/// duplicates purple. Hover for the message.
pub fn messages(report: &RunReport) -> String {
    let Some((from, to)) = report.message_window else { return String::new() };
    if report.messages.is_empty() {
        return format!(
            "<h2>Messages</h2><p>No message was sent between {} and {}.</p>",
            seconds(from),
            seconds(to)
        );
    }
    let end = report.messages.iter().filter_map(|m| m.arrives_ns).max().unwrap_or(to).max(to);
    let start = report.messages.iter().map(|m| m.sent_ns).min().unwrap_or(from).min(from);
    let axis = Axis { start, span: (end - start).max(1) };
    let mut nodes: Vec<u32> = report.messages.iter().flat_map(|m| [m.from, m.to]).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let lane: BTreeMap<u32, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let gap = 28.0;
    let height = nodes.len() as f64 * gap + 8.0;
    let y = |node: u32| lane[&node] as f64 * gap + gap / 2.0;
    let mut names = String::new();
    for node in &nodes {
        let role = if *node < report.servers { "server" } else { "client" };
        let _ = write!(names, "<div style=\"height:{gap}px;line-height:{gap}px\">{role} n{node}</div>");
    }
    let mut svg = format!(
        "<svg id=\"messages\" class=\"zoomable\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         preserveAspectRatio=\"none\" height=\"{height}\" data-span-ns=\"{}\" data-start-ns=\"{}\">",
        axis.span, axis.start
    );
    for node in &nodes {
        let _ = write!(
            svg,
            "<line class=\"node\" x1=\"0\" x2=\"{WIDTH}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\" \
             vector-effect=\"non-scaling-stroke\"/>",
            y = y(*node)
        );
    }
    for m in &report.messages {
        let (x1, y1, y2) = (axis.x(m.sent_ns), y(m.from), y(m.to));
        let (colour, dash) = match m.fate {
            "lost" | "closed" => ("#b00020", " stroke-dasharray=\"4,3\""),
            "cut" | "held" => ("#e08a00", " stroke-dasharray=\"4,3\""),
            "duplicate" | "replayed" => ("#6a1b9a", ""),
            "stream" => ("#00897b", ""),
            _ => ("#2a6ebb", ""),
        };
        // A message that never arrives is drawn a third of the way and crossed out (a held
        // one is not crossed: it goes again at the heal).
        let (x2, y2, cross) = match m.arrives_ns {
            Some(at) => (axis.x(at), y2, false),
            None => (x1 + (WIDTH / 60.0), y1 + (y2 - y1) / 3.0, m.fate != "held"),
        };
        let what: String = m.what.chars().take(300).collect();
        let _ = write!(
            svg,
            "<line class=\"message {}\" x1=\"{x1:.3}\" y1=\"{y1:.1}\" x2=\"{x2:.3}\" y2=\"{y2:.1}\" stroke=\"{colour}\"{dash} \
             vector-effect=\"non-scaling-stroke\"><title>n{} -&gt; n{} {}: sent {}{}\n{}</title></line>",
            m.fate,
            m.from,
            m.to,
            m.fate,
            seconds(m.sent_ns),
            m.arrives_ns.map_or(String::new(), |at| format!(", arrives {}", seconds(at))),
            escape(&what)
        );
        let _ = write!(
            svg,
            "<circle cx=\"{x2:.3}\" cy=\"{y2:.1}\" r=\"2\" fill=\"{}\"/>",
            if cross { "#b00020" } else { colour }
        );
    }
    svg += "</svg>";
    format!(
        "<h2>Messages</h2><p class=\"legend\">{} messages sent between {} and {} (the last {} of the window; \
         a failing run's window ends at the operation no order explains and starts at the write it should \
         have seen; <code>simctl run --messages FROM..TO</code> picks another), each from its send to its arrival \
         (the dot):<span class=\"sw\" style=\"background:#2a6ebb\"></span>datagram delivered or on its way\
         <span class=\"sw\" style=\"background:#00897b\"></span>on a connection\
         <span class=\"sw\" style=\"background:#6a1b9a\"></span>duplicate<span class=\"sw\" style=\"background:#b00020\">\
         </span>lost, or on a closed connection<span class=\"sw\" style=\"background:#e08a00\"></span>sent over a cut \
         link (a connection holds it and sends it again at the heal: a new arrow). A delivery may still find its \
         receiver down or its connection closed (see the trace). Wheel to zoom, drag to pan. Showing <span id=\"messages-range\"></span>.</p>\
         <div class=\"lanes\"><div class=\"names\">{names}</div>{svg}</div>",
        report.messages.len(),
        seconds(from),
        seconds(to),
        report.messages.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_maps_its_span_onto_the_width() {
        let axis = Axis { start: 100, span: 1_000 };
        assert_eq!(axis.x(100), 0.0);
        assert_eq!(axis.x(1_100), WIDTH);
        assert_eq!(axis.x(50), 0.0, "before the start: at the left edge");
    }
}
