//! The RDB format of Redis 7.0 (version 10): opcodes, length and string
//! encodings, CRC64. The codec converts bytes ⇄ values only; it does no
//! I/O beyond the `Write`/`Read` it is handed and takes no locks, so it can
//! be fuzzed and golden-tested alone. DUMP payloads (cluster MIGRATE) use the
//! same value encoding.

pub mod build;
mod compact;
pub mod decode;
mod decode_compact;
pub mod encode;
pub mod payload;
mod skip;

pub use build::Limits;

/// RDB version written and the highest one read (Redis 7.0).
pub const RDB_VERSION: u32 = 10;

pub mod opcode {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

pub mod rtype {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Length-encoding markers.
pub(crate) const LEN_14BIT: u8 = 1;
pub(crate) const LEN_32BIT: u8 = 0x80;
pub(crate) const LEN_64BIT: u8 = 0x81;
pub(crate) const ENC_VAL: u8 = 3;
pub(crate) const ENC_INT8: u8 = 0;
pub(crate) const ENC_INT16: u8 = 1;
pub(crate) const ENC_INT32: u8 = 2;
pub(crate) const ENC_LZF: u8 = 3;

/// Redis's CRC-64 (Jones polynomial, reflected), as used by RDB and DUMP.
pub const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Errors while reading an RDB stream.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    #[error("Wrong signature trying to load DB from file")]
    BadSignature,
    #[error("Can't handle RDB format version {0}")]
    BadVersion(u32),
    #[error("Unexpected EOF reading RDB file")]
    Truncated,
    #[error(
        "Wrong RDB checksum expected: ({expected:x}) got ({got:x}). Aborting now. RDB CRC error"
    )]
    Checksum { expected: u64, got: u64 },
    #[error("Unknown RDB encoding type {0}")]
    UnknownType(u8),
    #[error("Loading {0} values from RDB/DUMP payloads is not supported by Shoal")]
    Unsupported(&'static str),
    #[error("Unsupported RDB opcode {0}")]
    UnsupportedOpcode(u8),
    #[error("Corrupt ziplist, listpack, intset or zipmap in RDB")]
    BadCompact,
    #[error("{0} in RDB")]
    Corrupt(&'static str),
    #[error("Invalid LZF compressed string")]
    BadLzf,
    #[error("Invalid length {0} in RDB")]
    BadLength(u64),
    #[error("Invalid DB index {0} in RDB")]
    BadDb(u64),
    #[error("I/O error reading RDB: {0}")]
    Io(#[from] std::io::Error),
}
