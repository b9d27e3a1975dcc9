//! The workload driver: operations for client nodes, and the record of what became of them.
//!
//! Each system supplies client nodes that turn operations into protocol messages
//! (`Node::on_invoke`) and report the outcome (`Ctx::complete`): ok (it happened, with this
//! result), fail (it definitely did not happen) or info (unknown: timed out, connection
//! lost). The driver decides what to ask and when:
//!
//! - **Open loop** (`rate`): operations arrive as a Poisson process at the given rate,
//!   whatever the system's speed, spread over the clients round-robin. Latency is measured
//!   from the *intended* start (the arrival time), so a client that is slow to start an
//!   operation (paused, blocked in an fsync) shows in the latency: coordinated omission is
//!   not possible. Each operation is its own history process.
//! - **Closed loop** (`concurrency`): that many workers, spread over the clients, each issues
//!   its next operation when the previous one completes. A worker whose operation ended in
//!   info gets a new process id (Jepsen's rule: the old process may still be running).
//!
//! Operations are drawn from the mix (a weighted choice of operation names) and keys from a
//! uniform, zipfian (YCSB's generator) or hot-key distribution, all with the `workload`
//! stream. Values are unique: an operation's value is its id.

use std::collections::BTreeMap;

use super::dist::Distribution;
use super::hash::DetHashMap;
use super::history::{HistoryEvent, Op, OpKind, Value};
use super::ids::NodeId;
use super::rng::{Probability, Rng};
use super::time::Time;

/// History process ids of operations nodes start themselves begin here, far above any the
/// driver hands out.
pub const SELF_STARTED_PROCESSES: u64 = 1 << 48;

/// An operation a system's clients accept.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct OperationSpec {
    /// Its name in the mix and the history (`get`, `put`, `ping`).
    pub name: &'static str,
    /// What its invocation carries.
    pub arg: Arg,
    /// Its weight in the system's default mix.
    pub weight: f64,
}

/// A system's operations as an enum: one description (name, argument, default weight per
/// variant) that scenarios, the workload, clients and checks share. Declare one with
/// [`operations!`](crate::operations); a system's `OPERATIONS` is its `SPECS`, its client
/// matches [`Operation::kind`] exhaustively, its checks ask [`Operation::is`].
pub trait Operations: Copy + Eq + std::fmt::Debug + 'static {
    /// Every operation's spec, in the order of the variants.
    const SPECS: &'static [OperationSpec];
    /// The operation of a position in `SPECS`.
    fn from_index(index: usize) -> Self;
    /// Its position in `SPECS`.
    fn index(self) -> usize;
    /// Its name in scenarios and histories.
    fn name(self) -> &'static str {
        Self::SPECS[self.index()].name
    }
    /// The operation of a name, if the system has one of that name.
    fn named(name: &str) -> Option<Self> {
        Self::SPECS.iter().position(|spec| spec.name == name).map(Self::from_index)
    }
}

/// Declares a system's operations: an enum whose variants are its operations, each with
/// its name, [`Arg`] and default weight, and its [`Operations`] impl.
///
/// ```
/// sim::operations! {
///     /// A register's operations.
///     pub enum RegisterOp {
///         /// Reads it.
///         Read = ("read", sim::kernel::workload::Arg::None, 0.5),
///         /// Writes a unique value.
///         Write = ("write", sim::kernel::workload::Arg::Unique, 0.5),
///     }
/// }
/// use sim::kernel::workload::Operations;
/// assert_eq!(RegisterOp::named("write"), Some(RegisterOp::Write));
/// assert_eq!(RegisterOp::SPECS[0].name, "read");
/// ```
#[macro_export]
macro_rules! operations {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$variant_meta:meta])* $variant:ident = ($op:literal, $arg:expr, $weight:expr)),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $crate::kernel::workload::Operations for $name {
            const SPECS: &'static [$crate::kernel::workload::OperationSpec] = &[
                $($crate::kernel::workload::OperationSpec { name: $op, arg: $arg, weight: $weight }),+
            ];

            fn from_index(index: usize) -> $name {
                const ALL: &[$name] = &[$($name::$variant),+];
                ALL[index]
            }

            fn index(self) -> usize {
                self as usize
            }
        }
    };
}

