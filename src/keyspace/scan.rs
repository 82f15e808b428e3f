//! SCAN cursors over the slot-sharded keyspace.
//!
//! Guarantee (as Redis's SCAN): every key that exists for the whole
//! iteration is returned at least once, whatever is added, removed or
//! rehashed meanwhile. Redis gets this from the reverse-binary bucket
//! cursor of `dictScan`; our shard maps are std `HashMap`s whose
//! iteration order changes on resize, so we never use the map's order.
//!
//! Design: the cursor is `(position << 14) | slot`. Slots are visited in
//! ascending order; within a slot, keys are ordered by a 50-bit hash of
//! the key computed with fixed seeds (`key_position`), which does not
//! depend on the map's capacity. A step returns every live key of the
//! slot whose position is `>= position`, or, when that would be too many,
//! the smallest chunk of positions (never splitting keys that share a
//! position) and a cursor resuming right after the last one. A key's
//! position never changes, so the ranges of successive steps partition
//! the slot: nothing present throughout is missed, and duplicates only
//! come from keys that were deleted and re-added.
//!
//! Cost: a step in a slot reads the whole slot (O(n)); a chunk is at least
//! 1/16 of the slot, so a full pass over one slot costs O(16·n) even with
//! COUNT 1. Cursor 0 starts and ends an iteration.

use super::shard::{Key, SlotShard};
use super::slot::SLOTS;
use crate::types::Entry;

/// Bits of the cursor that hold the slot.
const SLOT_BITS: u32 = 14;
/// A chunk holds at least 1/CHUNK_DIVISOR of the slot's keys.
const CHUNK_DIVISOR: usize = 16;

/// A decoded cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub slot: u16,
    /// First key position (see `key_position`) still to return in `slot`.
    pub position: u64,
}

impl Cursor {
    pub fn decode(raw: u64) -> Cursor {
        Cursor {
            slot: (raw & (SLOTS as u64 - 1)) as u16,
            position: raw >> SLOT_BITS,
        }
    }

    /// The wire value; the start of slot 0 is 0, which also ends a scan.
    pub fn encode(self) -> u64 {
        (self.position << SLOT_BITS) | u64::from(self.slot)
    }

    /// The cursor after `slot` is exhausted (None: iteration complete).
    pub fn after_slot(slot: u16) -> Option<Cursor> {
        let next = usize::from(slot) + 1;
        (next < SLOTS).then_some(Cursor {
            slot: next as u16,
            position: 0,
        })
    }
}

/// A key's stable position within its slot: a 50-bit hash with fixed
/// seeds, independent of the map's capacity and insertion history.
pub fn key_position(key: &[u8]) -> u64 {
    // FNV-1a, then a finalizer (splitmix64) so short keys spread well.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    h >> SLOT_BITS
}

/// Result of one step inside a slot.
pub struct SlotStep<'a> {
    /// Live keys returned by this step, with their entries.
    pub keys: Vec<(&'a Key, &'a Entry)>,
    /// Logically expired keys met in the range (the caller deletes them,
    /// as Redis's SCAN expires what it visits).
    pub expired: Vec<Key>,
    /// Where to resume in the same slot; None when the slot is done.
    pub resume: Option<u64>,
}

/// One step in `shard` from `position`, returning at most about `want`
/// keys (at least 1/16 of the slot, ties at the boundary included).
/// Logically expired keys (`expire_at < now_ms`) are skipped.
pub fn step(shard: &SlotShard, position: u64, want: usize, now_ms: u64) -> SlotStep<'_> {
    let mut cand: Vec<(u64, &Key, &Entry)> = shard
        .iter()
        .map(|(k, e)| (key_position(k), k, e))
        .filter(|(p, _, _)| *p >= position)
        .collect();
    let chunk = want.max(shard.len().div_ceil(CHUNK_DIVISOR)).max(1);
    let mut resume = None;
    if cand.len() > chunk {
        cand.select_nth_unstable_by_key(chunk - 1, |c| c.0);
        let last = cand[chunk - 1].0;
        // Keep every key at the boundary position: the next step starts
        // strictly after it.
        cand.retain(|c| c.0 <= last);
        let next = last + 1;
        if next < (1u64 << (64 - SLOT_BITS)) {
            resume = Some(next);
        }
    }
    let mut keys = Vec::with_capacity(cand.len());
    let mut expired = Vec::new();
    for (_, k, e) in cand {
        if e.is_expired(now_ms) {
            expired.push(k.clone());
        } else {
            keys.push((k, e));
        }
    }
    SlotStep {
        keys,
        expired,
        resume,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{StrValue, Value};

    fn entry() -> Entry {
        Entry::new(Value::Str(StrValue::from_bytes(b"v")))
    }

    #[test]
    fn cursor_round_trip() {
        let c = Cursor {
            slot: 16383,
            position: (1 << 50) - 1,
        };
        assert_eq!(Cursor::decode(c.encode()), c);
        assert_eq!(Cursor::decode(0).encode(), 0);
        assert_eq!(Cursor::after_slot(16383), None);
        assert_eq!(Cursor::after_slot(3).map(Cursor::encode), Some(4));
    }

    #[test]
    fn positions_fit_50_bits() {
        for k in [&b""[..], b"a", b"key:1", &[0xff; 100]] {
            assert!(key_position(k) < 1 << 50);
        }
    }

    /// Scan a shard step by step with `want`, mutating it between steps
    /// via `churn`; return every key seen.
    fn scan_all(
        shard: &mut SlotShard,
        want: usize,
        mut churn: impl FnMut(&mut SlotShard, usize),
    ) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        let mut pos = 0;
        for round in 0.. {
            let s = step(shard, pos, want, 0);
            seen.extend(s.keys.iter().map(|(k, _)| k.to_vec()));
            match s.resume {
                Some(p) => pos = p,
                None => break,
            }
            churn(shard, round);
        }
        seen
    }

    #[test]
    fn step_returns_everything_without_churn() {
        let mut shard = SlotShard::default();
        for i in 0..1000 {
            shard.insert(format!("k{i}").as_bytes(), entry());
        }
        let mut seen = scan_all(&mut shard, 10, |_, _| {});
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn stable_keys_survive_growth_and_shrink() {
        let mut shard = SlotShard::default();
        for i in 0..300 {
            shard.insert(format!("stable{i}").as_bytes(), entry());
        }
        // Grow the map a lot (forcing rehashes) and then remove the churn.
        let seen = scan_all(&mut shard, 5, |s, round| {
            for j in 0..200 {
                s.insert(format!("churn{round}:{j}").as_bytes(), entry());
            }
            if round % 3 == 2 {
                let doomed: Vec<Key> = s
                    .keys()
                    .filter(|k| k.starts_with(b"churn"))
                    .cloned()
                    .collect();
                for k in doomed {
                    s.remove(&k);
                }
            }
        });
        for i in 0..300 {
            let k = format!("stable{i}").into_bytes();
            assert!(seen.contains(&k), "missed {i}");
        }
    }

    #[test]
    fn expired_keys_are_skipped() {
        let mut shard = SlotShard::default();
        let mut e = entry();
        e.expire_at = 5;
        shard.insert(b"old", e);
        shard.insert(b"new", entry());
        let s = step(&shard, 0, 10, 100);
        assert_eq!(s.keys.len(), 1);
        assert_eq!(s.expired, vec![Key::from(&b"old"[..])]);
        assert!(s.resume.is_none());
    }
}
