//! The append-only file in Redis 7.0's multi-part layout: a directory
//! (`appenddirname`) holding a manifest, one base file (RDB or commands)
//! and incr files of commands. `manifest` parses and prints the manifest,
//! `writer` appends the write stream and fsyncs it, `loader` replays files
//! at start-up, `rewrite` compacts them in a forked child.
//!
//! States as in Redis: Off; On; WaitRewrite (turned on at runtime: writes
//! accumulate in a temp incr file until the first rewrite provides a base).

pub mod loader;
pub mod manifest;
pub mod rewrite;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use parking_lot::Mutex;

use manifest::Manifest;
use writer::{AofWriter, Fsync, Target};

use crate::server::Server;
use crate::util::clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Off,
    On,
    WaitRewrite,
}

pub struct State {
    pub manifest: Manifest,
    pub status: Status,
}

/// AOF state shared by the server (INFO persistence reads it).
pub struct Aof {
    writer: ArcSwapOption<AofWriter>,
    pub state: Mutex<State>,
    pub child_pid: AtomicI64,
    pub killed: AtomicBool,
    pub scheduled: AtomicBool,
    pub rewrite_started_ms: AtomicU64,
    pub last_rewrite_secs: AtomicI64,
    pub last_ok: AtomicBool,
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    /// Size of the AOF after the last rewrite (aof_base_size).
    pub base_size: AtomicU64,
    /// Stream offset where the next writer continues.
    next_offset: AtomicU64,
    /// Rewrite limit: (delay minutes, next allowed unix time).
    limit: Mutex<(u64, u64)>,
}

impl Default for Aof {
    fn default() -> Aof {
        Aof {
            writer: ArcSwapOption::empty(),
            state: Mutex::new(State {
                manifest: Manifest::default(),
                status: Status::Off,
            }),
            child_pid: AtomicI64::new(-1),
            killed: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            rewrite_started_ms: AtomicU64::new(0),
            last_rewrite_secs: AtomicI64::new(-1),
            last_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            next_offset: AtomicU64::new(0),
            limit: Mutex::new((0, 0)),
        }
    }
}

impl Aof {
    pub fn writer(&self) -> Option<Arc<AofWriter>> {
        self.writer.load_full()
    }

    /// After 3 consecutive failures, automatic and scheduled rewrites wait
    /// 1, 2, 4 ... 60 minutes between attempts (Redis's aofRewriteLimited).
    pub fn rewrite_limited(&self) -> bool {
        let mut l = self.limit.lock();
        if self.consecutive_failures.load(Ordering::Relaxed) < 3 {
            *l = (0, 0);
            return false;
        }
        let now = clock::now_ms() / 1000;
        if l.1 != 0 {
            if now < l.1 {
                return true;
            }
            l.1 = 0;
            return false;
        }
        l.0 = if l.0 == 0 { 1 } else { (l.0 * 2).min(60) };
        l.1 = now + l.0 * 60;
        tracing::warn!(
            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
            l.0
        );
        true
    }

    /// Stream offset of everything fed to the AOF so far (0 when off).
    pub fn appended_now(&self) -> u64 {
        self.writer.load().as_ref().map_or(0, |w| w.appended())
    }

    /// The last AOF write failed (MISCONF for writes until it recovers).
    pub fn write_failed(&self) -> bool {
        self.writer
            .load()
            .as_ref()
            .is_some_and(|w| !w.write_ok.load(Ordering::Relaxed))
    }

    pub fn child_running(&self) -> bool {
        self.child_pid.load(Ordering::Relaxed) > 0
    }

    pub fn status(&self) -> Status {
        self.state.lock().status
    }

    /// Hold a reply until the write at stream offset `off` is durable
    /// (fsync'd under appendfsync always, written otherwise).
    pub async fn wait_synced(&self, off: u64) {
        if let Some(w) = self.writer() {
            w.write_inline();
            w.wait_durable(off).await;
        }
    }
}

pub fn dir(srv: &Server) -> PathBuf {
    PathBuf::from(srv.config.get("appenddirname"))
}

