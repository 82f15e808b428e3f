//! Hot path: one hash slot's keys. Every mutation goes through these
//! methods so the per-slot counters stay exact.
//!
//! The map is hashbrown's, for `entry_ref`: a lookup that may find a
//! logically expired key, and an overwrite of an existing key, each cost
//! one probe and allocate nothing.

use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;

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
        self.map.is_empty()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    /// A key that is not logically expired at `now`, in one probe. An
    /// expired key is removed (`Expired` carries the counter delta) unless
    /// `keep_expired` (replicas hide expired keys but wait for the DEL).
    pub fn live_mut(&mut self, key: &[u8], now: u64, keep_expired: bool) -> Live<'_> {
        match self.map.entry_ref(key) {
            EntryRef::Vacant(_) => Live::Missing,
            EntryRef::Occupied(o) if !o.get().is_expired(now) => Live::Found(o.into_mut()),
            EntryRef::Occupied(_) if keep_expired => Live::Missing,
            EntryRef::Occupied(o) => {
                let d = Delta {
                    keys: -1,
                    volatile: -1,
                };
                o.remove();
                // Field-level update: `self.map` is still borrowed here.
                self.volatile = self.volatile.saturating_sub(1);
                Live::Expired(d)
            }
        }
    }

    /// Insert or overwrite; one probe, and the key is copied only when new.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> (Option<Entry>, Delta) {
        let vol = entry.has_expire();
        let old = match self.map.entry_ref(key) {
            EntryRef::Occupied(mut o) => Some(o.insert(entry)),
            EntryRef::Vacant(v) => {
                v.insert(entry);
                None
            }
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
