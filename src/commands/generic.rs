//! Generic key commands (Redis's db.c): DEL/UNLINK, EXISTS, TYPE, DBSIZE,
//! FLUSHDB/FLUSHALL, RENAME/RENAMENX, COPY, MOVE, SWAPDB, TOUCH.
//! KEYS/SCAN/RANDOMKEY live in `keyscan.rs`, OBJECT in `object.rs`,
//! expiry commands in `expire.rs`.
//!
//! Commands that touch two databases (COPY ... DB, MOVE) and whole-db
//! operations (FLUSH*, SWAPDB) take the keyspace gate exclusively, which
//! keeps the per-db slot lock order deadlock-free.

use bytes::Bytes;

use super::ctx::Ctx;
use super::string::hit_or_miss;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_),
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
    ("rename", rename),
    ("renamenx", renamenx),
    ("copy", copy),
    ("move", move_),
    ("swapdb", swapdb),
    ("touch", touch),
];

fn del(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let keys = &argv[1..];
    let mut g = ctx.lock(&db, keys);
    let mut n = 0;
    for k in keys {
        if g.remove(k).is_some() {
            n += 1;
            g.propagate(vec![argv[0].clone(), k.clone()]);
        }
    }
    Ok(Reply::Int(n))
}

fn exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let keys = &argv[1..];
    let mut g = ctx.lock(&db, keys);
    Ok(Reply::Int(
        keys.iter().filter(|k| g.exists(k)).count() as i64
    ))
}

fn type_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    Ok(Reply::Status(
        g.peek(&argv[1]).map_or("none", |e| e.value.type_name()),
    ))
}

fn dbsize(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.db().len() as i64))
}

/// Empty database `index`, touching watched keys; the old data is freed
/// on a blocking thread so the command path does not pay for it.
pub fn empty_db(ctx: &Ctx, index: usize) {
    let old = ctx.ks().replace_db(index);
    ctx.ks()
        .watches
        .touch_db(index, |k| old.contains_raw(k).is_some(), |_| None);
    if !old.is_empty() {
        ctx.srv
            .stats
            .dirty
            .fetch_add(old.len(), std::sync::atomic::Ordering::Relaxed);
    }
    std::thread::spawn(move || drop(old));
}

fn parse_flush_mode(argv: &[Bytes]) -> CmdResult<()> {
    match argv.get(1) {
        None => Ok(()),
        Some(a)
            if argv.len() == 2
                && (crate::command::args::is(a, "ASYNC")
                    || crate::command::args::is(a, "SYNC")) =>
        {
            Ok(())
        }
        Some(_) => Err(crate::error::RedisError::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    parse_flush_mode(argv)?;
    let _gate = ctx.exclusive();
    empty_db(ctx, ctx.sess.db);
    ctx.ks().propagator.append(ctx.sess.db, vec![argv.to_vec()]);
    Ok(Reply::OK)
}

fn flushall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    parse_flush_mode(argv)?;
    let _gate = ctx.exclusive();
    for i in 0..ctx.ks().db_count() {
        empty_db(ctx, i);
    }
    // The snapshot being written is of a dataset that no longer exists.
    crate::persistence::save::kill_child(ctx.srv);
    ctx.ks().propagator.append(ctx.sess.db, vec![argv.to_vec()]);
    Ok(Reply::OK)
}

/// Parse a db index argument: NotInteger unless an integer, then range.
fn db_index(ctx: &Ctx, arg: &[u8], not_int: Option<&str>) -> CmdResult<usize> {
    let id = args::int(arg).map_err(|e| match not_int {
        Some(text) => RedisError::err(text),
        None => e,
    })?;
    if id < 0 || id as usize >= ctx.ks().db_count() {
        return Err(RedisError::DbIndexOutOfRange);
    }
    Ok(id as usize)
}

fn cluster_enabled(ctx: &Ctx) -> bool {
    ctx.srv.config.get_bool("cluster-enabled")
}

fn rename(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

/// RENAME/RENAMENX: the value object moves as is (encoding, expiry and
/// access metadata kept), as Redis re-links the same robj.
fn rename_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (&argv[1], &argv[2]);
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..3]);
    if !g.exists(src) {
        return Err(RedisError::NoSuchKey);
    }
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { Reply::OK });
    }
    if nx && g.exists(dst) {
        return Ok(Reply::Int(0));
    }
    let Some(entry) = g.remove(src) else {
        return Err(RedisError::NoSuchKey);
    };
    g.insert(dst, entry);
    g.propagate(argv.to_vec());
    Ok(if nx { Reply::Int(1) } else { Reply::OK })
}

/// COPY options: target db and REPLACE.
fn parse_copy_opts(ctx: &Ctx, argv: &[Bytes]) -> CmdResult<(usize, bool)> {
    let mut dst_db = ctx.sess.db;
    let mut replace = false;
    let mut j = 3;
    while j < argv.len() {
        if args::is(&argv[j], "REPLACE") {
            replace = true;
        } else if args::is(&argv[j], "DB") && j + 1 < argv.len() {
            dst_db = db_index(ctx, &argv[j + 1], None)?;
            j += 1;
        } else {
            return Err(RedisError::Syntax);
        }
        j += 1;
    }
    Ok((dst_db, replace))
}

