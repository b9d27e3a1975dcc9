//! The event queue: a binary min-heap of `(time, sequence)` keys over a slab of payloads.
//!
//! Ties in time are broken by the sequence number, i.e. by insertion order, never by a
//! pointer or a hash. Payloads sit in a slab and the heap moves only 24-byte keys, so large
//! messages are never copied while the heap sifts; freed slab slots are reused, so steady
//! state allocates nothing.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    time: u64,
    seq: u64,
    slot: u32,
}

impl Ord for Key {
    #[inline]
    fn cmp(&self, other: &Key) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

impl PartialOrd for Key {
    #[inline]
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A priority queue of `T` ordered by (time, insertion order).
#[derive(Debug)]
pub(crate) struct Queue<T> {
    heap: BinaryHeap<Key>,
    slab: Vec<Option<T>>,
    free: Vec<u32>,
    seq: u64,
}

impl<T> Default for Queue<T> {
    fn default() -> Queue<T> {
        Queue { heap: BinaryHeap::new(), slab: Vec::new(), free: Vec::new(), seq: 0 }
    }
}

impl<T> Queue<T> {
    #[inline]
    pub(crate) fn push(&mut self, time: u64, item: T) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(item);
                slot
            }
            None => {
                self.slab.push(Some(item));
                u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.heap.push(Key { time, seq: self.seq, slot });
        self.seq += 1;
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(u64, T)> {
        let key = self.heap.pop()?;
        self.free.push(key.slot);
        let item = self.slab[key.slot as usize].take().expect("queued slot holds an item");
        Some((key.time, item))
    }

    pub(crate) fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|key| key.time)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_ties_in_insertion_order() {
        let mut queue = Queue::default();
        queue.push(5, "c");
        queue.push(1, "a");
        queue.push(5, "d");
        queue.push(1, "b");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, vec![(1, "a"), (1, "b"), (5, "c"), (5, "d")]);
    }

    #[test]
    fn slots_are_reused() {
        let mut queue = Queue::default();
        for round in 0..100 {
            queue.push(round, round);
            queue.push(round, round);
            queue.pop();
            queue.pop();
        }
        assert_eq!(queue.slab.len(), 2);
        assert_eq!(queue.len(), 0);
    }
}
