//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
//! (LOAD, EXISTS, FLUSH, KILL, HELP). The interpreter and the rules a
//! script runs under live in `crate::scripting`.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::scripting::run::{run, Invocation, Source};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval_ro),
    ("evalsha_ro", evalsha_ro),
    ("script|load", script_load),
    ("script|exists", script_exists),
    ("script|flush", script_flush),
    ("script|kill", script_kill),
    ("script|help", script_help),
];

fn eval(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, true, true)
}

/// `EVAL script numkeys [key ...] [arg ...]` and its three siblings.
fn eval_generic(ctx: &mut Ctx, argv: &[Bytes], by_sha: bool, ro_command: bool) -> CmdResult {
    let numkeys = numkeys(&argv[2], argv.len() - 3)?;
    let source = if by_sha {
        Source::Sha(String::from_utf8_lossy(&argv[1]).to_ascii_lowercase())
    } else {
        Source::Body(argv[1].clone())
    };
    let inv = Invocation {
        source,
        keys: argv[3..3 + numkeys].to_vec(),
        args: argv[3 + numkeys..].to_vec(),
        ro_command,
    };
    run(ctx, inv)
}

/// The numkeys argument, checked against the arguments that follow it.
fn numkeys(arg: &[u8], available: usize) -> Result<usize, RedisError> {
    let n: i64 = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RedisError::NotInteger)?;
    if n > available as i64 {
        return Err(RedisError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if n < 0 {
        return Err(RedisError::err("Number of keys can't be negative"));
    }
    Ok(n as usize)
}

/// busy-reply-threshold in ms.
fn threshold(ctx: &Ctx) -> u64 {
    ctx.srv.config.get_i64("busy-reply-threshold").max(0) as u64
}

fn script_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (sha, _) = ctx
        .srv
        .scripts
        .with_engine_or_busy(threshold(ctx), |e| e.load(&argv[2]))??;
    Ok(Reply::Bulk(Bytes::from(sha)))
}

fn script_exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = ctx.srv.scripts.with_engine_or_busy(threshold(ctx), |e| {
        argv[2..]
            .iter()
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Int(i64::from(e.exists(&sha)))
            })
            .collect()
    })?;
    Ok(Reply::Array(found))
}

fn script_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let ok = match argv.get(2) {
        None => argv.len() == 2,
        Some(mode) => {
            argv.len() == 3
                && (mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async"))
        }
    };
    if !ok {
        return Err(RedisError::err(
            "SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    ctx.srv.scripts.flush(threshold(ctx))?;
    Ok(Reply::OK)
}

/// SCRIPT KILL: stop the running script unless it already wrote. Like
/// every other command it is served only once the script has run past
/// busy-reply-threshold (Redis reads nothing before); a script that ends
/// first leaves nothing to kill.
fn script_kill(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let scripts = &ctx.srv.scripts;
    if scripts.wait_while_busy(threshold(ctx)).is_ok() {
        return Err(RedisError::NotBusy);
    }
    if scripts.flags.wrote.load(Ordering::Relaxed) {
        return Err(RedisError::raw(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        ));
    }
    scripts.flags.kill.store(true, Ordering::Relaxed);
    Ok(Reply::OK)
}

fn script_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(super::help::reply(super::help::SCRIPT))
}
