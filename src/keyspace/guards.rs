//! Hot path: a command's locked view of the slots of its keys.
//!
//! `KeyGuards` locks the slots in ascending order (the global lock order),
//! applies lazy expiry on every lookup, keeps db counters exact, signals
//! modified keys (WATCH) and collects the command's propagation effects.
//! Effects are handed to the propagator in `Drop`, *before* the shard
//! guards are released, so each slot's order in the stream is the order
//! in which writes were applied.

use bytes::Bytes;
use parking_lot::RwLockReadGuard;
use smallvec::SmallVec;

use super::access;
use super::db::{Db, ShardGuard};
use super::shard::{Live, SlotShard};
use super::slot::key_slot;
use super::Keyspace;
use crate::types::{Entry, Value};

pub struct KeyGuards<'a> {
    ks: &'a Keyspace,
    db: &'a Db,
    now: u64,
    effects: Vec<Vec<Bytes>>,
    // Declared last: dropped after `Drop::drop` has flushed the effects.
    locked: SmallVec<[(u16, ShardGuard<'a>); 2]>,
    // Released last: the shared keyspace gate (None inside EXEC).
    _gate: Option<RwLockReadGuard<'a, ()>>,
}

impl<'a> KeyGuards<'a> {
    /// Lock the slots of `keys` (any order, duplicates allowed). `gate_held`:
    /// the caller already holds the gate exclusively (EXEC).
    pub fn lock<K: AsRef<[u8]>>(
        ks: &'a Keyspace,
        db: &'a Db,
        now: u64,
        keys: &[K],
        gate_held: bool,
    ) -> Self {
        let mut slots: SmallVec<[u16; 4]> = keys.iter().map(|k| key_slot(k.as_ref())).collect();
        slots.sort_unstable();
        slots.dedup();
        Self::lock_slots(ks, db, now, &slots, gate_held)
    }

    /// Lock the given slots, which must be sorted and deduplicated.
    pub fn lock_slots(
        ks: &'a Keyspace,
        db: &'a Db,
        now: u64,
        slots: &[u16],
        gate_held: bool,
    ) -> Self {
        let gate = if gate_held {
            None
        } else {
            Some(ks.gate.read())
        };
        let locked = slots.iter().map(|&s| (s, db.lock_slot(s))).collect();
        KeyGuards {
            ks,
            db,
            now,
            effects: Vec::new(),
            locked,
            _gate: gate,
        }
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn db_index(&self) -> usize {
        self.db.index()
    }

    fn guard_index(&self, key: &[u8]) -> usize {
        // Single-slot commands (the common case) skip hashing the key again.
        if self.locked.len() == 1 {
            return 0;
        }
        let slot = key_slot(key);
        self.locked
            .iter()
            .position(|(s, _)| *s == slot)
            .expect("invariant: a command only touches keys whose slots it locked")
    }

    fn shard(&mut self, key: &[u8]) -> Option<&mut SlotShard> {
        let i = self.guard_index(key);
        self.locked[i].1.as_deref_mut()
    }

    fn shard_or_create(&mut self, key: &[u8]) -> &mut SlotShard {
        let i = self.guard_index(key);
        self.locked[i].1.get_or_insert_with(Default::default)
    }

    /// Remove `key` if it is logically expired. Returns true if it was.
    fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        if self.ks.is_loading() {
            return false;
        }
        let now = self.now;
        let expired = self
            .shard(key)
            .and_then(|s| s.get(key))
            .is_some_and(|e| e.is_expired(now));
        if !expired {
            return false;
        }
        if self.ks.is_replica() {
            // Replicas hide logically expired keys and wait for the primary's DEL.
            return true;
        }
        if let Some(shard) = self.shard(key) {
            let (_, d) = shard.remove(key);
            self.db.account(d);
        }
        note_expired(self.ks, self.db, &mut self.effects, key);
        true
    }

    /// A live key in one probe: lazy expiry and the lookup share it.
    fn live(&mut self, key: &[u8], touch: bool) -> Option<&mut Entry> {
        let i = self.guard_index(key);
        if self.ks.is_loading() {
            // Nothing expires while a dataset loads (as expire_if_needed).
            let e = self.locked[i].1.as_deref_mut()?.get_mut(key)?;
            if touch {
                access::touch(&mut e.lru);
            }
            return Some(e);
        }
        let now = self.now;
        let replica = self.ks.is_replica();
        // Borrow only `locked`, so the expired branch can still reach the
        // other fields while the found branch's borrow is returned.
        let shard = self.locked[i].1.as_deref_mut()?;
        match shard.live_mut(key, now, replica) {
            Live::Found(e) => {
                if touch {
                    access::touch(&mut e.lru);
                }
                Some(e)
            }
            Live::Missing => None,
            Live::Expired(d) => {
                self.db.account(d);
                note_expired(self.ks, self.db, &mut self.effects, key);
                None
            }
        }
    }

    /// Run `f` on the shard of the first locked slot, if it holds keys
    /// (keyspace-walking commands that lock one slot at a time).
    pub fn with_shard<R>(&self, f: impl FnOnce(&SlotShard) -> R) -> Option<R> {
        self.locked
            .first()
            .and_then(|(_, g)| g.as_deref())
            .filter(|s| !s.is_empty())
            .map(f)
    }

    /// Look up a live key and record the access (LRU/LFU).
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        self.live(key, true).map(|e| &*e)
    }

    /// Look up a live key for modification. Call `touched` after changing it.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.live(key, true)
    }

    /// Look up without updating access metadata (OBJECT, TTL-free checks).
    pub fn peek(&mut self, key: &[u8]) -> Option<&Entry> {
        self.live(key, false).map(|e| &*e)
    }

    /// Shared views of several live keys at once, for multi-key reads
    /// (SINTER, SUNION ...). Applies lazy expiry and records the access of
    /// each key first; missing and expired keys give `None`.
    pub fn values_many<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Vec<Option<&Value>> {
        for k in keys {
            let _ = self.get_mut(k.as_ref());
        }
        let this = &*self;
        keys.iter()
            .map(|k| {
                let i = this.guard_index(k.as_ref());
                this.locked[i]
                    .1
                    .as_deref()
                    .and_then(|s| s.get(k.as_ref()))
                    .filter(|e| !e.is_expired(this.now))
                    .map(|e| &e.value)
            })
            .collect()
    }

    /// Does a live key exist?
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.peek(key).is_some()
    }

    /// The value of a live key.
    pub fn value(&mut self, key: &[u8]) -> Option<&Value> {
        self.get(key).map(|e| &e.value)
    }

    /// Insert or overwrite `key` with a whole new entry.
    pub fn insert(&mut self, key: &[u8], mut entry: Entry) -> Option<Entry> {
        if entry.lru == 0 {
            entry.lru = access::initial();
        }
        let now = self.now;
        if entry.expire_at != 0 && self.ks.is_replica() {
            self.ks.replica_ttls.note(self.db.index(), key);
        }
        let shard = self.shard_or_create(key);
        // One lookup: an overwritten entry that had logically expired counts
        // as expired (and is reported as deleted) rather than returned.
        let (old, d) = shard.insert(key, entry);
        self.db.account(d);
        let old = match old {
            Some(o) if o.is_expired(now) && !self.ks.is_replica() && !self.ks.is_loading() => {
                self.ks
                    .stats
                    .expired_keys
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.notify(crate::notify::class::EXPIRED, "expired", key);
                self.effects.push(vec![
                    Bytes::from_static(b"DEL"),
                    Bytes::copy_from_slice(key),
                ]);
                None
            }
            other => other,
        };
        if old.is_none() {
            self.notify(crate::notify::class::NEW, "new", key);
        }
        self.signal(key, true);
        old
    }

    /// Overwrite the value; `keep_ttl` keeps an existing expiry (SET KEEPTTL).
    pub fn set_value(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        let expire = if keep_ttl {
            self.peek(key).map_or(0, |e| e.expire_at)
        } else {
            0
        };
        let mut e = Entry::new(value);
        e.expire_at = expire;
        self.insert(key, e);
    }

    /// Delete a live key. Returns the removed entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        if self.expire_if_needed(key) {
            // A replica keeps logically expired keys until its master's DEL
            // arrives: that DEL (or any removal) must still free the key.
            if self.ks.is_replica() {
                if let Some((Some(_), d)) = self.shard(key).map(|s| s.remove(key)) {
                    self.db.account(d);
                    self.signal(key, false);
                }
            }
            return None;
        }
        let (old, d) = self.shard(key)?.remove(key);
        self.db.account(d);
        if old.is_some() {
            self.signal(key, false);
        }
        old
    }

    /// Remove `key` as an expiry does (expired_keys, the `expired` event,
    /// a DEL for replicas and the AOF), even on a replica: a writable
    /// replica's locally written keys (replica_ttl) expire on their own.
    pub fn expire_key(&mut self, key: &[u8]) -> bool {
        let Some((Some(_), d)) = self.shard(key).map(|s| s.remove(key)) else {
            return false;
        };
        self.db.account(d);
        note_expired(self.ks, self.db, &mut self.effects, key);
        true
    }

    /// Set (`at` > 0) or clear (`at` == 0) the expiry of a live key.
    pub fn set_expire(&mut self, key: &[u8], at: u64) -> bool {
        if self.expire_if_needed(key) {
            return false;
        }
        let Some(shard) = self.shard(key) else {
            return false;
        };
        if shard.get(key).is_none() {
            return false;
        }
        let d = shard.set_expire(key, at);
        self.db.account(d);
        if at != 0 && self.ks.is_replica() {
            self.ks.replica_ttls.note(self.db.index(), key);
        }
        self.signal(key, true);
        true
    }

    /// The entry as stored, even when logically expired, without lazy
    /// expiry or access tracking (DEBUG DIGEST-VALUE, replica housekeeping).
    pub fn peek_raw(&mut self, key: &[u8]) -> Option<&Entry> {
        self.shard(key)?.get(key)
    }

    /// A live key was modified in place through `get_mut`.
    pub fn touched(&mut self, key: &[u8]) {
        let exists = self.shard(key).is_some_and(|s| s.get(key).is_some());
        self.signal(key, exists);
    }

    /// Count `n` more changes than the signals did (rdb_changes_since_last_save),
    /// for commands whose one signal stands for several changes.
    pub fn add_dirty(&self, n: u64) {
        if n > 0 {
            self.ks
                .stats
                .dirty
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// signal_modified_key: WATCH invalidation and the dirty counter.
    fn signal(&mut self, key: &[u8], exists_after: bool) {
        self.ks.watches.touch(self.db.index(), key, exists_after);
        if exists_after {
            self.ks.blocking.signal_ready(self.db.index(), key);
        }
        self.ks
            .stats
            .dirty
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// notifyKeyspaceEvent for a key of this command's database. `new`
    /// and `expired` are reported here automatically; handlers report
    /// their own events (type event first, then `del` when a collection
    /// was emptied, as Redis orders them).
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        if self.ks.notify.wants(class) {
            self.ks
                .notify
                .keyspace_event(class, event, key, self.db.index());
        }
    }

    /// Queue a command for the AOF and replicas (deterministic form).
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        if self.propagating() {
            self.effects.push(argv);
        }
    }

    /// Does the write stream have a consumer? Hot writers skip building
    /// their propagated form when it has none.
    pub fn propagating(&self) -> bool {
        self.ks.propagator.is_active()
    }
}

/// Bookkeeping of a lazily expired key (its entry is already removed):
/// stats, WATCH, and the DEL that replicas and the AOF receive.
fn note_expired(ks: &Keyspace, db: &Db, effects: &mut Vec<Vec<Bytes>>, key: &[u8]) {
    ks.stats
        .expired_keys
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ks.watches.touch(db.index(), key, false);
    if ks.notify.wants(crate::notify::class::EXPIRED) {
        ks.notify
            .keyspace_event(crate::notify::class::EXPIRED, "expired", key, db.index());
    }
    effects.push(vec![
        Bytes::from_static(b"DEL"),
        Bytes::copy_from_slice(key),
    ]);
}

impl Drop for KeyGuards<'_> {
    fn drop(&mut self) {
        if !self.effects.is_empty() {
            let effects = std::mem::take(&mut self.effects);
            self.ks.propagator.append(self.db.index(), effects);
        }
        // Free shards left empty: a sparse keyspace must not keep a table
        // per slot it ever touched.
        for (_, g) in self.locked.iter_mut() {
            if g.as_ref().is_some_and(|s| s.is_empty()) {
                **g = None;
            }
        }
    }
}
