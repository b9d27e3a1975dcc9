//! Raft's durable state on the simulated disk, as a raft-rs `Storage`: in redb (the
//! default) or in a write-ahead log of our own ([`super::wal`], `storage = "wal"`).
//!
//! redb holds the log entries (table `entries`, by index), the hard state and the latest
//! snapshot (table `meta`), the snapshot carrying the configuration it was taken at. Reads
//! go to an in-memory mirror loaded from the disk at start, so a restarted node knows
//! exactly what the store recovered and nothing more. Every Ready is written in one redb
//! transaction (or one WAL append), committed with `Durability::Immediate` (fsync) when
//! raft-rs says it must be synced.
//!
//! The initial voters start from a bootstrap snapshot at index 1 holding the initial
//! configuration; servers that join later start empty, so the leader brings them up to
//! date with a snapshot (the log entries they lack are compacted), which carries the
//! configuration and the state.

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use sim::DiskHandle;

use super::config::LogStore;
use super::wal::{Record, Recovered, Wal};
use crate::storage::SimFile;

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The file redb keeps on the node's disk.
pub const FILE: &str = "raft.redb";

/// What a Ready asks to persist.
pub struct Changes<'a> {
    /// A snapshot received from the leader (replaces the log before it).
    pub snapshot: Option<&'a Snapshot>,
    /// New entries (replacing any from their first index on).
    pub entries: &'a [Entry],
    /// A new hard state.
    pub hard_state: Option<&'a HardState>,
    /// Whether it must be on disk before messages that depend on it go out.
    pub sync: bool,
}

/// Where the log is durable.
enum Store {
    Redb(Database),
    Wal(Wal),
}

/// A failed write: the disk refused it, or redb did.
pub type WriteError = Box<dyn std::error::Error>;

/// The log, hard state and snapshot: a mirror in memory, durable in redb or the WAL.
use super::checks::LogState;

/// What opening a log found.
pub struct Opened {
    /// A torn or corrupt tail was cut off (the write-ahead log; redb recovers on its own).
    pub cut_tail: bool,
    /// Nothing was there: a first start, or a wiped disk.
    pub empty: bool,
}

pub struct Log {
    store: Store,
    /// Whether syncs are honoured (false under the `skip-fsync` canary).
    fsync: bool,
    hard_state: HardState,
    /// The configuration as of the last applied entry.
    conf_state: ConfState,
    snapshot: Snapshot,
    /// The snapshot's index and term: raft-rs asks for them on most calls, and protobuf's
    /// `get_metadata` goes through a lazily built default instance each time.
    snapshot_at: (u64, u64),
    entries: Vec<Entry>,
}

fn storage_error(error: impl std::fmt::Display) -> raft::Error {
    raft::Error::Store(StorageError::Other(error.to_string().into()))
}

/// A redb write transaction that fsyncs on commit when `sync`.
fn begin(db: &Database, sync: bool) -> Result<redb::WriteTransaction, WriteError> {
    let mut tx = db.begin_write()?;
    if !sync {
        tx.set_durability(Durability::None)?;
    }
    Ok(tx)
}

/// What redb recovered: the hard state, the snapshot and the entries after it.
fn load(db: &Database) -> Result<Recovered, Box<dyn std::error::Error>> {
    let mut recovered = Recovered::default();
    let tx = db.begin_read()?;
    let meta = match tx.open_table(META) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(recovered),
        Err(error) => return Err(error.into()),
    };
    if let Some(bytes) = meta.get("hard")? {
        recovered.hard_state = Some(HardState::parse_from_bytes(bytes.value())?);
    }
    if let Some(bytes) = meta.get("snapshot")? {
        recovered.snapshot = Some(Snapshot::parse_from_bytes(bytes.value())?);
    }
    let entries = tx.open_table(ENTRIES)?;
    let after = recovered.snapshot.as_ref().map_or(0, |s| s.get_metadata().index);
    for row in entries.range(after + 1..)? {
        let (index, bytes) = row?;
        let entry = Entry::parse_from_bytes(bytes.value())?;
        let expected = after + 1 + recovered.entries.len() as u64;
        if entry.index != index.value() || entry.index != expected {
            return Err(format!("log entry {} found at index {}", entry.index, index.value()).into());
        }
        recovered.entries.push(entry);
    }
    Ok(recovered)
}

