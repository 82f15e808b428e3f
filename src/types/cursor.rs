//! Scan cursors over index-ordered tables (HSCAN, SSCAN on the hashtable
//! encoding).
//!
//! Redis's reverse-binary dict cursor promises that every element present
//! for the whole iteration is returned at least once. Our tables are
//! `IndexSet`s whose removals move the *last* element into the hole
//! (swap_remove) and whose inserts append. Scanning from the highest index
//! down keeps the same promise: a cursor `k` means "indices below k are
//! still to visit"; an element moved by a removal comes from the end, so it
//! either was already returned (a duplicate, which SCAN allows) or moves
//! into a still-unvisited slot. Appended elements land above the cursor
//! and may be missed, which SCAN also allows.

use std::ops::Range;

/// The index range to return for `cursor` (0 = start) over a table of
/// `len` elements, visiting about `count`, and the next cursor (0 = done).
pub fn scan_range(cursor: u64, count: usize, len: usize) -> (Range<usize>, u64) {
    let hi = if cursor == 0 {
        len
    } else {
        usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
    };
    let lo = hi.saturating_sub(count.max(1));
    (lo..hi, lo as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_down_to_zero() {
        assert_eq!(scan_range(0, 10, 25), (15..25, 15));
        assert_eq!(scan_range(15, 10, 25), (5..15, 5));
        assert_eq!(scan_range(5, 10, 25), (0..5, 0));
        // The table shrank below the cursor.
        assert_eq!(scan_range(15, 10, 3), (0..3, 0));
        assert_eq!(scan_range(0, 10, 0), (0..0, 0));
    }
}
