//! Active expiry: reclaims logically expired keys that nobody reads.
//!
//! Redis samples its per-db `expires` dict (20 keys per loop) and keeps
//! going while more than 10% of the sample was expired, within 25% of
//! CPU per cycle. Our keyspace is already split into 16384 slot shards
//! with a per-shard count of volatile keys, so the cycle walks shards
//! round-robin (skipping shards without volatile keys), clears every
//! expired key of the visited shard, and stops when its time budget
//! (`1000/hz` ms × 25%) is spent; the cursor resumes there next tick.
//! A cycle that hit its budget is reported as
//! `expired_time_cap_reached_count`, like Redis.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::keyspace::{Keyspace, SLOTS};

/// Where the next cycle resumes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cursor {
    pub db: usize,
    pub slot: usize,
}

/// Run one cycle with the given budget. Returns the number of keys removed.
pub fn cycle(ks: &Keyspace, cur: &mut Cursor, now_ms: u64, budget: Duration) -> u64 {
    let start = Instant::now();
    let mut removed = 0u64;
    let dbs = ks.db_count();
    // Each database is visited at most once per cycle (plus the one the
    // cursor resumes in); databases without volatile keys cost one check.
    for _ in 0..=dbs {
        if cur.db >= dbs {
            cur.db = 0;
        }
        let db = ks.db(cur.db);
        if db.volatile_len() > 0 {
            while cur.slot < SLOTS {
                removed += expire_slot(ks, &db, cur.slot as u16, now_ms);
                cur.slot += 1;
                if start.elapsed() >= budget {
                    ks.stats
                        .expired_time_cap_reached_count
                        .fetch_add(1, Ordering::Relaxed);
                    return removed;
                }
            }
        }
        cur.slot = 0;
        cur.db += 1;
    }
    removed
}

fn expire_slot(ks: &Keyspace, db: &crate::keyspace::Db, slot: u16, now_ms: u64) -> u64 {
    let _gate = ks.gate.read();
    let mut g = db.lock_slot(slot);
    let Some(shard) = g.as_mut() else { return 0 };
    let expired = shard.take_expired(now_ms, usize::MAX);
    if expired.is_empty() {
        return 0;
    }
    if shard.is_empty() {
        *g = None;
    }
    let n = expired.len() as u64;
    db.account(crate::keyspace::shard::Delta {
        keys: -(n as i64),
        volatile: -(n as i64),
    });
    ks.stats.expired_keys.fetch_add(n, Ordering::Relaxed);
    let mut effects = Vec::with_capacity(expired.len());
    for k in &expired {
        ks.watches.touch(db.index(), k, false);
        ks.notify
            .keyspace_event(crate::notify::class::EXPIRED, "expired", k, db.index());
        effects.push(vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(k)]);
    }
    // Still under the shard lock: keeps per-slot order in the stream.
    ks.propagator.append(db.index(), effects);
    n
}
