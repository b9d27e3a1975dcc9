//! Worker processes for a sweep. Each seed runs in a child `simctl sweep-worker`, so a seed
//! that aborts the process (a stack overflow, an allocation failure) or overruns its wall-time
//! budget fails alone: the parent kills or buries the worker, records the seed as failed and
//! starts a fresh worker for the next one. Protocol panics never get this far: the run catches
//! them and fails its `no_panic` check. Workers live for many seeds, so a sweep of short runs
//! does not pay a process start per seed.
//!
//! The threads here only move bytes between pipes; every run is inside one worker process,
//! single-threaded, so a seed's result does not depend on `--jobs`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::record::SeedResult;

/// How the workers run seeds.
pub struct PoolOptions {
    /// The scenario files, as given.
    pub scenarios: Vec<String>,
    /// Their names, for results of seeds that never finished.
    pub names: Vec<String>,
    /// Worker processes.
    pub jobs: usize,
    /// Per-seed event budget.
    pub max_events: Option<u64>,
    /// The simulator that runs the seeds.
    pub backend: sim::backend::Backend,
    /// Per-seed wall-time budget.
    pub seed_timeout: Duration,
    /// Where failing seeds' report folders go.
    pub reports: Option<PathBuf>,
    /// Stop handing out seeds after the first failure.
    pub fail_fast: bool,
}

/// One seed to run: the scenario's index in `PoolOptions::scenarios`, and the seed.
pub type Job = (usize, u64);

/// A running worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr_file: PathBuf,
}

/// What the watchdog knows of one worker thread's current seed.
#[derive(Default)]
struct Slot {
    pid: Option<u32>,
    deadline: Option<Instant>,
    timed_out: bool,
}

