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

/// Redis's `sdscatrepr`: a quoted, escaped representation.
pub fn repr(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}
