//! datas3t settings: the `[settings]` table of a `datas3t` scenario.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::scenario::{duration, Bytes};

/// How the service behaves.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `"datas3t"` (draganm/datas3t at fa4800e as its code is) or `"safe"` (the design it
    /// reaches for: docs/design-notes.md). Default: "safe".
    pub mode: Mode,
    /// Datapoints in each upload: workload key k uploads datapoints [k·n, k·n + n − 1].
    /// Default: 10.
    pub datapoints_per_upload: u64,
    /// The largest datapoint; each one's size is drawn from 1 byte to this. Default: 2 KiB.
    pub max_datapoint_size: Bytes,
    /// Consecutive uploads an aggregate joins: key k aggregates the ranges of keys
    /// [k − k % n, k − k % n + n − 1]. Default: 4.
    pub aggregate_ranges: u64,
    /// Uploads at least this large are multipart (the real 20 MiB). Default: "20MiB".
    pub multipart_threshold: Bytes,
    /// The part size of a multipart upload, doubled while there would be more than 10,000
    /// parts. Default: "20MiB".
    pub part_size: Bytes,
    /// The object store refuses a single PUT larger than this (S3: 5 GiB). Default: "5GiB".
    pub put_limit: Bytes,
    /// The share of object-store requests answered with a 500. Default: 0.
    pub s3_error_rate: f64,
    /// The share of object-store requests that never get an answer. Default: 0.
    pub s3_timeout_rate: f64,
    /// How long the server and clients wait for the object store or the metadata store.
    /// Default: "5s".
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Retries of an object-store request that failed (a 500 or a timeout). Default: 3.
    pub retries: u32,
    /// How long a client waits for the server. Default: "60s".
    #[serde(with = "duration")]
    pub client_timeout: Duration,
    /// Presigned URLs are valid this long. Default: "24h".
    #[serde(with = "duration")]
    pub url_expiry: Duration,
    /// The deletion worker polls this often while it has work, backing off ×1.5 to
    /// `deletion_idle_max` when idle. Default: "1s".
    #[serde(with = "duration")]
    pub deletion_poll: Duration,
    /// The deletion worker's longest idle poll. Default: "60s".
    #[serde(with = "duration")]
    pub deletion_idle_max: Duration,
    /// Safe mode: an upload not completed this long after it started is abandoned: its
    /// multipart upload aborted, its objects deleted, its row removed. Default: "120s".
    #[serde(with = "duration")]
    pub upload_lease: Duration,
    /// The share of uploads whose client disappears after putting its objects, before it
    /// completes (or cancels) them. Default: 0.
    pub abandon_rate: f64,
    /// The share of uploads whose client sends a malformed datarange (an index cut short,
    /// a header naming another datapoint, or an index missing its last entry), which the
    /// server must reject. Default: 0.
    pub malformed_rate: f64,
    /// Before the workload, the clients upload ranges 0..load between them, one at a time
    /// each (a bulk load: the scale case's million datapoints). Default: 0.
    pub load: u64,
    /// Uploads with an odd value are shifted by half a range, so uploads overlap partly
    /// as well as wholly. Default: false.
    pub stagger: bool,
    /// Planted bugs (the real service's fixed ones), for testing the checks.
    pub bugs: Vec<Bug>,
}

impl Default for Config {
    fn default() -> Config {
        const MIB: u64 = 1 << 20;
        Config {
            mode: Mode::Safe,
            datapoints_per_upload: 10,
            max_datapoint_size: Bytes(2048),
            aggregate_ranges: 4,
            multipart_threshold: Bytes(20 * MIB),
            part_size: Bytes(20 * MIB),
            put_limit: Bytes(5 << 30),
            s3_error_rate: 0.0,
            s3_timeout_rate: 0.0,
            request_timeout: Duration::from_secs(5),
            retries: 3,
            client_timeout: Duration::from_secs(60),
            url_expiry: Duration::from_secs(24 * 3600),
            deletion_poll: Duration::from_secs(1),
            deletion_idle_max: Duration::from_secs(60),
            upload_lease: Duration::from_secs(120),
            abandon_rate: 0.0,
            malformed_rate: 0.0,
            load: 0,
            stagger: false,
            bugs: Vec::new(),
        }
    }
}

/// Which service runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// fa4800e as its code is.
    Datas3t,
    /// The design it reaches for.
    Safe,
}

/// A planted bug: one the real service fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// 68990f3: an aggregate's completion inserts the aggregate, then schedules the objects
    /// of every range in its span for deletion, its own among them.
    AggregateDeletesItself,
    /// 9cae85f: object keys without the upload counter, so uploading a range again
    /// overwrites its objects (and the index cache serves the old index).
    NoUploadCounter,
    /// 079d590: the aggregate's size estimate counts the datapoints' bytes but not the TAR
    /// framing, so a large aggregate gets a single PUT the object store refuses.
    SizeEstimate,
}

impl Config {
    /// The datapoints the upload of workload key `key` with value `version` writes.
    pub fn upload_range(&self, key: u64, version: u64) -> (u64, u64) {
        let per = self.datapoints_per_upload;
        let shift = if self.stagger && version % 2 == 1 { per / 2 } else { 0 };
        (key * per + shift, key * per + shift + per - 1)
    }

    /// Whether `bug` is planted.
    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The rules across fields: `(settings key, message)` on failure.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.datapoints_per_upload == 0 {
            return Err(("datapoints_per_upload", "datapoints_per_upload must be at least 1".into()));
        }
        if self.max_datapoint_size.0 == 0 {
            return Err(("max_datapoint_size", "max_datapoint_size must be at least 1 byte".into()));
        }
        if self.aggregate_ranges < 2 {
            return Err(("aggregate_ranges", "an aggregate joins at least 2 ranges".into()));
        }
        sim::scenario::nonzero(&[
            ("multipart_threshold", self.multipart_threshold),
            ("part_size", self.part_size),
            ("put_limit", self.put_limit),
        ])?;
        for (key, value) in [
            ("s3_error_rate", self.s3_error_rate),
            ("s3_timeout_rate", self.s3_timeout_rate),
            ("abandon_rate", self.abandon_rate),
            ("malformed_rate", self.malformed_rate),
        ] {
            if !(0.0..1.0).contains(&value) {
                return Err((key, format!("{key} must be in [0, 1), not {value}")));
            }
        }
        sim::scenario::nonzero(&[
            ("request_timeout", self.request_timeout),
            ("client_timeout", self.client_timeout),
            ("url_expiry", self.url_expiry),
            ("deletion_poll", self.deletion_poll),
            ("deletion_idle_max", self.deletion_idle_max),
            ("upload_lease", self.upload_lease),
        ])?;
        Ok(())
    }
}
