//! redb on the simulated disk: a `redb::StorageBackend` over one file of a node's disk, so
//! redb runs unmodified on top of the kernel's fault model. Writes land in the live view;
//! redb's `sync_data` is the disk's `fsync` (and costs its latency); a crash keeps only what
//! was synced (torn writes included, when enabled), and a restarted node reopens the
//! database from exactly that. redb's own crash recovery does the rest.

use std::io;

use sim::{Disk, DiskError, DiskHandle};

/// One file of a node's simulated disk, as redb's storage.
#[derive(Debug)]
pub struct SimFile {
    disk: DiskHandle,
    name: String,
}

impl SimFile {
    /// The file `name` on the disk behind `disk` (created on first write).
    pub fn new(disk: DiskHandle, name: impl Into<String>) -> SimFile {
        SimFile { disk, name: name.into() }
    }
}

fn io_error(error: DiskError) -> io::Error {
    match error {
        DiskError::NotFound(_) => io::Error::new(io::ErrorKind::NotFound, error.to_string()),
        DiskError::Full { .. } => io::Error::new(io::ErrorKind::StorageFull, error.to_string()),
        DiskError::Kind(..) => io::Error::new(io::ErrorKind::InvalidInput, error.to_string()),
        DiskError::Io(_) => io::Error::other(error.to_string()),
    }
}

impl redb::StorageBackend for SimFile {
    fn len(&self) -> io::Result<u64> {
        let disk = self.disk.lock();
        if disk.exists(&self.name) {
            disk.len(&self.name).map_err(io_error)
        } else {
            Ok(0)
        }
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let read = self.disk.lock().read(&self.name, offset, out).map_err(io_error)?;
        if read < out.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: read of {} bytes at {offset} past the end", self.name, out.len()),
            ));
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut disk = self.disk.lock();
        disk.create(&self.name).map_err(io_error)?;
        disk.truncate(&self.name, len).map_err(io_error)
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut disk = self.disk.lock();
        disk.create(&self.name).map_err(io_error)?;
        disk.fsync(&self.name).map_err(io_error)?;
        sync_name(&mut disk, &self.name);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.disk.lock().write(&self.name, offset, data).map_err(io_error)
    }
}

/// Seals the record that starts at `start` in `out`: its first 8 bytes (reserved by the
/// caller) become `[payload length: u32 LE][CRC-32 of the payload: u32 LE]`, the rest is the
/// payload. The framing every append-only log here uses.
pub fn seal_record(out: &mut [u8], start: usize) {
    let length = (out.len() - start - 8) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The payloads of the whole records at the start of `bytes`, and where they end: a record
/// that is incomplete, fails its CRC or is empty (a torn write, or the zeros a torn write
/// leaves before its surviving sectors) ends the log.
pub fn scan_records(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let word = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let mut payloads = Vec::new();
    let mut at = 0;
    while let (Some(length), Some(crc)) = (word(at), word(at + 4)) {
        let Some(payload) = bytes.get(at + 8..at + 8 + length as usize) else { break };
        if length == 0 || crc32fast::hash(payload) != crc {
            break;
        }
        payloads.push(payload);
        at += 8 + length as usize;
    }
    (payloads, at)
}

/// Reads the append-only log `file` for replay (empty if there is none yet), first removing
/// `next`, the file a rewrite left behind if it crashed before its rename.
pub fn read_log(disk: &DiskHandle, file: &str, next: &str) -> Result<Vec<u8>, String> {
    let mut disk = disk.lock();
    if disk.exists(next) {
        disk.remove(next).map_err(|e| e.to_string())?;
    }
    if disk.exists(file) {
        disk.read_all(file).map_err(|e| e.to_string())
    } else {
        Ok(Vec::new())
    }
}

/// Cuts `file` to its `valid` prefix when replay stopped before its `length` (a torn
/// tail), so that later appends start on a record boundary.
pub fn cut_log(disk: &DiskHandle, file: &str, valid: usize, length: usize) -> Result<(), String> {
    if valid < length {
        disk.lock().truncate(file, valid as u64).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Makes a synced file's name durable too, where fsync of the file does not (POSIX: a new
/// file needs its directory synced; found by `[disk] names_need_sync_dir`, under which
/// raft-kv's new log vanished on every crash and its node restarted empty).
pub fn sync_name(disk: &mut Disk, name: &str) {
    if !disk.is_name_durable(name) {
        disk.sync_dir();
    }
}

/// Replaces `file` with `bytes` as a crash cannot half-do: written to `next`, fsynced,
/// renamed over `file`, the directory synced (without `fsync`, only written and renamed).
pub fn replace_log(
    disk: &DiskHandle,
    file: &str,
    next: &str,
    bytes: &[u8],
    fsync: bool,
) -> Result<(), DiskError> {
    let mut disk = disk.lock();
    disk.create(next)?;
    disk.append(next, bytes)?;
    if fsync {
        disk.fsync(next)?;
    }
    disk.rename(next, file)?;
    if fsync {
        disk.sync_dir();
    }
    Ok(())
}
