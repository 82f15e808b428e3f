//! One hash slot's keys. Every mutation goes through these methods so the
//! per-slot counters stay exact.
//!
//! Memory layout: a node owns the key and its entry (the shape of Redis's
//! dictEntry). Shards of up to 128 keys keep their nodes in one vector;
//! larger ones in a hash table of one pointer per bucket to a boxed node,
//! since a table of 64-byte nodes would be only 44-88% full (see
//! `nodes.rs`; scripts/memefficiency.sh measures both).

use super::nodes::{Node, Nodes, Probe};
use crate::types::Entry;

pub use super::key::Key;

/// The keys of one slot in one database.
#[derive(Default)]
pub struct SlotShard {
    map: Nodes,
    /// Keys in this shard with an expiry set.
    pub(crate) volatile: usize,
}

/// Outcome of `SlotShard::live_mut`.
pub enum Live<'a> {
    Found(&'a mut Entry),
    Missing,
    /// The key had expired and was removed.
    Expired(Delta),
}

/// Net change of counters caused by one shard operation.
#[derive(Debug, Default, Clone, Copy)]
pub struct Delta {
    pub keys: i64,
    pub volatile: i64,
}

impl SlotShard {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.map.find(key).map(|n| &n.entry)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.find_mut(key).map(|n| &mut n.entry)
    }

    /// A key that is not logically expired at `now`. An expired key is
    /// removed (`Expired` carries the counter delta) unless `keep_expired`
    /// (replicas hide expired keys but wait for the DEL). One probe.
    pub fn live_mut(&mut self, key: &[u8], now: u64, keep_expired: bool) -> Live<'_> {
        let mut hidden = false;
        // Split borrows: the probe holds `map` while the counter changes.
        let (map, volatile) = (&mut self.map, &mut self.volatile);
        let probe = map.find_or_remove_if(key, |n| {
            let expired = n.entry.is_expired(now);
            hidden = expired && keep_expired;
            expired && !keep_expired
        });
        match probe {
            Probe::Found(_) if hidden => Live::Missing,
            Probe::Found(n) => Live::Found(&mut n.entry),
            Probe::Missing => Live::Missing,
            Probe::Removed(node) => {
                let d = Delta {
                    keys: -1,
                    volatile: -i64::from(node.entry.has_expire()),
                };
                *volatile = (*volatile as i64 + d.volatile).max(0) as usize;
                Live::Expired(d)
            }
        }
    }

    pub fn insert(&mut self, key: &[u8], entry: Entry) -> (Option<Entry>, Delta) {
        let vol = entry.has_expire();
        let mut fresh = Some(entry);
        let (node, created) = self.map.find_or_insert(key, || Node {
            key: key.into(),
            entry: fresh.take().expect("make runs once"),
        });
        let old = match fresh.take() {
            Some(e) if !created => Some(std::mem::replace(&mut node.entry, e)),
            _ => None,
        };
        let mut d = Delta {
            keys: 1,
            volatile: i64::from(vol),
        };
        if let Some(o) = &old {
            d.keys = 0;
            d.volatile -= i64::from(o.has_expire());
        }
        self.apply(d);
        (old, d)
    }

    pub fn remove(&mut self, key: &[u8]) -> (Option<Entry>, Delta) {
        match self.map.remove(key) {
            Some(node) => {
                let e = node.entry;
                let d = Delta {
                    keys: -1,
                    volatile: -i64::from(e.has_expire()),
                };
                self.apply(d);
                (Some(e), d)
            }
            None => (None, Delta::default()),
        }
    }

    /// Set or clear the expiry of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at: u64) -> Delta {
        let Some(e) = self.get_mut(key) else {
            return Delta::default();
        };
        let before = i64::from(e.has_expire());
        e.expire_at = at;
        let d = Delta {
            keys: 0,
            volatile: i64::from(at != 0) - before,
        };
        self.apply(d);
        d
    }

    fn apply(&mut self, d: Delta) {
        self.volatile = (self.volatile as i64 + d.volatile).max(0) as usize;
    }

    /// Keys in the shard (for KEYS/SCAN/GETKEYSINSLOT).
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.map.iter().map(|n| &n.key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.map.iter().map(|n| (&n.key, &n.entry))
    }

    /// Every entry once, starting at position `offset` of the map's order
    /// and wrapping around (eviction sampling from a random point).
    pub fn iter_from(&self, offset: usize) -> impl Iterator<Item = (&Key, &Entry)> {
        let offset = offset % self.map.len().max(1);
        self.iter().skip(offset).chain(self.iter().take(offset))
    }

    /// Remove every expired key, returning them (active expiry).
    pub fn take_expired(&mut self, now_ms: u64, limit: usize) -> Vec<Key> {
        if self.volatile == 0 {
            return Vec::new();
        }
        let expired: Vec<Key> = self
            .iter()
            .filter(|(_, e)| e.is_expired(now_ms))
            .take(limit)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &expired {
            self.remove(k);
        }
        expired
    }
}
