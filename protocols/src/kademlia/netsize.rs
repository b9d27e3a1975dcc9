//! Optimistic provide's network-size estimate and thresholds (go-libp2p-kad-dht `netsize`
//! and `lookup_optim.go`).
//!
//! A completed lookup's `k` closest queried peers to its target sit at normed distances
//! `d_1 < ... < d_k`; with `N` peers spread uniformly, `E[d_i] = i / (N + 1)`. The estimator
//! is upstream's (`netsize/netsize.go`):
//! - it keeps, for each rank `i`, the last [`MAX_MEASUREMENTS`] distances of the last
//!   [`MAX_AGE`], each with its lookup's weight;
//! - it answers once every rank has [`MIN_MEASUREMENTS`];
//! - per rank, it takes the weighted mean and standard deviation of the distances, then fits a
//!   line through the origin to the means, each rank weighted by its standard deviation (as
//!   upstream writes it), and answers `1 / slope - 1`;
//! - a lookup's weight is `2^(b - k)` for `b` the peers in the routing-table bucket of the
//!   target, or of the lookup's peers that would fit there if that is more (`calcWeight`):
//!   lookups into full buckets count fully.
//!
//! Upstream tracks `lookupRes.closest`, the `k` closest peers *queried* when the walk ended
//! (`query.go`, `constructLookupResult`), before the follow-up round. When a close peer is
//! unreachable, the list reaches for a peer queried early in the walk, far from the target;
//! docs/design-notes.md shows what that does to the estimate.
//!
//! Thresholds, as upstream with `k = 20`:
//! - a peer at normed distance below `individual = GammaIncRegInv(k, 1 - 0.9) / N` is among
//!   the `k` closest with 90% certainty, and gets the record at once;
//! - the walk stops when the mean distance of the `k` closest known falls below
//!   `set = GammaIncRegInv(k/2 + 1, 1 - 0.1) / N`;
//! - the provide returns after `ceil(0.75 k)` = 15 stores complete (`optProvReturnRatio`).

use std::collections::VecDeque;
use std::time::Duration;

use sim::Time;

/// Distances kept per rank (upstream `MaxMeasurementsThreshold`).
pub const MAX_MEASUREMENTS: usize = 150;
/// Distances needed per rank before it answers (upstream `MinMeasurementsThreshold`).
pub const MIN_MEASUREMENTS: usize = 5;
/// How long a distance is kept (upstream `MaxMeasurementAge`).
pub const MAX_AGE: Duration = Duration::from_secs(2 * 3600);

#[derive(Clone, Copy, Debug)]
struct Measurement {
    distance: f64,
    weight: f64,
    at: Time,
}

/// The network-size estimator.
#[derive(Clone, Debug, Default)]
pub struct Estimator {
    ranks: Vec<VecDeque<Measurement>>,
}

impl Estimator {
    /// Remembers a completed lookup's `k` closest distances, closest first, with its weight
    /// (see [`weight`]); a list of another length is ignored, as upstream.
    pub fn track(&mut self, distances: &[f64], k: usize, weight: f64, now: Time) {
        if distances.len() != k {
            return;
        }
        self.ranks.resize_with(k, VecDeque::new);
        for (rank, &distance) in self.ranks.iter_mut().zip(distances) {
            rank.push_back(Measurement { distance, weight, at: now });
            while rank.front().is_some_and(|m| m.at + MAX_AGE <= now) || rank.len() > MAX_MEASUREMENTS {
                rank.pop_front();
            }
        }
    }

    /// The estimated number of peers at `now`, once every rank has enough distances.
    pub fn size(&self, now: Time) -> Option<f64> {
        let (mut xy, mut xx) = (0.0, 0.0);
        for (i, rank) in self.ranks.iter().enumerate() {
            let live: Vec<&Measurement> = rank.iter().filter(|m| m.at + MAX_AGE > now).collect();
            if live.len() < MIN_MEASUREMENTS {
                return None;
            }
            let weights: f64 = live.iter().map(|m| m.weight).sum();
            let mean = live.iter().map(|m| m.weight * m.distance).sum::<f64>() / weights;
            let n = live.len() as f64;
            let spread =
                live.iter().map(|m| m.weight * (m.distance - mean) * (m.distance - mean)).sum::<f64>();
            let std = libm::sqrt(spread / ((n - 1.0) / n * weights));
            let x = (i + 1) as f64;
            xy += std * x * mean;
            xx += std * x * x;
        }
        (xy > 0.0).then(|| xx / xy - 1.0)
    }
}

