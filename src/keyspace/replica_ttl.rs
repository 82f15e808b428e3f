//! Keys given a TTL by ordinary clients of a *writable* replica. A replica
//! never expires the keys of its master's stream (it waits for the DEL),
//! but keys written locally would otherwise never go away: Redis tracks
//! them (`slaveKeysWithExpire`) and expires them itself. So do we.
//!
//! The replica task marks the thread while it applies the master's stream,
//! so the tracking hook can tell the two kinds of writes apart.

use std::cell::Cell;
use std::collections::HashSet;

use parking_lot::Mutex;

thread_local! {
    static APPLYING_MASTER: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` as the master's stream (its TTLs are not tracked).
pub fn as_master<T>(f: impl FnOnce() -> T) -> T {
    APPLYING_MASTER.with(|a| a.set(true));
    let r = f();
    APPLYING_MASTER.with(|a| a.set(false));
    r
}

fn applying_master() -> bool {
    APPLYING_MASTER.with(Cell::get)
}

/// (db, key) pairs with a locally set TTL.
#[derive(Default)]
pub struct LocalTtls {
    keys: Mutex<HashSet<(usize, Box<[u8]>)>>,
}

impl LocalTtls {
    /// Called when a key gets a TTL on a replica.
    pub fn note(&self, db: usize, key: &[u8]) {
        if !applying_master() {
            self.keys.lock().insert((db, key.into()));
        }
    }

    /// Take every tracked key (the expiry job puts back the live ones).
    pub fn take(&self) -> Vec<(usize, Box<[u8]>)> {
        self.keys.lock().drain().collect()
    }

    pub fn put_back(&self, db: usize, key: Box<[u8]>) {
        self.keys.lock().insert((db, key));
    }

    pub fn clear(&self) {
        self.keys.lock().clear();
    }
}
