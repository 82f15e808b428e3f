//! The value stored under a key and its per-key metadata.

use super::{HashValue, ListValue, SetValue, StrValue, ZSetValue};

/// A Redis value, 24 bytes (a string's size): every key pays for the enum.
/// Hashes, sets and sorted sets are tagged pointers whose small encodings
/// are thin packed buffers, so they sit inline: a small collection costs
/// one allocation, as a Redis listpack does (Redis adds a 16-byte robj).
/// Lists are boxed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(StrValue),
    List(Box<ListValue>),
    Hash(HashValue),
    Set(SetValue),
    ZSet(ZSetValue),
}

impl Value {
    /// TYPE's reply.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// OBJECT ENCODING's reply.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }
}

/// A keyspace entry: value, absolute expiry and access metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Absolute unix time in ms; 0 = no expiry.
    pub expire_at: u64,
    /// 24-bit LRU clock (seconds resolution) or LFU (16-bit minutes + 8-bit counter),
    /// depending on maxmemory-policy, as Redis's `robj.lru`.
    pub lru: u32,
}

impl Entry {
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_at: 0,
            lru: 0,
        }
    }

    pub fn has_expire(&self) -> bool {
        self.expire_at != 0
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at < now_ms
    }
}

#[cfg(test)]
mod tests {
    /// Per-key memory depends on these sizes (scripts/memefficiency.sh).
    #[test]
    fn entry_stays_small() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
        assert_eq!(std::mem::size_of::<super::Entry>(), 40);
    }
}
