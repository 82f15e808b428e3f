//! The AOF writer: a `Sink` on the propagator that encodes every write as a
//! RESP command (with a SELECT whenever the database changes, as Redis
//! writes them) into a buffer, and a thread that appends the buffer to the
//! current incr file and fsyncs it per `appendfsync`:
//!
//! - `always`: the writer thread writes and fdatasyncs each batch it takes,
//!   then publishes the synced offset; connections hold their replies until
//!   that offset covers their last write (`wait_durable`). Whatever piles up
//!   during one fsync goes out in the next one, so many clients share each
//!   fsync (group commit).
//! - `everysec`: a background fsync once per second (replies still wait
//!   for the write(2), as Redis writes before replying). While that fsync is
//!   still running, the next write is postponed up to 2 s and then done
//!   anyway (counted in `aof_delayed_fsync`), Redis's rule.
//! - `no`: the OS decides.
//!
//! Offsets are logical byte counts of the write stream, monotonic for the
//! life of the process (a new writer continues where the old one ended).

use std::cell::Cell;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

use crate::server::propagate::Sink;

thread_local! {
    /// Stream offset of the last write fed from this thread.
    static LAST_APPEND: Cell<u64> = const { Cell::new(0) };
}

/// Take (and reset) the offset of the last write this thread appended; a
/// connection calls it right after running a command, on the same thread.
pub fn take_last_append() -> u64 {
    LAST_APPEND.with(|c| c.replace(0))
}

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always = 0,
    EverySec = 1,
    No = 2,
}

