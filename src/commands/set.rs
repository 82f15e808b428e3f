//! Single-key set commands (Redis's t_set.c): SADD, SREM, SISMEMBER,
//! SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE, SSCAN. Replies, errors and
//! propagation follow Redis 7.0.15: random removals replay as SREM of the
//! chosen members, a SPOP that empties the set replays as DEL.

use bytes::Bytes;
use rand::seq::index;
use rand::Rng;

use super::coll::{self, parse_cursor, parse_scan_opts};
use super::ctx::Ctx;
use super::hash::{bulk, scan_reply};
use super::hash_rand::{count_arg_range, pick_indices};
use super::string::hit_or_miss;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::notify::class::{GENERIC, SET};
use crate::protocol::Reply;
use crate::types::cursor::scan_range;
use crate::types::SetValue;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("spop", spop),
    ("srandmember", srandmember),
    ("smove", smove),
    ("sscan", sscan),
];

fn read_set(
    ctx: &mut Ctx,
    key: &[u8],
    missing: Reply,
    f: impl FnOnce(&SetValue) -> CmdResult,
) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &[key]);
    let r = coll::read::<SetValue>(&mut g, key)?.map(f).transpose()?;
    drop(g);
    hit_or_miss(ctx, r.is_some());
    Ok(r.unwrap_or(missing))
}

fn sadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let max = coll::limits(ctx).set_max_intset;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let init = SetValue::for_member(&argv[2]);
    let n = coll::update(&mut g, &argv[1], Some(init), (SET, "sadd"), |s| {
        let n: i64 = argv[2..].iter().map(|m| i64::from(s.add(m, max))).sum();
        Ok((n, n > 0))
    })?
    .unwrap_or(0);
    if n > 0 {
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Int(n))
}

fn srem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    coll::remove_members::<SetValue>(ctx, argv, (SET, "srem"), |c, m| c.remove(m))
}

fn sismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_set(ctx, &argv[1], Reply::Int(0), |s| {
        Ok(Reply::Int(i64::from(s.contains(&argv[2]))))
    })
}

fn smismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let zeros = Reply::Array(argv[2..].iter().map(|_| Reply::Int(0)).collect());
    read_set(ctx, &argv[1], zeros, |s| {
        Ok(Reply::Array(
            argv[2..]
                .iter()
                .map(|m| Reply::Int(i64::from(s.contains(m))))
                .collect(),
        ))
    })
}

fn scard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_set(ctx, &argv[1], Reply::Int(0), |s| {
        Ok(Reply::Int(s.len() as i64))
    })
}

fn srem_effect(key: &Bytes, member: Bytes) -> Vec<Bytes> {
    vec![Bytes::from_static(b"SREM"), key.clone(), member]
}

fn spop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => spop_one(ctx, &argv[1]),
        3 => spop_count(ctx, argv),
        _ => Err(RedisError::Syntax),
    }
}

fn spop_one(ctx: &mut Ctx, key: &Bytes) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &[key]);
    let m = coll::update::<SetValue, _>(&mut g, key, None, (SET, "spop"), |s| {
        let i = rand::thread_rng().gen_range(0..s.len());
        Ok((s.take_at(i), true))
    })?
    .flatten();
    let Some(m) = m else {
        return Ok(Reply::Nil);
    };
    g.propagate(srem_effect(key, m.clone()));
    Ok(Reply::Bulk(m))
}

/// Redis rebuilds the set from the survivors instead of removing
/// members one by one when few survive (SPOP_MOVE_STRATEGY_MUL).
const SPOP_MOVE_STRATEGY_MUL: usize = 5;

