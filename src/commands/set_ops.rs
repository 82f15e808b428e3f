//! Multi-key set algebra (Redis's t_set.c sinterGenericCommand and
//! sunionDiffGenericCommand): SINTER, SINTERCARD, SINTERSTORE, SUNION,
//! SUNIONSTORE, SDIFF, SDIFFSTORE; SMEMBERS is SINTER of one key, as in
//! Redis. Every key is type-checked before any missing key short-cuts the
//! result. Results go through a fresh set built like Redis's temporary
//! set (an intset while members are integers), so intset results come
//! out sorted exactly as Redis prints them. All keys (sources and
//! destination) are locked together with one `ctx.lock`.

use bytes::Bytes;

use super::coll;
use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::notify::class::{GENERIC, SET};
use crate::protocol::Reply;
use crate::types::{Entry, SetValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("smembers", sinter),
    ("sinter", sinter),
    ("sintercard", sintercard),
    ("sinterstore", sinterstore),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
];

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Diff,
}

/// The sets at `keys` (None = missing), WRONGTYPE if any key holds
/// another type.
fn load<'g>(g: &'g mut KeyGuards, keys: &[Bytes]) -> CmdResult<Vec<Option<&'g SetValue>>> {
    g.values_many(keys)
        .into_iter()
        .map(|v| match v {
            None => Ok(None),
            Some(Value::Set(s)) => Ok(Some(s)),
            Some(_) => Err(RedisError::WrongType),
        })
        .collect()
}

/// Members of the intersection in Redis's order (the smallest set's),
/// stopping after `limit` members when non-zero.
fn intersect(sets: &[Option<&SetValue>], limit: usize) -> Vec<Bytes> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&SetValue>>>() else {
        return Vec::new();
    };
    // Stable, so equal sizes keep the key order (as glibc's qsort does).
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in first.members() {
        if rest.iter().all(|s| s.contains(&m)) {
            out.push(m);
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// SUNION / SDIFF into a fresh set.
fn combine(sets: &[Option<&SetValue>], op: Op, max_intset: usize) -> SetValue {
    let mut dst = SetValue::default();
    match op {
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.members() {
                    dst.add(&m, max_intset);
                }
            }
        }
        Op::Diff => {
            let Some(Some(first)) = sets.first() else {
                return dst;
            };
            for m in first.members() {
                if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                    dst.add(&m, max_intset);
                }
            }
        }
    }
    dst
}

fn set_reply(members: Vec<Bytes>) -> Reply {
    Reply::Set(members.into_iter().map(Reply::Bulk).collect())
}

fn sinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let keys = &argv[1..];
    let db = ctx.db();
    let mut g = ctx.lock(&db, keys);
    let sets = load(&mut g, keys)?;
    Ok(set_reply(intersect(&sets, 0)))
}

fn sintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis uses the custom message for non-integers too.
    let numkeys = args::int(&argv[1]).unwrap_or(0);
    if numkeys < 1 {
        return Err(RedisError::err("numkeys should be greater than 0"));
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len() - 2 {
        return Err(RedisError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        if args::is(&argv[i], "LIMIT") && i + 1 < argv.len() {
            let neg = || RedisError::err("LIMIT can't be negative");
            let l = args::int(&argv[i + 1]).map_err(|_| neg())?;
            limit = usize::try_from(l).map_err(|_| neg())?;
            i += 2;
        } else {
            return Err(RedisError::Syntax);
        }
    }
    let keys = &argv[2..2 + numkeys];
    let db = ctx.db();
    let mut g = ctx.lock(&db, keys);
    let sets = load(&mut g, keys)?;
    Ok(Reply::Int(intersect(&sets, limit).len() as i64))
}

/// Store `result` at `dst` (or delete `dst` when empty) and propagate
/// the command when the keyspace changed.
fn store(g: &mut KeyGuards, argv: &[Bytes], result: SetValue) -> CmdResult {
    let dst = &argv[1];
    let n = result.len();
    let changed = if n > 0 {
        g.insert(dst, Entry::new(Value::Set(result)));
        g.notify(SET, store_event(&argv[0]), dst);
        true
    } else if g.remove(dst).is_some() {
        g.notify(GENERIC, "del", dst);
        true
    } else {
        false
    };
    if changed {
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Int(n as i64))
}

/// The keyspace event of a *STORE command.
fn store_event(cmd: &[u8]) -> &'static str {
    if args::is(cmd, "SINTERSTORE") {
        "sinterstore"
    } else if args::is(cmd, "SUNIONSTORE") {
        "sunionstore"
    } else {
        "sdiffstore"
    }
}

fn sinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let max = coll::limits(ctx).set_max_intset;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..]);
    let sets = load(&mut g, &argv[2..])?;
    let mut result = SetValue::default();
    for m in intersect(&sets, 0) {
        result.add(&m, max);
    }
    store(&mut g, argv, result)
}

fn union_diff(ctx: &mut Ctx, argv: &[Bytes], op: Op, store_to_dst: bool) -> CmdResult {
    let max = coll::limits(ctx).set_max_intset;
    let keys = if store_to_dst { &argv[2..] } else { &argv[1..] };
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..]);
    let sets = load(&mut g, keys)?;
    let result = combine(&sets, op, max);
    if store_to_dst {
        store(&mut g, argv, result)
    } else {
        Ok(set_reply(result.members()))
    }
}

fn sunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff(ctx, argv, Op::Union, false)
}

fn sunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff(ctx, argv, Op::Union, true)
}

fn sdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff(ctx, argv, Op::Diff, false)
}

fn sdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    union_diff(ctx, argv, Op::Diff, true)
}
