//! Set values: `intset` (small sets of integers) or `hashtable`, with
//! Redis 7.0's set-max-intset-entries threshold.

use std::collections::HashSet;

/// A set of byte strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetValue {
    /// Sorted, deduplicated integers.
    Intset(Vec<i64>),
    Table(HashSet<Box<[u8]>, ahash::RandomState>),
}

impl SetValue {
    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(v) => v.len(),
            SetValue::Table(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }
}