impl Log {
    /// Opens (or creates) the log on `disk` in `store`; a new log of an initial voter gets the
    /// bootstrap snapshot with `voters` (raft ids).
    pub fn open(
        disk: DiskHandle,
        store: LogStore,
        fsync: bool,
        voters: Option<&[u64]>,
    ) -> Result<(Log, Opened), String> {
        let (store, recovered) = match store {
            LogStore::Redb => {
                let db = Database::builder()
                    .create_with_backend(SimFile::new(disk, FILE))
                    .map_err(|e| format!("redb could not open {FILE}: {e}"))?;
                let recovered = load(&db).map_err(|e| format!("redb could not read {FILE}: {e}"))?;
                (Store::Redb(db), recovered)
            }
            LogStore::Wal => {
                let (wal, recovered) = Wal::open(disk, fsync)?;
                (Store::Wal(wal), recovered)
            }
        };
        let mut log = Log {
            store,
            fsync,
            hard_state: recovered.hard_state.unwrap_or_default(),
            conf_state: ConfState::default(),
            snapshot: Snapshot::default(),
            snapshot_at: (0, 0),
            entries: recovered.entries,
        };
        if let Some(snapshot) = recovered.snapshot {
            log.conf_state = snapshot.get_metadata().get_conf_state().clone();
            // A snapshot covers only applied, so committed, entries; the commit index is
            // persisted lazily and may be older than the last snapshot.
            let index = snapshot.get_metadata().index;
            log.hard_state.commit = log.hard_state.commit.max(index);
            log.set_snapshot(snapshot);
        }
        let opened =
            Opened { cut_tail: recovered.cut_tail, empty: log.snapshot_at.0 == 0 && log.entries.is_empty() };
        if opened.empty {
            if let Some(voters) = voters {
                log.bootstrap(voters).map_err(|e| format!("could not bootstrap the log: {e}"))?;
            }
        }
        Ok((log, opened))
    }

    fn bootstrap(&mut self, voters: &[u64]) -> Result<(), Box<dyn std::error::Error>> {
        let mut snapshot = Snapshot::default();
        let meta = snapshot.mut_metadata();
        meta.index = 1;
        meta.term = 1;
        meta.mut_conf_state().voters = voters.to_vec();
        snapshot.data = super::machine::Sessions::<super::machine::Kv>::default().snapshot().into();
        let hard_state = HardState { term: 1, commit: 1, ..HardState::default() };
        self.save(&Changes {
            snapshot: Some(&snapshot),
            entries: &[],
            hard_state: Some(&hard_state),
            sync: true,
        })?;
        Ok(())
    }

    /// Persists what a Ready produced, in one transaction, and updates the mirror. Returns
    /// whether it wrote: a hard state that only moves the commit index is kept in memory
    /// until the next write (the commit index need not be durable: Raft thesis 3.8).
    pub fn save(&mut self, changes: &Changes<'_>) -> Result<bool, WriteError> {
        let commit_only = changes.snapshot.is_none()
            && changes.entries.is_empty()
            && changes
                .hard_state
                .is_none_or(|h| h.term == self.hard_state.term && h.vote == self.hard_state.vote);
        if commit_only {
            if let Some(hard_state) = changes.hard_state {
                self.hard_state = hard_state.clone();
            }
            return Ok(false);
        }
        let hard_state = changes.hard_state.unwrap_or(&self.hard_state).clone();
        let last = self.last();
        match &mut self.store {
            Store::Redb(db) => {
                let tx = begin(db, changes.sync && self.fsync)?;
                {
                    let mut entries = tx.open_table(ENTRIES)?;
                    let mut meta = tx.open_table(META)?;
                    if let Some(snapshot) = changes.snapshot {
                        meta.insert(
                            "snapshot",
                            snapshot.write_to_bytes().expect("snapshots encode").as_slice(),
                        )?;
                        // A snapshot replaces the whole log: entries past it may conflict with it.
                        entries.retain_in(0.., |_, _| false)?;
                    }
                    if let Some(first) = changes.entries.first() {
                        if first.index <= last {
                            // A new leader overwrites a conflicting suffix.
                            entries.retain_in(first.index.., |_, _| false)?;
                        }
                        for entry in changes.entries {
                            let bytes = entry.write_to_bytes().expect("entries encode");
                            entries.insert(entry.index, bytes.as_slice())?;
                        }
                    }
                    meta.insert("hard", hard_state.write_to_bytes().expect("hard states encode").as_slice())?;
                }
                tx.commit()?;
            }
            Store::Wal(wal) => {
                let mut records = Vec::with_capacity(3);
                records.extend(changes.snapshot.map(Record::Snapshot));
                if !changes.entries.is_empty() {
                    records.push(Record::Entries(changes.entries));
                }
                records.push(Record::HardState(&hard_state));
                wal.append(&records, changes.sync)?;
            }
        }
        if let Some(snapshot) = changes.snapshot {
            self.set_snapshot(snapshot.clone());
            self.conf_state = snapshot.get_metadata().get_conf_state().clone();
            self.entries.clear();
            let index = snapshot.get_metadata().index;
            self.hard_state.commit = self.hard_state.commit.max(index);
            self.hard_state.term = self.hard_state.term.max(snapshot.get_metadata().term);
        }
        if let Some(first) = changes.entries.first() {
            let keep = first.index.saturating_sub(self.first()) as usize;
            self.entries.truncate(keep);
            self.entries.extend_from_slice(changes.entries);
        }
        self.hard_state = hard_state;
        Ok(true)
    }

