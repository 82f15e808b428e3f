//! The eviction pool: the best candidates seen so far, kept across
//! eviction cycles (Redis's EvictionPoolLRU, EVPOOL_SIZE 16).
//!
//! Sampling a handful of keys per round only approximates LRU; keeping
//! the best candidates of earlier rounds is what makes the approximation
//! good. Entries are sorted by ascending score ("idle": higher means a
//! better victim); the best candidate is at the end. A candidate may have
//! been deleted or touched since it was sampled: the caller re-checks it
//! under the slot lock and treats a missing key as a ghost.

/// Redis's EVPOOL_SIZE.
pub const POOL_SIZE: usize = 16;

/// One candidate: its score, its database and a copy of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub idle: u64,
    pub db: usize,
    pub key: Box<[u8]>,
}

/// At most `POOL_SIZE` candidates, ascending by score.
#[derive(Debug, Default)]
pub struct Pool {
    entries: Vec<Candidate>,
}

impl Pool {
    pub const fn new() -> Pool {
        Pool {
            entries: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Offer a sampled key. A full pool only accepts keys that score
    /// better than its worst entry, which is then dropped.
    pub fn offer(&mut self, idle: u64, db: usize, key: &[u8]) {
        // Re-sampling a key already pooled refreshes its score.
        if let Some(i) = self
            .entries
            .iter()
            .position(|c| c.db == db && &*c.key == key)
        {
            self.entries.remove(i);
        }
        let k = self.entries.partition_point(|c| c.idle < idle);
        if self.entries.len() == POOL_SIZE {
            if k == 0 {
                return;
            }
            self.entries.remove(0);
            self.entries.insert(k - 1, candidate(idle, db, key));
        } else {
            self.entries.insert(k, candidate(idle, db, key));
        }
    }

    /// Take the best candidate out of the pool.
    pub fn pop_best(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }

    /// Forget every candidate (policy change, FLUSHALL).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

fn candidate(idle: u64, db: usize, key: &[u8]) -> Candidate {
    Candidate {
        idle,
        db,
        key: key.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_sixteen_in_order() {
        let mut p = Pool::default();
        for i in 0..40u64 {
            // Scores arrive out of order: 0, 7, 14, ... mod 40.
            let s = (i * 7) % 40;
            p.offer(s, 0, format!("k{s}").as_bytes());
        }
        assert_eq!(p.len(), POOL_SIZE);
        let mut got = Vec::new();
        while let Some(c) = p.pop_best() {
            got.push(c.idle);
        }
        let want: Vec<u64> = (24..40).rev().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn full_pool_rejects_worse_keys_and_dedups() {
        let mut p = Pool::default();
        for i in 0..POOL_SIZE as u64 {
            p.offer(100 + i, 0, format!("k{i}").as_bytes());
        }
        p.offer(1, 0, b"low");
        assert!(p.entries.iter().all(|c| &*c.key != b"low"));
        p.offer(500, 0, b"k0");
        assert_eq!(p.len(), POOL_SIZE);
        assert_eq!(p.pop_best().map(|c| c.key), Some(b"k0".to_vec().into()));
        // Same name in another db is another candidate.
        p.offer(600, 1, b"k1");
        assert_eq!(p.pop_best().map(|c| (c.db, c.idle)), Some((1, 600)));
    }
}
