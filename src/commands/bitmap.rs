//! Bitmap commands on strings (Redis's bitops.c): SETBIT, GETBIT,
//! BITCOUNT, BITPOS, BITOP. BITFIELD lives in `bitfield.rs`.
//!
//! Bits are numbered MSB first inside each byte. Offsets are limited to
//! proto-max-bulk-len bytes. Writes turn the value `raw`; SETBIT is only
//! propagated when it changed something (a bit flip or a grown string),
//! BITOP when it wrote or deleted the destination.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::string::get_string;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::notify::class::{GENERIC, STRING};
use crate::protocol::Reply;
use crate::types::{Entry, StrValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
];

const OFFSET_ERR: &str = "bit offset is not an integer or out of range";

/// Parse a bit offset. With `bits > 0` (BITFIELD) `#N` means `N * bits`.
pub fn parse_offset(ctx: &Ctx, arg: &[u8], bits: u32) -> Result<u64, RedisError> {
    let err = || RedisError::err(OFFSET_ERR);
    let (hash, digits) = match arg.split_first() {
        Some((b'#', rest)) if bits > 0 => (true, rest),
        _ => (false, arg),
    };
    let mut off = crate::util::numparse::parse_i64(digits).ok_or_else(err)?;
    if hash {
        off = off.wrapping_mul(i64::from(bits));
    }
    let max = ctx
        .srv
        .config
        .hot
        .proto_max_bulk_len
        .load(Ordering::Relaxed);
    if off < 0 || (off >> 3) >= max {
        return Err(err());
    }
    Ok(off as u64)
}

/// The raw buffer of `key` grown to hold bit `maxbit`, creating the key if
/// needed. Returns the buffer, whether the key was created or grown, and
/// whether it was created (creating already counted one change: the
/// caller must not signal the key again for it).
pub fn string_for_bits<'g>(
    g: &'g mut KeyGuards,
    key: &[u8],
    maxbit: u64,
) -> Result<(&'g mut Vec<u8>, bool, bool), RedisError> {
    let need = (maxbit >> 3) as usize + 1;
    let created = g.value(key).is_none();
    let mut dirty = created;
    if created {
        g.insert(key, Entry::new(Value::Str(StrValue::Raw(Vec::new()))));
    }
    let e = g.get_mut(key).ok_or(RedisError::NoSuchKey)?;
    let buf = match &mut e.value {
        Value::Str(s) => s.make_raw(),
        #[allow(unreachable_patterns)]
        _ => return Err(RedisError::WrongType),
    };
    if buf.len() < need {
        buf.resize(need, 0);
        dirty = true;
    }
    Ok((buf, dirty, created))
}

/// WRONGTYPE unless `key` is missing or a string.
pub fn check_string(g: &mut KeyGuards, key: &[u8]) -> Result<(), RedisError> {
    match g.value(key) {
        None | Some(Value::Str(_)) => Ok(()),
        #[allow(unreachable_patterns)]
        Some(_) => Err(RedisError::WrongType),
    }
}

fn setbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let off = parse_offset(ctx, &argv[2], 0)?;
    let on = match args::int(&argv[3]) {
        Ok(v @ (0 | 1)) => v == 1,
        _ => return Err(RedisError::err("bit is not an integer or out of range")),
    };
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    check_string(&mut g, key)?;
    let (buf, grown, created) = string_for_bits(&mut g, key, off)?;
    let byte = &mut buf[(off >> 3) as usize];
    let mask = 0x80u8 >> (off & 7);
    let was = *byte & mask != 0;
    if grown || was != on {
        if on {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        if !created {
            g.touched(key);
        }
        g.notify(STRING, "setbit", key);
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Int(i64::from(was)))
}

fn getbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let off = parse_offset(ctx, &argv[2], 0)?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let v = get_string(&mut g, &argv[1])?.unwrap_or_default();
    let bit = v
        .get((off >> 3) as usize)
        .is_some_and(|b| b & (0x80 >> (off & 7)) != 0);
    Ok(Reply::Int(i64::from(bit)))
}

/// Resolve a (start, end) index pair like Redis: negative from the end,
/// clamped to the string; in BIT mode indexes are bits. Returns the
/// inclusive bit range, or None when empty.
fn bit_range(start: i64, end: i64, len: usize, bit_mode: bool) -> Option<(u64, u64)> {
    let total = if bit_mode { len as i64 * 8 } else { len as i64 };
    let norm = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (s, e) = (norm(start), norm(end).min(total - 1));
    if s > e {
        return None;
    }
    Some(if bit_mode {
        (s as u64, e as u64)
    } else {
        (s as u64 * 8, e as u64 * 8 + 7)
    })
}

fn bit_at(v: &[u8], i: u64) -> bool {
    v.get((i >> 3) as usize)
        .is_some_and(|b| b & (0x80 >> (i & 7)) != 0)
}

/// BYTE or BIT unit keyword (syntax error otherwise).
fn unit_is_bit(arg: &[u8]) -> Result<bool, RedisError> {
    if args::is(arg, "BIT") {
        Ok(true)
    } else if args::is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(RedisError::Syntax)
    }
}

