//! Hash values with Redis 7.0's two encodings and conversion rules:
//! `listpack` while the hash has at most hash-max-listpack-entries fields
//! and every field and value is at most hash-max-listpack-value bytes,
//! then `hashtable`, never back (t_hash.c hashTypeTryConversion and
//! hashTypeSet).
//!
//! The small form is `PackedPairs` (one buffer, insertion order). The large
//! form is an `IndexSet` of `TableEntry`s: each field and its value share
//! one allocation, and the index gives O(1) random access (HRANDFIELD) and
//! a scan cursor that survives growth and removals (see `cursor.rs`).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use indexmap::IndexSet;

use super::packed::{self, PackedPairs};

/// The conversion thresholds (hash-max-listpack-entries / -value).
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits {
            max_entries: 512,
            max_value: 64,
        }
    }
}

/// One field and its value in a single allocation: the field as
/// length-prefixed bytes, then the value up to the end. Hashing and
/// equality look at the field only, so the set acts as a map.
#[derive(Debug, Clone)]
pub struct TableEntry(Box<[u8]>);

impl TableEntry {
    pub fn new(field: &[u8], value: &[u8]) -> TableEntry {
        let mut buf = Vec::with_capacity(field.len() + value.len() + 2);
        packed::put(&mut buf, field);
        buf.extend_from_slice(value);
        TableEntry(buf.into_boxed_slice())
    }

    pub fn field(&self) -> &[u8] {
        let (s, e) = packed::read(&self.0, 0);
        self.0.get(s..e).unwrap_or_default()
    }

    pub fn value(&self) -> &[u8] {
        let (_, e) = packed::read(&self.0, 0);
        self.0.get(e..).unwrap_or_default()
    }
}

impl Hash for TableEntry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.field().hash(state);
    }
}

impl PartialEq for TableEntry {
    fn eq(&self, other: &Self) -> bool {
        self.field() == other.field()
    }
}

impl Eq for TableEntry {}

impl Borrow<[u8]> for TableEntry {
    fn borrow(&self) -> &[u8] {
        self.field()
    }
}

pub type Table = IndexSet<TableEntry, crate::util::hasher::Shared>;

/// A hash of field → value.
#[derive(Debug, Clone)]
pub enum HashValue {
    /// Small hashes: pairs in insertion order.
    Listpack(PackedPairs),
    /// Large hashes (boxed so `Value` stays small).
    Table(Box<Table>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Listpack(PackedPairs::default())
    }
}

impl PartialEq for HashValue {
    /// Same fields with the same values, whatever the encodings.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Eq for HashValue {}

/// Pairs of either encoding.
pub enum Iter<'a> {
    Packed(Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a>),
    Table(indexmap::set::Iter<'a, TableEntry>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(it) => it.next(),
            Iter::Table(it) => it.next().map(|e| (e.field(), e.value())),
        }
    }
}

impl HashValue {
    /// Build from loaded pairs (RDB), choosing the encoding Redis would.
    pub fn from_pairs<F, V>(pairs: Vec<(F, V)>, lim: HashLimits) -> HashValue
    where
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut h = HashValue::default();
        let too_long = pairs
            .iter()
            .any(|(f, v)| f.as_ref().len() > lim.max_value || v.as_ref().len() > lim.max_value);
        if too_long || pairs.len() > lim.max_entries {
            h.convert();
        }
        for (f, v) in &pairs {
            h.set(f.as_ref(), v.as_ref(), lim);
        }
        h
    }

    pub fn len(&self) -> usize {
        match self {
            HashValue::Listpack(p) => p.len(),
            HashValue::Table(t) => t.len(),
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

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Listpack(p) => p.get(field),
            HashValue::Table(t) => t.get(field).map(TableEntry::value),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    pub fn iter(&self) -> Iter<'_> {
        match self {
            HashValue::Listpack(p) => Iter::Packed(Box::new(p.iter())),
            HashValue::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// The pair at position `i` of the encoding's order (random sampling,
    /// scan cursors). O(1) for tables, linear for the small form.
    pub fn pair_at(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Listpack(p) => p.nth(i),
            HashValue::Table(t) => t.get_index(i).map(|e| (e.field(), e.value())),
        }
    }

    /// Switch to the hashtable encoding (never reverts).
    fn convert(&mut self) {
        if let HashValue::Listpack(p) = self {
            let mut t = Table::with_capacity_and_hasher(p.len(), Default::default());
            for (f, v) in p.iter() {
                t.insert(TableEntry::new(f, v));
            }
            *self = HashValue::Table(Box::new(t));
        }
    }

    /// hashTypeTryConversion: convert before a write whose arguments
    /// include a string longer than hash-max-listpack-value.
    pub fn try_conversion<'a>(
        &mut self,
        args: impl IntoIterator<Item = &'a [u8]>,
        lim: HashLimits,
    ) {
        if matches!(self, HashValue::Listpack(_))
            && args.into_iter().any(|a| a.len() > lim.max_value)
        {
            self.convert();
        }
    }

    /// Insert or update (hashTypeSet). Returns true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: HashLimits) -> bool {
        if matches!(self, HashValue::Listpack(_))
            && (field.len() > lim.max_value || value.len() > lim.max_value)
        {
            self.convert();
        }
        match self {
            HashValue::Listpack(p) => {
                let new = p.set(field, value);
                if p.len() > lim.max_entries {
                    self.convert();
                }
                new
            }
            HashValue::Table(t) => {
                let (_, old) = t.replace_full(TableEntry::new(field, value));
                old.is_none()
            }
        }
    }

    /// Remove a field. Returns true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Listpack(p) => p.remove(field),
            HashValue::Table(t) => t.swap_remove(field),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(entries: usize, value: usize) -> HashLimits {
        HashLimits {
            max_entries: entries,
            max_value: value,
        }
    }

    #[test]
    fn listpack_until_entries_limit() {
        let mut h = HashValue::default();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", lim(4, 64)));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(h.set(b"f4", b"v", lim(4, 64)));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        for i in 0..5 {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        assert_eq!(h.encoding(), "hashtable");
        assert!(h.is_empty());
    }

    #[test]
    fn long_value_converts() {
        let mut h = HashValue::default();
        h.set(b"a", &[b'x'; 64], HashLimits::default());
        assert_eq!(h.encoding(), "listpack");
        h.set(b"a", &[b'x'; 65], HashLimits::default());
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a").map(<[u8]>::len), Some(65));
        let mut h2 = HashValue::default();
        h2.try_conversion([&b"short"[..], &[0u8; 65][..]], HashLimits::default());
        assert_eq!(h2.encoding(), "hashtable");
    }

    #[test]
    fn table_update_and_lookup() {
        let mut h = HashValue::from_pairs(vec![(b"a".to_vec(), b"1".to_vec())], lim(0, 64));
        assert_eq!(h.encoding(), "hashtable");
        assert!(!h.set(b"a", b"2", lim(0, 64)));
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
        assert_eq!(h.pair_at(0), Some((&b"a"[..], &b"2"[..])));
        let same = HashValue::from_pairs(vec![(b"a", b"2")], HashLimits::default());
        assert_eq!(same.encoding(), "listpack");
        assert_eq!(h, same);
    }

    #[test]
    fn from_pairs_respects_value_limit() {
        let h = HashValue::from_pairs(vec![(b"f".to_vec(), vec![0u8; 100])], HashLimits::default());
        assert_eq!(h.encoding(), "hashtable");
    }
}
