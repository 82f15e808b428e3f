//! Server administration: CONFIG, INFO, SHUTDOWN, DEBUG, TIME, LASTSAVE,
//! MONITOR.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::server::ShutdownMode;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("config|get", config_get),
    ("config|set", config_set),
    ("config|resetstat", config_resetstat),
    ("info", info),
    ("shutdown", shutdown),
    ("debug", debug),
    ("time", time),
    ("lastsave", lastsave),
    ("monitor", monitor),
];

/// CLIENT SETNAME / HELLO SETNAME validation.
pub fn validate_client_name(name: &[u8]) -> Result<(), RedisError> {
    if name.iter().any(|c| !(b'!'..=b'~').contains(c)) {
        return Err(RedisError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn config_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let patterns: Vec<Vec<u8>> = argv[2..].iter().map(|a| a.to_vec()).collect();
    let pairs = ctx.srv.config.get_matching(&patterns);
    Ok(Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::bulk_str(&k), Reply::bulk_str(&v)))
            .collect(),
    ))
}

fn config_set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let rest = &argv[2..];
    if !rest.len().is_multiple_of(2) {
        return Err(RedisError::arity(b"config|set"));
    }
    let pairs: Vec<(String, String)> = rest
        .chunks(2)
        .map(|c| (args::lower(&c[0]), args::text(&c[1])))
        .collect();
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(RedisError::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            )));
        }
    }
    // Validate all first, then apply: CONFIG SET is all-or-nothing.
    let cfg = &ctx.srv.config;
    let mut old = Vec::new();
    for (name, value) in &pairs {
        let fail = |reason: String| {
            RedisError::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - {reason}"
            ))
        };
        let Some(d) = crate::config::find(name) else {
            return Err(fail(
                "Unknown option or number of arguments for CONFIG SET".into(),
            ));
        };
        if !d.mutable {
            return Err(fail("can't set immutable config".into()));
        }
        d.normalize(std::slice::from_ref(value)).map_err(fail)?;
        old.push((name.clone(), cfg.get(name)));
    }
    for (name, value) in &pairs {
        let split = if name == "save" {
            value.split_whitespace().map(str::to_string).collect()
        } else {
            vec![value.clone()]
        };
        if let Err(reason) = cfg.set(name, &split, false) {
            for (n, v) in &old {
                let _ = cfg.set(n, std::slice::from_ref(v), true);
            }
            return Err(RedisError::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - {reason}"
            )));
        }
    }
    apply_side_effects(ctx, &pairs);
    Ok(Reply::OK)
}

fn apply_side_effects(ctx: &Ctx, pairs: &[(String, String)]) {
    for (name, _) in pairs {
        if name == "maxmemory-policy" {
            let p = ctx.srv.config.get("maxmemory-policy");
            crate::keyspace::access::set_lfu_mode(p.contains("lfu"));
        }
    }
}

fn config_resetstat(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.srv.errors.reset();
    ctx.srv.slowlog.reset();
    for c in ctx.srv.commands.all() {
        c.stats.reset();
        for s in c.subs.values() {
            s.stats.reset();
        }
    }
    Ok(Reply::OK)
}

fn info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sections: Vec<String> = argv[1..].iter().map(|a| args::lower(a)).collect();
    let text = crate::info::sections::render(ctx.srv, &sections);
    Ok(Reply::Verbatim(Bytes::from(text)))
}

fn shutdown(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut mode = ShutdownMode::Default;
    for a in &argv[1..] {
        if args::is(a, "NOSAVE") {
            mode = ShutdownMode::NoSave;
        } else if args::is(a, "SAVE") {
            mode = ShutdownMode::Save;
        } else if args::is(a, "NOW") || args::is(a, "FORCE") || args::is(a, "ABORT") {
            // No persistence yet: nothing to wait for or abort.
        } else {
            return Err(RedisError::Syntax);
        }
    }
    ctx.srv.request_shutdown(mode);
    ctx.sess.close_after_reply = true;
    // Redis closes the connection without a reply on success.
    Ok(Reply::Raw(Bytes::new()))
}

fn debug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sub = args::lower(&argv[1]);
    match (sub.as_str(), argv.len()) {
        ("sleep", 3) => {
            let secs = args::float(&argv[2])?;
            std::thread::sleep(std::time::Duration::from_micros(
                (secs * 1e6).max(0.0) as u64
            ));
            Ok(Reply::OK)
        }
        ("set-active-expire", 3) => {
            let on = args::int(&argv[2])? != 0;
            ctx.srv
                .config
                .hot
                .active_expire
                .store(on, Ordering::Relaxed);
            Ok(Reply::OK)
        }
        _ => Err(RedisError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            args::text(&argv[1])
        ))),
    }
}

fn time(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let us = crate::util::clock::now_us();
    let _ = ctx;
    Ok(Reply::Array(vec![
        Reply::bulk_int((us / 1_000_000) as i64),
        Reply::bulk_int((us % 1_000_000) as i64),
    ]))
}

fn lastsave(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.srv.lastsave.load(Ordering::Relaxed) as i64))
}

fn monitor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.in_exec {
        return Err(RedisError::err("MONITOR isn't allowed inside MULTI"));
    }
    ctx.sess.monitor = true;
    ctx.sess.info.monitor.store(true, Ordering::Relaxed);
    Ok(Reply::OK)
}
