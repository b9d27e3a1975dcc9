//! PBS's WARS model (Bailis et al., "Probabilistically Bounded Staleness for Practical
//! Partial Quorums", VLDB 2012, §5): the probability that a read issued `t` after a write
//! commits returns it, by Monte Carlo over the four latencies of every replica. It is the
//! oracle the measured staleness is compared with.
//!
//! One trial: every replica i draws W_i (the write reaching it), A_i (its acknowledgement),
//! R_i (the read request reaching it), S_i (its response). The write commits when the W-th
//! fastest W_i + A_i arrives; the read starts `t` later; replica i answers at
//! t + R_i + S_i after the commit and has the write if W_i <= commit + t + R_i. The read
//! returns the first R answers and is consistent if any of them has the write.
//!
//! k-staleness without propagation (§4.1): a read quorum misses the write quorum with
//! probability C(N-W, R) / C(N, R).

use sim::{Distribution, Rng};

/// The four latencies, the same for every replica.
#[derive(Clone, Debug)]
pub struct Wars {
    /// Write request to a replica.
    pub w: Distribution,
    /// Its acknowledgement.
    pub a: Distribution,
    /// Read request to a replica.
    pub r: Distribution,
    /// Its response.
    pub s: Distribution,
}

/// The model for N replicas, R and W.
#[derive(Clone, Debug)]
pub struct Model {
    /// The latencies.
    pub wars: Wars,
    /// N.
    pub replicas: usize,
    /// R.
    pub read_quorum: usize,
    /// W.
    pub write_quorum: usize,
}

impl Model {
    /// The share of `trials` reads issued `t` ns after commit that are consistent.
    pub fn consistency(&self, t: u64, trials: u32, rng: &mut Rng) -> f64 {
        let n = self.replicas;
        let mut consistent = 0u32;
        let mut replicas = vec![(0u64, 0u64, 0u64); n];
        let mut acks = vec![0u64; n];
        let mut answers: Vec<(u64, bool)> = Vec::with_capacity(n);
        for _ in 0..trials {
            for (i, replica) in replicas.iter_mut().enumerate() {
                let w = self.wars.w.sample_nanos(rng);
                let a = self.wars.a.sample_nanos(rng);
                let r = self.wars.r.sample_nanos(rng);
                let s = self.wars.s.sample_nanos(rng);
                *replica = (w, r, s);
                acks[i] = w + a;
            }
            acks.sort_unstable();
            let commit = acks[self.write_quorum - 1];
            answers.clear();
            answers.extend(replicas.iter().map(|&(w, r, s)| (t + r + s, w <= commit + t + r)));
            answers.sort_unstable();
            consistent += u32::from(answers[..self.read_quorum].iter().any(|a| a.1));
        }
        f64::from(consistent) / f64::from(trials)
    }

    /// The probability that a read quorum misses the write quorum (k = 1, no propagation).
    pub fn k_staleness(&self) -> f64 {
        let (n, r, w) = (self.replicas as u64, self.read_quorum as u64, self.write_quorum as u64);
        choose(n - w, r) as f64 / choose(n, r) as f64
    }
}

fn choose(n: u64, k: u64) -> u64 {
    if k > n {
        return 0;
    }
    (0..k).fold(1, |acc, i| acc * (n - i) / (i + 1))
}

/// The model's consistency at `t`, on a grid of times growing by 5% from 1 us, so that a
/// whole run's reads cost a few hundred grid points; a time between points takes the
/// point below it.
pub struct Curve {
    points: Vec<(u64, f64)>,
}

impl Curve {
    /// The curve up to `until` ns, `trials` per point.
    pub fn new(model: &Model, until: u64, trials: u32, rng: &mut Rng) -> Curve {
        let mut points = vec![(0, model.consistency(0, trials, rng))];
        let mut t = 1_000u64;
        while t <= until {
            points.push((t, model.consistency(t, trials, rng)));
            t = t + t / 20 + 1;
        }
        Curve { points }
    }

    /// The consistency at `t`.
    pub fn at(&self, t: u64) -> f64 {
        let i = self.points.partition_point(|(at, _)| *at <= t);
        self.points[i.saturating_sub(1)].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::Seed;
    use std::time::Duration;

    fn exp(mean_us: u64) -> Distribution {
        Distribution::Exponential { mean: Duration::from_micros(mean_us) }
    }

    fn model(w: Distribution, ars: Distribution) -> Model {
        Model {
            wars: Wars { w, a: ars.clone(), r: ars.clone(), s: ars },
            replicas: 3,
            read_quorum: 1,
            write_quorum: 1,
        }
    }

    /// The figures ../shared/SYSTEMS.md quotes from the paper, within 2 points.
    #[test]
    fn reproduces_the_paper_s_figures() {
        let rng = &mut Seed(1).stream("pbs", 0);
        let fast = model(exp(250), exp(1000));
        assert!((fast.consistency(0, 100_000, rng) - 0.94).abs() < 0.02);
        assert!(fast.consistency(1_000_000, 100_000, rng) > 0.99);
        let slow = model(exp(10_000), exp(1000));
        assert!((slow.consistency(0, 100_000, rng) - 0.41).abs() < 0.02);
        assert!(slow.consistency(65_000_000, 100_000, rng) > 0.995);
        let ssd = Distribution::mixture(vec![
            (0.9122, Distribution::Pareto { scale: Duration::from_nanos(235_000), shape: 10.0 }),
            (0.0878, exp(602)),
        ])
        .unwrap();
        let linkedin = model(ssd.clone(), ssd);
        assert!((linkedin.consistency(0, 100_000, rng) - 0.974).abs() < 0.02);
        assert!((fast.k_staleness() - 2.0 / 3.0).abs() < 1e-12);
    }
}
