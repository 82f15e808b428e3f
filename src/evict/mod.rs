//! maxmemory: evict keys until used memory is back under the limit, the
//! way Redis 7.0's `performEvictions` (evict.c) does.
//!
//! Dispatch calls [`make_room`] before every command while maxmemory is
//! set; a `Fail` outcome makes DENYOOM commands fail with `-OOM`. One
//! call frees at most what was over the limit when it started, measuring
//! each deletion by the allocator counter, and spends at most the time
//! maxmemory-eviction-tenacity allows (500 µs by default); if memory is
//! still over the limit then, the server cron keeps evicting in the
//! background (Redis's evictionTimeProc) and commands are let through.
//!
//! Victims: random policies take a random key (visiting the databases in
//! turn); LRU, LFU and TTL policies sample `maxmemory-samples` keys per
//! database into the 16-entry pool (pool.rs) and evict its best entry.
//! Each eviction is a normal keyspace deletion (WATCH, counters) and is
//! propagated to the AOF and replicas as `DEL key` under the slot lock.
//! Replicas leave eviction to their primary unless
//! `replica-ignore-maxmemory no`.

pub mod policy;
pub mod pool;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::config::Config;
use crate::keyspace::{access, KeyGuards, Keyspace};
pub use policy::Policy;
use policy::Rank;
use pool::Pool;

/// Result of one eviction attempt (Redis's EVICT_OK/RUNNING/FAIL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or eviction does not apply now).
    Ok,
    /// Still over the limit, eviction continues in the background.
    Running,
    /// Over the limit and nothing may be evicted.
    Fail,
}

/// The candidate pool, shared by every caller; holding it also makes
/// eviction single-threaded, as in Redis.
static POOL: Mutex<Pool> = Mutex::new(Pool::new());
/// Background eviction requested (evictionTimeProc is running).
static RUNNING: AtomicBool = AtomicBool::new(false);
/// Round-robin database for the random policies.
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// Bytes the allocator holds for us (`used_memory`).
pub fn used_memory() -> u64 {
    crate::util::alloc::allocated().unwrap_or(0)
}

/// The configured policy.
pub fn policy(cfg: &Config) -> Policy {
    Policy::from_index(cfg.hot.maxmemory_policy.load(Ordering::Relaxed))
}

/// Push eviction settings that live outside `Config` (the LFU state kept
/// in entries). Call at start-up and after CONFIG SET of a related key.
pub fn apply_config(cfg: &Config) {
    let p = policy(cfg);
    access::set_lfu_mode(p.is_lfu());
    access::set_lfu_params(
        cfg.hot.lfu_log_factor.load(Ordering::Relaxed),
        cfg.hot.lfu_decay_time.load(Ordering::Relaxed),
    );
    POOL.lock().clear();
}

/// Is background eviction pending (for the cron)?
pub fn running() -> bool {
    RUNNING.load(Ordering::Relaxed)
}

/// Ask the cron to keep evicting (CONFIG SET maxmemory inside EXEC).
pub fn request_background() {
    RUNNING.store(true, Ordering::Relaxed);
}

