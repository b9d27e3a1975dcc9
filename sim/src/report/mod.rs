//! What a run reports: the summary, latency histograms, and the report folder.
//!
//! A report folder (`reports/<scenario>/<seed>/`) holds `report.html` (a page a person can
//! open), `summary.json`, one `.hgrm` per
//! operation kind and per kind and phase (HdrHistogram's percentile-distribution text, in
//! milliseconds), `history.jsonl`, the realized `faults.toml`, `scenario.toml` (the scenario
//! as run, for `simctl replay`), and `trace.jsonl` when asked for.

mod html;
mod timeline;

pub use html::escape;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::judge::{CheckKind, Failure, Verdict};
use crate::kernel::history::HistoryEvent;
use crate::kernel::network::{ConnectionStats, NetworkStats};
use crate::scenario::Phase;

/// Significant figures kept by latency histograms.
pub const SIGNIFICANT_FIGURES: u8 = 3;

/// Percentiles of one set of latencies, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatencyStats {
    /// How many operations.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

impl LatencyStats {
    /// The percentiles of a histogram of nanoseconds.
    pub fn of(histogram: &Histogram<u64>) -> LatencyStats {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        LatencyStats {
            count: histogram.len(),
            p50: ms(histogram.value_at_quantile(0.5)),
            p90: ms(histogram.value_at_quantile(0.9)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

/// A new latency histogram (nanoseconds, resizing as needed).
pub fn histogram() -> Histogram<u64> {
    Histogram::new(SIGNIFICANT_FIGURES).expect("3 significant figures is a valid precision")
}

/// Operation counts by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    /// Completed ok.
    pub ok: u64,
    /// Definitely did not happen.
    pub fail: u64,
    /// Unknown outcome.
    pub info: u64,
    /// Never completed (still in flight at the end).
    pub pending: u64,
}

/// Message counts, with the drop total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkSummary {
    /// `send` calls.
    pub sent: u64,
    /// Handed to a node.
    pub delivered: u64,
    /// Dropped for any reason.
    pub dropped: u64,
    /// Extra copies delivered or in flight.
    pub duplicated: u64,
    /// Dropped by the loss probability.
    pub dropped_loss: u64,
    /// Dropped by a partition.
    pub dropped_partition: u64,
    /// Dropped because the receiver was down.
    pub dropped_crashed: u64,
    /// Held by a clogged link until it unclogged.
    pub clogged: u64,
    /// Late copies of old messages (counted in `duplicated` too).
    pub replayed: u64,
    /// Lost with their connection (sent on a closed one, or undelivered when it closed).
    pub dropped_closed: u64,
    /// Retransmissions on connections.
    pub retransmitted: u64,
    /// Connections opened, refused, broken, reset and closed.
    pub connections: ConnectionStats,
}

impl From<NetworkStats> for NetworkSummary {
    fn from(stats: NetworkStats) -> NetworkSummary {
        NetworkSummary {
            sent: stats.sent,
            delivered: stats.delivered,
            dropped: stats.dropped(),
            duplicated: stats.duplicated,
            dropped_loss: stats.dropped_loss,
            dropped_partition: stats.dropped_partition,
            dropped_crashed: stats.dropped_crashed,
            clogged: stats.clogged,
            replayed: stats.replayed,
            dropped_closed: stats.dropped_closed,
            retransmitted: stats.retransmitted,
            connections: stats.connections,
        }
    }
}

/// One applied or skipped fault, for the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultLine {
    /// Its index in the schedule.
    pub index: u64,
    /// When, in nanoseconds.
    pub at_ns: u64,
    /// Its kind (`partition`, `crash`, ...): what a sweep's coverage counts.
    pub kind: crate::kernel::fault::FaultKind,
    /// What, in words.
    pub fault: String,
    /// `applied` or `skipped: why`.
    pub outcome: String,
}

/// The fault points a run with `[buggify]` had active: as a `[buggify]` table with
/// `points = 1.0` and `only` naming them, it replays the same points firing the same way.
#[derive(Clone, Debug, PartialEq)]
pub struct BuggifyRealized {
    /// The chance an active point fired at a call.
    pub fire: f64,
    /// The active points.
    pub active: Vec<String>,
}

impl BuggifyRealized {
    /// The `[buggify]` table, with a comment.
    pub fn to_toml(&self) -> String {
        let mut table = toml::Table::new();
        table.insert("points".into(), 1.0.into());
        table.insert("fire".into(), self.fire.into());
        table.insert(
            "only".into(),
            toml::Value::Array(self.active.iter().map(|p| p.as_str().into()).collect()),
        );
        let root = toml::Table::from_iter([("buggify".to_owned(), toml::Value::Table(table))]);
        format!(
            "\n# The {} fault points active in this run; this table makes the same points active\n# and fire the same way.\n{}",
            self.active.len(),
            toml::to_string(&root).expect("tables serialize")
        )
    }
}

/// `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The scenario's name.
    pub scenario: String,
    /// The system.
    pub system: String,
    /// The seed.
    pub seed: u64,
    /// The backend that ran it (native, madsim, turmoil).
    pub backend: String,
    /// How the backend mapped what it has no exact equivalent for (hosted backends only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backend_notes: Vec<String>,
    /// The trace hash, 16 hex digits.
    pub trace_hash: String,
    /// Events run.
    pub events: u64,
    /// Simulated time at the end, in nanoseconds.
    pub sim_time_ns: u64,
    /// Every check passed or was skipped.
    pub passed: bool,
    /// Check name → verdict.
    pub checks: BTreeMap<String, Verdict>,
    /// Check name → why, for every verdict but pass.
    pub reasons: BTreeMap<String, String>,
    /// The checks the scenario names as catching its bug (`[checks] caught_by`: a canary or
    /// an `-unsafe` finding).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caught_by: Vec<String>,
    /// The checks only the end of a run decides (convergence, liveness, latency bounds):
    /// unknown on a run stopped at its event budget, and not bisectable.
    pub whole_run_checks: Vec<String>,
    /// Check name → what it is about (the kernel's checks, the consistency model, the
    /// system's own).
    pub check_kinds: BTreeMap<String, CheckKind>,
    /// Operation kind → counts by outcome.
    pub ops: BTreeMap<String, OpCounts>,
    /// Operation kind → latency of operations that completed ok, in ms (failed and unknown
    /// outcomes are counted in `ops`, not timed). Open-loop latency counts from the intended
    /// start, so it is free of coordinated omission.
    pub latency: BTreeMap<String, LatencyStats>,
    /// Operation kind → phase → latency, for the phases that had operations.
    pub latency_by_phase: BTreeMap<String, BTreeMap<Phase, LatencyStats>>,
    /// The realized faults.
    pub faults: Vec<FaultLine>,
    /// First and last applied fault, in nanoseconds: the "during" phase.
    pub fault_window_ns: Option<[u64; 2]>,
    /// Message counts.
    pub network: NetworkSummary,
    /// The system's counters.
    pub counters: BTreeMap<String, u64>,
    /// What the swarm drew for this seed (swarm testing): each kind's rate, or off.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub swarm_draw: Vec<String>,
    /// Sometimes-assertions → how many times each held.
    pub sometimes: BTreeMap<String, u64>,
    /// The system's own result tables.
    pub tables: Vec<Table>,
    /// The protocol panic that ended the run, if one did.
    pub panic: Option<String>,
    /// The scenario file.
    pub file: String,
    /// The command that reproduces this run.
    pub reproduce: String,
    /// The simctl version that ran it.
    pub simctl_version: String,
}

