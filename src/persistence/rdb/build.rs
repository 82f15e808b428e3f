//! Turning decoded elements into keyspace values. The encoding chosen
//! depends on the size thresholds, as when Redis loads a key: a set of
//! small integers becomes an intset, a small hash a listpack, anything
//! larger a hash table. Duplicates, NaN scores and empty collections are
//! rejected like Redis rejects them (`Bad data format` for RESTORE).
//!
//! This is the only place the RDB codec builds collection values, so a
//! change of the value types touches one file.

use std::collections::HashSet;

use super::RdbError;
use crate::types::hash::HashLimits;
use crate::types::{HashValue, ListValue, SetValue, Value, ZSetValue};
use crate::util::numparse::parse_f64;

/// The encoding thresholds in force (the *-max-* directives).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub set_max_intset_entries: usize,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
}

impl Default for Limits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        Limits {
            set_max_intset_entries: 512,
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}

impl Limits {
    /// The thresholds currently configured.
    pub fn from_config(cfg: &crate::config::Config) -> Limits {
        let get = |name: &str| usize::try_from(cfg.get_i64(name)).unwrap_or(0);
        Limits {
            set_max_intset_entries: get("set-max-intset-entries"),
            hash_max_listpack_entries: get("hash-max-listpack-entries"),
            hash_max_listpack_value: get("hash-max-listpack-value"),
            zset_max_listpack_entries: get("zset-max-listpack-entries"),
            zset_max_listpack_value: get("zset-max-listpack-value"),
        }
    }
}

/// A field/value (or member/score text) pair as decoded.
pub type RawPair = (Vec<u8>, Vec<u8>);

fn corrupt(what: &'static str) -> RdbError {
    RdbError::Corrupt(what)
}

pub fn list(items: Vec<Vec<u8>>) -> Result<Value, RdbError> {
    if items.is_empty() {
        return Err(corrupt("Empty list"));
    }
    let mut l = ListValue::default();
    l.items.extend(items.into_iter().map(Vec::into_boxed_slice));
    Ok(Value::List(Box::new(l)))
}

/// A set from its members (plain SET encoding).
pub fn set(members: Vec<Vec<u8>>, lim: &Limits) -> Result<Value, RdbError> {
    if members.is_empty() {
        return Err(corrupt("Empty set"));
    }
    let mut seen = HashSet::with_capacity(members.len());
    if !members.iter().all(|m| seen.insert(m.as_slice())) {
        return Err(corrupt("Duplicate set members detected"));
    }
    Ok(Value::Set(SetValue::from_members(
        &members,
        lim.set_max_intset_entries,
    )))
}

/// A set from an intset blob's integers (already strictly ascending).
pub fn intset(ints: Vec<i64>, lim: &Limits) -> Result<Value, RdbError> {
    if ints.is_empty() {
        return Err(corrupt("Empty set"));
    }
    let mut b = itoa::Buffer::new();
    let members: Vec<Vec<u8>> = ints
        .iter()
        .map(|v| b.format(*v).as_bytes().to_vec())
        .collect();
    Ok(Value::Set(SetValue::from_members(
        &members,
        lim.set_max_intset_entries,
    )))
}

pub fn hash(pairs: Vec<RawPair>, lim: &Limits) -> Result<Value, RdbError> {
    if pairs.is_empty() {
        return Err(corrupt("Empty hash"));
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    if !pairs.iter().all(|(f, _)| seen.insert(f.as_slice())) {
        return Err(corrupt("Duplicate hash fields detected"));
    }
    let hl = HashLimits {
        max_entries: lim.hash_max_listpack_entries,
        max_value: lim.hash_max_listpack_value,
    };
    Ok(Value::Hash(HashValue::from_pairs(pairs, hl)))
}

/// Flat `field value field value …` elements of a ziplist/listpack hash.
pub fn hash_flat(items: Vec<Vec<u8>>, lim: &Limits) -> Result<Value, RdbError> {
    hash(pairs_of(items)?, lim)
}

fn pairs_of(items: Vec<Vec<u8>>) -> Result<Vec<RawPair>, RdbError> {
    if !items.len().is_multiple_of(2) {
        return Err(corrupt("Odd number of elements in a pair encoding"));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

pub fn zset(pairs: Vec<(Vec<u8>, f64)>, lim: &Limits) -> Result<Value, RdbError> {
    if pairs.is_empty() {
        return Err(corrupt("Empty zset"));
    }
    if pairs.iter().any(|(_, s)| s.is_nan()) {
        return Err(corrupt("Zset with NAN score detected"));
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    if !pairs.iter().all(|(m, _)| seen.insert(m.as_slice())) {
        return Err(corrupt("Duplicate zset fields detected"));
    }
    let zl = crate::types::zset::Limits {
        max_entries: lim.zset_max_listpack_entries,
        max_value: lim.zset_max_listpack_value,
    };
    Ok(Value::ZSet(ZSetValue::from_pairs(pairs, zl)))
}

/// Flat `member score member score …` elements of a ziplist/listpack zset.
pub fn zset_flat(items: Vec<Vec<u8>>, lim: &Limits) -> Result<Value, RdbError> {
    let mut v = Vec::with_capacity(items.len() / 2);
    for (m, s) in pairs_of(items)? {
        let score = parse_f64(&s).ok_or(corrupt("Bad zset score"))?;
        v.push((m, score));
    }
    zset(v, lim)
}
