//! One randomly seeded hasher for every collection table of the process.
//!
//! Why: `ahash::RandomState` is 32 bytes, and a table stored in each hash,
//! set or sorted-set key would carry its own copy. A zero-sized builder
//! that reads one process-wide random state keeps the seeding (no
//! predictable collisions for hash-flooding clients) for free.

use std::hash::BuildHasher;
use std::sync::OnceLock;

fn state() -> &'static ahash::RandomState {
    static STATE: OnceLock<ahash::RandomState> = OnceLock::new();
    STATE.get_or_init(ahash::RandomState::new)
}

/// Zero-sized `BuildHasher` over the process-wide random state.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shared;

impl BuildHasher for Shared {
    type Hasher = ahash::AHasher;

    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        state().build_hasher()
    }
}

/// Hash of `v` under the shared state.
#[inline]
pub fn hash_one<T: std::hash::Hash + ?Sized>(v: &T) -> u64 {
    state().hash_one(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_sized_and_stable() {
        assert_eq!(std::mem::size_of::<super::Shared>(), 0);
        assert_eq!(
            super::hash_one(b"k".as_slice()),
            super::hash_one(b"k".as_slice())
        );
    }
}
