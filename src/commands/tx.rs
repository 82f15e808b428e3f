//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC runs the queued commands through the normal execution path with
//! the keyspace gate held exclusively, so the whole transaction is atomic
//! with respect to every other client, and its effects are propagated
//! wrapped in MULTI/EXEC. WATCH follows Redis 7.0, including keys that
//! were already logically expired when watched.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::server::{call::call, dispatch};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];

fn multi(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.sess.in_multi() {
        return Err(RedisError::err("MULTI calls can not be nested"));
    }
    ctx.sess.multi = Some(Vec::new());
    ctx.sess.multi_error = false;
    ctx.sess.info.multi.store(0, Ordering::Relaxed);
    Ok(Reply::OK)
}

/// Leave MULTI state without running anything.
pub fn discard_state(ctx: &mut Ctx) {
    ctx.sess.end_multi();
}

/// Forget every watched key of this client.
pub fn unwatch_all(ctx: &mut Ctx) {
    let ks = ctx.ks();
    ctx.sess.unwatch_all(ks);
}

fn discard(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if !ctx.sess.in_multi() {
        return Err(RedisError::err("DISCARD without MULTI"));
    }
    discard_state(ctx);
    unwatch_all(ctx);
    Ok(Reply::OK)
}

/// Did a watched key, alive when watched, expire since?
fn watched_key_expired(ctx: &Ctx) -> bool {
    ctx.sess.watched.iter().any(|(db, key)| {
        let expire_at = ctx.ks().db(*db).contains_raw(key);
        matches!(expire_at, Some(at) if at != 0 && at < ctx.now_ms)
            && !ctx.ks().watches.watched_expired(*db, key, ctx.sess.id)
    })
}

fn exec(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let Some(queue) = ctx.sess.multi.take() else {
        return Err(RedisError::err("EXEC without MULTI"));
    };
    let poisoned = ctx.sess.multi_error;
    discard_state(ctx);
    if poisoned {
        unwatch_all(ctx);
        return Err(RedisError::ExecAbort);
    }
    let dirty = ctx.sess.watch_dirty.load(Ordering::Acquire) || watched_key_expired(ctx);
    unwatch_all(ctx);
    if dirty {
        return Ok(Reply::NilArray);
    }
    let srv = ctx.srv;
    let _gate = ctx.exclusive();
    srv.ks.propagator.begin_tx();
    let mut replies = Vec::with_capacity(queue.len());
    for q in queue {
        let reply = match dispatch::resolve(srv, &q.argv) {
            Ok(cmd) => call(srv, ctx.sess, cmd, &q.argv, true),
            Err(e) => Reply::Error(e),
        };
        replies.push(reply);
    }
    srv.ks.propagator.end_tx();
    Ok(Reply::Array(replies))
}

fn watch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.sess.in_multi() {
        return Err(RedisError::err("WATCH inside MULTI is not allowed"));
    }
    let db_index = ctx.sess.db;
    let db = ctx.db();
    for key in &argv[1..] {
        if ctx
            .sess
            .watched
            .iter()
            .any(|(d, k)| *d == db_index && k[..] == key[..])
        {
            continue;
        }
        let expired = matches!(db.contains_raw(key), Some(at) if at != 0 && at < ctx.now_ms);
        ctx.ks()
            .watches
            .watch(db_index, key, ctx.sess.id, &ctx.sess.watch_dirty, expired);
        ctx.sess.watched.push((db_index, key[..].into()));
    }
    Ok(Reply::OK)
}

fn unwatch(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    unwatch_all(ctx);
    Ok(Reply::OK)
}
