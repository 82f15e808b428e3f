//! The eight maxmemory policies, how each scores a key, and how keys are
//! sampled from a database.
//!
//! Redis samples `maxmemory-samples` keys from a few consecutive buckets
//! of one dict (dictGetSomeKeys). Our keyspace is 16384 slot shards per
//! database, so sampling starts at a random slot and a random position
//! inside that shard, and walks on through consecutive non-empty shards
//! until it has enough keys. Shards without any candidate (no volatile key
//! under a volatile-* policy) are skipped on their counters alone.

use crate::keyspace::{access, Db, SLOTS};
use crate::types::Entry;

/// maxmemory-policy, in the order of the config table's enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

/// What a policy ranks keys by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    Lru,
    Lfu,
    Ttl,
    Random,
    None,
}

impl Policy {
    /// From the position in the config enum (Config::hot.maxmemory_policy).
    pub fn from_index(i: i64) -> Policy {
        match i {
            0 => Policy::VolatileLru,
            1 => Policy::VolatileLfu,
            2 => Policy::VolatileRandom,
            3 => Policy::VolatileTtl,
            4 => Policy::AllkeysLru,
            5 => Policy::AllkeysLfu,
            6 => Policy::AllkeysRandom,
            _ => Policy::NoEviction,
        }
    }

    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s.to_ascii_lowercase().as_str() {
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "noeviction" => Policy::NoEviction,
            _ => return None,
        })
    }

    /// Only keys with an expiry may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    pub fn rank(self) -> Rank {
        match self {
            Policy::VolatileLru | Policy::AllkeysLru => Rank::Lru,
            Policy::VolatileLfu | Policy::AllkeysLfu => Rank::Lfu,
            Policy::VolatileTtl => Rank::Ttl,
            Policy::VolatileRandom | Policy::AllkeysRandom => Rank::Random,
            Policy::NoEviction => Rank::None,
        }
    }

    /// Does the policy keep LFU counters (rather than LRU clocks) in entries?
    pub fn is_lfu(self) -> bool {
        self.rank() == Rank::Lfu
    }
}

/// A key's score as a victim: higher is evicted first (Redis's "idle").
pub fn score(rank: Rank, e: &Entry, lfu_decay_time: i64) -> u64 {
    match rank {
        // estimateObjectIdleTime: milliseconds at the clock's resolution.
        Rank::Lru => access::idle_secs(e.lru) * 1000,
        Rank::Lfu => 255 - u64::from(access::lfu_decayed(e.lru, lfu_decay_time).min(255)),
        // The sooner the expiry, the better the victim.
        Rank::Ttl => u64::MAX - e.expire_at,
        Rank::Random | Rank::None => 0,
    }
}

/// Visit up to `count` keys of `db` (only keys with an expiry when
/// `volatile_only`), starting at a random point. The caller holds the
/// keyspace gate shared; one slot is locked at a time.
pub fn sample(db: &Db, volatile_only: bool, count: usize, mut visit: impl FnMut(&[u8], &Entry)) {
    let mut found = 0usize;
    let start = rand::random::<usize>() % SLOTS;
    for i in 0..SLOTS {
        let slot = ((start + i) % SLOTS) as u16;
        let g = db.lock_slot(slot);
        let Some(shard) = g.as_deref() else { continue };
        let candidates = if volatile_only {
            shard.volatile
        } else {
            shard.len()
        };
        if candidates == 0 {
            continue;
        }
        // Bounded skip: a huge single shard (every key behind one hash
        // tag) must not make each sample O(keys).
        let offset = rand::random::<usize>() % shard.len().min(1024);
        for (k, e) in shard.iter_from(offset) {
            if volatile_only && !e.has_expire() {
                continue;
            }
            visit(k, e);
            found += 1;
            if found == count {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_all_eight() {
        for (s, vol) in [
            ("volatile-lru", true),
            ("volatile-lfu", true),
            ("volatile-random", true),
            ("volatile-ttl", true),
            ("allkeys-lru", false),
            ("allkeys-lfu", false),
            ("allkeys-random", false),
            ("noeviction", false),
        ] {
            let p = Policy::parse(s).expect("known policy");
            assert_eq!(p.volatile_only(), vol, "{s}");
        }
        assert_eq!(Policy::parse("lru"), None);
        assert!(Policy::AllkeysLfu.is_lfu());
        assert_eq!(Policy::NoEviction.rank(), Rank::None);
    }

    #[test]
    fn ttl_scores_sooner_expiry_higher() {
        let mut a = Entry::new(crate::types::Value::Str(crate::types::StrValue::Int(1)));
        let mut b = a.clone();
        a.expire_at = 1_000;
        b.expire_at = 2_000;
        assert!(score(Rank::Ttl, &a, 1) > score(Rank::Ttl, &b, 1));
    }
}
