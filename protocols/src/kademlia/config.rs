//! Kademlia settings: the `[settings]` table of a `kademlia` scenario.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::scenario::duration;

/// The DHT, its population and the measurement.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Bucket size and replication factor (go-libp2p-kad-dht `amino.DefaultBucketSize`).
    /// Default: 20.
    pub k: usize,
    /// Requests a lookup keeps out at once (`amino.DefaultConcurrency`). Default: 10.
    pub alpha: usize,
    /// A lookup ends when this many of the closest peers it heard of have answered
    /// (`amino.DefaultResiliency`). Default: 3.
    pub beta: usize,
    /// How long a request waits for its answer (`dhtReadMessageTimeout` in
    /// `internal/net/message_manager.go`). Default: "10s".
    #[serde(with = "duration")]
    pub read_timeout: Duration,
    /// How long one ADD_PROVIDER may take in the default and optimistic provide. Default:
    /// "30s".
    #[serde(with = "duration")]
    pub put_timeout: Duration,
    /// The accelerated client's timeout per operation (`fullrt` `WithTimeoutPerOperation`).
    /// Default: "5s".
    #[serde(with = "duration")]
    pub fullrt_timeout: Duration,
    /// The accelerated client's provide waits for `k * fraction * 1.2` successful puts
    /// before it lets the rest go (`fullrt` `WithSuccessWaitFraction`). Default: 0.3.
    pub fullrt_wait_fraction: f64,
    /// How often the accelerated client crawls the whole network (`WithCrawlInterval`).
    /// Default: "1h".
    #[serde(with = "duration")]
    pub crawl_interval: Duration,
    /// Crawl requests out at once (upstream crawler's `WithParallelism`). Default: 1000.
    pub crawl_parallelism: usize,
    /// How often measurement servers (and, with `tables = "bootstrap"`, DHT servers) refresh
    /// their routing table (go-libp2p-kad-dht `RoutingTableRefreshPeriod`). Default: "10m".
    #[serde(with = "duration")]
    pub refresh_interval: Duration,
    /// How long a provider record lives (`amino.DefaultProvideValidity`). Default: "48h".
    #[serde(with = "duration")]
    pub provider_ttl: Duration,
    /// How routing tables come to be: `"constructed"`, each server starts with the table a
    /// well-refreshed life leaves it ([`super::table::Population::initial_table`]), or
    /// `"bootstrap"`: the bootstrap servers start knowing each other, every other server
    /// joins at a random time within `join_over` through them (a self-lookup, then a lookup
    /// into each bucket) and refreshes so every `refresh_interval`, and the measurement
    /// servers join once all have. Default: "constructed".
    pub tables: Tables,
    /// With `tables = "bootstrap"`, the DHT servers join within this long from the start.
    /// Default: "5m".
    #[serde(with = "duration")]
    pub join_over: Duration,
    /// The share of DHT servers that never answer: they are in routing tables, but a dial
    /// to them times out. Default: 0.
    pub unreachable: f64,
    /// Servers leave and come back: see [`Churn`]. Default: none.
    pub churn: Option<Churn>,
    /// Which peers of a completed lookup feed optimistic provide's network-size estimate:
    /// `"known"`, the `k` closest heard, waiting or queried when the walk ended (upstream's
    /// `lookupRes.peers`, what go-libp2p-kad-dht tracked when optimistic provide came in), or
    /// `"queried"`, the `k` closest that answered by then (`lookupRes.closest`, what it
    /// tracks now). docs/design-notes.md shows how far apart the two land. Default: "known".
    pub netsize_track: NetsizeTrack,
    /// The regions, with the share of DHT servers in each. Default: five regions (see
    /// [`Region::defaults`]).
    pub regions: Vec<Region>,
    /// One-way latency between regions, in milliseconds: `latency[a][b]` from region `a` to
    /// `b`. Each message draws uniformly within ±10% of it. Default: the five regions' table.
    pub latency_ms: Vec<Vec<f64>>,
    /// The fleets measured, each with `per_region` measurement servers in every region.
    /// Default: all four.
    pub fleets: Vec<Fleet>,
    /// Measurement servers per fleet and region. Default: 1.
    pub per_region: u32,
    /// When the first provide starts: measurement servers refresh (and `fullrt` crawls)
    /// before it. Default: "1m".
    #[serde(with = "duration")]
    pub warmup: Duration,
    /// One provide starts every `interval`, by the measurement servers in turn. Default: "5s".
    #[serde(with = "duration")]
    pub interval: Duration,
    /// How many provides in all. Default: 20.
    pub provides: u64,
    /// The least share of provides / retrievals that must succeed, per fleet:
    /// `{ provide = 0.9, retrieve = 0.9 }`. Checked as `kademlia.success.<op>.<fleet>`.
    pub min_success: BTreeMap<String, f64>,
    /// Planted bugs, for showing the checks catch them (canaries). Default: none.
    pub bugs: Vec<Bug>,
}

