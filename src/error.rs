//! Every error a client can see, mapped to Redis 7.0's exact reply text.
//!
//! `Display` writes the text *without* the leading `-` and *with* the
//! prefix code (`ERR`, `WRONGTYPE`, `MOVED` ...), exactly as Redis sends it.
//! `prefix()` feeds INFO errorstats.

use std::fmt;

/// A client-visible error. Handlers return `Result<Reply, RedisError>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisError {
    WrongType,
    Syntax,
    NotInteger,
    NotFloat,
    Overflow,
    OutOfRange,
    NoSuchKey,
    WrongArity(String),
    UnknownCommand(String),
    UnknownSubcommand {
        sub: String,
        cmd: String,
    },
    InvalidExpire(&'static str),
    InvalidDbIndex,
    DbIndexOutOfRange,
    ExecAbort,
    NoAuth,
    Oom,
    ReadOnly,
    NotBusy,
    BusyKey,
    /// A fully formatted error whose first word is its code, e.g.
    /// `ERR value is out of range, must be positive`.
    Custom(String),
}

impl RedisError {
    /// Build an `ERR <msg>` error.
    pub fn err(msg: impl Into<String>) -> RedisError {
        let msg = msg.into();
        RedisError::Custom(format!("ERR {msg}"))
    }

    /// Build an error whose text already starts with its code.
    pub fn raw(text: impl Into<String>) -> RedisError {
        RedisError::Custom(text.into())
    }

    /// The arity error for `cmd` (lower-cased name as Redis prints it).
    pub fn arity(cmd: &[u8]) -> RedisError {
        RedisError::WrongArity(String::from_utf8_lossy(cmd).to_lowercase())
    }

    /// The error code (first word), used by INFO errorstats.
    pub fn prefix(&self) -> String {
        let s = self.to_string();
        s.split(' ').next().unwrap_or("ERR").to_string()
    }
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RedisError::*;
        match self {
            WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            Syntax => f.write_str("ERR syntax error"),
            NotInteger => f.write_str("ERR value is not an integer or out of range"),
            NotFloat => f.write_str("ERR value is not a valid float"),
            Overflow => f.write_str("ERR increment or decrement would overflow"),
            OutOfRange => f.write_str("ERR value is out of range"),
            NoSuchKey => f.write_str("ERR no such key"),
            WrongArity(cmd) => write!(f, "ERR wrong number of arguments for '{cmd}' command"),
            UnknownCommand(text) => write!(f, "ERR unknown command {text}"),
            UnknownSubcommand { sub, cmd } => {
                write!(f, "ERR unknown subcommand '{sub}'. Try {cmd} HELP.")
            }
            InvalidExpire(cmd) => write!(f, "ERR invalid expire time in '{cmd}' command"),
            InvalidDbIndex => f.write_str("ERR invalid DB index"),
            DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            ExecAbort => f.write_str("EXECABORT Transaction discarded because of previous errors."),
            NoAuth => f.write_str("NOAUTH Authentication required."),
            Oom => f.write_str("OOM command not allowed when used memory > 'maxmemory'."),
            ReadOnly => f.write_str("READONLY You can't write against a read only replica."),
            NotBusy => f.write_str("NOTBUSY No scripts in execution right now."),
            BusyKey => f.write_str("BUSYKEY Target key name already exists."),
            Custom(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for RedisError {}

/// Shorthand for handler results.
pub type CmdResult<T = crate::protocol::Reply> = Result<T, RedisError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_redis() {
        let cases: &[(RedisError, &str)] = &[
            (
                RedisError::WrongType,
                "WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (RedisError::Syntax, "ERR syntax error"),
            (
                RedisError::NotInteger,
                "ERR value is not an integer or out of range",
            ),
            (RedisError::NotFloat, "ERR value is not a valid float"),
            (
                RedisError::arity(b"GET"),
                "ERR wrong number of arguments for 'get' command",
            ),
            (
                RedisError::InvalidExpire("set"),
                "ERR invalid expire time in 'set' command",
            ),
            (
                RedisError::ExecAbort,
                "EXECABORT Transaction discarded because of previous errors.",
            ),
            (
                RedisError::Oom,
                "OOM command not allowed when used memory > 'maxmemory'.",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), *text);
        }
        assert_eq!(RedisError::WrongType.prefix(), "WRONGTYPE");
    }
}