/// A table of a system's own results: printed in the terminal, kept in `summary.json` with
/// its numbers as numbers. A table whose cells are all labels, counts and shares is
/// *additive*: a sweep adds it up over its seeds ([`Table::add`]).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Table {
    /// What it shows.
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
}

/// One cell of a [`Table`].
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Cell {
    /// Words.
    Text(String),
    /// A count.
    Int(u64),
    /// A measurement, printed with two decimals.
    Float(f64),
    /// A share: `part` of `of` (a count of reads, `part` of them consistent), printed as a
    /// percentage; shares add up over seeds part to part and whole to whole.
    Share {
        /// The part (fractional where it is an expectation).
        part: f64,
        /// The whole.
        of: u64,
    },
    /// No value.
    Empty,
}

impl Cell {
    /// `part` of `of`.
    pub fn share(part: f64, of: u64) -> Cell {
        Cell::Share { part, of }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Text(text) => f.write_str(text),
            Cell::Int(n) => write!(f, "{n}"),
            Cell::Float(x) => write!(f, "{x:.2}"),
            Cell::Share { of: 0, .. } | Cell::Empty => f.write_str("-"),
            Cell::Share { part, of } => write!(f, "{:.2}", 100.0 * part / *of as f64),
        }
    }
}

impl Table {
    /// Whether a sweep can add this table up: every row starts with a label and the rest
    /// are counts, shares or empty.
    pub fn is_additive(&self) -> bool {
        self.rows.iter().all(|row| {
            matches!(row.first(), Some(Cell::Text(_)))
                && row[1..].iter().all(|c| matches!(c, Cell::Int(_) | Cell::Share { .. } | Cell::Empty))
        })
    }