fn spop_count(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // getPositiveLongFromObjectOrReply: one message for both failures.
    let positive = || RedisError::err("value is out of range, must be positive");
    let count = args::int(&argv[2]).map_err(|_| positive())?;
    let count = usize::try_from(count).map_err(|_| positive())?;
    let max = coll::limits(ctx).set_max_intset;
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(s) = coll::read::<SetValue>(&mut g, key)? else {
        return Ok(Reply::Set(vec![]));
    };
    if count == 0 {
        return Ok(Reply::Set(vec![]));
    }
    if count >= s.len() {
        // The whole set, in the order of a union into a fresh set.
        let all = SetValue::from_members(&s.members(), max).members();
        g.remove(key);
        g.notify(SET, "spop", key);
        g.notify(GENERIC, "del", key);
        g.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        return Ok(Reply::Set(all.into_iter().map(Reply::Bulk).collect()));
    }
    let popped = coll::update::<SetValue, _>(&mut g, key, None, (SET, "spop"), |s| {
        Ok((pop_random(s, count, max), true))
    })?
    .unwrap_or_default();
    for m in &popped {
        g.propagate(srem_effect(key, m.clone()));
    }
    Ok(Reply::Set(popped.into_iter().map(Reply::Bulk).collect()))
}

/// Remove `count` (< len) random members and return them.
fn pop_random(s: &mut SetValue, count: usize, max_intset: usize) -> Vec<Bytes> {
    let mut rng = rand::thread_rng();
    let remaining = s.len() - count;
    if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let i = rng.gen_range(0..s.len());
            out.extend(s.take_at(i));
        }
        s.shrink();
        return out;
    }
    // Keep `remaining` random members in a new set (setTypeCreate rules),
    // the rest is popped.
    let keep = index::sample(&mut rng, s.len(), remaining).into_vec();
    let mut kept = None;
    for i in keep {
        if let Some(m) = s.member_at(i) {
            kept.get_or_insert_with(|| SetValue::for_member(&m))
                .add(&m, max_intset);
        }
    }
    let kept = kept.unwrap_or_default();
    let popped = s
        .members()
        .into_iter()
        .filter(|m| !kept.contains(m))
        .collect();
    *s = kept;
    popped
}

fn srandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(RedisError::Syntax);
    }
    let Some(count_arg) = argv.get(2) else {
        return read_set(ctx, &argv[1], Reply::Nil, |s| {
            let i = rand::thread_rng().gen_range(0..s.len());
            Ok(s.member_at(i).map_or(Reply::Nil, Reply::Bulk))
        });
    };
    let l = count_arg_range(count_arg)?;
    read_set(ctx, &argv[1], Reply::Array(vec![]), |s| {
        let picks = pick_indices(s.len(), l)?;
        // Index an intset's text forms once when sampling many.
        let out = picks
            .into_iter()
            .filter_map(|i| s.member_at(i).map(Reply::Bulk))
            .collect();
        Ok(Reply::Array(out))
    })
}

fn smove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (src, dst, m) = (&argv[1], &argv[2], &argv[3]);
    let max = coll::limits(ctx).set_max_intset;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..3]);
    if !g.exists(src) {
        return Ok(Reply::Int(0));
    }
    coll::check::<SetValue>(&mut g, src)?;
    coll::check::<SetValue>(&mut g, dst)?;
    if src == dst {
        let s = coll::read::<SetValue>(&mut g, src)?;
        return Ok(Reply::Int(i64::from(s.is_some_and(|s| s.contains(m)))));
    }
    let removed = coll::update::<SetValue, _>(&mut g, src, None, (SET, "srem"), |s| {
        let r = s.remove(m);
        Ok((r, r))
    })?;
    if removed != Some(true) {
        return Ok(Reply::Int(0));
    }
    coll::update(
        &mut g,
        dst,
        Some(SetValue::for_member(m)),
        (SET, "sadd"),
        |s| {
            let added = s.add(m, max);
            Ok(((), added))
        },
    )?;
    g.propagate(argv.to_vec());
    Ok(Reply::Int(1))
}

fn sscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(s) = coll::read::<SetValue>(&mut g, &argv[1])? else {
        return Ok(scan_reply(0, vec![]));
    };
    let opts = parse_scan_opts(&argv[3..])?;
    // Packed sets are returned whole with cursor 0, as Redis does.
    let (members, next) = if s.scans_whole() {
        (s.members(), 0)
    } else {
        let (range, next) = scan_range(cursor, opts.count, s.len());
        let ms = range.rev().filter_map(|i| s.member_at(i)).collect();
        (ms, next)
    };
    let out = members
        .into_iter()
        .filter(|m| opts.matches(m))
        .map(|m| bulk(&m))
        .collect();
    Ok(scan_reply(next, out))
}
