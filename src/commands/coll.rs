//! Shared plumbing of the collection commands (hashes, sets): typed key
//! lookup with Redis's WRONGTYPE rule, the write pattern "create on first
//! write, delete when emptied" (Redis's hashTypeLookupWriteOrCreate plus
//! the `if (len == 0) dbDelete` every removal does), and the HSCAN/SSCAN
//! argument parsing of db.c (parseScanCursorOrReply, scanGenericCommand).

use bytes::Bytes;

use super::ctx::Ctx;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::notify::class::GENERIC;
use crate::types::{EncodingLimits, Entry, HashValue, SetValue, Value};

/// A collection type stored in a `Value` variant.
pub trait Coll: Default + Sized {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn wrap(self) -> Value;
    fn is_empty(&self) -> bool;
}

impl Coll for HashValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn wrap(self) -> Value {
        Value::Hash(self)
    }
    fn is_empty(&self) -> bool {
        HashValue::is_empty(self)
    }
}

impl Coll for SetValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn wrap(self) -> Value {
        Value::Set(self)
    }
    fn is_empty(&self) -> bool {
        SetValue::is_empty(self)
    }
}

/// The live collection at `key`: `Ok(None)` if missing, WRONGTYPE if the
/// key holds another type. Records the access (LRU/LFU).
pub fn read<'g, C: Coll>(g: &'g mut KeyGuards, key: &[u8]) -> Result<Option<&'g C>, RedisError> {
    match g.value(key) {
        None => Ok(None),
        Some(v) => C::of(v).map(Some).ok_or(RedisError::WrongType),
    }
}

/// Fail with WRONGTYPE if `key` exists with another type.
pub fn check<C: Coll>(g: &mut KeyGuards, key: &[u8]) -> Result<(), RedisError> {
    match g.peek(key) {
        Some(e) if C::of(&e.value).is_none() => Err(RedisError::WrongType),
        _ => Ok(()),
    }
}

/// A keyspace event: (notify class, event name).
pub type Event = (u32, &'static str);

/// Modify the collection at `key` with `f`, which returns its reply value
/// and whether it changed anything. A missing key is created (starting
/// from `init`) only if `init` is given and `f` leaves it non-empty; an
/// emptied collection is deleted. A change is reported as the keyspace
/// event `ev`, followed by `del` when the collection was emptied (Redis's
/// order). `Ok(None)`: missing and not created.
pub fn update<C: Coll, R>(
    g: &mut KeyGuards,
    key: &[u8],
    init: Option<C>,
    ev: Event,
    f: impl FnOnce(&mut C) -> CmdResult<(R, bool)>,
) -> CmdResult<Option<R>> {
    if let Some(e) = g.get_mut(key) {
        let c = C::of_mut(&mut e.value).ok_or(RedisError::WrongType)?;
        let (r, changed) = f(c)?;
        let empty = c.is_empty();
        if changed {
            g.notify(ev.0, ev.1, key);
        }
        if empty {
            g.remove(key);
            g.notify(GENERIC, "del", key);
        } else if changed {
            g.touched(key);
        }
        return Ok(Some(r));
    }
    let Some(mut c) = init else {
        return Ok(None);
    };
    let (r, changed) = f(&mut c)?;
    if !c.is_empty() {
        g.insert(key, Entry::new(c.wrap()));
        if changed {
            g.notify(ev.0, ev.1, key);
        }
    }
    Ok(Some(r))
}

/// The encoding thresholds from the live config.
pub fn limits(ctx: &Ctx) -> EncodingLimits {
    EncodingLimits::from_config(&ctx.srv.config)
}

/// parseScanCursorOrReply: C `strtoul` rules (optional sign, a negative
/// value wraps, an empty string is 0, reading stops at a NUL byte).
pub fn parse_cursor(arg: &[u8]) -> CmdResult<u64> {
    let bad = || RedisError::err("invalid cursor");
    let s = arg.split(|&b| b == 0).next().unwrap_or_default();
    if s.first().is_some_and(|c| c.is_ascii_whitespace()) {
        return Err(bad());
    }
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        // strtoul consumed nothing: fine only for an empty string.
        return if s.is_empty() { Ok(0) } else { Err(bad()) };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// COUNT and MATCH of HSCAN/SSCAN.
pub struct ScanOpts {
    pub count: usize,
    /// None when absent or `*` (Redis skips matching then).
    pub pattern: Option<Bytes>,
}

impl ScanOpts {
    pub fn matches(&self, s: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| crate::util::glob::glob_match(p, s, false))
    }
}

/// Parse the options after the cursor (scanGenericCommand's loop).
pub fn parse_scan_opts(argv: &[Bytes]) -> CmdResult<ScanOpts> {
    let mut o = ScanOpts {
        count: 10,
        pattern: None,
    };
    let mut i = 0;
    while i < argv.len() {
        let more = argv.len() - i >= 2;
        if args::is(&argv[i], "COUNT") && more {
            let n = args::int(&argv[i + 1])?;
            if n < 1 {
                return Err(RedisError::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args::is(&argv[i], "MATCH") && more {
            let p = &argv[i + 1];
            o.pattern = (p.as_ref() != b"*").then(|| p.clone());
        } else {
            return Err(RedisError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

/// HDEL / SREM: remove `argv[2..]` from the collection at `argv[1]` with
/// `remove`, reply the number removed, propagate the command as given
/// and report `ev` when something was removed.
pub fn remove_members<C: Coll>(
    ctx: &mut Ctx,
    argv: &[Bytes],
    ev: Event,
    remove: fn(&mut C, &[u8]) -> bool,
) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let n = update::<C, _>(&mut g, &argv[1], None, ev, |c| {
        let mut n = 0;
        for m in &argv[2..] {
            n += i64::from(remove(c, m));
            if c.is_empty() {
                break;
            }
        }
        Ok((n, n > 0))
    })?
    .unwrap_or(0);
    if n > 0 {
        g.propagate(argv.to_vec());
    }
    Ok(crate::protocol::Reply::Int(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"12\x00zz"), Ok(12));
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"1a").is_err());
        assert!(parse_cursor(b"+").is_err());
        assert!(parse_cursor(b"18446744073709551616").is_err());
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
    }
}
