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

/// Largest shard kept as a vector.
const SMALL_MAX: usize = 8;

/// A key and its entry, in one allocation (Redis's dictEntry shape).
pub struct Node {
    pub key: Key,
    pub entry: Entry,
}

pub enum Nodes {
    // Boxed on purpose: 8 bytes per key in the vector, and nodes move into
    // the table without being copied when the shard grows.
    #[allow(clippy::vec_box)]
    Small(Vec<Box<Node>>),
    Table(HashTable<Box<Node>>),
}

impl Default for Nodes {
    fn default() -> Nodes {
        Nodes::Small(Vec::new())
    }
}

/// One hasher for every shard, seeded randomly at start (a per-shard
/// hasher would cost 32 bytes in each of up to 16384 × 16 shards).
fn hash(key: &[u8]) -> u64 {
    static HASHER: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
    HASHER.get_or_init(ahash::RandomState::new).hash_one(key)
}

impl Nodes {
    pub fn len(&self) -> usize {
        match self {
            Nodes::Small(v) => v.len(),
            Nodes::Table(t) => t.len(),
        }
    }

    pub fn find(&self, key: &[u8]) -> Option<&Node> {
        match self {
            Nodes::Small(v) => v.iter().find(|n| &*n.key == key).map(|n| &**n),
            Nodes::Table(t) => t.find(hash(key), |n| &*n.key == key).map(|n| &**n),
        }
    }

    pub fn find_mut(&mut self, key: &[u8]) -> Option<&mut Node> {
        match self {
            Nodes::Small(v) => v.iter_mut().find(|n| &*n.key == key).map(|n| &mut **n),
            Nodes::Table(t) => t.find_mut(hash(key), |n| &*n.key == key).map(|n| &mut **n),
        }
    }

    /// Add a node whose key is not present.
    pub fn insert_new(&mut self, node: Box<Node>) {
        match self {
            Nodes::Small(v) if v.len() < SMALL_MAX => {
                v.reserve_exact(1);
                v.push(node);
            }
            Nodes::Small(v) => {
                let mut t = HashTable::with_capacity(SMALL_MAX * 2);
                for n in v.drain(..).chain(std::iter::once(node)) {
                    t.insert_unique(hash(&n.key), n, |n| hash(&n.key));
                }
                *self = Nodes::Table(t);
            }
            Nodes::Table(t) => {
                t.insert_unique(hash(&node.key), node, |n| hash(&n.key));
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Box<Node>> {
        match self {
            Nodes::Small(v) => {
                let i = v.iter().position(|n| &*n.key == key)?;
                let n = v.swap_remove(i);
                if v.capacity() > v.len() * 2 {
                    v.shrink_to_fit();
                }
                Some(n)
            }
            Nodes::Table(t) => {
                let (n, _) = t.find_entry(hash(key), |n| &*n.key == key).ok()?.remove();
                // Give memory back after mass deletion (eviction, expiry),
                // as Redis shrinks dicts under 10% fill.
                let cap = t.capacity();
                if cap > 64 && t.len() * 8 < cap {
                    t.shrink_to(t.len() * 2, |n| hash(&n.key));
                }
                Some(n)
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        let (small, table) = match self {
            Nodes::Small(v) => (Some(v.iter()), None),
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
            key: format!("k{i}").into_bytes().into(),
            entry: Entry::new(Value::Str(StrValue::Int(i as i64))),
        })
    }

    #[test]
    fn grows_into_a_table_and_keeps_every_key() {
        let mut n = Nodes::default();
        for i in 0..100 {
            n.insert_new(node(i));
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
