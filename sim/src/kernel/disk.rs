//! Per-node simulated durable storage.
//!
//! A disk holds named files. It keeps two views of everything: the *live* view (what a
//! process reads back) and the *durable* view (what survives a crash). The fault model:
//!
//! - `write`, `append`, `truncate` change the live view only. `fsync(name)` makes the file's
//!   contents durable, and also the binding of `name` to the file (as ext4 and XFS do for a
//!   file's own directory entry on fsync). `create` (implicit in `write`), `rename` and
//!   `remove` change the live namespace only; they become durable with `fsync` of the file
//!   (for its own name) or `sync_dir()` (for the whole namespace).
//! - On a crash the live view is replaced by the durable view: every unsynced write,
//!   truncation, creation, rename and removal is lost.
//! - With `torn_writes`, a crash additionally leaves a random prefix of each file's last
//!   unsynced write, at sector granularity: whole sectors from the write's start survive,
//!   0 up to all of them; bytes between the durable end of the file and the surviving sectors
//!   read as zeros. Earlier unsynced writes to the file are lost, so a log can end in a torn
//!   record after a hole: exactly what recovery code must detect.
//! - A wipe (FoundationDB's RebootAndDelete, a replaced drive) removes every file from both
//!   views of a disk whose node is down: the node restarts with the same identity and empty
//!   storage.
//! - With `crash_keeps = Prefix`, a crash keeps each file's unsynced writes and truncations
//!   up to a random point, in the order they were made (the page cache wrote some back
//!   before the crash: LazyFS and CrashMonkey explore these states); with `Subset`, any
//!   subset of them, each kept with chance 1/2 (a disk that reorders its writes). With torn
//!   writes as well, the first write not kept may survive as a sector prefix. The namespace
//!   is as above: a name becomes durable only by `fsync` or `sync_dir`.
//! - With `names_need_sync_dir`, `fsync` of a file makes its contents durable but not its
//!   name: a file created or renamed since the last `sync_dir` is gone after a crash, as
//!   POSIX allows (an application that creates a log and fsyncs it, but never its directory).
//! - With `fsync_errors`, an `fsync` fails with that chance ([`DiskError::Io`]) and, as
//!   Linux does (PostgreSQL's "fsyncgate"), marks the file's pages clean anyway: the data it
//!   covered stays readable but is not durable, and a later `fsync` that succeeds does not
//!   bring it back; a crash reverts it. With `write_errors`, a write fails with that chance
//!   and changes nothing; with `read_errors`, a read fails (EIO) and reads nothing. Errors are drawn from the disk's own stream.
//! - Per I/O, where the damage budget allows (for a replicated file, another disk keeps an
//!   intact copy of the block; for any other, the disk is within the budget's count: see
//!   [`damage`](super::damage)): with `lost_writes`, a write reports
//!   success and changes nothing (a lost write: the firmware acknowledged what never
//!   reached the media); with `misdirected_writes`, it reports success and lands at a
//!   sector-aligned offset drawn within the file instead of its own (its own range keeps
//!   its old bytes); with `stale_reads`, a read returns the durable view's bytes for its
//!   range, not the latest unsynced ones (a read served from a stale copy). Described
//!   content (`put_blob`) can be lost and read stale, not misdirected. All three are
//!   silent: only checksums and replicas can tell. They are drawn from the disk's stream.
//! - With `io_latency`, every read and write costs a draw of that distribution of the
//!   calling handler's time, as an fsync costs its latency (a disk whose I/O stalls while
//!   the node's timers and messages wait).
//! - Corruption flips bits in a stored region of both views: reads return wrong bytes and no
//!   error, as with a latent sector error that escaped the drive's ECC.
//! - Every `fsync`/`sync_dir` costs `fsync_latency` of the calling handler's time: messages
//!   it sends afterwards leave later, and the node handles nothing else until it is done.
//! - With a `capacity`, a write that would make the live files larger fails with
//!   [`DiskError::Full`] and changes nothing; on a full disk, so do creating a file and
//!   renaming one to a new name (no room for a directory entry: ENOSPC). With
//!   `delayed_allocation` (ext4's delalloc, XFS, a thin-provisioned volume, NFS), writes are
//!   not refused: space is allocated when the data is written back, so the `fsync` whose
//!   file would make the durable contents of the live files exceed the capacity fails with
//!   `Full`, and, as a failed fsync does (above), marks the pages clean: the data stays
//!   readable until a crash but is not durable, and a later fsync does not bring it back.
//! - With a `write_bandwidth`, every write costs its length over the bandwidth of the
//!   calling handler's time, as an fsync costs its latency.
//! - A file may hold a [`Payload`] instead of bytes (`put_blob`): described content whose
//!   full length counts against capacity and write time, but which the disk does not hold.
//!   It is replaced whole, made durable by `fsync` like any file (a crash before that loses
//!   it, never tears it), and corruption flips real bits in it. `read` materialises its
//!   bytes; `write` and `truncate` refuse it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::damage::{DamagedRanges, Replicas};
use super::dist::Distribution;
use super::payload::Payload;
use super::rng::{Probability, Rng};
use super::time::duration_to_nanos;

/// What a crash keeps of a file's unsynced changes (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrashKeeps {
    /// Nothing (the torn last write aside).
    #[default]
    Nothing,
    /// The changes up to a random point, in order.
    Prefix,
    /// Any subset of them.
    Subset,
}

/// How a disk behaves; every field can be changed during a run by a fault.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskConfig {
    /// Total bytes the live files may hold. Default: unlimited.
    pub capacity: Option<u64>,
    /// Time each `fsync` or `sync_dir` takes. Default: zero.
    pub fsync_latency: Duration,
    /// Whether a crash leaves torn last writes (see the module docs). Default: false.
    pub torn_writes: bool,
    /// The unit of a torn write. Default: 512 bytes.
    pub sector_size: u64,
    /// Bytes per second writes proceed at. Default: unlimited (writes take no time).
    pub write_bandwidth: Option<u64>,
    /// What a crash keeps of unsynced changes. Default: nothing.
    pub crash_keeps: CrashKeeps,
    /// The chance that an `fsync` fails (and loses what it covered). Default: never.
    pub fsync_errors: Probability,
    /// The chance that a write fails (changing nothing). Default: never.
    pub write_errors: Probability,
    /// The chance that a read fails (reading nothing). Default: never.
    pub read_errors: Probability,
    /// A new or renamed file's name becomes durable only by `sync_dir`, not by `fsync` of
    /// the file (POSIX's rule; ext4 and XFS are kinder). Default: false.
    pub names_need_sync_dir: bool,
    /// The chance a write is lost (reports success, changes nothing). Default: never.
    pub lost_writes: Probability,
    /// The chance a write lands at another offset of its file. Default: never.
    pub misdirected_writes: Probability,
    /// The chance a read returns the durable view instead of the live one. Default: never.
    pub stale_reads: Probability,
    /// What each read and write costs the calling handler. Default: nothing.
    pub io_latency: Option<Distribution>,
    /// Space is allocated by `fsync`, not by writes: a full disk fails the fsync (ENOSPC).
    /// Default: false.
    pub delayed_allocation: bool,
}

impl DiskConfig {
    /// Whether it damages data silently per I/O (lost or misdirected writes, stale reads):
    /// such a disk counts against the damage budget.
    pub fn damages(&self) -> bool {
        !(self.lost_writes.is_never() && self.misdirected_writes.is_never() && self.stale_reads.is_never())
    }
}

impl Default for DiskConfig {
    fn default() -> DiskConfig {
        DiskConfig {
            capacity: None,
            fsync_latency: Duration::ZERO,
            torn_writes: false,
            sector_size: 512,
            write_bandwidth: None,
            crash_keeps: CrashKeeps::Nothing,
            fsync_errors: Probability::NEVER,
            write_errors: Probability::NEVER,
            read_errors: Probability::NEVER,
            names_need_sync_dir: false,
            lost_writes: Probability::NEVER,
            misdirected_writes: Probability::NEVER,
            stale_reads: Probability::NEVER,
            io_latency: None,
            delayed_allocation: false,
        }
    }
}

/// A change to some fields of a disk's configuration (a disk fault); `None` keeps a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskChange {
    /// New capacity: `Some(None)` makes it unlimited.
    pub capacity: Option<Option<u64>>,
    /// New fsync latency.
    pub fsync_latency: Option<Duration>,
    /// Torn writes on or off.
    pub torn_writes: Option<bool>,
    /// New chance of fsync errors.
    pub fsync_errors: Option<Probability>,
    /// New chance of write errors.
    pub write_errors: Option<Probability>,
    /// New chance of read errors.
    pub read_errors: Option<Probability>,
    /// New chance of lost writes.
    pub lost_writes: Option<Probability>,
    /// New chance of misdirected writes.
    pub misdirected_writes: Option<Probability>,
    /// New chance of stale reads.
    pub stale_reads: Option<Probability>,
}