/// A planted bug (see `scenarios/kademlia/canary/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// A DHT provide stores its provider records on the k peers nearest the provider's own
    /// id, not the content's: the walk is right, the distance the stores are chosen by is
    /// to the wrong key. Retrievals walk toward the content and find no record.
    StoreNearSelf,
    /// A lookup's query carries no timeout: one sent to a server that never answers is
    /// waited for forever, and the lookup cannot finish (the lookup that hangs on a silent
    /// peer). Provides and retrievals hang where servers are unreachable.
    QueryWithoutTimeout,
}

impl Config {
    /// Whether the scenario planted `bug`.
    pub fn has_bug(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }
}

/// How routing tables come to be (see [`Config::tables`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tables {
    /// Built at start by the fast construction.
    Constructed,
    /// Grown by real joins and refreshes.
    Bootstrap,
}

/// Which peers feed the network-size estimate (see [`Config::netsize_track`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetsizeTrack {
    /// The `k` closest heard, waiting or queried when the walk ended.
    Known,
    /// The `k` closest queried when the walk ended.
    Queried,
}

/// Servers leave at a rate and come back after a downtime.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// Each server leaves as a Poisson process with this rate, per hour.
    pub leave_per_hour: f64,
    /// How long a server stays away, exponentially distributed with this mean; it then
    /// restarts with an empty table and bootstraps.
    #[serde(with = "duration")]
    pub downtime: Duration,
}

/// A region.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Its name.
    pub name: String,
    /// Its share of the DHT servers (shares are normalised).
    pub share: f64,
}

impl Region {
    /// Five regions weighted roughly as the public DHT's servers are.
    pub fn defaults() -> Vec<Region> {
        [("us-east", 0.30), ("us-west", 0.15), ("eu", 0.35), ("ap", 0.15), ("sa", 0.05)]
            .into_iter()
            .map(|(name, share)| Region { name: name.to_owned(), share })
            .collect()
    }
}

/// The one-way latencies between the default regions, ms (typical public-cloud RTTs / 2).
fn default_latency() -> Vec<Vec<f64>> {
    vec![
        vec![5.0, 35.0, 40.0, 110.0, 60.0],
        vec![35.0, 5.0, 70.0, 80.0, 90.0],
        vec![40.0, 70.0, 5.0, 120.0, 100.0],
        vec![110.0, 80.0, 120.0, 5.0, 160.0],
        vec![60.0, 90.0, 100.0, 160.0, 5.0],
    ]
}

/// How a measurement server provides and retrieves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fleet {
    /// A lookup for the `k` closest, then ADD_PROVIDER to all of them; retrieval is a
    /// GET_PROVIDERS lookup that stops at the first provider record.
    Default,
    /// The accelerated client: the whole network from a periodic crawl; ADD_PROVIDER and
    /// GET_PROVIDERS go straight to the `k` closest it knows.
    Fullrt,
    /// Optimistic provide: stores early on peers likely among the `k` closest by a
    /// network-size estimate and returns after 15 of 20 stores complete.
    Optprov,
    /// A central indexer: announce, the indexer ingests, a lookup is one request.
    Ipni,
}

