//! Hash values: `listpack` (small, compact) or `hashtable` encodings, with
//! Redis's hash-max-listpack-entries / -value thresholds.

use std::collections::HashMap;

/// One field/value pair of a small hash.
pub type Pair = (Box<[u8]>, Box<[u8]>);

/// A hash of field → value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashValue {
    /// Small hashes: field/value pairs in insertion order.
    Listpack(Vec<Pair>),
    Table(HashMap<Box<[u8]>, Box<[u8]>, ahash::RandomState>),
}

impl HashValue {
    pub fn len(&self) -> usize {
        match self {
            HashValue::Listpack(v) => v.len(),
            HashValue::Table(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Listpack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }
}
