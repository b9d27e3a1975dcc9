//! Described content: bytes a run moves and stores without holding them.
//!
//! A storage system's files matter by their content, but a run that stores 100 GiB cannot
//! hold 100 GiB. A [`Payload`] is a range of a seeded byte stream, `(seed, offset, len)`,
//! plus the bits faults flipped in it: the bytes exist (read them with [`Payload::byte`] or
//! [`Payload::bytes`]) but only the description is kept. Two payloads have the same content
//! exactly when they describe the same range of the same stream with the same flips, so
//! [`Payload::digest`] is a content checksum that costs O(flips), not O(len): a checksum a
//! node verifies on read sees a flipped bit the way SHA-256 over the real bytes would (the
//! tests compare the two).
//!
//! The disk stores payloads as files of their own ([`Disk::put_blob`](super::disk::Disk::put_blob)):
//! they count their full length against capacity, cost their length in write time, and the
//! kernel's corruption fault flips real bits in them.

use std::hash::{Hash, Hasher};

use super::hash::{mix64, StableHasher};

/// `len` bytes of the stream `seed` from `offset`, with bits flipped by faults.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    seed: u64,
    offset: u64,
    len: u64,
    /// `(position within this payload, XOR mask)`, sorted by position, masks non-zero.
    flips: Vec<(u64, u8)>,
}

impl Payload {
    /// The first `len` bytes of stream `seed`.
    pub fn new(seed: u64, len: u64) -> Payload {
        Payload { seed, offset: 0, len, flips: Vec::new() }
    }

    /// Stream `seed` from `offset` for `len` bytes.
    pub fn range(seed: u64, offset: u64, len: u64) -> Payload {
        Payload { seed, offset, len, flips: Vec::new() }
    }

    /// The stream this describes.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Where in its stream this starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether no fault changed it: its bytes are exactly its stream's.
    pub fn is_pristine(&self) -> bool {
        self.flips.is_empty()
    }

    /// The bytes faults changed: `(position, XOR mask)`, sorted by position. A node that
    /// stores content of its own description in a payload of its length (so that the disk
    /// charges and corrupts the real length) applies these to its rendering.
    pub fn flips(&self) -> &[(u64, u8)] {
        &self.flips
    }

    /// `len` bytes from `offset` of this payload (clipped to it), flips included.
    pub fn slice(&self, offset: u64, len: u64) -> Payload {
        let start = offset.min(self.len);
        let end = start.saturating_add(len).min(self.len);
        let flips = self
            .flips
            .iter()
            .filter(|(p, _)| (start..end).contains(p))
            .map(|&(p, x)| (p - start, x))
            .collect();
        Payload { seed: self.seed, offset: self.offset + start, len: end - start, flips }
    }

    /// Joins `parts` that are consecutive ranges of one stream into one payload; `None` if
    /// they are not (the content is then not a single range of any stream).
    pub fn join(parts: &[Payload]) -> Option<Payload> {
        let first = parts.first()?;
        let mut joined = Payload { flips: Vec::new(), ..first.clone() };
        joined.len = 0;
        for part in parts {
            if part.seed != joined.seed || part.offset != joined.offset + joined.len {
                return None;
            }
            joined.flips.extend(part.flips.iter().map(|&(p, x)| (p + joined.len, x)));
            joined.len += part.len;
        }
        Some(joined)
    }

    /// XORs the byte at `position` (within this payload) with `mask`; a position past the
    /// end or a zero mask changes nothing.
    pub fn flip(&mut self, position: u64, mask: u8) {
        if position >= self.len || mask == 0 {
            return;
        }
        match self.flips.binary_search_by_key(&position, |&(p, _)| p) {
            Ok(at) => {
                self.flips[at].1 ^= mask;
                if self.flips[at].1 == 0 {
                    self.flips.remove(at);
                }
            }
            Err(at) => self.flips.insert(at, (position, mask)),
        }
    }

    /// The byte at `position` (within this payload).
    pub fn byte(&self, position: u64) -> u8 {
        assert!(position < self.len, "byte {position} of a {}-byte payload", self.len);
        let flip = self.flips.binary_search_by_key(&position, |&(p, _)| p).map_or(0, |at| self.flips[at].1);
        stream_byte(self.seed, self.offset + position) ^ flip
    }

    /// The real bytes (allocates `len`: for tests and small payloads).
    pub fn bytes(&self) -> Vec<u8> {
        (0..self.len).map(|p| self.byte(p)).collect()
    }

    /// A checksum of the content: equal for equal content, and different (but for a 2^-64
    /// chance) when any byte differs.
    pub fn digest(&self) -> u64 {
        let mut hasher = StableHasher::with_seed(0x70a7_10ad);
        (self.seed, self.offset, self.len).hash(&mut hasher);
        self.flips.hash(&mut hasher);
        hasher.finish()
    }
}

/// Byte `position` of stream `seed`.
fn stream_byte(seed: u64, position: u64) -> u8 {
    let word = mix64(seed ^ mix64(position / 8).rotate_left(17));
    (word >> (8 * (position % 8))) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn sha(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn slices_of_a_stream_join_back_to_it() {
        let whole = Payload::new(7, 1000);
        let parts: Vec<Payload> = (0..4).map(|i| whole.slice(i * 300, 300)).collect();
        assert_eq!(parts[3].len(), 100, "the last slice is clipped");
        assert_eq!(Payload::join(&parts), Some(whole.clone()));
        assert_eq!(Payload::join(&[parts[1].clone(), parts[0].clone()]), None, "out of order");
        assert_eq!(Payload::join(&[parts[0].clone(), Payload::range(8, 300, 300)]), None, "another stream");
        let bytes: Vec<u8> = parts.iter().flat_map(Payload::bytes).collect();
        assert_eq!(bytes, whole.bytes());
    }

    #[test]
    fn the_digest_differs_exactly_when_the_real_bytes_do() {
        let pristine = Payload::new(42, 4096);
        let mut flipped = pristine.clone();
        flipped.flip(100, 0x10);
        assert_ne!(pristine.bytes(), flipped.bytes());
        assert_ne!(sha(&pristine.bytes()), sha(&flipped.bytes()));
        assert_ne!(pristine.digest(), flipped.digest());
        flipped.flip(100, 0x10);
        assert!(flipped.is_pristine(), "flipping back restores the content");
        assert_eq!(flipped.digest(), pristine.digest());
        assert_eq!(sha(&flipped.bytes()), sha(&pristine.bytes()));
        // Different streams and different ranges are different content.
        assert_ne!(Payload::new(43, 4096).bytes(), pristine.bytes());
        assert_ne!(Payload::range(42, 1, 4096).bytes(), pristine.bytes());
    }

    #[test]
    fn flips_travel_with_slices_and_joins() {
        let mut whole = Payload::new(3, 64);
        whole.flip(40, 0xff);
        let (a, b) = (whole.slice(0, 32), whole.slice(32, 32));
        assert!(a.is_pristine());
        assert_eq!(b.byte(8), whole.byte(40));
        assert_eq!(Payload::join(&[a, b]).unwrap(), whole);
    }
}
