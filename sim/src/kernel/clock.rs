//! Per-node local clocks: offset, drift and steps.
//!
//! A node's clock is a piecewise-linear function of true (engine) time. Between changes it
//! runs at rate `1 + drift_ppm / 1e6` from an anchor point; an offset or step moves the
//! reading; a drift change re-anchors at the current reading so the clock never jumps.
//!
//! Two things are kept apart, as in a real operating system:
//! - `now()` is like `CLOCK_REALTIME`: offset, drift and steps all show, and a step back
//!   makes it go backwards. Readings below zero saturate at zero.
//! - timers are like `CLOCK_MONOTONIC` durations: they run on the node's oscillator, so
//!   drift stretches or shrinks them, but a step does not fire or postpone any timer.
//! - `monotonic()` is `CLOCK_MONOTONIC` itself: the oscillator's reading, drift included,
//!   steps left out, so it never goes backwards. A lease measured on it is safe from steps,
//!   not from drift.

use std::time::Duration;

use super::time::{duration_to_nanos, Time};

const PPM: i128 = 1_000_000;

/// One node's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalClock {
    anchor_true: u64,
    anchor_local: i128,
    drift_ppm: i64,
    /// The sum of every step, which the monotonic reading leaves out.
    stepped: i128,
}

impl LocalClock {
    /// The reading at true time `now`.
    pub fn read(&self, now: Time) -> Time {
        let elapsed = i128::from(now.as_nanos()) - i128::from(self.anchor_true);
        // Without drift the rate is 1: skip the 128-bit division (most clocks, most reads).
        let scaled =
            if self.drift_ppm == 0 { elapsed } else { elapsed * (PPM + i128::from(self.drift_ppm)) / PPM };
        Time((self.anchor_local + scaled).clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// Moves the reading by `delta_nanos` (positive: forward) at true time `now`.
    pub fn step(&mut self, now: Time, delta_nanos: i64) {
        self.reanchor(now);
        self.anchor_local += i128::from(delta_nanos);
        self.stepped += i128::from(delta_nanos);
    }

    /// The monotonic reading at true time `now`: drift applies, steps do not.
    pub fn monotonic(&self, now: Time) -> Time {
        let elapsed = i128::from(now.as_nanos()) - i128::from(self.anchor_true);
        let scaled =
            if self.drift_ppm == 0 { elapsed } else { elapsed * (PPM + i128::from(self.drift_ppm)) / PPM };
        Time((self.anchor_local - self.stepped + scaled).clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// Sets the clock's rate to `1 + drift_ppm / 1e6` from true time `now` on.
    /// Panics unless `drift_ppm > -1_000_000` (a clock must move forward).
    pub fn set_drift(&mut self, now: Time, drift_ppm: i64) {
        assert!(drift_ppm > -1_000_000, "drift {drift_ppm} ppm would stop or reverse the clock");
        self.reanchor(now);
        self.drift_ppm = drift_ppm;
    }

    /// The current drift in parts per million.
    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }

    /// The true time it takes this clock's oscillator to measure `local` (for timers).
    /// Rounded up, so a timer never fires before its local duration has passed.
    pub fn true_duration(&self, local: Duration) -> u64 {
        if self.drift_ppm == 0 {
            return duration_to_nanos(local);
        }
        let local = i128::from(duration_to_nanos(local));
        let rate = PPM + i128::from(self.drift_ppm);
        let nanos = (local * PPM + rate - 1) / rate;
        nanos.clamp(0, i128::from(u64::MAX)) as u64
    }

    fn reanchor(&mut self, now: Time) {
        let elapsed = i128::from(now.as_nanos()) - i128::from(self.anchor_true);
        self.anchor_local += elapsed * (PPM + i128::from(self.drift_ppm)) / PPM;
        self.anchor_true = now.as_nanos();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monotonic_reading_ignores_steps_and_keeps_drift() {
        let mut clock = LocalClock::default();
        clock.set_drift(Time(0), 100_000); // 10% fast
        clock.step(Time(SECOND), -(5 * SECOND as i64));
        assert_eq!(clock.read(Time(2 * SECOND)), Time(0), "realtime went back 5 s (saturating)");
        assert_eq!(clock.monotonic(Time(2 * SECOND)), Time(2_200_000_000), "monotonic: 2 s at 1.1");
        clock.step(Time(3 * SECOND), 7 * SECOND as i64);
        assert_eq!(clock.monotonic(Time(3 * SECOND)), Time(3_300_000_000));
    }

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn default_clock_is_true_time() {
        let clock = LocalClock::default();
        assert_eq!(clock.read(Time(123)), Time(123));
        assert_eq!(clock.true_duration(Duration::from_secs(1)), SECOND);
    }

    #[test]
    fn drift_runs_fast_without_jumping() {
        let mut clock = LocalClock::default();
        clock.set_drift(Time(10 * SECOND), 1_000); // 0.1% fast from t = 10s
        assert_eq!(clock.read(Time(10 * SECOND)), Time(10 * SECOND));
        assert_eq!(clock.read(Time(20 * SECOND)), Time(20 * SECOND + 10_000_000));
        // A fast oscillator measures one local second in less than one true second.
        assert!(clock.true_duration(Duration::from_secs(1)) < SECOND);
    }

    #[test]
    fn steps_move_the_reading_both_ways() {
        let mut clock = LocalClock::default();
        clock.step(Time(5 * SECOND), -2 * SECOND as i64);
        assert_eq!(clock.read(Time(5 * SECOND)), Time(3 * SECOND));
        clock.step(Time(6 * SECOND), 10 * SECOND as i64);
        assert_eq!(clock.read(Time(6 * SECOND)), Time(14 * SECOND));
        let mut behind = LocalClock::default();
        behind.step(Time(0), -(SECOND as i64));
        assert_eq!(behind.read(Time(SECOND / 2)), Time::ZERO, "saturates at zero");
    }
}
