//! Latency distributions, sampled with the kernel's own helpers.
//!
//! The shapes are the ones network-latency studies fit: constant, uniform, normal,
//! exponential, Pareto, and weighted mixtures of them. Bailis et al.'s PBS paper models
//! LinkedIn and Yammer latencies as a Pareto body with an exponential tail; that is
//! `Distribution::mixture(vec![(0.9, pareto), (0.1, exponential)])`.
//!
//! The float math uses the `libm` crate (a port of musl's libm) instead of the platform's
//! math library, so a sample is the same bits on every platform, not just on this one.

use std::time::Duration;

use super::rng::Rng;
use super::time::duration_to_nanos;

/// A distribution over non-negative durations.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// Always the same value.
    Constant(Duration),
    /// Uniform over `min..=max`, at nanosecond resolution.
    Uniform {
        /// The smallest value.
        min: Duration,
        /// The largest value.
        max: Duration,
    },
    /// Normal (Box–Muller); a negative draw becomes zero.
    Normal {
        /// The mean.
        mean: Duration,
        /// The standard deviation.
        std_dev: Duration,
    },
    /// Exponential with the given mean.
    Exponential {
        /// The mean (1 / rate).
        mean: Duration,
    },
    /// Pareto type I: `P(X > x) = (scale / x)^shape` for `x >= scale`.
    Pareto {
        /// The minimum value, x_m.
        scale: Duration,
        /// The tail index, alpha (> 0). Below 1 the mean is infinite.
        shape: f64,
    },
    /// A weighted choice among distributions: built by [`Distribution::mixture`].
    Mixture(Mixture),
}

/// A weighted mixture; weights are kept as cumulative integer shares (`weight * 1e9`,
/// rounded, not normalised) so the component choice is one exact integer draw and a weight
/// written back out as `share / 1e9` reads back as the same share.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    /// `(cumulative weight, component)`, strictly increasing in the weight.
    components: Vec<(u64, Distribution)>,
    total: u64,
}

/// A distribution that cannot be sampled as written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum InvalidDistribution {
    /// `min > max` in a uniform distribution.
    #[error("uniform distribution has min {min:?} > max {max:?}")]
    EmptyRange {
        /// The given minimum.
        min: Duration,
        /// The given maximum.
        max: Duration,
    },
    /// A Pareto shape that is not a positive finite number.
    #[error("pareto shape must be a positive number, got {0}")]
    BadShape(f64),
    /// A Pareto scale of zero (every sample would be zero).
    #[error("pareto scale must be greater than zero")]
    ZeroScale,
    /// A mixture with no components, or a weight that is negative, not finite, or all zero.
    #[error("mixture weights must be non-negative numbers with a positive sum, got {0:?}")]
    BadWeights(Vec<f64>),
}

/// Mixture weights are scaled to integers out of this.
const WEIGHT_SCALE: f64 = 1_000_000_000.0;

impl Distribution {
    /// A weighted mixture. Weights need not sum to 1: a component's probability is its
    /// weight over the sum.
    pub fn mixture(parts: Vec<(f64, Distribution)>) -> Result<Distribution, InvalidDistribution> {
        let weights: Vec<f64> = parts.iter().map(|(w, _)| *w).collect();
        let sum: f64 = weights.iter().sum();
        if parts.is_empty() || !sum.is_finite() || sum <= 0.0 || weights.iter().any(|w| *w < 0.0) {
            return Err(InvalidDistribution::BadWeights(weights));
        }
        let mut cumulative = 0u64;
        let mut components = Vec::with_capacity(parts.len());
        for (weight, part) in parts {
            part.validate()?;
            let share = (weight * WEIGHT_SCALE).round() as u64;
            if share > 0 {
                cumulative += share;
                components.push((cumulative, part));
            }
        }
        Ok(Distribution::Mixture(Mixture { components, total: cumulative }))
    }

    /// Checks the parameters; sampling an invalid distribution panics.
    pub fn validate(&self) -> Result<(), InvalidDistribution> {
        match self {
            Distribution::Uniform { min, max } if min > max => {
                Err(InvalidDistribution::EmptyRange { min: *min, max: *max })
            }
            Distribution::Pareto { shape, .. } if !(shape.is_finite() && *shape > 0.0) => {
                Err(InvalidDistribution::BadShape(*shape))
            }
            Distribution::Pareto { scale, .. } if scale.is_zero() => Err(InvalidDistribution::ZeroScale),
            Distribution::Mixture(mixture) => {
                mixture.components.iter().try_for_each(|(_, part)| part.validate())
            }
            _ => Ok(()),
        }
    }

    /// The least value a sample can take: a normal's is its mean less 8.6 standard
    /// deviations (Box–Muller's radius from a 53-bit uniform is at most 8.58), never below
    /// zero; an exponential's is zero; a Pareto's is its scale.
    pub fn floor(&self) -> Duration {
        match self {
            Distribution::Constant(value) => *value,
            Distribution::Uniform { min, .. } => *min,
            Distribution::Normal { mean, std_dev } => {
                mean.saturating_sub(*std_dev * 86 / 10).saturating_sub(Duration::from_nanos(1))
            }
            Distribution::Exponential { .. } => Duration::ZERO,
            Distribution::Pareto { scale, .. } => *scale,
            Distribution::Mixture(mixture) => {
                mixture.components.iter().map(|(_, part)| part.floor()).min().unwrap_or(Duration::ZERO)
            }
        }
    }

