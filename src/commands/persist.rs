//! Persistence commands: SAVE, BGSAVE, BGREWRITEAOF.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("save", save),
    ("bgsave", bgsave),
    ("bgrewriteaof", bgrewriteaof),
];

fn bgrewriteaof(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    crate::persistence::aof::bgrewriteaof(ctx.srv, ctx.in_exec)
        .map(Reply::Status)
        .map_err(RedisError::err)
}

fn save(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.srv.persist.in_progress() {
        return Err(RedisError::err("Background save already in progress"));
    }
    crate::persistence::save(ctx.srv, ctx.in_exec).map_err(|_| RedisError::raw("ERR"))?;
    Ok(Reply::OK)
}

fn bgsave(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match argv.get(1) {
        None => {}
        // Redis would schedule it after the running one; the save points
        // cron picks it up once the child ends.
        Some(a) if argv.len() == 2 && args::is(a, "SCHEDULE") && ctx.srv.persist.in_progress() => {
            return Ok(Reply::Status("Background saving scheduled"));
        }
        Some(a) if argv.len() == 2 && args::is(a, "SCHEDULE") => {}
        Some(_) => return Err(RedisError::Syntax),
    }
    if ctx.srv.persist.in_progress() {
        return Err(RedisError::err("Background save already in progress"));
    }
    if ctx.srv.aof.child_running() {
        if argv.len() == 2 {
            return Ok(Reply::Status("Background saving scheduled"));
        }
        return Err(RedisError::err("Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
    }
    crate::persistence::bgsave(ctx.srv, ctx.in_exec).map_err(RedisError::err)?;
    Ok(Reply::Status("Background saving started"))
}
