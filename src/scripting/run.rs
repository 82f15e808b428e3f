//! Running a script for a client: the keyspace gate, propagation, and the
//! checks every `redis.call` passes before its command runs (the order of
//! Redis 7.0's scriptCall: lookup and arity, noscript, write rules, OOM,
//! cluster keys).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use mlua::{Lua, MultiValue, Value};

use super::convert::{reply_to_lua, single};
use super::shebang::ScriptFlags;
use crate::cluster::routing::Redirect;
use crate::commands::ctx::Ctx;
use crate::commands::table::{flag, Command};
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::server::session::Session;
use crate::server::{call::call, dispatch, Server};

/// Which script to run.
pub enum Source {
    /// EVAL: the body (compiled and cached on first use).
    Body(Bytes),
    /// EVALSHA: the SHA1 of a cached script, lower-case.
    Sha(String),
}

/// One script invocation.
pub struct Invocation {
    pub source: Source,
    pub keys: Vec<Bytes>,
    pub args: Vec<Bytes>,
    /// EVAL_RO / EVALSHA_RO.
    pub ro_command: bool,
}

/// Run a cached script atomically. A client's script runs on the script
/// thread (`worker`) while its connection waits for the reply, so the
/// event loop goes on: other clients wait for the script or, past
/// busy-reply-threshold, get BUSY, and SCRIPT KILL gets through. Inside
/// EXEC (the gate is already ours), from the master's stream or while
/// loading, the script runs in place.
pub fn run(ctx: &mut Ctx, inv: Invocation) -> CmdResult {
    let srv = ctx.srv;
    let oom_at_start = over_maxmemory(srv);
    let in_place = ctx.in_exec
        || ctx.sess.is_master
        || srv.loading.load(Ordering::Relaxed)
        || tokio::runtime::Handle::try_current().is_err();
    let sha = match &inv.source {
        Source::Body(body) => super::sha1_hex(body),
        Source::Sha(sha) => sha.clone(),
    };
    srv.scripts.queued();
    if in_place {
        srv.scripts.started();
        let was = std::mem::replace(&mut ctx.sess.in_script, true);
        let reply = execute(srv, ctx.sess, &inv, oom_at_start);
        ctx.sess.in_script = was;
        srv.scripts.finished();
        return into_result(reply);
    }
    let mut sess = script_session(ctx.sess);
    // A script that has always been quick runs on the event loop when no
    // other script is queued: no thread hand-off, and a pipeline of them
    // runs like any other batch. Its time is watched: once slow, it goes
    // back to the script thread.
    if srv.scripts.is_quick(&sha) && srv.scripts.only_one_pending() {
        if let Some(reply) = run_on_loop(ctx, &mut sess, &inv, &sha, oom_at_start) {
            srv.scripts.finished();
            return into_result(reply);
        }
        // It overran before writing anything: start over on the thread.
        sess = script_session(ctx.sess);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let owned = srv.clone();
    let job = Box::new(move || {
        let reply = {
            let _gate = owned.ks.gate.write();
            owned.scripts.started();
            timed(&owned, &sha, || {
                execute(&owned, &mut sess, &inv, oom_at_start)
            })
        };
        owned.scripts.finished();
        if owned.ks.blocking.count() > 0 {
            crate::commands::blocking::serve_ready(&owned);
        }
        let _ = tx.send(reply);
    });
    if let Err(e) = srv.scripts.worker.submit(job) {
        srv.scripts.finished();
        return Err(RedisError::err(e.to_string()));
    }
    ctx.sess.pending_block = Some(crate::server::session::PendingBlock {
        id: crate::replication::wait::WAIT_BLOCK_ID,
        rx,
        timeout: None,
        timeout_reply: Reply::Nil,
        keys: Vec::new(),
        command: ctx.meta.name,
    });
    Ok(Reply::Nil)
}

/// Run a quick script on the event loop. If it is still running after
/// QUICK_BUDGET_MS without having written, the hook stops it (None): it
/// left nothing behind but reads, so it can run again on the script
/// thread, where it can be waited for, answered BUSY about and killed.
fn run_on_loop(
    ctx: &mut Ctx,
    sess: &mut Session,
    inv: &Invocation,
    sha: &str,
    oom_at_start: bool,
) -> Option<Reply> {
    let srv = ctx.srv;
    let flags = &srv.scripts.flags;
    let reply = {
        let _gate = ctx.exclusive();
        srv.scripts.started();
        let deadline = crate::util::clock::now_ms() + QUICK_BUDGET_MS;
        flags.deadline_ms.store(deadline, Ordering::Relaxed);
        let reply = timed(srv, sha, || execute(srv, sess, inv, oom_at_start));
        flags.deadline_ms.store(0, Ordering::Relaxed);
        reply
    };
    if flags.moved.swap(false, Ordering::Relaxed) {
        srv.scripts.running_since.store(0, Ordering::Release);
        return None;
    }
    Some(reply)
}

/// How long a quick script may run on the event loop before it moves.
const QUICK_BUDGET_MS: u64 = 5;

/// Run `f` and record how long the script took.
fn timed(srv: &Server, sha: &str, f: impl FnOnce() -> Reply) -> Reply {
    let start = std::time::Instant::now();
    let reply = f();
    srv.scripts.record_time(sha, start.elapsed());
    reply
}

fn into_result(reply: Reply) -> CmdResult {
    match reply {
        Reply::Error(e) => Err(e),
        r => Ok(r),
    }
}

/// The client a script's commands run as (Redis's Lua client): the
/// caller's database and cluster flags, RESP2, shown as `lua`.
fn script_session(caller: &Session) -> Session {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let info = Arc::new(crate::server::clients::ClientInfo::new(
        caller.id,
        "lua".to_string(),
        String::new(),
        -1,
        crate::util::clock::now_ms(),
    ));
    let mut sess = Session::new(info, true, tx);
    sess.db = caller.db;
    sess.asking = caller.asking;
    sess.readonly = caller.readonly;
    sess.is_master = caller.is_master;
    sess.in_script = true;
    sess
}

/// Compile or look up the script, then run it with the gate held (the
/// caller holds it), its writes propagated as one transaction. The
/// interpreter is only touched here, on the thread that runs scripts, so
/// the event loop never waits for it.
fn execute(srv: &Arc<Server>, sess: &mut Session, inv: &Invocation, oom_at_start: bool) -> Reply {
    let outcome = srv.scripts.with_engine(|engine| {
        let (sha, flags) = match &inv.source {
            Source::Body(body) => engine.load(body)?,
            Source::Sha(sha) => {
                let flags = engine.flags(sha).ok_or_else(|| {
                    RedisError::raw("NOSCRIPT No matching script. Please use EVAL.")
                })?;
                (sha.clone(), flags)
            }
        };
        prepare(srv, flags, inv.ro_command)?;
        Ok(run_compiled(
            srv,
            sess,
            engine,
            inv,
            &sha,
            flags,
            oom_at_start,
        ))
    });
    match outcome {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => Reply::Error(e),
        Err(e) => Reply::Error(RedisError::err(e)),
    }
}

fn run_compiled(
    srv: &Arc<Server>,
    sess: &mut Session,
    engine: &super::Engine,
    inv: &Invocation,
    sha: &str,
    flags: ScriptFlags,
    oom_at_start: bool,
) -> Reply {
    let db = sess.db;
    srv.ks.propagator.begin_tx();
    let mut state = CallState {
        srv,
        sess: &mut *sess,
        read_only: inv.ro_command || flags.no_writes,
        allow_oom: flags.allow_oom,
        oom_at_start,
        wrote: false,
        slot: declared_slot(srv, &inv.keys),
        allow_cross_slot: flags.allow_cross_slot,
    };
    let reply = engine.run(
        sha,
        &inv.keys,
        &inv.args,
        &mut |lua: &Lua, args: MultiValue| state.call(lua, args),
    );
    srv.ks.propagator.end_tx();
    // SELECT inside a script changes the script's database only.
    sess.db = db;
    reply
}

/// Checks made once before a script with a shebang runs (the declared
/// flags let Redis refuse it up front).
fn prepare(srv: &Server, f: ScriptFlags, ro_command: bool) -> Result<(), RedisError> {
    if !f.shebang {
        return Ok(());
    }
    if f.no_cluster && srv.cluster.is_some() {
        return Err(RedisError::err(
            "Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    if !f.no_writes {
        if ro_command {
            return Err(RedisError::err(
                "Can not execute a script with write flag using *_ro command.",
            ));
        }
        if !f.allow_oom && over_maxmemory(srv) {
            return Err(RedisError::Oom);
        }
    }
    Ok(())
}

/// The slot of the keys the script declared (cluster mode): undeclared
/// keys it touches must hash there too.
fn declared_slot(srv: &Server, keys: &[Bytes]) -> Option<u16> {
    srv.cluster.as_ref()?;
    keys.first().map(|k| crate::keyspace::slot::key_slot(k))
}

/// Used memory is over maxmemory (the command's dispatch has already
/// evicted what it could; evicting here could deadlock inside EXEC).
fn over_maxmemory(srv: &Server) -> bool {
    let max = srv.config.hot.maxmemory.load(Ordering::Relaxed);
    max > 0 && crate::evict::used_memory() > max as u64
}

/// What `redis.call` needs while the script runs.
struct CallState<'a> {
    srv: &'a Arc<Server>,
    sess: &'a mut Session,
    read_only: bool,
    allow_oom: bool,
    oom_at_start: bool,
    /// The script has run a write command (later writes are not refused:
    /// the script cannot be stopped half-way).
    wrote: bool,
    slot: Option<u16>,
    allow_cross_slot: bool,
}

impl CallState<'_> {
    /// redis.call / redis.pcall: the reply as a Lua value, and whether it
    /// is an error (redis.call raises it).
    fn call(&mut self, lua: &Lua, args: MultiValue) -> mlua::Result<(Value, bool)> {
        match self.dispatch(args) {
            Ok(reply) => {
                let failed = matches!(reply, Reply::Error(_));
                Ok((reply_to_lua(lua, &reply)?, failed))
            }
            Err(e) => Ok((single(lua, "err", e.to_string().as_bytes())?, true)),
        }
    }

    fn dispatch(&mut self, args: MultiValue) -> Result<Reply, RedisError> {
        let argv = arguments(args)?;
        let srv = self.srv;
        let cmd = dispatch::resolve(srv, &argv).map_err(|e| match e {
            RedisError::WrongArity(_) => {
                RedisError::err("Wrong number of args calling Redis command from script")
            }
            _ => RedisError::err("Unknown Redis command called from script"),
        })?;
        if cmd.has(flag::NOSCRIPT) {
            return Err(RedisError::err(
                "This Redis command is not allowed from script",
            ));
        }
        self.check_write(cmd)?;
        self.check_oom(cmd)?;
        self.check_cluster(cmd, &argv)?;
        let reply = call(srv, self.sess, cmd, &argv, true);
        if cmd.has(flag::WRITE) {
            self.wrote = true;
            srv.scripts.flags.wrote.store(true, Ordering::Relaxed);
        }
        Ok(reply)
    }

    fn check_write(&self, cmd: &Command) -> Result<(), RedisError> {
        if self.read_only && cmd.has(flag::WRITE | flag::MAY_REPLICATE) {
            return Err(RedisError::err(
                "Write commands are not allowed from read-only scripts.",
            ));
        }
        if !cmd.has(flag::WRITE) || self.wrote || self.sess.is_master {
            return Ok(());
        }
        let srv = self.srv;
        if srv.ks.is_replica() && srv.config.hot.replica_read_only.load(Ordering::Relaxed) {
            return Err(RedisError::ReadOnly);
        }
        if let Some(msg) = crate::persistence::save::disk_error(srv) {
            return Err(RedisError::raw(msg));
        }
        if srv.config.hot.min_replicas_to_write.load(Ordering::Relaxed) > 0 {
            crate::replication::wait::check_min_replicas(srv)?;
        }
        Ok(())
    }

    fn check_oom(&self, cmd: &Command) -> Result<(), RedisError> {
        let refuse = !self.allow_oom
            && !self.sess.is_master
            && !self.wrote
            && self.oom_at_start
            && cmd.has(flag::DENYOOM);
        if refuse {
            return Err(RedisError::Oom);
        }
        Ok(())
    }

    /// In a cluster, a script touches only keys this node serves, all in
    /// one slot (unless it declared allow-cross-slot-keys).
    fn check_cluster(&mut self, cmd: &Command, argv: &[Bytes]) -> Result<(), RedisError> {
        if self.srv.cluster.is_none() || self.sess.is_master {
            return Ok(());
        }
        let positions = crate::command::keys::key_positions(cmd.meta, argv);
        let keys: Vec<&[u8]> = positions.iter().map(|&i| &argv[i][..]).collect();
        if keys.is_empty() {
            return Ok(());
        }
        dispatch::route_keys(self.srv, self.sess, &keys, cmd.has(flag::WRITE)).map_err(|r| {
            RedisError::err(match r {
                Redirect::Down => "Script attempted to execute a command while the cluster is down",
                Redirect::DownReadOnly => {
                    "Script attempted to execute a write command while the cluster is down and readonly"
                }
                _ => "Script attempted to access a non local key in a cluster node",
            })
        })?;
        let slot = crate::keyspace::slot::key_slot(keys[0]);
        match self.slot {
            None => self.slot = Some(slot),
            Some(s) if s != slot && !self.allow_cross_slot => {
                return Err(RedisError::err(
                    "Script attempted to access keys that do not hash to the same slot",
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

/// redis.call's arguments as a command line: strings, and numbers as
/// Redis prints them (`%.17g`).
fn arguments(args: MultiValue) -> Result<Vec<Bytes>, RedisError> {
    if args.is_empty() {
        return Err(RedisError::err(
            "Please specify at least one argument for this redis lib call",
        ));
    }
    args.into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => Ok(Bytes::from(n.to_string())),
            Value::Number(n) => Ok(Bytes::from(crate::util::numfmt::fmt_double_reply(n))),
            _ => Err(RedisError::err(
                "Lua redis lib command arguments must be strings or integers",
            )),
        })
        .collect()
}
