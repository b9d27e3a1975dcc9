//! The event queue: a binary min-heap of `(time, sequence)` keys over a slab of payloads.
//!
//! `MinHeap` is public so the benchmark's raw loop can use the very same heap as its
//! ceiling; `Queue` is the engine's.
//!
//! Ties in time are broken by the sequence number, i.e. by insertion order, never by a
//! pointer or a hash. Payloads sit in a slab and the heap moves only 24-byte keys, so large
//! messages are never copied while the heap sifts; freed slab slots are reused, so steady
//! state allocates nothing.

/// A binary min-heap of small `Copy` keys.
///
/// Written out rather than `std`'s `BinaryHeap` because the engine's heaps are mostly small
/// and `std`'s pop sifts the moved element to the bottom and back up (the right trade for
/// large heaps with expensive comparisons); an early-exit sift-down is faster here. The
/// benchmark's raw loop measures both and takes the faster as its ceiling.
#[derive(Clone, Debug)]
pub struct MinHeap<K> {
    keys: Vec<K>,
}

impl<K: Ord + Copy> Default for MinHeap<K> {
    fn default() -> MinHeap<K> {
        MinHeap { keys: Vec::new() }
    }
}

impl<K: Ord + Copy> MinHeap<K> {
    /// Adds a key.
    #[inline]
    pub fn push(&mut self, key: K) {
        let mut hole = self.keys.len();
        self.keys.push(key);
        while hole > 0 {
            let parent = (hole - 1) / 2;
            if key >= self.keys[parent] {
                break;
            }
            self.keys[hole] = self.keys[parent];
            hole = parent;
        }
        self.keys[hole] = key;
    }

    /// Removes and returns the smallest key.
    #[inline]
    pub fn pop(&mut self) -> Option<K> {
        let last = self.keys.pop()?;
        if self.keys.is_empty() {
            return Some(last);
        }
        let top = self.keys[0];
        let len = self.keys.len();
        let mut hole = 0;
        loop {
            let mut child = 2 * hole + 1;
            if child >= len {
                break;
            }
            if child + 1 < len && self.keys[child + 1] < self.keys[child] {
                child += 1;
            }
            if self.keys[child] >= last {
                break;
            }
            self.keys[hole] = self.keys[child];
            hole = child;
        }
        self.keys[hole] = last;
        Some(top)
    }

    /// The smallest key.
    #[inline]
    pub fn peek(&self) -> Option<&K> {
        self.keys.first()
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Ordered by (time, seq); `slot` is payload, not part of the order (seq is unique).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    time: u64,
    seq: u64,
    slot: u32,
}

/// A priority queue of `T` ordered by (time, insertion order).
#[derive(Debug)]
pub(crate) struct Queue<T> {
    heap: MinHeap<Key>,
    slab: Vec<Option<T>>,
    free: Vec<u32>,
    seq: u64,
}

impl<T> Default for Queue<T> {
    fn default() -> Queue<T> {
        Queue { heap: MinHeap::default(), slab: Vec::new(), free: Vec::new(), seq: 0 }
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
        let top = self.heap.pop()?;
        self.free.push(top.slot);
        let item = self.slab[top.slot as usize].take().expect("queued slot holds an item");
        Some((top.time, item))
    }

    #[inline]
    pub(crate) fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|key| key.time)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The queued items, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.slab.iter().flatten()
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
    fn matches_a_sorted_order_on_random_input() {
        let mut rng = crate::kernel::rng::Seed(4).stream("queue-test", 0);
        let mut queue = Queue::default();
        let mut expected = Vec::new();
        let mut popped = Vec::new();
        for i in 0..5_000u64 {
            let time = rng.below(300);
            queue.push(time, i);
            expected.push((time, i));
            if rng.below(3) == 0 {
                popped.extend(queue.pop());
            }
        }
        popped.extend(std::iter::from_fn(|| queue.pop()));
        // Popping interleaved with pushing is not a global sort; check the heap property
        // instead: replaying through a sorted reference gives the same sequence.
        let mut reference = std::collections::BTreeSet::new();
        let mut replay = Vec::new();
        let mut rng = crate::kernel::rng::Seed(4).stream("queue-test", 0);
        for i in 0..5_000u64 {
            let time = rng.below(300);
            reference.insert((time, i));
            if rng.below(3) == 0 {
                replay.extend(reference.pop_first());
            }
        }
        replay.extend(std::iter::from_fn(|| reference.pop_first()));
        assert_eq!(popped, replay);
        assert_eq!(popped.len(), expected.len());
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
