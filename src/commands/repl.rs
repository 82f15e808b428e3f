//! Replication commands: SYNC, PSYNC, REPLCONF (primary side of the
//! handshake), REPLICAOF/SLAVEOF, ROLE and WAIT. The work itself lives in
//! `replication`; these handlers parse and reply as Redis 7.0 does.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::replication::{self, wait};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("sync", sync),
    ("psync", psync),
    ("replconf", replconf),
    ("replicaof", replicaof),
    ("slaveof", replicaof),
    ("role", role),
    ("wait", wait_cmd),
];

fn start(ctx: &mut Ctx, psync: Option<(String, i64)>) -> CmdResult {
    if ctx.in_exec || ctx.sess.in_multi() {
        return Err(RedisError::err("Replica can't be started inside MULTI"));
    }
    let mut req = ctx.sess.repl_hello.clone();
    req.addr = ctx.sess.info.addr.clone();
    req.kill = ctx.sess.info.kill.clone();
    if let Some((id, off)) = psync {
        req.psync = true;
        req.replid = id;
        req.offset = off;
    }
    ctx.sess.replica_sync = Some(req);
    // The feeder writes +FULLRESYNC / +CONTINUE and the payload itself.
    Ok(Reply::Raw(Bytes::new()))
}

fn sync(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    start(ctx, None)
}

fn psync(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let off = args::int(&argv[2])?;
    start(ctx, Some((args::text(&argv[1]), off)))
}

fn replconf(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(RedisError::Syntax);
    }
    let hello = &mut ctx.sess.repl_hello;
    for pair in argv[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if args::is(opt, "listening-port") {
            let port = args::int(val)?;
            hello.listening_port = port.clamp(0, 65535) as u16;
        } else if args::is(opt, "ip-address") {
            hello.ip = Some(args::text(val));
        } else if args::is(opt, "capa") {
            if args::is(val, "eof") {
                hello.capa_eof = true;
            } else if args::is(val, "psync2") {
                hello.capa_psync2 = true;
            }
        } else if args::is(opt, "ack") || args::is(opt, "getack") {
            // Only meaningful on replication links, which handle them
            // themselves; a normal client gets no reply, as in Redis.
            return Ok(Reply::Raw(Bytes::new()));
        } else {
            return Err(RedisError::err(format!(
                "Unrecognized REPLCONF option: {}",
                args::text(opt)
            )));
        }
    }
    Ok(Reply::OK)
}

fn replicaof(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.srv.cluster.is_some() {
        return Err(RedisError::err("REPLICAOF not allowed in cluster mode."));
    }
    if args::is(&argv[1], "no") && args::is(&argv[2], "one") {
        if replication::is_replica(ctx.srv) {
            replication::promote(ctx.srv);
            tracing::info!(
                "MASTER MODE enabled (user request from '{}')",
                ctx.sess.info.addr
            );
        }
        return Ok(Reply::OK);
    }
    if ctx.sess.replica_sync.is_some() {
        return Err(RedisError::err(
            "Command is not valid when client is a replica.",
        ));
    }
    let port = args::int(&argv[2])
        .ok()
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| RedisError::err("Invalid master port"))?;
    let host = args::text(&argv[1]);
    if let Some(m) = ctx.srv.repl.master() {
        if m.host.eq_ignore_ascii_case(&host) && i64::from(m.port) == port {
            return Ok(Reply::Status("OK Already connected to specified master"));
        }
    }
    replication::follow(ctx.srv, &host, port as u16);
    tracing::info!(
        "REPLICAOF {host}:{port} enabled (user request from '{}')",
        ctx.sess.info.addr
    );
    Ok(Reply::OK)
}

fn role(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    let ids = srv.repl.ids();
    if let Some(m) = ids.master {
        let link = &srv.repl.link;
        let (state, off) = if link.up.load(Ordering::Relaxed) {
            ("connected", ids.offset)
        } else if link.sync_in_progress.load(Ordering::Relaxed) {
            ("sync", -1)
        } else {
            ("connect", -1)
        };
        return Ok(Reply::Array(vec![
            Reply::bulk_str("slave"),
            Reply::bulk_str(&m.host),
            Reply::Int(i64::from(m.port)),
            Reply::bulk_str(state),
            Reply::Int(off),
        ]));
    }
    let replicas = srv
        .repl
        .replicas()
        .iter()
        .map(|r| {
            Reply::Array(vec![
                Reply::bulk_str(&r.ip),
                Reply::bulk_str(&r.port.to_string()),
                Reply::bulk_str(&r.ack_offset.load(Ordering::Relaxed).to_string()),
            ])
        })
        .collect();
    Ok(Reply::Array(vec![
        Reply::bulk_str("master"),
        Reply::Int(ids.offset),
        Reply::Array(replicas),
    ]))
}

fn wait_cmd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if replication::is_replica(ctx.srv) {
        // Reported before argument errors, as Redis does.
        wait::wait(ctx.srv, 0, 0, true)?;
    }
    let n = args::int(&argv[1])?;
    let t = args::int(&argv[2])
        .map_err(|_| RedisError::err("timeout is not an integer or out of range"))?;
    if t < 0 {
        return Err(RedisError::err("timeout is negative"));
    }
    let in_multi = ctx.in_exec || ctx.sess.in_multi();
    match wait::wait(ctx.srv, n, t as u64, in_multi)? {
        wait::WaitOutcome::Now(r) => Ok(r),
        wait::WaitOutcome::Block(pb) => {
            ctx.sess.pending_block = Some(pb);
            Ok(Reply::Nil)
        }
    }
}
