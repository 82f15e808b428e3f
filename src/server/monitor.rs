//! MONITOR: clients that receive every command as it runs.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// Registered monitors and their feeds.
#[derive(Default)]
pub struct Monitors {
    list: Mutex<Vec<(u64, UnboundedSender<Bytes>)>>,
    count: AtomicUsize,
}

impl Monitors {
    pub fn add(&self, id: u64, tx: UnboundedSender<Bytes>) {
        self.list.lock().push((id, tx));
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn remove(&self, id: u64) {
        let mut l = self.list.lock();
        let before = l.len();
        l.retain(|(i, _)| *i != id);
        self.count.fetch_sub(before - l.len(), Ordering::Relaxed);
    }

    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    /// Send one line to every monitor (already formatted as a status reply).
    pub fn feed(&self, line: Bytes) {
        let l = self.list.lock();
        for (_, tx) in l.iter() {
            let _ = tx.send(line.clone());
        }
    }

    /// Format a command like Redis: `+<sec>.<usec> [<db> <addr>] "arg" ...`.
    pub fn format(now_us: u64, db: usize, addr: &str, argv: &[Bytes]) -> Bytes {
        let mut s = format!(
            "+{}.{:06} [{} {}]",
            now_us / 1_000_000,
            now_us % 1_000_000,
            db,
            addr
        );
        for a in argv {
            s.push(' ');
            s.push_str(&repr(a));
        }
        s.push_str("\r\n");
        Bytes::from(s)
    }
}

pub use crate::util::split::repr;