impl DiskChange {
    /// `config` with this change applied.
    pub fn apply(&self, config: &DiskConfig) -> DiskConfig {
        DiskConfig {
            capacity: self.capacity.unwrap_or(config.capacity),
            fsync_latency: self.fsync_latency.unwrap_or(config.fsync_latency),
            torn_writes: self.torn_writes.unwrap_or(config.torn_writes),
            sector_size: config.sector_size,
            write_bandwidth: config.write_bandwidth,
            crash_keeps: config.crash_keeps,
            fsync_errors: self.fsync_errors.unwrap_or(config.fsync_errors),
            write_errors: self.write_errors.unwrap_or(config.write_errors),
            read_errors: self.read_errors.unwrap_or(config.read_errors),
            names_need_sync_dir: config.names_need_sync_dir,
            lost_writes: self.lost_writes.unwrap_or(config.lost_writes),
            misdirected_writes: self.misdirected_writes.unwrap_or(config.misdirected_writes),
            stale_reads: self.stale_reads.unwrap_or(config.stale_reads),
            io_latency: config.io_latency.clone(),
            delayed_allocation: config.delayed_allocation,
        }
    }
}

/// What a disk operation can fail with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DiskError {
    /// No file has this name.
    #[error("no such file: {0}")]
    NotFound(String),
    /// The write would exceed the disk's capacity.
    #[error("disk full: {needed} bytes needed, {available} available")]
    Full {
        /// Bytes the operation needed.
        needed: u64,
        /// Bytes still free.
        available: u64,
    },
    /// Byte access to a file of described content, or payload access to a file of bytes.
    #[error("{0} does not hold {1}")]
    Kind(String, &'static str),
    /// The device failed the operation (an injected I/O error).
    #[error("I/O error: {0}")]
    Io(&'static str),
}

/// Counts of what a disk did, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Successful writes and appends.
    pub writes: u64,
    /// Bytes written by them.
    pub bytes_written: u64,
    /// `fsync` and `sync_dir` calls.
    pub fsyncs: u64,
    /// Crashes that reverted this disk.
    pub crashes: u64,
    /// Crashes that left a torn write behind.
    pub torn: u64,
    /// Corruption faults applied.
    pub corruptions: u64,
    /// Wipes applied.
    pub wipes: u64,
    /// Fsyncs and writes failed by injected errors.
    pub io_errors: u64,
    /// Writes lost silently.
    pub lost_writes: u64,
    /// Writes that landed at another offset.
    pub misdirected_writes: u64,
    /// Reads that returned stale data.
    pub stale_reads: u64,
    /// Fsyncs failed for want of space (delayed allocation).
    pub full_fsyncs: u64,
    /// Damage to a block of a replicated file that another disk also holds damaged (several
    /// replicas damaged at once, one intact).
    pub damaged_beside_another: u64,
}

/// An injected per-I/O fault: an error (EIO) or silent damage (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Injected {
    /// `read_errors`.
    ReadError,
    /// `write_errors`.
    WriteError,
    /// `fsync_errors`.
    FsyncError,
    /// `lost_writes`.
    LostWrite,
    /// `misdirected_writes`.
    MisdirectedWrite,
    /// `stale_reads`.
    StaleRead,
}

impl Injected {
    /// Every kind, in the order of [`DiskAudit::draws`].
    pub const ALL: [Injected; 6] = [
        Injected::ReadError,
        Injected::WriteError,
        Injected::FsyncError,
        Injected::LostWrite,
        Injected::MisdirectedWrite,
        Injected::StaleRead,
    ];

    /// Its name in a scenario's `[disk]`.
    pub fn name(self) -> &'static str {
        match self {
            Injected::ReadError => "read_errors",
            Injected::WriteError => "write_errors",
            Injected::FsyncError => "fsync_errors",
            Injected::LostWrite => "lost_writes",
            Injected::MisdirectedWrite => "misdirected_writes",
            Injected::StaleRead => "stale_reads",
        }
    }
}

/// One injected fault's draws over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Draws {
    /// How many should have hit: the sum of the fault's chance over every I/O that could
    /// draw it (whether or not it was drawn).
    pub expected: f64,
    /// Draws that hit.
    pub hits: u64,
    /// Hits of silent damage the damage budget refused (the I/O went through intact).
    pub refused: u64,
    /// Of those, the refusals for files that are not replicated (only the budget's count of
    /// disks refuses those).
    pub refused_unreplicated: u64,
}

/// What the disk's faults came to, for the kernel's check that a disk did what its
/// scenario asked (`kernel.disk`, in every run): each injected fault at its rate, a crash
/// keeping and tearing only what its configuration lets it, delayed allocation within the
/// capacity.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskAudit {
    /// Per injected fault, in the order of [`Injected::ALL`].
    pub draws: [Draws; 6],
    /// Crashes while torn writes were on.
    pub crashes_tearing: u64,
    /// The chance that no crash tore a write, over the crashes that could (torn writes on,
    /// a file's last write unsynced, the budget allowing): the product of each last
    /// write's chance to keep none of its sectors, one over its sectors plus one.
    pub untorn_chance: f64,
    /// Files a crash found changed since their last sync while a crash keeps some of
    /// those changes (`crash_keeps` prefix or subset; each keeps none with chance at
    /// most 1/2).
    pub files_keeping: u64,
    /// Of those, the files a crash kept some change of.
    pub files_kept: u64,
    /// Misdirected writes that landed at or past their file's end, or on their own sector
    /// (they land on another sector of the file).
    pub misdirected_astray: u64,
    /// Corruption faults whose flipped bytes the disk did not record as damaged (the damage
    /// budget's per-block rule reads that record).
    pub corruptions_unrecorded: u64,
    /// Successful fsyncs with delayed allocation after which the durable contents of the
    /// live files exceeded the capacity.
    pub overfull_syncs: u64,
}

impl Default for DiskAudit {
    fn default() -> DiskAudit {
        DiskAudit {
            draws: Default::default(),
            crashes_tearing: 0,
            untorn_chance: 1.0,
            files_keeping: 0,
            files_kept: 0,
            misdirected_astray: 0,
            corruptions_unrecorded: 0,
            overfull_syncs: 0,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Inode {
    live: Vec<u8>,
    durable: Vec<u8>,
    /// The byte ranges of `live` that may differ from `durable` (besides the length), in
    /// the order written; a write touching the previous one's range extends it, so a run of
    /// appends is one range.
    dirty: Vec<(usize, usize)>,
    /// The last write since the last fsync, for torn writes (kept while they are on).
    last_write: Option<(usize, Vec<u8>)>,
    /// Every change since the last fsync, in order (kept while a crash may keep some).
    unsynced: Vec<Change>,
    /// Described content in place of `live` / `durable` bytes.
    live_blob: Option<Payload>,
    durable_blob: Option<Payload>,
    /// Whether a durable name may point at it (false: none does), so that syncing a new
    /// file's name need not search the durable namespace.
    durably_named: bool,
}

impl Inode {
    fn mark_dirty(&mut self, start: usize, end: usize) {
        match self.dirty.last_mut() {
            Some(last) if start <= last.1 && end >= last.0 => *last = (last.0.min(start), last.1.max(end)),
            _ => self.dirty.push((start, end)),
        }
    }

    fn is_dirty(&self) -> bool {
        !self.dirty.is_empty() || self.live.len() != self.durable.len() || self.live_blob != self.durable_blob
    }

    /// The live length, bytes or described.
    fn live_len(&self) -> u64 {
        self.live_blob.as_ref().map_or(self.live.len() as u64, Payload::len)
    }

    /// The durable length, bytes or described.
    fn durable_len(&self) -> u64 {
        self.durable_blob.as_ref().map_or(self.durable.len() as u64, Payload::len)
    }

    fn bytes_mut(&mut self, name: &str) -> Result<&mut Self, DiskError> {
        match self.live_blob {
            Some(_) => Err(DiskError::Kind(name.to_owned(), "bytes")),
            None => Ok(self),
        }
    }

    /// Copies the dirty ranges to the durable view. Every byte that differs between the two
    /// views lies in a dirty range: writes, extensions and truncations all mark theirs, so a
    /// sync costs what changed, not the file's size.
    fn sync(&mut self) {
        let len = self.live.len();
        self.durable.resize(len, 0);
        for &(lo, hi) in &self.dirty {
            let hi = hi.min(len);
            if lo < hi {
                self.durable[lo..hi].copy_from_slice(&self.live[lo..hi]);
            }
        }
        self.dirty.clear();
        self.last_write = None;
        self.unsynced.clear();
        self.durable_blob.clone_from(&self.live_blob);
    }

    /// Forgets the unsynced changes without making them durable (a failed fsync): they stay
    /// in the live view until a crash.
    fn drop_dirty(&mut self) {
        self.dirty.clear();
        self.last_write = None;
        self.unsynced.clear();
    }

    /// Applies the changes a crash keeps onto the durable bytes.
    fn keep_on_crash(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Write(offset, data) => {
                    let end = offset + data.len();
                    if self.durable.len() < end {
                        self.durable.resize(end, 0);
                    }
                    self.durable[*offset..end].copy_from_slice(data);
                }
                Change::Truncate(len) => self.durable.resize(*len, 0),
            }
        }
    }
}

/// An unsynced change to a file's bytes.
#[derive(Clone, Debug)]
enum Change {
    Write(usize, Vec<u8>),
    Truncate(usize),
}

/// One node's disk. It outlives the node's crashes; only its durable view survives them.
#[derive(Debug, Default)]
pub struct Disk {
    config: DiskConfig,
    inodes: Vec<Inode>,
    live_names: BTreeMap<String, usize>,
    durable_names: BTreeMap<String, usize>,
    used: u64,
    /// Latency incurred by the current handler's syncs, taken by the engine afterwards.
    /// Shared with the disk's handle so the engine reads it without taking the lock.
    pending_latency: Arc<AtomicU64>,
    stats: DiskStats,
    /// Draws injected errors (none are drawn without it). In a cell: a read (`&self`) may
    /// draw a stale read or its latency.
    errors: RefCell<Option<Rng>>,
    /// Reads that returned stale data (counted by `&self` reads).
    stale_reads: Cell<u64>,
    /// Reads failed by injected errors (counted by `&self` reads).
    read_errors: Cell<u64>,
    /// What the faults came to (in a cell: reads draw faults too).
    audit: RefCell<DiskAudit>,
    /// The simulation's disks and this one's place among them, for the per-block rule
    /// (none: a disk on its own, which may damage anything).
    replicas: Option<(Replicas, usize)>,
    /// Whether the damage budget's count of disks lets per-I/O damage to files that are not
    /// replicated happen here.
    damage_allowed: bool,
    /// What per-I/O damage and corruption left wrong here, by file.
    damaged: DamagedRanges,
}

impl Disk {
    /// An empty disk.
    pub fn new(config: DiskConfig) -> Disk {
        Disk { config, damage_allowed: true, ..Disk::default() }
    }

