//! Hot path: the checks a command passes before it runs, in the order of
//! Redis 7.0's `processCommand` (the order decides which error a client
//! sees first): lookup → arity → protected → auth → no-multi → MULTI
//! queueing → call.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::call::call;
use super::session::{Queued, Session};
use super::Server;
use crate::cluster::routing::{Query, Redirect};
use crate::command::keys::key_positions;
use crate::commands::table::{flag, Command};
use crate::error::RedisError;
use crate::protocol::Reply;

/// Commands that run immediately even inside MULTI.
fn bypasses_queue(cmd: &Command) -> bool {
    matches!(
        cmd.meta.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Resolve argv to the command (or subcommand) that will run.
pub fn resolve<'t>(srv: &'t Server, argv: &[Bytes]) -> Result<&'t Command, RedisError> {
    let Some(cmd) = srv.commands.get(&argv[0]) else {
        return Err(unknown_command(argv));
    };
    if !cmd.is_container() {
        if !cmd.meta.arity_ok(argv.len()) {
            return Err(RedisError::WrongArity(cmd.meta.name.to_string()));
        }
        return Ok(cmd);
    }
    if argv.len() < 2 {
        return Err(RedisError::WrongArity(cmd.meta.name.to_string()));
    }
    let Some(sub) = cmd.sub(&argv[1]) else {
        return Err(RedisError::UnknownSubcommand {
            sub: truncate(&String::from_utf8_lossy(&argv[1]), 128),
            cmd: cmd.meta.name.to_ascii_uppercase(),
        });
    };
    if !sub.meta.arity_ok(argv.len()) {
        return Err(RedisError::WrongArity(sub.meta.name.to_string()));
    }
    Ok(sub)
}

/// The command (or subcommand) an arity error is charged to.
fn arity_target<'t>(srv: &'t Server, argv: &[Bytes]) -> Option<&'t Command> {
    let cmd = srv.commands.get(&argv[0])?;
    match argv.get(1) {
        Some(sub) if cmd.is_container() => cmd.sub(sub),
        _ => Some(cmd),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Redis's "unknown command" text, with the first arguments quoted.
fn unknown_command(argv: &[Bytes]) -> RedisError {
    let mut args = String::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let a = String::from_utf8_lossy(a);
        args.push('\'');
        args.push_str(&truncate(&a, room));
        args.push_str("' ");
    }
    let name = truncate(&String::from_utf8_lossy(&argv[0]), 128);
    RedisError::UnknownCommand(format!("'{name}', with args beginning with: {args}"))
}

/// Run one request from a client and return its reply.
pub fn execute(srv: &Arc<Server>, sess: &mut Session, argv: &[Bytes]) -> Reply {
    let cmd = match resolve(srv, argv) {
        Ok(c) => c,
        Err(e) => {
            // Redis counts an arity error as a rejected call of the command.
            let target = match e {
                RedisError::WrongArity(_) => arity_target(srv, argv),
                _ => None,
            };
            return reject(srv, sess, target, e);
        }
    };
    // Shard channels this node stopped serving were dropped by the cluster
    // cron; the session forgets them before its subscribe mode is judged
    // (one atomic load unless a drop happened since its last check).
    crate::commands::pubsub::forget_dropped_shard_channels(srv, sess);
    if let Err(e) = precheck(srv, sess, cmd) {
        return reject(srv, sess, Some(cmd), e);
    }
    if srv.scripts.is_running() && !cmd.has(flag::ALLOW_BUSY) {
        if let Err(e) = wait_for_script(srv, cmd) {
            return reject(srv, sess, Some(cmd), e);
        }
    }
    if let Err(e) = cluster_route(srv, sess, cmd, argv) {
        // A redirected EXEC discards the transaction but answers with the
        // plain redirection (clusterRedirectClient), not EXECABORT.
        if cmd.meta.name == "exec" {
            sess.discard_transaction(&srv.ks);
        }
        cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
        return reject(srv, sess, None, e);
    }
    if let Err(e) = oom_check(srv, sess, cmd) {
        return reject(srv, sess, Some(cmd), e);
    }
    // After the cluster redirection and OOM, as in processCommand: a replica
    // answers MOVED rather than READONLY for a write to its master's slot.
    if !sess.is_master {
        if let Err(e) = replication_checks(srv, sess, cmd) {
            return reject(srv, sess, Some(cmd), e);
        }
    }
    if sess.in_multi() && !bypasses_queue(cmd) {
        if let Some(q) = sess.multi.as_mut() {
            q.push(Queued {
                argv: argv.to_vec(),
            });
            sess.info.multi.store(q.len() as i64, Ordering::Relaxed);
        }
        return Reply::Status("QUEUED");
    }
    let reply = call(srv, sess, cmd, argv, false);
    // ASKING lasts for one command (or until EXEC when in MULTI).
    if sess.asking && cmd.meta.name != "asking" && !sess.in_multi() {
        sess.asking = false;
    }
    // While a script runs on its own thread the keyspace gate is its own
    // (serving would wait for the script); it serves them when it ends.
    if srv.ks.blocking.count() > 0 && !srv.scripts.is_running() {
        crate::commands::blocking::serve_ready(srv);
    }
    reply
}

