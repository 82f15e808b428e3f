//! Sorted set commands (Redis's t_zset.c), part 1: the command list, the
//! helpers every zset file shares, and the single-key point commands
//! ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK.
//! Ranges live in `zset_range.rs`, set algebra in `zset_store.rs`, pops,
//! ZRANDMEMBER and ZSCAN in `zset_pop.rs`.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use super::{zset_pop as pop, zset_range as range, zset_store as store};
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::notify::class::{GENERIC, ZSET};
use crate::protocol::{Reply, RespVersion};
use crate::types::zset::Limits;
use crate::types::{Entry, Value, ZSetValue};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zcard", zcard),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zrange", range::zrange),
    ("zrangestore", range::zrangestore),
    ("zrevrange", range::zrevrange),
    ("zrangebyscore", range::zrangebyscore),
    ("zrevrangebyscore", range::zrevrangebyscore),
    ("zrangebylex", range::zrangebylex),
    ("zrevrangebylex", range::zrevrangebylex),
    ("zcount", range::zcount),
    ("zlexcount", range::zlexcount),
    ("zremrangebyrank", range::zremrangebyrank),
    ("zremrangebyscore", range::zremrangebyscore),
    ("zremrangebylex", range::zremrangebylex),
    ("zunion", store::zunion),
    ("zinter", store::zinter),
    ("zdiff", store::zdiff),
    ("zunionstore", store::zunionstore),
    ("zinterstore", store::zinterstore),
    ("zdiffstore", store::zdiffstore),
    ("zintercard", store::zintercard),
    ("zpopmin", pop::zpopmin),
    ("zpopmax", pop::zpopmax),
    ("zmpop", pop::zmpop),
    ("zrandmember", pop::zrandmember),
    ("zscan", pop::zscan),
];

/// The configured listpack thresholds.
pub fn limits(ctx: &Ctx) -> Limits {
    let c = &ctx.srv.config;
    Limits {
        max_entries: c.get_i64("zset-max-listpack-entries").max(0) as usize,
        max_value: c.get_i64("zset-max-listpack-value").max(0) as usize,
    }
}

/// The sorted set at `key` (None when missing), WRONGTYPE for other types.
pub fn zset_ref<'g>(g: &'g mut KeyGuards, key: &[u8]) -> Result<Option<&'g ZSetValue>, RedisError> {
    match g.value(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(RedisError::WrongType),
    }
}

/// Mutable access to the sorted set at `key`.
pub fn zset_mut<'g>(
    g: &'g mut KeyGuards,
    key: &[u8],
) -> Result<Option<&'g mut ZSetValue>, RedisError> {
    match g.get_mut(key).map(|e| &mut e.value) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(RedisError::WrongType),
    }
}

/// After an in-place change: report the keyspace event `ev`, delete the
/// key if the set became empty (Redis never keeps empty sets), otherwise
/// signal the modification.
pub fn after_write(g: &mut KeyGuards, key: &[u8], ev: &str) {
    let empty = matches!(g.peek(key).map(|e| &e.value), Some(Value::ZSet(z)) if z.is_empty());
    g.notify(ZSET, ev, key);
    if empty {
        g.remove(key);
        g.notify(GENERIC, "del", key);
    } else {
        g.touched(key);
    }
}

/// Store `pairs` (distinct members) at `dst` as a fresh set, or delete
/// `dst` when empty, reporting `ev` (or `del`). Returns true when the
/// keyspace changed.
pub fn store_result(
    g: &mut KeyGuards,
    dst: &[u8],
    pairs: Vec<(Bytes, f64)>,
    lim: Limits,
    ev: &str,
) -> bool {
    if pairs.is_empty() {
        let removed = g.remove(dst).is_some();
        if removed {
            g.notify(GENERIC, "del", dst);
        }
        return removed;
    }
    let z = ZSetValue::from_pairs(pairs, lim);
    g.insert(dst, Entry::new(Value::ZSet(z)));
    g.notify(ZSET, ev, dst);
    true
}

/// The keyspace event named after the command that runs (`argv[0]`),
/// one of `names` (Redis names these events after the command).
pub fn event_of(cmd: &[u8], names: &[&'static str]) -> &'static str {
    names
        .iter()
        .find(|n| args::is(cmd, n))
        .or(names.first())
        .copied()
        .unwrap_or_default()
}

/// Members with optional scores: flat in RESP2, [member, score] pairs in
/// RESP3 (as Redis 7.0 replies to ZRANGE WITHSCORES and friends).
pub fn scored_reply(items: Vec<(Bytes, f64)>, withscores: bool, resp: RespVersion) -> Reply {
    if !withscores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if resp == RespVersion::Resp3 {
        return Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        );
    }
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        out.push(Reply::Bulk(m));
        out.push(Reply::Double(s));
    }
    Reply::Array(out)
}

