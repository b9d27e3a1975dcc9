//! The replicated state machine: a generic trait, client sessions over it, and the key-value
//! map that implements it.
//!
//! Sessions make retries safe (Raft thesis 6.3): every command carries its client's id and a
//! sequence number, and the response to each applied command is kept until the client says
//! it has it (every command carries the lowest sequence number the client still waits for).
//! A retried command that was already applied gets the kept response and is not applied
//! again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim::kernel::history::Value;

use super::msg::Reply;

/// A deterministic state machine Raft replicates. Snapshots are its serde form, with the
/// sessions (`Sessions::snapshot`).
pub trait StateMachine {
    /// What the log carries.
    type Command;
    /// What applying a command answers.
    type Output: Clone;

    /// Applies a committed command.
    fn apply(&mut self, command: &Self::Command) -> Self::Output;
    /// Answers a read-only command from the current state, without changing it.
    fn query(&self, command: &Self::Command) -> Option<Self::Output>;
}

/// A value as the log stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Datum {
    /// No value.
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
}

impl Datum {
    /// The workload's value as a datum; lists (which only cas pairs are) have no datum.
    pub fn from_value(value: &Value) -> Option<Datum> {
        match value {
            Value::Nil => Some(Datum::Nil),
            Value::Int(i) => Some(Datum::Int(*i)),
            Value::Str(s) => Some(Datum::Str(s.clone())),
            Value::List(_) => None,
        }
    }

    /// The datum as text (nil is empty).
    pub fn text(&self) -> String {
        match self {
            Datum::Nil => String::new(),
            Datum::Int(i) => i.to_string(),
            Datum::Str(s) => s.clone(),
        }
    }

    /// The datum as a history value.
    pub fn to_value(&self) -> Value {
        match self {
            Datum::Nil => Value::Nil,
            Datum::Int(i) => Value::Int(*i),
            Datum::Str(s) => Value::Str(s.clone()),
        }
    }
}

/// A key-value operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// Read a key.
    Get(u64),
    /// Set a key.
    Put(u64, Datum),
    /// Set a key to `new` if it holds `expected`.
    Cas(u64, Datum, Datum),
    /// Append a string to a key's string.
    Append(u64, Datum),
    /// Remove a key.
    Delete(u64),
}

impl KvOp {
    /// The workload operation `op` on `key` with argument `value`, if the argument fits.
    pub fn from_workload(op: super::RaftOp, key: u64, value: &Value) -> Option<KvOp> {
        use super::RaftOp;
        Some(match op {
            RaftOp::Get => KvOp::Get(key),
            RaftOp::Put => KvOp::Put(key, Datum::from_value(value)?),
            RaftOp::Append => KvOp::Append(key, Datum::from_value(value)?),
            RaftOp::Delete => KvOp::Delete(key),
            RaftOp::Cas => match value {
                Value::List(pair) if pair.len() == 2 => {
                    KvOp::Cas(key, Datum::from_value(&pair[0])?, Datum::from_value(&pair[1])?)
                }
                _ => return None,
            },
        })
    }

    /// Whether it only reads.
    pub fn is_read(&self) -> bool {
        matches!(self, KvOp::Get(_))
    }
}

/// A command with its session.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Command {
    /// The client's id (its node id).
    pub client: u32,
    /// The command's number in the client's session (its workload operation id).
    pub seq: u64,
    /// The lowest number the client still waits for: responses below it can be dropped.
    pub lowest: u64,
    /// What to do.
    pub op: KvOp,
}

impl Command {
    /// The command as log entry data.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("commands serialize")
    }

    /// A command from log entry data.
    pub fn decode(data: &[u8]) -> Result<Command, String> {
        postcard::from_bytes(data).map_err(|e| format!("undecodable command: {e}"))
    }
}

/// The key-value map.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    map: BTreeMap<u64, Datum>,
}

impl Kv {
    fn get(&self, key: u64) -> Reply {
        Reply::Done(self.map.get(&key).cloned().unwrap_or(Datum::Nil))
    }
}

impl StateMachine for Kv {
    type Command = KvOp;
    type Output = Reply;

    fn apply(&mut self, op: &KvOp) -> Reply {
        match op {
            KvOp::Get(key) => self.get(*key),
            KvOp::Put(key, value) => {
                self.map.insert(*key, value.clone());
                Reply::Done(Datum::Nil)
            }
            KvOp::Cas(key, expected, new) => {
                if self.map.get(key).unwrap_or(&Datum::Nil) == expected {
                    self.map.insert(*key, new.clone());
                    Reply::Done(Datum::Nil)
                } else {
                    Reply::CasMismatch
                }
            }
            KvOp::Append(key, more) => {
                // Redis's APPEND: the old value as text, then the new.
                let appended = match self.map.get(key) {
                    None | Some(Datum::Nil) => more.clone(),
                    Some(old) => Datum::Str(format!("{}{}", old.text(), more.text())),
                };
                self.map.insert(*key, appended);
                Reply::Done(Datum::Nil)
            }
            KvOp::Delete(key) => {
                self.map.remove(key);
                Reply::Done(Datum::Nil)
            }
        }
    }

