//! Connection commands: PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::{Reply, RespVersion};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("select", select),
    ("quit", quit),
    ("reset", reset),
    ("hello", hello),
    ("auth", auth),
];

fn ping(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        return Err(RedisError::arity(b"ping"));
    }
    // RESP2 subscribers get PING as a pubsub-style array.
    if ctx.sess.in_resp2_subscribe_mode() {
        let payload = argv.get(1).cloned().unwrap_or_default();
        return Ok(Reply::Array(vec![
            Reply::bulk_str("pong"),
            Reply::Bulk(payload),
        ]));
    }
    Ok(match argv.get(1) {
        Some(m) => Reply::Bulk(m.clone()),
        None => Reply::Status("PONG"),
    })
}

fn echo(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(argv[1].clone()))
}

fn select(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let idx = args::int(&argv[1])?;
    if ctx.srv.config.get_bool("cluster-enabled") && idx != 0 {
        return Err(RedisError::err("SELECT is not allowed in cluster mode"));
    }
    if idx < 0 || idx as usize >= ctx.ks().db_count() {
        return Err(RedisError::DbIndexOutOfRange);
    }
    ctx.sess.db = idx as usize;
    ctx.sess.info.db.store(idx as usize, Ordering::Relaxed);
    Ok(Reply::OK)
}

fn quit(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.sess.close_after_reply = true;
    Ok(Reply::OK)
}

fn reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    super::tx::discard_state(ctx);
    super::pubsub::unsubscribe_all(ctx.srv, ctx.sess);
    let watched = std::mem::take(&mut ctx.sess.watched);
    ctx.ks().watches.unwatch(ctx.sess.id, &watched);
    ctx.sess.db = 0;
    ctx.sess.info.db.store(0, Ordering::Relaxed);
    ctx.sess.resp = RespVersion::Resp2;
    ctx.sess.info.resp.store(2, Ordering::Relaxed);
    ctx.sess.reply_mode = crate::server::session::ReplyMode::On;
    *ctx.sess.info.name.lock() = String::new();
    ctx.sess.info.no_evict.store(false, Ordering::Relaxed);
    if ctx.sess.monitor {
        ctx.sess.monitor = false;
        ctx.sess.info.monitor.store(false, Ordering::Relaxed);
        ctx.srv.monitors.remove(ctx.sess.id);
    }
    ctx.sess.authenticated = !ctx.srv.config.hot.requirepass_set.load(Ordering::Relaxed);
    Ok(Reply::Status("RESET"))
}

/// Check a password against `requirepass` (the default user).
fn check_password(ctx: &Ctx, user: Option<&[u8]>, pass: &[u8]) -> Result<(), RedisError> {
    let required = ctx.srv.config.get("requirepass");
    if let Some(u) = user {
        if u != b"default" {
            return Err(RedisError::raw(
                "WRONGPASS invalid username-password pair or user is disabled.",
            ));
        }
    }
    if required.is_empty() {
        if user.is_none() {
            return Err(RedisError::err(
                "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ));
        }
        return Ok(());
    }
    if pass != required.as_bytes() {
        return Err(RedisError::raw(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ));
    }
    Ok(())
}

fn auth(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (user, pass) = match argv.len() {
        2 => (None, &argv[1]),
        3 => (Some(&argv[1][..]), &argv[2]),
        _ => return Err(RedisError::Syntax),
    };
    check_password(ctx, user, pass)?;
    ctx.sess.authenticated = true;
    Ok(Reply::OK)
}

fn hello(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut ver = None;
    let mut i = 1;
    if argv.len() > 1 {
        let v = args::int(&argv[1])
            .map_err(|_| RedisError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(RedisError::raw("NOPROTO unsupported protocol version"));
        }
        ver = Some(v);
        i = 2;
    }
    let mut name = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if args::is(&argv[i], "AUTH") && more >= 2 {
            check_password(ctx, Some(&argv[i + 1]), &argv[i + 2])?;
            ctx.sess.authenticated = true;
            i += 3;
        } else if args::is(&argv[i], "SETNAME") && more >= 1 {
            name = Some(argv[i + 1].clone());
            i += 2;
        } else {
            return Err(RedisError::err(format!(
                "Syntax error in HELLO option '{}'",
                args::text(&argv[i])
            )));
        }
    }
    if !ctx.sess.authenticated {
        return Err(RedisError::raw("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        super::admin::validate_client_name(&n)?;
        *ctx.sess.info.name.lock() = String::from_utf8_lossy(&n).into_owned();
    }
    if let Some(v) = ver {
        ctx.sess.resp = if v == 3 {
            RespVersion::Resp3
        } else {
            RespVersion::Resp2
        };
        ctx.sess.info.resp.store(v as usize, Ordering::Relaxed);
    }
    let role = if ctx.ks().is_replica() {
        "replica"
    } else {
        "master"
    };
    let mode = if ctx.srv.config.get_bool("cluster-enabled") {
        "cluster"
    } else {
        "standalone"
    };
    Ok(Reply::Map(vec![
        (Reply::bulk_str("server"), Reply::bulk_str("redis")),
        (
            Reply::bulk_str("version"),
            Reply::bulk_str(crate::REDIS_VERSION),
        ),
        (
            Reply::bulk_str("proto"),
            Reply::Int(if ctx.sess.resp == RespVersion::Resp3 {
                3
            } else {
                2
            }),
        ),
        (Reply::bulk_str("id"), Reply::Int(ctx.sess.id as i64)),
        (Reply::bulk_str("mode"), Reply::bulk_str(mode)),
        (Reply::bulk_str("role"), Reply::bulk_str(role)),
        (Reply::bulk_str("modules"), Reply::empty_array()),
    ]))
}
