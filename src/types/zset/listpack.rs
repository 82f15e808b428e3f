//! The small sorted-set encoding (`listpack` in OBJECT ENCODING): every
//! element packed into one byte buffer, sorted by (score, member).
//!
//! Entry layout: LEB128 of (member length << 1 | float flag), member
//! bytes, then the score: 8 LE bytes when the flag is set, else a zigzag
//! LEB128 integer. Whole-number scores below 2^53 in magnitude (ranks,
//! timestamps, counters: the usual leaderboard) take 1-8 bytes instead of
//! 8, as Redis's listpack stores them as integers, which keeps a small
//! sorted set no bigger than Redis's.
//! Like Redis's listpack, every operation is a linear scan; the set never
//! holds more than zset-max-listpack-entries elements, so that stays cheap
//! and the whole set costs one allocation. Scores are stored normalized the
//! way Redis's listpack stores them: -0 becomes 0.

use crate::util::thinbuf::ThinBuf;

/// A small sorted set in one packed buffer (behind one pointer, with the
/// element count in the buffer's header).
#[derive(Clone, Default, PartialEq)]
pub struct Listpack {
    buf: ThinBuf,
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// 2^53: every integer below it in magnitude is exact as an f64.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// The score as an integer when it is a whole number stored exactly.
fn int_score(score: f64) -> Option<i64> {
    (score.fract() == 0.0 && score.abs() < EXACT_INT).then_some(score as i64)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Read a LEB128 number at `*i` (the buffer is ours: always well formed).
fn get_varint(buf: &[u8], i: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*i];
        *i += 1;
        v |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// Decode the entry at `off`: (member, score, offset of the next entry).
fn entry_at(buf: &[u8], off: usize) -> (&[u8], f64, usize) {
    let mut i = off;
    let head = get_varint(buf, &mut i);
    let len = (head >> 1) as usize;
    let member = &buf[i..i + len];
    i += len;
    let score = if head & 1 == 1 {
        let mut sc = [0u8; 8];
        sc.copy_from_slice(&buf[i..i + 8]);
        i += 8;
        f64::from_le_bytes(sc)
    } else {
        let z = get_varint(buf, &mut i);
        (((z >> 1) as i64) ^ -((z & 1) as i64)) as f64
    };
    (member, score, i)
}

fn encode(member: &[u8], score: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(member.len() + 10);
    let len = (member.len() as u64) << 1;
    match int_score(score) {
        Some(v) => {
            put_varint(&mut out, len);
            out.extend_from_slice(member);
            put_varint(&mut out, ((v << 1) ^ (v >> 63)) as u64);
        }
        None => {
            put_varint(&mut out, len | 1);
            out.extend_from_slice(member);
            out.extend_from_slice(&score.to_le_bytes());
        }
    }
    out
}

/// Redis's listpack keeps scores as text/integers: -0 reads back as 0.
fn normalize(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

impl Listpack {
    pub fn len(&self) -> usize {
        self.buf.count() as usize
    }

    /// Bytes of the buffer (MEMORY USAGE).
    pub fn byte_len(&self) -> usize {
        self.buf.alloc_size()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.count() == 0
    }

    /// Bytes used by the packed buffer.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// All elements in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buf: self.buf.as_slice(),
            off: 0,
        }
    }

    /// (offset, rank, score) of a member.
    fn find(&self, m: &[u8]) -> Option<(usize, usize, f64)> {
        let buf = self.buf.as_slice();
        let mut off = 0;
        let mut rank = 0;
        while off < buf.len() {
            let (mem, score, next) = entry_at(buf, off);
            if mem == m {
                return Some((off, rank, score));
            }
            off = next;
            rank += 1;
        }
        None
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.find(m).map(|(_, _, s)| s)
    }

    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        self.find(m).map(|(_, r, _)| r)
    }

    /// Insert a member that is not present, keeping the order.
    pub fn insert_new(&mut self, m: &[u8], score: f64) {
        let score = normalize(score);
        let buf = self.buf.as_slice();
        let mut off = 0;
        while off < buf.len() {
            let (mem, s, next) = entry_at(buf, off);
            if !(s < score || (s == score && mem < m)) {
                break;
            }
            off = next;
        }
        let bytes = encode(m, score);
        let count = self.buf.count() + 1;
        self.buf.splice(off..off, &bytes, count);
    }

    /// Remove a member; returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let (off, _, score) = self.find(m)?;
        let (_, _, next) = entry_at(self.buf.as_slice(), off);
        let count = self.buf.count() - 1;
        self.buf.splice(off..next, &[], count);
        Some(score)
    }

    /// Change the score of a present member; returns false if absent.
    pub fn set_score(&mut self, m: &[u8], score: f64) -> bool {
        if self.remove(m).is_none() {
            return false;
        }
        self.insert_new(m, score);
        true
    }

    /// How many elements (a prefix of the order) satisfy `pred`.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.iter().take_while(|(m, s)| pred(*s, m)).count()
    }

    /// Elements with rank in `start..end`, reversed when `rev`.
    pub fn iter_range(
        &self,
        start: usize,
        end: usize,
        rev: bool,
    ) -> std::vec::IntoIter<(&[u8], f64)> {
        let take = end.saturating_sub(start);
        let mut v: Vec<_> = self.iter().skip(start).take(take).collect();
        if rev {
            v.reverse();
        }
        v.into_iter()
    }
}

/// Forward iterator over a listpack.
pub struct Iter<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.buf.len() {
            return None;
        }
        let (m, s, next) = entry_at(self.buf, self.off);
        self.off = next;
        Some((m, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_in_both_forms() {
        let scores = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            63.0,
            64.0,
            -65.0,
            1e15,
            -9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            1.5,
            -2.25,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            1e300,
        ];
        let mut lp = Listpack::default();
        for (i, s) in scores.iter().enumerate() {
            lp.insert_new(format!("m{i}").as_bytes(), *s);
        }
        for (i, s) in scores.iter().enumerate() {
            let got = lp.score(format!("m{i}").as_bytes());
            let want = if *s == 0.0 { 0.0 } else { *s };
            assert_eq!(got.map(f64::to_bits), Some(want.to_bits()), "score {s}");
        }
        let order: Vec<f64> = lp.iter().map(|(_, s)| s).collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    }

    #[test]
    fn small_integer_scores_take_one_or_two_bytes() {
        let mut lp = Listpack::default();
        lp.insert_new(b"0123456789abcdef", 42.0);
        assert_eq!(lp.bytes(), 1 + 16 + 1);
        lp.insert_new(b"0123456789abcdeg", 1000.0);
        assert_eq!(lp.bytes(), 18 + 1 + 16 + 2);
    }
}