/// Time budget of one call (evictionTimeLimitUs): linear up to 500 µs at
/// tenacity 10, then +15% per step, unlimited at 100.
pub fn time_limit(tenacity: i64) -> Option<Duration> {
    let t = tenacity.clamp(0, 100);
    if t <= 10 {
        Some(Duration::from_micros(50 * t as u64))
    } else if t < 100 {
        Some(Duration::from_micros(
            (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
        ))
    } else {
        None
    }
}

/// Bring used memory back under maxmemory if possible (performEvictions).
/// Never call while holding the keyspace gate or a slot lock.
pub fn make_room(ks: &Keyspace, cfg: &Config) -> Outcome {
    let maxmemory = cfg.hot.maxmemory.load(Ordering::Relaxed);
    if maxmemory <= 0 {
        RUNNING.store(false, Ordering::Relaxed);
        return Outcome::Ok;
    }
    let maxmemory = maxmemory as u64;
    if ks.is_replica() && cfg.hot.replica_ignore_maxmemory.load(Ordering::Relaxed) {
        return Outcome::Ok;
    }
    if used_memory() <= maxmemory {
        RUNNING.store(false, Ordering::Relaxed);
        return Outcome::Ok;
    }
    let policy = policy(cfg);
    if policy == Policy::NoEviction {
        return Outcome::Fail;
    }
    let mut pool = POOL.lock();
    // Another thread may have evicted while we waited for the pool.
    let used = used_memory();
    if used <= maxmemory {
        return Outcome::Ok;
    }
    let tofree = (used - maxmemory) as i64;
    let limit = time_limit(cfg.hot.maxmemory_eviction_tenacity.load(Ordering::Relaxed));
    let start = Instant::now();
    let mut freed = 0i64;
    let mut keys = 0u64;
    let mut ghosts = 0u32;
    while freed < tofree {
        let Some((db, key)) = pick(ks, cfg, policy, &mut pool) else {
            RUNNING.store(false, Ordering::Relaxed);
            return Outcome::Fail;
        };
        let before = used_memory() as i64;
        if !evict_key(ks, db, &key, policy.volatile_only()) {
            // A ghost: deleted or stripped of its TTL since it was sampled.
            ghosts += 1;
            if ghosts > 1000 {
                return Outcome::Fail;
            }
            continue;
        }
        freed += before - used_memory() as i64;
        keys += 1;
        if keys.is_multiple_of(16) && limit.is_some_and(|l| start.elapsed() > l) {
            RUNNING.store(true, Ordering::Relaxed);
            return Outcome::Running;
        }
    }
    RUNNING.store(false, Ordering::Relaxed);
    Outcome::Ok
}

/// The next victim: (database, key).
fn pick(
    ks: &Keyspace,
    cfg: &Config,
    policy: Policy,
    pool: &mut Pool,
) -> Option<(usize, Box<[u8]>)> {
    let vol = policy.volatile_only();
    let count = |i: usize| {
        let db = ks.db(i);
        if vol {
            db.volatile_len()
        } else {
            db.len()
        }
    };
    let dbs = ks.db_count();
    let _gate = ks.gate.read();
    if policy.rank() == Rank::Random {
        for _ in 0..dbs {
            let i = NEXT_DB.fetch_add(1, Ordering::Relaxed).wrapping_add(1) % dbs;
            if count(i) == 0 {
                continue;
            }
            let mut found = None;
            policy::sample(&ks.db(i), vol, 1, |k, _| found = Some(k.into()));
            if let Some(k) = found {
                return Some((i, k));
            }
        }
        return None;
    }
    let samples = cfg.hot.maxmemory_samples.load(Ordering::Relaxed).max(1) as usize;
    let decay = cfg.hot.lfu_decay_time.load(Ordering::Relaxed);
    let rank = policy.rank();
    // Bounded: counters say keys exist, so sampling finds some quickly.
    for _ in 0..64 {
        let mut total = 0;
        for i in 0..dbs {
            if count(i) == 0 {
                continue;
            }
            total += 1;
            policy::sample(&ks.db(i), vol, samples, |k, e| {
                pool.offer(policy::score(rank, e, decay), i, k)
            });
        }
        if total == 0 {
            return None;
        }
        if let Some(c) = pool.pop_best() {
            return Some((c.db, c.key));
        }
    }
    None
}

/// Delete one victim. False if it no longer qualifies (a ghost).
fn evict_key(ks: &Keyspace, db_index: usize, key: &[u8], volatile_only: bool) -> bool {
    let db = ks.db(db_index);
    let now = crate::util::clock::now_ms();
    let mut g = KeyGuards::lock(ks, &db, now, &[key], false);
    if volatile_only && !g.peek(key).is_some_and(|e| e.has_expire()) {
        return false;
    }
    if g.remove(key).is_none() {
        return false;
    }
    ks.stats.evicted_keys.fetch_add(1, Ordering::Relaxed);
    g.notify(crate::notify::class::EVICTED, "evicted", key);
    g.propagate(vec![
        Bytes::from_static(b"DEL"),
        Bytes::copy_from_slice(key),
    ]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenacity_time_limits() {
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(11), Some(Duration::from_micros(575)));
        assert!(time_limit(99).is_some_and(|d| d > Duration::from_secs(60)));
        assert_eq!(time_limit(100), None);
    }
}
