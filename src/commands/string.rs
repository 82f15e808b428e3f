//! String commands (Redis's t_string.c): GET, SET and friends.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::protocol::Reply;
use crate::types::{Entry, StrValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[("get", get), ("set", set)];

/// The string value of a live key, WRONGTYPE for other types.
pub fn get_string(g: &mut KeyGuards, key: &[u8]) -> Result<Option<Bytes>, RedisError> {
    match g.value(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_bytes())),
        #[allow(unreachable_patterns)]
        Some(_) => Err(RedisError::WrongType),
    }
}

/// Count a keyspace hit or miss (INFO keyspace_hits/misses).
pub fn hit_or_miss(ctx: &Ctx, hit: bool) {
    let s = &ctx.srv.stats;
    let c = if hit {
        &s.keyspace_hits
    } else {
        &s.keyspace_misses
    };
    c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let v = get_string(&mut g, &argv[1])?;
    drop(g);
    hit_or_miss(ctx, v.is_some());
    Ok(v.map_or(Reply::Nil, Reply::Bulk))
}

/// Options of SET (and the shared expire parsing of GETEX).
#[derive(Debug, Default)]
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    /// Absolute expiry in ms.
    expire_at: Option<u64>,
}

/// Parse an expire argument: `unit_ms` is 1000 for EX/EXAT, 1 for PX/PXAT.
pub fn parse_expire(
    arg: &[u8],
    unit_ms: u64,
    absolute: bool,
    now_ms: u64,
    cmd: &'static str,
) -> Result<u64, RedisError> {
    let v = args::int(arg)?;
    if v <= 0 {
        return Err(RedisError::InvalidExpire(cmd));
    }
    let ms = (v as u64)
        .checked_mul(unit_ms)
        .filter(|m| *m <= i64::MAX as u64);
    let ms = ms.ok_or(RedisError::InvalidExpire(cmd))?;
    let at = if absolute {
        Some(ms)
    } else {
        ms.checked_add(now_ms).filter(|m| *m <= i64::MAX as u64)
    };
    at.ok_or(RedisError::InvalidExpire(cmd))
}

fn parse_set_opts(argv: &[Bytes], now_ms: u64) -> Result<SetOpts, RedisError> {
    let mut o = SetOpts::default();
    let mut i = 3;
    let mut has_expire = false;
    let mut expire: Option<(&Bytes, (u64, bool))> = None;
    while i < argv.len() {
        let a = &argv[i];
        let next = argv.get(i + 1);
        if args::is(a, "NX") && !o.xx {
            o.nx = true;
        } else if args::is(a, "XX") && !o.nx {
            o.xx = true;
        } else if args::is(a, "GET") {
            o.get = true;
        } else if args::is(a, "KEEPTTL") && !has_expire {
            o.keep_ttl = true;
        } else if let (Some(unit), Some(val)) = (expire_unit(a), next) {
            if has_expire || o.keep_ttl {
                return Err(RedisError::Syntax);
            }
            has_expire = true;
            expire = Some((val, unit));
            i += 1;
        } else {
            return Err(RedisError::Syntax);
        }
        i += 1;
    }
    // Redis validates the expire value only after every option parsed.
    if let Some((val, (unit, abs))) = expire {
        o.expire_at = Some(parse_expire(val, unit, abs, now_ms, "set")?);
    }
    Ok(o)
}

/// (ms per unit, absolute?) for EX/PX/EXAT/PXAT.
fn expire_unit(a: &[u8]) -> Option<(u64, bool)> {
    if args::is(a, "EX") {
        Some((1000, false))
    } else if args::is(a, "PX") {
        Some((1, false))
    } else if args::is(a, "EXAT") {
        Some((1000, true))
    } else if args::is(a, "PXAT") {
        Some((1, true))
    } else {
        None
    }
}

fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = parse_set_opts(argv, ctx.now_ms)?;
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let old = if o.get {
        get_string(&mut g, key)?
    } else {
        None
    };
    let exists = g.exists(key);
    if (o.nx && exists) || (o.xx && !exists) {
        return Ok(if o.get {
            old.map_or(Reply::Nil, Reply::Bulk)
        } else {
            Reply::Nil
        });
    }
    let mut entry = Entry::new(Value::Str(StrValue::from_bytes(&argv[2])));
    if o.keep_ttl {
        entry.expire_at = g.peek(key).map_or(0, |e| e.expire_at);
    }
    if let Some(at) = o.expire_at {
        entry.expire_at = at;
    }
    g.insert(key, entry);
    // Relative expiries are propagated as absolute PXAT (Redis 7.0).
    let mut prop = argv.to_vec();
    if let Some(at) = o.expire_at {
        prop = rewrite_set_expire(argv, at);
    }
    g.propagate(prop);
    Ok(if o.get {
        old.map_or(Reply::Nil, Reply::Bulk)
    } else {
        Reply::OK
    })
}

/// SET with EX/PX/EXAT → SET with PXAT <abs ms>, other options kept.
fn rewrite_set_expire(argv: &[Bytes], at: u64) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = argv[..3].to_vec();
    let mut i = 3;
    while i < argv.len() {
        if expire_unit(&argv[i]).is_some() {
            out.push(Bytes::from_static(b"PXAT"));
            out.push(Bytes::from(at.to_string()));
            i += 2;
            continue;
        }
        out.push(argv[i].clone());
        i += 1;
    }
    out
}
