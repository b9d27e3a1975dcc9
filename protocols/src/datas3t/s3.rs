//! The object store: S3's semantics as of today, on the node's simulated disk.
//!
//! PUT, GET (whole or a byte range), HEAD, multipart uploads (create, upload part with an
//! ETag, complete with the part list, abort), DeleteObjects, listing by prefix, presigned
//! URLs with an expiry (by this node's clock), and strong read-after-write consistency: an
//! object is on disk and synced before the request is answered. An object is the file
//! `obj/{key}`; a multipart upload's parts are `mpu/{id}/{part}` and its key `mpu/{id}/key`.
//! A share of requests fails with a 500 (`s3_error_rate`) or is never answered
//! (`s3_timeout_rate`), drawn from the node's stream, so clients must retry.
//!
//! An object is stored as its bytes or, for a datarange PUT described (`Body::Tar`), as its
//! layout (the file `layout/{key}`) beside a described file of its length (`obj/{key}`, a
//! [`Payload`]): the disk charges and corrupts the object's real length, and a read renders
//! the layout with the bytes a corruption fault flipped in it. Real S3 checksums what it
//! stores and repairs bit rot; a corruption fault here is a store that does not (a
//! single-drive MinIO without erasure coding, say), and no checksum above it notices.

use std::rc::Rc;

use sim::prelude::*;
use sim::Payload;

use super::check::Datas3tFact;
use super::msg::{Body, Grant, Msg, S3Error, S3Request, S3Response};
use super::tarball::Layout;
use super::Shared;

/// The object store.
pub struct ObjectStore {
    shared: Rc<Shared>,
    next: u64,
}

fn object(key: &str) -> String {
    format!("obj/{key}")
}

fn layout_file(key: &str) -> String {
    format!("layout/{key}")
}

/// Removes the object `key` (both its files), unsynced.
fn remove_object(disk: &mut sim::Disk, key: &str) {
    let _ = disk.remove(&object(key));
    let _ = disk.remove(&layout_file(key));
}

impl ObjectStore {
    /// A store.
    pub fn new(shared: Rc<Shared>) -> ObjectStore {
        ObjectStore { shared, next: 0 }
    }

    fn put(&mut self, ctx: &mut Ctx<'_, Msg>, key: &str, body: &Body) -> S3Response {
        if body.len() > self.shared.config.put_limit.0 {
            ctx.fact(Datas3tFact::RefusedPut { key: key.to_owned(), size: body.len() });
            return S3Response::Error(S3Error::TooLarge);
        }
        let name = object(key);
        let mut disk = ctx.disk();
        remove_object(&mut disk, key);
        let written = match body {
            Body::Bytes(bytes) => disk.write(&name, 0, bytes).and_then(|()| disk.fsync(&name)),
            Body::Tar(layout) => {
                let description = postcard::to_allocvec(layout.as_ref()).expect("layouts encode");
                let file = layout_file(key);
                disk.write(&file, 0, &description)
                    .and_then(|()| disk.fsync(&file))
                    .and_then(|()| disk.put_blob(&name, Payload::new(0, layout.len())))
                    .and_then(|()| disk.fsync(&name))
            }
        };
        match written {
            Ok(()) => S3Response::Done,
            Err(_) => {
                remove_object(&mut disk, key);
                S3Response::Error(S3Error::Internal)
            }
        }
    }

    fn get(&self, ctx: &mut Ctx<'_, Msg>, key: &str, range: Option<(u64, u64)>) -> S3Response {
        match (stored(&ctx.disk(), key), range) {
            (None, _) => S3Response::Error(S3Error::NotFound),
            (Some(body), None) => S3Response::Body(body),
            (Some(body), Some((start, end))) => S3Response::Body(Body::bytes(&body.slice(start, end))),
        }
    }

    fn part(&mut self, ctx: &mut Ctx<'_, Msg>, upload: u64, part: u32, body: &Body) -> S3Response {
        let body = body.to_vec();
        let mut disk = ctx.disk();
        if !disk.exists(&format!("mpu/{upload}/key")) {
            return S3Response::Error(S3Error::NoSuchUpload);
        }
        let name = format!("mpu/{upload}/{part:05}");
        let _ = disk.remove(&name);
        match disk.write(&name, 0, &body).and_then(|()| disk.fsync(&name)) {
            Ok(()) => S3Response::Etag(sim::kernel::hash::digest(&body[..])),
            Err(_) => S3Response::Error(S3Error::Internal),
        }
    }

    fn complete(&mut self, ctx: &mut Ctx<'_, Msg>, upload: u64, parts: &[(u32, u64)]) -> S3Response {
        let prefix = format!("mpu/{upload}/");
        let (key, mut bytes) = {
            let disk = ctx.disk();
            let Ok(key) = disk.read_all(&format!("{prefix}key")) else {
                return S3Response::Error(S3Error::NoSuchUpload);
            };
            let mut bytes = Vec::new();
            for &(part, etag) in parts {
                match disk.read_all(&format!("{prefix}{part:05}")) {
                    Ok(body) if sim::kernel::hash::digest(&body[..]) == etag => {
                        bytes.extend_from_slice(&body)
                    }
                    _ => return S3Response::Error(S3Error::InvalidPart),
                }
            }
            (String::from_utf8_lossy(&key).into_owned(), bytes)
        };
        let name = object(&key);
        let mut disk = ctx.disk();
        remove_object(&mut disk, &key);
        let written = disk.write(&name, 0, &bytes).and_then(|()| disk.fsync(&name));
        bytes.clear();
        if written.is_err() {
            return S3Response::Error(S3Error::Internal);
        }
        remove_upload(&mut disk, upload);
        S3Response::Done
    }
}

