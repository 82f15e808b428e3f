//! Set values with Redis 7.0's encodings and conversion rules (t_set.c):
//! `intset` (sorted integers) while every member is a canonical i64 and the
//! set has at most set-max-intset-entries members, then `hashtable`, never
//! back. A set created for a first member is an intset only if that member
//! is an integer (setTypeCreate); temporary result sets of SUNION, SDIFF
//! and SINTERSTORE start as empty intsets (createIntsetObject).
//!
//! The hashtable form has two shapes that OBJECT ENCODING both reports as
//! `hashtable`: a packed list while the set has at most `SMALL_MAX`
//! members of at most `SMALL_VALUE` bytes (what Redis 7.2 made its
//! `listpack` set encoding; Redis 7.0 spends a dict, ~230 bytes, on a
//! one-member set), then an `IndexSet`: O(1) random members for SPOP and
//! SRANDMEMBER, and a scan cursor that survives growth (see `cursor.rs`).

use bytes::Bytes;
use indexmap::IndexSet;

use super::intset::IntSet;
use super::packed::PackedList;
use crate::util::numparse::parse_i64;

pub type Table = IndexSet<Box<[u8]>, crate::util::hasher::Shared>;

/// Most members a packed `hashtable` set holds (Redis 7.2's
/// set-max-listpack-entries default).
pub const SMALL_MAX: usize = 128;
/// Longest member a packed `hashtable` set holds.
pub const SMALL_VALUE: usize = 64;

/// A set of byte strings.
#[derive(Debug, Clone)]
pub enum SetValue {
    /// Sorted, deduplicated integers.
    Intset(IntSet),
    /// A small set of strings (reported as `hashtable`).
    Small(PackedList),
    /// Boxed so `Value` stays small.
    Table(Box<Table>),
}

impl Default for SetValue {
    /// An empty intset (createIntsetObject).
    fn default() -> Self {
        SetValue::Intset(IntSet::default())
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
        } else if first.len() <= SMALL_VALUE {
            SetValue::Small(PackedList::default())
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
            SetValue::Small(l) => l.len(),
            SetValue::Table(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Small(_) | SetValue::Table(_) => "hashtable",
        }
    }

    /// Whether SSCAN returns the set whole with cursor 0 (the packed
    /// forms; Redis does so for intsets and listpacks).
    pub fn scans_whole(&self) -> bool {
        !matches!(self, SetValue::Table(_))
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => parse_i64(member).is_some_and(|n| v.contains(n)),
            SetValue::Small(l) => l.contains(member),
            SetValue::Table(s) => s.contains(member),
        }
    }

    /// The member at position `i` of the encoding's order.
    pub fn member_at(&self, i: usize) -> Option<Bytes> {
        match self {
            SetValue::Intset(v) => v.get(i).map(int_bytes),
            SetValue::Small(l) => l.nth(i).map(Bytes::copy_from_slice),
            SetValue::Table(s) => s.get_index(i).map(|m| Bytes::copy_from_slice(m)),
        }
    }

    /// Every member, in the encoding's order (sorted for intsets).
    pub fn members(&self) -> Vec<Bytes> {
        match self {
            SetValue::Intset(v) => v.iter().map(int_bytes).collect(),
            SetValue::Small(l) => l.iter().map(Bytes::copy_from_slice).collect(),
            SetValue::Table(s) => s.iter().map(|m| Bytes::copy_from_slice(m)).collect(),
        }
    }

    /// Leave the intset encoding for a set expected to hold `capacity`
    /// members: packed while that is small, a table otherwise.
    fn convert(&mut self, capacity: usize) {
        let SetValue::Intset(v) = self else {
            return;
        };
        let members: Vec<Bytes> = v.iter().map(int_bytes).collect();
        let want = capacity.max(members.len());
        *self = if want <= SMALL_MAX {
            SetValue::Small(PackedList::default())
        } else {
            SetValue::Table(Box::new(Table::with_capacity_and_hasher(
                want,
                Default::default(),
            )))
        };
        for m in &members {
            self.insert_new(m);
        }
    }

    /// The packed form outgrown: move every member to a table.
    fn grow_into_table(&mut self) {
        if let SetValue::Small(l) = self {
            let mut t = Table::with_capacity_and_hasher(l.len() + 1, Default::default());
            t.extend(l.iter().map(Box::<[u8]>::from));
            *self = SetValue::Table(Box::new(t));
        }
    }

    /// Add a member known to be absent from a non-intset set.
    fn insert_new(&mut self, member: &[u8]) {
        if let SetValue::Small(l) = self {
            if l.len() < SMALL_MAX && member.len() <= SMALL_VALUE {
                l.push_new(member);
                return;
            }
            self.grow_into_table();
        }
        if let SetValue::Table(t) = self {
            t.insert(member.into());
        }
    }

    /// setTypeAdd. Returns true if the member is new.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let SetValue::Intset(v) = self {
            match parse_i64(member) {
                Some(n) => {
                    if !v.insert(n) {
                        return false;
                    }
                    if v.len() > max_intset {
                        self.convert(0);
                    }
                    return true;
                }
                None => self.convert(0),
            }
        }
        if self.contains(member) {
            return false;
        }
        self.insert_new(member);
        true
    }

    /// Remove a member. Returns true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => match parse_i64(member).map(|n| v.search(n)) {
                Some(Ok(pos)) => v.remove_at(pos).is_some(),
                _ => false,
            },
            SetValue::Small(l) => l.remove(member),
            SetValue::Table(s) => s.swap_remove(member),
        }
    }

    /// Remove and return the member at position `i`.
    pub fn take_at(&mut self, i: usize) -> Option<Bytes> {
        match self {
            SetValue::Intset(v) => v.remove_at(i).map(int_bytes),
            SetValue::Small(l) => l.take_at(i).map(Bytes::from),
            SetValue::Table(s) => s.swap_remove_index(i).map(Bytes::from),
        }
    }

    /// Release spare capacity after bulk removals.
    pub fn shrink(&mut self) {
        if let SetValue::Table(s) = self {
            if s.capacity() > 4 * s.len().max(4) {
                s.shrink_to_fit();
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
    fn small_form_grows_into_a_table() {
        let mut s = SetValue::for_member(b"m0");
        assert!(matches!(s, SetValue::Small(_)));
        for i in 0..SMALL_MAX {
            assert!(s.add(format!("m{i}").as_bytes(), 512));
        }
        assert!(!s.add(b"m5", 512));
        assert!(matches!(s, SetValue::Small(_)));
        assert!(s.add(b"one more", 512));
        assert!(matches!(s, SetValue::Table(_)));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), SMALL_MAX + 1);
        assert!(s.contains(b"m0") && s.contains(b"one more"));
        let mut long = SetValue::for_member(b"a");
        long.add(b"a", 512);
        long.add(&[b'x'; SMALL_VALUE + 1], 512);
        assert!(matches!(long, SetValue::Table(_)) && long.contains(b"a"));
        let mut big_int = SetValue::from_members(&["1", "2"], 1);
        assert!(matches!(big_int, SetValue::Small(_)));
        assert_eq!(big_int.take_at(0), Some(Bytes::from("1")));
        assert_eq!(big_int.members(), vec![Bytes::from("2")]);
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
