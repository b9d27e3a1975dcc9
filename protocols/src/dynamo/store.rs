//! A replica's durable state: its versions by key and the hints it keeps for others, in an
//! append-only log of checksummed records on the node's simulated disk.
//!
//! Fault model: a record is durable once fsynced (every write when `fsync = true`, the
//! default, before the replica acknowledges); a crash keeps exactly what was synced, a torn
//! tail is cut at the first record that fails its checksum. Hints live beside the data but
//! apart from it (Dynamo §4.6: "a separate local database"), so a stand-in never serves a
//! hinted version as its own. The log is rewritten whole when it holds four times the
//! records its live state needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim::kernel::hash::digest;
use sim::{DiskError, DiskHandle};

use super::version::{reconcile, Conflict, Version};
use crate::storage;

const FILE: &str = "dynamo.log";
const NEXT: &str = "dynamo.log.new";

/// A hinted version kept for its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    /// The owner it is meant for.
    pub owner: u32,
    /// The key.
    pub key: u64,
    /// The coordinator's siblings of the key, the new version among them.
    pub siblings: Vec<Version>,
}

#[derive(Serialize, Deserialize)]
enum Record {
    Key {
        partition: u32,
        key: u64,
        siblings: Vec<Version>,
    },
    Hint {
        id: u64,
        hint: Hint,
    },
    HintGone {
        id: u64,
    },
    /// Written by a compaction: hint ids start here (deleted hints' ids are never reused).
    NextHint {
        id: u64,
    },
}

/// One replica's versions and hints.
pub struct Store {
    disk: DiskHandle,
    fsync: bool,
    conflict: Conflict,
    data: BTreeMap<(u32, u64), Vec<Version>>,
    /// Per partition, the 16 leaves of its Merkle tree: each the XOR of its keys' digests.
    leaves: BTreeMap<u32, [u64; 16]>,
    hints: BTreeMap<u64, Hint>,
    next_hint: u64,
    records: u64,
    /// An fsync failed: the log file may hold a record the disk will not keep, and appends
    /// after it would be lost with it at the next restart. The log is rewritten from memory
    /// before anything else is appended.
    needs_rewrite: bool,
}

/// Which of a partition's 16 leaves `key` hashes to.
pub fn leaf(key: u64) -> usize {
    (sim::kernel::hash::mix64(key ^ 0x9e37_79b9_7f4a_7c15) >> 60) as usize
}

/// The records as framed bytes (postcard payloads).
fn encode(records: &[Record]) -> Vec<u8> {
    let mut bytes: Vec<u8> = Vec::new();
    for record in records {
        let start = bytes.len();
        bytes.extend_from_slice(&[0; 8]);
        bytes = postcard::to_extend(record, bytes).expect("records encode");
        storage::seal_record(&mut bytes, start);
    }
    bytes
}

fn key_digest(key: u64, siblings: &[Version]) -> u64 {
    digest(&(key, siblings))
}

impl Store {
    /// An empty store on no disk: a server's until `on_start` opens the one on its disk.
    pub fn closed(conflict: Conflict) -> Store {
        Store::empty(DiskHandle::new(sim::Disk::new(sim::DiskConfig::default())), false, conflict)
    }

    fn empty(disk: DiskHandle, fsync: bool, conflict: Conflict) -> Store {
        Store {
            disk,
            fsync,
            conflict,
            data: BTreeMap::new(),
            leaves: BTreeMap::new(),
            hints: BTreeMap::new(),
            next_hint: 0,
            records: 0,
            needs_rewrite: false,
        }
    }

    /// Opens the log on `disk` and replays it; a torn tail is cut off.
    pub fn open(disk: DiskHandle, fsync: bool, conflict: Conflict) -> Result<Store, String> {
        let bytes = storage::read_log(&disk, FILE, NEXT)?;
        let mut store = Store::empty(disk, fsync, conflict);
        let (payloads, valid) = storage::scan_records(&bytes);
        for payload in payloads {
            let record: Record = postcard::from_bytes(payload).map_err(|e| format!("{FILE}: {e}"))?;
            store.records += 1;
            match record {
                Record::Key { partition, key, siblings } => store.set(partition, key, siblings),
                Record::Hint { id, hint } => {
                    store.next_hint = store.next_hint.max(id + 1);
                    store.hints.insert(id, hint);
                }
                Record::HintGone { id } => {
                    store.hints.remove(&id);
                }
                Record::NextHint { id } => store.next_hint = store.next_hint.max(id),
            }
        }
        storage::cut_log(&store.disk, FILE, valid, bytes.len())?;
        Ok(store)
    }

