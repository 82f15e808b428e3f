//! Packed byte strings: the compact storage behind small hashes (Redis's
//! `listpack` encoding) and behind each entry of a large hash.
//!
//! `Packed` is one `Vec<u8>` holding strings back to back, each as a LEB128
//! length followed by its bytes, so a small hash costs one allocation and
//! one or two bytes of overhead per string (a Redis listpack entry costs
//! two). Order is insertion order, which is what HGETALL, HKEYS and HSCAN
//! return for a listpack-encoded hash. Lookups are linear, as in Redis:
//! the encoding is only used while the hash is small.

use crate::util::thinbuf::ThinBuf;

/// Append `s` as length + bytes.
pub fn put(buf: &mut Vec<u8>, s: &[u8]) {
    let mut hdr = [0u8; 10];
    let n = encode_len(s.len(), &mut hdr);
    buf.extend_from_slice(&hdr[..n]);
    buf.extend_from_slice(s);
}

/// Write `len` as LEB128 into `out`; returns the number of bytes used.
fn encode_len(mut len: usize, out: &mut [u8; 10]) -> usize {
    let mut i = 0;
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out[i] = b;
            return i + 1;
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

/// Read one string at `pos`; returns (start, end) of its bytes.
/// The buffer is only ever written by `put`, so it is well formed.
pub fn read(buf: &[u8], mut pos: usize) -> (usize, usize) {
    let mut len = 0usize;
    let mut shift = 0;
    while let Some(&b) = buf.get(pos) {
        pos += 1;
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    (pos, (pos + len).min(buf.len()))
}

/// Every string of a packed buffer: (entry start, (bytes start, end)).
fn strings(buf: &[u8]) -> impl Iterator<Item = (usize, (usize, usize))> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= buf.len() {
            return None;
        }
        let start = pos;
        let r = read(buf, pos);
        pos = r.1;
        Some((start, r))
    })
}

/// Field/value pairs in insertion order (the small-hash encoding), one
/// thin buffer that also holds the pair count.
#[derive(Debug, Clone, Default)]
pub struct PackedPairs {
    buf: ThinBuf,
}

/// Byte ranges of one pair inside the buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: usize,
    field: (usize, usize),
    value: (usize, usize),
}

impl PackedPairs {
    pub fn len(&self) -> usize {
        self.buf.count() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.buf.count() == 0
    }

    /// Bytes used by the encoded pairs (MEMORY-style accounting).
    pub fn byte_len(&self) -> usize {
        self.buf.alloc_size()
    }

    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        let mut it = strings(self.buf.as_slice());
        std::iter::from_fn(move || {
            let (start, field) = it.next()?;
            let (_, value) = it.next()?;
            Some(Slot {
                start,
                field,
                value,
            })
        })
    }

    fn find(&self, field: &[u8]) -> Option<Slot> {
        let buf = self.buf.as_slice();
        self.slots()
            .find(|s| buf.get(s.field.0..s.field.1) == Some(field))
    }

    fn bytes(&self, r: (usize, usize)) -> &[u8] {
        self.buf.as_slice().get(r.0..r.1).unwrap_or_default()
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(|s| self.bytes(s.value))
    }

    /// Pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.slots()
            .map(move |s| (self.bytes(s.field), self.bytes(s.value)))
    }

    /// The pair at position `i` (0-based), for random sampling.
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }

    /// Insert or update. Returns true if the field is new. An update keeps
    /// the pair's position, as Redis's lpReplace does.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let count = self.buf.count();
        let mut enc = Vec::with_capacity(field.len() + value.len() + 4);
        match self.find(field) {
            Some(s) => {
                put(&mut enc, value);
                self.buf.splice(s.field.1..s.value.1, &enc, count);
                false
            }
            None => {
                put(&mut enc, field);
                put(&mut enc, value);
                self.buf.push(&enc, count + 1);
                true
            }
        }
    }

    /// Remove a field. Returns true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let Some(s) = self.find(field) else {
            return false;
        };
        let count = self.buf.count() - 1;
        self.buf.splice(s.start..s.value.1, &[], count);
        true
    }
}