pub fn filename(srv: &Server) -> String {
    srv.config.get("appendfilename")
}

pub fn temp_incr_name(fname: &str) -> String {
    format!("temp-{fname}.incr")
}

fn read_manifest(dir: &Path, fname: &str) -> Result<Manifest, String> {
    let path = dir.join(rewrite::manifest_name(fname));
    match std::fs::read(&path) {
        Ok(b) => Manifest::parse(&String::from_utf8_lossy(&b))
            .map_err(|e| format!("*** FATAL AOF MANIFEST FILE ERROR *** {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(format!(
            "Fatal error: can't open the AOF manifest file {} for reading: {e}",
            path.display()
        )),
    }
}

/// An old single-file `appendonly.aof` in `dir` moves into the AOF
/// directory as its base (Redis 7.0 aofUpgradePrepare).
fn upgrade_if_needed(dir: &Path, fname: &str, m: &mut Manifest) -> Result<(), String> {
    if !Path::new(fname).exists() {
        return Ok(());
    }
    let only_old_base = m.incrs.is_empty()
        && m.base.as_ref().is_some_and(|b| b.name == fname)
        && !dir.join(fname).exists();
    if dir.exists() && !(m.base.is_none() && m.incrs.is_empty()) && !only_old_base {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    *m = Manifest::default();
    m.base_seq = 1;
    m.base = Some(manifest::AofInfo {
        name: fname.to_string(),
        seq: 1,
        kind: manifest::Kind::Base,
    });
    manifest::persist(dir, &rewrite::manifest_name(fname), &m.format())
        .map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
    std::fs::rename(fname, dir.join(fname)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {fname} into dir {}: {e}",
            dir.display()
        )
    })?;
    tracing::info!(
        "Successfully migrated an old-style AOF file ({fname}) into the AOF directory ({}).",
        dir.display()
    );
    Ok(())
}

/// Delete history files and drop them from the manifest (unless
/// aof-disable-auto-gc), Redis's aofDelHistoryFiles.
pub fn gc_history(srv: &Server, m: &mut Manifest) {
    if m.history.is_empty() || srv.config.get_bool("aof-disable-auto-gc") {
        return;
    }
    let dir = dir(srv);
    let fname = filename(srv);
    let history = std::mem::take(&mut m.history);
    if let Err(e) = manifest::persist(&dir, &rewrite::manifest_name(&fname), &m.format()) {
        tracing::warn!("Can't persist the AOF manifest: {e}");
        m.history = history;
        return;
    }
    for h in history {
        tracing::info!("Removing the history file {} in the background", h.name);
        let _ = std::fs::remove_file(dir.join(&h.name));
    }
}

/// CONFIG SET aof-disable-auto-gc no: collect the history now.
pub fn gc_now(srv: &Server) {
    let mut st = srv.aof.state.lock();
    gc_history(srv, &mut st.manifest);
}

/// Load every file the manifest lists (the caller holds the gate
/// exclusively and has emptied the keyspace).
pub fn load_files(srv: &Arc<Server>) -> Result<(), String> {
    srv.ks.set_loading(true);
    let res = load_files_inner(srv);
    srv.ks.set_loading(false);
    res
}

