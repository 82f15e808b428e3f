//! Sorted set commands, part 4: ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER and
//! ZSCAN. The non-blocking pop logic (`pop_elements`, `zmpop_parse`,
//! `zmpop_from`) is public so BZPOPMIN/BZPOPMAX/BZMPOP can reuse it.

use bytes::Bytes;
use rand::Rng;

use super::ctx::Ctx;
use super::zset::{after_write, scored_reply, zset_mut, zset_ref};
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::protocol::{Reply, RespVersion};
use crate::types::ZSetValue;
use crate::util::glob::glob_match;
use crate::util::numfmt::fmt_g17;
use crate::util::numparse;

/// Pop up to `count` elements from the low (`max == false`) or high end.
pub fn pop_elements(z: &mut ZSetValue, max: bool, count: usize) -> Vec<(Bytes, f64)> {
    let n = z.len();
    let take = count.min(n);
    let items: Vec<(Bytes, f64)> = if max {
        super::zset::collect(z, n - take, n, true)
    } else {
        super::zset::collect(z, 0, take, false)
    };
    if max {
        z.remove_range(n - take, n);
    } else {
        z.remove_range(0, take);
    }
    items
}

/// Pop from `key` under held guards: deletes the key when emptied and
/// propagates `ZPOPMIN|ZPOPMAX key [count]` (Redis's form for ZMPOP/BZ*:
/// BZPOPMIN/BZPOPMAX, which take no count, propagate none).
pub fn pop_and_propagate(
    g: &mut KeyGuards,
    key: &Bytes,
    max: bool,
    count: usize,
    with_count: bool,
) -> Result<Vec<(Bytes, f64)>, RedisError> {
    let Some(z) = zset_mut(g, key)? else {
        return Ok(Vec::new());
    };
    let items = pop_elements(z, max, count);
    if !items.is_empty() {
        after_write(g, key);
        let name = if max { "ZPOPMAX" } else { "ZPOPMIN" };
        let mut argv = vec![Bytes::from_static(name.as_bytes()), key.clone()];
        if with_count {
            argv.push(Bytes::from(items.len().to_string()));
        }
        g.propagate(argv);
    }
    Ok(items)
}

fn zpop_generic(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    let count = match argv.get(2) {
        None => None,
        Some(a) => Some(
            numparse::parse_i64(a)
                .filter(|c| *c >= 0)
                .ok_or_else(|| RedisError::err("value is out of range, must be positive"))?,
        ),
    };
    if argv.len() > 3 {
        return Err(RedisError::Syntax);
    }
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let items = match zset_mut(&mut g, key)? {
        Some(z) => pop_elements(z, max, count.unwrap_or(1) as usize),
        None => Vec::new(),
    };
    if !items.is_empty() {
        after_write(&mut g, key);
        g.propagate(argv.to_vec());
    }
    drop(g);
    // Without COUNT the reply stays flat even in RESP3.
    let resp = if count.is_some() {
        ctx.sess.resp
    } else {
        RespVersion::Resp2
    };
    Ok(scored_reply(items, true, resp))
}

pub fn zpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, false)
}

pub fn zpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, true)
}

/// Parsed `numkeys key... MIN|MAX [COUNT count]` starting at `argv[at]`.
pub struct MPop<'a> {
    pub keys: &'a [Bytes],
    pub max: bool,
    pub count: usize,
}

pub fn zmpop_parse(argv: &[Bytes], at: usize) -> Result<MPop<'_>, RedisError> {
    let numkeys = numparse::parse_i64(&argv[at])
        .filter(|n| *n > 0)
        .ok_or_else(|| RedisError::err("numkeys should be greater than 0"))?;
    let first = at + 1;
    if numkeys as u64 >= (argv.len() - first) as u64 {
        return Err(RedisError::Syntax);
    }
    let n = numkeys as usize;
    let keys = &argv[first..first + n];
    let mut i = first + n;
    let max = if args::is(&argv[i], "min") {
        false
    } else if args::is(&argv[i], "max") {
        true
    } else {
        return Err(RedisError::Syntax);
    };
    i += 1;
    let mut count = None;
    while i < argv.len() {
        if count.is_none() && args::is(&argv[i], "count") && i + 1 < argv.len() {
            let c = numparse::parse_i64(&argv[i + 1])
                .filter(|c| *c > 0)
                .ok_or_else(|| RedisError::err("count should be greater than 0"))?;
            count = Some(c as usize);
            i += 2;
        } else {
            return Err(RedisError::Syntax);
        }
    }
    Ok(MPop {
        keys,
        max,
        count: count.unwrap_or(1),
    })
}

