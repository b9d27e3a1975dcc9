//! Asynchronous disk I/O: a node submits an fsync (`Ctx::fsync_async`) or a directory sync
//! (`Ctx::sync_dir_async`) and goes on handling messages and timers; `Node::on_io_done`
//! reports its completion later, as io_uring or a storage thread pool does. So "the disk is
//! stuck but the node answers heartbeats" is a scenario: a disk fault that sets a long
//! `fsync_latency` delays completions, not the node.
//!
//! The model, exactly:
//! - Each node's disk works through submitted syncs one at a time, in submission order:
//!   a sync starts when the disk is free (or at submission) and takes the disk's
//!   `fsync_latency` as it was at submission.
//! - The sync happens at completion: what the file (or the namespace) holds then becomes
//!   durable, which covers every write made before submission, and may cover later ones
//!   (a real device may flush those too). It can fail as a synchronous fsync can
//!   (`fsync_errors`, delayed allocation's ENOSPC), with the same consequences.
//! - A crash before completion loses the sync: nothing it would have made durable is, and
//!   its completion is never reported, to this or a later incarnation.
//! - A completion is handled like a timer: it waits while the node is paused or busy, and
//!   the handler it runs is charged what its own synchronous I/O costs, not the sync's
//!   latency. Synchronous fsyncs do not queue behind submitted ones (they are charged to
//!   their handler as before).

use super::disk::DiskError;
use super::ids::NodeId;

/// A submitted I/O, numbered per node from 1 in submission order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IoId(pub u64);

/// What a submitted I/O does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IoRequest {
    /// `fsync` of the named file.
    Fsync(String),
    /// `sync_dir`: the whole namespace.
    SyncDir,
}

/// A submitted I/O on its way to completion (an event of the node that submitted it).
#[derive(Debug)]
pub(crate) struct IoDone {
    pub(crate) node: NodeId,
    pub(crate) incarnation: u32,
    pub(crate) io: IoId,
    pub(crate) request: IoRequest,
}

/// The result a completion reports.
pub type IoResult = Result<(), DiskError>;