    /// Adds `other` (the same table of another seed) to this one, row by row by label;
    /// counts and shares add up, a row only one side has is kept. False if the two are not
    /// the same additive table.
    pub fn add(&mut self, other: &Table) -> bool {
        if self.title != other.title
            || self.columns != other.columns
            || !self.is_additive()
            || !other.is_additive()
        {
            return false;
        }
        for row in &other.rows {
            match self.rows.iter_mut().find(|mine| mine[0] == row[0]) {
                None => self.rows.push(row.clone()),
                Some(mine) => {
                    for (a, b) in mine.iter_mut().zip(row).skip(1) {
                        *a = match (&*a, b) {
                            (Cell::Int(x), Cell::Int(y)) => Cell::Int(x + y),
                            (Cell::Share { part: p, of: o }, Cell::Share { part: q, of: n }) => {
                                Cell::Share { part: p + q, of: o + n }
                            }
                            (Cell::Empty, other) | (other, Cell::Empty) => other.clone(),
                            (mine, _) => mine.clone(),
                        };
                    }
                }
            }
        }
        true
    }
}

/// One line of `trace.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceLine {
    /// Event index.
    pub index: u64,
    /// Time, in nanoseconds.
    pub time_ns: u64,
    /// Where it happened.
    pub node: Option<u32>,
    /// What kind of event.
    pub kind: crate::kernel::trace::EventKind,
    /// The sender of a message.
    pub peer: Option<u32>,
    /// The message or fault digest, hex.
    pub digest: String,
    /// The event in words (the message or fault in `Debug` form).
    pub what: String,
}

/// Everything a run produced, ready to print or write.
#[derive(Debug)]
pub struct RunReport {
    /// The summary.
    pub summary: Summary,
    /// The client history.
    pub history: Vec<HistoryEvent>,
    /// Latency histograms by operation kind and phase (`None`: all phases).
    pub histograms: BTreeMap<(String, Option<Phase>), Histogram<u64>>,
    /// The realized fault timeline (written as `faults.toml`, a `[[faults]]` list).
    pub fault_log: Vec<crate::kernel::fault::FaultRecord>,
    /// How many servers the run had (node ids past them are clients and other nodes), to
    /// name nodes in `faults.toml`.
    pub servers: u32,
    /// With `[buggify]`: the points that were active, written into `faults.toml` too.
    pub buggify: Option<BuggifyRealized>,
    /// The scenario text as run.
    pub scenario_text: String,
    /// Every event, when asked for.
    pub trace: Option<Vec<TraceLine>>,
    /// Every workload operation, for the report page's plot.
    pub operations: Vec<crate::kernel::workload::OpRecord>,
    /// Every change of a node's reported role, for the report's timeline.
    pub roles: Vec<RoleChange>,
    /// The linearizability witness, for the report's failure view.
    pub witness: Option<Vec<WitnessStep>>,
    /// The messages of the message diagram (see `RunOptions::messages`).
    pub messages: Vec<MessageLine>,
    /// The system's per-node series.
    pub series: Series,
    /// The window they were sent in, nanoseconds.
    pub message_window: Option<(u64, u64)>,
}

/// Per-node series: (name, node) → (true time ns, value) at each change.
pub type Series = BTreeMap<(String, u32), Vec<(u64, i64)>>;

