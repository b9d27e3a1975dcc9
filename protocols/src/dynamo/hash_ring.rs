//! Dynago's later hash ring (mdkhanga/dynago at HEAD, `ring = true`, `consistenthash/hashring.go`):
//! every node places 150 virtual nodes at the first 4 bytes (big-endian) of the SHA-256 of
//! `"<node>#<i>"` (`hashring.go:64-66`), a key sits at the first 4 bytes of the SHA-256 of its
//! decimal name, and its single owner is the first virtual node at or after it among the
//! nodes on the asking node's ring (which nodes those are: `dynago.rs`). GET and SET go to
//! that owner (forwarded by any other node, 5 s timeout); nothing is replicated.
//!
//! The forward's answer comes back on its `Peer`'s channel of capacity 1 with no request id
//! (HEAD `peer.go:338-361`): the waiting request takes whatever answer comes next, and an
//! answer that arrives after its request timed out stays in the channel for the next
//! request to take, another key's value included. [`Forwards`] is that channel.

use std::collections::VecDeque;

use sha2::{Digest, Sha256};
use sim::NodeId;

/// Virtual nodes per node (`ring.go`).
pub const VIRTUAL_NODES: u32 = 150;

fn position(text: &str) -> u32 {
    let hash = Sha256::digest(text.as_bytes());
    u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]])
}

/// Every node's virtual nodes, sorted by position.
#[derive(Clone, Debug)]
pub struct HashRing {
    points: Vec<(u32, u32)>,
}

impl HashRing {
    /// The ring of nodes `0..servers`.
    pub fn new(servers: u32) -> HashRing {
        let mut points: Vec<(u32, u32)> = (0..servers)
            .flat_map(|node| (0..VIRTUAL_NODES).map(move |i| (position(&format!("{node}#{i}")), node)))
            .collect();
        points.sort_unstable();
        HashRing { points }
    }

    /// The owner of `key` among the nodes for which `member` holds.
    pub fn owner(&self, key: u64, member: impl Fn(u32) -> bool) -> Option<u32> {
        let at = position(&key.to_string());
        let start = self.points.partition_point(|p| p.0 < at);
        (0..self.points.len()).map(|i| self.points[(start + i) % self.points.len()].1).find(|n| member(*n))
    }
}

/// One forward waiting for its answer: the client, its operation, and whether it is a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The client to answer.
    pub client: NodeId,
    /// Its operation.
    pub op: u64,
    /// The forward's number at this node, for its timeout.
    pub seq: u64,
}

/// The answer channel of one kind (get or set): waiters in arrival order, and at most one
/// answer nobody was waiting for.
#[derive(Debug, Default)]
pub struct Forwards<A> {
    waiting: VecDeque<Waiter>,
    stale: Option<A>,
}

impl<A> Forwards<A> {
    /// A new request starts waiting; if an answer is already in the channel, it takes it at
    /// once (the bug: that answer belonged to a request that timed out).
    pub fn wait(&mut self, waiter: Waiter) -> Option<A> {
        match self.stale.take() {
            Some(answer) => Some(answer),
            None => {
                self.waiting.push_back(waiter);
                None
            }
        }
    }

    /// An answer arrives: the oldest waiter takes it, whoever it was for; with nobody
    /// waiting it stays in the channel (a second one is dropped: the channel is full).
    pub fn answer(&mut self, answer: A) -> Option<(Waiter, A)> {
        match self.waiting.pop_front() {
            Some(waiter) => Some((waiter, answer)),
            None => {
                self.stale.get_or_insert(answer);
                None
            }
        }
    }

    /// Forward `seq` timed out: its waiter, if it still waits.
    pub fn expire(&mut self, seq: u64) -> Option<Waiter> {
        let at = self.waiting.iter().position(|w| w.seq == seq)?;
        self.waiting.remove(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_spread_and_skip_non_members() {
        let ring = HashRing::new(5);
        let mut load = [0; 5];
        for key in 0..1000 {
            load[ring.owner(key, |_| true).unwrap() as usize] += 1;
        }
        assert!(load.iter().all(|&l| l > 120), "{load:?}");
        for key in 0..100 {
            assert_ne!(ring.owner(key, |n| n != 2), Some(2));
        }
        assert_eq!(ring.owner(7, |_| false), None);
    }

    #[test]
    fn a_late_answer_is_taken_by_the_next_request() {
        let mut channel = Forwards::default();
        let first = Waiter { client: NodeId(9), op: 1, seq: 1 };
        assert_eq!(channel.wait(first), None);
        assert_eq!(channel.expire(1), Some(first));
        assert_eq!(channel.answer("value of key 1"), None, "nobody waits: it stays");
        let second = Waiter { client: NodeId(9), op: 2, seq: 2 };
        assert_eq!(channel.wait(second), Some("value of key 1"), "the next request takes it");
    }
}
