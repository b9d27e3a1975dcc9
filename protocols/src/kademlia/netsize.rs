//! Optimistic provide's network-size estimate and thresholds (go-libp2p-kad-dht `netsize`
//! and `lookup_optim.go`).
//!
//! A completed lookup's `k` closest peers to a random target sit at normed distances
//! `d_1 < ... < d_k`; with `N` peers spread uniformly, `E[d_i] = i / (N + 1)`. The estimator
//! keeps the last [`KEEP`] such lists and fits `1 / (N + 1)` by least squares through the
//! origin over all of them (upstream fits the same line, weighting each rank by its
//! variance; we weight equally). It answers once it holds [`MIN_LOOKUPS`] lists (our
//! choice; upstream waits for a similar minimum and falls back to the classic provide
//! until then, as we do).
//!
//! Thresholds, as upstream with `k = 20`:
//! - a peer at normed distance below `individual = GammaIncRegInv(k, 1 - 0.9) / N` is among
//!   the `k` closest with 90% certainty, and gets the record at once;
//! - the walk stops when the mean distance of the `k` closest known falls below
//!   `set = GammaIncRegInv(k/2 + 1, 1 - 0.1) / N`;
//! - the provide returns after `ceil(0.75 k)` = 15 stores complete (`optProvReturnRatio`).

use std::collections::VecDeque;

/// Lookups the estimator remembers.
pub const KEEP: usize = 50;
/// Lookups it needs before it answers.
pub const MIN_LOOKUPS: usize = 5;

/// The network-size estimator.
#[derive(Clone, Debug, Default)]
pub struct Estimator {
    lookups: VecDeque<Vec<f64>>,
}

impl Estimator {
    /// Remembers a completed lookup's closest distances (ignored unless there are `k`).
    pub fn track(&mut self, distances: Vec<f64>, k: usize) {
        if distances.len() < k {
            return;
        }
        if self.lookups.len() == KEEP {
            self.lookups.pop_front();
        }
        self.lookups.push_back(distances);
    }

    /// The estimated number of peers, once enough lookups are in.
    pub fn size(&self) -> Option<f64> {
        if self.lookups.len() < MIN_LOOKUPS {
            return None;
        }
        let (mut xy, mut xx) = (0.0, 0.0);
        for distances in &self.lookups {
            for (i, d) in distances.iter().enumerate() {
                let rank = (i + 1) as f64;
                xy += rank * d;
                xx += rank * rank;
            }
        }
        (xy > 0.0).then(|| xx / xy - 1.0)
    }
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
    (sum.ln() - x + a * x.ln() - ln_gamma(a)).exp().min(1.0)
}

/// `x` with `P(a, x) = p`, by bisection.
fn gamma_inc_reg_inv(a: f64, p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, a + 100.0 * a.sqrt() + 100.0);
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
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
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
        // Ideal lookups in a network of 9,999 peers: d_i = i / 10,000.
        for _ in 0..MIN_LOOKUPS {
            assert!(estimator.size().is_none());
            estimator.track((1..=20).map(|i| f64::from(i) / 10_000.0).collect(), 20);
        }
        assert!((estimator.size().unwrap() - 9_999.0).abs() < 1e-6);
    }
}
