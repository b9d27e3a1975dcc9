//! `--html`: a sweep's summary as one self-contained page: the scenarios with their
//! digests, failures by bucket with every failed seed (up to a limit) linked to its report
//! folder's `report.html`, latency over all seeds, the coverage ledger and the slowest
//! seeds. A sweep of 10,000 seeds stays small: seeds are listed only when they failed or
//! were among the slowest, never drawn one by one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sim::report::escape;

use super::summary::Summary;
use super::SeedResult;

/// At most this many failed seeds are linked per bucket (the count says how many there are).
const LINKED: usize = 200;

/// Where a failed seed's report page is, as a link from the page at `page` (relative when
/// the reports are under the page's folder, else absolute), if it was written.
fn report_link(reports: Option<&Path>, page: &Path, name: &str, seed: u64) -> Option<String> {
    let file = reports?.join(name).join(seed.to_string()).join("report.html");
    let file = file.canonicalize().ok()?;
    let folder: PathBuf =
        page.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).into();
    let folder = folder.canonicalize().ok()?;
    Some(match file.strip_prefix(&folder) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => format!("file://{}", file.display()),
    })
}

/// The page.
pub fn page(summary: &Summary, results: &[SeedResult], reports: Option<&Path>, page: &Path) -> String {
    let mut out = String::new();
    let verdict = if summary.failed > 0 { ("FAILED", "fail") } else { ("PASSED", "pass") };
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sweep: {v}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         td:first-child,th:first-child,td.text{{text-align:left}}.pass{{color:#17692b}}.fail{{color:#b00020}}\
         .never{{color:#b00020;font-weight:bold}}code{{background:#f4f4f4;padding:2px 4px}}\
         </style></head><body><h1>Sweep <span class=\"{class}\">{v}</span></h1>\
         <p>{seeds} seeds: {passed} passed, {failed} failed, {inconclusive} inconclusive. Digest over every seed's \
         trace hash <code>{digest}</code>.</p>",
        v = verdict.0,
        class = verdict.1,
        seeds = summary.seeds,
        passed = summary.passed,
        failed = summary.failed,
        inconclusive = summary.inconclusive,
        digest = summary.digest,
    );
    out += "<h2>Scenarios</h2><table><tr><th>scenario</th><th>file</th><th>seeds</th><th>passed</th>\
            <th>failed</th><th>inconclusive</th><th>events</th><th>digest</th></tr>";
    for (file, s) in &summary.scenarios {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td><td class=\"pass\">{}</td><td class=\"{}\">{}</td>\
             <td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&s.name),
            escape(file),
            s.seeds,
            s.passed,
            if s.failed > 0 { "fail" } else { "pass" },
            s.failed,
            s.inconclusive,
            s.events,
            s.digest
        );
    }
    out += "</table><h2>Failures by bucket</h2>";
    let mut any = false;
    for (file, s) in &summary.scenarios {
        for (bucket, b) in &s.buckets {
            any = true;
            let seeds: Vec<&SeedResult> = results
                .iter()
                .filter(|r| &r.scenario == file && !r.passed && r.bucket.as_deref() == Some(bucket.as_str()))
                .collect();
            let links: Vec<String> = seeds
                .iter()
                .take(LINKED)
                .map(|r| match report_link(reports, page, &r.name, r.seed) {
                    Some(link) => format!("<a class=\"seed\" href=\"{}\">{}</a>", escape(&link), r.seed),
                    None => format!("<span class=\"seed\">{}</span>", r.seed),
                })
                .collect();
            let _ = write!(
                out,
                "<h3>{} <small>({})</small>: {} seeds</h3><p><code>{}</code></p><p>{}</p><p>Seeds: {}{}</p>\
                 <p>Reproduce the first: <code>{}</code></p>",
                escape(&s.name),
                escape(file),
                b.count,
                escape(bucket),
                escape(&b.example),
                links.join(" "),
                if seeds.len() > LINKED {
                    format!(" and {} more", seeds.len() - LINKED)
                } else {
                    String::new()
                },
                escape(&b.reproduce)
            );
        }
    }
    if !any {
        out += "<p>None.</p>";
    }
    out += "<h2>Latency over all seeds</h2><p>Ok operations of every seed, their HdrHistograms added up \
            (simulated ms).</p><table><tr><th>scenario</th><th>operation</th><th>count</th><th>p50</th><th>p90</th>\
            <th>p99</th><th>p99.9</th><th>max</th></tr>";
    for s in summary.scenarios.values() {
        for (op, l) in &s.latency {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td>\
                 <td>{:.3}</td><td>{:.3}</td></tr>",
                escape(&s.name),
                escape(op),
                l.count,
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max
            );
        }
    }
    out += "</table><h2>Coverage</h2><p>In how many seeds each sometimes-assertion fired (NEVER FIRED: what the \
            seeds did not explore) and each fault kind was applied.</p><table><tr><th>scenario</th><th>what</th>\
            <th>seeds</th><th>of</th></tr>";
    for s in summary.scenarios.values() {
        for (name, hits) in &s.sometimes {
            let class = if *hits == 0 { " class=\"never\"" } else { "" };
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"text\"{class}>{}{}</td><td>{hits}</td><td>{}</td></tr>",
                escape(&s.name),
                escape(name),
                if *hits == 0 { " (NEVER FIRED)" } else { "" },
                s.seeds
            );
        }
        for (kind, c) in &s.faults {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"text\">fault {} ({} applied, {} skipped)</td><td>{}</td><td>{}</td></tr>",
                escape(&s.name),
                escape(kind),
                c.applied,
                c.skipped,
                c.seeds,
                s.seeds
            );
        }
    }
    out +=
        "</table><h2>Slowest seeds</h2><p>Wall time in the worker (the one thing here that depends on the \
            machine).</p><table><tr><th>scenario</th><th>seed</th><th>wall ms</th></tr>";
    for (file, seed, ms) in &summary.timing.slowest {
        let _ = write!(out, "<tr><td>{}</td><td>{seed}</td><td>{ms:.0}</td></tr>", escape(file));
    }
    out += "</table></body></html>\n";
    out
}
