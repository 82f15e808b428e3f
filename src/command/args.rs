//! Typed argument parsing. Each helper returns the `RedisError` variant
//! whose text Redis uses for that failure, so handlers can use `?`.

use bytes::Bytes;

use crate::error::RedisError;
use crate::util::numparse;

/// Parse an integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64, RedisError> {
    numparse::parse_i64(arg).ok_or(RedisError::NotInteger)
}

/// Parse a float argument (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64, RedisError> {
    numparse::parse_f64(arg).ok_or(RedisError::NotFloat)
}

/// Parse a non-negative integer, with a custom error when negative.
pub fn uint_or(arg: &[u8], neg: RedisError) -> Result<u64, RedisError> {
    let v = int(arg)?;
    if v < 0 {
        return Err(neg);
    }
    Ok(v as u64)
}

/// Case-insensitive comparison with an ASCII keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Lossy UTF-8 view of an argument, for error messages.
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// Lower-cased copy of an argument, for error messages and lookups.
pub fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_lowercase()
}

/// Arguments as given to a handler: `argv[0]` is the command name.
pub type Argv = [Bytes];