fn remove_upload(disk: &mut sim::Disk, upload: u64) {
    let prefix = format!("mpu/{upload}/");
    let names: Vec<String> = disk.names_with_prefix(&prefix).map(str::to_owned).collect();
    for name in names {
        let _ = disk.remove(&name);
    }
    disk.sync_dir();
}

impl Node for ObjectStore {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_role(super::Role::ObjectStore);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let Msg::S3 { req, request } = msg else {
            return ctx.unexpected("the object store takes S3 requests only");
        };
        let config = &self.shared.config;
        let (error_rate, timeout_rate) = (config.s3_error_rate, config.s3_timeout_rate);
        let draw = ctx.rng().unit();
        if draw < timeout_rate {
            return;
        }
        if draw < timeout_rate + error_rate {
            return ctx.send(from, Msg::S3Reply { req, response: S3Response::Error(S3Error::Internal) });
        }
        let response = match request {
            S3Request::Presigned { url, .. } if url.expires < ctx.now() => {
                S3Response::Error(S3Error::Expired)
            }
            S3Request::Presigned { url, body } => match (url.grant, body) {
                (Grant::Put { key }, Some(body)) => self.put(ctx, &key, &body),
                (Grant::Get { key, range }, None) => self.get(ctx, &key, range),
                (Grant::Part { upload, part }, Some(body)) => self.part(ctx, upload, part, &body),
                _ => S3Response::Error(S3Error::InvalidPart),
            },
            S3Request::Head { key } => match ctx.disk().len(&object(&key)) {
                Ok(size) => S3Response::Size(size),
                Err(_) => S3Response::Error(S3Error::NotFound),
            },
            S3Request::Get { key, range } => self.get(ctx, &key, range),
            S3Request::Create { key } => {
                self.next += 1;
                let upload = (u64::from(ctx.incarnation()) << 32) | self.next;
                let name = format!("mpu/{upload}/key");
                let mut disk = ctx.disk();
                match disk.write(&name, 0, key.as_bytes()).and_then(|()| disk.fsync(&name)) {
                    Ok(()) => S3Response::Created(upload),
                    Err(_) => S3Response::Error(S3Error::Internal),
                }
            }
            S3Request::Complete { upload, parts } => self.complete(ctx, upload, &parts),
            S3Request::Abort { upload } => {
                remove_upload(&mut ctx.disk(), upload);
                S3Response::Done
            }
            S3Request::Delete { keys } => {
                let mut disk = ctx.disk();
                for key in &keys {
                    remove_object(&mut disk, key);
                }
                disk.sync_dir();
                S3Response::Deleted(keys)
            }
            S3Request::List { prefix } => {
                let disk = ctx.disk();
                let keys = disk
                    .names_with_prefix(&object(&prefix))
                    .map(|n| {
                        let key = &n["obj/".len()..];
                        (key.to_owned(), disk.len(n).unwrap_or(0))
                    })
                    .collect();
                S3Response::Keys(keys)
            }
            S3Request::ListUploads { prefix } => S3Response::Uploads(uploads(&ctx.disk(), &prefix)),
        };
        ctx.send(from, Msg::S3Reply { req, response });
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: super::msg::Timer) {
        ctx.unexpected("the object store sets no timers");
    }
}

/// The object `key`, if stored: described while no fault changed it, else its bytes.
fn stored(disk: &sim::Disk, key: &str) -> Option<Body> {
    let name = object(key);
    let Ok(description) = disk.read_all(&layout_file(key)) else {
        return disk.read_all(&name).ok().map(|bytes| Body::bytes(&bytes));
    };
    let layout: Layout = postcard::from_bytes(&description).ok()?;
    let content = disk.get_blob(&name).ok()?;
    if content.is_pristine() {
        return Some(Body::Tar(Rc::new(layout)));
    }
    let mut bytes = layout.render(0, layout.len());
    for &(position, mask) in content.flips() {
        bytes[position as usize] ^= mask;
    }
    Some(Body::bytes(&bytes))
}

/// The multipart uploads in progress whose key starts with `prefix`: (id, key).
pub fn uploads(disk: &sim::Disk, prefix: &str) -> Vec<(u64, String)> {
    disk.names_with_prefix("mpu/")
        .filter_map(|name| {
            let id = name.strip_prefix("mpu/")?.strip_suffix("/key")?.parse().ok()?;
            let key = String::from_utf8(disk.read_all(name).ok()?).ok()?;
            key.starts_with(prefix).then_some((id, key))
        })
        .collect()
}

/// The objects stored.
pub fn objects(disk: &sim::Disk) -> Vec<String> {
    disk.names_with_prefix("obj/").map(|n| n["obj/".len()..].to_owned()).collect()
}
