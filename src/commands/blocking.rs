//! Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) and
//! the engine that serves blocked clients when their keys get data.
//!
//! A blocking command first tries the non-blocking operation. If no key
//! has data it registers a waiter *while still holding its slot locks* and
//! leaves a `PendingBlock` in the session; the connection task then waits
//! for the reply or the timeout. Inside MULTI/EXEC it never blocks and
//! replies as if the timeout had expired, as Redis does.

use std::time::Duration;

use bytes::Bytes;

use super::ctx::Ctx;
use super::list::{self, End};
use super::table::Handler;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::blocking::{BlockOp, BlockRequest, Waiter};
use crate::keyspace::KeyGuards;
use crate::protocol::Reply;
use crate::server::session::PendingBlock;
use crate::server::Server;
use crate::types::Value;
use crate::util::clock;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
    ("bzpopmin", bzpopmin),
    ("bzpopmax", bzpopmax),
    ("bzmpop", bzmpop),
];

/// Parse a blocking timeout in seconds (sub-second precision); None = forever.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, RedisError> {
    let secs = crate::util::numparse::parse_f64(arg)
        .filter(|v| v.is_finite())
        .ok_or_else(|| RedisError::err("timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(RedisError::err("timeout is negative"));
    }
    let ms = (secs * 1000.0).ceil();
    if ms > i64::MAX as f64 / 2.0 {
        return Err(RedisError::err("timeout is out of range"));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// Register a waiter (caller still holds the keys' slot locks) and park the
/// session. The returned reply is never sent.
pub fn block_on(
    ctx: &mut Ctx,
    _g: &mut KeyGuards,
    keys: Vec<Bytes>,
    op: BlockOp,
    timeout: Option<Duration>,
    timeout_reply: Reply,
) -> Reply {
    let waited = keys.clone();
    let (id, rx) = ctx.ks().blocking.register(BlockRequest {
        client: ctx.sess.id,
        db: ctx.sess.db,
        keys,
        op,
        timeout_reply: timeout_reply.clone(),
    });
    ctx.sess.pending_block = Some(PendingBlock {
        id,
        rx,
        timeout,
        timeout_reply,
        keys: waited,
        command: ctx.meta.name,
    });
    Reply::NilArray
}

/// Run a blocked client's operation on `key`, which is locked in `g`.
/// Ok(None): the key has no suitable data (the client stays blocked).
fn run_op(g: &mut KeyGuards, key: &Bytes, op: &BlockOp) -> Result<Option<Reply>, RedisError> {
    match op {
        BlockOp::ListPop { left, count } => {
            let end = if *left { End::Left } else { End::Right };
            let Some(items) = list::pop_items(g, key, end, count.unwrap_or(1))? else {
                return Ok(None);
            };
            let mut prop = vec![Bytes::from_static(end.pop_name()), key.clone()];
            let reply = match count {
                None => Reply::Array(vec![
                    Reply::Bulk(key.clone()),
                    items.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
                ]),
                Some(_) => {
                    prop.push(Bytes::from(items.len().to_string()));
                    Reply::Array(vec![Reply::Bulk(key.clone()), Reply::bulks(items)])
                }
            };
            g.propagate(prop);
            Ok(Some(reply))
        }
        BlockOp::ListMove {
            dst,
            from_left,
            to_left,
            rpoplpush,
        } => {
            let side = |l: bool| if l { End::Left } else { End::Right };
            let Some(v) = list::move_one(g, key, dst, side(*from_left), side(*to_left))? else {
                return Ok(None);
            };
            // Redis names the ends in lower case when it serves a blocked
            // BLMOVE (getStringObjectFromListPosition).
            let name = |l: bool| Bytes::from_static(if l { b"left" } else { b"right" });
            let prop = if *rpoplpush {
                vec![Bytes::from_static(b"RPOPLPUSH"), key.clone(), dst.clone()]
            } else {
                vec![
                    Bytes::from_static(b"LMOVE"),
                    key.clone(),
                    dst.clone(),
                    name(*from_left),
                    name(*to_left),
                ]
            };
            g.propagate(prop);
            Ok(Some(Reply::Bulk(v)))
        }
        BlockOp::ZPop { max, count } => {
            if g.value(key).is_none() {
                return Ok(None);
            }
            let items = super::zset_pop::pop_and_propagate(
                g,
                key,
                *max,
                count.unwrap_or(1),
                count.is_some(),
            )?;
            if items.is_empty() {
                return Ok(None);
            }
            Ok(Some(match count {
                None => {
                    let mut it = items.into_iter();
                    let Some((m, score)) = it.next() else {
                        return Ok(None);
                    };
                    Reply::Array(vec![
                        Reply::Bulk(key.clone()),
                        Reply::Bulk(m),
                        Reply::Double(score),
                    ])
                }
                Some(_) => {
                    let pairs = items
                        .into_iter()
                        .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]));
                    Reply::Array(vec![
                        Reply::Bulk(key.clone()),
                        Reply::Array(pairs.collect()),
                    ])
                }
            }))
        }
    }
}

/// Does `key` hold data the waiter can consume?
fn has_data(g: &mut KeyGuards, key: &[u8], op: &BlockOp) -> bool {
    match (op, g.value(key)) {
        (BlockOp::ListPop { .. } | BlockOp::ListMove { .. }, Some(Value::List(l))) => !l.is_empty(),
        (BlockOp::ZPop { .. }, Some(Value::ZSet(z))) => !z.is_empty(),
        _ => false,
    }
}

