//! Set values with Redis 7.0's encodings and conversion rules (t_set.c):
//! `intset` (sorted integers) while every member is a canonical i64 and the
//! set has at most set-max-intset-entries members, then `hashtable`, never
//! back. A set created for a first member is an intset only if that member
//! is an integer (setTypeCreate); temporary result sets of SUNION, SDIFF
//! and SINTERSTORE start as empty intsets (createIntsetObject).
//!
//! The hashtable form is an `IndexSet`: O(1) random members for SPOP and
//! SRANDMEMBER, and a scan cursor that survives growth (see `cursor.rs`).

use bytes::Bytes;
use indexmap::IndexSet;

use crate::util::numparse::parse_i64;

pub type Table = IndexSet<Box<[u8]>, ahash::RandomState>;

/// A set of byte strings.
#[derive(Debug, Clone)]
pub enum SetValue {
    /// Sorted, deduplicated integers.
    Intset(Vec<i64>),
    /// Boxed so `Value` stays small.
    Table(Box<Table>),
}

impl Default for SetValue {
    /// An empty intset (createIntsetObject).
    fn default() -> Self {
        SetValue::Intset(Vec::new())
    }
}

impl PartialEq for SetValue {
    /// Same members, whatever the encodings.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.members().iter().all(|m| other.contains(m))
    }
}

impl Eq for SetValue {}

fn int_bytes(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

impl SetValue {
    /// setTypeCreate: an intset if `first` is an integer, else a table.
    pub fn for_member(first: &[u8]) -> SetValue {
        if parse_i64(first).is_some() {
            SetValue::default()
        } else {
            SetValue::Table(Box::default())
        }
    }

    /// Build from members (RDB load, rebuilt sets): intset when every
    /// member is an integer and they fit in `max_intset`.
    pub fn from_members<M: AsRef<[u8]>>(members: &[M], max_intset: usize) -> SetValue {
        let mut s = SetValue::default();
        if members.len() > max_intset {
            s.convert(members.len());
        }
        for m in members {
            s.add(m.as_ref(), max_intset);
        }
        s
    }

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

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => parse_i64(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            SetValue::Table(s) => s.contains(member),
        }
    }

    /// The member at position `i` of the encoding's order.
    pub fn member_at(&self, i: usize) -> Option<Bytes> {
        match self {
            SetValue::Intset(v) => v.get(i).map(|n| int_bytes(*n)),
            SetValue::Table(s) => s.get_index(i).map(|m| Bytes::copy_from_slice(m)),
        }
    }

    /// Every member, in the encoding's order (sorted for intsets).
    pub fn members(&self) -> Vec<Bytes> {
        match self {
            SetValue::Intset(v) => v.iter().map(|n| int_bytes(*n)).collect(),
            SetValue::Table(s) => s.iter().map(|m| Bytes::copy_from_slice(m)).collect(),
        }
    }

    fn convert(&mut self, capacity: usize) {
        if let SetValue::Intset(v) = self {
            let mut t = Table::with_capacity_and_hasher(capacity.max(v.len()), Default::default());
            for n in v.iter() {
                t.insert(itoa::Buffer::new().format(*n).as_bytes().into());
            }
            *self = SetValue::Table(Box::new(t));
        }
    }

    /// setTypeAdd. Returns true if the member is new.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let SetValue::Intset(v) = self {
            match parse_i64(member) {
                Some(n) => {
                    let Err(pos) = v.binary_search(&n) else {
                        return false;
                    };
                    // Exact growth: an intset is reallocated per insert in
                    // Redis too, and doubling would waste up to half.
                    v.reserve_exact(1);
                    v.insert(pos, n);
                    if v.len() > max_intset {
                        self.convert(0);
                    }
                    return true;
                }
                None => self.convert(0),
            }
        }
        match self {
            SetValue::Table(s) => {
                if s.contains(member) {
                    false
                } else {
                    s.insert(member.into())
                }
            }
            SetValue::Intset(_) => false,
        }
    }

    /// Remove a member. Returns true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => match parse_i64(member).map(|n| v.binary_search(&n)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            SetValue::Table(s) => s.swap_remove(member),
        }
    }

    /// Remove and return the member at position `i`.
    pub fn take_at(&mut self, i: usize) -> Option<Bytes> {
        match self {
            SetValue::Intset(v) => (i < v.len()).then(|| int_bytes(v.remove(i))),
            SetValue::Table(s) => s.swap_remove_index(i).map(Bytes::from),
        }
    }

    /// Release spare capacity after bulk removals.
    pub fn shrink(&mut self) {
        match self {
            SetValue::Intset(v) => v.shrink_to_fit(),
            SetValue::Table(s) => {
                if s.capacity() > 4 * s.len().max(4) {
                    s.shrink_to_fit();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_rules() {
        let mut s = SetValue::for_member(b"5");
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"5", 3));
        assert!(!s.add(b"5", 3));
        assert!(s.add(b"-1", 3));
        assert!(s.add(b"9", 3));
        assert_eq!(s.members(), vec!["-1", "5", "9"]);
        assert!(s.contains(b"9"));
        assert!(!s.contains(b"09"));
        assert!(s.add(b"10", 3));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"10") && s.contains(b"-1"));
        assert!(s.remove(b"10"));
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn non_integer_converts() {
        let mut s = SetValue::default();
        s.add(b"1", 512);
        s.add(b"01", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 2);
        assert_eq!(SetValue::for_member(b"a\x00b").encoding(), "hashtable");
    }

    #[test]
    fn from_members_and_take() {
        let mut s = SetValue::from_members(&["3", "1", "2"], 512);
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.take_at(0), Some(Bytes::from("1")));
        let t = SetValue::from_members(&["3", "1", "2"], 2);
        assert_eq!(t.encoding(), "hashtable");
        s.add(b"1", 512);
        assert_eq!(s, t);
    }
}
