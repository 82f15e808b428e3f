//! The container of one shard's nodes: the nodes themselves in one
//! exact-size vector, with a parallel vector of one-byte hash tags, while
//! the shard holds at most `SMALL_MAX` keys; a hash table of boxed nodes
//! beyond that.
//!
//! Why: the keyspace has 16384 shards per database, so even a database of
//! a million keys has about 61 keys per shard. A hash table of node
//! pointers grows by doubling and is 44-88% full, which costs 10-21 bytes
//! per key on top of each node's own allocation; nodes kept in place cost
//! their 64 bytes plus a tag byte and the allocator's rounding of one
//! block (about 4 bytes per key), and a lookup skips the pointer hop. It
//! finds the candidates with one SIMD scan of the tag bytes (memchr) and
//! compares keys only where the tag matches.

use hashbrown::HashTable;

use super::shard::Key;
use crate::types::Entry;

/// Largest shard kept as vectors: at 128 tags the scan is eight 16-byte
/// compares, about what a hash probe costs.
const SMALL_MAX: usize = 128;

/// A key and its entry, in one allocation (Redis's dictEntry shape).
pub struct Node {
    pub key: Key,
    pub entry: Entry,
}

pub enum Nodes {
    /// `tags[i]` is one byte of the hash of `nodes[i].key`.
    Small {
        nodes: Vec<Node>,
        // A boxed slice, not a Vec: 8 bytes less in every shard header,
        // which keeps `SlotShard` in jemalloc's 48-byte class.
        tags: Box<[u8]>,
    },
    Table(HashTable<Box<Node>>),
}

impl Default for Nodes {
    fn default() -> Nodes {
        Nodes::Small {
            nodes: Vec::new(),
            tags: Box::default(),
        }
    }
}

/// One hasher for every shard, seeded randomly at start (a per-shard
/// hasher would cost 32 bytes in each of up to 16384 × 16 shards).
fn hash(key: &[u8]) -> u64 {
    crate::util::hasher::hash_one(key)
}

/// The tag byte of a hash (its top bits; hashbrown uses them likewise).
fn tag(h: u64) -> u8 {
    (h >> 56) as u8
}

/// Position of `key` in a small shard.
fn small_position(nodes: &[Node], tags: &[u8], key: &[u8], h: u64) -> Option<usize> {
    let t = tag(h);
    let is_key = |i: usize| nodes.get(i).is_some_and(|n| &*n.key == key);
    // A handful of tags (the common shard below a few hundred thousand
    // keys) is faster to walk inline than to hand to memchr's SIMD loop.
    if tags.len() <= 16 {
        return (0..tags.len()).find(|&i| tags[i] == t && is_key(i));
    }
    memchr::memchr_iter(t, tags).find(|&i| is_key(i))
}

/// Grow a vector by one element without doubling: when full, take just
/// the room left in the allocator's size class of one more element (what
/// used_memory counts anyway), so a shard of 64-byte nodes is copied once
/// per size class, not on every insert.
fn push_exact<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        let size = std::mem::size_of::<T>().max(1);
        let fits = crate::util::alloc::size_class((v.len() + 1) * size) / size;
        v.reserve_exact(fits.max(v.len() + 1) - v.len());
    }
    v.push(x);
}

/// After a removal, give back the room beyond the allocator's size class
/// of what is left. Why not only when mostly empty: in a sparse keyspace
/// most shards hold one or two keys, and a shard that once held two keeps
/// a spare 64-byte node for its one key. Under eviction churn that was
/// about 45 bytes per key (191 instead of 157 per 40-byte string), which
/// maxmemory then paid for by evicting ~15% more keys than Redis. Growth
/// and shrinkage both follow size classes, so a vector alternating across
/// one class boundary copies at most `SMALL_MAX` nodes per operation.
fn shrink_to_class<T>(v: &mut Vec<T>) {
    let size = std::mem::size_of::<T>().max(1);
    let fits = crate::util::alloc::size_class(v.len().max(1) * size) / size;
    if v.capacity() > fits {
        v.shrink_to(fits);
    }
}