/// While a script runs, other commands wait for it, or get BUSY once it
/// has run past busy-reply-threshold. Scripts queue behind it instead of
/// waiting here (the script thread runs them in order).
fn wait_for_script(srv: &Server, cmd: &Command) -> Result<(), RedisError> {
    let threshold = srv.config.get_i64("busy-reply-threshold").max(0) as u64;
    if matches!(cmd.meta.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro") {
        return srv.scripts.check_busy(threshold).map(|_| ());
    }
    srv.scripts.wait_while_busy(threshold)
}

fn precheck(srv: &Server, sess: &Session, cmd: &Command) -> Result<(), RedisError> {
    let meta = cmd.meta;
    // DEBUG and MODULE carry the PROTECTED bit (see commands::table).
    if cmd.has(flag::PROTECTED) && !protected_allowed(srv, meta.name, sess) {
        let what = meta
            .name
            .split('|')
            .next()
            .unwrap_or(meta.name)
            .to_ascii_uppercase();
        let opt = if what == "DEBUG" {
            "enable-debug-command"
        } else {
            "enable-module-command"
        };
        return Err(RedisError::err(format!(
            "{what} command not allowed. If the {opt} option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
        )));
    }
    if !sess.authenticated && !cmd.has(flag::NO_AUTH) {
        return Err(RedisError::NoAuth);
    }
    if sess.in_resp2_subscribe_mode() && !allowed_in_subscribe_mode(cmd) {
        return Err(RedisError::err(format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            meta.name
        )));
    }
    if (cmd.has(flag::WRITE) || meta.name == "ping") && !srv.ks.is_replica() {
        if let Some(msg) = crate::persistence::save::disk_error(srv) {
            return Err(RedisError::raw(msg));
        }
    }
    // The dataset is still being loaded (the listener is up before the
    // load, as in Redis): only commands flagged `loading` run.
    if srv.loading.load(Ordering::Relaxed) && !cmd.has(flag::LOADING) {
        return Err(RedisError::raw(
            "LOADING Redis is loading the dataset in memory",
        ));
    }
    if sess.in_multi() && cmd.has(flag::NO_MULTI) && !bypasses_queue(cmd) {
        return Err(RedisError::err("Command not allowed inside a transaction"));
    }
    Ok(())
}

/// Redis's replication rungs of processCommand: NOREPLICAS on a master
/// without enough good replicas, READONLY and MASTERDOWN on a replica.
/// The master's own stream (`sess.is_master`) skips them.
fn replication_checks(srv: &Server, sess: &Session, cmd: &Command) -> Result<(), RedisError> {
    let hot = &srv.config.hot;
    let is_write = has_flag(srv, sess, cmd, flag::WRITE);
    if !srv.ks.is_replica() {
        if is_write && hot.min_replicas_to_write.load(Ordering::Relaxed) > 0 {
            crate::replication::wait::check_min_replicas(srv)?;
        }
        return Ok(());
    }
    if is_write && hot.replica_read_only.load(Ordering::Relaxed) {
        return Err(RedisError::ReadOnly);
    }
    if !hot.replica_serve_stale_data.load(Ordering::Relaxed)
        && lacks_flag(srv, sess, cmd, flag::STALE)
        && !srv.repl.link.up.load(Ordering::Relaxed)
    {
        return Err(RedisError::raw(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        ));
    }
    Ok(())
}

/// Does `cmd` carry `f`? EXEC carries it when a queued command does
/// (Redis combines the flags of the transaction's commands).
fn has_flag(srv: &Server, sess: &Session, cmd: &Command, f: u32) -> bool {
    cmd.has(f) || (cmd.meta.name == "exec" && queued(srv, sess).any(|c| c.has(f)))
}

/// Does `cmd` lack `f`? EXEC lacks it when a queued command does.
fn lacks_flag(srv: &Server, sess: &Session, cmd: &Command, f: u32) -> bool {
    if cmd.meta.name == "exec" {
        return queued(srv, sess).any(|c| !c.has(f));
    }
    !cmd.has(f)
}

fn queued<'t>(srv: &'t Server, sess: &'t Session) -> impl Iterator<Item = &'t Command> + 't {
    sess.multi
        .iter()
        .flatten()
        .filter_map(|q| resolve(srv, &q.argv).ok())
}

/// maxmemory, at Redis's place in the ladder (after cluster redirection,
/// before MULTI queueing): evict first, then refuse commands that may
/// grow memory if used memory is still over the limit and nothing more can
/// be evicted. Queueing inside MULTI counts as growing memory; EXEC counts
/// if a queued command may grow memory.
fn oom_check(srv: &Server, sess: &Session, cmd: &Command) -> Result<(), RedisError> {
    // No eviction while loading the dataset (isSafeToPerformEvictions).
    if srv.config.hot.maxmemory.load(Ordering::Relaxed) <= 0 || srv.loading.load(Ordering::Relaxed)
    {
        return Ok(());
    }
    if crate::evict::make_room(&srv.ks, &srv.config) != crate::evict::Outcome::Fail {
        return Ok(());
    }
    // The master's stream is never refused: the replica would diverge.
    if sess.is_master {
        return Ok(());
    }
    let name = cmd.meta.name;
    let denyoom = has_flag(srv, sess, cmd, flag::DENYOOM);
    let queueing = sess.in_multi() && !matches!(name, "exec" | "discard" | "quit" | "reset");
    if denyoom || queueing {
        return Err(RedisError::Oom);
    }
    Ok(())
}