/// Set bits in the inclusive bit range.
fn count_bits(v: &[u8], from: u64, to: u64) -> u64 {
    let (fb, tb) = ((from >> 3) as usize, (to >> 3) as usize);
    let mut n: u64 = v[fb..=tb].iter().map(|b| u64::from(b.count_ones())).sum();
    // Remove bits of the edge bytes that lie outside the range.
    n -= u64::from((v[fb] & !(0xffu8 >> (from & 7))).count_ones());
    n -= u64::from((v[tb] & (0x7fu8 >> (to & 7))).count_ones());
    n
}

fn bitcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    // Redis looks the key up before it reads the range arguments.
    let Some(v) = get_string(&mut g, &argv[1])? else {
        return Ok(Reply::Int(0));
    };
    drop(g);
    let range = match argv.len() {
        2 => bit_range(0, -1, v.len(), false),
        4 | 5 => {
            let start = args::int(&argv[2])?;
            let end = args::int(&argv[3])?;
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            let bit_mode = match argv.get(4) {
                Some(u) => unit_is_bit(u)?,
                None => false,
            };
            bit_range(start, end, v.len(), bit_mode)
        }
        _ => return Err(RedisError::Syntax),
    };
    Ok(Reply::Int(
        range.map_or(0, |(s, e)| count_bits(&v, s, e)) as i64
    ))
}

fn bitpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let bit = args::int(&argv[2])?;
    if bit != 0 && bit != 1 {
        return Err(RedisError::err("The bit argument must be 1 or 0."));
    }
    let want = bit == 1;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(v) = get_string(&mut g, &argv[1])? else {
        // A missing key is an infinite run of zeros.
        return Ok(Reply::Int(if want { -1 } else { 0 }));
    };
    drop(g);
    if argv.len() > 6 {
        return Err(RedisError::Syntax);
    }
    let start = match argv.get(3) {
        Some(a) => args::int(a)?,
        None => 0,
    };
    let bit_mode = match argv.get(5) {
        Some(u) => unit_is_bit(u)?,
        None => false,
    };
    let end = match argv.get(4) {
        Some(a) => Some(args::int(a)?),
        None => None,
    };
    let Some((from, to)) = bit_range(start, end.unwrap_or(-1), v.len(), bit_mode) else {
        return Ok(Reply::Int(-1));
    };
    let found = (from..=to).find(|&i| bit_at(&v, i) == want);
    Ok(Reply::Int(match found {
        Some(i) => i as i64,
        // Looking for a clear bit with no explicit end: the string is
        // conceptually padded with zeros, so the answer is past its end.
        None if !want && end.is_none() => ((to >> 3) + 1) as i64 * 8,
        None => -1,
    }))
}

fn bitop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let op = &argv[1];
    let kind = ["AND", "OR", "XOR", "NOT"]
        .iter()
        .position(|w| args::is(op, w))
        .ok_or(RedisError::Syntax)?;
    let srcs = &argv[3..];
    if kind == 3 && srcs.len() != 1 {
        return Err(RedisError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let dest = &argv[2];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[2..]);
    let mut vals = Vec::with_capacity(srcs.len());
    for k in srcs {
        vals.push(get_string(&mut g, k)?.unwrap_or_default());
    }
    let maxlen = vals.iter().map(Bytes::len).max().unwrap_or(0);
    let byte = |v: &Bytes, i: usize| v.get(i).copied().unwrap_or(0);
    let res: Vec<u8> = (0..maxlen)
        .map(|i| {
            let mut it = vals.iter().map(|v| byte(v, i));
            let first = it.next().unwrap_or(0);
            match kind {
                0 => it.fold(first, |a, b| a & b),
                1 => it.fold(first, |a, b| a | b),
                2 => it.fold(first, |a, b| a ^ b),
                _ => !first,
            }
        })
        .collect();
    if maxlen > 0 {
        g.insert(dest, Entry::new(Value::Str(StrValue::Raw(res))));
        g.notify(STRING, "set", dest);
        g.propagate(argv.to_vec());
    } else if g.remove(dest).is_some() {
        g.notify(GENERIC, "del", dest);
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Int(maxlen as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting() {
        let v = [0xffu8, 0x0f, 0xf0];
        assert_eq!(count_bits(&v, 0, 23), 16);
        assert_eq!(count_bits(&v, 1, 1), 1);
        assert_eq!(count_bits(&v, 8, 11), 0);
        assert_eq!(count_bits(&v, 5, 13), 5);
    }

    #[test]
    fn ranges() {
        assert_eq!(bit_range(0, -1, 3, false), Some((0, 23)));
        assert_eq!(bit_range(1, 1, 3, false), Some((8, 15)));
        assert_eq!(bit_range(5, 100, 3, true), Some((5, 23)));
        assert_eq!(bit_range(2, 1, 3, true), None);
        assert_eq!(bit_range(0, -1, 0, false), None);
    }
}
