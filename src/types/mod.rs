//! Value structures stored in the keyspace. No locks, no I/O.

pub mod hash;
pub mod list;
pub mod set;
pub mod string;
pub mod value;
pub mod zset;

pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use string::StrValue;
pub use value::{Entry, Value};
pub use zset::ZSetValue;
