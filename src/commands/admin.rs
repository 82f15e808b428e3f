//! Server administration: INFO, SHUTDOWN, DEBUG, TIME, LASTSAVE,
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
        ("help", 2) => Ok(super::help::reply(super::help::DEBUG)),
        ("reload", _) => debug_reload(ctx),
        ("set-skip-checksum-validation", 3) => {
            let on = args::int(&argv[2])? != 0;
            crate::persistence::rdb::payload::SKIP_CHECKSUM.store(on, Ordering::Relaxed);
            Ok(Reply::OK)
        }
        ("populate", 3..=5) => super::digest::populate(ctx, &argv[2..]),
        ("log", 3) => {
            tracing::warn!("DEBUG LOG: {}", args::text(&argv[2]));
            Ok(Reply::OK)
        }
        ("digest-value", _) => super::digest::digest_value(ctx, &argv[2..]),
        ("digest", 2) => {
            let _gate = ctx.exclusive();
            let d = super::digest::dataset(ctx.ks());
            Ok(Reply::StatusOwned(d))
        }
        ("aof-flush-sleep", 3) => {
            let us = args::int(&argv[2])?.max(0) as u64;
            if let Some(w) = ctx.srv.aof.writer() {
                w.flush_sleep_us.store(us, Ordering::Relaxed);
            }
            Ok(Reply::OK)
        }
        ("loadaof", 2) => {
            let _gate = ctx.exclusive();
            crate::persistence::aof::debug_loadaof(ctx.srv);
            Ok(Reply::OK)
        }
        ("config-rewrite-force-all", 2) => super::config::rewrite_file(ctx, true),
        ("protocol", 3) => super::diag::debug_protocol(ctx, &argv[2]),
        ("clusterlink", 5) if args::is(&argv[2], "kill") => {
            super::cluster::debug_clusterlink_kill(ctx, &argv[3], &argv[4])
        }
        ("drop-cluster-packet-filter", 3) => {
            let t = args::int(&argv[2])?;
            if let Some(cl) = &ctx.srv.cluster {
                cl.drop_filter.store(t, Ordering::Relaxed);
            }
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
        ("object", 3) => super::debug_data::object(ctx, &argv[2]),
        ("listpack", 3) | ("quicklist", 3 | 4) => super::debug_data::structure(ctx, argv),
        ("quicklist-packed-threshold", 3) => super::debug_data::packed_threshold(&argv[2]),
        ("stringmatch-test", 2) => Ok(Reply::Status("Apparently Redis did not crash: test passed")),
        ("change-repl-id", 2) => {
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
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

/// DEBUG RELOAD: save the dataset, empty it and load it back from the RDB
/// file, all under the exclusive gate (nothing runs in between).
fn debug_reload(ctx: &mut Ctx) -> CmdResult {
    let _gate = ctx.exclusive();
    crate::persistence::save(ctx.srv, true)
        .map_err(|e| RedisError::err(format!("Error trying to save the DB: {e}")))?;
    for i in 0..ctx.ks().db_count() {
        let old = ctx.ks().replace_db(i);
        std::thread::spawn(move || drop(old));
    }
    let path = crate::persistence::save::rdb_path(ctx.srv);
    crate::persistence::save::load_file(ctx.srv, &path, true)
        .map_err(|e| RedisError::err(format!("Error trying to load the RDB dump: {e}")))?;
    Ok(Reply::OK)
}