    fn set(&mut self, partition: u32, key: u64, siblings: Vec<Version>) {
        let leaves = self.leaves.entry(partition).or_insert([0; 16]);
        if let Some(old) = self.data.get(&(partition, key)) {
            leaves[leaf(key)] ^= key_digest(key, old);
        }
        leaves[leaf(key)] ^= key_digest(key, &siblings);
        self.data.insert((partition, key), siblings);
    }

    /// Appends `records` durably. After a failed fsync (fsyncgate: the pages it covered are
    /// marked clean and will not reach the disk), appending more would put records the disk
    /// keeps behind a hole that recovery stops at; so the next append first rewrites the
    /// log from memory, which holds exactly what was stored (the failed write was refused),
    /// and only then appends.
    fn append(&mut self, records: &[Record]) -> Result<(), DiskError> {
        if self.needs_rewrite {
            self.compact()?;
            self.needs_rewrite = false;
        }
        let bytes = encode(records);
        {
            let mut disk = self.disk.lock();
            disk.append(FILE, &bytes)?;
            if self.fsync {
                if let Err(error) = disk.fsync(FILE) {
                    self.needs_rewrite = true;
                    return Err(error);
                }
                storage::sync_name(&mut disk, FILE);
            }
        }
        self.records += records.len() as u64;
        Ok(())
    }

