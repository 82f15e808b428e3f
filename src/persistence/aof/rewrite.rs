//! AOF rewrite (BGREWRITEAOF, automatic rewrites, `appendonly yes` at
//! runtime) without blocking clients, in Redis 7.0's multi-part way:
//!
//! 1. With the keyspace gate held exclusively (no command half-way), the
//!    writer flushes to the current incr file and continues in a new incr
//!    file, and the manifest listing it is persisted; then we fork.
//! 2. The child writes the dataset frozen at the fork into a temp file
//!    (an RDB when `aof-use-rdb-preamble yes`, else commands).
//! 3. When it succeeds, the temp file is renamed to the new base and the
//!    manifest (new base + the incr files opened at step 1) replaces the
//!    old one atomically; the old base and incr files become history and
//!    are deleted.
//!
//! A crash at any point leaves a manifest whose files are all complete:
//! before step 3 the old base + every incr file; after it the new ones.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::manifest::{self, Manifest};
use super::writer::{encode_cmd, encode_select, Target};
use super::{Aof, Status};
use crate::keyspace::{Db, SlotShard};
use crate::persistence::child_info;
use crate::persistence::save::{self, SnapshotOpts};
use crate::server::Server;
use crate::types::Value;
use crate::util::clock;

/// Items per RPUSH/SADD/ZADD/HMSET, as Redis (AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// The commands that rebuild one key (rewriteAppendOnlyFileRio).
pub fn key_commands(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at: u64) {
    let k = Bytes::copy_from_slice(key);
    let mut batched = |cmd: &'static str, items: Vec<Bytes>, per: usize| {
        for chunk in items.chunks(ITEMS_PER_CMD * per) {
            let mut argv = vec![b(cmd), k.clone()];
            argv.extend_from_slice(chunk);
            encode_cmd(out, &argv);
        }
    };
    match value {
        Value::Str(s) => batched("SET", vec![s.to_bytes()], 1),
        Value::List(l) => {
            let items = l.items.iter().map(|i| Bytes::copy_from_slice(i)).collect();
            batched("RPUSH", items, 1);
        }
        Value::Set(s) => {
            batched("SADD", s.members(), 1);
        }
        Value::ZSet(z) => {
            let mut items = Vec::with_capacity(z.len() * 2);
            for (m, score) in z.iter() {
                items.push(Bytes::from(crate::util::numfmt::fmt_g17(score)));
                items.push(Bytes::copy_from_slice(m));
            }
            batched("ZADD", items, 2);
        }
        Value::Hash(h) => {
            let mut items = Vec::with_capacity(h.len() * 2);
            for (f, v) in h.iter() {
                items.push(Bytes::copy_from_slice(f));
                items.push(Bytes::copy_from_slice(v));
            }
            batched("HMSET", items, 2);
        }
    }
    if expire_at != 0 {
        encode_cmd(
            out,
            &[b("PEXPIREAT"), k, Bytes::from(expire_at.to_string())],
        );
    }
}

/// Write the dataset as commands (aof-use-rdb-preamble no).
pub fn write_aof_base(
    dbs: &[Arc<Db>],
    path: &Path,
    locked: bool,
    key_delay_us: u64,
    timestamps: bool,
) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!("temp-{}.aof", std::process::id()));
    let mut f = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
    let mut buf = Vec::with_capacity(1 << 16);
    if timestamps {
        buf.extend_from_slice(format!("#TS:{}\r\n", clock::now_ms() / 1000).as_bytes());
    }
    let mut res = Ok(());
    for db in dbs {
        if db.is_empty() {
            continue;
        }
        encode_select(&mut buf, db.index());
        let mut visit = |shard: &SlotShard| {
            for (k, e) in shard.iter() {
                key_commands(&mut buf, k, &e.value, e.expire_at);
                child_info::key_written();
                if key_delay_us > 0 {
                    std::thread::sleep(std::time::Duration::from_micros(key_delay_us));
                }
                if buf.len() > 1 << 16 && res.is_ok() {
                    res = f.write_all(&buf);
                    buf.clear();
                }
            }
        };
        if locked {
            db.for_each_shard(|_, s| visit(s));
        } else {
            db.for_each_shard_unlocked_in_child(|s| visit(s));
        }
    }
    res?;
    f.write_all(&buf)?;
    let file = f.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Write a base file synchronously (server start with no AOF yet).
