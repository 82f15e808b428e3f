//! Sorted set commands, part 2: everything that selects a range by rank,
//! score or lex order — ZRANGE (BYSCORE/BYLEX/REV/LIMIT/WITHSCORES), its
//! legacy forms ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX, plus
//! ZRANGESTORE, ZCOUNT, ZLEXCOUNT and ZREMRANGEBY{RANK,SCORE,LEX}.
//! Mirrors Redis 7.0's zrangeGenericCommand option rules and error texts.

use bytes::Bytes;

use super::ctx::Ctx;
use super::zset::{
    after_write, collect, event_of, limits, scored_reply, store_result, zset_mut, zset_ref,
};
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::types::zset::{LexRange, ScoreRange};
use crate::types::ZSetValue;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// A parsed range request.
struct Spec {
    kind: Kind,
    rev: bool,
    withscores: bool,
    limit: Option<(i64, i64)>,
}

/// The range as parsed from min/max (already swapped for REV).
enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Parse options after min/max. `modern`: ZRANGE / ZRANGESTORE accept
/// BYSCORE, BYLEX and REV; `store`: WITHSCORES is not accepted.
fn parse_opts(
    opts: &[Bytes],
    mut spec: Spec,
    modern: bool,
    store: bool,
) -> Result<Spec, RedisError> {
    let mut i = 0;
    while i < opts.len() {
        let a = &opts[i];
        let left = opts.len() - i - 1;
        if !store && args::is(a, "withscores") {
            spec.withscores = true;
        } else if args::is(a, "limit") && left >= 2 {
            spec.limit = Some((args::int(&opts[i + 1])?, args::int(&opts[i + 2])?));
            i += 2;
        } else if modern && args::is(a, "byscore") && spec.kind == Kind::Rank {
            spec.kind = Kind::Score;
        } else if modern && args::is(a, "bylex") && spec.kind == Kind::Rank {
            spec.kind = Kind::Lex;
        } else if modern && !spec.rev && args::is(a, "rev") {
            spec.rev = true;
        } else {
            return Err(RedisError::Syntax);
        }
        i += 1;
    }
    if spec.limit.is_some() && spec.kind == Kind::Rank {
        return Err(RedisError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if spec.withscores && spec.kind == Kind::Lex {
        return Err(RedisError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    Ok(spec)
}

fn parse_bounds(spec: &Spec, min: &[u8], max: &[u8]) -> Result<Bounds, RedisError> {
    // With REV the arguments come as max, min for scores and lex.
    let (lo, hi) = if spec.rev && spec.kind != Kind::Rank {
        (max, min)
    } else {
        (min, max)
    };
    Ok(match spec.kind {
        Kind::Rank => Bounds::Rank(args::int(lo)?, args::int(hi)?),
        Kind::Score => Bounds::Score(ScoreRange::parse(lo, hi)?),
        Kind::Lex => Bounds::Lex(LexRange::parse(lo, hi)?),
    })
}

/// Clamp Redis rank indexes (negative = from the end) to a window.
pub fn rank_window(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let n = len as i64;
    let start = if start < 0 { (n + start).max(0) } else { start };
    let end = if end < 0 { n + end } else { end.min(n - 1) };
    (start <= end && start < n).then(|| (start as usize, end as usize + 1))
}

/// Select the elements of `z` for the request.
fn select(z: &ZSetValue, spec: &Spec, b: &Bounds) -> Vec<(Bytes, f64)> {
    let (lo, hi) = match b {
        Bounds::Rank(s, e) => {
            let Some((s, e)) = rank_window(*s, *e, z.len()) else {
                return Vec::new();
            };
            if spec.rev {
                let n = z.len();
                return collect(z, n - e, n - s, true);
            }
            return collect(z, s, e, false);
        }
        Bounds::Score(r) => z.score_window(r),
        Bounds::Lex(r) => z.lex_window(r),
    };
    let (offset, count) = spec.limit.unwrap_or((0, -1));
    if offset < 0 {
        return Vec::new();
    }
    let avail = hi - lo;
    let offset = (offset as u64).min(avail as u64) as usize;
    let take = if count < 0 {
        avail - offset
    } else {
        (count as u64).min((avail - offset) as u64) as usize
    };
    if spec.rev {
        collect(z, hi - offset - take, hi - offset, true)
    } else {
        collect(z, lo + offset, lo + offset + take, false)
    }
}

/// Shared body of all read-only range commands.
fn range_generic(ctx: &mut Ctx, argv: &[Bytes], spec: Spec, modern: bool) -> CmdResult {
    let spec = parse_opts(&argv[4..], spec, modern, false)?;
    let bounds = parse_bounds(&spec, &argv[2], &argv[3])?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let items = match zset_ref(&mut g, &argv[1])? {
        Some(z) => select(z, &spec, &bounds),
        None => Vec::new(),
    };
    Ok(scored_reply(items, spec.withscores, ctx.sess.resp))
}

fn spec(kind: Kind, rev: bool) -> Spec {
    Spec {
        kind,
        rev,
        withscores: false,
        limit: None,
    }
}

pub fn zrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, spec(Kind::Rank, false), true)
}

pub fn zrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, spec(Kind::Rank, true), false)
}