/// Distinct strings in insertion order, in one thin buffer that also
/// holds the count: the small form of a set of non-integer members.
#[derive(Debug, Clone, Default)]
pub struct PackedList {
    buf: ThinBuf,
}

impl PackedList {
    pub fn len(&self) -> usize {
        self.buf.count() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.buf.count() == 0
    }

    /// Bytes of the buffer (MEMORY USAGE).
    pub fn byte_len(&self) -> usize {
        self.buf.alloc_size()
    }

    /// (entry start, string start, string end) of each string.
    fn entries(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        strings(self.buf.as_slice()).map(|(start, (s, e))| (start, s, e))
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let buf = self.buf.as_slice();
        self.entries()
            .map(move |(_, s, e)| buf.get(s..e).unwrap_or_default())
    }

    fn find(&self, member: &[u8]) -> Option<(usize, usize)> {
        let buf = self.buf.as_slice();
        self.entries()
            .find(|&(_, s, e)| buf.get(s..e) == Some(member))
            .map(|(start, _, e)| (start, e))
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.find(member).is_some()
    }

    pub fn nth(&self, i: usize) -> Option<&[u8]> {
        self.iter().nth(i)
    }

    /// Append a member the caller knows is absent.
    pub fn push_new(&mut self, member: &[u8]) {
        let mut enc = Vec::with_capacity(member.len() + 2);
        put(&mut enc, member);
        let count = self.buf.count() + 1;
        self.buf.push(&enc, count);
    }

    /// Remove a member. Returns true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some((start, end)) = self.find(member) else {
            return false;
        };
        let count = self.buf.count() - 1;
        self.buf.splice(start..end, &[], count);
        true
    }

    /// Remove and return the member at position `i`.
    pub fn take_at(&mut self, i: usize) -> Option<Vec<u8>> {
        let (start, s, e) = self.entries().nth(i)?;
        let member = self.buf.as_slice().get(s..e)?.to_vec();
        let count = self.buf.count() - 1;
        self.buf.splice(start..e, &[], count);
        Some(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_update_remove_keep_order() {
        let mut p = PackedPairs::default();
        assert!(p.set(b"a", b"1"));
        assert!(p.set(b"b", &[0u8; 300]));
        assert!(p.set(b"", b""));
        assert!(!p.set(b"a", b"one"));
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(b"a"), Some(&b"one"[..]));
        assert_eq!(p.get(b"b").map(<[u8]>::len), Some(300));
        assert_eq!(p.get(b""), Some(&b""[..]));
        let keys: Vec<&[u8]> = p.iter().map(|(f, _)| f).collect();
        assert_eq!(keys, vec![&b"a"[..], b"b", b""]);
        assert!(p.remove(b"b"));
        assert!(!p.remove(b"b"));
        assert_eq!(p.len(), 2);
        assert_eq!(p.nth(1), Some((&b""[..], &b""[..])));
    }

    #[test]
    fn list_push_find_take() {
        let mut l = PackedList::default();
        l.push_new(b"a");
        l.push_new(b"");
        l.push_new(&[9u8; 200]);
        assert_eq!(l.len(), 3);
        assert!(l.contains(b"") && l.contains(b"a") && !l.contains(b"b"));
        assert_eq!(l.nth(2).map(<[u8]>::len), Some(200));
        assert!(l.remove(b""));
        assert!(!l.remove(b""));
        assert_eq!(l.take_at(0), Some(b"a".to_vec()));
        assert_eq!(l.len(), 1);
        assert_eq!(l.take_at(1), None);
    }

    #[test]
    fn long_lengths_round_trip() {
        let mut buf = Vec::new();
        let big = vec![7u8; 70_000];
        put(&mut buf, &big);
        let (s, e) = read(&buf, 0);
        assert_eq!(e - s, 70_000);
        assert_eq!(s, 3);
    }
}
