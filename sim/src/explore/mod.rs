//! Exploring a failing run, as a library: make it small ([`shrink`]) and find the event that
//! decides it ([`bisect`]). `simctl shrink` and `simctl bisect` print what these return; a
//! `cargo test` that found a failing seed calls them directly. Both judge a candidate run by
//! its typed failure ([`Failure`](crate::judge::Failure)): it fails the same way when its
//! failure has the same bucket, which names the deciding check and its reason.

pub mod bisect;
pub mod shrink;

use crate::judge::Failure;
use crate::report::RunReport;

/// The failure of a run that failed, `None` if it passed.
fn failed(report: &RunReport) -> Option<Failure> {
    report.failure().filter(|_| !report.summary.passed)
}

/// Whether a run failed the way whose bucket is `bucket` ([`Failure::bucket`]).
pub fn fails_as(report: &RunReport, bucket: &str) -> bool {
    failed(report).is_some_and(|f| f.bucket() == bucket)
}
