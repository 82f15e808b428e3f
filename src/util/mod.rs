//! Leaf helpers shared by every layer: no locks, no I/O.

pub mod alloc;
pub mod bignum;
pub mod blocking;
pub mod clock;
pub mod fork;
pub mod glob;
pub mod hasher;
pub mod ldouble;
pub mod numfmt;
pub mod numparse;
pub mod sha1;
pub mod split;
pub mod thinbuf;
