//! Simulated time.
//!
//! Time is a count of nanoseconds since the start of the run, held in a `u64` so that
//! comparisons and arithmetic are exact and cheap (584 years of range). There is no
//! conversion from the host's clock anywhere: the only source of `Time` is the engine.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point in simulated time, in nanoseconds since the start of the run.
///
/// The engine's true time is a `Time`; so is a node's local clock reading (`Clock::now`),
/// which may run ahead, behind, faster or slower than true time.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Time(pub u64);

impl Time {
    /// The start of every run.
    pub const ZERO: Time = Time(0);
    /// Later than any event; used as "no limit".
    pub const MAX: Time = Time(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time `nanos` nanoseconds after the start of the run.
    pub fn from_nanos(nanos: u64) -> Time {
        Time(nanos)
    }

    /// The time `duration` after the start of the run.
    pub fn from_duration(duration: Duration) -> Time {
        Time(duration_to_nanos(duration))
    }

    /// How long after the start of the run this is.
    pub fn since_start(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// A `Duration` as whole nanoseconds, saturating at `u64::MAX` (584 years).
pub fn duration_to_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(duration_to_nanos(rhs)))
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    /// Panics in debug builds if `rhs` is later; use `saturating_since` when it may be.
    fn sub(self, rhs: Time) -> Duration {
        debug_assert!(self >= rhs, "time went backwards: {self} - {rhs}");
        self.saturating_since(rhs)
    }
}

impl fmt::Display for Time {
    /// Seconds with millisecond precision and a sub-millisecond tail when there is one:
    /// `12.345s`, `0.000001234s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0 / 1_000_000_000;
        let nanos = self.0 % 1_000_000_000;
        if nanos % 1_000_000 == 0 {
            write!(f, "{seconds}.{:03}s", nanos / 1_000_000)
        } else {
            write!(f, "{seconds}.{nanos:09}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_seconds() {
        assert_eq!(Time(1_500_000_000).to_string(), "1.500s");
        assert_eq!(Time(1_234).to_string(), "0.000001234s");
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Time::MAX + Duration::from_secs(1), Time::MAX);
        assert_eq!(Time(5).saturating_since(Time(9)), Duration::ZERO);
        assert_eq!(Time(9) - Time(5), Duration::from_nanos(4));
    }
}
