//! Clients blocked on keys (BLPOP and friends): per-key FIFO queues of
//! waiters and the set of keys that became ready.
//!
//! A waiter is registered while the blocking command still holds the slot
//! lock of its keys, and a push marks its key ready under the same lock, so
//! no wake-up can be lost. After every command, the server serves ready
//! keys (`commands::blocking::serve_ready`): the first waiter in FIFO order
//! is *claimed* (removed) and its pop runs on its behalf, exactly like
//! Redis's handleClientsBlockedOnKeys. A waiter that times out removes
//! itself; whoever removes a waiter first owns it.
//!
//! Lock order: shard guards → this registry's mutex.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::protocol::Reply;

/// What a blocked client does once one of its keys has data.
#[derive(Debug, Clone)]
pub enum BlockOp {
    /// BLPOP/BRPOP (count None) and BLMPOP (count Some).
    ListPop { left: bool, count: Option<usize> },
    /// BLMOVE / BRPOPLPUSH.
    ListMove {
        dst: Bytes,
        from_left: bool,
        to_left: bool,
        rpoplpush: bool,
    },
    /// BZPOPMIN/BZPOPMAX (count None) and BZMPOP (count Some).
    ZPop { max: bool, count: Option<usize> },
}

/// One blocked client.
pub struct Waiter {
    pub id: u64,
    /// The blocked client (CLIENT UNBLOCK).
    pub client: u64,
    pub db: usize,
    pub keys: Vec<Bytes>,
    pub op: BlockOp,
    /// What the client gets when its timeout fires (or CLIENT UNBLOCK).
    pub timeout_reply: Reply,
    tx: Mutex<Option<oneshot::Sender<Reply>>>,
}

/// Who is blocking and what it gets on timeout.
pub struct BlockRequest {
    pub client: u64,
    pub db: usize,
    pub keys: Vec<Bytes>,
    pub op: BlockOp,
    pub timeout_reply: Reply,
}

impl Waiter {
    /// Deliver the reply (after a successful claim).
    pub fn send(&self, reply: Reply) {
        if let Some(tx) = self.tx.lock().take() {
            let _ = tx.send(reply);
        }
    }
}

type KeyId = (usize, Box<[u8]>);

#[derive(Default)]
struct Inner {
    queues: HashMap<KeyId, VecDeque<Arc<Waiter>>>,
    ready: Vec<KeyId>,
    ready_set: HashSet<KeyId>,
}

/// The registry.
#[derive(Default)]
pub struct Blocking {
    inner: Mutex<Inner>,
    waiters: AtomicUsize,
    next_id: AtomicU64,
}

impl Blocking {
    /// Register a waiter on all its keys; returns the receiver of its reply.
    pub fn register(&self, req: BlockRequest) -> (u64, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let db = req.db;
        let w = Arc::new(Waiter {
            id,
            client: req.client,
            db,
            keys: req.keys,
            op: req.op,
            timeout_reply: req.timeout_reply,
            tx: Mutex::new(Some(tx)),
        });
        let mut inner = self.inner.lock();
        let mut seen = HashSet::new();
        for k in &w.keys {
            if seen.insert(k.clone()) {
                inner
                    .queues
                    .entry((db, k[..].into()))
                    .or_default()
                    .push_back(w.clone());
            }
        }
        self.waiters.fetch_add(1, Ordering::Relaxed);
        (id, rx)
    }

    /// Remove waiter `id` from every queue. True if this call removed it
    /// (the caller now owns it), false if someone else did first.
    pub fn claim(&self, w: &Waiter) -> bool {
        let mut inner = self.inner.lock();
        let mut found = false;
        for k in &w.keys {
            let id: KeyId = (w.db, k[..].into());
            if let Some(q) = inner.queues.get_mut(&id) {
                let before = q.len();
                q.retain(|x| x.id != w.id);
                found |= q.len() != before;
                if q.is_empty() {
                    inner.queues.remove(&id);
                }
            }
        }
        if found {
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
        found
    }

    /// Claim by id (timeout / disconnect path).
    pub fn claim_id(&self, id: u64) -> bool {
        let w = {
            let inner = self.inner.lock();
            inner
                .queues
                .values()
                .flat_map(|q| q.iter())
                .find(|w| w.id == id)
                .cloned()
        };
        w.is_some_and(|w| self.claim(&w))
    }

    /// CLIENT UNBLOCK: end the wait of `client` as if it timed out, or
    /// with an UNBLOCKED error. False if the client is not blocked on keys.
    pub fn unblock_client(&self, client: u64, error: bool) -> bool {
        let w = {
            let inner = self.inner.lock();
            inner
                .queues
                .values()
                .flat_map(|q| q.iter())
                .find(|w| w.client == client)
                .cloned()
        };
        let Some(w) = w else { return false };
        if !self.claim(&w) {
            return false;
        }
        w.send(if error {
            Reply::Error(crate::error::RedisError::Custom(
                "UNBLOCKED client unblocked via CLIENT UNBLOCK".into(),
            ))
        } else {
            w.timeout_reply.clone()
        });
        true
    }

    /// A key got data (or was replaced): remember it if someone waits on it.
    pub fn signal_ready(&self, db: usize, key: &[u8]) {
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut inner = self.inner.lock();
        let id: KeyId = (db, key.into());
        if inner.queues.contains_key(&id) && inner.ready_set.insert(id.clone()) {
            inner.ready.push(id);
        }
    }

    /// SWAPDB: every key of `db` that someone waits on may now hold data
    /// (Redis's scanDatabaseForReadyKeys); serving checks each one.
    pub fn signal_db(&self, db: usize) {
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut inner = self.inner.lock();
        let keys: Vec<KeyId> = inner
            .queues
            .keys()
            .filter(|(d, _)| *d == db)
            .cloned()
            .collect();
        for id in keys {
            if inner.ready_set.insert(id.clone()) {
                inner.ready.push(id);
            }
        }
    }

    /// Keys that became ready since the last call, in order.
    pub fn take_ready(&self) -> Vec<(usize, Box<[u8]>)> {
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let mut inner = self.inner.lock();
        inner.ready_set.clear();
        std::mem::take(&mut inner.ready)
    }

    /// The longest-waiting client blocked on `key`.
    pub fn first_waiter(&self, db: usize, key: &[u8]) -> Option<Arc<Waiter>> {
        let inner = self.inner.lock();
        inner
            .queues
            .get(&(db, key.into()))
            .and_then(|q| q.front().cloned())
    }

    pub fn count(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }
}
