//! RESP only: the request parser (multibulk + inline, resumable) and the
//! reply model with its RESP2/RESP3 writer. No I/O, no locks.

pub mod parser;
pub mod reply;

pub use parser::{ParseLimits, ProtocolError, RequestParser};
pub use reply::{Reply, RespVersion};
