//! Generic key commands (Redis's db.c / expire.c): DEL, EXISTS, TYPE, ...

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::error::CmdResult;
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_),
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
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
    ctx.ks().propagator.append(ctx.sess.db, vec![argv.to_vec()]);
    Ok(Reply::OK)
}
