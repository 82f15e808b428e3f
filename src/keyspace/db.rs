//! One logical database: 16384 lazily allocated slot shards, each behind
//! its own mutex, plus exact key counters for DBSIZE and INFO keyspace.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

use super::shard::{Delta, SlotShard};
use super::slot::SLOTS;

/// A shard slot: `None` until the first key lands in it. The array of
/// 16384 cells (256 KiB) is itself allocated on the first lock, so the
/// usual 15 unused databases cost nothing (Redis starts under 1 MB and
/// its tests size maxmemory on that assumption).
pub type ShardCell = Mutex<Option<Box<SlotShard>>>;
pub type ShardGuard<'a> = MutexGuard<'a, Option<Box<SlotShard>>>;

pub struct Db {
    index: AtomicUsize,
    shards: std::sync::OnceLock<Box<[ShardCell]>>,
    keys: AtomicI64,
    volatile: AtomicI64,
}

impl Db {
    pub fn new(index: usize) -> Db {
        let shards = std::sync::OnceLock::new();
        Db {
            index: AtomicUsize::new(index),
            shards,
            keys: AtomicI64::new(0),
            volatile: AtomicI64::new(0),
        }
    }

    /// The db number this object currently serves (changes on SWAPDB).
    pub fn index(&self) -> usize {
        self.index.load(Ordering::Relaxed)
    }

    pub(crate) fn set_index(&self, i: usize) {
        self.index.store(i, Ordering::Relaxed);
    }

    /// Has the slot-cell array been allocated (any slot ever locked)?
    pub fn cells_allocated(&self) -> bool {
        self.shards.get().is_some()
    }

    /// Allocate the slot-cell array now.
    pub fn allocate_cells(&self) {
        self.shards
            .get_or_init(|| (0..SLOTS).map(|_| Mutex::new(None)).collect());
    }

    /// Lock one slot.
    pub fn lock_slot(&self, slot: u16) -> ShardGuard<'_> {
        let cells = self
            .shards
            .get_or_init(|| (0..SLOTS).map(|_| Mutex::new(None)).collect());
        cells[usize::from(slot)].lock()
    }

    /// Number of keys (DBSIZE), including logically expired ones not yet reclaimed.
    pub fn len(&self) -> u64 {
        self.keys.load(Ordering::Relaxed).max(0) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of keys with an expiry.
    pub fn volatile_len(&self) -> u64 {
        self.volatile.load(Ordering::Relaxed).max(0) as u64
    }

    /// Record a shard delta in the db-wide counters.
    pub(crate) fn account(&self, d: Delta) {
        if d.keys != 0 {
            self.keys.fetch_add(d.keys, Ordering::Relaxed);
        }
        if d.volatile != 0 {
            self.volatile.fetch_add(d.volatile, Ordering::Relaxed);
        }
    }

    /// Keys in one slot (COUNTKEYSINSLOT) without touching the map.
    pub fn slot_len(&self, slot: u16) -> usize {
        self.lock_slot(slot).as_ref().map_or(0, |s| s.len())
    }

    /// Visit every non-empty shard, one lock at a time.
    pub fn for_each_shard(&self, mut f: impl FnMut(u16, &mut SlotShard)) {
        if self.shards.get().is_none() {
            return;
        }
        for slot in 0..SLOTS as u16 {
            let mut g = self.lock_slot(slot);
            if let Some(shard) = g.as_mut() {
                if !shard.is_empty() {
                    f(slot, shard);
                }
            }
        }
    }

    /// For a forked child only (BGSAVE): visit every shard. Locks held at
    /// fork time by threads that do not exist in the child are released.
    #[allow(unsafe_code)]
    pub fn for_each_shard_unlocked_in_child(&self, mut f: impl FnMut(&SlotShard)) {
        for cell in self.shards.get().into_iter().flat_map(|c| c.iter()) {
            if cell.is_locked() {
                // SAFETY: we are the only thread of a forked child, so the
                // owner of this lock does not exist here, and it was not
                // mutating (mutators hold the gate, which the forking
                // thread held exclusively at fork time).
                unsafe { cell.force_unlock() };
            }
            let g = cell.lock();
            if let Some(s) = g.as_deref() {
                f(s);
            }
        }
    }

    /// Visit shards starting at `slot` until `f` returns false.
    pub fn visit_from(&self, start: u16, mut f: impl FnMut(u16, &mut SlotShard) -> bool) {
        if self.shards.get().is_none() {
            return;
        }
        for slot in start..SLOTS as u16 {
            let mut g = self.lock_slot(slot);
            if let Some(shard) = g.as_mut() {
                if !shard.is_empty() && !f(slot, shard) {
                    return;
                }
            }
        }
    }

    /// Does the key physically exist (expired or not)? Used by WATCH on flush.
    pub fn contains_raw(&self, key: &[u8]) -> Option<u64> {
        let g = self.lock_slot(super::key_slot(key));
        g.as_ref().and_then(|s| s.get(key)).map(|e| e.expire_at)
    }
}