/// Cluster redirection (MOVED/ASK/CROSSSLOT/TRYAGAIN/CLUSTERDOWN), checked
/// after auth and before the command runs or is queued, as Redis does.
fn cluster_route(
    srv: &Server,
    sess: &Session,
    cmd: &Command,
    argv: &[Bytes],
) -> Result<(), RedisError> {
    let Some(cluster) = &srv.cluster else {
        return Ok(());
    };
    // The master's replication stream is never redirected.
    if sess.is_master {
        return Ok(());
    }
    let is_exec = cmd.meta.name == "exec";
    if cmd.meta.key_specs.is_empty() && !is_exec {
        return Ok(());
    }
    if is_exec && sess.multi.is_none() {
        return Ok(());
    }
    let mut owned: Vec<Bytes> = Vec::new();
    let mut is_write = cmd.has(flag::WRITE);
    if is_exec {
        for q in sess.multi.iter().flatten() {
            if let Ok(c) = resolve(srv, &q.argv) {
                is_write |= c.has(flag::WRITE);
                owned.extend(
                    key_positions(c.meta, &q.argv)
                        .into_iter()
                        .map(|i| q.argv[i].clone()),
                );
            }
        }
    } else {
        owned.extend(
            key_positions(cmd.meta, argv)
                .into_iter()
                .map(|i| argv[i].clone()),
        );
    }
    let keys: Vec<&[u8]> = owned.iter().map(|k| &k[..]).collect();
    let q = Query {
        keys: &keys,
        is_write,
        asking: sess.asking || cmd.has(flag::ASKING),
        readonly_client: sess.readonly,
        is_migrate: cmd.meta.name == "migrate",
        pubsub_shard: matches!(cmd.meta.name, "ssubscribe" | "sunsubscribe" | "spublish"),
    };
    route(srv, cluster, &q).map_err(RedisError::from)
}

/// Route a query against the cluster map; a key "exists" when it is live
/// in database 0 (ASK and TRYAGAIN depend on it during a migration).
fn route(srv: &Server, cluster: &crate::cluster::Cluster, q: &Query) -> Result<(), Redirect> {
    let db = srv.ks.db(0);
    let now = crate::util::clock::now_ms();
    let exists = |k: &[u8]| matches!(db.contains_raw(k), Some(at) if at == 0 || at >= now);
    cluster.map().route(q, exists)
}

/// Keys a script's command touches: served here, as a client's would be
/// (scriptVerifyClusterState); the caller's ASKING and READONLY apply.
pub fn route_keys(
    srv: &Server,
    sess: &Session,
    keys: &[&[u8]],
    is_write: bool,
) -> Result<(), Redirect> {
    let Some(cluster) = &srv.cluster else {
        return Ok(());
    };
    let q = Query {
        keys,
        is_write,
        asking: sess.asking,
        readonly_client: sess.readonly,
        is_migrate: false,
        pubsub_shard: false,
    };
    route(srv, cluster, &q)
}

fn allowed_in_subscribe_mode(cmd: &Command) -> bool {
    matches!(
        cmd.meta.name,
        "subscribe"
            | "psubscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "punsubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

fn protected_allowed(srv: &Server, name: &str, sess: &Session) -> bool {
    let opt = if name.starts_with("debug") {
        "enable-debug-command"
    } else {
        "enable-module-command"
    };
    match srv.config.get(opt).as_str() {
        "yes" => true,
        "local" => sess.info.addr.starts_with("127.") || sess.info.addr.starts_with("[::1]"),
        _ => false,
    }
}

/// A command refused before it ran: count it and poison a MULTI.
fn reject(srv: &Server, sess: &mut Session, cmd: Option<&Command>, e: RedisError) -> Reply {
    if let Some(c) = cmd {
        c.stats.rejected.fetch_add(1, Ordering::Relaxed);
    }
    if sess.in_multi() {
        sess.multi_error = true;
    }
    // A rejected EXEC (execCommandAbort) discards the transaction and
    // names the reason; texts Redis formats on the spot carry no "ERR".
    let e = if cmd.is_some_and(|c| c.meta.name == "exec") {
        sess.discard_transaction(&srv.ks);
        let msg = e.to_string();
        let msg = msg.strip_prefix("ERR ").unwrap_or(&msg);
        RedisError::raw(format!("EXECABORT Transaction discarded because of: {msg}"))
    } else {
        e
    };
    crate::info::errors::count(srv, &e);
    Reply::Error(e)
}
