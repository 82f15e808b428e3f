//! Sorted set values: `listpack` (small) or `skiplist` encodings, with
//! Redis's zset-max-listpack-entries / -value thresholds.

/// A sorted set ordered by (score, member).
#[derive(Debug, Clone, PartialEq)]
pub enum ZSetValue {
    /// Small sorted sets: (member, score) pairs kept sorted by (score, member).
    Listpack(Vec<(Box<[u8]>, f64)>),
}

impl ZSetValue {
    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
        }
    }
}
