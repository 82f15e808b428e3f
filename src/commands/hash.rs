//! Hash commands (Redis's t_hash.c): HSET, HGET, HDEL, HINCRBY, HSCAN ...
//! Replies, errors and propagation follow Redis 7.0.15; HRANDFIELD and
//! HINCRBYFLOAT live in `hash_rand.rs`.

use bytes::Bytes;

use super::coll::{self, parse_cursor, parse_scan_opts};
use super::ctx::Ctx;
use super::string::hit_or_miss;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::notify::class::HASH;
use crate::protocol::Reply;
use crate::types::cursor::scan_range;
use crate::types::HashValue;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hdel", hdel),
    ("hexists", hexists),
    ("hlen", hlen),
    ("hstrlen", hstrlen),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hgetall", hgetall),
    ("hincrby", hincrby),
    ("hincrbyfloat", super::hash_rand::hincrbyfloat),
    ("hrandfield", super::hash_rand::hrandfield),
    ("hscan", hscan),
];

pub(super) fn bulk(b: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(b))
}

/// Run `f` on the hash at `key` for reading; `missing` if it does not exist.
fn read_hash(
    ctx: &mut Ctx,
    key: &[u8],
    missing: Reply,
    f: impl FnOnce(&HashValue) -> Reply,
) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &[key]);
    let r = coll::read::<HashValue>(&mut g, key)?.map(f);
    drop(g);
    hit_or_miss(ctx, r.is_some());
    Ok(r.unwrap_or(missing))
}

/// HSET and HMSET (which differ only in their reply).
fn hset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 1 {
        return Err(RedisError::arity(&argv[0]));
    }
    let lim = coll::limits(ctx).hash;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let ev = (HASH, "hset");
    let created = coll::update(&mut g, &argv[1], Some(HashValue::default()), ev, |h| {
        h.try_conversion(argv[2..].iter().map(|a| a.as_ref()), lim);
        let mut n = 0;
        for pair in argv[2..].chunks_exact(2) {
            n += i64::from(h.set(&pair[0], &pair[1], lim));
        }
        Ok((n, true))
    })?;
    g.propagate(argv.to_vec());
    if args::is(&argv[0], "hmset") {
        return Ok(Reply::OK);
    }
    Ok(Reply::Int(created.unwrap_or(0)))
}

fn hsetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let lim = coll::limits(ctx).hash;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let ev = (HASH, "hset");
    let set = coll::update(&mut g, &argv[1], Some(HashValue::default()), ev, |h| {
        // Redis converts on argument length before testing the field.
        h.try_conversion([argv[2].as_ref(), argv[3].as_ref()], lim);
        if h.contains(&argv[2]) {
            return Ok((false, false));
        }
        h.set(&argv[2], &argv[3], lim);
        Ok((true, true))
    })?;
    if set == Some(true) {
        g.propagate(argv.to_vec());
        return Ok(Reply::Int(1));
    }
    Ok(Reply::Int(0))
}

fn hget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_hash(ctx, &argv[1], Reply::Nil, |h| {
        h.get(&argv[2]).map_or(Reply::Nil, bulk)
    })
}

fn hmget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let fields = &argv[2..];
    let nils = Reply::Array(fields.iter().map(|_| Reply::Nil).collect());
    read_hash(ctx, &argv[1], nils, |h| {
        Reply::Array(
            fields
                .iter()
                .map(|f| h.get(f).map_or(Reply::Nil, bulk))
                .collect(),
        )
    })
}

fn hdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    coll::remove_members::<HashValue>(ctx, argv, (HASH, "hdel"), |c, m| c.remove(m))
}

fn hexists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_hash(ctx, &argv[1], Reply::Int(0), |h| {
        Reply::Int(i64::from(h.contains(&argv[2])))
    })
}

fn hlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_hash(ctx, &argv[1], Reply::Int(0), |h| Reply::Int(h.len() as i64))
}

fn hstrlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_hash(ctx, &argv[1], Reply::Int(0), |h| {
        Reply::Int(h.get(&argv[2]).map_or(0, |v| v.len() as i64))
    })
}

fn hkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_hash(ctx, &argv[1], Reply::Array(vec![]), |h| {
        Reply::Array(h.iter().map(|(f, _)| bulk(f)).collect())
    })
}

fn hvals(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_hash(ctx, &argv[1], Reply::Array(vec![]), |h| {
        Reply::Array(h.iter().map(|(_, v)| bulk(v)).collect())
    })
}

fn hgetall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_hash(ctx, &argv[1], Reply::Map(vec![]), |h| {
        Reply::Map(h.iter().map(|(f, v)| (bulk(f), bulk(v))).collect())
    })
}

fn hincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = args::int(&argv[3])?;
    let lim = coll::limits(ctx).hash;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let ev = (HASH, "hincrby");
    let n = coll::update(&mut g, &argv[1], Some(HashValue::default()), ev, |h| {
        let cur = match h.get(&argv[2]) {
            None => 0,
            Some(v) => crate::util::numparse::parse_i64(v)
                .ok_or_else(|| RedisError::err("hash value is not an integer"))?,
        };
        let n = cur.checked_add(incr).ok_or(RedisError::Overflow)?;
        h.set(&argv[2], itoa::Buffer::new().format(n).as_bytes(), lim);
        Ok((n, true))
    })?
    .unwrap_or(0);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(n))
}

fn hscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(h) = coll::read::<HashValue>(&mut g, &argv[1])? else {
        return Ok(scan_reply(0, vec![]));
    };
    let opts = parse_scan_opts(&argv[3..])?;
    let mut out = Vec::new();
    let mut push = |f: &[u8], v: &[u8]| {
        if opts.matches(f) {
            out.push(bulk(f));
            out.push(bulk(v));
        }
    };
    // The small encoding is returned whole with cursor 0, as Redis does.
    let next = match h {
        HashValue::Listpack(_) => {
            h.iter().for_each(|(f, v)| push(f, v));
            0
        }
        HashValue::Table(_) => {
            let (range, next) = scan_range(cursor, opts.count, h.len());
            for i in range.rev() {
                if let Some((f, v)) = h.pair_at(i) {
                    push(f, v);
                }
            }
            next
        }
    };
    Ok(scan_reply(next, out))
}

/// `[cursor, [elements...]]`.
pub(super) fn scan_reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(items),
    ])
}
