//! Shared by the property tests.

use proptest::test_runner::RngSeed;

/// The proptest seed: fixed, so CI is reproducible, unless `PROPTEST_RNG_SEED` says
/// otherwise (`random` to explore, or a number to reproduce).
pub fn seed() -> RngSeed {
    match std::env::var("PROPTEST_RNG_SEED").as_deref() {
        Ok("random") => RngSeed::Random,
        Ok(number) => RngSeed::Fixed(number.parse().expect("PROPTEST_RNG_SEED is a number or \"random\"")),
        Err(_) => RngSeed::Fixed(20261121),
    }
}
