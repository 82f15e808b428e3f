//! The single propagation point: every write reaches the AOF and the
//! replicas through `Propagator::append`, in the order it was applied.
//!
//! Callers append while holding the slot guards of the keys they changed
//! (see `keyspace::guards`), which fixes the per-slot order; the internal
//! mutex fixes one global order that every sink observes identically.
//! MULTI/EXEC runs with the keyspace gate held exclusively and wraps its
//! effects in MULTI ... EXEC.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// A consumer of the write stream (AOF writer, replication backlog).
pub trait Sink: Send + Sync {
    /// Receive commands for database `db`, in application order.
    fn feed(&self, db: usize, cmds: &[Vec<Bytes>]);
    /// False once the consumer is gone; the sink is then dropped.
    fn alive(&self) -> bool {
        true
    }
}

#[derive(Default)]
struct Inner {
    sinks: Vec<Arc<dyn Sink>>,
    /// Effects buffered while a transaction runs.
    tx: Option<Vec<(usize, Vec<Bytes>)>>,
}

/// The write stream.
#[derive(Default)]
pub struct Propagator {
    inner: Mutex<Inner>,
    /// Fast path: skip the mutex when nobody listens and no tx is open.
    active: AtomicBool,
    /// Loading (DEBUG LOADAOF): replayed commands are not propagated.
    muted: AtomicBool,
}

impl Propagator {
    pub fn add_sink(&self, sink: Arc<dyn Sink>) {
        let mut inner = self.inner.lock();
        inner.sinks.retain(|s| s.alive());
        inner.sinks.push(sink);
        self.active.store(true, Ordering::Release);
    }

    /// Stop (or resume) propagating, e.g. while the AOF is replayed.
    pub fn set_muted(&self, on: bool) {
        self.muted.store(on, Ordering::Relaxed);
    }

    /// Drop sinks whose consumers went away.
    pub fn prune(&self) {
        let mut inner = self.inner.lock();
        inner.sinks.retain(|s| s.alive());
        if inner.sinks.is_empty() && inner.tx.is_none() {
            self.active.store(false, Ordering::Release);
        }
    }

    /// Append the effects of one command.
    pub fn append(&self, db: usize, cmds: Vec<Vec<Bytes>>) {
        if !self.active.load(Ordering::Acquire) || self.muted.load(Ordering::Relaxed) {
            return;
        }
        let mut inner = self.inner.lock();
        if let Some(tx) = inner.tx.as_mut() {
            tx.extend(cmds.into_iter().map(|c| (db, c)));
            return;
        }
        for s in &inner.sinks {
            s.feed(db, &cmds);
        }
    }

    /// Start buffering a transaction (caller holds the gate exclusively).
    pub fn begin_tx(&self) {
        let mut inner = self.inner.lock();
        if !inner.sinks.is_empty() {
            inner.tx = Some(Vec::new());
        }
    }

    /// Flush the transaction's effects wrapped in MULTI/EXEC.
    pub fn end_tx(&self) {
        let mut inner = self.inner.lock();
        let Some(tx) = inner.tx.take() else { return };
        if tx.is_empty() {
            return;
        }
        // Like Redis 7.0, a transaction with a single write is propagated
        // without the MULTI/EXEC wrapper.
        if tx.len() == 1 {
            for s in &inner.sinks {
                s.feed(tx[0].0, std::slice::from_ref(&tx[0].1));
            }
            return;
        }
        let db = tx[0].0;
        let last_db = tx[tx.len() - 1].0;
        let multi = vec![vec![Bytes::from_static(b"MULTI")]];
        for s in &inner.sinks {
            s.feed(db, &multi);
            for (d, c) in &tx {
                s.feed(*d, std::slice::from_ref(c));
            }
            s.feed(last_db, &[vec![Bytes::from_static(b"EXEC")]]);
        }
    }
}
