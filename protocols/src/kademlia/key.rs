//! 256-bit Kademlia keys and the XOR metric.
//!
//! Peer ids and content keys live in one 256-bit space (go-libp2p-kad-dht hashes both with
//! SHA-256 into it, `kb.ConvertKey` / `kb.ConvertPeerID`). A key is kept as four big-endian
//! words, so an XOR distance compares as one 256-bit integer.

use sha2::{Digest, Sha256};
use sim::Rng;

/// A point of the key space, or an XOR distance between two points.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Key(pub [u64; 4]);

impl Key {
    /// A uniformly random key (a peer id: the hash of a fresh public key is uniform).
    pub fn random(rng: &mut Rng) -> Key {
        Key([rng.next_u64(), rng.next_u64(), rng.next_u64(), rng.next_u64()])
    }

    /// The key of a piece of content: SHA-256 of its bytes.
    pub fn of_content(bytes: &[u8]) -> Key {
        let digest = Sha256::digest(bytes);
        let word = |i: usize| u64::from_be_bytes(digest[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Key([word(0), word(1), word(2), word(3)])
    }

    /// The XOR distance to `other`.
    #[inline]
    pub fn distance(&self, other: &Key) -> Key {
        let (a, b) = (self.0, other.0);
        Key([a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]])
    }

    /// The number of leading bits `self` and `other` share (256 when equal): the routing
    /// table bucket `other` belongs in, seen from `self`.
    #[inline]
    pub fn common_prefix(&self, other: &Key) -> u32 {
        let d = self.distance(other).0;
        for (i, word) in d.iter().enumerate() {
            if *word != 0 {
                return i as u32 * 64 + word.leading_zeros();
            }
        }
        256
    }

    /// The `n` (at most 32) bits from bit `from` (0 = most significant), as a number.
    pub fn bits(&self, from: u32, n: u32) -> u32 {
        (from..(from + n).min(256))
            .fold(0, |acc, i| (acc << 1) | ((self.0[(i / 64) as usize] >> (63 - i % 64)) & 1) as u32)
    }

    /// A distance as a fraction of the key space, in `[0, 1)` (go-libp2p-kad-dht's
    /// `netsize.NormedDistance`), from its top 64 bits.
    pub fn normed(&self) -> f64 {
        self.0[0] as f64 / 18_446_744_073_709_551_616.0 // 2^64
    }

    /// `self` with bit `i` (0 = most significant) flipped and every later bit replaced by
    /// `rest`'s: a random key whose common prefix with `self` is exactly `i`.
    pub fn with_prefix_of(&self, i: u32, rest: &Key) -> Key {
        let mut out = [0u64; 4];
        for (w, slot) in out.iter_mut().enumerate() {
            let lo = w as u32 * 64;
            // Bits of word `w` that come before bit `i` are self's; bit `i` is flipped.
            let keep = if i <= lo {
                0
            } else if i >= lo + 64 {
                u64::MAX
            } else {
                !(u64::MAX >> (i - lo))
            };
            let mut word = (self.0[w] & keep) | (rest.0[w] & !keep);
            if i >= lo && i < lo + 64 {
                let bit = 1u64 << (63 - (i - lo));
                word = (word & !bit) | (!self.0[w] & bit);
            }
            *slot = word;
        }
        Key(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::Seed;

    #[test]
    fn bits_reads_across_words() {
        let key = Key([1, 1 << 63, 0, 0]);
        assert_eq!(key.bits(62, 4), 0b0110);
        assert_eq!(key.bits(0, 4), 0);
    }

    #[test]
    fn common_prefix_counts_shared_leading_bits() {
        let zero = Key([0; 4]);
        assert_eq!(zero.common_prefix(&zero), 256);
        assert_eq!(zero.common_prefix(&Key([1 << 63, 0, 0, 0])), 0);
        assert_eq!(zero.common_prefix(&Key([0, 1, 0, 0])), 127);
        assert_eq!(zero.common_prefix(&Key([0, 0, 0, 1])), 255);
    }

    #[test]
    fn with_prefix_of_gives_exactly_that_common_prefix() {
        let mut rng = Seed(7).stream("test", 0);
        for _ in 0..200 {
            let (me, rest) = (Key::random(&mut rng), Key::random(&mut rng));
            let i = rng.below(256) as u32;
            assert_eq!(me.common_prefix(&me.with_prefix_of(i, &rest)), i, "prefix {i}");
        }
    }

    #[test]
    fn content_keys_are_sha256() {
        // SHA-256("") = e3b0c442 98fc1c14 ...
        assert_eq!(Key::of_content(b"").0[0], 0xe3b0_c442_98fc_1c14);
    }
}