/// What an operation's invocation carries. Written values are unique (derived from the
/// operation id), so a read names the write it saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arg {
    /// Nothing (reads, pings, deletes).
    None,
    /// A unique integer: the operation id (puts, writes).
    Unique,
    /// A unique string token, `"<id>,"` (appends: reads return the concatenation).
    Text,
    /// `[expected new]`: the last value this workload wrote to the key (nil if none), and a
    /// unique integer, so a compare-and-set succeeds when nothing raced it.
    Cas,
}

/// How operations are issued.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Poisson arrivals at `per_second`.
    Open {
        /// Mean arrivals per second.
        per_second: f64,
    },
    /// `workers` operations in flight at all times.
    Closed {
        /// How many workers.
        workers: u32,
    },
}

/// Which keys operations touch.
#[derive(Clone, Debug, PartialEq)]
pub enum Keys {
    /// Keys `0..count`, equally likely.
    Uniform {
        /// How many keys.
        count: u64,
    },
    /// Keys `0..count`, key `i` with probability proportional to `1 / (i+1)^exponent`
    /// (YCSB's zipfian generator; `exponent` in `(0, 1)`, YCSB uses 0.99).
    Zipfian {
        /// How many keys.
        count: u64,
        /// The skew.
        exponent: f64,
    },
    /// With probability `fraction` one of the first `hot` keys, otherwise one of the rest.
    HotKey {
        /// How many keys.
        count: u64,
        /// How many of them are hot.
        hot: u64,
        /// The share of operations on hot keys.
        fraction: Probability,
    },
}

/// What the driver does.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadConfig {
    /// The client nodes operations go to.
    pub clients: Vec<NodeId>,
    /// Open or closed loop.
    pub mode: Mode,
    /// Operation names and their weights.
    pub mix: Vec<(String, f64)>,
    /// What each operation's invocation carries; operations not listed carry nil.
    pub args: BTreeMap<String, Arg>,
    /// Key distribution.
    pub keys: Keys,
    /// No operation starts before this.
    pub start: Time,
    /// No operation starts at or after this.
    pub stop: Time,
    /// At most this many operations in total.
    pub limit: Option<u64>,
}

/// An operation handed to a client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Operation {
    /// Unique id; pass it back to `Ctx::complete`.
    pub id: u64,
    /// The history process issuing it.
    pub process: u64,
    /// Its name (`get`, `put`, `ping`, ...).
    pub f: String,
    /// The key.
    pub key: u64,
    /// The argument (see [`Arg`]): nil, a unique value, or a compare-and-set's pair.
    pub value: Value,
}

impl Operation {
    /// Which of the system's operations this is (the workload draws only those, so a name
    /// it does not know is a bug in the system's client, and panics saying so).
    pub fn kind<O: Operations>(&self) -> O {
        O::named(&self.f).unwrap_or_else(|| panic!("{:?} is not one of the system's operations", self.f))
    }

    /// Whether this is operation `op`.
    pub fn is<O: Operations>(&self, op: O) -> bool {
        self.f == op.name()
    }
}

/// How an operation ended, as its client reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It happened; the result (nil for a write).
    Ok(Value),
    /// It definitely did not happen.
    Fail,
    /// Unknown: it may have happened, or may yet.
    Info,
}

/// One operation from arrival to completion.
#[derive(Clone, Debug, PartialEq)]
pub struct OpRecord {
    /// The operation.
    pub op: Operation,
    /// The client it went to.
    pub client: NodeId,
    /// When it was meant to start (its arrival, open loop) or started (closed loop).
    pub intended: Time,
    /// When the client received it.
    pub invoked: Option<Time>,
    /// When and how it completed; `None` if it never did.
    pub completed: Option<(Time, Outcome)>,
    /// The server that answered, if the client said.
    pub served_by: Option<NodeId>,
}

impl OpRecord {
    /// Completion time minus intended start, for completed operations.
    pub fn latency_nanos(&self) -> Option<u64> {
        self.completed.as_ref().map(|(at, _)| at.as_nanos().saturating_sub(self.intended.as_nanos()))
    }
}

/// The driver's state.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) config: WorkloadConfig,
    rng: Rng,
    mix: Vec<(u64, String)>,
    mix_total: u64,
    zipf: Option<Zipf>,
    pub(crate) records: Vec<OpRecord>,
    in_flight: DetHashMap<u64, usize>,
    /// Closed loop: each worker's current process id.
    processes: Vec<u64>,
    next_client: usize,
    /// The last value issued as a write to each key (what a compare-and-set expects).
    written: BTreeMap<u64, Value>,
}

