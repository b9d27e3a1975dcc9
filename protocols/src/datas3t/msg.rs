//! datas3t's wire: the service's API, the object store's requests (S3's), and the metadata
//! store's transactions.

use std::rc::Rc;

use sim::{Message, Time};

use super::tarball::Layout;

/// Bytes on the wire: real bytes (shared rather than copied), or a datarange described by
/// its layout, whose bytes are rendered where they are read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Body {
    /// Real bytes.
    Bytes(Rc<[u8]>),
    /// A described TAR.
    Tar(Rc<Layout>),
}

impl Body {
    /// Real bytes.
    pub fn bytes(bytes: &[u8]) -> Body {
        Body::Bytes(Rc::from(bytes))
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Tar(layout) => layout.len(),
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `[start, end)`, rendered if described.
    pub fn slice(&self, start: u64, end: u64) -> Vec<u8> {
        match self {
            Body::Bytes(bytes) => {
                let end = (end as usize).min(bytes.len());
                bytes[(start as usize).min(end)..end].to_vec()
            }
            Body::Tar(layout) => layout.render(start, end),
        }
    }

    /// All of it, rendered if described.
    pub fn to_vec(&self) -> Vec<u8> {
        self.slice(0, self.len())
    }
}

/// What a presigned URL lets its holder do.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Grant {
    /// PUT the object.
    Put { key: String },
    /// GET the object, or bytes `[start, end)` of it.
    Get { key: String, range: Option<(u64, u64)> },
    /// Upload part `part` (from 1) of multipart upload `upload`.
    Part { upload: u64, part: u32 },
}

/// A presigned URL: a grant and its expiry (by the object store's clock).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Url {
    /// What it allows.
    pub grant: Grant,
    /// Until when.
    pub expires: Time,
}

/// An object-store request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum S3Request {
    /// A presigned request with its body (PUT, part) or none (GET).
    Presigned { url: Url, body: Option<Body> },
    /// HEAD: the object's size.
    Head { key: String },
    /// GET, whole or a byte range.
    Get { key: String, range: Option<(u64, u64)> },
    /// CreateMultipartUpload.
    Create { key: String },
    /// CompleteMultipartUpload with the parts' numbers and ETags.
    Complete { upload: u64, parts: Vec<(u32, u64)> },
    /// AbortMultipartUpload.
    Abort { upload: u64 },
    /// DeleteObjects.
    Delete { keys: Vec<String> },
    /// ListObjectsV2 by prefix.
    List { prefix: String },
    /// ListMultipartUploads by prefix.
    ListUploads { prefix: String },
}

/// What the object store can fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum S3Error {
    /// 404.
    NotFound,
    /// 500: retry.
    Internal,
    /// A single PUT over the limit (EntityTooLarge).
    TooLarge,
    /// A part list that does not match what was uploaded.
    InvalidPart,
    /// No such multipart upload.
    NoSuchUpload,
    /// A presigned URL past its expiry.
    Expired,
}

/// An object-store answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum S3Response {
    /// Done (PUT, complete, abort).
    Done,
    /// An object's bytes.
    Body(Body),
    /// HEAD's size.
    Size(u64),
    /// A multipart upload's id.
    Created(u64),
    /// A part's ETag.
    Etag(u64),
    /// The keys DeleteObjects confirmed.
    Deleted(Vec<String>),
    /// Keys and sizes.
    Keys(Vec<(String, u64)>),
    /// Multipart uploads in progress: (id, key).
    Uploads(Vec<(u64, String)>),
    /// An error.
    Error(S3Error),
}

/// How a transaction schedules objects for deletion (`objects_to_delete`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Schedule {
    /// It does not.
    No,
    /// By object name (`ScheduleObjectsForDeletion`, `query.sql:106-108` at fa4800e): the
    /// deletion worker takes the row.
    Named,
    /// By presigned DELETE URL only (`ScheduleKeyForDeletion`, `query.sql:98-100`): the running
    /// service's worker never takes the row, as its query needs an object name
    /// (`GetObjectsToDelete`, `query.sql:110-122`; only tests call `DeleteKeys`, which would).
    ByUrl,
}

/// An `objects_to_delete` row: the object's key, and whether the row names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Deletion {
    /// The object's key.
    pub key: String,
    /// `object_name` is set (`Schedule::Named`); else only a presigned URL is.
    pub named: bool,
}

/// A datarange row.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Range {
    /// Its id.
    pub id: u64,
    /// Its first datapoint.
    pub first: u64,
    /// Its last datapoint.
    pub last: u64,
    /// The TAR's key.
    pub data_key: String,
    /// The index's key.
    pub index_key: String,
    /// The TAR's size.
    pub size: u64,
}

/// An upload row (a datarange upload or an aggregate upload).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Upload {
    /// Its id.
    pub id: u64,
    /// Its first datapoint.
    pub first: u64,
    /// Its last datapoint.
    pub last: u64,
    /// The multipart upload, if the data goes in parts.
    pub multipart: Option<u64>,
    /// The TAR's key.
    pub data_key: String,
    /// The index's key.
    pub index_key: String,
    /// The TAR's size, as the client said (an aggregate: as estimated).
    pub data_size: u64,
    /// When it started (the server's clock).
    pub started: Time,
    /// An aggregate's source ranges.
    pub sources: Option<Vec<u64>>,
}

