//! Value structures stored in the keyspace. No locks, no I/O.

pub mod cursor;
pub mod hash;
pub mod intset;
pub mod list;
pub mod packed;
pub mod set;
pub mod string;
pub mod value;
pub mod zset;

pub use hash::{HashLimits, HashValue};
pub use list::ListValue;
pub use set::SetValue;
pub use string::StrValue;
pub use value::{Entry, Value};
pub use zset::ZSetValue;

/// The collection encoding thresholds of the live configuration, read
/// once per write command or per RDB load.
#[derive(Debug, Clone, Copy)]
pub struct EncodingLimits {
    pub hash: HashLimits,
    pub set_max_intset: usize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash: HashLimits::default(),
            set_max_intset: 512,
        }
    }
}

impl EncodingLimits {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        let get = |name: &str| usize::try_from(cfg.get_i64(name)).unwrap_or(0);
        EncodingLimits {
            hash: HashLimits {
                max_entries: get("hash-max-listpack-entries"),
                max_value: get("hash-max-listpack-value"),
            },
            set_max_intset: get("set-max-intset-entries"),
        }
    }
}