/// A tracked lookup's weight (upstream `calcWeight`): `2^(level - k)`, `level` being the
/// peers in the owner's bucket for the target, or the tracked peers that would fit in that
/// bucket when there are more of them.
pub fn weight(bucket: usize, fitting: usize, k: usize) -> f64 {
    let level = if bucket < k { bucket.max(fitting) } else { bucket };
    libm::pow(2.0, f64::from(level.min(k) as i32 - k as i32))
}

/// Optimistic provide's distance thresholds for one network size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Store at once on a peer closer than this.
    pub individual: f64,
    /// Stop the walk when the `k` closest average below this.
    pub set: f64,
}

impl Thresholds {
    /// The thresholds for bucket size `k` and `size` peers.
    pub fn new(k: usize, size: f64) -> Thresholds {
        Thresholds {
            individual: gamma_inc_reg_inv(k as f64, 1.0 - 0.9) / size,
            set: gamma_inc_reg_inv(k as f64 / 2.0 + 1.0, 1.0 - 0.1) / size,
        }
    }
}

/// Stores that must complete before an optimistic provide returns: `ceil(0.75 k)`.
pub fn return_threshold(k: usize) -> usize {
    (k * 3).div_ceil(4)
}

/// The regularized lower incomplete gamma function `P(a, x)`, by its series.
fn gamma_inc_reg(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let (mut term, mut sum, mut n) = (1.0 / a, 1.0 / a, a);
    for _ in 0..10_000 {
        n += 1.0;
        term *= x / n;
        sum += term;
        if term < sum * 1e-15 {
            break;
        }
    }
    libm::exp(libm::log(sum) - x + a * libm::log(x) - ln_gamma(a)).min(1.0)
}

/// `x` with `P(a, x) = p`, by bisection.
fn gamma_inc_reg_inv(a: f64, p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, a + 100.0 * libm::sqrt(a) + 100.0);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if gamma_inc_reg(a, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * libm::log(2.0 * std::f64::consts::PI) + (x + 0.5) * libm::log(t) - t + libm::log(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_incomplete_gamma_matches_known_values() {
        // P(1, x) = 1 - e^-x, so P^-1(1, 0.5) = ln 2.
        assert!((gamma_inc_reg_inv(1.0, 0.5) - std::f64::consts::LN_2).abs() < 1e-9);
        // P(20, x) = 1 - e^-x sum_{i<20} x^i / i! = 0.1 at x = 14.52526.
        assert!((gamma_inc_reg_inv(20.0, 0.1) - 14.52526).abs() < 1e-3);
        // P(11, x) = 0.9 at x = 15.40664.
        assert!((gamma_inc_reg_inv(11.0, 0.9) - 15.40664).abs() < 1e-3);
        assert_eq!(return_threshold(20), 15);
    }

    #[test]
    fn estimates_the_size_of_a_uniform_network() {
        let mut estimator = Estimator::default();
        // Lookups in a network of 9,999 peers, d_i = i / 10,000 give or take 10%.
        let now = Time::ZERO;
        for j in 0..MIN_MEASUREMENTS {
            assert!(estimator.size(now).is_none());
            let wobble = 0.9 + 0.05 * j as f64;
            let distances: Vec<f64> = (1..=20).map(|i| f64::from(i) / 10_000.0 * wobble).collect();
            estimator.track(&distances, 20, 1.0, now);
        }
        let size = estimator.size(now).unwrap();
        assert!((size - 9_999.0).abs() < 1e-6, "{size}");
        // A short list is ignored; distances older than MAX_AGE are forgotten.
        estimator.track(&[0.5; 19], 20, 1.0, now);
        assert!((estimator.size(now).unwrap() - 9_999.0).abs() < 1e-6);
        assert!(estimator.size(now + MAX_AGE).is_none());
    }

    #[test]
    fn weights_favour_lookups_into_full_buckets() {
        assert_eq!(weight(20, 0, 20), 1.0);
        assert_eq!(weight(17, 3, 20), 0.125);
        assert_eq!(weight(10, 20, 20), 1.0, "the tracked peers would fill the bucket");
    }
}
