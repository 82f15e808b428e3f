//! What a forked snapshot child tells its parent while it runs, as Redis's
//! child-info pipe does: how much memory copy-on-write has cost so far and
//! how many keys it has written. INFO persistence shows it as
//! `current_cow_size`, `current_cow_peak`, `current_fork_perc`,
//! `current_save_keys_processed`, and `rdb_last_cow_size` /
//! `aof_last_cow_size` once the child is gone.
//!
//! The child measures its own `Private_Dirty` memory: right after fork every
//! page is shared with the parent, and each page the parent writes to
//! afterwards stays private to the child, so that sum is exactly what the
//! fork has cost in copies.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::util::clock;

/// What kind of child it is: decides which `*_last_cow_size` it feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Rdb,
    Aof,
}

/// The parent's view of the running child (one at a time, as in Redis).
#[derive(Debug, Default)]
pub struct ChildInfo {
    active: AtomicBool,
    cow: AtomicU64,
    peak: AtomicU64,
    cow_updated_ms: AtomicU64,
    keys_done: AtomicU64,
    keys_total: AtomicU64,
    last_rdb_cow: AtomicU64,
    last_aof_cow: AtomicU64,
}

pub static CHILD: ChildInfo = ChildInfo {
    active: AtomicBool::new(false),
    cow: AtomicU64::new(0),
    peak: AtomicU64::new(0),
    cow_updated_ms: AtomicU64::new(0),
    keys_done: AtomicU64::new(0),
    keys_total: AtomicU64::new(0),
    last_rdb_cow: AtomicU64::new(0),
    last_aof_cow: AtomicU64::new(0),
};

/// One report: copy-on-write bytes, keys written so far.
const MSG: usize = 16;

/// Fork a child that runs `child`, with a pipe over which it reports its
/// progress; `keys_total` is the number of keys it is about to write.
pub fn fork(kind: Kind, keys_total: u64, child: impl FnOnce() -> i32) -> std::io::Result<i32> {
    let (r, w) = std::io::pipe()?;
    let mut w = Some(w);
    let pid = crate::util::fork::fork_child(|| {
        // Only the child runs this: the writer end becomes its reporter.
        if let Some(w) = w.take() {
            let _ = REPORTER.set(Mutex::new(Reporter::new(w)));
        }
        let code = child();
        report_now();
        code
    })?;
    // The parent keeps only the read end, so it sees EOF when the child exits.
    drop(w);
    CHILD.start(keys_total);
    std::thread::spawn(move || CHILD.follow(r, kind));
    Ok(pid)
}

impl ChildInfo {
    fn start(&self, keys_total: u64) {
        for a in [&self.cow, &self.peak, &self.keys_done] {
            a.store(0, Ordering::Relaxed);
        }
        self.cow_updated_ms
            .store(clock::now_ms(), Ordering::Relaxed);
        self.keys_total.store(keys_total, Ordering::Relaxed);
        self.active.store(true, Ordering::Relaxed);
    }

    /// Read the child's reports until it exits, then keep its last COW size.
    fn follow(&self, mut r: std::io::PipeReader, kind: Kind) {
        let mut buf = [0u8; MSG];
        while r.read_exact(&mut buf).is_ok() {
            let (cow, keys) = decode(&buf);
            self.cow.store(cow, Ordering::Relaxed);
            self.peak.fetch_max(cow, Ordering::Relaxed);
            self.cow_updated_ms
                .store(clock::now_ms(), Ordering::Relaxed);
            self.keys_done.store(keys, Ordering::Relaxed);
        }
        let last = match kind {
            Kind::Rdb => &self.last_rdb_cow,
            Kind::Aof => &self.last_aof_cow,
        };
        last.store(self.cow.load(Ordering::Relaxed), Ordering::Relaxed);
        self.active.store(false, Ordering::Relaxed);
    }

