//! CLIENT subcommands: ID, SETNAME, GETNAME, LIST, INFO, KILL, PAUSE,
//! UNPAUSE, REPLY, NO-EVICT, UNBLOCK, GETREDIR, TRACKINGINFO, CACHING, HELP.
//!
//! Mirrors Redis 7.0.15's `clientCommand`: argument forms, error texts and
//! reply shapes (CLIENT LIST/INFO are verbatim strings, one line per client
//! ending in `\n`). Client state shared between connections lives in the
//! registry (`server::clients`); a killed client's task is cancelled
//! through its token, while killing yourself closes after the reply.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::help;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::server::clients::{ClientInfo, ClientKind};
use crate::server::session::ReplyMode;
use crate::server::PauseKind;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("client|id", id),
    ("client|setname", setname),
    ("client|getname", getname),
    ("client|list", list),
    ("client|info", info),
    ("client|kill", kill),
    ("client|pause", pause),
    ("client|unpause", unpause),
    ("client|reply", reply),
    ("client|no-evict", no_evict),
    ("client|unblock", unblock),
    ("client|getredir", getredir),
    ("client|trackinginfo", trackinginfo),
    ("client|caching", caching),
    ("client|help", client_help),
];

fn id(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.sess.id as i64))
}

fn setname(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    super::admin::validate_client_name(&argv[2])?;
    *ctx.sess.info.name.lock() = String::from_utf8_lossy(&argv[2]).into_owned();
    Ok(Reply::OK)
}

fn getname(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let name = ctx.sess.info.name.lock().clone();
    Ok(if name.is_empty() {
        Reply::Nil
    } else {
        Reply::Bulk(Bytes::from(name))
    })
}

/// One CLIENT LIST line; the caller's own line shows the running command.
fn line_of(ctx: &Ctx, c: &ClientInfo) -> String {
    let current = (c.id == ctx.sess.id).then_some(ctx.meta.name);
    let mut l = c.line(ctx.now_ms, current);
    l.push('\n');
    l
}

fn list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut kind = None;
    let mut ids: Option<Vec<u64>> = None;
    if argv.len() == 4 && args::is(&argv[2], "TYPE") {
        let t = args::text(&argv[3]);
        kind = Some(ClientKind::parse(&t).ok_or_else(|| unknown_type(&t))?);
    } else if argv.len() > 3 && args::is(&argv[2], "ID") {
        let mut v = Vec::new();
        for a in &argv[3..] {
            let n = args::int(a).map_err(|_| RedisError::err("Invalid client ID"))?;
            v.push(n as u64);
        }
        ids = Some(v);
    } else if argv.len() != 2 {
        return Err(RedisError::Syntax);
    }
    let mut out = String::new();
    for c in ctx.srv.clients.snapshot() {
        if kind.is_some_and(|k| c.kind() != k) {
            continue;
        }
        if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
            continue;
        }
        out.push_str(&line_of(ctx, &c));
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

fn info(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let me = ctx.sess.info.clone();
    Ok(Reply::Verbatim(Bytes::from(line_of(ctx, &me))))
}

/// Redis's reply when a subcommand's own argument count check fails.
fn bad_subcommand(argv: &[Bytes]) -> RedisError {
    RedisError::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
        args::text(&argv[1])
    ))
}

fn unknown_type(t: &str) -> RedisError {
    RedisError::err(format!("Unknown client type '{t}'"))
}

/// The filters of `CLIENT KILL <option> <value> ...`.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    kind: Option<ClientKind>,
    addr: Option<String>,
    laddr: Option<String>,
    user: Option<String>,
    skip_me: bool,
}

impl KillFilter {
    fn parse(argv: &[Bytes]) -> Result<KillFilter, RedisError> {
        let mut f = KillFilter {
            skip_me: true,
            ..Default::default()
        };
        for pair in argv[2..].chunks(2) {
            let [opt, val] = pair else {
                return Err(RedisError::Syntax);
            };
            let v = args::text(val);
            match args::lower(opt).as_str() {
                "id" => match args::int(val) {
                    Ok(n) if n > 0 => f.id = Some(n as u64),
                    _ => return Err(RedisError::err("client-id should be greater than 0")),
                },
                "type" => f.kind = Some(ClientKind::parse(&v).ok_or_else(|| unknown_type(&v))?),
                "addr" => f.addr = Some(v),
                "laddr" => f.laddr = Some(v),
                "user" => {
                    // Only the default user exists until ACL users do.
                    if v != "default" {
                        return Err(RedisError::err(format!("No such user '{v}'")));
                    }
                    f.user = Some(v);
                }
                "skipme" => {
                    f.skip_me = match v.to_ascii_lowercase().as_str() {
                        "yes" => true,
                        "no" => false,
                        _ => return Err(RedisError::Syntax),
                    }
                }
                _ => return Err(RedisError::Syntax),
            }
        }
        Ok(f)
    }