/// One message of the report's message diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageLine {
    /// Sent, true time.
    pub sent_ns: u64,
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// Arrival, if it arrives.
    pub arrives_ns: Option<u64>,
    /// What became of it: sent, lost, cut, duplicate, replayed (datagrams); stream, held,
    /// closed (messages on connections).
    pub fate: &'static str,
    /// The message.
    pub what: String,
}

impl MessageLine {
    /// The line of a recorded send.
    pub fn of(record: &crate::kernel::observe::MessageRecord) -> MessageLine {
        use crate::kernel::observe::MessageFate;
        MessageLine {
            sent_ns: record.sent.as_nanos(),
            from: record.from.0,
            to: record.to.0,
            arrives_ns: record.arrives.map(|t| t.as_nanos()),
            fate: match record.fate {
                MessageFate::Sent => "sent",
                MessageFate::Lost => "lost",
                MessageFate::Cut => "cut",
                MessageFate::Duplicate => "duplicate",
                MessageFate::Replayed => "replayed",
                MessageFate::Stream => "stream",
                MessageFate::Held => "held",
                MessageFate::Closed => "closed",
            },
            what: record.what.clone(),
        }
    }
}

/// A node's reported role changed (`Ctx::set_role`; a crash clears it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChange {
    /// When, in true time.
    pub at_ns: u64,
    /// The node.
    pub node: u32,
    /// The new role (`None`: none, or crashed).
    pub role: Option<&'static str>,
}

/// What part an operation plays in a linearizability witness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WitnessPart {
    /// Linearized, `n`-th (from 1) in an order that explains the prefix.
    Linearized(usize),
    /// Linearized on the furthest path, in no known order (the ordering ran out of steps).
    Unordered,
    /// The operation whose result no order explains.
    Stuck,
    /// Overlapping the stuck one.
    Overlapping,
}

/// One operation of a linearizability witness, placed in simulated time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessStep {
    /// Its part in the witness.
    pub part: WitnessPart,
    /// The history process.
    pub process: u64,
    /// The client node.
    pub client: u32,
    /// Invocation, true time.
    pub call_ns: u64,
    /// Completion, true time (`None`: it never completed).
    pub ret_ns: Option<u64>,
    /// What it did and returned.
    pub action: String,
    /// The model's state after it (linearized in order only).
    pub state: Option<String>,
}

impl RunReport {
    /// How the run failed (the deciding check, its verdict and cause, and the bucket sweeps
    /// group by); `None` if every check passed or was skipped.
    pub fn failure(&self) -> Option<Failure> {
        let summary = &self.summary;
        Failure::of(&summary.checks, &summary.reasons, summary.panic.as_deref())
    }

    /// Writes the report folder `out/<scenario>/<seed>/`; returns its path.
    pub fn write(&self, out: &Path) -> io::Result<PathBuf> {
        let dir = out.join(&self.summary.scenario).join(self.summary.seed.to_string());
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("summary.json"), self.summary_json() + "\n")?;
        std::fs::write(dir.join("report.html"), html::page(self, &self.operations))?;
        std::fs::write(dir.join("scenario.toml"), &self.scenario_text)?;
        let mut faults = crate::scenario::realized_toml(&self.fault_log, self.servers);
        if !self.summary.swarm_draw.is_empty() {
            faults += "\n# What the swarm drew for this seed (its faults are the ones above):\n";
            for line in &self.summary.swarm_draw {
                faults += &format!("#   {line}\n");
            }
        }
        if let Some(buggify) = &self.buggify {
            faults += &buggify.to_toml();
        }
        std::fs::write(dir.join("faults.toml"), faults)?;
        let mut history = String::new();
        for event in &self.history {
            history += &serde_json::to_string(event).map_err(io::Error::other)?;
            history.push('\n');
        }
        std::fs::write(dir.join("history.jsonl"), history)?;
        // Stale files from an earlier run of the same seed would mislead.
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let stale = path.extension().is_some_and(|e| e == "hgrm")
                || path.file_name().is_some_and(|n| n == "trace.jsonl");
            if stale {
                std::fs::remove_file(path)?;
            }
        }
        for ((op, phase), histogram) in &self.histograms {
            let name = match phase {
                Some(phase) => format!("{op}.{}.hgrm", phase.name()),
                None => format!("{op}.hgrm"),
            };
            std::fs::write(dir.join(file_name(&name)), hgrm(histogram))?;
        }
        if let Some(trace) = &self.trace {
            let mut lines = String::new();
            for line in trace {
                lines += &serde_json::to_string(line).map_err(io::Error::other)?;
                lines.push('\n');
            }
            std::fs::write(dir.join("trace.jsonl"), lines)?;
        }
        Ok(dir)
    }

    /// `summary.json`'s text.
    pub fn summary_json(&self) -> String {
        serde_json::to_string_pretty(&self.summary).expect("summaries serialize")
    }
}

