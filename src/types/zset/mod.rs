//! Sorted set values: the small `listpack` encoding (one packed buffer) and
//! the large `skiplist` encoding (order-statistics skiplist + hash index),
//! with Redis 7.0's conversion rules: a listpack turns into a skiplist when
//! an insert would exceed zset-max-listpack-entries or a member is longer
//! than zset-max-listpack-value; a skiplist only turns back into a listpack
//! for freshly built results (ZRANGESTORE, Z*STORE, RDB load) that are small.
//!
//! Both encodings expose the same rank-based API: every range query is
//! "count the prefix before the range, count the prefix up to its end,
//! then iterate that rank window".

pub mod listpack;
pub mod range;
pub mod skiplist;
#[cfg(test)]
mod tests;

pub use listpack::Listpack;
pub use range::{LexBound, LexRange, ScoreRange};
pub use skiplist::SkipList;

/// zset-max-listpack-entries / zset-max-listpack-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// A sorted set ordered by (score, member).
#[derive(Debug, Clone, PartialEq)]
pub enum ZSetValue {
    Listpack(Listpack),
    Skiplist(Box<SkipList>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Listpack(Listpack::default())
    }
}

/// Iterator over a rank window of either encoding.
pub enum RangeIter<'a> {
    Lp(std::vec::IntoIter<(&'a [u8], f64)>),
    Sk(skiplist::Iter<'a>),
}

impl<'a> Iterator for RangeIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            RangeIter::Lp(i) => i.next(),
            RangeIter::Sk(i) => i.next(),
        }
    }
}

impl ZSetValue {
    /// An empty set in the encoding Redis picks for a new key whose first
    /// member is `first_len` bytes long.
    pub fn new_for(first_len: usize, lim: Limits) -> ZSetValue {
        if lim.max_entries == 0 || first_len > lim.max_value {
            ZSetValue::Skiplist(Box::default())
        } else {
            ZSetValue::Listpack(Listpack::default())
        }
    }

    /// Build from distinct (member, score) pairs in any order, choosing the
    /// encoding as Redis does for a freshly built set (RDB load, Z*STORE).
    pub fn from_pairs<M: AsRef<[u8]>>(pairs: Vec<(M, f64)>, lim: Limits) -> ZSetValue {
        let small = pairs.len() <= lim.max_entries
            && pairs.iter().all(|(m, _)| m.as_ref().len() <= lim.max_value);
        if small {
            let mut v: Vec<(M, f64)> = pairs;
            v.sort_by(|a, b| {
                a.1.partial_cmp(&b.1)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.0.as_ref().cmp(b.0.as_ref()))
            });
            let mut lp = Listpack::default();
            for (m, s) in v.iter().rev() {
                // Inserting in descending order always hits offset 0.
                lp.insert_new(m.as_ref(), *s);
            }
            ZSetValue::Listpack(lp)
        } else {
            let mut sl = SkipList::with_capacity(pairs.len());
            for (m, s) in pairs {
                sl.insert_new(m.as_ref().into(), s);
            }
            ZSetValue::Skiplist(Box::new(sl))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(l) => l.len(),
            ZSetValue::Skiplist(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
            ZSetValue::Skiplist(_) => "skiplist",
        }
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(l) => l.score(m),
            ZSetValue::Skiplist(s) => s.score(m),
        }
    }

    /// 0-based ascending rank of a member.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        match self {
            ZSetValue::Listpack(l) => l.rank(m),
            ZSetValue::Skiplist(s) => s.rank(m),
        }
    }

    /// Convert a listpack to a skiplist (no-op for a skiplist).
    pub fn convert_to_skiplist(&mut self) {
        if let ZSetValue::Listpack(l) = self {
            let mut sl = SkipList::with_capacity(l.len());
            for (m, s) in l.iter() {
                sl.insert_new(m.into(), s);
            }
            *self = ZSetValue::Skiplist(Box::new(sl));
        }
    }

    /// Convert a small skiplist back to a listpack (Z*STORE results).
    pub fn shrink_if_small(&mut self, lim: Limits) {
        if let ZSetValue::Skiplist(s) = self {
            let n = s.len();
            if n <= lim.max_entries
                && s.iter_range(0, n, false)
                    .all(|(m, _)| m.len() <= lim.max_value)
            {
                let mut lp = Listpack::default();
                for (m, sc) in s.iter_range(0, n, true) {
                    lp.insert_new(m, sc);
                }
                *self = ZSetValue::Listpack(lp);
            }
        }
    }

    /// Add a member or change its score. Returns true if it was added.
    pub fn upsert(&mut self, m: &[u8], score: f64, lim: Limits) -> bool {
        match self {
            ZSetValue::Listpack(l) => {
                if l.set_score(m, score) {
                    return false;
                }
                if l.len() + 1 > lim.max_entries || m.len() > lim.max_value {
                    self.convert_to_skiplist();
                    return self.upsert(m, score, lim);
                }
                l.insert_new(m, score);
                true
            }
            ZSetValue::Skiplist(s) => {
                if s.set_score(m, score) {
                    return false;
                }
                s.insert_new(m.into(), score);
                true
            }
        }
    }

    /// Remove a member; returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(l) => l.remove(m),
            ZSetValue::Skiplist(s) => s.remove(m),
        }
    }

    /// How many elements (a prefix of the order) satisfy `pred`.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Listpack(l) => l.count_while(pred),
            ZSetValue::Skiplist(s) => s.count_while(pred),
        }
    }

    /// Rank window [lo, hi) of the elements inside a score range.
    pub fn score_window(&self, r: &ScoreRange) -> (usize, usize) {
        let lo = self.count_while(|s, _| r.below_min(s));
        let hi = self.count_while(|s, _| r.within_max(s));
        (lo, hi.max(lo))
    }

    /// Rank window [lo, hi) of the elements inside a lex range.
    pub fn lex_window(&self, r: &LexRange) -> (usize, usize) {
        let lo = self.count_while(|_, m| r.below_min(m));
        let hi = self.count_while(|_, m| r.within_max(m));
        (lo, hi.max(lo))
    }

    /// Elements with rank in `start..end`, from `end - 1` down when `rev`.
    pub fn iter_range(&self, start: usize, end: usize, rev: bool) -> RangeIter<'_> {
        match self {
            ZSetValue::Listpack(l) => RangeIter::Lp(l.iter_range(start, end, rev)),
            ZSetValue::Skiplist(s) => RangeIter::Sk(s.iter_range(start, end, rev)),
        }
    }

    /// All elements in ascending order.
    pub fn iter(&self) -> RangeIter<'_> {
        self.iter_range(0, self.len(), false)
    }

    /// The element at a 0-based rank.
    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_range(rank, rank + 1, false).next()
    }

    /// Remove the elements with rank in `start..end`; returns how many.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let victims: Vec<Box<[u8]>> = self
            .iter_range(start, end, false)
            .map(|(m, _)| m.into())
            .collect();
        for m in &victims {
            self.remove(m);
        }
        victims.len()
    }
}
