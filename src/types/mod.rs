//! Value structures stored in the keyspace. No locks, no I/O.

pub mod string;
pub mod value;

pub use string::StrValue;
pub use value::{Entry, Value};