/// What the engine must do after a driver step.
pub(crate) enum Next {
    /// Hand record `usize` to its client at this time.
    Invoke(u64, usize),
    /// Run the next arrival at this time.
    Arrival(u64),
}

impl Driver {
    pub(crate) fn new(config: WorkloadConfig, rng: Rng) -> Driver {
        let mut total = 0;
        let mix = config
            .mix
            .iter()
            .filter(|(_, weight)| *weight > 0.0)
            .map(|(name, weight)| {
                total += (weight * 1e9).round().max(1.0) as u64;
                (total, name.clone())
            })
            .collect();
        let zipf = match config.keys {
            Keys::Zipfian { count, exponent } => Some(Zipf::new(count, exponent)),
            _ => None,
        };
        let processes = match config.mode {
            Mode::Closed { workers } => (0..u64::from(workers)).collect(),
            Mode::Open { .. } => Vec::new(),
        };
        Driver {
            config,
            rng,
            mix,
            mix_total: total,
            zipf,
            records: Vec::new(),
            in_flight: DetHashMap::default(),
            processes,
            next_client: 0,
            written: BTreeMap::new(),
        }
    }

    /// A driver that issues nothing: it keeps the operations nodes start themselves
    /// (`Ctx::begin_operation`) in a simulation without a `[workload]`.
    pub(crate) fn inert(rng: Rng) -> Driver {
        let config = WorkloadConfig {
            clients: Vec::new(),
            mode: Mode::Closed { workers: 0 },
            mix: Vec::new(),
            args: BTreeMap::new(),
            keys: Keys::Uniform { count: 1 },
            start: Time::ZERO,
            stop: Time::ZERO,
            limit: None,
        };
        Driver::new(config, rng)
    }

    /// Records an operation `client` starts on its own at `now` (a step of a measurement
    /// the system drives, not one handed out by the driver); returns its id and its invoke
    /// event. It is its own history process, numbered apart from the driver's.
    pub(crate) fn begin(
        &mut self,
        client: NodeId,
        now: u64,
        f: &str,
        key: u64,
        value: Value,
    ) -> (u64, HistoryEvent) {
        let id = self.records.len() as u64;
        let op = Operation { id, process: SELF_STARTED_PROCESSES + id, f: f.to_owned(), key, value };
        let index = self.push(op, client, now);
        (id, self.on_invoke(now, index))
    }

    /// Records operation `op`, meant to start at `now` on `client`, as in flight; returns its
    /// index in `records`.
    fn push(&mut self, op: Operation, client: NodeId, now: u64) -> usize {
        let id = op.id;
        self.records.push(OpRecord {
            op,
            client,
            intended: Time(now),
            invoked: None,
            completed: None,
            served_by: None,
        });
        self.in_flight.insert(id, self.records.len() - 1);
        self.records.len() - 1
    }

    /// What to schedule when the run starts.
    pub(crate) fn start(&mut self) -> Vec<Next> {
        let start = self.config.start.as_nanos();
        match self.config.mode {
            Mode::Open { .. } => vec![Next::Arrival(start)],
            Mode::Closed { workers } => {
                (0..workers as usize).filter_map(|worker| self.issue(start, Some(worker))).collect()
            }
        }
    }

    /// An open-loop arrival at `now`: issue one operation, schedule the next arrival.
    pub(crate) fn on_arrival(&mut self, now: u64) -> Vec<Next> {
        let Mode::Open { per_second } = self.config.mode else { unreachable!("arrivals are open loop") };
        let mut next: Vec<Next> = self.issue(now, None).into_iter().collect();
        let mean = std::time::Duration::from_secs_f64(1.0 / per_second);
        let gap = Distribution::Exponential { mean }.sample_nanos(&mut self.rng).max(1);
        if now + gap < self.config.stop.as_nanos() && !self.at_limit() {
            next.push(Next::Arrival(now + gap));
        }
        next
    }