impl Fleet {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Fleet::Default => "default",
            Fleet::Fullrt => "fullrt",
            Fleet::Optprov => "optprov",
            Fleet::Ipni => "ipni",
        }
    }

    /// Whether its content goes into the DHT (else to the indexer).
    pub fn uses_dht(self) -> bool {
        self != Fleet::Ipni
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            k: 20,
            alpha: 10,
            beta: 3,
            read_timeout: Duration::from_secs(10),
            put_timeout: Duration::from_secs(30),
            fullrt_timeout: Duration::from_secs(5),
            fullrt_wait_fraction: 0.3,
            crawl_interval: Duration::from_secs(3600),
            crawl_parallelism: 1000,
            refresh_interval: Duration::from_secs(600),
            provider_ttl: Duration::from_secs(48 * 3600),
            tables: Tables::Constructed,
            join_over: Duration::from_secs(300),
            unreachable: 0.0,
            churn: None,
            netsize_track: NetsizeTrack::Known,
            regions: Region::defaults(),
            latency_ms: default_latency(),
            fleets: vec![Fleet::Default, Fleet::Fullrt, Fleet::Optprov, Fleet::Ipni],
            per_region: 1,
            warmup: Duration::from_secs(60),
            interval: Duration::from_secs(5),
            provides: 20,
            min_success: BTreeMap::new(),
            bugs: Vec::new(),
        }
    }
}

impl Config {
    /// The lookup parameters.
    pub fn lookup(&self) -> super::lookup::Params {
        super::lookup::Params { k: self.k, alpha: self.alpha, beta: self.beta }
    }

    /// The rules across settings: `(key, message)` on failure.
    pub fn validate(&self, nodes: u32, duration: Duration) -> Result<(), (&'static str, String)> {
        if self.k == 0 || self.alpha == 0 || self.beta == 0 || self.beta > self.k {
            return Err((
                "k",
                format!("need k, alpha, beta >= 1 and beta <= k (k = {}, beta = {})", self.k, self.beta),
            ));
        }
        if nodes <= self.k as u32 {
            return Err((
                "k",
                format!("a DHT of {nodes} servers is no bigger than one bucket (k = {})", self.k),
            ));
        }
        if !(0.0..1.0).contains(&self.unreachable) {
            return Err(("unreachable", format!("must be in [0, 1), got {}", self.unreachable)));
        }
        if !(self.fullrt_wait_fraction > 0.0 && self.fullrt_wait_fraction <= 1.0) {
            return Err(("fullrt_wait_fraction", "must be in (0, 1]".into()));
        }
        if self.regions.is_empty() || self.regions.iter().any(|r| r.share.is_nan() || r.share < 0.0) {
            return Err(("regions", "need at least one region, each with a share >= 0".into()));
        }
        if self.regions.iter().map(|r| r.share).sum::<f64>() <= 0.0 {
            return Err(("regions", "the shares add up to 0".into()));
        }
        let n = self.regions.len();
        if self.latency_ms.len() != n || self.latency_ms.iter().any(|row| row.len() != n) {
            return Err(("latency_ms", format!("must be a {n} x {n} table, one row and column per region")));
        }
        if self.latency_ms.iter().flatten().any(|ms| ms.is_nan() || *ms <= 0.0) {
            return Err(("latency_ms", "latencies must be > 0 ms".into()));
        }
        if self.fleets.is_empty() || self.per_region == 0 {
            return Err(("fleets", "need at least one fleet and per_region >= 1".into()));
        }
        if self.tables == Tables::Bootstrap && self.warmup <= self.join_over {
            return Err((
                "warmup",
                format!(
                    "with tables = \"bootstrap\" the measurement starts after every server joined: warmup ({:?}) must be longer than join_over ({:?})",
                    self.warmup, self.join_over
                ),
            ));
        }
        if self.crawl_parallelism == 0 {
            return Err(("crawl_parallelism", "must be >= 1".into()));
        }
        if let Some(churn) = &self.churn {
            if churn.leave_per_hour.is_nan() || churn.leave_per_hour < 0.0 || churn.downtime.is_zero() {
                return Err(("churn", "leave_per_hour must be >= 0 and downtime > 0".into()));
            }
        }
        for (op, share) in &self.min_success {
            if op != "provide" && op != "retrieve" {
                return Err((
                    "min_success",
                    format!("unknown operation {op:?}; expected provide or retrieve"),
                ));
            }
            if !(0.0..=1.0).contains(share) {
                return Err(("min_success", format!("{op}: a share in [0, 1], got {share}")));
            }
        }
        let last = self.warmup + self.interval * (self.provides.saturating_sub(1) as u32);
        if self.provides > 0 && last >= duration {
            return Err((
                "provides",
                format!(
                    "the last provide would start at {:?}, not before the end of the run ({duration:?})",
                    last
                ),
            ));
        }
        Ok(())
    }
}