pub fn write_base_sync(srv: &Server, path: &Path) -> std::io::Result<()> {
    let dbs = save::all_dbs(&srv.ks);
    if srv.config.get_bool("aof-use-rdb-preamble") {
        save::write_snapshot_with(&dbs, path, SnapshotOpts::from_config(srv, true, true))
    } else {
        write_aof_base(
            &dbs,
            path,
            true,
            0,
            srv.config.get_bool("aof-timestamp-enabled"),
        )
    }
}

fn temp_base_path(dir: &Path) -> PathBuf {
    dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()))
}

/// Start a background rewrite. `gate_held`: the caller holds the gate.
pub fn start(srv: &Arc<Server>, gate_held: bool) -> Result<(), String> {
    let aof = &srv.aof;
    let _gate = (!gate_held).then(|| srv.ks.gate.write());
    if aof.child_running() || srv.persist.in_progress() {
        return Err("Background append only file rewriting already in progress".into());
    }
    let dir = super::dir(srv);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    let fname = super::filename(srv);
    let mut st = aof.state.lock();
    let keep_from = match st.status {
        Status::On => {
            let Some(w) = aof.writer() else {
                return Err("AOF writer missing".into());
            };
            let mut m = st.manifest.clone();
            let name = m.new_incr(&fname);
            let file = open_append(&dir.join(&name), true)?;
            manifest::persist(&dir, &manifest_name(&fname), &m.format())
                .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
            w.switch(Target {
                file,
                name: name.clone(),
            })
            .map_err(|e| format!("Fail to fsync the AOF file: {e}"))?;
            tracing::info!("Creating AOF incr file {name} on background rewrite");
            st.manifest = m;
            st.manifest.incr_seq
        }
        // The snapshot covers everything written so far: restart the temp
        // incr file at the fork point (the old inode is unlinked first so
        // the final flush into it cannot land in the new file).
        Status::WaitRewrite => {
            if let Some(w) = aof.writer() {
                let path = dir.join(super::temp_incr_name(&fname));
                let _ = std::fs::remove_file(&path);
                let file = open_append(&path, true)?;
                w.switch(Target {
                    file,
                    name: super::temp_incr_name(&fname),
                })
                .map_err(|e| format!("Fail to fsync the AOF file: {e}"))?;
                w.set_current_size(0);
            }
            u64::MAX
        }
        Status::Off => u64::MAX,
    };
    let rdb = srv.config.get_bool("aof-use-rdb-preamble");
    let tmp = temp_base_path(&dir);
    let pid = if rdb {
        save::fork_snapshot_with(srv, tmp.clone(), true, true, || {})?
    } else {
        let dbs = save::all_dbs(&srv.ks);
        let path = tmp.clone();
        let delay = srv.config.get_i64("rdb-key-save-delay").max(0) as u64;
        let ts = srv.config.get_bool("aof-timestamp-enabled");
        let total = save::keys_total(&dbs);
        child_info::fork(child_info::Kind::Aof, total, move || {
            match write_aof_base(&dbs, &path, false, delay, ts) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
        .map_err(|e| format!("Can't rewrite append only file in background: fork: {e}"))?
    };
    drop(st);
    aof.child_pid.store(i64::from(pid), Ordering::Relaxed);
    aof.scheduled.store(false, Ordering::Relaxed);
    aof.rewrite_started_ms
        .store(clock::now_ms(), Ordering::Relaxed);
    tracing::info!("Background append only file rewriting started by pid {pid}");
    let srv2 = srv.clone();
    std::thread::spawn(move || {
        let ok = crate::util::fork::wait_child(pid);
        done(&srv2, pid, ok, keep_from, rdb, &tmp);
    });
    Ok(())
}

pub fn manifest_name(fname: &str) -> String {
    format!("{fname}.manifest")
}

pub fn open_append(path: &Path, truncate: bool) -> Result<std::fs::File, String> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(path)
        .map_err(|e| format!("Can't open the append-only file {}: {e}", path.display()))
}

/// The child ended: install the new base (or record the failure).
fn done(srv: &Arc<Server>, pid: i32, ok: bool, keep_from: u64, rdb: bool, tmp: &Path) {
    let aof = &srv.aof;
    let secs =
        clock::now_ms().saturating_sub(aof.rewrite_started_ms.load(Ordering::Relaxed)) / 1000;
    aof.last_rewrite_secs.store(secs as i64, Ordering::Relaxed);
    let killed = aof.killed.swap(false, Ordering::Relaxed);
    let result = if ok && !killed {
        install(srv, keep_from, rdb, tmp)
    } else {
        Err(if killed {
            "killed".into()
        } else {
            "child failed".into()
        })
    };
    let _ = std::fs::remove_file(tmp);
    // A killed child leaves its own temp file behind.
    if let Some(d) = tmp.parent() {
        let _ = std::fs::remove_file(d.join(format!("temp-{pid}.rdb")));
        let _ = std::fs::remove_file(d.join(format!("temp-{pid}.aof")));
    }
    match result {
        Ok(()) => {
            aof.last_ok.store(true, Ordering::Relaxed);
            aof.rewrites.fetch_add(1, Ordering::Relaxed);
            aof.consecutive_failures.store(0, Ordering::Relaxed);
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            if !killed {
                aof.last_ok.store(false, Ordering::Relaxed);
                aof.consecutive_failures.fetch_add(1, Ordering::Relaxed);
                if aof.state.lock().status == Status::WaitRewrite {
                    // The next attempt restarts the temp incr file from its
                    // own snapshot; this one is useless now.
                    let name = super::temp_incr_name(&super::filename(srv));
                    tracing::info!("Removing the temp incr aof file {name} in the background");
                    let _ = std::fs::remove_file(super::dir(srv).join(&name));
                    aof.scheduled.store(true, Ordering::Relaxed);
                }
            }
            tracing::warn!("Background AOF rewrite terminated with error: {e}");
        }
    }
    aof.child_pid.store(-1, Ordering::Relaxed);
}

fn install(srv: &Arc<Server>, keep_from: u64, rdb: bool, tmp: &Path) -> Result<(), String> {
    let aof = &srv.aof;
    let dir = super::dir(srv);
    let fname = super::filename(srv);
    let mut st = aof.state.lock();
    let mut m: Manifest = st.manifest.clone();
    let base = m.new_base(&fname, rdb, keep_from);
    let mut incr_rename = None;
    if st.status == Status::WaitRewrite {
        let name = m.new_incr(&fname);
        incr_rename = Some((dir.join(super::temp_incr_name(&fname)), name));
    }
    std::fs::rename(tmp, dir.join(&base)).map_err(|e| e.to_string())?;
    if let Some((from, to)) = &incr_rename {
        std::fs::rename(from, dir.join(to)).map_err(|e| e.to_string())?;
    }
    manifest::persist(&dir, &manifest_name(&fname), &m.format()).map_err(|e| e.to_string())?;
    if let (Some((_, to)), Some(w)) = (&incr_rename, aof.writer()) {
        w.rename_target(to.clone());
    }
    if st.status == Status::WaitRewrite {
        st.status = Status::On;
    }
    let base_size = std::fs::metadata(dir.join(&base))
        .map(|m| m.len())
        .unwrap_or(0);
    aof.base_size.store(base_size, Ordering::Relaxed);
    super::gc_history(srv, &mut m);
    if let Some(w) = aof.writer() {
        let incr: u64 = m
            .incrs
            .iter()
            .map(|i| {
                std::fs::metadata(dir.join(&i.name))
                    .map(|x| x.len())
                    .unwrap_or(0)
            })
            .sum();
        w.set_current_size(base_size + incr);
    }
    st.manifest = m;
    Ok(())
}

impl Aof {
    /// Kill a running rewrite child (appendonly no, shutdown).
    pub fn kill_child(&self) {
        let pid = self.child_pid.load(Ordering::Relaxed);
        if pid > 0 {
            tracing::info!("Killing running AOF rewrite child: {pid}");
            self.killed.store(true, Ordering::Relaxed);
            crate::util::fork::kill_child(pid as i32);
        }
    }
}