    /// The client received record `index` at `now`; returns the history event to record.
    pub(crate) fn on_invoke(&mut self, now: u64, index: usize) -> HistoryEvent {
        let record = &mut self.records[index];
        record.invoked = Some(Time(now));
        let op = Op {
            f: record.op.f.clone(),
            key: Some(Value::Int(record.op.key as i64)),
            value: record.op.value.clone(),
        };
        HistoryEvent {
            time: Time(now),
            node: record.client,
            process: record.op.process,
            kind: OpKind::Invoke,
            op,
            served_by: None,
        }
    }

    /// The operations `node` was handed (or began itself) that have not ended, by id.
    pub(crate) fn invoked_at(&self, node: NodeId) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, &index)| self.records[index].client == node && self.records[index].invoked.is_some())
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The operation ended; returns the history event and what to issue next.
    pub(crate) fn complete(
        &mut self,
        now: u64,
        id: u64,
        outcome: Outcome,
        served_by: Option<NodeId>,
    ) -> (HistoryEvent, Option<Next>) {
        let index = self
            .in_flight
            .remove(&id)
            .unwrap_or_else(|| panic!("operation {id} completed twice, or never issued"));
        let record = &mut self.records[index];
        let (kind, value) = match &outcome {
            Outcome::Ok(value) => (OpKind::Ok, value.clone()),
            Outcome::Fail => (OpKind::Fail, record.op.value.clone()),
            Outcome::Info => (OpKind::Info, record.op.value.clone()),
        };
        let event = HistoryEvent {
            time: Time(now),
            node: record.client,
            process: record.op.process,
            kind,
            op: Op { f: record.op.f.clone(), key: Some(Value::Int(record.op.key as i64)), value },
            served_by,
        };
        record.completed = Some((Time(now), outcome.clone()));
        record.served_by = served_by;
        let process = record.op.process;
        let next = match self.config.mode {
            // Operations a node started itself belong to no worker.
            Mode::Closed { workers } => match self.processes.iter().position(|p| *p == process) {
                Some(worker) => {
                    if outcome == Outcome::Info {
                        self.processes[worker] += u64::from(workers);
                    }
                    self.issue(now, Some(worker))
                }
                None => None,
            },
            Mode::Open { .. } => None,
        };
        (event, next)
    }

    /// Creates the next operation, if the workload is still running.
    fn issue(&mut self, now: u64, worker: Option<usize>) -> Option<Next> {
        if now < self.config.start.as_nanos() || now >= self.config.stop.as_nanos() || self.at_limit() {
            return None;
        }
        if self.config.clients.is_empty() || self.mix.is_empty() {
            return None;
        }
        let id = self.records.len() as u64;
        let client = match worker {
            Some(worker) => self.config.clients[worker % self.config.clients.len()],
            None => {
                self.next_client = (self.next_client + 1) % self.config.clients.len();
                self.config.clients[self.next_client]
            }
        };
        let draw = self.rng.below(self.mix_total);
        let f = self.mix[self.mix.partition_point(|(cumulative, _)| *cumulative <= draw)].1.clone();
        let key = self.key();
        let value = self.argument(&f, id, key);
        let process = worker.map_or(id, |w| self.processes[w]);
        let op = Operation { id, process, f, key, value };
        Some(Next::Invoke(now, self.push(op, client, now)))
    }

    /// The argument of operation `id`, `f` on `key`.
    fn argument(&mut self, f: &str, id: u64, key: u64) -> Value {
        let unique = Value::Int(id as i64);
        match self.config.args.get(f).copied().unwrap_or(Arg::None) {
            Arg::None => Value::Nil,
            Arg::Text => Value::Str(format!("{id},")),
            Arg::Unique => {
                self.written.insert(key, unique.clone());
                unique
            }
            Arg::Cas => {
                let expected = self.written.insert(key, unique.clone()).unwrap_or(Value::Nil);
                Value::List(vec![expected, unique])
            }
        }
    }

    fn at_limit(&self) -> bool {
        self.config.limit.is_some_and(|limit| self.records.len() as u64 >= limit)
    }

    fn key(&mut self) -> u64 {
        match &self.config.keys {
            Keys::Uniform { count } => self.rng.below((*count).max(1)),
            Keys::Zipfian { .. } => self.zipf.as_ref().expect("built with the config").sample(&mut self.rng),
            Keys::HotKey { count, hot, fraction } => {
                let (count, hot) = ((*count).max(1), (*hot).clamp(1, (*count).max(1)));
                if hot == count || self.rng.chance(*fraction) {
                    self.rng.below(hot)
                } else {
                    hot + self.rng.below(count - hot)
                }
            }
        }
    }
}