/// Keeps operation names from escaping the report folder.
fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect()
}

/// A histogram of nanoseconds in HdrHistogram's percentile-distribution text format
/// (`outputPercentileDistribution` with 5 ticks per half distance), values in ms.
pub fn hgrm(histogram: &Histogram<u64>) -> String {
    let mut out = String::new();
    let ms = |nanos: u64| nanos as f64 / 1e6;
    writeln!(out, "{:>12} {:>14} {:>10} {:>14}\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)")
        .unwrap();
    let mut total = 0;
    for step in histogram.iter_quantiles(5) {
        total += step.count_since_last_iteration();
        let quantile = step.quantile_iterated_to();
        let value = ms(step.value_iterated_to());
        if quantile < 1.0 {
            writeln!(out, "{value:12.3} {quantile:2.12} {total:10} {:14.2}", 1.0 / (1.0 - quantile)).unwrap();
        } else {
            writeln!(out, "{value:12.3} {quantile:2.12} {total:10}").unwrap();
        }
    }
    // HdrHistogram: sub-buckets = 2^ceil(log2(2 * 10^figures)).
    let sub_buckets = (2 * 10u64.pow(u32::from(SIGNIFICANT_FIGURES))).next_power_of_two();
    writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        ms_f(histogram.mean()),
        ms_f(histogram.stdev())
    )
    .unwrap();
    writeln!(out, "#[Max     = {:12.3}, Total count    = {:12}]", ms(histogram.max()), histogram.len())
        .unwrap();
    writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", histogram.buckets(), sub_buckets).unwrap();
    out
}

fn ms_f(nanos: f64) -> f64 {
    nanos / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hgrm_has_the_percentile_distribution_shape() {
        let mut h = histogram();
        for i in 1..=1000u64 {
            h.record(i * 1_000_000).unwrap();
        }
        let text = hgrm(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("Value") && lines[0].contains("1/(1-Percentile)"));
        assert!(lines[2].trim_start().starts_with("1.000 0.000000000000"), "{}", lines[2]);
        let last_row = lines.iter().rev().find(|l| !l.starts_with('#')).unwrap();
        assert!(last_row.contains("1.000000000000") && last_row.trim_end().ends_with("1000"), "{last_row}");
        assert!(text.contains("#[Max     =     1000.",), "{text}");
        assert!(text.contains("Total count    =         1000]"), "{text}");
        let stats = LatencyStats::of(&h);
        assert_eq!((stats.count, stats.p50.round(), stats.p99.round()), (1000, 500.0, 990.0));
    }

    #[test]
    fn additive_tables_add_up_by_row_label() {
        let table = |rows: Vec<Vec<Cell>>| Table {
            title: "t".into(),
            columns: vec!["bin".into(), "n".into(), "ok %".into()],
            rows,
        };
        let label = |s: &str| Cell::Text(s.into());
        let mut total = table(vec![vec![label("a"), Cell::Int(2), Cell::share(1.0, 2)]]);
        let seed = table(vec![
            vec![label("a"), Cell::Int(6), Cell::share(6.0, 6)],
            vec![label("b"), Cell::Int(1), Cell::Empty],
        ]);
        assert!(total.add(&seed));
        assert_eq!(total.rows[0], vec![label("a"), Cell::Int(8), Cell::share(7.0, 8)]);
        assert_eq!(total.rows[0][2].to_string(), "87.50");
        assert_eq!(total.rows.len(), 2, "a row only one seed has is kept");
        let mut measured = table(vec![vec![label("a"), Cell::Float(1.5), Cell::Empty]]);
        assert!(!measured.is_additive() && !measured.add(&seed), "a measurement does not add up");
    }
}