/// Result of `Nodes::find_or_remove_if`.
pub enum Probe<'a> {
    Found(&'a mut Node),
    Removed(Node),
    Missing,
}

impl Nodes {
    pub fn len(&self) -> usize {
        match self {
            Nodes::Small { nodes, .. } => nodes.len(),
            Nodes::Table(t) => t.len(),
        }
    }

    pub fn find(&self, key: &[u8]) -> Option<&Node> {
        let h = hash(key);
        match self {
            Nodes::Small { nodes, tags } => small_position(nodes, tags, key, h).map(|i| &nodes[i]),
            Nodes::Table(t) => t.find(h, |n| &*n.key == key).map(|n| &**n),
        }
    }

    pub fn find_mut(&mut self, key: &[u8]) -> Option<&mut Node> {
        self.find_mut_hashed(key, hash(key))
    }

    fn find_mut_hashed(&mut self, key: &[u8], h: u64) -> Option<&mut Node> {
        match self {
            Nodes::Small { nodes, tags } => {
                small_position(nodes, tags, key, h).map(|i| &mut nodes[i])
            }
            Nodes::Table(t) => t.find_mut(h, |n| &*n.key == key).map(|n| &mut **n),
        }
    }

    /// One probe that either hands out the node or, when `remove(node)`
    /// says so (an expired key), takes it out.
    pub fn find_or_remove_if(
        &mut self,
        key: &[u8],
        remove: impl FnOnce(&Node) -> bool,
    ) -> Probe<'_> {
        let h = hash(key);
        match self {
            Nodes::Small { nodes, tags } => match small_position(nodes, tags, key, h) {
                None => Probe::Missing,
                Some(i) if remove(&nodes[i]) => Probe::Removed(Self::small_remove(nodes, tags, i)),
                Some(i) => Probe::Found(&mut nodes[i]),
            },
            Nodes::Table(t) => match t.find_entry(h, |n| &*n.key == key) {
                Err(_) => Probe::Missing,
                Ok(e) if remove(e.get()) => {
                    let (n, vacant) = e.remove();
                    Self::maybe_shrink(vacant.into_table());
                    Probe::Removed(*n)
                }
                Ok(e) => Probe::Found(e.into_mut()),
            },
        }
    }

    /// The node for `key`, created with `make()` when absent (one probe).
    /// The bool says whether it was created.
    pub fn find_or_insert(&mut self, key: &[u8], make: impl FnOnce() -> Node) -> (&mut Node, bool) {
        let h = hash(key);
        // None: a table; Some(hit) for a small shard. Computed first so
        // no borrow of `self` is alive when the match below picks a path.
        let small_hit = match self {
            Nodes::Small { nodes, tags } => Some(small_position(nodes, tags, key, h)),
            Nodes::Table(_) => None,
        };
        match (self, small_hit) {
            (Nodes::Small { nodes, .. }, Some(Some(i))) => (&mut nodes[i], false),
            (Nodes::Table(t), _) => match t.find_entry(h, |n| &*n.key == key) {
                Ok(e) => (e.into_mut(), false),
                Err(absent) => {
                    let t = absent.into_table();
                    (
                        t.insert_unique(h, Box::new(make()), |n| hash(&n.key))
                            .into_mut(),
                        true,
                    )
                }
            },
            (this, _) => (this.insert_hashed(make(), h), true),
        }
    }

    fn insert_hashed(&mut self, node: Node, h: u64) -> &mut Node {
        if let Nodes::Small { nodes, .. } = self {
            if nodes.len() >= SMALL_MAX {
                let mut t = HashTable::with_capacity(SMALL_MAX + 1);
                for n in nodes.drain(..) {
                    t.insert_unique(hash(&n.key), Box::new(n), |n| hash(&n.key));
                }
                *self = Nodes::Table(t);
            }
        }
        match self {
            Nodes::Small { nodes, tags } => {
                let mut t = std::mem::take(tags).into_vec();
                t.reserve_exact(1);
                t.push(tag(h));
                *tags = t.into_boxed_slice();
                push_exact(nodes, node);
                nodes.last_mut().expect("just pushed")
            }
            Nodes::Table(t) => t
                .insert_unique(h, Box::new(node), |n| hash(&n.key))
                .into_mut(),
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Node> {
        match self.find_or_remove_if(key, |_| true) {
            Probe::Removed(n) => Some(n),
            _ => None,
        }
    }

    fn small_remove(nodes: &mut Vec<Node>, tags: &mut Box<[u8]>, i: usize) -> Node {
        let mut t = std::mem::take(tags).into_vec();
        t.swap_remove(i);
        *tags = t.into_boxed_slice();
        let n = nodes.swap_remove(i);
        shrink_to_class(nodes);
        n
    }

    /// Give memory back after mass deletion (eviction, expiry), as Redis
    /// shrinks dicts under 10% fill.
    fn maybe_shrink(t: &mut HashTable<Box<Node>>) {
        let cap = t.capacity();
        if cap > 64 && t.len() * 8 < cap {
            t.shrink_to(t.len() * 2, |n| hash(&n.key));
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        let (small, table) = match self {
            Nodes::Small { nodes, .. } => (Some(nodes.iter()), None),
            Nodes::Table(t) => (None, Some(t.iter())),
        };
        small
            .into_iter()
            .flatten()
            .chain(table.into_iter().flatten().map(|n| &**n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{StrValue, Value};

    fn node(i: usize) -> Node {
        Node {
            key: format!("k{i}").as_bytes().into(),
            entry: Entry::new(Value::Str(StrValue::Int(i as i64))),
        }
    }

    #[test]
    fn grows_into_a_table_and_keeps_every_key() {
        let mut n = Nodes::default();
        for i in 0..300 {
            let key = format!("k{i}");
            assert!(n.find_or_insert(key.as_bytes(), || node(i)).1);
            assert!(!n.find_or_insert(key.as_bytes(), || node(i)).1);
            if i < SMALL_MAX {
                assert!(matches!(n, Nodes::Small { .. }));
            }
        }
        assert!(matches!(n, Nodes::Table(_)));
        assert_eq!(n.len(), 300);
        for i in 0..300 {
            assert!(n.find(format!("k{i}").as_bytes()).is_some());
        }
        for i in 0..295 {
            assert!(n.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(n.iter().count(), 5);
        assert!(n.find(b"k299").is_some() && n.find(b"k1").is_none());
    }

    #[test]
    fn shard_header_stays_in_the_48_byte_class() {
        assert!(std::mem::size_of::<crate::keyspace::shard::SlotShard>() <= 48);
    }

    #[test]
    fn small_shard_removes_keep_tags_aligned() {
        let mut n = Nodes::default();
        for i in 0..100 {
            n.find_or_insert(format!("k{i}").as_bytes(), || node(i));
        }
        for i in (0..100).step_by(3) {
            assert!(n.remove(format!("k{i}").as_bytes()).is_some());
        }
        for i in 0..100 {
            let found = n.find(format!("k{i}").as_bytes()).map(|x| &*x.key);
            let want = format!("k{i}");
            assert_eq!(found, (i % 3 != 0).then_some(want.as_bytes()));
        }
        assert!(matches!(n, Nodes::Small { .. }));
    }

    #[test]
    fn removals_give_back_room_beyond_the_size_class() {
        let mut n = Nodes::default();
        for i in 0..10 {
            n.find_or_insert(format!("k{i}").as_bytes(), || node(i));
        }
        for i in 1..10 {
            n.remove(format!("k{i}").as_bytes());
            let Nodes::Small { nodes, .. } = &n else {
                panic!("a small shard stays small");
            };
            let size = std::mem::size_of::<Node>();
            let class = crate::util::alloc::size_class(nodes.len() * size) / size;
            assert_eq!(nodes.capacity(), class, "after removing k{i}");
        }
        assert!(n.find(b"k0").is_some());
    }
}