    fn query(&self, op: &KvOp) -> Option<Reply> {
        match op {
            KvOp::Get(key) => Some(self.get(*key)),
            _ => None,
        }
    }
}

/// A state machine behind client sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions<M> {
    /// The state machine.
    pub machine: M,
    /// Kept responses by client and sequence number.
    responses: BTreeMap<u32, BTreeMap<u64, Reply>>,
    /// The highest `lowest` each client has sent: every command below it has had its
    /// answer, so a late attempt of one is not applied (its kept response may be gone).
    #[serde(default)]
    floors: BTreeMap<u32, u64>,
}

/// What applying a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The response.
    pub reply: Reply,
    /// False when it was a retry of a command already applied (and not applied again).
    pub fresh: bool,
}

impl<M: StateMachine<Command = KvOp, Output = Reply> + Serialize + for<'a> Deserialize<'a>> Sessions<M> {
    /// Applies a committed command once per (client, seq).
    pub fn apply(&mut self, command: &Command) -> Applied {
        // The floor is the highest `lowest` seen, not this command's: a retry sent before
        // its operation ended carries an older `lowest`, and may be applied after a later
        // command dropped its kept response (found on madsim, docs/design-notes.md).
        let floor = self.floors.entry(command.client).or_default();
        *floor = (*floor).max(command.lowest);
        let floor = *floor;
        let responses = self.responses.entry(command.client).or_default();
        *responses = responses.split_off(&floor);
        if let Some(reply) = responses.get(&command.seq) {
            return Applied { reply: reply.clone(), fresh: false };
        }
        if command.seq < floor {
            // The client already has this response: it cannot be waiting for it.
            return Applied { reply: Reply::Unknown, fresh: false };
        }
        let reply = self.machine.apply(&command.op);
        if !command.op.is_read() {
            responses.insert(command.seq, reply.clone());
        }
        Applied { reply, fresh: true }
    }

    /// The state and sessions, for a snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("sessions serialize")
    }

    /// Replaces everything with a snapshot's.
    pub fn restore(&mut self, data: &[u8]) -> Result<(), String> {
        *self = postcard::from_bytes(data).map_err(|e| format!("undecodable snapshot: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(seq: u64, lowest: u64, op: KvOp) -> Command {
        Command { client: 7, seq, lowest, op }
    }

    #[test]
    fn a_retried_command_is_applied_once() {
        let mut sessions = Sessions::<Kv>::default();
        let append = command(1, 1, KvOp::Append(3, Datum::Str("a,".into())));
        assert!(sessions.apply(&append).fresh);
        assert!(!sessions.apply(&append).fresh);
        let read = sessions.apply(&command(2, 1, KvOp::Get(3)));
        assert_eq!(read.reply, Reply::Done(Datum::Str("a,".into())));
    }

    #[test]
    fn cas_compares_and_snapshots_restore_sessions() {
        let mut sessions = Sessions::<Kv>::default();
        sessions.apply(&command(1, 1, KvOp::Put(1, Datum::Int(5))));
        let miss = sessions.apply(&command(2, 1, KvOp::Cas(1, Datum::Int(4), Datum::Int(6))));
        assert_eq!(miss.reply, Reply::CasMismatch);
        let hit = sessions.apply(&command(3, 1, KvOp::Cas(1, Datum::Int(5), Datum::Int(6))));
        assert_eq!(hit.reply, Reply::Done(Datum::Nil));
        let mut restored = Sessions::<Kv>::default();
        restored.restore(&sessions.snapshot()).unwrap();
        assert_eq!(restored, sessions);
        assert!(!restored.apply(&command(3, 1, KvOp::Cas(1, Datum::Int(5), Datum::Int(6)))).fresh);
    }

    #[test]
    fn responses_below_the_lowest_outstanding_are_dropped() {
        let mut sessions = Sessions::<Kv>::default();
        sessions.apply(&command(1, 1, KvOp::Put(1, Datum::Int(1))));
        sessions.apply(&command(2, 2, KvOp::Put(1, Datum::Int(2))));
        assert_eq!(sessions.responses[&7].len(), 1);
        assert_eq!(sessions.apply(&command(1, 2, KvOp::Put(1, Datum::Int(1)))).reply, Reply::Unknown);
    }

    #[test]
    fn a_late_retry_below_the_floor_is_not_applied_again() {
        // Put 5 is applied; its client then finishes it and sends put 9 (lowest 9), which
        // drops 5's kept response. A retry of put 5 sent earlier (lowest 5) commits later:
        // it must not apply again over the value written since.
        let mut sessions = Sessions::<Kv>::default();
        assert!(sessions.apply(&command(5, 5, KvOp::Put(1, Datum::Int(5)))).fresh);
        assert!(sessions.apply(&command(9, 9, KvOp::Put(2, Datum::Int(9)))).fresh);
        sessions.apply(&Command { client: 2, seq: 1, lowest: 1, op: KvOp::Put(1, Datum::Int(100)) });
        let late = sessions.apply(&command(5, 5, KvOp::Put(1, Datum::Int(5))));
        assert_eq!((late.reply, late.fresh), (Reply::Unknown, false));
        assert_eq!(sessions.apply(&command(10, 10, KvOp::Get(1))).reply, Reply::Done(Datum::Int(100)));
    }
}