fn copy(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (dst_db, replace) = parse_copy_opts(ctx, argv)?;
    if cluster_enabled(ctx) && (ctx.sess.db != 0 || dst_db != 0) {
        return Err(RedisError::err(
            "Copying to another database is not allowed in cluster mode",
        ));
    }
    let (src, dst) = (&argv[1], &argv[2]);
    if dst_db == ctx.sess.db {
        if src == dst {
            return Err(RedisError::err(
                "source and destination objects are the same",
            ));
        }
        let db = ctx.db();
        let mut g = ctx.lock(&db, &argv[1..3]);
        return Ok(Reply::Int(copy_into(&mut g, None, src, dst, replace, argv)));
    }
    // Two databases: the exclusive gate rules out lock-order cycles
    // between slots of different dbs (COPY/MOVE in opposite directions).
    let _gate = ctx.exclusive();
    let (sdb, ddb) = (ctx.db(), ctx.ks().db(dst_db));
    let mut g = KeyGuards::lock(ctx.ks(), &sdb, ctx.now_ms, &argv[1..2], true);
    let mut d = KeyGuards::lock(ctx.ks(), &ddb, ctx.now_ms, &argv[2..3], true);
    Ok(Reply::Int(copy_into(
        &mut g,
        Some(&mut d),
        src,
        dst,
        replace,
        argv,
    )))
}

/// The body of COPY once locked; `dst_g` is None when both keys are in
/// the same db (then `g` holds both).
fn copy_into<'a>(
    g: &mut KeyGuards<'a>,
    dst_g: Option<&mut KeyGuards<'a>>,
    src: &[u8],
    dst: &[u8],
    replace: bool,
    argv: &[Bytes],
) -> i64 {
    let Some(mut entry) = g.get(src).cloned() else {
        return 0;
    };
    // A new object: fresh access metadata, as Redis duplicates the value.
    entry.lru = 0;
    let target = match dst_g {
        Some(d) => d,
        None => &mut *g,
    };
    if target.exists(dst) {
        if !replace {
            return 0;
        }
        target.remove(dst);
    }
    target.insert(dst, entry);
    g.propagate(argv.to_vec());
    1
}

fn move_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if cluster_enabled(ctx) {
        return Err(RedisError::err("MOVE is not allowed in cluster mode"));
    }
    let dst_db = db_index(ctx, &argv[2], None)?;
    if dst_db == ctx.sess.db {
        return Err(RedisError::err(
            "source and destination objects are the same",
        ));
    }
    let key = &argv[1];
    let _gate = ctx.exclusive();
    let (sdb, ddb) = (ctx.db(), ctx.ks().db(dst_db));
    let mut g = KeyGuards::lock(ctx.ks(), &sdb, ctx.now_ms, &argv[1..2], true);
    if !g.exists(key) {
        return Ok(Reply::Int(0));
    }
    let mut d = KeyGuards::lock(ctx.ks(), &ddb, ctx.now_ms, &argv[1..2], true);
    if d.exists(key) {
        return Ok(Reply::Int(0));
    }
    let Some(entry) = g.remove(key) else {
        return Ok(Reply::Int(0));
    };
    d.insert(key, entry);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(1))
}

fn swapdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if cluster_enabled(ctx) {
        return Err(RedisError::err("SWAPDB is not allowed in cluster mode"));
    }
    let a = db_index(ctx, &argv[1], Some("invalid first DB index"));
    let b = db_index(ctx, &argv[2], Some("invalid second DB index"));
    // Both are parsed as integers before either range is checked.
    let (a, b) = match (a, b) {
        (Err(e @ RedisError::Custom(_)), _) | (_, Err(e @ RedisError::Custom(_))) => return Err(e),
        (a, b) => (a?, b?),
    };
    let _gate = ctx.exclusive();
    if a != b {
        let ks = ctx.ks();
        let (old_a, old_b) = (ks.db(a), ks.db(b));
        let now = ctx.now_ms;
        let expired = move |at: u64| at != 0 && at < now;
        ks.watches.touch_db(
            a,
            |k| old_a.contains_raw(k).is_some(),
            |k| old_b.contains_raw(k).map(expired),
        );
        ks.watches.touch_db(
            b,
            |k| old_b.contains_raw(k).is_some(),
            |k| old_a.contains_raw(k).map(expired),
        );
        ks.swap_dbs(a, b);
    }
    ctx.srv
        .stats
        .dirty
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ctx.ks().propagator.append(ctx.sess.db, vec![argv.to_vec()]);
    Ok(Reply::OK)
}

fn touch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let keys = &argv[1..];
    let mut g = ctx.lock(&db, keys);
    let hits: Vec<bool> = keys.iter().map(|k| g.get(k).is_some()).collect();
    drop(g);
    for h in &hits {
        hit_or_miss(ctx, *h);
    }
    Ok(Reply::Int(hits.iter().filter(|h| **h).count() as i64))
}
