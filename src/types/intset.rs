//! The `intset` encoding: sorted, distinct integers packed at the
//! narrowest width (2, 4 or 8 bytes) that holds every member, upgraded
//! when a wider one arrives and never narrowed, as Redis's intset.c does.
//! One thin buffer: 8 bytes of header (length, count) plus the members,
//! the same bytes Redis's intset takes.

use crate::util::thinbuf::ThinBuf;

/// Sorted distinct i64s at a uniform width.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntSet {
    buf: ThinBuf,
}

/// The narrowest width Redis's intset would use for `n`.
fn width_for(n: i64) -> usize {
    if i64::from(n as i16) == n {
        2
    } else if i64::from(n as i32) == n {
        4
    } else {
        8
    }
}

fn encode(n: i64, width: usize) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..width].copy_from_slice(&n.to_le_bytes()[..width]);
    out
}

impl IntSet {
    pub fn len(&self) -> usize {
        self.buf.count() as usize
    }

    /// Bytes of the buffer (MEMORY USAGE).
    pub fn byte_len(&self) -> usize {
        self.buf.alloc_size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the buffer (MEMORY USAGE).
    pub fn alloc_size(&self) -> usize {
        self.buf.alloc_size()
    }

    fn width(&self) -> usize {
        match self.len() {
            0 => 2,
            n => self.buf.len() / n,
        }
    }

    /// The member at position `i` (ascending order).
    pub fn get(&self, i: usize) -> Option<i64> {
        let w = self.width();
        let b = self.buf.as_slice().get(i * w..(i + 1) * w)?;
        Some(match w {
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_le_bytes(a)
            }
        })
    }

    /// Ok(position) when present, Err(insertion point) otherwise.
    pub fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).map(|m| m.cmp(&n)) {
                Some(std::cmp::Ordering::Less) => lo = mid + 1,
                Some(std::cmp::Ordering::Greater) => hi = mid,
                _ => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Insert `n`; false if it was present.
    pub fn insert(&mut self, n: i64) -> bool {
        let Err(pos) = self.search(n) else {
            return false;
        };
        let count = self.buf.count() + 1;
        let w = if self.is_empty() {
            width_for(n)
        } else {
            self.width().max(width_for(n))
        };
        if !self.is_empty() && w > self.width() {
            self.upgrade(w);
        }
        self.buf.splice(pos * w..pos * w, &encode(n, w)[..w], count);
        true
    }

    /// Re-encode every member at `w` bytes.
    fn upgrade(&mut self, w: usize) {
        let mut out = Vec::with_capacity(w * (self.len() + 1));
        for m in self.iter() {
            out.extend_from_slice(&encode(m, w)[..w]);
        }
        self.buf = ThinBuf::from_slice(&out, self.buf.count());
    }

    /// Remove the member at position `i`, returning it.
    pub fn remove_at(&mut self, i: usize) -> Option<i64> {
        let n = self.get(i)?;
        let w = self.width();
        let count = self.buf.count() - 1;
        // An emptied set forgets its width, as a fresh intset would.
        self.buf.splice(i * w..(i + 1) * w, &[], count);
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn widths_upgrade_and_stay() {
        let mut s = IntSet::default();
        assert!(s.insert(5) && s.insert(-3) && !s.insert(5));
        assert_eq!(s.alloc_size(), 8 + 2 * 2);
        assert!(s.insert(70_000));
        assert_eq!(s.alloc_size(), 8 + 3 * 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 5, 70_000]);
        assert_eq!(s.remove_at(0), Some(i64::MIN));
        assert_eq!(s.alloc_size(), 8 + 3 * 8);
        assert_eq!(s.search(5), Ok(1));
        assert_eq!(s.search(6), Err(2));
    }

    proptest! {
        /// Inserts and removals agree with a BTreeSet.
        #[test]
        fn matches_btreeset(ops in proptest::collection::vec((any::<bool>(), prop_oneof![any::<i64>(), -300i64..300, any::<i16>().prop_map(i64::from)]), 0..200)) {
            let mut model = std::collections::BTreeSet::new();
            let mut s = IntSet::default();
            for (add, n) in ops {
                if add {
                    prop_assert_eq!(s.insert(n), model.insert(n));
                } else {
                    let had = model.remove(&n);
                    let pos = s.search(n);
                    prop_assert_eq!(pos.is_ok(), had);
                    if let Ok(p) = pos { prop_assert_eq!(s.remove_at(p), Some(n)); }
                }
                prop_assert_eq!(s.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
