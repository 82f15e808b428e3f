//! `ThinBuf`: a byte buffer behind one 8-byte pointer, with its length and
//! a caller-defined count in an 8-byte header inside the allocation.
//!
//! Why: small collections (listpack hashes and sorted sets, intsets) are
//! one packed buffer. As a `Vec<u8>` (24 bytes) the collection could not
//! sit inside the 24-byte `Value` next to its encoding tag, so it was boxed:
//! a 32-byte allocation on top of the buffer's, for every small collection
//! key. Redis pays a 16-byte robj plus the listpack's 7-byte header. A thin
//! pointer lets the collection live in `Value` itself, and its header costs
//! 8 bytes. Capacity is always exactly the length (no spare room), as with
//! Redis's listpacks, which are reallocated on every change.
//!
//! Lengths are u32: callers convert to their large encoding long before a
//! buffer gets near `MAX_LEN` (Redis's listpack safety limit is 1 GB too).
#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::ops::Range;
use std::ptr::NonNull;

/// Largest buffer the callers let grow before converting (Redis's
/// LISTPACK_MAX_SAFETY_SIZE).
pub const MAX_LEN: usize = 1 << 30;

#[repr(C)]
struct Header {
    len: u32,
    count: u32,
}

const HDR: usize = std::mem::size_of::<Header>();

/// The shared header of every empty buffer: never written, never freed.
static EMPTY: Header = Header { len: 0, count: 0 };

/// Owned bytes plus an element count, behind one pointer.
pub struct ThinBuf {
    ptr: NonNull<Header>,
}

// SAFETY: a ThinBuf owns its allocation exclusively, like a Box<[u8]>;
// the shared EMPTY header is immutable.
unsafe impl Send for ThinBuf {}
// SAFETY: &ThinBuf only gives out shared reads.
unsafe impl Sync for ThinBuf {}

fn layout(len: usize) -> Layout {
    // HDR + len never overflows: len <= u32::MAX.
    match Layout::from_size_align(HDR + len, std::mem::align_of::<Header>()) {
        Ok(l) => l,
        Err(_) => alloc::handle_alloc_error(Layout::new::<Header>()),
    }
}

impl ThinBuf {
    pub const fn new() -> ThinBuf {
        ThinBuf {
            ptr: NonNull::from_ref(&EMPTY),
        }
    }

    /// A buffer holding `bytes`, counting `count` elements.
    pub fn from_slice(bytes: &[u8], count: u32) -> ThinBuf {
        let mut b = ThinBuf::new();
        b.splice(0..0, bytes, count);
        b
    }

    fn header(&self) -> &Header {
        // SAFETY: ptr is EMPTY or a live allocation starting with a Header.
        unsafe { self.ptr.as_ref() }
    }

    fn is_shared_empty(&self) -> bool {
        std::ptr::eq(self.ptr.as_ptr(), &EMPTY)
    }