    /// Lets per-I/O damage to files that are not replicated happen here or not (the
    /// budget's count of disks decides).
    pub fn allow_damage(&mut self, allowed: bool) {
        self.damage_allowed = allowed;
    }

    /// Makes this disk one of `replicas` at `place` (the per-block rule applies from now on).
    pub(crate) fn set_replicas(&mut self, replicas: Replicas, place: usize) {
        self.replicas = Some((replicas, place));
    }

    /// What per-I/O damage and corruption left wrong on this disk.
    pub fn damaged(&self) -> &DamagedRanges {
        &self.damaged
    }

    /// Whether an injected per-I/O damage with chance `p` to bytes `lo..hi` of `name` happens
    /// now: drawn, then allowed only if another disk keeps those blocks intact.
    fn damage(&self, kind: Injected, p: Probability, name: &str, lo: u64, hi: u64) -> bool {
        self.expect(kind, p);
        let drawn = !p.is_never() && self.errors.borrow_mut().as_mut().is_some_and(|rng| rng.chance(p));
        if !drawn {
            // The common path (no damage configured, or none drawn) leaves the audit be.
            return false;
        }
        let allowed = self.may_damage(name, lo, hi);
        let replicated = !allowed && self.replicas.as_ref().is_some_and(|(r, _)| r.is_replicated(name));
        let draws = &mut self.audit.borrow_mut().draws[kind as usize];
        draws.hits += 1;
        draws.refused += u64::from(!allowed);
        draws.refused_unreplicated += u64::from(!allowed && !replicated);
        allowed
    }

    /// Counts an I/O that draws `kind` with chance `p` (the audit's expected hits).
    fn expect(&self, kind: Injected, p: Probability) {
        if !p.is_never() {
            self.audit.borrow_mut().draws[kind as usize].expected += p.as_f64();
        }
    }

    /// What the disk's faults came to so far.
    pub fn audit(&self) -> DiskAudit {
        self.audit.borrow().clone()
    }

    /// Bytes of the live files, counted file by file (the audit's check of `used`).
    pub fn live_bytes(&self) -> u64 {
        self.live_names.values().map(|&i| self.inodes[i].live_len()).sum()
    }

    /// The damage budget for bytes `lo..hi` of `name`: for a replicated file the per-block
    /// rule, at whole blocks; for any other, the count of disks.
    fn may_damage(&self, name: &str, lo: u64, hi: u64) -> bool {
        let (lo, hi) = self.blocks(lo, hi);
        match &self.replicas {
            Some((replicas, place)) if replicas.is_replicated(name) => {
                replicas.intact_elsewhere(*place, name, lo, hi)
            }
            _ => self.damage_allowed,
        }
    }

    /// `lo..hi` widened to whole blocks (sectors).
    fn blocks(&self, lo: u64, hi: u64) -> (u64, u64) {
        let sector = self.config.sector_size.max(1);
        (lo / sector * sector, hi.max(lo + 1).div_ceil(sector) * sector)
    }

    /// Records bytes `lo..hi` of `name` as damaged here, at whole blocks.
    fn mark_damaged(&mut self, name: &str, lo: u64, hi: u64) {
        if lo >= hi {
            return;
        }
        let (lo, hi) = self.blocks(lo, hi);
        if let Some((replicas, place)) = &self.replicas {
            let beside = replicas.is_replicated(name) && replicas.damaged_elsewhere(*place, name, lo, hi);
            self.stats.damaged_beside_another += u64::from(beside);
        }
        self.damaged.mark(name, lo, hi);
    }

    /// A clean write of `lo..hi` of `name`: the blocks it covers whole are intact again.
    fn mark_rewritten(&mut self, name: &str, lo: u64, hi: u64) {
        if !self.damaged.is_empty() {
            let sector = self.config.sector_size.max(1);
            self.damaged.clear(name, lo.div_ceil(sector) * sector, hi / sector * sector);
        }
    }

    /// Charges one I/O's latency, if the disk has one.
    fn charge_io(&self) {
        if let (Some(latency), Some(rng)) = (&self.config.io_latency, self.errors.borrow_mut().as_mut()) {
            self.pending_latency.fetch_add(latency.sample_nanos(rng), Ordering::Relaxed);
        }
    }

    /// Draws this disk's injected errors from `stream`.
    pub fn set_error_stream(&mut self, stream: Rng) {
        self.errors = RefCell::new(Some(stream));
    }

    /// Whether its configuration injects errors and it has no stream to draw them from yet.
    pub fn needs_error_stream(&self) -> bool {
        let config = &self.config;
        self.errors.borrow().is_none()
            && !(config.fsync_errors.is_never()
                && config.write_errors.is_never()
                && config.read_errors.is_never()
                && !config.damages()
                && config.io_latency.is_none())
    }

    /// Whether an injected error with chance `p` happens now.
    fn inject(&mut self, kind: Injected, p: Probability) -> bool {
        self.expect(kind, p);
        let failed = !p.is_never() && self.errors.borrow_mut().as_mut().is_some_and(|rng| rng.chance(p));
        self.audit.get_mut().draws[kind as usize].hits += u64::from(failed);
        self.stats.io_errors += u64::from(failed);
        failed
    }

    /// The disk's current configuration.
    pub fn config(&self) -> &DiskConfig {
        &self.config
    }

    /// Replaces the configuration (a slow-fsync or disk-full fault).
    pub fn set_config(&mut self, config: DiskConfig) {
        self.config = config;
    }

    /// What this disk has done so far.
    pub fn stats(&self) -> DiskStats {
        let io_errors = self.stats.io_errors + self.read_errors.get();
        DiskStats { stale_reads: self.stale_reads.get(), io_errors, ..self.stats }
    }

    /// Ends per-I/O damage and latency on this disk (the run is over: what checks read is
    /// what the disk holds).
    pub fn stop_injecting(&mut self) {
        self.config.lost_writes = Probability::NEVER;
        self.config.misdirected_writes = Probability::NEVER;
        self.config.stale_reads = Probability::NEVER;
        self.config.io_latency = None;
        self.config.read_errors = Probability::NEVER;
    }

    /// A read's injected error, if one happens now (`read_errors`).
    fn read_error(&self) -> Result<(), DiskError> {
        let p = self.config.read_errors;
        self.expect(Injected::ReadError, p);
        if !p.is_never() && self.errors.borrow_mut().as_mut().is_some_and(|rng| rng.chance(p)) {
            self.audit.borrow_mut().draws[Injected::ReadError as usize].hits += 1;
            self.read_errors.set(self.read_errors.get() + 1);
            return Err(DiskError::Io("read failed"));
        }
        Ok(())
    }

    /// Bytes held by live files.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Live file names, in order.
    pub fn list(&self) -> Vec<String> {
        self.live_names.keys().cloned().collect()
    }

    /// Live file names that start with `prefix`, in order, without copying them.
    pub fn names_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.live_names
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .map(|(name, _)| name.as_str())
            .take_while(move |name| name.starts_with(prefix))
    }

    /// Whether a live file has this name.
    pub fn exists(&self, name: &str) -> bool {
        self.live_names.contains_key(name)
    }

    /// The length of a live file.
    pub fn len(&self, name: &str) -> Result<u64, DiskError> {
        Ok(self.inode(name)?.live_len())
    }

    /// Whether the disk holds no live files.
    pub fn is_empty(&self) -> bool {
        self.live_names.is_empty()
    }

    /// Creates an empty file if none has this name; a full disk has no room for a new
    /// name (ENOSPC, as a directory with no free block).
    pub fn create(&mut self, name: &str) -> Result<(), DiskError> {
        if !self.live_names.contains_key(name) {
            self.room_for_a_name()?;
            self.inodes.push(Inode::default());
            self.live_names.insert(name.to_owned(), self.inodes.len() - 1);
        }
        Ok(())
    }

    /// `Full` if the disk has a capacity and no byte of it is free.
    fn room_for_a_name(&self) -> Result<(), DiskError> {
        match self.config.capacity {
            Some(capacity) if self.used >= capacity => Err(DiskError::Full { needed: 1, available: 0 }),
            _ => Ok(()),
        }
    }

