//! Deterministic hashing: the trace hash, message digests and hash maps with a fixed hasher.
//!
//! `std`'s `HashMap` seeds its hasher randomly per process, so iterating one gives a
//! different order in every run; `clippy.toml` bans it in `sim` and `protocols`. The maps
//! here use [`StableHasher`], whose output depends only on the bytes hashed, so both lookup
//! and iteration order are a function of the operations performed.
//!
//! `StableHasher` is written here rather than taken from a crate because pinned trace hashes
//! (golden values in tests, hashes in old reports) must not change when a dependency does.
//! It is not collision-resistant against an adversary; it does not need to be.

use std::hash::{BuildHasherDefault, Hash, Hasher};

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// Mixes a 64-bit value to 64 well-distributed bits (the SplitMix64 / MurmurHash3 finalizer).
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A fast, fixed, platform-independent hasher (for a given `usize` width).
#[derive(Clone, Copy, Debug, Default)]
pub struct StableHasher {
    state: u64,
}

impl StableHasher {
    /// A hasher whose initial state is `seed`.
    pub fn with_seed(seed: u64) -> StableHasher {
        StableHasher { state: seed }
    }

    #[inline]
    fn absorb(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for StableHasher {
    #[inline]
    fn finish(&self) -> u64 {
        mix64(self.state)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.absorb(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.absorb(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.absorb(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.absorb(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.absorb(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.absorb(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.absorb(i as u64);
    }
}

/// The stable 64-bit digest of any `Hash` value.
#[inline]
pub fn digest<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = StableHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Builds [`StableHasher`]s; the `S` parameter of [`DetHashMap`] and [`DetHashSet`].
pub type StableBuildHasher = BuildHasherDefault<StableHasher>;

/// A `HashMap` with a fixed hasher: its iteration order is a function of its history.
#[allow(clippy::disallowed_types)]
pub type DetHashMap<K, V> = std::collections::HashMap<K, V, StableBuildHasher>;

/// A `HashSet` with a fixed hasher: its iteration order is a function of its history.
#[allow(clippy::disallowed_types)]
pub type DetHashSet<T> = std::collections::HashSet<T, StableBuildHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_pinned() {
        // Golden values: a change here changes every trace hash ever recorded.
        assert_eq!(digest(&0u64), 0);
        assert_eq!(digest(&1u64), 0xe220_a839_7b1d_cdaf);
        assert_eq!(digest("ping"), 0x42e1_7e1d_33bf_beb4);
    }

    #[test]
    fn map_iteration_is_reproducible() {
        let build = || {
            let mut map = DetHashMap::default();
            for i in 0..1000u32 {
                map.insert(i.wrapping_mul(2_654_435_761), i);
            }
            map.into_iter().collect::<Vec<_>>()
        };
        assert_eq!(build(), build());
    }
}
