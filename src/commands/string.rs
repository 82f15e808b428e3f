//! String commands that read or replace whole values (Redis's t_string.c):
//! GET, SET, SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, MGET, MSET,
//! MSETNX. In-place edits live in `string_edit.rs`, counters in
//! `string_num.rs`, LCS in `lcs.rs`.
//!
//! Propagation mirrors Redis 7.0: SET/SETEX/PSETEX with any expiry
//! become `SET key value PXAT <ms>` (other options dropped), GETSET
//! becomes SET, GETDEL becomes DEL, GETEX becomes PEXPIREAT, PERSIST or
//! DEL/UNLINK (already expired EXAT/PXAT).

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::notify::class::{GENERIC, STRING};
use crate::protocol::Reply;
use crate::types::{Entry, StrValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
];

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
    crate::server::stats::bump(c, 1);
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
pub fn expire_unit(a: &[u8]) -> Option<(u64, bool)> {
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
    // Only NX/XX need the existence check (one lookup less on plain SET).
    let exists = (o.nx || o.xx) && g.exists(key);
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
    g.notify(STRING, "set", key);
    if o.expire_at.is_some() {
        g.notify(GENERIC, "expire", key);
    }
    // Any expiry (EX/PX/EXAT/PXAT) is propagated as `SET key value PXAT ms`,
    // dropping the other options, exactly as Redis 7.0.15 rewrites them.
    // Without an expiry, Redis drops every GET option. Nothing is built
    // when no AOF or replica consumes the stream.
    match o.expire_at {
        _ if !g.propagating() => {}
        Some(at) => g.propagate(set_pxat(key, &argv[2], at)),
        None if o.get => g.propagate(
            argv.iter()
                .enumerate()
                .filter(|(i, a)| *i < 3 || !a.eq_ignore_ascii_case(b"get"))
                .map(|(_, a)| a.clone())
                .collect(),
        ),
        _ => g.propagate(argv.to_vec()),
    }
    Ok(if o.get {
        old.map_or(Reply::Nil, Reply::Bulk)
    } else {
        Reply::OK
    })
}

/// The deterministic form of a SET with an expiry.
fn set_pxat(key: &Bytes, val: &Bytes, at: u64) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        val.clone(),
        Bytes::from_static(b"PXAT"),
        Bytes::from(at.to_string()),
    ]
}

/// Replace `key` with a fresh string (setKey: any old TTL is dropped).
fn store(g: &mut KeyGuards, key: &[u8], val: &[u8]) {
    g.insert(key, Entry::new(Value::Str(StrValue::from_bytes(val))));
}

fn setnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    if g.exists(&argv[1]) {
        return Ok(Reply::Int(0));
    }
    store(&mut g, &argv[1], &argv[2]);
    g.notify(STRING, "set", &argv[1]);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(1))
}

/// SETEX/PSETEX: validate the expiry first, then `SET key value PXAT ms`.
fn setex_generic(ctx: &mut Ctx, argv: &[Bytes], unit_ms: u64, cmd: &'static str) -> CmdResult {
    let at = parse_expire(&argv[2], unit_ms, false, ctx.now_ms, cmd)?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let mut entry = Entry::new(Value::Str(StrValue::from_bytes(&argv[3])));
    entry.expire_at = at;
    g.insert(&argv[1], entry);
    g.notify(STRING, "set", &argv[1]);
    g.notify(GENERIC, "expire", &argv[1]);
    g.propagate(set_pxat(&argv[1], &argv[3], at));
    Ok(Reply::OK)
}

fn setex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, 1000, "setex")
}

fn psetex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, 1, "psetex")
}

fn getset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let old = get_string(&mut g, &argv[1])?;
    store(&mut g, &argv[1], &argv[2]);
    g.notify(STRING, "set", &argv[1]);
    g.propagate(vec![
        Bytes::from_static(b"SET"),
        argv[1].clone(),
        argv[2].clone(),
    ]);
    drop(g);
    hit_or_miss(ctx, old.is_some());
    Ok(old.map_or(Reply::Nil, Reply::Bulk))
}

