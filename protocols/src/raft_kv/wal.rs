//! Raft's durable state as an append-only write-ahead log of our own on the simulated disk:
//! the `storage = "wal"` alternative to redb, as etcd keeps its Raft log in a WAL beside its
//! state store. One Ready is one appended record batch and, when raft-rs says it must be
//! synced, one fsync; a redb commit instead rewrites B-tree pages and its allocator state,
//! about 50–75 µs of CPU each (docs/PERFORMANCE.md).
//!
//! Format: records `[payload length: u32 LE][CRC-32 of the payload: u32 LE][payload]`, the
//! payload `[kind: u8][body]`: `1` entries (`count: u32`, then per entry `index: u64`,
//! `term: u64`, `type: u8`, `data length: u32`, data, `context length: u32`, context; the
//! first index replaces any entries from it on), `2` hard state (`term`, `vote`, `commit`:
//! u64 each), `3` snapshot (protobuf; replaces the whole log). All integers are little-endian.
//! Entries and hard states are laid out by hand rather than as protobuf: they are written on
//! every Ready, and protobuf's size pass and field tags cost more than the rest of the
//! append (docs/PERFORMANCE.md). Recovery replays records up
//! to the first that is incomplete, fails its CRC or has an empty payload (a torn write,
//! or the zeros a torn write leaves before its surviving sectors), and truncates the file
//! there, so later appends start on a record boundary.
//!
//! Compaction writes `raft.wal.new` (snapshot, hard state, the entries after the snapshot),
//! fsyncs it, renames it over `raft.wal` and syncs the directory. A crash before the
//! directory sync leaves the old log in place, and the leftover `raft.wal.new` is removed
//! at the next open.

use protobuf::{Message as _, ProtobufEnum as _};
use raft::eraftpb::{Entry, EntryType, HardState, Snapshot};
use sim::{DiskError, DiskHandle};

use crate::storage;

/// The log's file.
pub const FILE: &str = "raft.wal";
/// The file a compaction writes before renaming it over [`FILE`].
const NEXT: &str = "raft.wal.new";

const ENTRIES: u8 = 1;
const HARD_STATE: u8 = 2;
const SNAPSHOT: u8 = 3;

