//! The container of one shard's nodes: a short vector scanned linearly
//! while the shard holds at most `SMALL_MAX` keys, a hash table of node
//! pointers beyond that.
//!
//! Why: the keyspace has 16384 shards per database, so a database of a few
//! thousand keys has mostly shards of one or two keys. A hash table costs
//! at least a 64-byte allocation for its first bucket group; an exact-size
//! vector of pointers costs 8 bytes per key. Comparing a handful of keys
//! is as fast as hashing one.

use hashbrown::HashTable;

use super::shard::Key;
use crate::types::Entry;

/// Largest shard kept as a vector (one 8-bit tag per entry fits a u64).
const SMALL_MAX: usize = 8;

/// A key and its entry, in one allocation (Redis's dictEntry shape).
pub struct Node {
    pub key: Key,
    pub entry: Entry,
}

pub enum Nodes {
    /// `tags` holds one byte of each key's hash, byte `i` for `nodes[i]`:
    /// a lookup compares keys only where the tag matches, so it touches
    /// (almost always) just the one node it is after instead of every
    /// node's cache lines.
    Small {
        // Boxed on purpose: 8 bytes per key in the vector, and nodes move
        // into the table without being copied when the shard grows.
        #[allow(clippy::vec_box)]
        nodes: Vec<Box<Node>>,
        tags: u64,
    },
    Table(HashTable<Box<Node>>),
}

impl Default for Nodes {
    fn default() -> Nodes {
        Nodes::Small {
            nodes: Vec::new(),
            tags: 0,
        }
    }
}

/// One hasher for every shard, seeded randomly at start (a per-shard
/// hasher would cost 32 bytes in each of up to 16384 × 16 shards).
fn hash(key: &[u8]) -> u64 {
    static HASHER: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
    HASHER.get_or_init(ahash::RandomState::new).hash_one(key)
}

/// The tag byte of a hash (its top bits; hashbrown uses them likewise).
fn tag(h: u64) -> u8 {
    (h >> 56) as u8
}

fn tag_at(tags: u64, i: usize) -> u8 {
    (tags >> (8 * i)) as u8
}

fn with_tag(tags: u64, i: usize, t: u8) -> u64 {
    (tags & !(0xff << (8 * i))) | (u64::from(t) << (8 * i))
}

/// Position of `key` in a small shard.
fn small_position(nodes: &[Box<Node>], tags: u64, key: &[u8], h: u64) -> Option<usize> {
    let t = tag(h);
    (0..nodes.len()).find(|&i| tag_at(tags, i) == t && &*nodes[i].key == key)
}

/// Result of `Nodes::find_or_remove_if`.
pub enum Probe<'a> {
    Found(&'a mut Node),
    Removed(Box<Node>),
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
            Nodes::Small { nodes, tags } => {
                small_position(nodes, *tags, key, h).map(|i| &*nodes[i])
            }
            Nodes::Table(t) => t.find(h, |n| &*n.key == key).map(|n| &**n),
        }
    }

    pub fn find_mut(&mut self, key: &[u8]) -> Option<&mut Node> {
        self.find_mut_hashed(key, hash(key))
    }

    fn find_mut_hashed(&mut self, key: &[u8], h: u64) -> Option<&mut Node> {
        match self {
            Nodes::Small { nodes, tags } => {
                small_position(nodes, *tags, key, h).map(|i| &mut *nodes[i])
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
            Nodes::Small { nodes, tags } => match small_position(nodes, *tags, key, h) {
                None => Probe::Missing,
                Some(i) if remove(&nodes[i]) => Probe::Removed(Self::small_remove(nodes, tags, i)),
                Some(i) => Probe::Found(&mut nodes[i]),
            },
            Nodes::Table(t) => match t.find_entry(h, |n| &*n.key == key) {
                Err(_) => Probe::Missing,
                Ok(e) if remove(e.get()) => {
                    let (n, vacant) = e.remove();
                    Self::maybe_shrink(vacant.into_table());
                    Probe::Removed(n)
                }
                Ok(e) => Probe::Found(e.into_mut()),
            },
        }
    }

    /// The node for `key`, created with `make()` when absent (one probe).
    /// The bool says whether it was created.
    pub fn find_or_insert(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> Box<Node>,
    ) -> (&mut Node, bool) {
        let h = hash(key);
        // None: a table; Some(hit) for a small shard. Computed first so
        // no borrow of `self` is alive when the match below picks a path.
        let small_hit = match self {
            Nodes::Small { nodes, tags } => Some(small_position(nodes, *tags, key, h)),
            Nodes::Table(_) => None,
        };
        match (self, small_hit) {
            (Nodes::Small { nodes, .. }, Some(Some(i))) => (&mut nodes[i], false),
            (Nodes::Table(t), _) => match t.find_entry(h, |n| &*n.key == key) {
                Ok(e) => (e.into_mut(), false),
                Err(absent) => {
                    let t = absent.into_table();
                    (
                        t.insert_unique(h, make(), |n| hash(&n.key)).into_mut(),
                        true,
                    )
                }
            },
            (this, _) => (this.insert_hashed(make(), h), true),
        }
    }

    fn insert_hashed(&mut self, node: Box<Node>, h: u64) -> &mut Node {
        if let Nodes::Small { nodes, .. } = self {
            if nodes.len() >= SMALL_MAX {
                let mut t = HashTable::with_capacity(SMALL_MAX * 2);
                for n in nodes.drain(..) {
                    t.insert_unique(hash(&n.key), n, |n| hash(&n.key));
                }
                *self = Nodes::Table(t);
            }
        }
        match self {
            Nodes::Small { nodes, tags } => {
                *tags = with_tag(*tags, nodes.len(), tag(h));
                nodes.reserve_exact(1);
                nodes.push(node);
                nodes.last_mut().expect("just pushed")
            }
            Nodes::Table(t) => t.insert_unique(h, node, |n| hash(&n.key)).into_mut(),
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Box<Node>> {
        match self.find_or_remove_if(key, |_| true) {
            Probe::Removed(n) => Some(n),
            _ => None,
        }
    }

    #[allow(clippy::vec_box)]
    fn small_remove(nodes: &mut Vec<Box<Node>>, tags: &mut u64, i: usize) -> Box<Node> {
        let last = nodes.len() - 1;
        *tags = with_tag(*tags, i, tag_at(*tags, last));
        let n = nodes.swap_remove(i);
        if nodes.capacity() > nodes.len() * 2 {
            nodes.shrink_to_fit();
        }
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
            .chain(table.into_iter().flatten())
            .map(|n| &**n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{StrValue, Value};

    fn node(i: usize) -> Box<Node> {
        Box::new(Node {
            key: format!("k{i}").as_bytes().into(),
            entry: Entry::new(Value::Str(StrValue::Int(i as i64))),
        })
    }

    #[test]
    fn grows_into_a_table_and_keeps_every_key() {
        let mut n = Nodes::default();
        for i in 0..100 {
            let key = format!("k{i}");
            assert!(n.find_or_insert(key.as_bytes(), || node(i)).1);
        }
        assert!(matches!(n, Nodes::Table(_)));
        assert_eq!(n.len(), 100);
        for i in 0..100 {
            assert!(n.find(format!("k{i}").as_bytes()).is_some());
        }
        for i in 0..95 {
            assert!(n.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(n.iter().count(), 5);
        assert!(n.find(b"k99").is_some() && n.find(b"k1").is_none());
    }
}
