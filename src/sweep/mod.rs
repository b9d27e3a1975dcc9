//! `simctl sweep`, `simctl merge` and the sweep's worker: run many seeds of many scenarios,
//! in parallel worker processes, and summarize them the same way however they were split.
//!
//! A sweep's result is the set of per-seed results in its `--out` file (JSON lines, written
//! as each seed finishes), so an interrupted sweep resumes by skipping the seeds already in
//! the file, and shards from a CI matrix merge by reading their files together.

mod html;
mod junit;
mod pool;
mod record;
mod seeds;
mod summary;

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use sim::harness::registry::Registry;
use sim::harness::run::RunOptions;
use sim::scenario;

pub use record::{clip, Origin, SeedResult};
use seeds::Shard;
use summary::Summary;

use crate::exit::{bad_input, ExitStatus};

/// What `simctl sweep` was asked.
#[derive(clap::Args)]
pub struct SweepArgs {
    /// The scenario files.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// A..B (B excluded), N (0..N) or a file with one seed per line.
    #[arg(long)]
    pub seeds: String,
    /// Worker processes (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only shard K of N (every N-th seed from the K-th), e.g. 2/4; `auto` reads it from
    /// a Kubernetes Indexed Job, a Slurm array or SIMCTL_SHARD_INDEX/COUNT (a CI matrix).
    #[arg(long)]
    pub shard: Option<String>,
    /// Write one JSON result per seed here; an existing file is resumed (its seeds are skipped).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write JUnit XML here (one test case per scenario and seed).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the summary as one HTML page here, failed seeds linked to their reports.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Stop handing out seeds after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Fail a seed that runs more events than this.
    #[arg(long)]
    pub max_events: Option<u64>,
    /// Which simulator runs the seeds: native (simctl's engine), madsim or turmoil.
    #[arg(long, default_value = "native")]
    pub backend: sim::backend::Backend,
    /// Fail a seed that runs longer than this in wall time.
    #[arg(long, default_value = "300s")]
    pub seed_timeout: String,
    /// Where report folders of failed seeds go.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// Print the summary as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `simctl sweep`.
pub fn sweep(registry: &Registry, args: SweepArgs) -> ExitStatus {
    match prepare(registry, &args) {
        Ok(plan) => execute(&args, plan),
        Err(error) => bad_input(&error),
    }
}

/// What a sweep will do, checked before anything runs.
struct Plan {
    files: Vec<String>,
    names: Vec<String>,
    jobs: Vec<pool::Job>,
    /// Results already in `--out` for seeds of this sweep.
    resumed: Vec<SeedResult>,
    seed_timeout: Duration,
    /// Per scenario: what its results lines record of where they came from.
    origins: Vec<Origin>,
}

fn prepare(registry: &Registry, args: &SweepArgs) -> Result<Plan, String> {
    let mut files = Vec::new();
    let mut texts = Vec::new();
    let mut names = Vec::new();
    for path in &args.scenarios {
        let (file, text) = scenario::read(path).map_err(|e| e.to_string())?;
        let brief = registry.validate(&file, &text).map_err(|e| e.to_string())?;
        files.push(file);
        texts.push(text);
        names.push(brief.name);
    }
    let shard = match args.shard.as_deref() {
        Some("auto") => Shard::from_env(&|name| std::env::var(name).ok())?,
        Some(text) => Shard::parse(text)?,
        None => Shard::WHOLE,
    };
    let seeds = shard.select(&seeds::parse(&args.seeds)?);
    let build = build_id()?;
    let origins = texts
        .iter()
        .map(|text| Origin {
            build: build.clone(),
            scenario_digest: format!("{:016x}", sim::kernel::hash::digest(text)),
            seeds: args.seeds.clone(),
            shard: format!("{}/{}", shard.index, shard.count),
        })
        .collect();
    // A backend that cannot run a scenario says so once, before any worker starts (a
    // swarm's faults differ by seed: a later seed's are checked when it runs).
    let options = RunOptions { backend: args.backend, ..RunOptions::default() };
    for (file, text) in files.iter().zip(&texts) {
        let seed = seeds.first().copied().unwrap_or(0);
        registry.check_backend(file, text, seed, &options).map_err(|e| e.to_string())?;
    }
    if args.jobs == Some(0) {
        return Err("--jobs 0: at least one worker is needed".into());
    }
    let seed_timeout =
        scenario::duration::parse(&args.seed_timeout).map_err(|e| format!("--seed-timeout: {e}"))?;
    let mut resumed = Vec::new();
    let mut done = BTreeSet::new();
    if let Some(out) = args.out.as_deref().filter(|out| out.exists()) {
        let wanted: BTreeSet<(&str, u64)> =
            files.iter().flat_map(|f| seeds.iter().map(move |s| (f.as_str(), *s))).collect();
        for result in read_results(out, true)? {
            if wanted.contains(&(result.scenario.as_str(), result.seed))
                && done.insert((result.scenario.clone(), result.seed))
            {
                resumed.push(result);
            }
        }
    }
    let mut jobs = Vec::new();
    for (index, file) in files.iter().enumerate() {
        for &seed in &seeds {
            if !done.contains(&(file.clone(), seed)) {
                jobs.push((index, seed));
            }
        }
    }
    Ok(Plan { files, names, jobs, resumed, seed_timeout, origins })
}

/// This binary, as a sweep's results name it: its version and a digest of its executable,
/// so that shards of different builds do not merge.
fn build_id() -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let bytes = std::fs::read(&exe).map_err(|e| format!("{}: cannot read: {e}", exe.display()))?;
    Ok(format!("{} {:016x}", env!("CARGO_PKG_VERSION"), sim::kernel::hash::digest(&bytes[..])))
}