/// A metadata-store transaction, run atomically (one request, one commit).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Txn {
    /// The completed ranges that overlap [first, last].
    Overlapping { first: u64, last: u64 },
    /// Raise the upload counter, build the keys, insert the upload row. An aggregate first
    /// checks its span is covered by at least 2 ranges without gaps and records them.
    Start { first: u64, last: u64, data_size: u64, aggregate: bool, started: Time, counter_in_keys: bool },
    /// Record an upload's multipart id.
    SetMultipart { upload: u64, multipart: u64 },
    /// An upload row.
    Get { upload: u64 },
    /// Create the datarange and delete the upload row; with `recheck`, first fail if a
    /// completed range overlaps it (or, for an aggregate, if a source is gone). An
    /// aggregate schedules the objects of `span` for deletion (the ranges its transaction's
    /// query saw: READ COMMITTED, statement by statement), or, without it, of the ranges in
    /// its span now.
    /// With `read` (the faithful mode), the row as the transaction's first statement read
    /// it: the writes act on it even if another transaction deleted the row since.
    Complete { upload: u64, recheck: bool, delete_own: bool, span: Option<Vec<Range>>, read: Option<Upload> },
    /// Schedule `keys` for deletion (as `schedule` says) and delete upload row `upload`.
    Drop { upload: u64, schedule: Schedule, keys: Vec<String> },
    /// The ranges that intersect [first, last], ordered.
    Ranges { first: u64, last: u64 },
    /// Delete the range [first, last] (exactly), scheduling its objects for deletion in the
    /// same transaction as `schedule` says.
    DeleteRange { first: u64, last: u64, schedule: Schedule },
    /// Up to `limit` objects scheduled for deletion by name.
    TakeDeletions { limit: usize },
    /// Remove these deletion rows.
    Deleted { ids: Vec<u64> },
    /// Upload rows started before `before`.
    Stale { before: Time },
    /// Import: a range for every (data, index) object pair no range has; raise the upload
    /// counter past every counter seen. With `careful`, skip pairs scheduled for deletion,
    /// pairs of uploads in progress, and pairs that overlap a range.
    Import { pairs: Vec<Range>, counters: Vec<u64>, careful: bool },
    /// The faithful mode's aggregate start (start_aggregate.go:124-277 at fa4800e): raise
    /// the upload counter and insert the aggregate's row with the `sources` that earlier
    /// statements, outside the transaction, read; nothing is checked again.
    StartAggregate {
        first: u64,
        last: u64,
        data_size: u64,
        started: Time,
        counter_in_keys: bool,
        sources: Vec<u64>,
    },
    /// The faithful mode's delete (delete_datarange.go:173-190 at fa4800e): delete range row
    /// `id`, the one the exact-span query returned first, scheduling its objects as
    /// `schedule` says; another range over the same span stays.
    DeleteRangeId { id: u64, schedule: Schedule },
}

/// A transaction's result.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TxnResult {
    /// Committed.
    Done,
    /// Ranges.
    Ranges(Vec<Range>),
    /// An upload row, if it exists.
    Upload(Option<Upload>),
    /// Upload rows.
    Uploads(Vec<Upload>),
    /// Objects to delete: (row id, key).
    Deletions(Vec<(u64, String)>),
    /// Refused, with why (rolled back).
    Refused(#[serde(with = "sim::kernel::wire::interned")] sim::kernel::wire::StaticStr),
}

/// A service request from a client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Request {
    /// Start uploading datapoints [first, first + count), a TAR of `data_size` bytes.
    StartUpload { first: u64, count: u64, data_size: u64 },
    /// Complete an upload with the data parts' ETags (none for a single PUT).
    CompleteUpload { upload: u64, etags: Vec<u64> },
    /// Cancel an upload.
    CancelUpload { upload: u64 },
    /// Start aggregating the ranges of [first, last].
    StartAggregate { first: u64, last: u64 },
    /// Download [first, last].
    Download { first: u64, last: u64 },
    /// Delete the range [first, last].
    Delete { first: u64, last: u64 },
    /// Import the ranges the bucket holds that the metadata does not.
    Import,
}

/// The service's answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Reply {
    /// Where to upload: the data (one PUT, or parts of `part_size`) and the index.
    UploadPlan { upload: u64, data: Vec<Url>, part_size: u64, index: Url },
    /// An aggregate: the sources to download (data and index), and where to upload.
    AggregatePlan { upload: u64, sources: Vec<(Url, Url)>, data: Vec<Url>, part_size: u64, index: Url },
    /// A download: ranged GETs, in order.
    DownloadPlan { pieces: Vec<Url> },
    /// Done.
    Done,
    /// Refused or failed, and why: nothing changed.
    Failed(#[serde(with = "sim::kernel::wire::interned")] sim::kernel::wire::StaticStr),
    /// The metadata store did not answer a transaction that writes: it may have committed.
    Unknown,
}

/// datas3t's messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Msg {
    /// Client -> server.
    Request { op: u64, request: Request },
    /// Server -> client.
    Reply { op: u64, reply: Reply },
    /// Server or client -> object store.
    S3 { req: u64, request: S3Request },
    /// Object store -> requester.
    S3Reply { req: u64, response: S3Response },
    /// Server -> metadata store.
    Txn { req: u64, txn: Txn },
    /// Metadata store -> server.
    TxnReply { req: u64, result: TxnResult },
}

/// What a timer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// A request went unanswered.
    Request(u64),
    /// Retry request `req` (after a backoff).
    Retry(u64),
    /// Server: the deletion worker's poll.
    Deletion,
    /// Server (safe): look for abandoned uploads.
    Leases,
    /// Client: an operation went unanswered.
    Operation(u64),
}

impl Message for Msg {
    type Timer = Timer;
    type Kind = ();

    fn wire_size(&self) -> u64 {
        let body = match self {
            Msg::S3 { request: S3Request::Presigned { body: Some(body), .. }, .. } => body.len(),
            Msg::S3Reply { response: S3Response::Body(body), .. } => body.len(),
            _ => 0,
        };
        128 + body
    }
}
