//! The command-line schema: every subcommand, its arguments and its help, for clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sim::backend::Backend;

use crate::sweep;

#[derive(Parser)]
#[command(
    name = "simctl",
    version,
    about = "Deterministic simulation testbed for distributed protocols",
    after_help = "Exit status: 0 every check passed, 1 a check failed, 2 bad input, 3 nondeterminism, \
                  4 inconclusive.\n\nExample:\n  simctl run scenarios/pingpong/partition.toml --seed 42"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a scenario with a seed: print a table, write a report folder.
    #[command(after_help = "Examples:\n  simctl run scenarios/pingpong/partition.toml --seed 42\n  \
                            simctl run scenarios/pingpong/swarm.toml --seed 7 --json --out /tmp/reports\n  \
                            simctl run scenarios/pingpong/crash.toml --seed 1 --trace --check-determinism")]
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// The root seed: the same seed gives the same run, event for event.
        #[arg(long)]
        seed: u64,
        /// Where report folders go (`DIR/<scenario>/<seed>/`).
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Print summary.json to stdout instead of the table.
        #[arg(long)]
        json: bool,
        /// Also write every event to trace.jsonl (slower).
        #[arg(long)]
        trace: bool,
        /// First run twice in lock step and report the first event that differs (exit 3).
        #[arg(long)]
        check_determinism: bool,
        /// Stop after this many events; the run is then inconclusive (exit 4).
        #[arg(long)]
        max_events: Option<u64>,
        /// Which simulator runs it: native (simctl's engine), madsim or turmoil.
        #[arg(long, default_value = "native")]
        backend: Backend,
        /// The report's message diagram: the messages (datagrams and streams) sent in FROM..TO (e.g. 4s..4.4s).
        /// Default: a failing run's, around its failure.
        #[arg(long)]
        messages: Option<String>,
    },
    /// Re-run a report's scenario and seed; exit 3 if the trace hash differs.
    #[command(after_help = "Example:\n  simctl replay reports/partition/42")]
    Replay {
        /// A report folder written by `simctl run`.
        report: PathBuf,
    },
    /// Check scenario files without running them.
    #[command(after_help = "Example:\n  simctl validate scenarios/pingpong/*.toml")]
    Validate {
        /// The scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Check histories for linearizability against a model.
    #[command(
        after_help = "Formats: jsonl (simctl's history.jsonl), jepsen-log (Porcupine's etcd logs), edn (a Knossos \
                            vector of op maps), edn-lines (one op map per line); detected when --format is not given.\n\n\
                            Examples:\n  simctl check-history reports/partition/42/history.jsonl --model kv\n  \
                            simctl check-history etcd_000.log --model cas-register --budget 10s --json\n  \
                            simctl check-history knossos.edn --model cas-register --init 0"
    )]
    CheckHistory {
        /// The history files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// register, cas-register, kv, mutex or list-append.
        #[arg(long)]
        model: String,
        /// The registers' initial value, in EDN (default nil: never written).
        #[arg(long)]
        init: Option<String>,
        /// jsonl, jepsen-log, edn or edn-lines (default: detected).
        #[arg(long)]
        format: Option<String>,
        /// Give up with verdict unknown after this long per file.
        #[arg(long, default_value = "60s")]
        budget: String,
        /// Give up with verdict unknown after remembering this many search states per file
        /// (the search's memory).
        #[arg(long, default_value_t = 5_000_000)]
        max_states: usize,
        /// Print one JSON object per file.
        #[arg(long)]
        json: bool,
    },
    /// Run many seeds of one or more scenarios in parallel and summarize them.
    #[command(
        after_help = "Every seed runs in a worker process: a seed that crashes it or overruns its budget \
                            fails alone. Exit status 1 if any seed failed.\n\n\
                            Examples:\n  simctl sweep scenarios/partition.toml --seeds 0..1000\n  \
                            simctl sweep scenarios/raft/*.toml --seeds 200 --jobs 2 --out results.jsonl --junit junit.xml\n  \
                            simctl sweep scenarios/partition.toml --seeds 0..10000 --shard 2/4 --out shard-2.jsonl\n  \
                            simctl merge shard-*.jsonl"
    )]
    Sweep(sweep::SweepArgs),
    /// Summarize the results files of several sweeps (shards) as one sweep.
    #[command(after_help = "Example:\n  simctl merge shard-1.jsonl shard-2.jsonl --junit junit.xml")]
    Merge {
        /// JSON-lines results files written by `simctl sweep --out`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write the summary as one HTML page here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Where the shards wrote the failed seeds' reports (their --reports), for the page's links.
        #[arg(long)]
        reports: Option<PathBuf>,
        /// Print the summary as JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// What changed between two runs or two sweeps; a latency gate in simulated time.
    #[command(after_help = "A and B are each a report folder, a results file of `simctl sweep --out` \
                            (several shards: join them with commas) or the --json summary of a sweep or \
                            a merge. Exit 1 when B regressed: a check or seed that passed in A fails in B, \
                            or a percentile slower than --max-regression allows.\n\n\
                            Example:\n  simctl sweep scenarios/partition.toml --seeds 200 --out base.jsonl\n  \
                            simctl sweep scenarios/partition.toml --seeds 200 --out change.jsonl\n  \
                            simctl diff base.jsonl change.jsonl --max-regression 10% --max-regression p99=5%")]
    Diff {
        /// The baseline.
        a: String,
        /// The change.
        b: String,
        /// Fail when a percentile of B is slower than A by more than this: `10%` for every
        /// percentile, `p99=5%` for one (repeatable; later ones win).
        #[arg(long)]
        max_regression: Vec<String>,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Minimize a failing run: fewer faults, shorter, a smaller workload, fewer servers.
    #[command(
        after_help = "Writes a standalone scenario (swarm off, explicit faults) that fails the same way \
                            (same check, same reason up to numbers) with the same seed.\n\n\
                            Example:\n  simctl shrink scenarios/raft/canary/local-reads.toml --seed 3\n  \
                            simctl run reports/canary-local-reads/3/shrunk.toml --seed 3"
    )]
    Shrink {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where the shrunk scenario goes (default reports/<name>/<seed>/shrunk.toml).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Give up shrinking after this many runs.
        #[arg(long, default_value_t = 300)]
        max_runs: usize,
    },
    /// Find the first event after which a failing run is bound to fail, and show what led to it.
    #[command(
        after_help = "Binary search over runs stopped at an event budget (a prefix of the same run), \
                            judging the history and invariants so far.\n\n\
                            Example:\n  simctl bisect scenarios/raft/canary/ack-before-commit.toml --seed 1"
    )]
    Bisect {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// How many events before the decisive one to show.
        #[arg(long, default_value_t = 30)]
        window: usize,
    },
    /// A sweep's worker process (runs seeds named on stdin).
    #[command(hide = true)]
    SweepWorker {
        scenarios: Vec<PathBuf>,
        #[arg(long)]
        max_events: Option<u64>,
        #[arg(long, default_value = "native")]
        backend: Backend,
        #[arg(long)]
        reports: Option<PathBuf>,
    },
    /// Show the systems, their settings with defaults, the fault kinds and the scenarios.
    #[command(after_help = "Example:\n  simctl list")]
    List,
}
