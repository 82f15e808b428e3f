//! Replication handshake commands on the primary side: SYNC, PSYNC,
//! REPLCONF.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] =
    &[("sync", sync), ("psync", psync), ("replconf", replconf)];

fn start(ctx: &mut Ctx, psync: bool) -> CmdResult {
    if ctx.in_exec || ctx.sess.in_multi() {
        return Err(RedisError::err("Replica can't be started inside MULTI"));
    }
    ctx.sess.replica_sync = Some(psync);
    // The feeder writes +FULLRESYNC / the payload itself.
    Ok(Reply::Raw(Bytes::new()))
}

fn sync(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    start(ctx, false)
}

fn psync(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    start(ctx, true)
}

fn replconf(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(RedisError::Syntax);
    }
    // ACK/GETACK carry no reply; listening-port, capa, ip-address are noted as OK.
    if crate::command::args::is(&argv[1], "ACK") {
        return Ok(Reply::Raw(Bytes::new()));
    }
    Ok(Reply::OK)
}