fn load_files_inner(srv: &Arc<Server>) -> Result<(), String> {
    let dir = dir(srv);
    let fname = filename(srv);
    let mut m = read_manifest(&dir, &fname)?;
    upgrade_if_needed(&dir, &fname, &mut m)?;
    let files: Vec<_> = m.load_order().cloned().collect();
    for f in &files {
        if !dir.join(&f.name).exists() {
            return Err(format!(
                "The append log file {} doesn't exist: No such file or directory",
                f.name
            ));
        }
    }
    let truncate_ok = srv.config.get_bool("aof-load-truncated");
    srv.persist.load.begin(sizes(&dir, &m));
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let path = dir.join(&f.name);
        let data = std::fs::read(&path).map_err(|e| {
            format!(
                "Fatal error: can't open the append log file {} for reading: {e}",
                f.name
            )
        })?;
        if data.is_empty() {
            continue;
        }
        let start = std::time::Instant::now();
        let len = data.len() as u64;
        let loaded = loader::replay(srv, Bytes::from(data), &f.name, last && truncate_ok)?;
        srv.persist.load.file_done(len);
        match loaded {
            loader::Loaded::Truncated(at) => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|file| file.set_len(at as u64))
                    .map_err(|e| format!("Error truncating the AOF file {}: {e}", f.name))?;
                tracing::warn!(
                    "AOF {} loaded anyway because aof-load-truncated is enabled",
                    f.name
                );
            }
            loader::Loaded::Ok => {}
        }
        let what = if Some(&f.name) == m.base.as_ref().map(|b| &b.name) {
            "base"
        } else {
            "incr"
        };
        tracing::info!(
            "DB loaded from {what} file {}: {:.3} seconds",
            f.name,
            start.elapsed().as_secs_f64()
        );
    }
    let base_size = m
        .base
        .as_ref()
        .and_then(|b| std::fs::metadata(dir.join(&b.name)).ok())
        .map_or(0, |x| x.len());
    srv.aof.base_size.store(base_size, Ordering::Relaxed);
    srv.aof.state.lock().manifest = m;
    Ok(())
}

/// Start-up with `appendonly yes`: load the AOF, then open it for writing.
pub fn load_at_startup(srv: &Arc<Server>) -> Result<(), String> {
    {
        let _gate = srv.ks.gate.write();
        load_files(srv)?;
    }
    srv.stats.dirty.store(0, Ordering::Relaxed);
    open_on_start(srv)
}

fn sizes(dir: &Path, m: &Manifest) -> u64 {
    m.load_order()
        .map(|f| std::fs::metadata(dir.join(&f.name)).map_or(0, |x| x.len()))
        .sum()
}

/// Create a base when there is none, open the last incr file (or a new
/// one), persist the manifest and attach the writer to the write stream.
fn open_on_start(srv: &Arc<Server>) -> Result<(), String> {
    let dir = dir(srv);
    let fname = filename(srv);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    let mut st = srv.aof.state.lock();
    let m = &mut st.manifest;
    if m.base.is_none() && m.incrs.is_empty() {
        let rdb = srv.config.get_bool("aof-use-rdb-preamble");
        let name = m.new_base(&fname, rdb, u64::MAX);
        rewrite::write_base_sync(srv, &dir.join(&name)).map_err(|e| e.to_string())?;
        tracing::info!("Creating AOF base file {name} on server start");
        srv.aof.base_size.store(
            std::fs::metadata(dir.join(&name)).map_or(0, |x| x.len()),
            Ordering::Relaxed,
        );
    }
    let reopen = !m.incrs.is_empty();
    let name = match m.incrs.last() {
        Some(i) => i.name.clone(),
        None => m.new_incr(&fname),
    };
    let file = rewrite::open_append(&dir.join(&name), false)?;
    manifest::persist(&dir, &rewrite::manifest_name(&fname), &m.format())
        .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    if reopen {
        tracing::info!("Opening AOF incr file {name} on server start");
    } else {
        tracing::info!("Creating AOF incr file {name} on server start");
    }
    let size = sizes(&dir, m);
    st.status = Status::On;
    drop(st);
    attach(srv, Target { file, name }, size);
    Ok(())
}

fn attach(srv: &Arc<Server>, target: Target, size: u64) {
    let policy = Fsync::parse(&srv.config.get("appendfsync"));
    let start = srv.aof.next_offset.load(Ordering::Relaxed);
    let w = AofWriter::new(target, start, policy, size);
    w.timestamps.store(
        srv.config.get_bool("aof-timestamp-enabled"),
        Ordering::Relaxed,
    );
    w.spawn();
    srv.aof.writer.store(Some(w.clone()));
    srv.ks.propagator.add_sink(w);
}

