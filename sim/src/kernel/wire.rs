//! Messages as bytes, for backends whose networks carry bytes (madsim, turmoil).
//!
//! The native engine moves a message from `send` to `on_message` and never encodes it; a
//! hosted backend encodes it at `send` and decodes it on arrival. Every `Serialize +
//! Deserialize` type is `Wire` through postcard; a system that already speaks a wire format
//! (raft-rs's protobuf messages) serializes those fields with it.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A message type that can cross a network as bytes.
pub trait Wire: Sized {
    /// The message's bytes.
    fn to_bytes(&self) -> Vec<u8>;
    /// The message back from its bytes, or why they are not one.
    fn from_bytes(bytes: &[u8]) -> Result<Self, String>;
}

impl<T: Serialize + DeserializeOwned> Wire for T {
    fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("postcard encodes every serde value it is given")
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        postcard::from_bytes(bytes).map_err(|e| format!("{} bytes are not a message: {e}", bytes.len()))
    }
}

/// A `&'static str` under another name: serde's derive borrows every field spelled `&str`
/// from its input, which a message decoded from a buffer cannot do; spelled `StaticStr`,
/// with [`interned`], the field decodes to a `'static` copy.
pub type StaticStr = &'static str;

/// `#[serde(with = "sim::kernel::wire::interned")]` for a [`StaticStr`] field (a failure's
/// reason, a literal in the protocol's code): it decodes to the one interned copy of the
/// text, so a run holds each distinct reason once however many messages carry it.
pub mod interned {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use serde::{Deserialize, Deserializer, Serializer};

    static TEXTS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

    /// Encodes the text.
    pub fn serialize<S: Serializer>(text: &&'static str, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(text)
    }

    /// Decodes the text to its interned copy.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut texts = TEXTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(&known) = texts.get(text.as_str()) {
            return Ok(known);
        }
        let leaked: &'static str = Box::leak(text.into_boxed_str());
        texts.insert(leaked);
        Ok(leaked)
    }
}
