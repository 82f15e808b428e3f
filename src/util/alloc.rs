//! Counting allocator: wraps the real allocator (jemalloc in the binary)
//! and keeps `used_memory` the way Redis's zmalloc does, as the sum of the
//! allocator's size classes of every live allocation.
//!
//! Why not jemalloc's `stats.allocated`: reading it needs an epoch
//! advance (a merge of every arena's statistics), far too slow for the
//! maxmemory check that runs before every command. Here every thread adds
//! its allocations to a thread-local balance and folds it into one global
//! atomic once it drifts by more than `FLUSH` bytes, so an allocation costs
//! a TLS add and a compare. Readers fold their own thread's balance first,
//! which makes the figure exact for the thread that evicts; the error from
//! other threads is bounded by `FLUSH` per thread.
//!
//! Sizes are rounded to jemalloc's size classes (8, then multiples of 16
//! up to 128, then four classes per doubling), which is what
//! `malloc_usable_size` reports and what Redis counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Net bytes a thread may hold back before publishing them.
const FLUSH: isize = 8 * 1024;

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static LOCAL: Cell<isize> = const { Cell::new(0) };
}

/// jemalloc's size class for a request of `n` bytes.
#[inline]
pub fn size_class(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return (n + 15) & !15;
    }
    let lg = usize::BITS - 1 - (n - 1).leading_zeros();
    let delta = 1usize << (lg - 2);
    (n + delta - 1) & !(delta - 1)
}

#[inline]
fn class_of(layout: Layout) -> isize {
    size_class(layout.size().max(layout.align())) as isize
}

#[inline]
fn account(delta: isize) {
    let published = LOCAL.try_with(|c| {
        let v = c.get() + delta;
        if !(-FLUSH..=FLUSH).contains(&v) {
            c.set(0);
            ALLOCATED.fetch_add(v, Ordering::Relaxed);
        } else {
            c.set(v);
        }
    });
    if published.is_err() {
        ALLOCATED.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Bytes held by live allocations (0 when the counting allocator is not
/// the global allocator, e.g. in unit tests). Folds this thread's balance
/// first so the caller sees its own frees at once.
pub fn allocated() -> Option<u64> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let _ = LOCAL.try_with(|c| {
        let v = c.replace(0);
        if v != 0 {
            ALLOCATED.fetch_add(v, Ordering::Relaxed);
        }
    });
    Some(ALLOCATED.load(Ordering::Relaxed).max(0) as u64)
}

/// A `GlobalAlloc` that counts what it hands out.
pub struct Counting<A>(pub A);

// SAFETY: every method forwards to the wrapped allocator with the same
// arguments; the counting has no effect on the memory handed out.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc(layout);
        if !p.is_null() {
            account(class_of(layout));
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc_zeroed(layout);
        if !p.is_null() {
            account(class_of(layout));
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout);
        account(-class_of(layout));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = self.0.realloc(ptr, layout, new_size);
        if !p.is_null() {
            let new = size_class(new_size.max(layout.align())) as isize;
            account(new - class_of(layout));
        }
        p
    }
}

/// Declare that the counting allocator is the global allocator (called
/// by the binary first thing in `main`).
pub fn mark_installed() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// jemalloc's statistics report (MEMORY MALLOC-STATS).
#[cfg(not(target_env = "msvc"))]
pub fn malloc_stats() -> String {
    unsafe extern "C" fn write_cb(opaque: *mut std::ffi::c_void, msg: *const std::ffi::c_char) {
        // SAFETY: `opaque` is the `String` passed below, alive for the
        // whole call; jemalloc hands us NUL-terminated messages.
        let out = unsafe { &mut *(opaque as *mut String) };
        let msg = unsafe { std::ffi::CStr::from_ptr(msg) };
        out.push_str(&msg.to_string_lossy());
    }
    let mut out = String::new();
    // SAFETY: the callback only appends to `out`, which outlives the call.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(write_cb),
            &mut out as *mut String as *mut std::ffi::c_void,
            std::ptr::null(),
        );
    }
    out
}

#[cfg(target_env = "msvc")]
pub fn malloc_stats() -> String {
    "Stats not supported for the current allocator".into()
}

/// Return dirty pages of every arena to the OS (MEMORY PURGE).
#[cfg(not(target_env = "msvc"))]
pub fn purge() {
    // MALLCTL_ARENAS_ALL is 4096 in jemalloc 5.
    let name = c"arena.4096.purge";
    // SAFETY: a void mallctl: no old or new value pointers.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

#[cfg(target_env = "msvc")]
pub fn purge() {}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn jemalloc_size_classes() {
        let cases = [
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (33, 48),
            (128, 128),
            (129, 160),
            (160, 160),
            (161, 192),
            (256, 256),
            (257, 320),
            (1025, 1280),
            (4096, 4096),
            (4097, 5120),
            (16385, 20480),
        ];
        for (n, c) in cases {
            assert_eq!(size_class(n), c, "size {n}");
        }
    }
}