/// CONFIG SET appendonly yes: write into a temp incr file and start the
/// rewrite that provides the base (WaitRewrite until it succeeds).
pub fn start_appendonly(srv: &Arc<Server>, gate_held: bool) -> Result<(), String> {
    let _gate = (!gate_held).then(|| srv.ks.gate.write());
    if srv.aof.status() != Status::Off {
        return Ok(());
    }
    let dir = dir(srv);
    let fname = filename(srv);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    {
        let mut st = srv.aof.state.lock();
        st.manifest = read_manifest(&dir, &fname).unwrap_or_default();
        st.status = Status::WaitRewrite;
    }
    let tmp = temp_incr_name(&fname);
    let file = rewrite::open_append(&dir.join(&tmp), true)?;
    attach(srv, Target { file, name: tmp }, 0);
    if srv.aof.child_running() {
        tracing::warn!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
        srv.aof.kill_child();
        srv.aof.scheduled.store(true, Ordering::Relaxed);
        return Ok(());
    }
    if srv.persist.in_progress() {
        tracing::warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        srv.aof.scheduled.store(true, Ordering::Relaxed);
        return Ok(());
    }
    if gate_held {
        // Inside EXEC (which holds the gate): no fork in the middle of a
        // transaction; the cron starts it, as Redis's startAppendOnly does.
        tracing::warn!("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
        srv.aof.scheduled.store(true, Ordering::Relaxed);
        return Ok(());
    }
    if let Err(e) = rewrite::start(srv, true) {
        stop_appendonly(srv);
        return Err(e);
    }
    Ok(())
}

/// CONFIG SET appendonly no (and shutdown): flush, fsync, detach.
pub fn stop_appendonly(srv: &Server) {
    if let Some(w) = srv.aof.writer.swap(None) {
        srv.aof.next_offset.store(w.end_offset(), Ordering::Relaxed);
        w.stop();
        srv.ks.propagator.prune();
    }
    srv.aof.kill_child();
    let mut st = srv.aof.state.lock();
    st.status = Status::Off;
    srv.aof.scheduled.store(false, Ordering::Relaxed);
}

/// Write and fsync everything fed so far (shutdown).
pub fn flush(srv: &Server) {
    if let Some(w) = srv.aof.writer() {
        if let Err(e) = w.flush_sync() {
            tracing::warn!("Fail to fsync the AOF file: {e}");
        }
    }
}

/// CONFIG SET appendfsync / aof-timestamp-enabled.
pub fn set_policy(srv: &Server) {
    if let Some(w) = srv.aof.writer() {
        w.set_policy(Fsync::parse(&srv.config.get("appendfsync")));
        w.timestamps.store(
            srv.config.get_bool("aof-timestamp-enabled"),
            Ordering::Relaxed,
        );
    }
}

/// BGREWRITEAOF.
pub fn bgrewriteaof(srv: &Arc<Server>, gate_held: bool) -> Result<&'static str, String> {
    if srv.aof.child_running() {
        return Err("Background append only file rewriting already in progress".into());
    }
    if srv.persist.in_progress() || gate_held {
        srv.aof.scheduled.store(true, Ordering::Relaxed);
        srv.aof.consecutive_failures.store(0, Ordering::Relaxed);
        return Ok("Background append only file rewriting scheduled");
    }
    rewrite::start(srv, false).map_err(|e| {
        tracing::warn!("{e}");
        "Can't execute an AOF background rewriting. Please check the server logs for more information.".to_string()
    })?;
    Ok("Background append only file rewriting started")
}

/// serverCron's AOF part: scheduled rewrites and automatic rewrites.
pub fn cron(srv: &Arc<Server>) {
    let aof = &srv.aof;
    if aof.child_running() || srv.persist.in_progress() {
        return;
    }
    if aof.scheduled.load(Ordering::Relaxed) && !aof.rewrite_limited() {
        if let Err(e) = rewrite::start(srv, false) {
            tracing::warn!("{e}");
        }
        return;
    }
    let Some(w) = aof.writer() else { return };
    if aof.status() != Status::On {
        return;
    }
    let perc = srv.config.get_i64("auto-aof-rewrite-percentage");
    let min = srv.config.get_i64("auto-aof-rewrite-min-size").max(0) as u64;
    let size = w.current_size.load(Ordering::Relaxed);
    if perc <= 0 || size <= min {
        return;
    }
    let base = aof.base_size.load(Ordering::Relaxed).max(1);
    let growth = (size * 100 / base) as i64 - 100;
    if growth >= perc && !aof.rewrite_limited() {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        if let Err(e) = rewrite::start(srv, false) {
            tracing::warn!("{e}");
        }
    }
}

