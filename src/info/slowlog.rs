//! SLOWLOG: the last `slowlog-max-len` commands slower than
//! `slowlog-log-slower-than` microseconds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::server::session::Session;
use crate::server::Server;

/// Redis trims logged arguments (SLOWLOG_ENTRY_MAX_ARGC / _MAX_STRING).
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub time: u64,
    pub usec: u64,
    pub argv: Vec<Bytes>,
    pub addr: String,
    pub name: String,
}

#[derive(Default)]
pub struct Slowlog {
    entries: Mutex<VecDeque<SlowEntry>>,
    next_id: AtomicU64,
}

impl Slowlog {
    pub fn maybe_log(&self, srv: &Server, usec: u64, argv: &[Bytes], sess: &Session) {
        let threshold = srv
            .config
            .hot
            .slowlog_log_slower_than
            .load(Ordering::Relaxed);
        if threshold < 0 || usec < threshold as u64 {
            return;
        }
        let max = srv
            .config
            .hot
            .slowlog_max_len
            .load(Ordering::Relaxed)
            .max(0) as usize;
        let mut args: Vec<Bytes> = argv.iter().take(MAX_ARGC).map(trim).collect();
        if argv.len() > MAX_ARGC {
            let more = format!("... ({} more arguments)", argv.len() - MAX_ARGC + 1);
            args[MAX_ARGC - 1] = Bytes::from(more);
        }
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time: crate::util::clock::now_ms() / 1000,
            usec,
            argv: args,
            addr: sess.info.addr.clone(),
            name: sess.info.name.lock().clone(),
        };
        let mut e = self.entries.lock();
        e.push_front(entry);
        while e.len() > max {
            e.pop_back();
        }
    }

    pub fn get(&self, count: usize) -> Vec<SlowEntry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// An owned copy, at most MAX_STRING bytes: never a clone of the request's
/// `Bytes`, which would pin the whole read buffer it was sliced from (a
/// 100k-argument SADD would keep megabytes alive in the slowlog).
fn trim(a: &Bytes) -> Bytes {
    if a.len() <= MAX_STRING {
        return Bytes::copy_from_slice(a);
    }
    let mut v = a[..MAX_STRING].to_vec();
    v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
    Bytes::from(v)
}