    fn matches(&self, c: &ClientInfo, me: u64) -> bool {
        if self.id.is_some_and(|id| id != c.id) {
            return false;
        }
        if self.kind.is_some_and(|k| k != c.kind()) {
            return false;
        }
        if self.addr.as_ref().is_some_and(|a| *a != c.addr) {
            return false;
        }
        if self.laddr.as_ref().is_some_and(|a| *a != c.laddr) {
            return false;
        }
        !(self.skip_me && c.id == me)
    }
}

fn kill(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 3 {
        // Old form: CLIENT KILL ip:port, which may kill the caller too.
        let addr = args::text(&argv[2]);
        let filter = KillFilter {
            addr: Some(addr),
            ..Default::default()
        };
        return match kill_matching(ctx, &filter) {
            0 => Err(RedisError::err("No such client")),
            _ => Ok(Reply::OK),
        };
    }
    if !argv.len().is_multiple_of(2) {
        return Err(RedisError::Syntax);
    }
    let filter = KillFilter::parse(argv)?;
    Ok(Reply::Int(kill_matching(ctx, &filter) as i64))
}

/// Close every matching client. The caller itself is closed only after
/// its reply is written (Redis's CLOSE_AFTER_REPLY).
fn kill_matching(ctx: &mut Ctx, f: &KillFilter) -> usize {
    let me = ctx.sess.id;
    let mut n = 0;
    for c in ctx.srv.clients.snapshot() {
        if !f.matches(&c, me) {
            continue;
        }
        if c.id == me {
            ctx.sess.close_after_reply = true;
        } else {
            c.kill.cancel();
        }
        n += 1;
    }
    n
}

fn pause(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Err(bad_subcommand(argv));
    }
    let ms = args::int(&argv[2])
        .map_err(|_| RedisError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(RedisError::err("timeout is negative"));
    }
    let kind = match argv.get(3) {
        None => PauseKind::All,
        Some(a) if args::is(a, "ALL") => PauseKind::All,
        Some(a) if args::is(a, "WRITE") => PauseKind::Write,
        Some(_) => return Err(RedisError::err("CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let until = ctx.now_ms.saturating_add(ms as u64);
    {
        // A second pause never shortens or weakens the one in force.
        let mut p = ctx.srv.pause.lock();
        *p = Some(match *p {
            Some((old_kind, old_until)) if old_until > ctx.now_ms => {
                let k = if old_kind == PauseKind::All {
                    PauseKind::All
                } else {
                    kind
                };
                (k, until.max(old_until))
            }
            _ => (kind, until),
        });
    }
    ctx.srv.pause_changed.notify_waiters();
    Ok(Reply::OK)
}

fn unpause(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    *ctx.srv.pause.lock() = None;
    ctx.srv.pause_changed.notify_waiters();
    Ok(Reply::OK)
}

fn reply(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.sess.reply_mode = match args::lower(&argv[2]).as_str() {
        "on" => ReplyMode::On,
        "off" => ReplyMode::Off,
        "skip" if ctx.sess.reply_mode != ReplyMode::Off => ReplyMode::SkipNext,
        "skip" => ReplyMode::Off,
        _ => return Err(RedisError::Syntax),
    };
    Ok(Reply::OK)
}

fn no_evict(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let on = match args::lower(&argv[2]).as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(RedisError::Syntax),
    };
    ctx.sess.info.no_evict.store(on, Ordering::Relaxed);
    Ok(Reply::OK)
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: end a client's wait on keys.
fn unblock(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Err(bad_subcommand(argv));
    }
    let id = args::int(&argv[2])?;
    let mut error = false;
    if let Some(mode) = argv.get(3) {
        if args::is(mode, "ERROR") {
            error = true;
        } else if !args::is(mode, "TIMEOUT") {
            return Err(RedisError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    }
    let done = u64::try_from(id).is_ok_and(|id| ctx.ks().blocking.unblock_client(id, error));
    Ok(Reply::Int(i64::from(done)))
}

/// Client-side caching is not implemented: tracking is always off.
fn getredir(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(-1))
}

fn trackinginfo(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Map(vec![
        (
            Reply::bulk_str("flags"),
            Reply::Set(vec![Reply::bulk_str("off")]),
        ),
        (Reply::bulk_str("redirect"), Reply::Int(-1)),
        (Reply::bulk_str("prefixes"), Reply::empty_array()),
    ]))
}

fn caching(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Err(RedisError::err(
        "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    ))
}

fn client_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help::reply(help::CLIENT))
}