fn getdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let old = get_string(&mut g, &argv[1])?;
    if old.is_some() {
        g.remove(&argv[1]);
        g.notify(GENERIC, "del", &argv[1]);
        g.propagate(vec![Bytes::from_static(b"DEL"), argv[1].clone()]);
    }
    drop(g);
    hit_or_miss(ctx, old.is_some());
    Ok(old.map_or(Reply::Nil, Reply::Bulk))
}

/// What GETEX does to the TTL.
enum GetexOp {
    Keep,
    Persist,
    /// (value, ms per unit, absolute?)
    Expire(Bytes, u64, bool),
}

fn parse_getex(argv: &[Bytes]) -> Result<GetexOp, RedisError> {
    let mut op = GetexOp::Keep;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        match (expire_unit(a), argv.get(i + 1)) {
            (Some((unit, abs)), Some(v)) if matches!(op, GetexOp::Keep) => {
                op = GetexOp::Expire(v.clone(), unit, abs);
                i += 1;
            }
            _ if args::is(a, "PERSIST") && !matches!(op, GetexOp::Expire(..)) => {
                op = GetexOp::Persist;
            }
            _ => return Err(RedisError::Syntax),
        }
        i += 1;
    }
    Ok(op)
}

fn getex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let op = parse_getex(argv)?;
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let val = get_string(&mut g, key)?;
    let Some(val) = val else {
        drop(g);
        hit_or_miss(ctx, false);
        return Ok(Reply::Nil);
    };
    match op {
        GetexOp::Keep => {}
        GetexOp::Persist => {
            if g.peek(key).is_some_and(|e| e.has_expire()) {
                g.set_expire(key, 0);
                g.notify(GENERIC, "persist", key);
                g.propagate(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
            }
        }
        GetexOp::Expire(v, unit, abs) => {
            let at = parse_expire(&v, unit, abs, ctx.now_ms, "getex")?;
            if abs && at <= ctx.now_ms && !ctx.ks().is_replica() {
                // An absolute time already in the past deletes the key.
                g.remove(key);
                g.notify(GENERIC, "del", key);
                let lazy = ctx.srv.config.get_bool("lazyfree-lazy-expire");
                let cmd: &'static [u8] = if lazy { b"UNLINK" } else { b"DEL" };
                g.propagate(vec![Bytes::from_static(cmd), key.clone()]);
            } else {
                g.set_expire(key, at);
                g.notify(GENERIC, "expire", key);
                g.propagate(vec![
                    Bytes::from_static(b"PEXPIREAT"),
                    key.clone(),
                    Bytes::from(at.to_string()),
                ]);
            }
        }
    }
    drop(g);
    hit_or_miss(ctx, true);
    Ok(Reply::Bulk(val))
}

fn mget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let keys = &argv[1..];
    let mut g = ctx.lock(&db, keys);
    let vals: Vec<Option<Bytes>> = keys
        .iter()
        .map(|k| get_string(&mut g, k).ok().flatten())
        .collect();
    drop(g);
    let mut out = Vec::with_capacity(vals.len());
    for v in vals {
        hit_or_miss(ctx, v.is_some());
        out.push(v.map_or(Reply::Nil, Reply::Bulk));
    }
    Ok(Reply::Array(out))
}

/// MSET / MSETNX (`nx`): all keys are set, or none when one exists.
fn mset_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(RedisError::arity(&argv[0]));
    }
    let db = ctx.db();
    let keys: Vec<Bytes> = argv[1..].iter().step_by(2).cloned().collect();
    let mut g = ctx.lock(&db, &keys);
    if nx && keys.iter().any(|k| g.exists(k)) {
        return Ok(Reply::Int(0));
    }
    for pair in argv[1..].chunks_exact(2) {
        store(&mut g, &pair[0], &pair[1]);
        g.notify(STRING, "set", &pair[0]);
    }
    g.propagate(argv.to_vec());
    Ok(if nx { Reply::Int(1) } else { Reply::OK })
}

fn mset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    mset_generic(ctx, argv, false)
}

fn msetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    mset_generic(ctx, argv, true)
}