    /// Writes `data` at `offset`, creating the file and zero-filling any gap.
    pub fn write(&mut self, name: &str, offset: u64, data: &[u8]) -> Result<(), DiskError> {
        let offset = usize::try_from(offset).expect("offset fits in memory");
        let end = offset + data.len();
        if let Some(&index) = self.live_names.get(name) {
            self.inodes[index].bytes_mut(name)?;
        }
        let growth = end.saturating_sub(self.live_names.get(name).map_or(0, |&i| self.inodes[i].live.len()));
        self.reserve(growth as u64)?;
        if self.inject(Injected::WriteError, self.config.write_errors) {
            return Err(DiskError::Io("write failed"));
        }
        self.create(name)?;
        self.charge_write(data.len() as u64);
        self.charge_io();
        if self.damage(Injected::LostWrite, self.config.lost_writes, name, offset as u64, end as u64) {
            self.stats.lost_writes += 1;
            self.mark_damaged(name, offset as u64, end as u64);
            return Ok(());
        }
        let index = self.live_names[name];
        let (offset, end, growth) = if self.damage(
            Injected::MisdirectedWrite,
            self.config.misdirected_writes,
            name,
            offset as u64,
            end as u64,
        ) {
            // At another whole sector of the file, drawn; lost if it has no other.
            self.stats.misdirected_writes += 1;
            let sector = self.config.sector_size.max(1) as usize;
            let len = self.inodes[index].live.len();
            let (sectors, own) = ((len / sector) as u64, (offset / sector) as u64);
            let others = sectors - u64::from(own < sectors);
            if others == 0 {
                return Ok(());
            }
            let mut errors = self.errors.borrow_mut();
            let drawn = errors.as_mut().expect("damage draws from the disk's stream").between(0, others - 1);
            drop(errors);
            let wrong = (drawn + u64::from(drawn >= own)) as usize * sector;
            self.audit.get_mut().misdirected_astray +=
                u64::from(wrong >= len || wrong / sector == offset / sector);
            let wrong_end = wrong + data.len();
            self.mark_damaged(name, offset as u64, end as u64);
            let growth = wrong_end.saturating_sub(len);
            if !self.may_damage(name, wrong as u64, wrong_end as u64) || self.reserve(growth as u64).is_err()
            {
                return Ok(()); // where it went may not be damaged, or has no room: lost
            }
            self.mark_damaged(name, wrong as u64, wrong_end as u64);
            (wrong, wrong_end, growth)
        } else {
            self.mark_rewritten(name, offset as u64, end as u64);
            (offset, end, growth)
        };
        let inode = &mut self.inodes[index];
        if inode.live.len() < end {
            inode.live.resize(end, 0);
        }
        inode.live[offset..end].copy_from_slice(data);
        inode.mark_dirty(offset, end);
        if self.config.torn_writes {
            inode.last_write = Some((offset, data.to_vec()));
        }
        if self.config.crash_keeps != CrashKeeps::Nothing {
            inode.unsynced.push(Change::Write(offset, data.to_vec()));
        }
        self.used += growth as u64;
        self.stats.writes += 1;
        self.stats.bytes_written += data.len() as u64;
        Ok(())
    }

    /// Appends `data`, creating the file; returns the offset it was written at.
    pub fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, DiskError> {
        let offset = self.live_names.get(name).map_or(0, |&i| self.inodes[i].live.len()) as u64;
        self.write(name, offset, data)?;
        Ok(offset)
    }