    pub fn last_cow(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Rdb => self.last_rdb_cow.load(Ordering::Relaxed),
            Kind::Aof => self.last_aof_cow.load(Ordering::Relaxed),
        }
    }

    /// The `current_*` lines of INFO persistence (zeros with no child).
    pub fn info_lines(&self) -> [(&'static str, String); 6] {
        let active = self.active.load(Ordering::Relaxed);
        let get = |a: &AtomicU64| if active { a.load(Ordering::Relaxed) } else { 0 };
        let (done, total) = (get(&self.keys_done), get(&self.keys_total));
        let age = if active {
            clock::now_ms().saturating_sub(self.cow_updated_ms.load(Ordering::Relaxed)) / 1000
        } else {
            0
        };
        let perc = if total > 0 {
            done as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        [
            ("current_cow_peak", get(&self.peak).to_string()),
            ("current_cow_size", get(&self.cow).to_string()),
            ("current_cow_size_age", age.to_string()),
            ("current_fork_perc", format!("{perc:.2}")),
            ("current_save_keys_processed", done.to_string()),
            ("current_save_keys_total", total.to_string()),
        ]
    }
}

fn decode(buf: &[u8; MSG]) -> (u64, u64) {
    let (a, b) = buf.split_at(8);
    let n = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
    (n(a), n(b))
}

/// The child's side: set once right after fork, in the child only.
static REPORTER: OnceLock<Mutex<Reporter>> = OnceLock::new();

struct Reporter {
    pipe: std::io::PipeWriter,
    keys: u64,
    last_sent: Instant,
}

impl Reporter {
    fn new(pipe: std::io::PipeWriter) -> Reporter {
        Reporter {
            pipe,
            keys: 0,
            last_sent: Instant::now(),
        }
    }

    fn send(&mut self) {
        let mut buf = [0u8; MSG];
        buf[..8].copy_from_slice(&private_dirty_bytes().to_le_bytes());
        buf[8..].copy_from_slice(&self.keys.to_le_bytes());
        // A parent that stopped listening is no reason to fail the save.
        let _ = self.pipe.write_all(&buf);
        self.last_sent = Instant::now();
    }
}

/// One more key written. In a forked child, every 1024 keys and at most
/// once a second it reports (reading smaps costs more than a key).
pub fn key_written() {
    let Some(rep) = REPORTER.get() else {
        return;
    };
    let Ok(mut rep) = rep.lock() else {
        return;
    };
    rep.keys += 1;
    if rep.keys % 1024 != 0 {
        return;
    }
    crate::util::fork::exit_if_orphaned();
    if rep.last_sent.elapsed().as_secs() >= 1 {
        rep.send();
    }
}

/// Report right away (the child is about to exit).
fn report_now() {
    if let Some(Ok(mut rep)) = REPORTER.get().map(Mutex::lock) {
        rep.send();
    }
}

/// This process's private dirty memory in bytes (Linux; 0 elsewhere).
fn private_dirty_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup")
        .or_else(|_| std::fs::read_to_string("/proc/self/smaps"))
        .unwrap_or_default();
    sum_private_dirty_kb(&text) * 1024
}

fn sum_private_dirty_kb(smaps: &str) -> u64 {
    smaps
        .lines()
        .filter_map(|l| l.strip_prefix("Private_Dirty:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_private_dirty_lines() {
        let s = "00400000-00452000 r-xp\nPrivate_Dirty:        12 kB\nShared_Dirty: 5 kB\n\
                 Private_Dirty:  3 kB\nPrivate_Dirty: junk\n";
        assert_eq!(sum_private_dirty_kb(s), 15);
    }

    #[test]
    fn decodes_reports() {
        let mut buf = [0u8; MSG];
        buf[..8].copy_from_slice(&4096u64.to_le_bytes());
        buf[8..].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(decode(&buf), (4096, 7));
    }

    #[test]
    fn no_child_reports_zeros() {
        let info = ChildInfo::default();
        let lines = info.info_lines();
        assert!(lines.iter().all(|(_, v)| v == "0" || v == "0.00"));
    }
}
