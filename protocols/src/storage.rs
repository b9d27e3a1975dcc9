//! redb on the simulated disk: a `redb::StorageBackend` over one file of a node's disk, so
//! redb runs unmodified on top of the kernel's fault model. Writes land in the live view;
//! redb's `sync_data` is the disk's `fsync` (and costs its latency); a crash keeps only what
//! was synced (torn writes included, when enabled), and a restarted node reopens the
//! database from exactly that. redb's own crash recovery does the rest.

use std::io;

use sim::{DiskError, DiskHandle};

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
        disk.create(&self.name);
        disk.truncate(&self.name, len).map_err(io_error)
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut disk = self.disk.lock();
        disk.create(&self.name);
        disk.fsync(&self.name).map_err(io_error)
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.disk.lock().write(&self.name, offset, data).map_err(io_error)
    }
}