/// Reads a results file. With `repair`, a last line cut short by an interrupted sweep is
/// dropped and the file rewritten without it, so appending continues on a line boundary.
fn read_results(path: &Path, repair: bool) -> Result<Vec<SeedResult>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut results = Vec::new();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (number, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let last = number + 1 == lines.len();
        match serde_json::from_str::<SeedResult>(line) {
            Ok(result) if line.ends_with('\n') || !repair => results.push(result),
            Ok(_) | Err(_) if last && repair => {
                let kept: String = lines[..number].concat();
                std::fs::write(path, kept).map_err(|e| format!("{}: cannot rewrite: {e}", path.display()))?;
                eprintln!("{}: dropped an unfinished last line (an interrupted sweep)", path.display());
            }
            Ok(_) => unreachable!("complete lines and non-repair reads are kept above"),
            Err(error) => {
                return Err(format!("{}:{}: not a sweep result: {error}", path.display(), number + 1));
            }
        }
    }
    Ok(results)
}

fn execute(args: &SweepArgs, plan: Plan) -> ExitStatus {
    let Plan { files, names, jobs, resumed, seed_timeout, origins } = plan;
    let origin_of: std::collections::BTreeMap<String, Origin> = files.iter().cloned().zip(origins).collect();
    let total = jobs.len();
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(total.max(1));
    if !resumed.is_empty() {
        eprintln!("resuming: {} seeds already in the results file, {total} to run", resumed.len());
    }
    let mut out = match &args.out {
        Some(path) => match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => Some(file),
            Err(error) => return bad_input(&format!("{}: cannot write: {error}", path.display())),
        },
        None => None,
    };
    let progress = Progress::new(total as u64);
    let started = Instant::now();
    let options = pool::PoolOptions {
        scenarios: files,
        names,
        jobs: workers,
        max_events: args.max_events,
        backend: args.backend,
        seed_timeout,
        reports: Some(args.reports.clone()),
        fail_fast: args.fail_fast,
    };
    let mut results = resumed;
    let mut write_error = None;
    let mut stopped_early = false;
    let outcome = pool::run(&options, jobs, |mut result| {
        if let Some(origin) = origin_of.get(&result.scenario) {
            result.origin = Some(origin.clone());
        }
        if let Some(file) = out.as_mut() {
            let line = serde_json::to_string(&result).expect("results serialize");
            if let Err(error) = writeln!(file, "{line}").and_then(|()| file.flush()) {
                write_error.get_or_insert(error);
            }
        }
        if !result.passed {
            progress.println(&format!(
                "FAIL {} seed {}: {}\n     reproduce: {}",
                result.scenario,
                result.seed,
                result.bucket.as_deref().unwrap_or("failed"),
                result.reproduce
            ));
        }
        progress.advance(!result.passed);
        let keep_going = result.passed || !args.fail_fast;
        stopped_early |= !keep_going;
        results.push(result);
        keep_going && write_error.is_none()
    });
    progress.finish();
    if let Err(error) = outcome {
        eprintln!("error: {error}");
        return ExitStatus::BadInput;
    }
    if let (Some(error), Some(path)) = (write_error, &args.out) {
        return bad_input(&format!("{}: cannot append a result: {error}", path.display()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The seeds this sweep ran (not those resumed from the results file).
    let ran = progress.done.get();
    let html = args.html.as_deref().map(|page| (page, Some(args.reports.as_path())));
    let status = finish(results, args.junit.as_deref(), html, args.json);
    if !args.json {
        let rate = if elapsed > 0.0 { ran as f64 / elapsed } else { 0.0 };
        println!("wall time {elapsed:.1}s on {workers} workers ({rate:.1} seeds/s)");
        if stopped_early {
            println!("stopped at the first failure (--fail-fast); the seeds not run are not in the summary");
        }
    }
    status
}

/// Summarizes, prints and writes JUnit; the exit status.
/// `html`: where the page goes, and where the failed seeds' reports are.
fn finish(
    results: Vec<SeedResult>,
    junit: Option<&Path>,
    html: Option<(&Path, Option<&Path>)>,
    json: bool,
) -> ExitStatus {
    let results = match summary::dedupe(results) {
        Ok(results) => results,
        Err(conflict) => {
            eprintln!(
                "nondeterminism: {} seed {} has two results with trace hashes {:?} and {:?} \
                 (different builds, or a nondeterministic run)",
                conflict.scenario, conflict.seed, conflict.hashes.0, conflict.hashes.1
            );
            eprintln!(
                "to tell: {} run {} --seed {} --check-determinism",
                crate::program(),
                conflict.scenario,
                conflict.seed
            );
            return ExitStatus::Nondeterminism;
        }
    };
    let summary = match Summary::of(&results) {
        Ok(summary) => summary,
        Err(error) => return bad_input(&error),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("summaries serialize"));
    } else {
        print!("{}", summary.render());
    }
    if let Some(path) = junit {
        if let Err(error) = std::fs::write(path, junit::xml(&results)) {
            return bad_input(&format!("{}: cannot write: {error}", path.display()));
        }
    }
    if let Some((path, reports)) = html {
        if let Err(error) = std::fs::write(path, html::page(&summary, &results, reports, path)) {
            return bad_input(&format!("{}: cannot write: {error}", path.display()));
        }
    }
    if summary.failed > 0 {
        ExitStatus::Failed
    } else if summary.inconclusive > 0 {
        ExitStatus::Inconclusive
    } else {
        ExitStatus::Passed
    }
}

/// The summary of `results` (one result per scenario and seed kept), as a sweep prints it.
pub fn summarize(results: &[SeedResult]) -> Result<Summary, String> {
    let results = summary::dedupe(results.to_vec()).map_err(|conflict| {
        format!("{} seed {} has two results with different trace hashes", conflict.scenario, conflict.seed)
    })?;
    Summary::of(&results)
}

/// `simctl merge`: the summary of several results files (shards) as of one sweep.
pub fn merge(
    files: &[PathBuf],
    junit: Option<&Path>,
    html: Option<(&Path, Option<&Path>)>,
    json: bool,
) -> ExitStatus {
    let mut results = Vec::new();
    let mut read = Vec::new();
    for file in files {
        match read_results(file, false) {
            Ok(more) => {
                read.push((file.display().to_string(), more.clone()));
                results.extend(more);
            }
            Err(error) => return bad_input(&error),
        }
    }
    if results.is_empty() {
        return bad_input(&"the results files hold no seeds");
    }
    if let Err(error) = record::same_sweep(&read) {
        return bad_input(&error);
    }
    finish(results, junit, html, json)
}

/// `simctl sweep-worker`: runs the seeds named on stdin (`<scenario index> <seed>` lines),
/// one JSON result line each on stdout.
pub fn worker(
    registry: &Registry,
    scenarios: &[PathBuf],
    options: RunOptions,
    reports: Option<&Path>,
) -> ExitStatus {
    // Each scenario is parsed once, then run for every seed handed to this worker.
    let mut loaded = Vec::new();
    for path in scenarios {
        match scenario::read(path).and_then(|(file, text)| Ok((registry.load(&file, &text)?, file))) {
            Ok(pair) => loaded.push(pair),
            Err(error) => return bad_input(&error),
        }
    }
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        let (Some(Ok(index)), Some(Ok(seed))) =
            (words.next().map(str::parse::<usize>), words.next().map(str::parse::<u64>))
        else {
            return bad_input(&format!("sweep-worker: expected `<scenario index> <seed>`, got {line:?}"));
        };
        let Some((scenario, file)) = loaded.get(index) else {
            return bad_input(&format!("sweep-worker: no scenario {index}"));
        };
        let started = Instant::now();
        let report = match scenario.run(seed, &options) {
            Ok(report) => report,
            Err(error) => return bad_input(&error),
        };
        let result = SeedResult::from_report(file, &report, started.elapsed().as_secs_f64() * 1e3);
        if !result.passed {
            if let Some(reports) = reports {
                if let Err(error) = report.write(reports) {
                    eprintln!("cannot write the report of seed {seed} under {}: {error}", reports.display());
                }
            }
        }
        let mut stdout = stdout.lock();
        let line = serde_json::to_string(&result).expect("results serialize");
        if writeln!(stdout, "{line}").and_then(|()| stdout.flush()).is_err() {
            break;
        }
    }
    ExitStatus::Passed
}

/// A progress bar on a terminal; a plain line every twentieth of the seeds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: std::cell::Cell<u64>,
    failed: std::cell::Cell<u64>,
    started: Instant,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {per_sec}  eta {eta}  {msg}")
                    .expect("the template is valid"),
            );
            bar
        });
        Progress { bar, total, done: 0.into(), failed: 0.into(), started: Instant::now() }
    }

    fn advance(&self, failed: bool) {
        self.done.set(self.done.get() + 1);
        self.failed.set(self.failed.get() + u64::from(failed));
        let (done, failed) = (self.done.get(), self.failed.get());
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{failed} failed"));
            }
            None => {
                let step = (self.total / 20).max(1);
                if done % step == 0 || done == self.total {
                    let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                    eprintln!("sweep: {done}/{} seeds, {failed} failed, {rate:.1} seeds/s", self.total);
                }
            }
        }
    }

    fn println(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