/// Serve clients blocked on keys that became ready, FIFO per key, until
/// no ready key is left (serving may make more keys ready, e.g. BLMOVE).
pub fn serve_ready(srv: &Server) {
    loop {
        let ready = srv.ks.blocking.take_ready();
        if ready.is_empty() {
            return;
        }
        for (db, key) in ready {
            serve_key(srv, db, &Bytes::from(key.into_vec()));
        }
    }
}

fn serve_key(srv: &Server, db_index: usize, key: &Bytes) {
    let ks = &srv.ks;
    let db = ks.db(db_index);
    while let Some(w) = ks.blocking.first_waiter(db_index, key) {
        let mut keys = vec![key.clone()];
        if let BlockOp::ListMove { dst, .. } = &w.op {
            keys.push(dst.clone());
        }
        let mut g = KeyGuards::lock(ks, &db, clock::now_ms(), &keys, false);
        if !has_data(&mut g, key, &w.op) {
            return;
        }
        if !ks.blocking.claim(&w) {
            continue; // timed out or disconnected meanwhile
        }
        deliver(&mut g, key, &w);
    }
}

fn deliver(g: &mut KeyGuards, key: &Bytes, w: &Waiter) {
    let reply = match run_op(g, key, &w.op) {
        Ok(Some(r)) => r,
        Ok(None) => Reply::NilArray,
        Err(e) => Reply::Error(e),
    };
    w.send(reply);
}

/// BLPOP/BRPOP/BZPOPMIN/BZPOPMAX: `key... timeout`; serve the first key
/// with data, otherwise block on all of them.
fn bpop_generic(ctx: &mut Ctx, argv: &[Bytes], op: BlockOp) -> CmdResult {
    let timeout = parse_timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, keys);
    if matches!(op, BlockOp::ZPop { .. }) {
        zset_typecheck(&mut g, keys)?;
    }
    for k in keys {
        if let Some(r) = run_op(&mut g, k, &op)? {
            return Ok(r);
        }
    }
    if ctx.in_exec {
        return Ok(Reply::NilArray);
    }
    Ok(block_on(
        ctx,
        &mut g,
        keys.to_vec(),
        op,
        timeout,
        Reply::NilArray,
    ))
}

fn bpop(ctx: &mut Ctx, argv: &[Bytes], left: bool) -> CmdResult {
    bpop_generic(ctx, argv, BlockOp::ListPop { left, count: None })
}

fn blpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, true)
}

fn brpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, false)
}

fn bmove(
    ctx: &mut Ctx,
    argv: &[Bytes],
    from_left: bool,
    to_left: bool,
    rpoplpush: bool,
    timeout_arg: &[u8],
) -> CmdResult {
    let timeout = parse_timeout(timeout_arg)?;
    let keys = [argv[1].clone(), argv[2].clone()];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &keys);
    let op = BlockOp::ListMove {
        dst: argv[2].clone(),
        from_left,
        to_left,
        rpoplpush,
    };
    if let Some(r) = run_op(&mut g, &argv[1], &op)? {
        return Ok(r);
    }
    // Redis replies a null bulk inside MULTI but a null *array* when
    // BLMOVE/BRPOPLPUSH time out.
    if ctx.in_exec {
        return Ok(Reply::Nil);
    }
    Ok(block_on(
        ctx,
        &mut g,
        vec![argv[1].clone()],
        op,
        timeout,
        Reply::NilArray,
    ))
}

fn blmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (Some(from), Some(to)) = (End::parse(&argv[3]), End::parse(&argv[4])) else {
        return Err(RedisError::Syntax);
    };
    bmove(
        ctx,
        argv,
        from == End::Left,
        to == End::Left,
        false,
        &argv[5],
    )
}

fn brpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bmove(ctx, argv, false, true, true, &argv[3])
}

fn blmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&argv[1])?;
    let a = list::parse_mpop(argv, 2)?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &a.keys);
    if let Some(r) = list::mpop_once(&mut g, &a)? {
        return Ok(r);
    }
    if ctx.in_exec {
        return Ok(Reply::NilArray);
    }
    let op = BlockOp::ListPop {
        left: a.end == End::Left,
        count: Some(a.count),
    };
    Ok(block_on(
        ctx,
        &mut g,
        a.keys.clone(),
        op,
        timeout,
        Reply::NilArray,
    ))
}

/// Check the types of all keys first, as Redis does before blocking.
fn zset_typecheck(g: &mut KeyGuards, keys: &[Bytes]) -> Result<(), RedisError> {
    for k in keys {
        if let Some(v) = g.value(k) {
            if !matches!(v, Value::ZSet(_)) {
                return Err(RedisError::WrongType);
            }
        }
    }
    Ok(())
}

fn bzpop(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    bpop_generic(ctx, argv, BlockOp::ZPop { max, count: None })
}

fn bzpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, true)
}

fn bzmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&argv[1])?;
    let req = super::zset_pop::zmpop_parse(argv, 2)?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, req.keys);
    if let Some(r) = super::zset_pop::zmpop_from(&mut g, &req)? {
        return Ok(r);
    }
    if ctx.in_exec {
        return Ok(Reply::NilArray);
    }
    let op = BlockOp::ZPop {
        max: req.max,
        count: Some(req.count),
    };
    Ok(block_on(
        ctx,
        &mut g,
        req.keys.to_vec(),
        op,
        timeout,
        Reply::NilArray,
    ))
}