/// One change to the durable state.
pub enum Record<'a> {
    /// Entries, replacing any from the first one's index on.
    Entries(&'a [Entry]),
    /// The hard state.
    HardState(&'a HardState),
    /// A snapshot, replacing the log before and at its index.
    Snapshot(&'a Snapshot),
}

/// What recovery found.
#[derive(Default)]
pub struct Recovered {
    /// The last hard state written.
    pub hard_state: Option<HardState>,
    /// The last snapshot written.
    pub snapshot: Option<Snapshot>,
    /// The entries after the snapshot, in order.
    pub entries: Vec<Entry>,
    /// Whether a torn or corrupt tail was cut off.
    pub cut_tail: bool,
}

/// The write-ahead log of one server.
pub struct Wal {
    disk: DiskHandle,
    fsync: bool,
}

/// Appends `record`, framed, to `out`.
fn encode(record: &Record<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    let payload = out;
    match record {
        Record::Entries(entries) => {
            payload.push(ENTRIES);
            payload.extend_from_slice(&(entries.len() as u32).to_le_bytes());
            for entry in *entries {
                payload.extend_from_slice(&entry.index.to_le_bytes());
                payload.extend_from_slice(&entry.term.to_le_bytes());
                payload.push(entry.get_entry_type() as u8);
                for bytes in [&entry.data[..], &entry.context[..]] {
                    payload.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                    payload.extend_from_slice(bytes);
                }
            }
        }
        Record::HardState(hard_state) => {
            payload.push(HARD_STATE);
            for field in [hard_state.term, hard_state.vote, hard_state.commit] {
                payload.extend_from_slice(&field.to_le_bytes());
            }
        }
        Record::Snapshot(snapshot) => {
            payload.push(SNAPSHOT);
            snapshot.write_to_vec(payload).expect("snapshots encode");
        }
    }
    storage::seal_record(payload, start);
}

fn encode_all(records: &[Record<'_>]) -> Vec<u8> {
    // A capacity hint, so one append allocates once: frame (8) + kind (1) + count (4), then
    // each entry's fixed 25 bytes and its data; a snapshot's metadata is a guess.
    let body_len = |r: &Record<'_>| match r {
        Record::Entries(entries) => entries.iter().map(|e| 25 + e.data.len() + e.context.len()).sum(),
        Record::HardState(_) => 24,
        Record::Snapshot(snapshot) => snapshot.data.len() + 64,
    };
    let mut bytes = Vec::with_capacity(records.iter().map(|r| 13 + body_len(r)).sum());
    for record in records {
        encode(record, &mut bytes);
    }
    bytes
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Reads the entry that starts at `*at` and moves `*at` past it.
fn entry_at(body: &[u8], at: &mut usize) -> Option<Entry> {
    let index = u64_at(body, *at)?;
    let term = u64_at(body, *at + 8)?;
    let entry_type = EntryType::from_i32(i32::from(*body.get(*at + 16)?))?;
    *at += 17;
    let mut field = || {
        let length = u32_at(body, *at)? as usize;
        let bytes = body.get(*at + 4..*at + 4 + length)?;
        *at += 4 + length;
        Some(bytes.to_vec())
    };
    let (data, context) = (field()?, field()?);
    let mut entry = Entry { index, term, data: data.into(), context: context.into(), ..Entry::default() };
    entry.set_entry_type(entry_type);
    Some(entry)
}

/// Applies one payload to `state`; an undecodable payload that passed its CRC is corruption
/// the CRC cannot see, and is an error.
fn replay(payload: &[u8], state: &mut Recovered) -> Result<(), String> {
    let (kind, body) = payload.split_first().ok_or("empty record")?;
    match *kind {
        ENTRIES => {
            let count = u32_at(body, 0).ok_or("entries record without a count")? as usize;
            let mut at = 4;
            for _ in 0..count {
                let entry =
                    entry_at(body, &mut at).ok_or("an entry runs past its record or has an unknown type")?;
                let after = state.snapshot.as_ref().map_or(0, |s| s.get_metadata().index);
                let first = state.entries.first().map_or(after + 1, |e| e.index);
                if entry.index <= after {
                    continue;
                }
                let keep = (entry.index - first) as usize;
                if keep > state.entries.len() {
                    return Err(format!(
                        "entry {} after a gap (log ends at {})",
                        entry.index,
                        first + keep as u64 - 1
                    ));
                }
                state.entries.truncate(keep);
                state.entries.push(entry);
            }
        }
        HARD_STATE => {
            let field = |i: usize| u64_at(body, 8 * i).ok_or("a hard state shorter than 24 bytes");
            let (term, vote, commit) = (field(0)?, field(1)?, field(2)?);
            state.hard_state = Some(HardState { term, vote, commit, ..HardState::default() });
        }
        SNAPSHOT => {
            // A snapshot replaces the whole log: entries past it may conflict with it (a
            // compaction writes the entries it keeps after the snapshot).
            state.snapshot = Some(Snapshot::parse_from_bytes(body).map_err(|e| e.to_string())?);
            state.entries.clear();
        }
        other => return Err(format!("unknown record kind {other}")),
    }
    Ok(())
}

impl Wal {
    /// Opens the log on `disk` and replays it; a torn tail is cut off.
    pub fn open(disk: DiskHandle, fsync: bool) -> Result<(Wal, Recovered), String> {
        let bytes = storage::read_log(&disk, FILE, NEXT)?;
        let mut state = Recovered::default();
        let (payloads, valid) = storage::scan_records(&bytes);
        for (n, payload) in payloads.into_iter().enumerate() {
            replay(payload, &mut state).map_err(|e| format!("{FILE} record {n}: {e}"))?;
        }
        storage::cut_log(&disk, FILE, valid, bytes.len())?;
        state.cut_tail = valid < bytes.len();
        Ok((Wal { disk, fsync }, state))
    }

    /// Appends `records`, then fsyncs if `sync` is asked and fsync is honoured.
    pub fn append(&mut self, records: &[Record<'_>], sync: bool) -> Result<(), DiskError> {
        let bytes = encode_all(records);
        let mut disk = self.disk.lock();
        disk.append(FILE, &bytes)?;
        if sync && self.fsync {
            disk.fsync(FILE)?;
            storage::sync_name(&mut disk, FILE);
        }
        Ok(())
    }

    /// Replaces the log with `snapshot`, `hard_state` and `entries` (compaction).
    pub fn rewrite(
        &mut self,
        snapshot: &Snapshot,
        hard_state: &HardState,
        entries: &[Entry],
    ) -> Result<(), DiskError> {
        let records = [Record::Snapshot(snapshot), Record::HardState(hard_state), Record::Entries(entries)];
        storage::replace_log(&self.disk, FILE, NEXT, &encode_all(&records), self.fsync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::{Disk, DiskConfig};

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, data: vec![index as u8; 3].into(), ..Entry::default() }
    }

    fn indexes(state: &Recovered) -> Vec<(u64, u64)> {
        state.entries.iter().map(|e| (e.index, e.term)).collect()
    }

    #[test]
    fn replays_appends_overwrites_and_snapshots() {
        let disk = DiskHandle::new(Disk::new(DiskConfig::default()));
        let (mut wal, state) = Wal::open(disk.clone(), true).unwrap();
        assert!(state.entries.is_empty() && state.hard_state.is_none());
        let hard = HardState { term: 2, vote: 3, commit: 1, ..HardState::default() };
        wal.append(
            &[Record::Entries(&[entry(1, 1), entry(2, 1), entry(3, 1)]), Record::HardState(&hard)],
            true,
        )
        .unwrap();
        // A new leader overwrites from index 2.
        wal.append(&[Record::Entries(&[entry(2, 2)])], true).unwrap();
        let (_, state) = Wal::open(disk.clone(), true).unwrap();
        assert_eq!(indexes(&state), vec![(1, 1), (2, 2)]);
        assert_eq!(state.hard_state.unwrap().vote, 3);
        let mut snapshot = Snapshot::default();
        snapshot.mut_metadata().index = 1;
        snapshot.mut_metadata().term = 1;
        wal.rewrite(&snapshot, &hard, &[entry(2, 2)]).unwrap();
        wal.append(&[Record::Entries(&[entry(3, 2)])], true).unwrap();
        let (_, state) = Wal::open(disk, true).unwrap();
        assert_eq!(state.snapshot.as_ref().unwrap().get_metadata().index, 1);
        assert_eq!(indexes(&state), vec![(2, 2), (3, 2)]);
    }

    #[test]
    fn entries_and_hard_states_come_back_field_for_field() {
        let disk = DiskHandle::new(Disk::new(DiskConfig::default()));
        let (mut wal, _) = Wal::open(disk.clone(), true).unwrap();
        let mut change = Entry { index: 1, term: 7, data: vec![1, 2, 3].into(), ..Entry::default() };
        change.set_entry_type(EntryType::EntryConfChange);
        change.context = vec![9; 300].into();
        let empty = Entry { index: 2, term: u64::MAX, ..Entry::default() };
        let hard = HardState { term: u64::MAX, vote: 5, commit: 2, ..HardState::default() };
        wal.append(&[Record::Entries(&[change.clone(), empty.clone()]), Record::HardState(&hard)], true)
            .unwrap();
        let (_, state) = Wal::open(disk, true).unwrap();
        assert_eq!(state.entries, vec![change, empty]);
        assert_eq!(state.hard_state, Some(hard));
    }

    #[test]
    fn a_crash_keeps_what_was_synced_and_cuts_a_torn_tail() {
        let config = DiskConfig { torn_writes: true, ..DiskConfig::default() };
        for seed in 0..20 {
            let disk = DiskHandle::new(Disk::new(config.clone()));
            let (mut wal, _) = Wal::open(disk.clone(), true).unwrap();
            wal.append(&[Record::Entries(&[entry(1, 1), entry(2, 1)])], true).unwrap();
            let big: Vec<Entry> = (3..200).map(|i| entry(i, 1)).collect();
            wal.append(&[Record::Entries(&big)], false).unwrap();
            let mut rng = sim::Seed(seed).stream("crash", 0);
            disk.lock().crash(true, &mut rng);
            let (mut wal, state) = Wal::open(disk.clone(), true).unwrap();
            // The unsynced batch is one record: all of it or none of it.
            let found = indexes(&state);
            assert!(found.len() == 2 || found.len() == 199, "seed {seed}: {} entries", found.len());
            wal.append(&[Record::Entries(&[entry(found.len() as u64 + 1, 2)])], true).unwrap();
            let (_, state) = Wal::open(disk, true).unwrap();
            assert_eq!(
                state.entries.len(),
                found.len() + 1,
                "appends after recovery start on a record boundary"
            );
        }
    }

    #[test]
    fn without_fsync_a_crash_loses_everything() {
        let disk = DiskHandle::new(Disk::new(DiskConfig::default()));
        let (mut wal, _) = Wal::open(disk.clone(), false).unwrap();
        wal.append(&[Record::Entries(&[entry(1, 1)])], true).unwrap();
        disk.lock().crash(false, &mut sim::Seed(1).stream("crash", 0));
        let (_, state) = Wal::open(disk, false).unwrap();
        assert!(state.entries.is_empty());
    }
}
