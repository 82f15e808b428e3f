//! Hot path: execute a resolved command — the single execution path used
//! by clients, EXEC and (later) the AOF loader and replica stream — and
//! record stats, slowlog and monitor output.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::monitor::Monitors;
use super::session::Session;
use super::Server;
use crate::commands::ctx::Ctx;
use crate::commands::table::{flag, Command};
use crate::protocol::Reply;
use crate::util::clock;

/// Run `cmd` with `argv`. `in_exec`: called from EXEC (gate held).
pub fn call(
    srv: &Arc<Server>,
    sess: &mut Session,
    cmd: &Command,
    argv: &[Bytes],
    in_exec: bool,
) -> Reply {
    let Some(handler) = cmd.handler else {
        return Reply::Error(crate::error::RedisError::err("command has no handler"));
    };
    let start = Instant::now();
    let now_ms = clock::now_ms();
    let db_before = sess.db;
    let result = {
        let mut ctx = Ctx {
            srv,
            sess: &mut *sess,
            now_ms,
            meta: cmd.meta,
            in_exec,
        };
        handler(&mut ctx, argv)
    };
    let usec = start.elapsed().as_micros() as u64;
    let stats = &cmd.stats;
    stats.calls.fetch_add(1, Ordering::Relaxed);
    stats.usec.fetch_add(usec, Ordering::Relaxed);
    srv.stats
        .total_commands_processed
        .fetch_add(1, Ordering::Relaxed);
    *sess.info.last_cmd.lock() = cmd.meta.name;
    let reply = match result {
        Ok(r) => r,
        Err(e) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            crate::info::errors::count(srv, &e);
            Reply::Error(e)
        }
    };
    srv.slowlog.maybe_log(srv, usec, argv, sess);
    if !srv.monitors.is_empty() && !cmd.has(flag::SKIP_MONITOR | flag::ADMIN) {
        let line = Monitors::format(clock::now_us(), db_before, &sess.info.addr, argv);
        srv.monitors.feed(line);
    }
    reply
}