/// YCSB's zipfian generator (Gray et al., "Quickly Generating Billion-Record Synthetic
/// Databases", SIGMOD 1994), as in YCSB's `ZipfianGenerator`.
#[derive(Clone, Debug)]
struct Zipf {
    count: u64,
    theta: f64,
    alpha: f64,
    zeta_n: f64,
    eta: f64,
}

impl Zipf {
    fn new(count: u64, theta: f64) -> Zipf {
        let count = count.max(1);
        let zeta = |n: u64| (1..=n).map(|i| 1.0 / libm::pow(i as f64, theta)).sum::<f64>();
        let zeta_n = zeta(count);
        let zeta_2 = zeta(2.min(count));
        let eta = (1.0 - libm::pow(2.0 / count as f64, 1.0 - theta)) / (1.0 - zeta_2 / zeta_n);
        Zipf { count, theta, alpha: 1.0 / (1.0 - theta), zeta_n, eta }
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let uz = u * self.zeta_n;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + libm::pow(0.5, self.theta) {
            return 1.min(self.count - 1);
        }
        let key = (self.count as f64 * libm::pow(self.eta * u - self.eta + 1.0, self.alpha)) as u64;
        key.min(self.count - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::rng::Seed;

    fn config(keys: Keys) -> WorkloadConfig {
        WorkloadConfig {
            clients: vec![NodeId(0)],
            mode: Mode::Closed { workers: 1 },
            mix: vec![("get".into(), 1.0), ("put".into(), 3.0)],
            args: [("put".to_owned(), Arg::Unique)].into(),
            keys,
            start: Time::ZERO,
            stop: Time::MAX,
            limit: None,
        }
    }

    fn key_counts(keys: Keys, n: u64) -> Vec<u64> {
        let mut driver = Driver::new(config(keys), Seed(1).stream("workload", 0));
        let mut counts = vec![0u64; 10];
        for _ in 0..n {
            counts[driver.key() as usize] += 1;
        }
        counts
    }

    #[test]
    fn zipfian_is_skewed_and_in_range() {
        let counts = key_counts(Keys::Zipfian { count: 10, exponent: 0.99 }, 100_000);
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
        // Key 0 has probability 1/zeta(10) with theta 0.99: about 0.34.
        assert!((32_000..36_000).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn hot_key_takes_its_fraction() {
        let keys = Keys::HotKey { count: 10, hot: 1, fraction: Probability::new(0.9).unwrap() };
        let counts = key_counts(keys, 100_000);
        assert!((89_500..90_500).contains(&counts[0]), "{counts:?}");
        assert!(counts[1..].iter().all(|c| (900..1_300).contains(c)), "{counts:?}");
    }

    #[test]
    fn mix_follows_weights_and_values_are_unique() {
        let mut driver = Driver::new(config(Keys::Uniform { count: 10 }), Seed(1).stream("workload", 0));
        let mut puts = 0;
        for i in 0..10_000 {
            let Some(Next::Invoke(_, index)) = driver.issue(i, Some(0)) else { panic!() };
            let op = driver.records[index].op.clone();
            driver.complete(i, op.id, Outcome::Ok(Value::Nil), None);
            if op.f == "put" {
                puts += 1;
                assert_eq!(op.value, Value::Int(op.id as i64));
            } else {
                assert_eq!(op.value, Value::Nil);
            }
        }
        assert!((7_300..7_700).contains(&puts), "{puts}");
    }

    #[test]
    fn info_retires_a_closed_loop_process() {
        let mut driver = Driver::new(config(Keys::Uniform { count: 1 }), Seed(1).stream("workload", 0));
        let Some(Next::Invoke(_, first)) = driver.start().pop() else { panic!() };
        assert_eq!(driver.records[first].op.process, 0);
        let (event, next) = driver.complete(5, 0, Outcome::Info, None);
        assert_eq!(event.kind, OpKind::Info);
        let Some(Next::Invoke(_, second)) = next else { panic!() };
        assert_eq!(driver.records[second].op.process, 1, "a new process after info");
    }
}
