//! INFO errorstats: error replies counted by their prefix code.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use crate::error::RedisError;
use crate::server::Server;

/// Error counts by prefix (`ERR`, `WRONGTYPE`, ...).
#[derive(Default)]
pub struct ErrorStats {
    map: Mutex<BTreeMap<String, u64>>,
}

impl ErrorStats {
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.map
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn reset(&self) {
        self.map.lock().clear();
    }
}

/// Count an error reply sent to a client.
pub fn count(srv: &Server, e: &RedisError) {
    srv.stats
        .total_error_replies
        .fetch_add(1, Ordering::Relaxed);
    let mut map = srv.errors.map.lock();
    // Redis caps the number of distinct prefixes at 128.
    let prefix = e.prefix();
    if map.len() >= 128 && !map.contains_key(&prefix) {
        return;
    }
    *map.entry(prefix).or_insert(0) += 1;
}
