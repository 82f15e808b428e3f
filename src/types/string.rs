//! String values with Redis's three encodings: `int` (a canonical i64),
//! `embstr` (short, never modified in place) and `raw` (modified in place
//! or long). OBJECT ENCODING reports the same names Redis does.

use bytes::Bytes;

use crate::util::numparse::parse_i64;

/// Longest string Redis stores as embstr (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_LIMIT: usize = 44;

/// A string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrValue {
    Int(i64),
    Emb(Box<[u8]>),
    Raw(Vec<u8>),
}

impl StrValue {
    /// Encode like Redis's `tryObjectEncoding` on a freshly set value.
    pub fn from_bytes(b: &[u8]) -> StrValue {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return StrValue::Int(n);
            }
        }
        if b.len() <= EMBSTR_LIMIT {
            StrValue::Emb(b.into())
        } else {
            StrValue::Raw(b.to_vec())
        }
    }

    /// A string object without the integer attempt (Redis's
    /// createStringObject): embstr when short, raw otherwise. INCRBYFLOAT
    /// results are stored this way.
    pub fn from_plain(b: &[u8]) -> StrValue {
        if b.len() <= EMBSTR_LIMIT {
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
            StrValue::Emb(b) => f(b),
            StrValue::Raw(v) => f(v),
        }
    }

    /// Length in bytes of the string form.
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => itoa::Buffer::new().format(*n).len(),
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
            StrValue::Emb(_) => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }
}