    /// Reads into `buf` from `offset`; returns how many bytes were read (short at the end).
    pub fn read(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, DiskError> {
        let inode = self.inode(name)?;
        self.charge_io();
        self.read_error()?;
        if let Some(blob) = &inode.live_blob {
            let part = blob.slice(offset, buf.len() as u64);
            for (i, byte) in buf.iter_mut().take(part.len() as usize).enumerate() {
                *byte = part.byte(i as u64);
            }
            return Ok(part.len() as usize);
        }
        // A stale read returns what the last sync left (see the module docs).
        let stale = self.damage(
            Injected::StaleRead,
            self.config.stale_reads,
            name,
            offset,
            offset + buf.len() as u64,
        );
        self.stale_reads.set(self.stale_reads.get() + u64::from(stale));
        let bytes = if stale { &inode.durable } else { &inode.live };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    /// The whole live content of a file.
    pub fn read_all(&self, name: &str) -> Result<Vec<u8>, DiskError> {
        let len = self.inode(name)?.live_len();
        self.charge_io();
        self.read_error()?;
        if self.damage(Injected::StaleRead, self.config.stale_reads, name, 0, len) {
            self.stale_reads.set(self.stale_reads.get() + 1);
            let inode = self.inode(name)?;
            if inode.live_blob.is_none() {
                let mut stale = inode.durable.clone();
                // The durable bytes, at the live length (what a stale copy of it holds).
                stale.resize(inode.live.len(), 0);
                return Ok(stale);
            }
        }
        let inode = self.inode(name)?;
        Ok(inode.live_blob.as_ref().map_or_else(|| inode.live.clone(), Payload::bytes))
    }

    /// Replaces the file `name` (creating it) with described content; durable on `fsync`.
    pub fn put_blob(&mut self, name: &str, payload: Payload) -> Result<(), DiskError> {
        let old = self.live_names.get(name).map_or(0, |&i| self.inodes[i].live_len());
        self.reserve(payload.len().saturating_sub(old))?;
        self.create(name)?;
        self.charge_write(payload.len());
        self.charge_io();
        if self.damage(Injected::LostWrite, self.config.lost_writes, name, 0, payload.len()) {
            self.stats.lost_writes += 1;
            self.mark_damaged(name, 0, payload.len());
            return Ok(());
        }
        self.damaged.forget(name);
        self.stats.writes += 1;
        self.stats.bytes_written += payload.len();
        self.used = self.used + payload.len() - old;
        let inode = &mut self.inodes[self.live_names[name]];
        inode.live.clear();
        inode.dirty.clear();
        inode.last_write = None;
        inode.live_blob = Some(payload);
        Ok(())
    }

    /// The described content of `name`, flips included.
    pub fn get_blob(&self, name: &str) -> Result<Payload, DiskError> {
        let inode = self.inode(name)?;
        self.charge_io();
        self.read_error()?;
        if inode.durable_blob.is_some()
            && self.damage(Injected::StaleRead, self.config.stale_reads, name, 0, inode.live_len())
        {
            self.stale_reads.set(self.stale_reads.get() + 1);
            return Ok(inode.durable_blob.clone().expect("checked"));
        }
        inode.live_blob.clone().ok_or_else(|| DiskError::Kind(name.to_owned(), "described content"))
    }

    /// Cuts or zero-extends a file to `len` bytes.
    pub fn truncate(&mut self, name: &str, len: u64) -> Result<(), DiskError> {
        let len = usize::try_from(len).expect("length fits in memory");
        let index = *self.live_names.get(name).ok_or_else(|| DiskError::NotFound(name.to_owned()))?;
        self.inodes[index].bytes_mut(name)?;
        let old = self.inodes[index].live.len();
        if len > old {
            self.reserve((len - old) as u64)?;
        }
        let keeps = self.config.crash_keeps != CrashKeeps::Nothing;
        let inode = &mut self.inodes[index];
        inode.live.resize(len, 0);
        inode.mark_dirty(len.min(old), len.max(old));
        if keeps {
            inode.unsynced.push(Change::Truncate(len));
        }
        self.used = self.used + len as u64 - old as u64;
        self.damaged.clear(name, len as u64, u64::MAX);
        Ok(())
    }

    /// Makes the file's contents and its name durable. Costs `fsync_latency`.
    pub fn fsync(&mut self, name: &str) -> Result<(), DiskError> {
        let index = *self.live_names.get(name).ok_or_else(|| DiskError::NotFound(name.to_owned()))?;
        let failed = match self.allocate(index) {
            Err(full) => {
                self.stats.full_fsyncs += 1;
                Some(full)
            }
            Ok(()) => self
                .inject(Injected::FsyncError, self.config.fsync_errors)
                .then_some(DiskError::Io("fsync failed; the data it covered is not durable")),
        };
        if let Some(error) = failed {
            self.inodes[index].drop_dirty();
            self.charge_sync();
            return Err(error);
        }
        self.inodes[index].sync();
        if self.config.delayed_allocation && self.config.capacity.is_some_and(|c| self.durable_bytes() > c) {
            self.audit.get_mut().overfull_syncs += 1;
        }
        if !self.config.names_need_sync_dir && self.durable_names.get(name) != Some(&index) {
            if self.inodes[index].durably_named {
                // Renamed since it was durable: its old durable name goes.
                let live_names = &self.live_names;
                self.durable_names.retain(|n, i| *i != index || live_names.get(n) == Some(&index));
            }
            self.durable_names.insert(name.to_owned(), index);
            self.inodes[index].durably_named = true;
        }
        self.charge_sync();
        Ok(())
    }

    /// The durable contents of the live files, counted file by file (the audit's check of
    /// delayed allocation).
    fn durable_bytes(&self) -> u64 {
        let durable =
            |inode: &Inode| inode.durable_blob.as_ref().map_or(inode.durable.len() as u64, Payload::len);
        self.live_names.values().map(|&i| durable(&self.inodes[i])).sum()
    }

    /// Makes the whole namespace (creations, renames, removals) durable; not file contents.
    /// Costs `fsync_latency`.
    pub fn sync_dir(&mut self) {
        self.durable_names = self.live_names.clone();
        self.mark_durably_named();
        self.charge_sync();
    }

    /// Renames `from` to `to`, replacing any file named `to`. A new name on a full disk
    /// fails (ENOSPC) and changes nothing.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), DiskError> {
        if !self.live_names.contains_key(from) {
            return Err(DiskError::NotFound(from.to_owned()));
        }
        if !self.live_names.contains_key(to) {
            self.room_for_a_name()?;
        }
        let index = self.live_names.remove(from).ok_or_else(|| DiskError::NotFound(from.to_owned()))?;
        if let Some(replaced) = self.live_names.insert(to.to_owned(), index) {
            self.used -= self.inodes[replaced].live_len();
        }
        self.damaged.rename(from, to);
        Ok(())
    }

    /// Removes a file from the live namespace.
    pub fn remove(&mut self, name: &str) -> Result<(), DiskError> {
        let index = self.live_names.remove(name).ok_or_else(|| DiskError::NotFound(name.to_owned()))?;
        self.used -= self.inodes[index].live_len();
        self.damaged.forget(name);
        Ok(())
    }

    /// A copy of the live view with no capacity limit and its own fsync latency counter
    /// (a fenced process's scratch disk).
    fn scratch_copy(&self) -> Disk {
        let mut copy = Disk::new(DiskConfig { capacity: None, ..self.config.clone() });
        copy.inodes = self.inodes.clone();
        copy.live_names = self.live_names.clone();
        copy.durable_names = self.durable_names.clone();
        copy.used = self.used;
        copy
    }

    /// Whether `name` would survive a crash as the file it names now (its directory entry is
    /// durable). False for a missing file.
    pub fn is_name_durable(&self, name: &str) -> bool {
        self.live_names.get(name).is_some_and(|index| self.durable_names.get(name) == Some(index))
    }

    /// Whether any file has changes a crash would lose.
    pub fn has_unsynced(&self) -> bool {
        self.live_names != self.durable_names || self.inodes.iter().any(Inode::is_dirty)
    }

    /// Whether a crash now could tear a write (torn writes on and some write unsynced).
    pub fn could_tear(&self) -> bool {
        self.config.torn_writes && self.inodes.iter().any(|inode| inode.last_write.is_some())
    }

    /// Applies a crash: the live view becomes the durable view. With `tear`, each file's
    /// last unsynced write leaves a random sector-aligned prefix (drawn from `rng`).
    /// Returns whether any torn bytes were left behind.
    pub fn crash(&mut self, tear: bool, rng: &mut Rng) -> bool {
        let sector = self.config.sector_size.max(1) as usize;
        let mut torn = false;
        let keeps = self.config.crash_keeps;
        let audit = self.audit.get_mut();
        audit.crashes_tearing += u64::from(self.config.torn_writes);
        for index in 0..self.inodes.len() {
            let inode = &mut self.inodes[index];
            audit.files_keeping += u64::from(
                keeps != CrashKeeps::Nothing && inode.live_blob.is_none() && !inode.dirty.is_empty(),
            );
            if keeps != CrashKeeps::Nothing && !inode.unsynced.is_empty() {
                let changes = std::mem::take(&mut inode.unsynced);
                let kept: Vec<Change> = match keeps {
                    CrashKeeps::Prefix => {
                        let cut = rng.between(0, changes.len() as u64) as usize;
                        // A torn write: the first change not kept, as a sector prefix.
                        let partial = changes.get(cut).filter(|_| tear).and_then(|c| match c {
                            Change::Write(offset, data) => {
                                let first = offset / sector;
                                let sectors = (offset + data.len()).div_ceil(sector) - first;
                                let end = ((first + rng.between(0, sectors as u64) as usize) * sector)
                                    .min(offset + data.len());
                                (end > *offset).then(|| Change::Write(*offset, data[..end - offset].to_vec()))
                            }
                            Change::Truncate(_) => None,
                        });
                        torn |= partial.is_some();
                        changes[..cut].iter().cloned().chain(partial).collect()
                    }
                    _ => changes.into_iter().filter(|_| rng.chance(Probability::ratio(1, 2))).collect(),
                };
                audit.files_kept += u64::from(!kept.is_empty());
                inode.keep_on_crash(&kept);
                inode.last_write = None;
            }
            let last_write = inode.last_write.take();
            inode.live.clone_from(&inode.durable);
            inode.live_blob.clone_from(&inode.durable_blob);
            inode.dirty.clear();
            let Some((offset, data)) = last_write.filter(|_| tear) else { continue };
            let spanned = (offset + data.len()).div_ceil(sector) - offset / sector;
            audit.untorn_chance /= (spanned + 1) as f64;
            let first_sector = offset / sector;
            let end_sector = (offset + data.len()).div_ceil(sector);
            let survivors = rng.between(0, (end_sector - first_sector) as u64) as usize;
            let end = ((first_sector + survivors) * sector).min(offset + data.len());
            if end > offset {
                if inode.live.len() < end {
                    inode.live.resize(end, 0);
                }
                inode.live[offset..end].copy_from_slice(&data[..end - offset]);
                inode.durable.clone_from(&inode.live);
                torn = true;
            }
        }
        self.live_names = self.durable_names.clone();
        self.collect_garbage();
        self.used = self.live_names.values().map(|&i| self.inodes[i].live_len()).sum();
        self.stats.crashes += 1;
        self.stats.torn += u64::from(torn);
        torn
    }

    /// Removes every file, durable or not; the configuration stays.
    pub fn wipe(&mut self) {
        self.inodes.clear();
        self.live_names.clear();
        self.durable_names.clear();
        self.used = 0;
        self.damaged.clear_all();
        self.stats.wipes += 1;
    }

    /// Flips bits in `len` bytes of `name` from `offset` (clipped to the file), in both
    /// views. Every byte in the region is XORed with a random non-zero byte. Returns the
    /// number of bytes corrupted.
    pub fn corrupt(&mut self, name: &str, offset: u64, len: u64, rng: &mut Rng) -> Result<u64, DiskError> {
        let index = *self.live_names.get(name).ok_or_else(|| DiskError::NotFound(name.to_owned()))?;
        let inode = &mut self.inodes[index];
        if inode.live_blob.is_some() || inode.durable_blob.is_some() {
            let end = offset.saturating_add(len);
            let size = inode.live_blob.iter().chain(&inode.durable_blob).map(Payload::len).max().unwrap_or(0);
            for position in offset..end.min(size) {
                let mask = rng.between(1, 255) as u8;
                for blob in inode.live_blob.iter_mut().chain(inode.durable_blob.iter_mut()) {
                    blob.flip(position, mask);
                }
            }
            self.stats.corruptions += 1;
            self.mark_damaged(name, offset, end.min(size));
            return Ok(end.min(size).saturating_sub(offset));
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        let mut corrupted = 0;
        let reach = end.min(inode.live.len().max(inode.durable.len()));
        for position in start..reach {
            let flip = rng.between(1, 255) as u8;
            if let Some(byte) = inode.live.get_mut(position) {
                *byte ^= flip;
            }
            if let Some(byte) = inode.durable.get_mut(position) {
                *byte ^= flip;
            }
            corrupted += 1;
        }
        self.stats.corruptions += 1;
        self.mark_damaged(name, offset, offset + corrupted);
        let recorded = reach <= start || self.damaged.overlaps(name, offset, reach as u64);
        self.audit.get_mut().corruptions_unrecorded += u64::from(!recorded);
        Ok(corrupted)
    }

    /// Takes the latency added since the last call (the engine does, after each handler).
    #[cfg(test)]
    fn take_pending_latency(&mut self) -> u64 {
        self.pending_latency.swap(0, Ordering::Relaxed)
    }

    fn charge_write(&mut self, bytes: u64) {
        if let Some(per_second) = self.config.write_bandwidth.filter(|b| *b > 0) {
            let nanos =
                u64::try_from(u128::from(bytes) * 1_000_000_000 / u128::from(per_second)).unwrap_or(u64::MAX);
            self.pending_latency.fetch_add(nanos, Ordering::Relaxed);
        }
    }

    fn charge_sync(&mut self) {
        self.pending_latency.fetch_add(duration_to_nanos(self.config.fsync_latency), Ordering::Relaxed);
        self.stats.fsyncs += 1;
    }

    fn inode(&self, name: &str) -> Result<&Inode, DiskError> {
        self.live_names
            .get(name)
            .map(|&i| &self.inodes[i])
            .ok_or_else(|| DiskError::NotFound(name.to_owned()))
    }

    /// With delayed allocation, the room syncing file `index` needs: `Full` if the durable
    /// contents of the live files would then exceed the capacity.
    fn allocate(&self, index: usize) -> Result<(), DiskError> {
        let Some(capacity) = self.config.capacity.filter(|_| self.config.delayed_allocation) else {
            return Ok(());
        };
        let allocated: u64 = self.live_names.values().map(|&i| self.inodes[i].durable_len()).sum();
        let inode = &self.inodes[index];
        let growth = inode.live_len().saturating_sub(inode.durable_len());
        if allocated + growth > capacity {
            return Err(DiskError::Full { needed: growth, available: capacity.saturating_sub(allocated) });
        }
        Ok(())
    }

    /// Room for `bytes` more live bytes (none is needed with delayed allocation: `fsync`
    /// allocates).
    fn reserve(&self, bytes: u64) -> Result<(), DiskError> {
        if self.config.delayed_allocation {
            return Ok(());
        }
        match self.config.capacity {
            Some(capacity) if self.used + bytes > capacity => {
                Err(DiskError::Full { needed: bytes, available: capacity.saturating_sub(self.used) })
            }
            _ => Ok(()),
        }
    }

    /// Drops inodes no name refers to and renumbers the rest (after a crash).
    fn collect_garbage(&mut self) {
        let mut renumber = vec![usize::MAX; self.inodes.len()];
        let mut kept = Vec::new();
        for &index in self.live_names.values() {
            if renumber[index] == usize::MAX {
                renumber[index] = kept.len();
                kept.push(std::mem::take(&mut self.inodes[index]));
            }
        }
        self.inodes = kept;
        for index in self.live_names.values_mut() {
            *index = renumber[*index];
        }
        self.durable_names = self.live_names.clone();
        self.mark_durably_named();
    }

    fn mark_durably_named(&mut self) {
        for inode in &mut self.inodes {
            inode.durably_named = false;
        }
        for &index in self.durable_names.values() {
            self.inodes[index].durably_named = true;
        }
    }
}

/// A node's disk, shareable. Handlers reach it through `Ctx::disk`; a storage engine that
/// must own its file across handlers (redb's `Database` owns its backend) keeps a handle
/// from `Ctx::disk_handle`. There are no threads, so the lock is never contended; it exists
/// because such engines require `Send + Sync` backends.
///
/// A crash runs no code of the node, but dropping the node's value runs its destructors,
/// and a storage engine's destructor may flush and sync (redb's does). So a crash first
/// *fences* the disk: handles taken by an earlier incarnation are stale from then on, and
/// reach a scratch disk of their own instead. The dead process's destructors then write
/// nowhere that matters, and the real disk keeps exactly what was synced before the crash.
#[derive(Clone, Debug)]
pub struct DiskHandle {
    disk: Arc<Mutex<Disk>>,
    pending_latency: Arc<AtomicU64>,
    /// The incarnation of the disk's owner this handle was taken in.
    epoch: u64,
    /// The owner's current incarnation, bumped by `fence`.
    current: Arc<AtomicU64>,
    /// Where a stale handle's operations go.
    scratch: Arc<Mutex<Disk>>,
}

impl Default for DiskHandle {
    fn default() -> DiskHandle {
        DiskHandle::new(Disk::default())
    }
}

impl DiskHandle {
    /// A handle on a new disk.
    pub fn new(disk: Disk) -> DiskHandle {
        let pending_latency = disk.pending_latency.clone();
        DiskHandle {
            disk: Arc::new(Mutex::new(disk)),
            pending_latency,
            epoch: 0,
            current: Arc::new(AtomicU64::new(0)),
            scratch: Arc::new(Mutex::new(Disk::default())),
        }
    }

    /// The disk, or for a stale handle (taken before a crash) its scratch disk. A lock
    /// poisoned by a protocol panic mid-operation is taken anyway: the panic is reported by
    /// the run, and the disk is as consistent as any crashed disk.
    pub fn lock(&self) -> MutexGuard<'_, Disk> {
        let disk = if self.is_stale() { &self.scratch } else { &self.disk };
        disk.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the disk one of `replicas`, for the per-block damage rule.
    pub(crate) fn join(&self, replicas: &Replicas) {
        let place = replicas.join(&self.disk);
        self.disk.lock().unwrap_or_else(PoisonError::into_inner).set_replicas(replicas.clone(), place);
    }

    /// Whether a crash has happened since this handle was taken.
    pub fn is_stale(&self) -> bool {
        self.current.load(Ordering::Relaxed) != self.epoch
    }

    /// Makes every existing handle stale; this one (the kernel's) follows the new epoch.
    /// The scratch disk stale handles reach from now on starts as a copy of the live disk:
    /// a dead process's destructors (redb's close reads the pages it flushes) then see the
    /// files they had open, and whatever they write is thrown away.
    pub(crate) fn fence(&mut self) {
        let copy = self.disk.lock().unwrap_or_else(PoisonError::into_inner).scratch_copy();
        *self.scratch.lock().unwrap_or_else(PoisonError::into_inner) = copy;
        self.epoch = self.current.fetch_add(1, Ordering::Relaxed) + 1;
    }

    /// The fsync latency the current handler has incurred so far (no lock).
    pub(crate) fn pending_latency(&self) -> u64 {
        self.pending_latency.load(Ordering::Relaxed)
    }

    /// Takes it (the engine does, after each handler).
    pub(crate) fn take_pending_latency(&self) -> u64 {
        self.pending_latency.swap(0, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::rng::Seed;

    fn rng() -> Rng {
        Seed(1).stream("disk-test", 0)
    }

    #[derive(Clone, Debug)]
    enum Step {
        Write(usize, Vec<u8>),
        Truncate(usize),
        Fsync,
        Crash,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0..12_000usize, proptest::collection::vec(any::<u8>(), 1..5_000))
                .prop_map(|(at, data)| Step::Write(at, data)),
            1 => (0..16_000usize).prop_map(Step::Truncate),
            2 => Just(Step::Fsync),
            1 => Just(Step::Crash),
        ]
    }

    proptest::proptest! {
        /// Whatever writes, truncations, syncs and crashes happen, the file reads as it
        /// would if every fsync copied the whole file and every crash went back to the last
        /// copy: tracking only what changed loses nothing.
        #[test]
        fn a_crash_leaves_exactly_what_was_last_synced(steps in proptest::collection::vec(step(), 1..60)) {
            let mut disk = Disk::default();
            disk.write("f", 0, b"").unwrap();
            disk.fsync("f").unwrap();
            let (mut live, mut durable) = (Vec::new(), Vec::new());
            for step in steps {
                match step {
                    Step::Write(at, data) => {
                        disk.write("f", at as u64, &data).unwrap();
                        if live.len() < at + data.len() {
                            live.resize(at + data.len(), 0);
                        }
                        live[at..at + data.len()].copy_from_slice(&data);
                    }
                    Step::Truncate(len) => {
                        disk.truncate("f", len as u64).unwrap();
                        live.resize(len, 0);
                    }
                    Step::Fsync => {
                        disk.fsync("f").unwrap();
                        durable.clone_from(&live);
                    }
                    Step::Crash => {
                        disk.crash(false, &mut rng());
                        live.clone_from(&durable);
                    }
                }
                proptest::prop_assert_eq!(disk.read_all("f").unwrap(), live.clone());
            }
            disk.crash(false, &mut rng());
            proptest::prop_assert_eq!(disk.read_all("f").unwrap(), durable);
        }
    }

    #[test]
    fn unsynced_writes_vanish_synced_survive() {
        let mut disk = Disk::default();
        disk.append("log", b"one").unwrap();
        disk.fsync("log").unwrap();
        disk.append("log", b"two").unwrap();
        assert_eq!(disk.read_all("log").unwrap(), b"onetwo");
        assert!(disk.has_unsynced());
        disk.crash(false, &mut rng());
        assert_eq!(disk.read_all("log").unwrap(), b"one");
        assert!(!disk.has_unsynced());
    }

    #[test]
    fn unsynced_file_and_rename_vanish() {
        let mut disk = Disk::default();
        disk.write("new", 0, b"data").unwrap();
        disk.write("kept", 0, b"data").unwrap();
        disk.fsync("kept").unwrap();
        disk.rename("kept", "moved").unwrap();
        disk.crash(false, &mut rng());
        assert_eq!(disk.list(), vec!["kept".to_owned()]);
        // A rename made durable by sync_dir survives.
        disk.rename("kept", "moved").unwrap();
        disk.sync_dir();
        disk.crash(false, &mut rng());
        assert_eq!(disk.list(), vec!["moved".to_owned()]);
        assert_eq!(disk.read_all("moved").unwrap(), b"data");
    }

    #[test]
    fn fsync_of_renamed_file_makes_the_new_name_durable() {
        let mut disk = Disk::default();
        disk.write("tmp", 0, b"snapshot").unwrap();
        disk.rename("tmp", "snap").unwrap();
        disk.fsync("snap").unwrap();
        disk.crash(false, &mut rng());
        assert_eq!(disk.list(), vec!["snap".to_owned()]);
    }

    #[test]
    fn truncate_is_lost_unless_synced() {
        let mut disk = Disk::default();
        disk.write("f", 0, b"abcdef").unwrap();
        disk.fsync("f").unwrap();
        disk.truncate("f", 2).unwrap();
        assert_eq!(disk.read_all("f").unwrap(), b"ab");
        disk.crash(false, &mut rng());
        assert_eq!(disk.read_all("f").unwrap(), b"abcdef");
        disk.truncate("f", 2).unwrap();
        disk.fsync("f").unwrap();
        disk.crash(false, &mut rng());
        assert_eq!(disk.read_all("f").unwrap(), b"ab");
    }

    #[test]
    fn a_crash_keeps_a_prefix_or_a_subset_of_unsynced_writes_when_asked() {
        let outcomes = |keeps: CrashKeeps| {
            let mut seen = std::collections::BTreeSet::new();
            for seed in 0..200 {
                let mut disk = Disk::new(DiskConfig { crash_keeps: keeps, ..DiskConfig::default() });
                disk.write("f", 0, b"S").unwrap();
                disk.fsync("f").unwrap();
                for byte in [b"a", b"b", b"c"] {
                    disk.append("f", byte).unwrap();
                }
                disk.crash(false, &mut Seed(seed).stream("disk-test", 0));
                seen.insert(disk.read_all("f").unwrap());
            }
            seen.into_iter().map(|c| String::from_utf8(c).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(outcomes(CrashKeeps::Nothing), ["S"]);
        assert_eq!(outcomes(CrashKeeps::Prefix), ["S", "Sa", "Sab", "Sabc"], "in order, never a hole");
        // Any subset: a later write without an earlier one leaves zeros where it was.
        let subset = outcomes(CrashKeeps::Subset);
        assert!(subset.contains(&"S\0b".to_owned()) && subset.contains(&"Sabc".to_owned()), "{subset:?}");
    }

    #[test]
    fn with_names_needing_sync_dir_a_fsynced_new_file_is_gone_after_a_crash() {
        let mut disk = Disk::new(DiskConfig { names_need_sync_dir: true, ..DiskConfig::default() });
        disk.write("log", 0, b"entry").unwrap();
        disk.fsync("log").unwrap();
        disk.crash(false, &mut rng());
        assert!(!disk.exists("log"), "its contents were synced, its name never was");
        disk.write("log", 0, b"entry").unwrap();
        disk.fsync("log").unwrap();
        disk.sync_dir();
        disk.crash(false, &mut rng());
        assert_eq!(disk.read_all("log").unwrap(), b"entry");
    }

    #[test]
    fn a_failed_fsync_loses_what_it_covered_even_after_a_later_fsync() {
        let config = DiskConfig { fsync_errors: Probability::ALWAYS, ..DiskConfig::default() };
        let mut disk = Disk::new(config);
        disk.set_error_stream(Seed(1).stream("disk-errors", 0));
        disk.write("f", 0, b"durable?").unwrap();
        assert!(matches!(disk.fsync("f"), Err(DiskError::Io(_))));
        assert_eq!(disk.read_all("f").unwrap(), b"durable?", "still readable");
        disk.set_config(DiskConfig::default());
        disk.fsync("f").unwrap();
        disk.crash(false, &mut rng());
        // The later fsync made the name and the length durable, but the bytes the failed one
        // covered were marked clean and never written: they come back as zeros.
        assert_eq!(disk.read_all("f").unwrap(), [0; 8], "the failed fsync's data is gone");
        assert_eq!(disk.stats().io_errors, 1);
        let mut failing =
            Disk::new(DiskConfig { write_errors: Probability::ALWAYS, ..DiskConfig::default() });
        assert!(failing.write("g", 0, b"x").is_ok(), "no error stream: no injected errors");
        failing.set_error_stream(Seed(1).stream("disk-errors", 0));
        assert!(matches!(failing.write("g", 1, b"y"), Err(DiskError::Io(_))));
        assert_eq!(failing.read_all("g").unwrap(), b"x", "a failed write changes nothing");
    }

    /// A disk with `config`, drawing from a stream, damage allowed.
    fn faulty(config: DiskConfig) -> Disk {
        let mut disk = Disk::new(config);
        disk.set_error_stream(Seed(3).stream("disk-errors", 0));
        disk
    }

    #[test]
    fn lost_and_misdirected_writes_report_success_and_change_the_wrong_bytes() {
        let mut lost = faulty(DiskConfig { lost_writes: Probability::ALWAYS, ..DiskConfig::default() });
        lost.write("f", 0, b"gone").unwrap();
        assert!(lost.read_all("f").unwrap().is_empty(), "created, but its bytes never landed");
        assert_eq!(lost.stats().lost_writes, 1);

        let sectors = DiskConfig { sector_size: 4, ..DiskConfig::default() };
        let mut disk = faulty(sectors.clone());
        disk.write("f", 0, b"AAAABBBBCCCCDDDD").unwrap();
        disk.set_config(DiskConfig { misdirected_writes: Probability::ALWAYS, ..sectors.clone() });
        disk.write("f", 12, b"xxxx").unwrap();
        let content = disk.read_all("f").unwrap();
        assert_eq!(&content[12..], b"DDDD", "its own sector keeps the old bytes");
        let landed = content.chunks(4).position(|c| c == b"xxxx").expect("it landed somewhere");
        assert!(landed < 3, "in another sector of the file: {content:?}");
        assert_eq!(disk.stats().misdirected_writes, 1);
    }

    #[test]
    fn per_io_damage_keeps_an_intact_copy_of_every_block() {
        let replicas = Replicas::default();
        replicas.set_files(&["f", "solo"]);
        let disks: Vec<DiskHandle> = (0..3).map(|_| DiskHandle::new(Disk::default())).collect();
        let block = vec![7u8; 512];
        for (i, disk) in disks.iter().enumerate() {
            disk.join(&replicas);
            let mut disk = disk.lock();
            disk.write("f", 0, &[block.clone(), block.clone()].concat()).unwrap();
            disk.set_error_stream(Seed(3).stream("disk-errors", i as u64));
            disk.set_config(DiskConfig { lost_writes: Probability::ALWAYS, ..DiskConfig::default() });
        }
        let write =
            |i: usize, name: &str, offset: u64| disks[i].lock().write(name, offset, &[1; 512]).unwrap();
        let lost = |i: usize| disks[i].lock().stats().lost_writes;
        write(0, "f", 0);
        write(1, "f", 0);
        assert_eq!((lost(0), lost(1)), (1, 1), "two copies of block 0 damaged: the third is intact");
        assert_eq!(disks[1].lock().stats().damaged_beside_another, 1);
        write(2, "f", 0);
        assert_eq!(lost(2), 0, "the last intact copy of block 0 is not damaged");
        assert_eq!(disks[2].lock().read("f", 0, &mut [0; 1]).unwrap(), 1);
        write(2, "f", 512);
        assert_eq!(lost(2), 1, "block 1 has intact copies elsewhere");
        write(0, "solo", 0);
        assert_eq!(lost(0), 1, "a file no other disk holds has no other copy");
        write(0, "own", 0);
        assert_eq!(lost(0), 1, "a file that is not replicated: the budget's count did not allow this disk");
        disks[0].lock().allow_damage(true);
        write(0, "own", 0);
        assert_eq!(lost(0), 2, "now it does");
        disks[1].lock().set_config(DiskConfig::default());
        write(1, "f", 0);
        assert!(!disks[1].lock().damaged().overlaps("f", 0, 512), "a clean rewrite repairs the block");
        disks[2].lock().set_config(DiskConfig { lost_writes: Probability::ALWAYS, ..DiskConfig::default() });
        write(2, "f", 0);
        assert_eq!(lost(2), 2, "with disk 1 repaired, disk 2 may damage block 0");
        let mut alone = faulty(DiskConfig { lost_writes: Probability::ALWAYS, ..DiskConfig::default() });
        alone.write("f", 0, b"gone").unwrap();
        assert_eq!(alone.stats().lost_writes, 1, "a disk outside a simulation has no rule");
    }

    #[test]
    fn a_stale_read_returns_the_last_synced_bytes() {
        let mut disk = faulty(DiskConfig::default());
        disk.write("f", 0, b"old!").unwrap();
        disk.fsync("f").unwrap();
        disk.write("f", 0, b"new!").unwrap();
        disk.set_config(DiskConfig { stale_reads: Probability::ALWAYS, ..DiskConfig::default() });
        assert_eq!(disk.read_all("f").unwrap(), b"old!");
        let mut buf = [0; 4];
        assert_eq!(disk.read("f", 0, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"old!");
        assert_eq!(disk.stats().stale_reads, 2);
        disk.stop_injecting();
        assert_eq!(disk.read_all("f").unwrap(), b"new!", "after the run, reads are true");
    }

    #[test]
    fn a_read_error_reads_nothing_until_the_run_ends() {
        let mut disk = faulty(DiskConfig::default());
        disk.write("f", 0, b"data").unwrap();
        disk.set_config(DiskConfig { read_errors: Probability::ALWAYS, ..DiskConfig::default() });
        assert_eq!(disk.read_all("f"), Err(DiskError::Io("read failed")));
        assert!(disk.read("f", 0, &mut [0; 4]).is_err());
        assert_eq!(disk.stats().io_errors, 2);
        disk.stop_injecting();
        assert_eq!(disk.read_all("f").unwrap(), b"data");
    }

    #[test]
    fn a_full_disk_has_no_room_for_a_new_name() {
        let mut disk = Disk::new(DiskConfig { capacity: Some(8), ..DiskConfig::default() });
        disk.create("tmp").unwrap();
        disk.remove("tmp").unwrap();
        disk.write("a", 0, b"12345678").unwrap();
        assert_eq!(disk.create("b"), Err(DiskError::Full { needed: 1, available: 0 }), "create: ENOSPC");
        assert!(!disk.exists("b"));
        assert!(matches!(disk.rename("a", "c"), Err(DiskError::Full { .. })), "a new name: ENOSPC");
        assert!(disk.exists("a"), "a refused rename changes nothing");
        assert!(matches!(disk.write("d", 0, b""), Err(DiskError::Full { .. })));
        disk.write("a", 0, b"abcd").unwrap();
        assert_eq!(disk.read_all("a").unwrap(), b"abcd5678", "overwriting in place needs no room");
        disk.write("e", 0, b"").unwrap_err();
        disk.truncate("a", 4).unwrap();
        disk.create("e").unwrap();
        disk.rename("e", "a").unwrap();
        assert_eq!(disk.read_all("a").unwrap(), b"", "renaming over an existing name needs no room");
    }

    #[test]
    fn with_delayed_allocation_the_fsync_finds_the_disk_full() {
        let config = DiskConfig { capacity: Some(10), delayed_allocation: true, ..DiskConfig::default() };
        let mut disk = Disk::new(config);
        disk.write("a", 0, b"123456").unwrap();
        disk.fsync("a").unwrap();
        disk.write("b", 0, b"abcdefgh").unwrap();
        assert_eq!(disk.read_all("b").unwrap(), b"abcdefgh", "the write is not refused");
        assert_eq!(disk.fsync("b"), Err(DiskError::Full { needed: 8, available: 4 }), "ENOSPC at write-back");
        assert_eq!(disk.stats().full_fsyncs, 1);
        assert_eq!(disk.read_all("b").unwrap(), b"abcdefgh", "still readable until a crash");
        disk.remove("a").unwrap();
        disk.fsync("b").unwrap();
        disk.crash(false, &mut rng());
        assert_eq!(
            disk.read_all("b").unwrap(),
            vec![0; 8],
            "the failed fsync marked the pages clean: the later one kept the length, not the bytes"
        );
        let mut disk =
            Disk::new(DiskConfig { capacity: Some(4), delayed_allocation: true, ..DiskConfig::default() });
        disk.write("c", 0, b"1234").unwrap();
        disk.fsync("c").unwrap();
        disk.write("c", 0, b"wxyz").unwrap();
        disk.fsync("c").unwrap();
        assert_eq!(disk.read_all("c").unwrap(), b"wxyz", "overwriting in place needs no room");
    }

    #[test]
    fn every_read_and_write_costs_the_io_latency() {
        let constant = Distribution::Constant(Duration::from_millis(3));
        let mut disk = faulty(DiskConfig { io_latency: Some(constant), ..DiskConfig::default() });
        disk.write("f", 0, b"abc").unwrap();
        disk.append("f", b"def").unwrap();
        disk.read_all("f").unwrap();
        assert_eq!(disk.pending_latency.load(Ordering::Relaxed), 9_000_000);
    }

    #[test]
    fn torn_write_leaves_a_sector_prefix() {
        let config = DiskConfig { torn_writes: true, sector_size: 4, ..DiskConfig::default() };
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let mut disk = Disk::new(config.clone());
            disk.write("f", 0, b"SYNC").unwrap();
            disk.fsync("f").unwrap();
            disk.write("f", 4, b"lost").unwrap();
            disk.write("f", 8, b"AAAABBBBCC").unwrap(); // sectors 2, 3 and half of 4
            disk.crash(true, &mut Seed(seed).stream("disk-test", 0));
            let content = disk.read_all("f").unwrap();
            assert!(content.starts_with(b"SYNC"));
            if content.len() > 4 {
                assert_eq!(&content[4..8], &[0; 4], "earlier unsynced write is lost, a hole stays");
                let tail = &content[8..];
                assert!(b"AAAABBBBCC".starts_with(tail), "{tail:?}");
                assert!(matches!(tail.len(), 4 | 8 | 10), "sector granularity: {}", tail.len());
            }
            seen.insert(content.len());
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![4, 12, 16, 18]);
    }

    #[test]
    fn described_content_is_durable_on_fsync_and_counts_its_length() {
        let mut disk = Disk::new(DiskConfig { capacity: Some(10 << 20), ..DiskConfig::default() });
        let chunk = Payload::new(9, 4 << 20);
        disk.put_blob("a", chunk.clone()).unwrap();
        assert_eq!((disk.used(), disk.len("a").unwrap()), (4 << 20, 4 << 20));
        disk.put_blob("b", Payload::new(10, 4 << 20)).unwrap();
        assert!(matches!(disk.put_blob("c", Payload::new(11, 4 << 20)), Err(DiskError::Full { .. })));
        disk.fsync("a").unwrap();
        disk.crash(false, &mut rng());
        assert_eq!(disk.get_blob("a").unwrap(), chunk, "synced: survives");
        assert!(!disk.exists("b"), "never synced: lost");
        assert_eq!(disk.used(), 4 << 20);
        let mut head = [0u8; 16];
        assert_eq!(disk.read("a", 100, &mut head).unwrap(), 16);
        assert_eq!(head.to_vec(), chunk.slice(100, 16).bytes(), "reads materialise the bytes");
        assert!(matches!(disk.write("a", 0, b"x"), Err(DiskError::Kind(..))));
        disk.write("log", 0, b"bytes").unwrap();
        assert!(matches!(disk.get_blob("log"), Err(DiskError::Kind(..))));
        disk.remove("a").unwrap();
        assert_eq!(disk.used(), 5);
        disk.put_blob("chunk/2", Payload::new(1, 1)).unwrap();
        disk.put_blob("chunk/1", Payload::new(1, 1)).unwrap();
        disk.put_blob("chunks", Payload::new(1, 1)).unwrap();
        assert_eq!(disk.names_with_prefix("chunk/").collect::<Vec<_>>(), ["chunk/1", "chunk/2"]);
    }

    #[test]
    fn corruption_flips_real_bits_of_described_content_and_writes_take_time() {
        let mut disk = Disk::new(DiskConfig { write_bandwidth: Some(100_000_000), ..DiskConfig::default() });
        disk.put_blob("chunk", Payload::new(1, 1_000_000)).unwrap();
        assert_eq!(disk.take_pending_latency(), 10_000_000, "1 MB at 100 MB/s takes 10 ms");
        disk.fsync("chunk").unwrap();
        assert_eq!(disk.corrupt("chunk", 999_990, 64, &mut rng()).unwrap(), 10, "clipped to the file");
        let damaged = disk.get_blob("chunk").unwrap();
        assert!(!damaged.is_pristine());
        assert_ne!(damaged.digest(), Payload::new(1, 1_000_000).digest());
        assert_eq!(
            damaged.slice(0, 999_990).digest(),
            Payload::new(1, 999_990).digest(),
            "the rest is intact"
        );
        disk.crash(false, &mut rng());
        assert_eq!(disk.get_blob("chunk").unwrap(), damaged, "on the medium: a crash keeps it");
    }

    #[test]
    fn corruption_flips_stored_bytes() {
        let mut disk = Disk::default();
        disk.write("f", 0, &[0u8; 16]).unwrap();
        disk.fsync("f").unwrap();
        assert_eq!(disk.corrupt("f", 4, 4, &mut rng()).unwrap(), 4);
        let content = disk.read_all("f").unwrap();
        assert!(content[4..8].iter().all(|b| *b != 0));
        assert!(content[..4].iter().chain(&content[8..]).all(|b| *b == 0));
        disk.crash(false, &mut rng());
        assert_eq!(disk.read_all("f").unwrap(), content, "corruption is on the medium");
    }

    #[test]
    fn full_disk_refuses_writes_whole() {
        let mut disk = Disk::new(DiskConfig { capacity: Some(10), ..DiskConfig::default() });
        disk.write("a", 0, b"12345678").unwrap();
        assert_eq!(disk.append("a", b"abc"), Err(DiskError::Full { needed: 3, available: 2 }));
        assert_eq!(disk.read_all("a").unwrap(), b"12345678");
        disk.write("a", 0, b"xy").unwrap(); // overwriting needs no space
        disk.remove("a").unwrap();
        disk.write("b", 0, b"0123456789").unwrap();
        assert_eq!(disk.used(), 10);
    }

    #[test]
    fn stale_handles_write_to_scratch() {
        let mut kernel = DiskHandle::default();
        let held_by_node = kernel.clone();
        held_by_node.lock().append("f", b"synced").unwrap();
        held_by_node.lock().fsync("f").unwrap();
        kernel.fence();
        assert!(held_by_node.is_stale() && !kernel.is_stale());
        assert_eq!(held_by_node.lock().read_all("f").unwrap(), b"synced", "the scratch starts as a copy");
        held_by_node.lock().append("f", b" written by a destructor").unwrap();
        held_by_node.lock().fsync("f").unwrap();
        assert_eq!(kernel.lock().read_all("f").unwrap(), b"synced");
        assert!(!kernel.clone().is_stale(), "handles taken after the fence are current");
    }

    #[test]
    fn fsync_charges_latency() {
        let mut disk =
            Disk::new(DiskConfig { fsync_latency: Duration::from_millis(5), ..DiskConfig::default() });
        disk.append("f", b"x").unwrap();
        disk.fsync("f").unwrap();
        disk.sync_dir();
        assert_eq!(disk.take_pending_latency(), 10_000_000);
        assert_eq!(disk.take_pending_latency(), 0);
        assert_eq!(disk.read("f", 0, &mut [0u8; 4]), Ok(1));
        assert_eq!(disk.len("missing"), Err(DiskError::NotFound("missing".to_owned())));
    }
}