    /// The components of a mixture with their weights, as given (up to 1e-9).
    pub fn mixture_parts(&self) -> Option<Vec<(f64, &Distribution)>> {
        let Distribution::Mixture(mixture) = self else { return None };
        let mut previous = 0;
        Some(
            mixture
                .components
                .iter()
                .map(|(cumulative, part)| {
                    let share = cumulative - previous;
                    previous = *cumulative;
                    (share as f64 / WEIGHT_SCALE, part)
                })
                .collect(),
        )
    }

    /// One sample, in nanoseconds.
    #[inline]
    pub fn sample_nanos(&self, rng: &mut Rng) -> u64 {
        match self {
            Distribution::Constant(value) => duration_to_nanos(*value),
            Distribution::Uniform { min, max } => {
                rng.between(duration_to_nanos(*min), duration_to_nanos(*max))
            }
            Distribution::Normal { mean, std_dev } => {
                let radius = libm::sqrt(-2.0 * libm::log(rng.unit_open()));
                let angle = 2.0 * std::f64::consts::PI * rng.unit();
                let z = radius * libm::cos(angle);
                to_nanos(duration_to_nanos(*mean) as f64 + z * duration_to_nanos(*std_dev) as f64)
            }
            Distribution::Exponential { mean } => {
                to_nanos(-(duration_to_nanos(*mean) as f64) * libm::log(rng.unit_open()))
            }
            Distribution::Pareto { scale, shape } => {
                to_nanos(duration_to_nanos(*scale) as f64 / libm::pow(rng.unit_open(), 1.0 / shape))
            }
            Distribution::Mixture(mixture) => {
                let draw = rng.below(mixture.total);
                let index = mixture.components.partition_point(|(cumulative, _)| *cumulative <= draw);
                mixture.components[index].1.sample_nanos(rng)
            }
        }
    }

    /// One sample.
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        Duration::from_nanos(self.sample_nanos(rng))
    }
}

/// Rounds a float nanosecond count to `u64`: negative and NaN become 0, huge saturates.
fn to_nanos(value: f64) -> u64 {
    if value.is_nan() || value <= 0.0 {
        0
    } else {
        value.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::rng::Seed;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    fn mean_of(dist: &Distribution, n: u32) -> f64 {
        let mut rng = Seed(5).stream("dist", 0);
        (0..n).map(|_| dist.sample_nanos(&mut rng) as f64).sum::<f64>() / f64::from(n) / 1e6
    }

    #[test]
    fn means_match_parameters() {
        let n = 200_000;
        let uniform = Distribution::Uniform { min: ms(1), max: ms(10) };
        assert!((mean_of(&uniform, n) - 5.5).abs() < 0.05);
        let normal = Distribution::Normal { mean: ms(50), std_dev: ms(5) };
        assert!((mean_of(&normal, n) - 50.0).abs() < 0.1);
        let exponential = Distribution::Exponential { mean: ms(20) };
        assert!((mean_of(&exponential, n) - 20.0).abs() < 0.3);
        // Pareto mean = shape * scale / (shape - 1) = 3 * 10 / 2 = 15 ms.
        let pareto = Distribution::Pareto { scale: ms(10), shape: 3.0 };
        assert!((mean_of(&pareto, n) - 15.0).abs() < 0.3);
        assert_eq!(mean_of(&Distribution::Constant(ms(7)), 10), 7.0);
    }

    #[test]
    fn uniform_stays_in_range() {
        let dist = Distribution::Uniform { min: ms(1), max: ms(10) };
        let mut rng = Seed(1).stream("dist", 0);
        for _ in 0..10_000 {
            let x = dist.sample_nanos(&mut rng);
            assert!((1_000_000..=10_000_000).contains(&x));
        }
    }

    #[test]
    fn pareto_never_below_scale() {
        let dist = Distribution::Pareto { scale: ms(3), shape: 1.5 };
        let mut rng = Seed(2).stream("dist", 0);
        assert!((0..10_000).all(|_| dist.sample_nanos(&mut rng) >= 3_000_000));
    }

    #[test]
    fn mixture_picks_by_weight() {
        // The PBS shape: Pareto body, exponential tail.
        let dist = Distribution::mixture(vec![
            (0.9, Distribution::Constant(ms(1))),
            (0.1, Distribution::Constant(ms(100))),
        ])
        .unwrap();
        let mut rng = Seed(3).stream("dist", 0);
        let slow = (0..100_000).filter(|_| dist.sample_nanos(&mut rng) == 100_000_000).count();
        assert!((9_700..10_300).contains(&slow), "{slow}");
    }

    #[test]
    fn invalid_parameters_are_errors() {
        assert!(Distribution::Uniform { min: ms(2), max: ms(1) }.validate().is_err());
        assert!(Distribution::Pareto { scale: ms(1), shape: 0.0 }.validate().is_err());
        assert!(Distribution::Pareto { scale: ms(0), shape: 1.0 }.validate().is_err());
        assert!(Distribution::mixture(vec![]).is_err());
        assert!(Distribution::mixture(vec![(-1.0, Distribution::Constant(ms(1)))]).is_err());
    }
}