/// Copy a window of elements out of the set.
pub fn collect(z: &ZSetValue, start: usize, end: usize, rev: bool) -> Vec<(Bytes, f64)> {
    z.iter_range(start, end, rev)
        .map(|(m, s)| (Bytes::copy_from_slice(m), s))
        .collect()
}

fn nan_error() -> RedisError {
    RedisError::err("resulting score is not a number (NaN)")
}

/// ZADD flags.
#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Outcome of applying ZADD pairs.
#[derive(Default)]
struct AddOutcome {
    added: i64,
    updated: i64,
    /// ZADD INCR: the new score, None when the element was skipped.
    incr_score: Option<f64>,
}

fn parse_add_flags(argv: &[Bytes]) -> (AddFlags, usize) {
    let mut f = AddFlags::default();
    let mut i = 2;
    while let Some(a) = argv.get(i) {
        match args::lower(a).as_str() {
            "nx" => f.nx = true,
            "xx" => f.xx = true,
            "gt" => f.gt = true,
            "lt" => f.lt = true,
            "ch" => f.ch = true,
            "incr" => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    (f, i)
}

fn apply_add(
    z: &mut ZSetValue,
    f: AddFlags,
    pairs: &[(f64, Bytes)],
    lim: Limits,
) -> Result<AddOutcome, RedisError> {
    let mut out = AddOutcome::default();
    for (score, m) in pairs {
        match z.score(m) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { cur + score } else { *score };
                if new.is_nan() {
                    return Err(nan_error());
                }
                if (f.gt && new <= cur) || (f.lt && new >= cur) {
                    continue;
                }
                out.incr_score = Some(new);
                if new != cur {
                    z.upsert(m, new, lim);
                    out.updated += 1;
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                z.upsert(m, *score, lim);
                out.incr_score = Some(*score);
                out.added += 1;
            }
        }
    }
    Ok(out)
}

fn zadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (f, first) = parse_add_flags(argv);
    let elems = &argv[first..];
    if elems.is_empty() || !elems.len().is_multiple_of(2) {
        return Err(RedisError::Syntax);
    }
    if f.nx && f.xx {
        return Err(RedisError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if [f.gt, f.lt, f.nx].iter().filter(|b| **b).count() > 1 {
        return Err(RedisError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elems.len() > 2 {
        return Err(RedisError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let pairs = elems
        .chunks(2)
        .map(|c| Ok((args::float(&c[0])?, c[1].clone())))
        .collect::<Result<Vec<_>, RedisError>>()?;
    add_generic(ctx, argv, f, &pairs)
}

fn zincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = args::float(&argv[2])?;
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add_generic(ctx, argv, f, &[(incr, argv[3].clone())])
}

fn add_generic(ctx: &mut Ctx, argv: &[Bytes], f: AddFlags, pairs: &[(f64, Bytes)]) -> CmdResult {
    let lim = limits(ctx);
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let out = match zset_mut(&mut g, key)? {
        Some(z) => {
            let out = apply_add(z, f, pairs, lim)?;
            if out.added + out.updated > 0 {
                g.touched(key);
            }
            out
        }
        None if f.xx => AddOutcome::default(),
        None => {
            let first_len = pairs.first().map_or(0, |(_, m)| m.len());
            let mut z = ZSetValue::new_for(first_len, lim);
            let out = apply_add(&mut z, f, pairs, lim)?;
            if !z.is_empty() {
                g.insert(key, Entry::new(Value::ZSet(z)));
            }
            out
        }
    };
    if out.added + out.updated > 0 {
        g.notify(ZSET, if f.incr { "zincr" } else { "zadd" }, key);
        g.propagate(argv.to_vec());
    }
    if f.incr {
        return Ok(out.incr_score.map_or(Reply::Nil, Reply::Double));
    }
    Ok(Reply::Int(out.added + if f.ch { out.updated } else { 0 }))
}

fn zrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(z) = zset_mut(&mut g, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut n = 0;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        after_write(&mut g, key, "zrem");
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Int(n))
}

fn zcard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    Ok(Reply::Int(
        zset_ref(&mut g, &argv[1])?.map_or(0, |z| z.len() as i64),
    ))
}

fn zscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let s = zset_ref(&mut g, &argv[1])?.and_then(|z| z.score(&argv[2]));
    Ok(s.map_or(Reply::Nil, Reply::Double))
}

fn zmscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let z = zset_ref(&mut g, &argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
            .collect(),
    ))
}

fn rank_generic(ctx: &mut Ctx, argv: &[Bytes], rev: bool) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(z) = zset_ref(&mut g, &argv[1])? else {
        return Ok(Reply::Nil);
    };
    let r = z
        .rank(&argv[2])
        .map(|r| if rev { z.len() - 1 - r } else { r });
    Ok(r.map_or(Reply::Nil, |r| Reply::Int(r as i64)))
}

fn zrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, true)
}
