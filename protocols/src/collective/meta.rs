//! A coordinator's metadata: directories and file entries (size, chunks, and each chunk's
//! allocation: the nodes that hold it).
//!
//! The real coordinator keeps them in memory only (`Meta::memory`). The durable mode writes
//! every change through to redb on the coordinator's simulated disk in one transaction
//! that fsyncs on commit (`Meta::open`), and reloads them after a restart.

use std::collections::{BTreeMap, BTreeSet};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use sim::DiskHandle;

use super::msg::{ChunkId, Path};
use crate::storage::SimFile;

const FILE: &str = "meta.redb";
const FILES: TableDefinition<u64, &[u8]> = TableDefinition::new("files");
const DIRS: TableDefinition<u32, ()> = TableDefinition::new("dirs");

/// One chunk of a file and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Its id.
    pub id: ChunkId,
    /// The checksum of its content.
    pub digest: u64,
    /// Its length.
    pub len: u64,
    /// The nodes that hold it, in allocation order.
    pub replicas: Vec<u32>,
}

/// A file entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its size.
    pub size: u64,
    /// Its chunks, in order.
    pub chunks: Vec<Chunk>,
}

/// The metadata, in memory and (durable mode) in redb.
pub struct Meta {
    db: Option<Database>,
    /// Path -> entry.
    pub files: BTreeMap<Path, Entry>,
    /// Directories made by mkdir.
    pub dirs: BTreeSet<u32>,
}

impl Meta {
    /// Metadata in memory only: a restart loses it.
    pub fn memory() -> Meta {
        Meta { db: None, files: BTreeMap::new(), dirs: BTreeSet::new() }
    }

    /// Opens (or creates) the metadata on `disk` and loads it.
    pub fn open(disk: DiskHandle) -> Result<Meta, String> {
        let db = Database::builder()
            .create_with_backend(SimFile::new(disk, FILE))
            .map_err(|e| format!("redb could not open {FILE}: {e}"))?;
        let mut meta = Meta { db: None, files: BTreeMap::new(), dirs: BTreeSet::new() };
        let tx = db.begin_read().map_err(|e| e.to_string())?;
        if let Ok(files) = tx.open_table(FILES) {
            for row in files.iter().map_err(|e| e.to_string())? {
                let (path, bytes) = row.map_err(|e| e.to_string())?;
                let entry =
                    postcard::from_bytes(bytes.value()).map_err(|e| format!("file {}: {e}", path.value()))?;
                meta.files.insert(path.value(), entry);
            }
        }
        if let Ok(dirs) = tx.open_table(DIRS) {
            for row in dirs.iter().map_err(|e| e.to_string())? {
                meta.dirs.insert(row.map_err(|e| e.to_string())?.0.value());
            }
        }
        drop(tx);
        meta.db = Some(db);
        Ok(meta)
    }

    /// Sets `path`'s entry, durably before it returns (durable mode).
    pub fn put(&mut self, path: Path, entry: Entry) -> Result<(), String> {
        self.write(|tx| {
            let bytes = postcard::to_allocvec(&entry).expect("entries encode");
            tx.open_table(FILES)?.insert(path, bytes.as_slice())?;
            Ok(())
        })?;
        self.files.insert(path, entry);
        Ok(())
    }

    /// Removes `path`'s entry.
    pub fn remove(&mut self, path: Path) -> Result<Option<Entry>, String> {
        self.write(|tx| {
            tx.open_table(FILES)?.remove(path)?;
            Ok(())
        })?;
        Ok(self.files.remove(&path))
    }

    /// Makes directory `dir`.
    pub fn mkdir(&mut self, dir: u32) -> Result<(), String> {
        self.write(|tx| {
            tx.open_table(DIRS)?.insert(dir, ())?;
            Ok(())
        })?;
        self.dirs.insert(dir);
        Ok(())
    }

    fn write(
        &mut self,
        change: impl FnOnce(&redb::WriteTransaction) -> Result<(), Box<dyn std::error::Error>>,
    ) -> Result<(), String> {
        let Some(db) = &self.db else { return Ok(()) };
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        change(&tx).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::{Disk, DiskConfig, Seed};

    #[test]
    fn durable_metadata_survives_a_crash_and_memory_does_not() {
        let disk = DiskHandle::new(Disk::new(DiskConfig::default()));
        let chunk = Chunk {
            id: ChunkId { owner: 0, path: 3, index: 0, tag: 9 },
            digest: 9,
            len: 10,
            replicas: vec![4, 5],
        };
        let entry = Entry { size: 10, chunks: vec![chunk] };
        {
            let mut meta = Meta::open(disk.clone()).unwrap();
            meta.put(3, entry.clone()).unwrap();
            meta.mkdir(1).unwrap();
            meta.put(4, entry.clone()).unwrap();
            meta.remove(4).unwrap();
        }
        disk.lock().crash(false, &mut Seed(1).stream("t", 0));
        let meta = Meta::open(disk).unwrap();
        assert_eq!(meta.files.get(&3), Some(&entry));
        assert!(!meta.files.contains_key(&4));
        assert!(meta.dirs.contains(&1));
    }
}
