//! Counter commands on strings (Redis's t_string.c): INCR, DECR, INCRBY,
//! DECRBY and INCRBYFLOAT.
//!
//! Integer results are stored with the `int` encoding. INCRBYFLOAT computes
//! in x87 `long double` like Redis (emulated exactly in `util::ldouble`),
//! stores the `%.17Lf`-trimmed text as a plain string (embstr/raw, never
//! int) and propagates `SET key <result> KEEPTTL` so replicas do not
//! depend on floating point.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::notify::class::STRING;
use crate::protocol::Reply;
use crate::types::{Entry, StrValue, Value};
use crate::util::ldouble::{self, LongDouble};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
];

/// Add `by` to the integer at `argv[1]` (missing = 0).
fn incr_generic(ctx: &mut Ctx, argv: &[Bytes], by: i64) -> CmdResult {
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let old = match g.value(key) {
        None => 0,
        Some(Value::Str(s)) => s.as_int().ok_or(RedisError::NotInteger)?,
        #[allow(unreachable_patterns)]
        Some(_) => return Err(RedisError::WrongType),
    };
    let new = old.checked_add(by).ok_or(RedisError::Overflow)?;
    let value = Value::Str(StrValue::from_int(new));
    match g.get_mut(key) {
        Some(e) => {
            // Overwrite in place: the TTL stays (dbOverwrite).
            e.value = value;
            g.touched(key);
        }
        None => {
            g.insert(key, Entry::new(value));
        }
    }
    g.notify(STRING, "incrby", key);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(new))
}

fn incr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_generic(ctx, argv, 1)
}

fn decr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_generic(ctx, argv, -1)
}

fn incrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let by = args::int(&argv[2])?;
    incr_generic(ctx, argv, by)
}

fn decrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let by = args::int(&argv[2])?;
    // -LLONG_MIN does not exist; Redis reports it before touching the key.
    let by = by
        .checked_neg()
        .ok_or_else(|| RedisError::err("decrement would overflow"))?;
    incr_generic(ctx, argv, by)
}

/// Redis's getLongDoubleFromObject on a stored string.
fn stored_long_double(s: &StrValue) -> Option<LongDouble> {
    match s {
        StrValue::Int(n) => Some(LongDouble::from_i64(*n)),
        other => other.with_bytes(ldouble::parse),
    }
}

fn incrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let old = match g.value(key) {
        None => LongDouble::from_i64(0),
        Some(Value::Str(s)) => stored_long_double(s).ok_or(RedisError::NotFloat)?,
        #[allow(unreachable_patterns)]
        Some(_) => return Err(RedisError::WrongType),
    };
    let by = ldouble::parse(&argv[2]).ok_or(RedisError::NotFloat)?;
    let sum = ldouble::add(old, by)
        .filter(LongDouble::is_finite)
        .ok_or_else(|| RedisError::err("increment would produce NaN or Infinity"))?;
    let text = Bytes::from(ldouble::to_human_string(sum));
    g.set_value(key, Value::Str(StrValue::from_plain(&text)), true);
    g.notify(STRING, "incrbyfloat", key);
    g.propagate(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        text.clone(),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    Ok(Reply::Bulk(text))
}
