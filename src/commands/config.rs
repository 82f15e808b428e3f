//! CONFIG GET/SET/RESETSTAT/REWRITE/HELP, as Redis 7.0.15 replies to them.
//!
//! CONFIG SET takes several pairs at once and is all-or-nothing: every
//! value is validated before any is applied, and a failure while applying
//! restores the old values. CONFIG REWRITE updates the file given at
//! start-up (see `config::rewrite`).

use bytes::Bytes;

use super::ctx::Ctx;
use super::help;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("config|get", config_get),
    ("config|set", config_set),
    ("config|resetstat", config_resetstat),
    ("config|rewrite", config_rewrite),
    ("config|help", config_help),
];

/// CONFIG GET: a name without glob characters is looked up directly (so
/// hidden directives answer) and echoed as the client spelled it; glob
/// patterns list the matching visible names. Each name appears once.
fn config_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cfg = &ctx.srv.config;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for p in &argv[2..] {
        if p.iter().any(|c| b"*?[".contains(c)) {
            for (k, v) in cfg.get_matching(&[p.to_vec()]) {
                if seen.insert(k.clone()) {
                    out.push((Reply::bulk_str(&k), Reply::bulk_str(&v)));
                }
            }
        } else if crate::config::find(&args::text(p)).is_some() && seen.insert(args::lower(p)) {
            out.push((
                Reply::Bulk(p.clone()),
                Reply::bulk_str(&cfg.get(&args::text(p))),
            ));
        }
    }
    Ok(Reply::Map(out))
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
            let given = args::text(&rest[2 * old.len()]);
            return Err(RedisError::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{given}'"
            )));
        };
        if !d.mutable {
            return Err(fail("can't set immutable config".into()));
        }
        if PROTECTED.contains(&d.name) && !protected_allowed(ctx) {
            return Err(fail("can't set protected config".into()));
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
            return Err(roll_back(ctx, &old, name, &reason));
        }
    }
    if let Err((name, reason)) = apply_side_effects(ctx, &pairs) {
        return Err(roll_back(ctx, &old, &name, &reason));
    }
    Ok(Reply::OK)
}

/// Directives that `enable-protected-configs` guards (Redis 7.0.15).
const PROTECTED: &[&str] = &["dir", "dbfilename"];

fn protected_allowed(ctx: &Ctx) -> bool {
    match ctx.srv.config.get("enable-protected-configs").as_str() {
        "yes" => true,
        "local" => {
            let a = &ctx.sess.info.addr;
            a.starts_with("127.") || a.starts_with("[::1]")
        }
        _ => false,
    }
}

/// Restore the values in `old` (and their effects) after `name` failed.
fn roll_back(ctx: &Ctx, old: &[(String, String)], name: &str, reason: &str) -> RedisError {
    for (n, v) in old {
        let _ = ctx.srv.config.set(n, std::slice::from_ref(v), true);
    }
    let _ = apply_side_effects(ctx, old);
    RedisError::err(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - {reason}"
    ))
}

/// Make new values take effect; an `Err` names the directive that could
/// not be applied (Redis's "apply" stage, e.g. a port already in use).
fn apply_side_effects(ctx: &Ctx, pairs: &[(String, String)]) -> Result<(), (String, String)> {
    for (name, value) in pairs {
        match name.as_str() {
            "maxmemory-policy" | "lfu-log-factor" | "lfu-decay-time" => {
                crate::evict::apply_config(&ctx.srv.config);
            }
            // A lower limit takes effect at once (Redis evicts from the
            // config apply hook); inside EXEC the gate is ours, so the
            // cron does it right after.
            "maxmemory" if ctx.in_exec => crate::evict::request_background(),
            "maxmemory" => {
                crate::evict::make_room(&ctx.srv.ks, &ctx.srv.config);
            }
            "notify-keyspace-events" => {
                // The value as given: the stored (printed) form drops 'n'
                // next to 'A', as Redis's getter does, but the flag stays.
                ctx.ks()
                    .notify
                    .set_flags(crate::notify::parse_flags(value).unwrap_or(0));
            }
            "client-output-buffer-limit" => {
                let v = ctx.srv.config.get("client-output-buffer-limit");
                ctx.srv
                    .pubsub
                    .set_limits(crate::pubsub::limits_from_config(&v));
            }
            "appendonly" => {
                let on = ctx.srv.config.get_bool("appendonly");
                let r = if on {
                    crate::persistence::aof::start_appendonly(ctx.srv, ctx.in_exec)
                } else {
                    crate::persistence::aof::stop_appendonly(ctx.srv);
                    Ok(())
                };
                r.map_err(|e| (name.clone(), e))?;
            }
            "aof-disable-auto-gc" => crate::persistence::aof::gc_now(ctx.srv),
            "appendfsync" | "aof-timestamp-enabled" => crate::persistence::aof::set_policy(ctx.srv),
            "port" => {
                let port = ctx.srv.config.get_i64("port").clamp(0, 65535) as u16;
                if port != ctx.srv.port() {
                    crate::server::listener::rebind(ctx.srv, port).map_err(|e| {
                        (name.clone(), format!("Unable to listen on this port: {e}"))
                    })?;
                }
                crate::cluster::update_announced_endpoint(ctx.srv);
            }
            // At once, as Redis's apply hook: a partial resync asked right
            // after the change must see the new size.
            "repl-backlog-size" => crate::replication::on_backlog_size_change(ctx.srv),
            // Routing reads these from its snapshot: republish it now.
            "cluster-preferred-endpoint-type"
            | "cluster-allow-reads-when-down"
            | "cluster-allow-pubsubshard-when-down"
            | "cluster-require-full-coverage" => {
                if let Some(cl) = &ctx.srv.cluster {
                    cl.with(&ctx.srv.config, |_| ());
                }
            }
            "cluster-announce-port" | "cluster-announce-bus-port" | "cluster-announce-hostname" => {
                crate::cluster::update_announced_endpoint(ctx.srv);
            }
            _ => {}
        }
    }
    Ok(())
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

fn config_rewrite(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    rewrite_file(ctx, false)
}

/// Rewrite the start-up config file; `force_all` writes every directive
/// (DEBUG CONFIG-REWRITE-FORCE-ALL).
pub fn rewrite_file(ctx: &mut Ctx, force_all: bool) -> CmdResult {
    let Some(path) = ctx.srv.config.file.clone() else {
        return Err(RedisError::err(
            "The server is running without a config file",
        ));
    };
    let fail = |e: std::io::Error| RedisError::err(format!("Rewriting config file: {e}"));
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        // A vanished file is recreated, as Redis does.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(fail(e)),
    };
    let new = crate::config::rewrite::rewrite(&old, &ctx.srv.config.values(), force_all);
    std::fs::write(&path, new).map_err(fail)?;
    tracing::info!("CONFIG REWRITE executed with success.");
    Ok(Reply::OK)
}

fn config_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help::reply(help::CONFIG))
}
