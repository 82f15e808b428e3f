//! A 16384-bit slot bitmap and slot-range helpers.

use crate::keyspace::SLOTS;

/// Which slots a node serves (the `myslots` bitmap of the bus header).
pub use super::bus::msg::SlotBitmap;

/// The slots set in a bitmap, ascending.
pub fn iter(b: &SlotBitmap) -> impl Iterator<Item = u16> + '_ {
    // Whole empty bytes are skipped: gossip handlers walk claims of a few
    // slots in a 16384-slot bitmap.
    b.0.iter()
        .enumerate()
        .filter(|(_, byte)| **byte != 0)
        .flat_map(|(i, &byte)| {
            (0..8u16)
                .filter(move |bit| byte >> bit & 1 == 1)
                .map(move |bit| i as u16 * 8 + bit)
        })
}

/// Collapse sorted slots into inclusive ranges.
pub fn ranges(slots: impl Iterator<Item = u16>) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for s in slots {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == s => *end = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// Parse a slot number argument (`ERR Invalid or out of range slot`).
pub fn parse_slot(arg: &[u8]) -> Option<u16> {
    let n = crate::util::numparse::parse_i64(arg)?;
    (0..SLOTS as i64).contains(&n).then_some(n as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_and_ranges() {
        let mut b = SlotBitmap::default();
        for s in [0, 1, 2, 100, 5000, 16383] {
            b.set(s, true);
        }
        assert_eq!(b.count(), 6);
        assert_eq!(
            ranges(iter(&b)),
            vec![(0, 2), (100, 100), (5000, 5000), (16383, 16383)]
        );
        b.set(1, false);
        assert!(!b.get(1));
        assert_eq!(parse_slot(b"16384"), None);
        assert_eq!(parse_slot(b"16383"), Some(16383));
    }

    #[test]
    fn iter_matches_get_for_every_slot() {
        let mut b = SlotBitmap::default();
        for s in (0..SLOTS as u16).filter(|s| s % 7 == 0 || s % 13 == 5) {
            b.set(s, true);
        }
        let expect: Vec<u16> = (0..SLOTS as u16).filter(|s| b.get(*s)).collect();
        assert_eq!(iter(&b).collect::<Vec<_>>(), expect);
    }
}
