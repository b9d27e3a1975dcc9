//! Dataranges as datas3t keeps them: a TAR of numbered datapoints (`%020d.<ext>`) and its
//! index, 16 big-endian bytes per file (u64 header offset, u16 header blocks, u48 size).
//!
//! Built with the `tar` crate, read back with its `Archive` (a standard reader); the
//! server's validation reads only the index and a few 512-byte headers, as the real one
//! does.

use std::io::Read;

/// A TAR's end: two zero blocks.
pub const TRAILER: u64 = 1024;
/// A TAR block.
pub const BLOCK: u64 = 512;

/// One file of a datarange, as its index describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Where its header starts.
    pub header_offset: u64,
    /// How many 512-byte blocks its header takes.
    pub header_blocks: u16,
    /// Its content's length.
    pub size: u64,
}

impl IndexEntry {
    /// Where the entry (header, content, padding) ends.
    pub fn end(&self) -> u64 {
        self.header_offset + u64::from(self.header_blocks) * BLOCK + self.size.div_ceil(BLOCK) * BLOCK
    }
}

/// The file name of datapoint `n`.
pub fn name(n: u64) -> String {
    format!("{n:020}.bin")
}

/// The datapoint number of a file name: the digits up to the first dot.
pub fn number(name: &str) -> Option<u64> {
    let stem = name.split('.').next()?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// A datarange: the TAR and its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datarange {
    /// The TAR's bytes.
    pub tar: Vec<u8>,
    /// Its index.
    pub index: Vec<u8>,
}

/// Builds the TAR and index of `files` (number, content), in the order given.
pub fn build(files: &[(u64, Vec<u8>)]) -> Datarange {
    let mut builder = tar::Builder::new(Vec::new());
    let mut index = Vec::with_capacity(16 * files.len());
    for (n, content) in files {
        let offset = builder.get_ref().len() as u64;
        let mut header = tar::Header::new_ustar();
        header.set_path(name(*n)).expect("a datapoint name fits a ustar header");
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append(&header, content.as_slice()).expect("writing to memory");
        push_entry(
            &mut index,
            IndexEntry { header_offset: offset, header_blocks: 1, size: content.len() as u64 },
        );
    }
    Datarange { tar: builder.into_inner().expect("writing to memory"), index }
}

fn push_entry(index: &mut Vec<u8>, entry: IndexEntry) {
    index.extend_from_slice(&entry.header_offset.to_be_bytes());
    index.extend_from_slice(&entry.header_blocks.to_be_bytes());
    index.extend_from_slice(&entry.size.to_be_bytes()[2..]);
}

/// Parses an index.
pub fn parse_index(bytes: &[u8]) -> Result<Vec<IndexEntry>, String> {
    if bytes.len() % 16 != 0 {
        return Err(format!("an index of {} bytes is not made of 16-byte entries", bytes.len()));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|e| {
            let mut size = [0u8; 8];
            size[2..].copy_from_slice(&e[10..16]);
            IndexEntry {
                header_offset: u64::from_be_bytes(e[..8].try_into().expect("8 bytes")),
                header_blocks: u16::from_be_bytes([e[8], e[9]]),
                size: u64::from_be_bytes(size),
            }
        })
        .collect())
}

/// The name and size a 512-byte header block states.
pub fn read_header(block: &[u8]) -> Result<(String, u64), String> {
    if block.len() < BLOCK as usize {
        return Err(format!("a header of {} bytes", block.len()));
    }
    let header = tar::Header::from_byte_slice(&block[..BLOCK as usize]);
    let path = header.path().map_err(|e| format!("unreadable header: {e}"))?;
    let size = header.size().map_err(|e| format!("unreadable size: {e}"))?;
    Ok((path.to_string_lossy().into_owned(), size))
}

/// The entries of `ranges` concatenated into one datarange (an aggregate): every source's
/// entries without its trailer, re-indexed, one trailer at the end.
pub fn concat(ranges: &[Datarange]) -> Result<Datarange, String> {
    let mut tar = Vec::new();
    let mut index = Vec::new();
    for range in ranges {
        let entries = parse_index(&range.index)?;
        let end = entries.last().map_or(0, IndexEntry::end);
        let base = tar.len() as u64;
        let body = range.tar.get(..end as usize).ok_or("a source shorter than its index")?;
        tar.extend_from_slice(body);
        for entry in entries {
            push_entry(&mut index, IndexEntry { header_offset: entry.header_offset + base, ..entry });
        }
    }
    tar.resize(tar.len() + TRAILER as usize, 0);
    Ok(Datarange { tar, index })
}

