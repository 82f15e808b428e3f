//! One hash slot's keys. Every mutation goes through these methods so the
//! per-slot counters stay exact.

use std::collections::HashMap;

use crate::types::Entry;

/// Key type stored in the maps: its own allocation, never a slice of a
/// network buffer (that would pin the whole read buffer in memory).
pub type Key = Box<[u8]>;

/// The keys of one slot in one database.
#[derive(Default)]
pub struct SlotShard {
    pub(crate) map: HashMap<Key, Entry, ahash::RandomState>,
    /// Keys in this shard with an expiry set.
    pub(crate) volatile: usize,
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
        self.map.is_empty()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    pub fn insert(&mut self, key: &[u8], entry: Entry) -> (Option<Entry>, Delta) {
        let vol = entry.has_expire();
        let old = self.map.insert(key.into(), entry);
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
            Some(e) => {
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
        let Some(e) = self.map.get_mut(key) else {
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
        self.map.keys()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.map.iter()
    }

    /// Remove every expired key, returning them (active expiry).
    pub fn take_expired(&mut self, now_ms: u64, limit: usize) -> Vec<Key> {
        if self.volatile == 0 {
            return Vec::new();
        }
        let expired: Vec<Key> = self
            .map
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
