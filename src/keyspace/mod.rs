//! The keyspace: 16 databases, each organised as 16384 slot shards behind
//! their own mutex. This is the only code that locks data.
//!
//! Locking rules: a command locks the slots of its keys in ascending slot
//! order (deadlock freedom); no guard is ever held across `.await`;
//! commands that touch the whole keyspace visit shards one at a time.
//! MULTI/EXEC and keyspace-wide commands (FLUSHALL, SWAPDB) take the
//! `Keyspace::gate` exclusively, every other command takes it shared.

pub mod access;
pub mod blocking;
pub mod db;
pub mod guards;
pub mod key;
mod nodes;
pub mod replica_ttl;
pub mod scan;
pub mod shard;
pub mod slot;
pub mod watch;

pub use db::Db;
pub use guards::KeyGuards;
pub use shard::SlotShard;
pub use slot::{key_slot, SLOTS};

use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::RwLock;

use crate::server::propagate::Propagator;
use crate::server::stats::Stats;
use watch::Watches;

/// All databases plus the hooks every mutation reports to.
pub struct Keyspace {
    dbs: Vec<ArcSwap<Db>>,
    /// Shared by single commands, exclusive for MULTI/EXEC and whole-keyspace ops.
    pub gate: RwLock<()>,
    pub watches: Watches,
    pub blocking: blocking::Blocking,
    pub propagator: Arc<Propagator>,
    pub stats: Arc<Stats>,
    /// Keyspace notifications (notify-keyspace-events).
    pub notify: crate::notify::Notifier,
    /// Replicas hide logically expired keys instead of deleting them.
    replica: std::sync::atomic::AtomicBool,
    /// TTLs set by clients of a writable replica (expired locally).
    pub replica_ttls: replica_ttl::LocalTtls,
    /// Replaying the AOF: nothing expires (Redis's keyIsExpired returns 0
    /// while loading), so a PEXPIREAT in the past followed by a write to
    /// the key replays exactly as it ran.
    loading: std::sync::atomic::AtomicBool,
}

impl Keyspace {
    pub fn new(
        databases: usize,
        propagator: Arc<Propagator>,
        stats: Arc<Stats>,
        pubsub: Arc<crate::pubsub::PubSub>,
    ) -> Keyspace {
        let dbs = (0..databases)
            .map(|i| ArcSwap::from_pointee(Db::new(i)))
            .collect::<Vec<_>>();
        // Database 0 (the only one in cluster mode) gets its slot cells at
        // start, so they count in the start-up memory rather than in the
        // first write's: Redis's lazyfree test expects used_memory after
        // UNLINK of a large set to fall below twice the start-up figure.
        if let Some(db0) = dbs.first() {
            db0.load().allocate_cells();
        }
        Keyspace {
            dbs,
            gate: RwLock::new(()),
            watches: Watches::default(),
            blocking: Default::default(),
            propagator,
            stats,
            notify: crate::notify::Notifier::new(pubsub),
            replica: Default::default(),
            replica_ttls: Default::default(),
            loading: Default::default(),
        }
    }

    pub fn is_replica(&self) -> bool {
        self.replica.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn is_loading(&self) -> bool {
        self.loading.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_loading(&self, on: bool) {
        self.loading.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn set_replica(&self, on: bool) {
        self.replica.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// The database at `index` (callers validate the index).
    pub fn db(&self, index: usize) -> Arc<Db> {
        self.dbs[index].load_full()
    }

    /// Replace database `index` with an empty one; returns the old one so
    /// the caller can drop it off the command path (FLUSHDB ASYNC).
    pub fn replace_db(&self, index: usize) -> Arc<Db> {
        let fresh = Db::new(index);
        // A database in use keeps its slot-cell array across flushes, so
        // the first write after FLUSHALL does not allocate 256 KiB (Redis's
        // maxmemory tests size limits just above the flushed usage).
        if self.dbs[index].load().cells_allocated() {
            fresh.allocate_cells();
        }
        self.dbs[index].swap(Arc::new(fresh))
    }

    /// SWAPDB: exchange two databases. Caller holds the gate exclusively.
    pub fn swap_dbs(&self, a: usize, b: usize) {
        let da = self.dbs[a].load_full();
        let db = self.dbs[b].load_full();
        da.set_index(b);
        db.set_index(a);
        self.dbs[a].store(db);
        self.dbs[b].store(da);
    }
}
