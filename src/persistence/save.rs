//! SAVE, BGSAVE, save points and loading the RDB file at start-up.
//!
//! BGSAVE is copy-on-write through `fork()`, as in Redis: the parent takes
//! the keyspace gate exclusively (so no command is half-way through a
//! mutation), forks, and releases the gate at once; the child owns a frozen
//! copy of memory, writes it slot by slot and exits. Clients are blocked
//! only for the duration of the fork itself.
//!
//! Invariant this relies on: every mutation of a slot shard happens while
//! the mutator holds the gate (shared) — `KeyGuards`, active expiry and
//! the whole-keyspace commands all do. Readers that lock shards without the
//! gate (KEYS, SCAN) never mutate, so the child may read shards without
//! taking their locks: it is the only thread left in its process.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::keyspace::{Db, KeyGuards, Keyspace};
use crate::persistence::child_info;
use crate::persistence::rdb::decode;
use crate::persistence::rdb::encode::RdbWriter;
use crate::server::Server;
use crate::types::Entry;
use crate::util::clock;

/// Background save bookkeeping (INFO persistence).
#[derive(Debug, Default)]
pub struct SaveState {
    pub child_pid: AtomicI64,
    pub last_bgsave_ok: AtomicBool,
    pub last_bgsave_secs: AtomicI64,
    pub bgsave_started_ms: AtomicU64,
    pub last_bgsave_try_ms: AtomicU64,
    pub dirty_at_start: AtomicU64,
    pub rdb_saves: AtomicU64,
    /// The child was stopped on purpose (FLUSHALL): not a failed save.
    pub killed: AtomicBool,
    /// rdb_last_load_keys_loaded / rdb_last_load_keys_expired.
    pub last_load_loaded: AtomicU64,
    pub last_load_expired: AtomicU64,
    /// The load in progress (INFO loading_*).
    pub load: super::progress::LoadProgress,
}

impl SaveState {
    pub fn new() -> SaveState {
        SaveState {
            child_pid: AtomicI64::new(-1),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            ..Default::default()
        }
    }

    pub fn in_progress(&self) -> bool {
        self.child_pid.load(Ordering::Relaxed) > 0
    }
}

/// Path of the RDB file (`dir` is the process working directory).
pub fn rdb_path(srv: &Server) -> PathBuf {
    PathBuf::from(srv.config.get("dbfilename"))
}

/// How a snapshot is written.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotOpts {
    pub compress: bool,
    pub checksum: bool,
    /// Lock each shard (false only in a forked child).
    pub locked: bool,
    /// An AOF base file (aux field `aof-base` 1).
    pub aof_base: bool,
    /// rdb-key-save-delay: microseconds to sleep per key (tests use it to
    /// keep a child running).
    pub key_delay_us: u64,
}

impl SnapshotOpts {
    pub fn from_config(srv: &Server, locked: bool, aof_base: bool) -> SnapshotOpts {
        SnapshotOpts {
            compress: srv.config.get_bool("rdbcompression"),
            checksum: srv.config.get_bool("rdbchecksum"),
            locked,
            aof_base,
            key_delay_us: srv.config.get_i64("rdb-key-save-delay").max(0) as u64,
        }
    }
}

/// Write every database to `path` via a temp file + fsync + rename.
fn write_snapshot(
    dbs: &[Arc<Db>],
    path: &std::path::Path,
    compress: bool,
    checksum: bool,
    locked: bool,
) -> std::io::Result<()> {
    let opts = SnapshotOpts {
        compress,
        checksum,
        locked,
        aof_base: false,
        key_delay_us: 0,
    };
    write_snapshot_with(dbs, path, opts)
}