/// Pop from the first non-empty key; the ZMPOP reply, or None if all empty.
pub fn zmpop_from(g: &mut KeyGuards, req: &MPop) -> Result<Option<Reply>, RedisError> {
    for key in req.keys {
        if zset_ref(g, key)?.is_none() {
            continue;
        }
        let items = pop_and_propagate(g, key, req.max, req.count, true)?;
        // ZMPOP always nests member/score pairs.
        let pairs = Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        );
        return Ok(Some(Reply::Array(vec![Reply::Bulk(key.clone()), pairs])));
    }
    Ok(None)
}

pub fn zmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let req = zmpop_parse(argv, 1)?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, req.keys);
    Ok(zmpop_from(&mut g, &req)?.unwrap_or(Reply::NilArray))
}

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 || (argv.len() == 4 && !args::is(&argv[3], "withscores")) {
        return Err(RedisError::Syntax);
    }
    let count = argv.get(2).map(|a| args::int(a)).transpose()?;
    let withscores = argv.len() == 4;
    // Redis refuses counts whose reply size would overflow: LONG_MIN, and
    // with WITHSCORES anything below -LONG_MAX/2.
    if count == Some(i64::MIN) {
        return Err(RedisError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if withscores && count.is_some_and(|c| c < -(i64::MAX / 2)) {
        return Err(RedisError::OutOfRange);
    }
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let z = zset_ref(&mut g, &argv[1])?;
    let Some(count) = count else {
        return Ok(match z {
            Some(z) => {
                let r = rand::thread_rng().gen_range(0..z.len());
                z.at(r)
                    .map_or(Reply::Nil, |(m, _)| Reply::Bulk(Bytes::copy_from_slice(m)))
            }
            None => Reply::Nil,
        });
    };
    let Some(z) = z else {
        return Ok(Reply::empty_array());
    };
    let items = random_elements(z, count);
    drop(g);
    Ok(scored_reply(items, withscores, ctx.sess.resp))
}

fn random_elements(z: &ZSetValue, count: i64) -> Vec<(Bytes, f64)> {
    let n = z.len();
    let mut rng = rand::thread_rng();
    let pick = |r: usize| z.at(r).map(|(m, s)| (Bytes::copy_from_slice(m), s));
    if count < 0 {
        // Repeats allowed.
        return (0..count.unsigned_abs())
            .filter_map(|_| pick(rng.gen_range(0..n)))
            .collect();
    }
    let count = count as usize;
    if count >= n {
        // The whole set, highest first, as Redis replies.
        return super::zset::collect(z, 0, n, true);
    }
    rand::seq::index::sample(&mut rng, n, count)
        .into_iter()
        .filter_map(pick)
        .collect()
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = std::str::from_utf8(&argv[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| RedisError::err("invalid cursor"))?;
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut i = 3;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        if args::is(&argv[i], "count") && left >= 1 {
            let c = args::int(&argv[i + 1])?;
            if c < 1 {
                return Err(RedisError::Syntax);
            }
            count = c as usize;
        } else if args::is(&argv[i], "match") && left >= 1 {
            pattern = Some(&argv[i + 1]);
        } else {
            return Err(RedisError::Syntax);
        }
        i += 2;
    }
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let mut out = Vec::new();
    let mut push = |m: &[u8], s: String| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            out.push(Reply::Bulk(Bytes::copy_from_slice(m)));
            out.push(Reply::Bulk(Bytes::from(s)));
        }
    };
    let next = match zset_ref(&mut g, &argv[1])? {
        None => 0,
        Some(ZSetValue::Listpack(l)) => {
            l.iter().for_each(|(m, s)| push(m, lp_score_text(s)));
            0
        }
        Some(ZSetValue::Skiplist(s)) => s.scan(cursor, count, |m, sc| push(m, fmt_g17(sc))),
    };
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(out),
    ]))
}

/// A listpack score as Redis's listpack holds it (and ZSCAN prints it):
/// integral scores within ±2^62 are stored as integers, others as %.17g.
fn lp_score_text(s: f64) -> String {
    const LIM: f64 = 4_611_686_018_427_387_904.0;
    if s.fract() == 0.0 && (-LIM..=LIM).contains(&s) {
        (s as i64).to_string()
    } else {
        fmt_g17(s)
    }
}
