//! Hot path: execute a resolved command — the single execution path used
//! by clients, EXEC and (later) the AOF loader and replica stream — and
//! record stats, slowlog and monitor output.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::monitor::Monitors;
use super::session::Session;
use super::stats::bump;
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
    // Inside a pipelined batch the previous command's end is this one's
    // start: one clock read per command instead of three.
    let start = sess.batch_clock.unwrap_or_else(Instant::now);
    let now_ms = clock::ms_at(start);
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
    let end = Instant::now();
    if sess.batch_clock.is_some() {
        sess.batch_clock = Some(end);
    }
    let elapsed = end.saturating_duration_since(start);
    let usec = elapsed.as_micros() as u64;
    let stats = &cmd.stats;
    if srv.config.hot.latency_tracking.load(Ordering::Relaxed) {
        stats.hist.record(elapsed.as_nanos() as u64);
    }
    record_latency(srv, cmd, usec, now_ms);
    bump(&stats.calls, 1);
    bump(&stats.usec, usec);
    bump(&srv.stats.total_commands_processed, 1);
    if !std::ptr::eq(sess.last_cmd, cmd.meta.name) {
        sess.last_cmd = cmd.meta.name;
        *sess.info.last_cmd.lock() = cmd.meta.name;
    }
    let reply = match result {
        Ok(r) => r,
        Err(e) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            crate::info::errors::count(srv, &e);
            Reply::Error(e)
        }
    };
    if !cmd.has(flag::SKIP_SLOWLOG) {
        srv.slowlog.maybe_log(srv, usec, argv, sess);
    }
    if !srv.monitors.is_empty() && !cmd.has(flag::SKIP_MONITOR | flag::ADMIN) {
        // Redis shows the db the client is in after the command (SELECT
        // shows its target) and hides credentials.
        let shown = redact(argv);
        let line = Monitors::format(clock::now_us(), sess.db, &sess.info.addr, &shown);
        srv.monitors.feed(line);
    }
    reply
}

/// Feed the latency monitor (LATENCY LATEST/HISTORY) when the command was
/// slower than `latency-monitor-threshold` ms, under Redis's event names.
fn record_latency(srv: &Server, cmd: &Command, usec: u64, now_ms: u64) {
    let threshold = srv
        .config
        .hot
        .latency_monitor_threshold
        .load(Ordering::Relaxed);
    let ms = usec / 1000;
    if threshold <= 0 || ms < threshold as u64 {
        return;
    }
    let event = if cmd.meta.has_flag("fast") {
        "fast-command"
    } else {
        "command"
    };
    srv.latency.add(event, now_ms / 1000, ms);
}

/// MONITOR's view of `argv`: AUTH's arguments and HELLO's AUTH user and
/// password become `(redacted)`, as in Redis 7.0.
fn redact(argv: &[Bytes]) -> std::borrow::Cow<'_, [Bytes]> {
    const HIDDEN: Bytes = Bytes::from_static(b"(redacted)");
    let name = &argv[0];
    if name.eq_ignore_ascii_case(b"auth") {
        let mut v = argv.to_vec();
        v[1..].fill(HIDDEN);
        return v.into();
    }
    if name.eq_ignore_ascii_case(b"hello") {
        if let Some(i) = argv.iter().position(|a| a.eq_ignore_ascii_case(b"auth")) {
            let mut v = argv.to_vec();
            for a in v.iter_mut().skip(i + 1).take(2) {
                *a = HIDDEN;
            }
            return v.into();
        }
    }
    argv.into()
}
