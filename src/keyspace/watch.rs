//! WATCH bookkeeping: which clients watch which keys, and the dirty flags
//! that `signal_modified_key` sets. Mirrors Redis's multi.c semantics,
//! including keys that were already logically expired when watched.
//!
//! Lock order: a shard guard may be held while this registry's mutex is
//! taken, never the other way round.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

type WatchKey = (usize, Box<[u8]>);

struct Watcher {
    client: u64,
    dirty: Arc<AtomicBool>,
    /// The key was logically expired when WATCH ran.
    expired: bool,
}

/// Global registry of watched keys.
#[derive(Default)]
pub struct Watches {
    map: Mutex<HashMap<WatchKey, Vec<Watcher>>>,
    /// Number of watched keys; lets the hot path skip the mutex.
    count: AtomicUsize,
}

impl Watches {
    /// Register `client` as watching `key` in `db`.
    pub fn watch(
        &self,
        db: usize,
        key: &[u8],
        client: u64,
        dirty: &Arc<AtomicBool>,
        expired: bool,
    ) {
        let mut map = self.map.lock();
        let list = map.entry((db, key.into())).or_default();
        if list.iter().any(|w| w.client == client) {
            return;
        }
        list.push(Watcher {
            client,
            dirty: dirty.clone(),
            expired,
        });
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Drop every watch of `client` on the listed keys.
    pub fn unwatch(&self, client: u64, keys: &[(usize, Box<[u8]>)]) {
        if keys.is_empty() {
            return;
        }
        let mut map = self.map.lock();
        for k in keys {
            if let Some(list) = map.get_mut(k) {
                let before = list.len();
                list.retain(|w| w.client != client);
                self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
                if list.is_empty() {
                    map.remove(k);
                }
            }
        }
    }

    /// Was `key` logically expired when `client` watched it?
    pub fn watched_expired(&self, db: usize, key: &[u8], client: u64) -> bool {
        let map = self.map.lock();
        map.get(&(db, key.into()))
            .and_then(|l| l.iter().find(|w| w.client == client))
            .is_some_and(|w| w.expired)
    }

    /// A key was modified. `exists_after` tells whether the key is still
    /// present: deleting a key that was stale when watched is no change.
    pub fn touch(&self, db: usize, key: &[u8], exists_after: bool) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut map = self.map.lock();
        if let Some(list) = map.get_mut(&(db, key.into())) {
            for w in list.iter_mut() {
                if w.expired && !exists_after {
                    w.expired = false;
                    continue;
                }
                w.dirty.store(true, Ordering::Release);
            }
        }
    }

    /// FLUSHDB/FLUSHALL/SWAPDB: touch watched keys of `db`.
    /// `existed(key)` says whether the key was in the old db; `now_exists(key)`
    /// returns Some(logically_expired) if the key is in the db that replaced it.
    pub fn touch_db(
        &self,
        db: usize,
        existed: impl Fn(&[u8]) -> bool,
        now_exists: impl Fn(&[u8]) -> Option<bool>,
    ) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut map = self.map.lock();
        for ((d, key), list) in map.iter_mut() {
            if *d != db {
                continue;
            }
            let was = existed(key);
            let after = now_exists(key);
            if !was && after.is_none() {
                continue;
            }
            for w in list.iter_mut() {
                if w.expired {
                    match after {
                        None => {
                            w.expired = false;
                            continue;
                        }
                        Some(true) => continue,
                        Some(false) => {}
                    }
                } else if !was && after == Some(true) {
                    // A missing key replaced by a stale one: logically no
                    // change, and EXEC must not see it as newly expired.
                    w.expired = true;
                    continue;
                }
                w.dirty.store(true, Ordering::Release);
            }
        }
    }
}
