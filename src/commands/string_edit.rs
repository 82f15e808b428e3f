//! String commands that edit values in place or read slices (Redis's
//! t_string.c): APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE.
//!
//! In-place edits turn the value into the `raw` encoding (Redis's
//! `dbUnshareStringValue`), which OBJECT ENCODING reports. Growing a value
//! past `proto-max-bulk-len` fails with Redis's exact error.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::string::{get_string, hit_or_miss};
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::notify::class::STRING;
use crate::protocol::Reply;
use crate::types::{Entry, StrValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("append", append),
    ("strlen", strlen),
    ("getrange", getrange),
    ("substr", getrange),
    ("setrange", setrange),
];

/// Redis's checkStringLength: the edited string may not exceed
/// proto-max-bulk-len.
pub fn check_string_length(ctx: &Ctx, total: u64) -> Result<(), RedisError> {
    let max = ctx
        .srv
        .config
        .hot
        .proto_max_bulk_len
        .load(Ordering::Relaxed);
    if total > max.max(0) as u64 {
        return Err(RedisError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    Ok(())
}

/// The mutable raw buffer of a live string key, WRONGTYPE for other types.
fn raw_of(e: &mut Entry) -> Result<&mut Vec<u8>, RedisError> {
    match &mut e.value {
        Value::Str(s) => Ok(s.make_raw()),
        #[allow(unreachable_patterns)]
        _ => Err(RedisError::WrongType),
    }
}

fn append(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let len = match g.value(key) {
        None => {
            // A new key is encoded like SET would encode it.
            let v = StrValue::from_bytes(&argv[2]);
            g.insert(key, Entry::new(Value::Str(v)));
            argv[2].len()
        }
        Some(Value::Str(s)) => {
            let total = s.len() as u64 + argv[2].len() as u64;
            check_string_length(ctx, total)?;
            let e = g.get_mut(key).ok_or(RedisError::NoSuchKey)?;
            let buf = raw_of(e)?;
            buf.extend_from_slice(&argv[2]);
            let n = buf.len();
            g.touched(key);
            n
        }
        #[allow(unreachable_patterns)]
        Some(_) => return Err(RedisError::WrongType),
    };
    g.notify(STRING, "append", key);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(len as i64))
}

fn strlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let n = match g.value(&argv[1]) {
        None => None,
        Some(Value::Str(s)) => Some(s.len()),
        #[allow(unreachable_patterns)]
        Some(_) => return Err(RedisError::WrongType),
    };
    drop(g);
    hit_or_miss(ctx, n.is_some());
    Ok(Reply::Int(n.unwrap_or(0) as i64))
}

/// Redis's GETRANGE index arithmetic: the inclusive byte range to return,
/// or None for an empty reply.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    (start <= end).then_some((start as usize, end as usize))
}

fn getrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = args::int(&argv[2])?;
    let end = args::int(&argv[3])?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let v = get_string(&mut g, &argv[1])?;
    drop(g);
    hit_or_miss(ctx, v.is_some());
    let v = v.unwrap_or_default();
    Ok(Reply::Bulk(match clamp_range(start, end, v.len()) {
        Some((s, e)) => v.slice(s..=e),
        None => Bytes::new(),
    }))
}

fn setrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = args::int(&argv[2])?;
    if offset < 0 {
        return Err(RedisError::err("offset is out of range"));
    }
    let offset = offset as u64;
    let (key, val) = (&argv[1], &argv[3]);
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    match g.value(key) {
        None => {
            if val.is_empty() {
                return Ok(Reply::Int(0));
            }
            check_string_length(ctx, offset + val.len() as u64)?;
            g.insert(key, Entry::new(Value::Str(StrValue::Raw(Vec::new()))));
        }
        Some(Value::Str(s)) => {
            if val.is_empty() {
                return Ok(Reply::Int(s.len() as i64));
            }
            check_string_length(ctx, offset + val.len() as u64)?;
        }
        #[allow(unreachable_patterns)]
        Some(_) => return Err(RedisError::WrongType),
    }
    let e = g.get_mut(key).ok_or(RedisError::NoSuchKey)?;
    let buf = raw_of(e)?;
    let (off, end) = (offset as usize, offset as usize + val.len());
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[off..end].copy_from_slice(val);
    let n = buf.len();
    g.touched(key);
    g.notify(STRING, "setrange", key);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(n as i64))
}

#[cfg(test)]
mod tests {
    use super::clamp_range;

    #[test]
    fn ranges() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-1, -5, 5), None);
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_range(3, 1, 5), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(5, 10, 5), None);
    }
}
