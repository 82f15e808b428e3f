//! The key stored in a keyspace node: short keys live inside the node.
//!
//! Why: a GET touches the node, then compares the key. With the key in
//! its own allocation that is one more cache miss per lookup and 16+
//! bytes of allocator overhead per key. Keys up to `INLINE_MAX` bytes
//! (most real keys: `user:1234:session`) are stored inline in the same
//! 24 bytes a boxed slice plus its tag would take, and the node still
//! fits jemalloc's 64-byte size class.

use std::fmt;
use std::ops::Deref;

/// Longest key kept inline (24 bytes minus the tag and length bytes).
pub(crate) const INLINE_MAX: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE_MAX] },
    Heap(Box<[u8]>),
}

/// An owned key: never a slice of a network buffer (that would pin the
/// whole read buffer in memory).
#[derive(Clone)]
pub struct Key(Repr);

impl From<&[u8]> for Key {
    fn from(b: &[u8]) -> Key {
        if b.len() <= INLINE_MAX {
            let mut buf = [0u8; INLINE_MAX];
            buf[..b.len()].copy_from_slice(b);
            Key(Repr::Inline {
                len: b.len() as u8,
                buf,
            })
        } else {
            Key(Repr::Heap(b.into()))
        }
    }
}

impl Deref for Key {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        **self == **other
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_keys_read_back() {
        for n in [0, 1, 21, 22, 23, 100] {
            let raw: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let k = Key::from(&raw[..]);
            assert_eq!(&*k, &raw[..]);
            assert_eq!(k.clone(), k);
        }
        assert_eq!(std::mem::size_of::<Key>(), 24);
    }
}