    /// Rewrites the log when it holds four times the records the live state needs. Called
    /// after the state in memory has taken the change just appended: a compaction before that
    /// would rewrite the log without it (found by `dynamo.hints_handed_back`: a hint kept
    /// by the append that triggered a compaction was gone after the next restart).
    fn maybe_compact(&mut self) -> Result<(), DiskError> {
        if self.records > 4 * (self.data.len() + self.hints.len()) as u64 + 256 {
            self.compact()?;
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<(), DiskError> {
        let mut records: Vec<Record> = self
            .data
            .iter()
            .map(|(&(partition, key), siblings)| Record::Key { partition, key, siblings: siblings.clone() })
            .collect();
        records.extend(self.hints.iter().map(|(&id, hint)| Record::Hint { id, hint: hint.clone() }));
        records.push(Record::NextHint { id: self.next_hint });
        storage::replace_log(&self.disk, FILE, NEXT, &encode(&records), self.fsync)?;
        self.records = records.len() as u64;
        Ok(())
    }

    /// The siblings of `key` (empty if none).
    pub fn get(&self, partition: u32, key: u64) -> &[Version] {
        self.data.get(&(partition, key)).map_or(&[], Vec::as_slice)
    }

    /// Folds `versions` into `key`'s siblings and makes the result durable (one record); the
    /// new siblings if anything changed. With `replace` (the canaries' overwrite) the versions
    /// replace them.
    pub fn apply(
        &mut self,
        partition: u32,
        key: u64,
        versions: &[Version],
        replace: bool,
    ) -> Result<Option<Vec<Version>>, DiskError> {
        let mut siblings = self.get(partition, key).to_vec();
        let changed = if replace {
            let changed = siblings.as_slice() != versions;
            siblings = versions.to_vec();
            changed
        } else {
            let mut changed = false;
            for version in versions {
                changed |= reconcile(&mut siblings, version, self.conflict);
            }
            changed
        };
        if !changed {
            return Ok(None);
        }
        self.append(&[Record::Key { partition, key, siblings: siblings.clone() }])?;
        self.set(partition, key, siblings.clone());
        self.maybe_compact()?;
        Ok(Some(siblings))
    }

    /// Every key held, with its siblings, in key order within partitions.
    pub fn keys(&self) -> impl Iterator<Item = (u32, u64, &[Version])> + '_ {
        self.data.iter().map(|(&(p, k), s)| (p, k, s.as_slice()))
    }

    /// The leaves of `partition`'s Merkle tree.
    pub fn leaves(&self, partition: u32) -> [u64; 16] {
        self.leaves.get(&partition).copied().unwrap_or([0; 16])
    }

    /// The keys of `partition` in the leaves set in `mask`.
    pub fn entries(&self, partition: u32, mask: u16) -> Vec<(u64, Vec<Version>)> {
        self.data
            .range((partition, 0)..=(partition, u64::MAX))
            .filter(|((_, key), _)| mask & (1 << leaf(*key)) != 0)
            .map(|((_, key), siblings)| (*key, siblings.clone()))
            .collect()
    }

    /// Keeps a hint for `owner`; its id.
    pub fn add_hint(&mut self, owner: u32, key: u64, siblings: Vec<Version>) -> Result<u64, DiskError> {
        let id = self.next_hint;
        let hint = Hint { owner, key, siblings };
        self.append(&[Record::Hint { id, hint: hint.clone() }])?;
        self.next_hint += 1;
        self.hints.insert(id, hint);
        self.maybe_compact()?;
        Ok(id)
    }

    /// Deletes hint `id`; whether it was there.
    pub fn remove_hint(&mut self, id: u64) -> Result<bool, DiskError> {
        if !self.hints.contains_key(&id) {
            return Ok(false);
        }
        self.append(&[Record::HintGone { id }])?;
        self.hints.remove(&id);
        self.maybe_compact()?;
        Ok(true)
    }

    /// The hints kept, by id.
    pub fn hints(&self) -> &BTreeMap<u64, Hint> {
        &self.hints
    }

    /// The hinted versions of `key`.
    pub fn hinted(&self, key: u64) -> impl Iterator<Item = &Version> + '_ {
        self.hints.values().filter(move |h| h.key == key).flat_map(|h| &h.siblings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::version::VClock;
    use sim::{Disk, DiskConfig, Seed};
    use std::rc::Rc;

    fn version(node: u32, elements: &[i64]) -> Version {
        Version {
            dot: (node, 1),
            past: VClock::default(),
            value: Some(Rc::new(elements.to_vec())),
            timestamp: 0,
        }
    }

    #[test]
    fn a_crash_keeps_synced_versions_and_hints() {
        let disk = DiskHandle::new(Disk::new(DiskConfig::default()));
        let mut store = Store::open(disk.clone(), true, Conflict::Vclock).unwrap();
        store.apply(1, 7, &[version(0, &[1])], false).unwrap();
        store.apply(1, 7, &[version(1, &[2])], false).unwrap();
        let hint = store.add_hint(3, 9, vec![version(2, &[5])]).unwrap();
        let gone = store.add_hint(4, 9, vec![version(2, &[6])]).unwrap();
        store.remove_hint(gone).unwrap();
        let leaves = store.leaves(1);
        disk.lock().crash(false, &mut Seed(1).stream("t", 0));
        let back = Store::open(disk, true, Conflict::Vclock).unwrap();
        assert_eq!(back.get(1, 7).len(), 2, "two concurrent siblings");
        assert_eq!(back.hints().keys().copied().collect::<Vec<_>>(), vec![hint]);
        assert_eq!(back.leaves(1), leaves, "the Merkle leaves are rebuilt identically");
    }

    #[test]
    fn without_fsync_a_crash_loses_the_writes() {
        let disk = DiskHandle::new(Disk::new(DiskConfig::default()));
        let mut store = Store::open(disk.clone(), false, Conflict::Vclock).unwrap();
        store.apply(0, 1, &[version(0, &[1])], false).unwrap();
        disk.lock().crash(false, &mut Seed(1).stream("t", 0));
        assert!(Store::open(disk, false, Conflict::Vclock).unwrap().get(0, 1).is_empty());
    }

    #[test]
    fn what_the_append_that_triggers_a_compaction_wrote_survives_a_crash() {
        let disk = DiskHandle::new(Disk::new(DiskConfig::default()));
        let mut store = Store::open(disk.clone(), true, Conflict::Lww).unwrap();
        let mut hints = Vec::new();
        for i in 0..600 {
            let mut v = version(0, &[i]);
            v.timestamp = i as u64;
            if i % 2 == 0 {
                store.apply(0, 1, &[v], false).unwrap();
            } else {
                hints.push(store.add_hint(3, 2, vec![v]).unwrap());
                if hints.len() > 3 {
                    let gone = hints.remove(0);
                    store.remove_hint(gone).unwrap();
                }
            }
            let before = store.hints().keys().copied().collect::<Vec<_>>();
            disk.lock().crash(false, &mut Seed(i as u64).stream("t", 0));
            store = Store::open(disk.clone(), true, Conflict::Lww).unwrap();
            assert_eq!(store.hints().keys().copied().collect::<Vec<_>>(), before, "after write {i}");
            assert_eq!(store.get(0, 1)[0].elements(), &[i - i % 2], "after write {i}");
        }
    }

    #[test]
    fn compaction_keeps_the_live_state() {
        let disk = DiskHandle::new(Disk::new(DiskConfig::default()));
        let mut store = Store::open(disk.clone(), true, Conflict::Lww).unwrap();
        for i in 0..2000 {
            let mut v = version(0, &[i]);
            v.timestamp = i as u64;
            store.apply(0, (i % 3) as u64, &[v], false).unwrap();
        }
        let len = disk.lock().len(FILE).unwrap();
        let back = Store::open(disk, true, Conflict::Lww).unwrap();
        assert_eq!(back.get(0, 2)[0].elements(), &[1997], "the last of key 2's writes (1997 % 3 == 2)");
        assert!(len < 300 * 40, "the log was compacted ({len} bytes)");
    }
}
