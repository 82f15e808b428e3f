//! Redis 7.0 cluster bus wire format: the message model (`msg`) and the
//! byte codec with packet framing (`codec`). Pure code: no sockets, no locks.
//! The link tasks (I/O) and the cluster state machine live elsewhere.

pub mod codec;
pub mod link;
pub mod msg;
pub mod registry;

pub use codec::{decode, encode, next_frame, BusDecodeError, Frame, DEFAULT_MAX_FRAME_LEN};
pub use msg::*;
