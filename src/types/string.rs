//! String values with Redis's three encodings: `int` (a canonical i64),
//! `embstr` (short, never modified in place) and `raw` (modified in place
//! or long). OBJECT ENCODING reports the same names Redis does.
//!
//! Short embstr values (up to `INLINE_MAX` bytes) live inside the value
//! itself, in the bytes a boxed slice would use for its pointer and length:
//! SET allocates nothing for them, and GET reads them from the key's node,
//! which the lookup has just brought into cache, instead of following a
//! pointer to a separate allocation (one cache miss less per GET).

use bytes::Bytes;

use crate::util::numparse::parse_i64;

/// Longest string Redis stores as embstr (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_LIMIT: usize = 44;

/// A string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrValue {
    Int(i64),
    /// An embstr of at most `INLINE_MAX` bytes.
    Inline(InlineStr),
    Emb(Box<[u8]>),
    Raw(Vec<u8>),
}

/// Longest string kept inline: what fits beside the enum's tag without
/// growing `StrValue` (and `Value`) past 24 bytes.
pub const INLINE_MAX: usize = 15;

/// Bytes past `len` are zero, so the derived equality compares contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineStr {
    len: u8,
    buf: [u8; INLINE_MAX],
}

impl InlineStr {
    fn new(b: &[u8]) -> Option<InlineStr> {
        let mut buf = [0u8; INLINE_MAX];
        buf.get_mut(..b.len())?.copy_from_slice(b);
        Some(InlineStr {
            len: b.len() as u8,
            buf,
        })
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

const _: () = assert!(std::mem::size_of::<StrValue>() == 24);

impl StrValue {
    /// Encode like Redis's `tryObjectEncoding` on a freshly set value.
    pub fn from_bytes(b: &[u8]) -> StrValue {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return StrValue::Int(n);
            }
        }
        Self::from_plain(b)
    }

    /// A string object without the integer attempt (Redis's
    /// createStringObject): embstr when short, raw otherwise. INCRBYFLOAT
    /// results are stored this way.
    pub fn from_plain(b: &[u8]) -> StrValue {
        if let Some(s) = InlineStr::new(b) {
            StrValue::Inline(s)
        } else if b.len() <= EMBSTR_LIMIT {
            StrValue::Emb(b.into())
        } else {
            StrValue::Raw(b.to_vec())
        }
    }

    pub fn from_int(n: i64) -> StrValue {
        StrValue::Int(n)
    }

    /// The value as bytes (integers are formatted).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StrValue::Int(n) => {
                let mut buf = itoa::Buffer::new();
                Bytes::copy_from_slice(buf.format(*n).as_bytes())
            }
            StrValue::Inline(s) => Bytes::copy_from_slice(s.as_slice()),
            StrValue::Emb(b) => Bytes::copy_from_slice(b),
            StrValue::Raw(v) => Bytes::copy_from_slice(v),
        }
    }

    /// Call `f` with a byte view without allocating for non-int values.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            StrValue::Int(n) => {
                let mut buf = itoa::Buffer::new();
                f(buf.format(*n).as_bytes())
            }
            StrValue::Inline(s) => f(s.as_slice()),
            StrValue::Emb(b) => f(b),
            StrValue::Raw(v) => f(v),
        }
    }

    /// Length in bytes of the string form.
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StrValue::Inline(s) => usize::from(s.len),
            StrValue::Emb(b) => b.len(),
            StrValue::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The integer value if the string is a canonical integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            StrValue::Int(n) => Some(*n),
            other => other.with_bytes(parse_i64),
        }
    }

    /// A mutable buffer for in-place edits (APPEND, SETRANGE, SETBIT);
    /// converts to the `raw` encoding as Redis does.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            let v = self.with_bytes(|b| b.to_vec());
            *self = StrValue::Raw(v);
        }
        match self {
            StrValue::Raw(v) => v,
            _ => unreachable!("invariant: converted to raw above"),
        }
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Inline(_) | StrValue::Emb(_) => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_read_back() {
        for len in 0..=EMBSTR_LIMIT + 1 {
            let b: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let v = StrValue::from_bytes(&b);
            assert_eq!(v.len(), len);
            assert_eq!(&v.to_bytes()[..], &b[..]);
            v.with_bytes(|x| assert_eq!(x, &b[..]));
            let inline = matches!(v, StrValue::Inline(_));
            assert_eq!(inline, len <= INLINE_MAX, "len {len}");
            let want = if len <= EMBSTR_LIMIT { "embstr" } else { "raw" };
            assert_eq!(v.encoding(), want);
        }
    }

    #[test]
    fn inline_equality_and_conversions() {
        assert_eq!(StrValue::from_bytes(b"abc"), StrValue::from_plain(b"abc"));
        assert_ne!(StrValue::from_bytes(b"abc"), StrValue::from_bytes(b"abd"));
        assert_eq!(StrValue::from_bytes(b"12"), StrValue::Int(12));
        assert_eq!(StrValue::from_bytes(b"012").encoding(), "embstr");
        let mut v = StrValue::from_bytes(b"hello");
        v.make_raw().extend_from_slice(b" world");
        assert_eq!(v.encoding(), "raw");
        assert_eq!(&v.to_bytes()[..], b"hello world");
    }
}