/// Reads a TAR with the `tar` crate: (datapoint number, content) of every file.
pub fn read(bytes: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let mut archive = tar::Archive::new(bytes);
    let mut files = Vec::new();
    for entry in archive.entries().map_err(|e| format!("not a TAR: {e}"))? {
        let mut entry = entry.map_err(|e| format!("a bad entry: {e}"))?;
        let path = entry.path().map_err(|e| format!("a bad name: {e}"))?.to_string_lossy().into_owned();
        let n = number(&path).ok_or_else(|| format!("{path:?} is not a datapoint"))?;
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(|e| format!("{path}: {e}"))?;
        files.push((n, content));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(first: u64, count: u64) -> Vec<(u64, Vec<u8>)> {
        (first..first + count).map(|n| (n, vec![n as u8; (n * 37 % 900) as usize])).collect()
    }

    #[test]
    fn a_datarange_reads_back_and_its_index_points_at_its_headers() {
        let range = build(&files(100, 5));
        assert_eq!(read(&range.tar).unwrap(), files(100, 5));
        let index = parse_index(&range.index).unwrap();
        assert_eq!(index.len(), 5);
        assert_eq!(
            index.last().unwrap().end() + TRAILER,
            range.tar.len() as u64,
            "the trailer follows the last entry"
        );
        for (entry, (n, content)) in index.iter().zip(files(100, 5)) {
            let at = entry.header_offset as usize;
            assert_eq!(read_header(&range.tar[at..at + 512]).unwrap(), (name(n), content.len() as u64));
        }
    }

    #[test]
    fn an_aggregate_is_its_sources_entries_under_one_trailer() {
        let (a, b) = (build(&files(0, 3)), build(&files(3, 4)));
        let joined = concat(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(joined, build(&files(0, 7)), "the same bytes as building it whole");
        assert_eq!(joined.tar.len() as u64, a.tar.len() as u64 + b.tar.len() as u64 - TRAILER);
    }

    #[test]
    fn names_parse_up_to_the_first_dot() {
        assert_eq!(number(&name(42)), Some(42));
        assert_eq!(number("00000000000000000007.tar.gz"), Some(7));
        assert_eq!(number("x.bin"), None);
        assert!(parse_index(&[0; 15]).is_err());
    }
}

/// A datarange described, not held: its entries (datapoint, version, content length), whose
/// bytes are `content(seed, n, version, max)`. It renders to exactly the bytes `build`
/// makes of the same files (a test holds it), any byte range of them on demand, so a run
/// can keep a million datapoints in a few bytes each.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    /// The content's seed and size bound.
    pub seed: u64,
    /// The largest datapoint.
    pub max: u64,
    /// (datapoint, version, content length), in order.
    pub entries: Vec<(u64, u64, u64)>,
}

impl Layout {
    /// The TAR's length.
    pub fn len(&self) -> u64 {
        self.entries.iter().map(|e| BLOCK + e.2.div_ceil(BLOCK) * BLOCK).sum::<u64>() + TRAILER
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Its index.
    pub fn index(&self) -> Vec<u8> {
        let mut index = Vec::with_capacity(16 * self.entries.len());
        let mut offset = 0;
        for &(_, _, size) in &self.entries {
            push_entry(&mut index, IndexEntry { header_offset: offset, header_blocks: 1, size });
            offset += BLOCK + size.div_ceil(BLOCK) * BLOCK;
        }
        index
    }

    /// The entries of several layouts under one trailer (an aggregate).
    pub fn concat(layouts: &[&Layout]) -> Option<Layout> {
        let first = layouts.first()?;
        if layouts.iter().any(|l| l.seed != first.seed || l.max != first.max) {
            return None;
        }
        Some(Layout {
            seed: first.seed,
            max: first.max,
            entries: layouts.iter().flat_map(|l| l.entries.iter().copied()).collect(),
        })
    }

    /// Bytes `[start, end)` of the TAR (clipped to it).
    pub fn render(&self, start: u64, end: u64) -> Vec<u8> {
        let end = end.min(self.len());
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        let mut offset = 0;
        for &(n, version, size) in &self.entries {
            let length = BLOCK + size.div_ceil(BLOCK) * BLOCK;
            if offset + length > start && offset < end {
                let mut bytes = header(n, size).to_vec();
                bytes.extend_from_slice(&super::client::content(self.seed, n, version, self.max));
                bytes.resize(length as usize, 0);
                let from = start.saturating_sub(offset) as usize;
                let to = (end - offset).min(length) as usize;
                out.extend_from_slice(&bytes[from..to]);
            }
            offset += length;
            if offset >= end {
                break;
            }
        }
        if end > offset {
            // The trailer's zeros.
            out.resize(out.len() + (end - start.max(offset)) as usize, 0);
        }
        out
    }
}

/// The ustar header `tar::Builder` writes for datapoint `n` of `size` bytes.
fn header(n: u64, size: u64) -> [u8; 512] {
    let mut header = tar::Header::new_ustar();
    header.set_path(name(n)).expect("a datapoint name fits a ustar header");
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    *header.as_bytes()
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn a_layout_renders_the_bytes_the_tar_crate_builds() {
        let (seed, max) = (7, 900);
        let entries: Vec<(u64, u64, u64)> =
            (40..46).map(|n| (n, n * 3, super::super::client::content_len(seed, n, n * 3, max))).collect();
        let files: Vec<(u64, Vec<u8>)> =
            entries.iter().map(|e| (e.0, super::super::client::content(seed, e.0, e.1, max))).collect();
        let built = build(&files);
        let layout = Layout { seed, max, entries };
        assert_eq!(layout.len(), built.tar.len() as u64);
        assert_eq!(layout.render(0, layout.len()), built.tar);
        assert_eq!(layout.index(), built.index);
        for (a, b) in [(0, 1), (500, 1700), (1023, 1025), (layout.len() - 1100, layout.len())] {
            assert_eq!(layout.render(a, b), built.tar[a as usize..b as usize].to_vec(), "bytes {a}..{b}");
        }
        let (left, right) = (
            Layout { entries: layout.entries[..2].to_vec(), ..layout.clone() },
            Layout { entries: layout.entries[2..].to_vec(), ..layout.clone() },
        );
        assert_eq!(Layout::concat(&[&left, &right]).unwrap(), layout);
    }
}
