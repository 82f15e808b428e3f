//! A 16384-bit slot bitmap and slot-range helpers.

use crate::keyspace::SLOTS;

/// Which slots a node serves (the `myslots` bitmap of the bus header).
#[derive(Clone, PartialEq, Eq)]
pub struct SlotBitmap(pub Box<[u8; SLOTS / 8]>);

impl Default for SlotBitmap {
    fn default() -> Self {
        SlotBitmap(Box::new([0u8; SLOTS / 8]))
    }
}

impl std::fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBitmap({:?})", ranges(self.iter()))
    }
}

impl SlotBitmap {
    pub fn get(&self, slot: u16) -> bool {
        self.0[usize::from(slot) / 8] & (1 << (slot % 8)) != 0
    }

    pub fn set(&mut self, slot: u16, on: bool) {
        let b = &mut self.0[usize::from(slot) / 8];
        if on {
            *b |= 1 << (slot % 8);
        } else {
            *b &= !(1 << (slot % 8));
        }
    }

    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOTS as u16).filter(|s| self.get(*s))
    }
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
            ranges(b.iter()),
            vec![(0, 2), (100, 100), (5000, 5000), (16383, 16383)]
        );
        b.set(1, false);
        assert!(!b.get(1));
        assert_eq!(parse_slot(b"16384"), None);
        assert_eq!(parse_slot(b"16383"), Some(16383));
    }
}