/// `write_snapshot` with every option.
pub fn write_snapshot_with(
    dbs: &[Arc<Db>],
    path: &std::path::Path,
    opts: SnapshotOpts,
) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!("temp-{}.rdb", std::process::id()));
    let file = std::fs::File::create(&tmp)?;
    let out = write_rdb(dbs, std::io::BufWriter::with_capacity(1 << 16, file), opts)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Encode every database as an RDB stream into `out` (a file, or the pipe
/// of a diskless replication transfer). Returns the flushed writer.
fn write_rdb<W: std::io::Write>(dbs: &[Arc<Db>], out: W, opts: SnapshotOpts) -> std::io::Result<W> {
    let SnapshotOpts {
        compress,
        checksum,
        locked,
        aof_base,
        key_delay_us,
    } = opts;
    let mut w = RdbWriter::new(out, compress, checksum);
    w.header()?;
    w.aux("redis-ver", crate::REDIS_VERSION)?;
    w.aux("redis-bits", "64")?;
    w.aux("ctime", &(clock::now_ms() / 1000).to_string())?;
    w.aux("used-mem", "0")?;
    w.aux("aof-base", if aof_base { "1" } else { "0" })?;
    for db in dbs {
        if db.is_empty() {
            continue;
        }
        w.select_db(db.index(), db.len(), db.volatile_len())?;
        let mut res = Ok(());
        let mut visit = |shard: &crate::keyspace::SlotShard| {
            for (k, e) in shard.iter() {
                if res.is_ok() {
                    res = w.key(k, &e.value, e.expire_at);
                }
                child_info::key_written();
                if key_delay_us > 0 {
                    std::thread::sleep(std::time::Duration::from_micros(key_delay_us));
                }
            }
        };
        if locked {
            db.for_each_shard(|_, s| visit(s));
        } else {
            db.for_each_shard_unlocked_in_child(|s| visit(s));
        }
        res?;
    }
    let mut out = w.finish()?;
    std::io::Write::flush(&mut out)?;
    Ok(out)
}

/// Keys a snapshot of `dbs` is about to write (INFO current_save_keys_total).
pub fn keys_total(dbs: &[Arc<Db>]) -> u64 {
    dbs.iter().map(|d| d.len()).sum()
}

pub fn all_dbs(ks: &Keyspace) -> Vec<Arc<Db>> {
    (0..ks.db_count()).map(|i| ks.db(i)).collect()
}

/// SAVE: synchronous snapshot. `gate_held`: caller already holds the gate.
pub fn save(srv: &Server, gate_held: bool) -> Result<(), String> {
    let _gate = if gate_held {
        None
    } else {
        Some(srv.ks.gate.write())
    };
    let start = Instant::now();
    let dirty = srv.stats.dirty.load(Ordering::Relaxed);
    let compress = srv.config.get_bool("rdbcompression");
    let checksum = srv.config.get_bool("rdbchecksum");
    match write_snapshot(&all_dbs(&srv.ks), &rdb_path(srv), compress, checksum, true) {
        Ok(()) => {
            srv.stats.dirty.fetch_sub(
                dirty.min(srv.stats.dirty.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
            srv.lastsave
                .store(clock::now_ms() / 1000, Ordering::Relaxed);
            srv.persist.rdb_saves.fetch_add(1, Ordering::Relaxed);
            tracing::info!("DB saved on disk ({} ms)", start.elapsed().as_millis());
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Failed saving the DB: {e}");
            Err(e.to_string())
        }
    }
}

/// Fork a child that writes a snapshot to `path`; `at_fork` runs while the
/// gate is held, i.e. at the exact point in the write stream that the
/// snapshot captures (replication registers its stream consumer there).
pub fn fork_snapshot(
    srv: &Server,
    path: PathBuf,
    gate_held: bool,
    at_fork: impl FnOnce(),
) -> Result<i32, String> {
    fork_snapshot_with(srv, path, gate_held, false, at_fork)
}

/// `fork_snapshot`; `aof_base` marks the file as an AOF base.
pub fn fork_snapshot_with(
    srv: &Server,
    path: PathBuf,
    gate_held: bool,
    aof_base: bool,
    at_fork: impl FnOnce(),
) -> Result<i32, String> {
    let dbs = all_dbs(&srv.ks);
    let opts = SnapshotOpts::from_config(srv, false, aof_base);
    let _gate = if gate_held {
        None
    } else {
        Some(srv.ks.gate.write())
    };
    at_fork();
    let kind = if aof_base {
        child_info::Kind::Aof
    } else {
        child_info::Kind::Rdb
    };
    child_info::fork(kind, keys_total(&dbs), move || {
        match write_snapshot_with(&dbs, &path, opts) {
            Ok(()) => 0,
            Err(_) => 1,
        }
    })
    .map_err(|e| format!("Can't save in background: fork: {e}"))
}

/// Like `fork_snapshot`, but the child streams the RDB into `out` (the
/// write end of a pipe) for a diskless full sync. The parent's copy of
/// `out` is closed on return so the reader sees EOF when the child exits.
pub fn fork_snapshot_stream(
    srv: &Server,
    out: std::io::PipeWriter,
    at_fork: impl FnOnce(),
) -> Result<i32, String> {
    let dbs = all_dbs(&srv.ks);
    let opts = SnapshotOpts::from_config(srv, false, false);
    let _gate = srv.ks.gate.write();
    at_fork();
    child_info::fork(child_info::Kind::Rdb, keys_total(&dbs), move || {
        let w = std::io::BufWriter::with_capacity(1 << 16, out);
        match write_rdb(&dbs, w, opts) {
            Ok(_) => 0,
            Err(_) => 1,
        }
    })
    .map_err(|e| format!("Can't save in background: fork: {e}"))
}

/// BGSAVE: fork and write the snapshot in the child.
pub fn bgsave(srv: &Arc<Server>, gate_held: bool) -> Result<(), String> {
    if srv.persist.in_progress() {
        return Err("Background save already in progress".into());
    }
    srv.persist
        .dirty_at_start
        .store(srv.stats.dirty.load(Ordering::Relaxed), Ordering::Relaxed);
    srv.persist
        .last_bgsave_try_ms
        .store(clock::now_ms(), Ordering::Relaxed);
    let pid = fork_snapshot(srv, rdb_path(srv), gate_held, || {})?;
    srv.persist
        .child_pid
        .store(i64::from(pid), Ordering::Relaxed);
    srv.persist
        .bgsave_started_ms
        .store(clock::now_ms(), Ordering::Relaxed);
    tracing::info!("Background saving started by pid {pid}");
    let srv2 = srv.clone();
    std::thread::spawn(move || {
        let ok = crate::util::fork::wait_child(pid);
        finish_bgsave(&srv2, ok);
    });
    Ok(())
}

fn finish_bgsave(srv: &Server, ok: bool) {
    let p = &srv.persist;
    let started = p.bgsave_started_ms.load(Ordering::Relaxed);
    p.last_bgsave_secs.store(
        (clock::now_ms().saturating_sub(started) / 1000) as i64,
        Ordering::Relaxed,
    );
    let killed = p.killed.swap(false, Ordering::Relaxed);
    if !killed {
        p.last_bgsave_ok.store(ok, Ordering::Relaxed);
    }
    if ok && !killed {
        let before = p.dirty_at_start.load(Ordering::Relaxed);
        let now = srv.stats.dirty.load(Ordering::Relaxed);
        srv.stats
            .dirty
            .store(now.saturating_sub(before), Ordering::Relaxed);
        srv.lastsave
            .store(clock::now_ms() / 1000, Ordering::Relaxed);
        p.rdb_saves.fetch_add(1, Ordering::Relaxed);
        tracing::info!("Background saving terminated with success");
    } else {
        tracing::warn!("Background saving error");
    }
    p.child_pid.store(-1, Ordering::Relaxed);
}

/// Stop a running BGSAVE child (FLUSHALL), as Redis's killRDBChild.
pub fn kill_child(srv: &Server) {
    let pid = srv.persist.child_pid.load(Ordering::Relaxed);
    if pid > 0 {
        srv.persist.killed.store(true, Ordering::Relaxed);
        crate::util::fork::kill_child(pid as i32);
    }
}

/// Why writes are refused after a persistence failure (MISCONF), as
/// Redis's writeCommandsDeniedByDiskError.
pub fn disk_error(srv: &Server) -> Option<String> {
    // Hot path (every write): atomics first, config only after a failure.
    if !srv.persist.last_bgsave_ok.load(Ordering::Relaxed)
        && srv.config.get_bool("stop-writes-on-bgsave-error")
        && !srv.config.get("save").trim().is_empty()
    {
        return Some("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.".into());
    }
    if srv.aof.write_failed() {
        return Some("MISCONF Errors writing to the AOF file: Input/output error".into());
    }
    None
}

/// Save points: start a BGSAVE when one of `save <secs> <changes>` is due.
pub fn cron(srv: &Arc<Server>) {
    if srv.persist.in_progress() {
        return;
    }
    let points = srv.config.get("save");
    let nums: Vec<u64> = points
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let dirty = srv.stats.dirty.load(Ordering::Relaxed);
    let now = clock::now_ms();
    let since_save = now / 1000 - srv.lastsave.load(Ordering::Relaxed).min(now / 1000);
    let last_try = srv.persist.last_bgsave_try_ms.load(Ordering::Relaxed);
    // After a failure Redis waits 5 s before trying again.
    let retry_ok =
        srv.persist.last_bgsave_ok.load(Ordering::Relaxed) || now.saturating_sub(last_try) > 5000;
    for pair in nums.chunks(2) {
        if let [secs, changes] = pair {
            if dirty >= *changes && since_save >= *secs && retry_ok {
                tracing::info!("{changes} changes in {secs} seconds. Saving...");
                if let Err(e) = bgsave(srv, false) {
                    tracing::warn!("{e}");
                }
                return;
            }
        }
    }
}

/// Load the RDB file (if any) into the keyspace. Expired keys are skipped.
pub fn load_file(srv: &Server, path: &std::path::Path, gate_held: bool) -> Result<u64, String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    srv.persist.load.begin(data.len() as u64);
    load_bytes(srv, &data, gate_held)
        .map(|(n, _)| n)
        .map_err(|e| {
            format!("Short read or OOM loading DB. Unrecoverable error, aborting now. ({e})")
        })
}

/// Load an RDB image (a dump.rdb or an AOF base/preamble) into the
/// keyspace; returns the keys loaded and the offset just past the RDB.
pub fn load_bytes(
    srv: &Server,
    data: &[u8],
    gate_held: bool,
) -> Result<(u64, usize), crate::persistence::rdb::RdbError> {
    let now = clock::now_ms();
    let ks = &srv.ks;
    let mut n = 0u64;
    let mut expired = 0u64;
    let limits = crate::persistence::rdb::Limits::from_config(&srv.config);
    // Redis's test hook: slow loading down to observe it (microseconds).
    let delay = srv.config.get_i64("key-load-delay").max(0) as u64;
    let meta = decode::load_with(data, limits, |item| {
        srv.persist.load.at(item.end);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay));
        }
        if item.db >= ks.db_count() {
            return Err(crate::persistence::rdb::RdbError::BadDb(item.db as u64));
        }
        // An AOF's RDB part keeps expired keys: later commands may touch them.
        if item.expire_at != 0 && item.expire_at < now && !ks.is_replica() && !ks.is_loading() {
            expired += 1;
            return Ok(());
        }
        let db = ks.db(item.db);
        let mut g = KeyGuards::lock(ks, &db, now, &[&item.key], gate_held);
        let mut e = Entry::new(item.value);
        e.expire_at = item.expire_at;
        g.insert(&item.key, e);
        n += 1;
        Ok(())
    })?;
    srv.persist.last_load_loaded.store(n, Ordering::Relaxed);
    srv.persist
        .last_load_expired
        .store(expired, Ordering::Relaxed);
    Ok((n, meta.end))
}

/// Start-up: load `dbfilename` from `dir`.
pub fn load_at_startup(srv: &Server) -> Result<(), String> {
    let path = rdb_path(srv);
    let start = Instant::now();
    let n = load_file(srv, &path, false)?;
    if n > 0 || path.exists() {
        tracing::info!(
            "DB loaded from disk: {:.3} seconds",
            start.elapsed().as_secs_f64()
        );
    }
    // Loading is not a change that needs saving.
    srv.stats.dirty.store(0, Ordering::Relaxed);
    Ok(())
}