/// Runs `jobs` on the workers; `on_result` gets each result as it arrives and returns false
/// to stop handing out seeds (seeds already running finish and are reported).
pub fn run(
    options: &PoolOptions,
    jobs: Vec<Job>,
    mut on_result: impl FnMut(SeedResult) -> bool,
) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the simctl executable: {e}"))?;
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let stop = Arc::new(AtomicBool::new(false));
    let slots: Arc<Vec<Mutex<Slot>>> = Arc::new((0..options.jobs).map(|_| Mutex::default()).collect());
    let (sender, receiver) = mpsc::channel::<Result<SeedResult, String>>();
    std::thread::scope(|scope| {
        let finished = Arc::new(AtomicBool::new(false));
        {
            let (slots, finished) = (slots.clone(), finished.clone());
            scope.spawn(move || watchdog(&slots, &finished));
        }
        let mut threads = Vec::new();
        for index in 0..options.jobs {
            let (queue, stop, slots, sender, exe) =
                (queue.clone(), stop.clone(), slots.clone(), sender.clone(), exe.clone());
            threads.push(scope.spawn(move || {
                let outcome = feed(options, &exe, index, &queue, &stop, &slots[index], &sender);
                if let Err(error) = outcome {
                    stop.store(true, Ordering::SeqCst);
                    let _ = sender.send(Err(error));
                }
            }));
        }
        drop(sender);
        let mut first_error = None;
        for message in receiver {
            match message {
                Ok(result) => {
                    if !on_result(result) {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        for thread in threads {
            thread.join().expect("sweep worker threads do not panic");
        }
        finished.store(true, Ordering::SeqCst);
        first_error.map_or(Ok(()), Err)
    })
}

/// Kills workers whose seed is past its deadline.
fn watchdog(slots: &[Mutex<Slot>], finished: &AtomicBool) {
    while !finished.load(Ordering::SeqCst) {
        let now = Instant::now();
        for slot in slots {
            let mut slot = slot.lock().expect("no thread panics holding a slot");
            if let (Some(pid), Some(deadline)) = (slot.pid, slot.deadline) {
                if now >= deadline && !slot.timed_out {
                    slot.timed_out = true;
                    // SAFETY: sending a signal to a child process this sweep started and has
                    // not yet waited for, so the pid cannot have been reused.
                    unsafe {
                        libc::kill(pid as libc::pid_t, libc::SIGKILL);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(options: &PoolOptions, exe: &PathBuf, index: usize) -> Result<Worker, String> {
    let stderr_file =
        std::env::temp_dir().join(format!("simctl-sweep-{}-{index}.stderr", std::process::id()));
    let stderr = std::fs::File::create(&stderr_file)
        .map_err(|e| format!("cannot create {}: {e}", stderr_file.display()))?;
    let mut command = Command::new(exe);
    command.arg("sweep-worker").args(&options.scenarios);
    if let Some(max_events) = options.max_events {
        command.arg("--max-events").arg(max_events.to_string());
    }
    command.arg("--backend").arg(options.backend.name());
    if let Some(reports) = &options.reports {
        command.arg("--reports").arg(reports);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start a sweep worker ({}): {e}", exe.display()))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    Ok(Worker { child, stdin, stdout, stderr_file })
}

/// One worker thread: hands seeds to its process until the queue is empty or the sweep stops.
fn feed(
    options: &PoolOptions,
    exe: &PathBuf,
    index: usize,
    queue: &Mutex<VecDeque<Job>>,
    stop: &AtomicBool,
    slot: &Mutex<Slot>,
    sender: &mpsc::Sender<Result<SeedResult, String>>,
) -> Result<(), String> {
    let mut worker: Option<Worker> = None;
    while !stop.load(Ordering::SeqCst) {
        let Some((scenario, seed)) = queue.lock().expect("no thread panics holding the queue").pop_front()
        else {
            break;
        };
        let current = match worker.as_mut() {
            Some(current) => current,
            None => worker.insert(spawn(options, exe, index)?),
        };
        let started = Instant::now();
        let deadline = started + options.seed_timeout;
        {
            let mut slot = slot.lock().expect("no thread panics holding a slot");
            slot.pid = Some(current.child.id());
            slot.deadline = Some(deadline);
            slot.timed_out = false;
        }
        let mut line = String::new();
        let answered = writeln!(current.stdin, "{scenario} {seed}")
            .and_then(|()| current.stdin.flush())
            .and_then(|()| current.stdout.read_line(&mut line));
        let timed_out = {
            let mut slot = slot.lock().expect("no thread panics holding a slot");
            slot.deadline = None;
            slot.timed_out
        };
        // A result that arrives after its deadline is over budget, whether or not the
        // watchdog got to the worker first: the verdict cannot depend on when it looks.
        let late = Instant::now() >= deadline;
        let wall_ms = started.elapsed().as_secs_f64() * 1e3;
        let (file, name) = (&options.scenarios[scenario], &options.names[scenario]);
        let over_budget = || {
            let reason = format!("ran past its {:?} of wall time (--seed-timeout)", options.seed_timeout);
            SeedResult::unfinished(file, name, seed, "budget", reason, wall_ms)
        };
        let result = match answered {
            Ok(n) if n > 0 && !timed_out && late => {
                serde_json::from_str::<SeedResult>(&line)
                    .map_err(|e| format!("a sweep worker wrote a line that is not a result ({e}): {line}"))?;
                over_budget()
            }
            Ok(n) if n > 0 && !timed_out => serde_json::from_str::<SeedResult>(&line)
                .map_err(|e| format!("a sweep worker wrote a line that is not a result ({e}): {line}"))?,
            _ => {
                let mut dead = worker.take().expect("a worker was running");
                let _ = dead.child.kill();
                let status = dead.child.wait().map_or("unknown".to_owned(), |s| s.to_string());
                let stderr = std::fs::read_to_string(&dead.stderr_file).unwrap_or_default();
                let _ = std::fs::remove_file(&dead.stderr_file);
                if timed_out {
                    over_budget()
                } else {
                    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    let reason = format!("the worker process died ({status}): {}", tail.join(" | "));
                    SeedResult::unfinished(file, name, seed, "worker", reason, wall_ms)
                }
            }
        };
        if options.fail_fast && !result.passed {
            // Set here, before the next seed is taken, so that one worker runs no seed after
            // a failure.
            stop.store(true, Ordering::SeqCst);
        }
        if sender.send(Ok(result)).is_err() {
            break;
        }
    }
    if let Some(mut worker) = worker {
        drop(worker.stdin);
        let _ = worker.child.wait();
        let _ = std::fs::remove_file(&worker.stderr_file);
    }
    Ok(())
}