pub fn zrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, spec(Kind::Score, false), false)
}

pub fn zrevrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, spec(Kind::Score, true), false)
}

pub fn zrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, spec(Kind::Lex, false), false)
}

pub fn zrevrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, spec(Kind::Lex, true), false)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let spec = parse_opts(&argv[5..], spec(Kind::Rank, false), true, true)?;
    let bounds = parse_bounds(&spec, &argv[3], &argv[4])?;
    let lim = limits(ctx);
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..3]);
    let items = match zset_ref(&mut g, &argv[2])? {
        Some(z) => select(z, &spec, &bounds),
        None => Vec::new(),
    };
    let n = items.len() as i64;
    if store_result(&mut g, &argv[1], items, lim, "zrangestore") {
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Int(n))
}

pub fn zcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = ScoreRange::parse(&argv[2], &argv[3])?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let n = zset_ref(&mut g, &argv[1])?.map_or(0, |z| {
        let (lo, hi) = z.score_window(&r);
        hi - lo
    });
    Ok(Reply::Int(n as i64))
}

pub fn zlexcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = LexRange::parse(&argv[2], &argv[3])?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let n = zset_ref(&mut g, &argv[1])?.map_or(0, |z| {
        let (lo, hi) = z.lex_window(&r);
        hi - lo
    });
    Ok(Reply::Int(n as i64))
}

/// Shared body of ZREMRANGEBY*: `window` maps the set to a rank window.
fn remrange(
    ctx: &mut Ctx,
    argv: &[Bytes],
    window: impl Fn(&ZSetValue) -> Option<(usize, usize)>,
) -> CmdResult {
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(z) = zset_mut(&mut g, key)? else {
        return Ok(Reply::Int(0));
    };
    let n = match window(z) {
        Some((lo, hi)) if hi > lo => z.remove_range(lo, hi),
        _ => 0,
    };
    if n > 0 {
        let ev = event_of(
            &argv[0],
            &["zremrangebyrank", "zremrangebyscore", "zremrangebylex"],
        );
        after_write(&mut g, key, ev);
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Int(n as i64))
}

pub fn zremrangebyrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (s, e) = (args::int(&argv[2])?, args::int(&argv[3])?);
    remrange(ctx, argv, |z| rank_window(s, e, z.len()))
}

pub fn zremrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = ScoreRange::parse(&argv[2], &argv[3])?;
    remrange(ctx, argv, |z| Some(z.score_window(&r)))
}

pub fn zremrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = LexRange::parse(&argv[2], &argv[3])?;
    remrange(ctx, argv, |z| Some(z.lex_window(&r)))
}