    pub fn len(&self) -> usize {
        self.header().len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The caller's element count.
    pub fn count(&self) -> u32 {
        self.header().count
    }

    /// Bytes this buffer holds on the heap (0 when empty).
    pub fn alloc_size(&self) -> usize {
        if self.is_shared_empty() {
            0
        } else {
            HDR + self.len()
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes follow the header (none for EMPTY, where the
        // pointer is still valid for a zero-length slice).
        unsafe {
            let data = self.ptr.as_ptr().cast::<u8>().add(HDR);
            std::slice::from_raw_parts(data, self.len())
        }
    }

    /// Replace `range` of the bytes with `with` and set the count: one
    /// reallocation and one move of the tail, as Redis's lpInsert does.
    /// Panics if `range` is out of bounds (callers pass their own offsets).
    pub fn splice(&mut self, range: Range<usize>, with: &[u8], count: u32) {
        let old_len = self.len();
        assert!(range.start <= range.end && range.end <= old_len);
        let new_len = old_len - (range.end - range.start) + with.len();
        assert!(new_len <= u32::MAX as usize, "ThinBuf over 4 GB");
        if new_len == 0 {
            self.free();
            return;
        }
        let tail = old_len - range.end;
        let data = if self.is_shared_empty() {
            // SAFETY: layout has a non-zero size (HDR > 0).
            let p = unsafe { alloc::alloc(layout(new_len)) };
            self.ptr = NonNull::new(p.cast::<Header>())
                .unwrap_or_else(|| alloc::handle_alloc_error(layout(new_len)));
            p
        } else {
            let p = self.ptr.as_ptr().cast::<u8>();
            if new_len < old_len {
                // Move the tail left before shrinking.
                // SAFETY: both ranges lie within the old allocation.
                unsafe {
                    std::ptr::copy(
                        p.add(HDR + range.end),
                        p.add(HDR + range.start + with.len()),
                        tail,
                    )
                };
            }
            // SAFETY: p was allocated with layout(old_len); new size > 0.
            let q = unsafe { alloc::realloc(p, layout(old_len), HDR + new_len) };
            self.ptr = NonNull::new(q.cast::<Header>())
                .unwrap_or_else(|| alloc::handle_alloc_error(layout(new_len)));
            if new_len > old_len {
                // Move the tail right after growing.
                // SAFETY: both ranges lie within the new allocation.
                unsafe {
                    std::ptr::copy(
                        q.add(HDR + range.end),
                        q.add(HDR + range.start + with.len()),
                        tail,
                    )
                };
            }
            q
        };
        // SAFETY: the allocation holds HDR + new_len bytes; `with` is
        // caller memory, never inside our own buffer (we hold &mut self).
        unsafe {
            std::ptr::copy_nonoverlapping(with.as_ptr(), data.add(HDR + range.start), with.len());
            self.ptr.as_ptr().write(Header {
                len: new_len as u32,
                count,
            });
        }
    }

    /// Append `bytes`, setting the count.
    pub fn push(&mut self, bytes: &[u8], count: u32) {
        let end = self.len();
        self.splice(end..end, bytes, count);
    }

    /// Overwrite bytes in place (same length), e.g. a fixed-width field.
    pub fn write_at(&mut self, at: usize, bytes: &[u8]) {
        assert!(at + bytes.len() <= self.len());
        if bytes.is_empty() {
            return;
        }
        // SAFETY: in bounds (checked); a non-empty range means the buffer
        // is a real allocation, not EMPTY.
        unsafe {
            let data = self.ptr.as_ptr().cast::<u8>().add(HDR + at);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        }
    }

    fn free(&mut self) {
        if !self.is_shared_empty() {
            // SAFETY: a non-EMPTY pointer was allocated with layout(len).
            unsafe { alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), layout(self.len())) };
            self.ptr = NonNull::from_ref(&EMPTY);
        }
    }
}

impl Default for ThinBuf {
    fn default() -> Self {
        ThinBuf::new()
    }
}

impl Drop for ThinBuf {
    fn drop(&mut self) {
        self.free();
    }
}

impl Clone for ThinBuf {
    fn clone(&self) -> Self {
        ThinBuf::from_slice(self.as_slice(), self.count())
    }
}

impl PartialEq for ThinBuf {
    fn eq(&self, other: &Self) -> bool {
        self.count() == other.count() && self.as_slice() == other.as_slice()
    }
}

impl Eq for ThinBuf {}

impl std::fmt::Debug for ThinBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThinBuf")
            .field("count", &self.count())
            .field("bytes", &self.as_slice())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_is_one_pointer_and_allocation_free() {
        assert_eq!(std::mem::size_of::<ThinBuf>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinBuf>>(), 8);
        let b = ThinBuf::new();
        assert_eq!((b.len(), b.count(), b.alloc_size()), (0, 0, 0));
        assert_eq!(b.as_slice(), b"");
    }

    #[test]
    fn splice_grow_shrink_and_free() {
        let mut b = ThinBuf::from_slice(b"hello", 1);
        b.push(b" world", 2);
        assert_eq!(b.as_slice(), b"hello world");
        b.splice(0..5, b"HI", 2);
        assert_eq!(b.as_slice(), b"HI world");
        b.splice(2..2, b", big", 3);
        assert_eq!(b.as_slice(), b"HI, big world");
        b.write_at(0, b"ho");
        assert_eq!(b.as_slice(), b"ho, big world");
        let c = b.clone();
        b.splice(0..13, b"", 0);
        assert!(b.is_empty() && b.alloc_size() == 0);
        assert_eq!((c.as_slice(), c.count()), (&b"ho, big world"[..], 3));
    }

    proptest! {
        /// Any sequence of splices matches the same edits on a Vec.
        #[test]
        fn matches_vec(ops in proptest::collection::vec((any::<u16>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..60)) {
            let mut model: Vec<u8> = Vec::new();
            let mut b = ThinBuf::new();
            for (i, (a, z, with)) in ops.into_iter().enumerate() {
                let len = model.len();
                let (mut s, mut e) = (usize::from(a) % (len + 1), usize::from(z) % (len + 1));
                if s > e { std::mem::swap(&mut s, &mut e); }
                model.splice(s..e, with.iter().copied());
                b.splice(s..e, &with, i as u32);
                prop_assert_eq!(b.as_slice(), &model[..]);
            }
        }
    }
}