/// DEBUG LOADAOF: flush, empty the dataset, load the AOF back (the
/// caller holds the gate exclusively). A failure exits, as in Redis.
pub fn debug_loadaof(srv: &Arc<Server>) {
    if let Some(w) = srv.aof.writer() {
        let _ = w.flush_sync();
    }
    for i in 0..srv.ks.db_count() {
        let old = srv.ks.replace_db(i);
        std::thread::spawn(move || drop(old));
    }
    srv.ks.propagator.set_muted(true);
    let res = load_files(srv);
    gc_now(srv);
    srv.ks.propagator.set_muted(false);
    if let Err(e) = res {
        tracing::warn!("{e}");
        std::process::exit(1);
    }
    srv.stats.dirty.store(0, Ordering::Relaxed);
    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
}

/// INFO persistence's AOF lines.
pub fn info(srv: &Server, out: &mut String, enabled_block: bool) {
    use std::fmt::Write as _;
    let aof = &srv.aof;
    let child = aof.child_running();
    let secs = |ms: u64| clock::now_ms().saturating_sub(ms) / 1000;
    let mut line = |k: &str, v: String| {
        let _ = write!(out, "{k}:{v}\r\n");
    };
    let w = aof.writer();
    if !enabled_block {
        line(
            "aof_enabled",
            i32::from(aof.status() != Status::Off).to_string(),
        );
        line("aof_rewrite_in_progress", i32::from(child).to_string());
        line(
            "aof_rewrite_scheduled",
            i32::from(aof.scheduled.load(Ordering::Relaxed)).to_string(),
        );
        line(
            "aof_last_rewrite_time_sec",
            aof.last_rewrite_secs.load(Ordering::Relaxed).to_string(),
        );
        let cur = if child {
            secs(aof.rewrite_started_ms.load(Ordering::Relaxed)) as i64
        } else {
            -1
        };
        line("aof_current_rewrite_time_sec", cur.to_string());
        let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
        line(
            "aof_last_bgrewrite_status",
            ok(aof.last_ok.load(Ordering::Relaxed)),
        );
        line(
            "aof_rewrites",
            aof.rewrites.load(Ordering::Relaxed).to_string(),
        );
        line(
            "aof_rewrites_consecutive_failures",
            aof.consecutive_failures.load(Ordering::Relaxed).to_string(),
        );
        let write_ok = w
            .as_ref()
            .is_none_or(|w| w.write_ok.load(Ordering::Relaxed));
        line("aof_last_write_status", ok(write_ok));
        let cow = super::child_info::CHILD.last_cow(super::child_info::Kind::Aof);
        line("aof_last_cow_size", cow.to_string());
        return;
    }
    let size = w
        .as_ref()
        .map_or(0, |w| w.current_size.load(Ordering::Relaxed));
    line("aof_current_size", size.to_string());
    line(
        "aof_base_size",
        aof.base_size.load(Ordering::Relaxed).to_string(),
    );
    line(
        "aof_pending_rewrite",
        i32::from(aof.scheduled.load(Ordering::Relaxed)).to_string(),
    );
    line(
        "aof_buffer_length",
        w.as_ref().map_or(0, |w| w.buffer_len()).to_string(),
    );
    line(
        "aof_pending_bio_fsync",
        u8::from(w.as_ref().is_some_and(|w| w.fsync_pending())).to_string(),
    );
    line(
        "aof_delayed_fsync",
        w.as_ref()
            .map_or(0, |w| w.delayed_fsync.load(Ordering::Relaxed))
            .to_string(),
    );
}