impl Fsync {
    pub fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
    fn from_u8(v: u8) -> Fsync {
        match v {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

struct Pending {
    data: Vec<u8>,
    last_db: Option<usize>,
    appended: u64,
    /// Last `#TS:` annotation written (aof-timestamp-enabled).
    last_ts: u64,
}

/// The incr file being appended to.
pub struct Target {
    pub file: File,
    pub name: String,
}

pub struct AofWriter {
    pending: Mutex<Pending>,
    wake: Condvar,
    target: Mutex<Target>,
    /// Offset handed to write(2): survives a crash of the process.
    written: tokio::sync::watch::Sender<u64>,
    synced: tokio::sync::watch::Sender<u64>,
    policy: AtomicU8,
    stop: AtomicBool,
    alive: AtomicBool,
    fsync_running: Arc<AtomicBool>,
    pub delayed_fsync: AtomicU64,
    pub write_ok: AtomicBool,
    /// aof-timestamp-enabled: `#TS:<unix time>` lines when the second changes.
    pub timestamps: AtomicBool,
    /// DEBUG AOF-FLUSH-SLEEP: microseconds to sleep before each write.
    pub flush_sleep_us: AtomicU64,
    /// Base + incr bytes on disk (INFO aof_current_size).
    pub current_size: AtomicU64,
}

/// Raise a published offset (never lowers it).
fn publish(ch: &tokio::sync::watch::Sender<u64>, v: u64) {
    ch.send_if_modified(|cur| {
        let grew = v > *cur;
        *cur = (*cur).max(v);
        grew
    });
}

/// Append `argv` as a RESP multibulk.
pub fn encode_cmd(out: &mut Vec<u8>, argv: &[Bytes]) {
    let mut n = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(n.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(n.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// The SELECT Redis writes before commands of another database.
pub fn encode_select(out: &mut Vec<u8>, db: usize) {
    encode_cmd(
        out,
        &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())],
    );
}

impl Sink for AofWriter {
    fn feed(&self, db: usize, cmds: &[Vec<Bytes>]) {
        let mut p = self.pending.lock();
        let before = p.data.len();
        if self.timestamps.load(Ordering::Relaxed) {
            let now = crate::util::clock::now_ms() / 1000;
            if now > p.last_ts {
                p.last_ts = now;
                p.data
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        if p.last_db != Some(db) {
            encode_select(&mut p.data, db);
            p.last_db = Some(db);
        }
        for c in cmds {
            encode_cmd(&mut p.data, c);
        }
        p.appended += (p.data.len() - before) as u64;
        let at = p.appended;
        drop(p);
        LAST_APPEND.with(|c| c.set(at));
        self.wake.notify_one();
    }

    fn alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
}

impl AofWriter {
    /// A writer appending to `target`, continuing stream offset `start`.
    pub fn new(target: Target, start: u64, policy: Fsync, current_size: u64) -> Arc<AofWriter> {
        let (synced, _) = tokio::sync::watch::channel(start);
        Arc::new(AofWriter {
            pending: Mutex::new(Pending {
                data: Vec::new(),
                last_db: None,
                appended: start,
                last_ts: 0,
            }),
            wake: Condvar::new(),
            target: Mutex::new(target),
            written: tokio::sync::watch::channel(start).0,
            synced,
            policy: AtomicU8::new(policy as u8),
            stop: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            fsync_running: Arc::new(AtomicBool::new(false)),
            delayed_fsync: AtomicU64::new(0),
            write_ok: AtomicBool::new(true),
            timestamps: AtomicBool::new(false),
            flush_sleep_us: AtomicU64::new(0),
            current_size: AtomicU64::new(current_size),
        })
    }

    pub fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Ordering::Relaxed))
    }

    pub fn set_policy(&self, p: Fsync) {
        self.policy.store(p as u8, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Bytes fed but not yet written (INFO aof_buffer_length).
    pub fn buffer_len(&self) -> usize {
        self.pending.lock().data.len()
    }

    pub fn fsync_pending(&self) -> bool {
        self.fsync_running.load(Ordering::Relaxed)
    }

    /// Stream offset of everything fed so far.
    pub fn appended(&self) -> u64 {
        self.pending.lock().appended
    }

    pub fn target_name(&self) -> String {
        self.target.lock().name.clone()
    }

    /// Start the thread that writes and fsyncs.
    pub fn spawn(self: &Arc<Self>) {
        let w = self.clone();
        let _ = std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || w.run());
    }

    /// Wait until the write at offset `off` is durable: fsync'd under
    /// `always`, else handed to the kernel (as Redis writes the AOF before
    /// replying under every policy, so a process crash loses nothing that
    /// was acknowledged; only a power loss can, per the policy).
    pub async fn wait_durable(&self, off: u64) {
        let ch = if self.policy() == Fsync::Always {
            &self.synced
        } else {
            &self.written
        };
        let mut rx = ch.subscribe();
        loop {
            if *rx.borrow_and_update() >= off {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    fn run(&self) {
        let mut last_fsync = Instant::now();
        loop {
            let has_data = {
                let mut p = self.pending.lock();
                if p.data.is_empty() && !self.stop.load(Ordering::Relaxed) {
                    self.wake.wait_for(&mut p, Duration::from_millis(100));
                }
                !p.data.is_empty()
            };
            if has_data {
                self.flush_pending();
            } else if self.stop.load(Ordering::Relaxed) {
                break;
            }
            if self.policy() == Fsync::EverySec && last_fsync.elapsed() >= Duration::from_secs(1) {
                self.background_fsync();
                last_fsync = Instant::now();
            }
        }
    }

    /// everysec/no: the connection that needs its write on disk does the
    /// write(2) itself when nobody else is writing (no thread hand-off, as
    /// Redis writes from its main thread); otherwise the writer thread's
    /// write covers it. `always` leaves the fsync to the writer thread.
    pub fn write_inline(&self) {
        if self.policy() == Fsync::Always
            || self.fsync_running.load(Ordering::Relaxed)
            || self.flush_sleep_us.load(Ordering::Relaxed) > 0
        {
            return;
        }
        let Some(mut t) = self.target.try_lock() else {
            return;
        };
        let (chunk, end) = self.take_pending();
        if chunk.is_empty() {
            return;
        }
        let policy = self.policy();
        self.write_all_retrying(&mut t.file, &chunk, policy);
        drop(t);
        self.current_size
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        publish(&self.written, end);
        if policy == Fsync::No {
            publish(&self.synced, end);
        }
    }

    fn take_pending(&self) -> (Vec<u8>, u64) {
        let mut p = self.pending.lock();
        (std::mem::take(&mut p.data), p.appended)
    }

    /// Write what is pending (the writer thread). Data is taken while the
    /// target lock is held, so concurrent writers keep the stream order.
    fn flush_pending(&self) {
        let policy = self.policy();
        let sleep = self.flush_sleep_us.load(Ordering::Relaxed);
        if sleep > 0 {
            std::thread::sleep(Duration::from_micros(sleep));
        }
        if policy == Fsync::EverySec && self.fsync_running.load(Ordering::Relaxed) {
            // Redis's rule: postpone the write while the background fsync
            // runs (a write would block behind it), at most 2 s. Like
            // Redis, replies are not held meanwhile: release the waiters.
            let start = Instant::now();
            while self.fsync_running.load(Ordering::Relaxed)
                && start.elapsed() < Duration::from_secs(2)
            {
                publish(&self.written, self.appended());
                std::thread::sleep(Duration::from_millis(1));
            }
            if self.fsync_running.load(Ordering::Relaxed) {
                self.delayed_fsync.fetch_add(1, Ordering::Relaxed);
                tracing::info!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
            }
        }
        let mut t = self.target.lock();
        let (chunk, end) = self.take_pending();
        if chunk.is_empty() {
            return;
        }
        self.write_all_retrying(&mut t.file, &chunk, policy);
        self.current_size
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        publish(&self.written, end);
        match policy {
            Fsync::Always => {
                if let Err(e) = t.file.sync_data() {
                    tracing::warn!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting...");
                    std::process::exit(1);
                }
                drop(t);
                publish(&self.synced, end);
            }
            Fsync::No => publish(&self.synced, end),
            Fsync::EverySec => {}
        }
    }

    /// Write everything; with `always` a failure is fatal (an acknowledged
    /// write could otherwise be lost), else retry until the disk recovers.
    fn write_all_retrying(&self, f: &mut File, chunk: &[u8], policy: Fsync) {
        loop {
            match f.write_all(chunk) {
                Ok(()) => {
                    self.write_ok.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    self.write_ok.store(false, Ordering::Relaxed);
                    tracing::warn!("Error writing to the AOF file: {e}");
                    if policy == Fsync::Always {
                        tracing::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                        std::process::exit(1);
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    /// everysec: fsync on another thread so writes are not stuck behind it.
    fn background_fsync(&self) {
        let written = *self.written.borrow();
        if written <= *self.synced.borrow() || self.fsync_running.load(Ordering::Relaxed) {
            return;
        }
        let Ok(f) = self.target.lock().file.try_clone() else {
            return;
        };
        self.fsync_running.store(true, Ordering::Relaxed);
        let running = self.fsync_running.clone();
        let synced = self.synced.clone();
        let _ = std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || {
                if f.sync_data().is_ok() {
                    synced.send_if_modified(|v| {
                        let grew = written > *v;
                        *v = (*v).max(written);
                        grew
                    });
                }
                running.store(false, Ordering::Relaxed);
            });
    }

    /// Write and fsync everything fed so far, synchronously (rewrite start,
    /// shutdown, DEBUG LOADAOF). Returns the stream offset covered.
    pub fn flush_sync(&self) -> std::io::Result<u64> {
        let mut t = self.target.lock();
        let (chunk, end) = {
            let mut p = self.pending.lock();
            (std::mem::take(&mut p.data), p.appended)
        };
        t.file.write_all(&chunk)?;
        t.file.sync_data()?;
        self.current_size
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        publish(&self.written, end);
        drop(t);
        publish(&self.synced, end);
        Ok(end)
    }

    /// Rewrite start: flush everything to the old file and continue in
    /// `next` (the caller holds the keyspace gate exclusively, so the switch
    /// sits at an exact point of the write stream). The new file starts
    /// with a SELECT, as Redis's new incr files do.
    pub fn switch(&self, next: Target) -> std::io::Result<()> {
        let mut t = self.target.lock();
        let mut p = self.pending.lock();
        let chunk = std::mem::take(&mut p.data);
        let end = p.appended;
        p.last_db = None;
        drop(p);
        let res = t.file.write_all(&chunk).and_then(|_| t.file.sync_data());
        self.current_size
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        publish(&self.written, end);
        *t = next;
        drop(t);
        publish(&self.synced, end);
        res
    }

    /// The target file was renamed (temp incr → incr after a rewrite).
    pub fn rename_target(&self, name: String) {
        self.target.lock().name = name;
    }

    /// Stop: drain, fsync, release every waiter, detach from the stream.
    pub fn stop(&self) {
        self.alive.store(false, Ordering::Relaxed);
        if let Err(e) = self.flush_sync() {
            tracing::warn!("Fail to fsync the AOF file: {e}");
        }
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        self.synced.send_replace(u64::MAX);
        self.written.send_replace(u64::MAX);
    }

    /// Stream offset fed so far, for the next writer to continue from.
    pub fn end_offset(&self) -> u64 {
        self.appended()
    }

    /// Bytes appended to the target since it was opened are counted in
    /// `current_size`; callers reset it when the base changes.
    pub fn set_current_size(&self, n: u64) {
        self.current_size.store(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_redis() {
        let mut out = Vec::new();
        encode_select(&mut out, 0);
        encode_cmd(
            &mut out,
            &[
                Bytes::from_static(b"SET"),
                Bytes::from_static(b"k"),
                Bytes::from_static(b"v"),
            ],
        );
        assert_eq!(
            out,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
    }

    #[test]
    fn feed_select_once_per_db_and_offsets() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = File::create(dir.path().join("x.aof")).expect("create");
        let w = AofWriter::new(
            Target {
                file,
                name: "x.aof".into(),
            },
            10,
            Fsync::Always,
            0,
        );
        let set = vec![
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"a"),
            Bytes::from_static(b"1"),
        ];
        w.feed(0, std::slice::from_ref(&set));
        w.feed(0, std::slice::from_ref(&set));
        let first = take_last_append();
        assert!(first > 10);
        w.feed(1, std::slice::from_ref(&set));
        let end = w.flush_sync().expect("flush");
        assert_eq!(end, take_last_append());
        let text = std::fs::read(dir.path().join("x.aof")).expect("read");
        let s = String::from_utf8_lossy(&text);
        assert_eq!(s.matches("SELECT").count(), 2);
        assert_eq!(end - 10, text.len() as u64);
    }
}