    /// Takes a snapshot of `data` at applied index `index` and drops the entries it covers.
    pub fn compact(&mut self, index: u64, data: Vec<u8>) -> Result<(), WriteError> {
        let term = self.term(index)?;
        let mut snapshot = Snapshot::default();
        let meta = snapshot.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(self.conf_state.clone());
        snapshot.data = data.into();
        let drop = (index + 1).saturating_sub(self.first()) as usize;
        let kept = &self.entries[drop.min(self.entries.len())..];
        match &mut self.store {
            Store::Redb(db) => {
                let tx = begin(db, self.fsync)?;
                {
                    let mut meta = tx.open_table(META)?;
                    meta.insert("snapshot", snapshot.write_to_bytes().expect("snapshots encode").as_slice())?;
                    tx.open_table(ENTRIES)?.retain_in(..=index, |_, _| false)?;
                }
                tx.commit()?;
            }
            Store::Wal(wal) => wal.rewrite(&snapshot, &self.hard_state, kept)?,
        }
        self.entries.drain(..drop.min(self.entries.len()));
        self.set_snapshot(snapshot);
        Ok(())
    }

    fn set_snapshot(&mut self, snapshot: Snapshot) {
        let meta = snapshot.get_metadata();
        self.snapshot_at = (meta.index, meta.term);
        self.snapshot = snapshot;
    }

    /// Records the commit index raft-rs reported (persisted with the next hard state).
    pub fn set_commit(&mut self, commit: u64) {
        self.hard_state.commit = commit;
    }

    /// Records the configuration after applying a change.
    pub fn set_conf_state(&mut self, conf_state: ConfState) {
        self.conf_state = conf_state;
    }

    /// The latest snapshot (its data is the state at its index).
    pub fn latest_snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The latest snapshot's index.
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_at.0
    }

    fn first(&self) -> u64 {
        self.snapshot_at.0 + 1
    }

    fn last(&self) -> u64 {
        self.entries.last().map_or(self.snapshot_at.0, |e| e.index)
    }

    /// What the log holds, as `LogState` states it: the last index, and the hard state's
    /// term and vote.
    pub fn state(&self, recovered: bool) -> LogState {
        LogState { recovered, last: self.last(), term: self.hard_state.term, vote: self.hard_state.vote }
    }
}

impl Storage for Log {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last() + 1 {
            return Err(storage_error(format!("entries up to {high} asked, last is {}", self.last())));
        }
        let offset = self.first();
        let mut entries = self.entries[(low - offset) as usize..(high - offset) as usize].to_vec();
        raft::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        let (snapshot_index, snapshot_term) = self.snapshot_at;
        if index == snapshot_index {
            return Ok(snapshot_term);
        }
        if index < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if index > self.last() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(index - self.first()) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if self.snapshot_at.0 < request_index {
            return Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        Ok(self.snapshot.clone())
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("hard_state", &self.hard_state)
            .field("snapshot_index", &self.snapshot_at.0)
            .field("entries", &self.entries.len())
            .finish()
    }
}
