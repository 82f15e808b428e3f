//! WAIT numreplicas timeout, and min-replicas-to-write.
//!
//! WAIT counts online replicas whose last REPLCONF ACK covers the stream
//! offset at the time of the call (Redis uses the client's last write
//! offset; ours is the current offset, which may only wait longer, never
//! acknowledge less). When not enough replicas acknowledged yet, a
//! `REPLCONF GETACK *` goes into the stream and the client blocks until
//! enough ACKs arrive or the timeout fires; the reply is then the count.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::RedisError;
use crate::protocol::Reply;
use crate::server::session::PendingBlock;
use crate::server::Server;
use crate::util::clock;

/// Waiter ids outside the keyspace's blocking registry: claim_id on them
/// is a no-op, so only our reply (or a disconnect) ends the block.
pub const WAIT_BLOCK_ID: u64 = u64::MAX;

/// Online replicas that acknowledged at least `offset`.
pub fn acked(srv: &Server, offset: i64) -> i64 {
    srv.repl
        .replicas()
        .iter()
        .filter(|r| {
            r.state.load(Ordering::Relaxed) == super::STATE_ONLINE
                && r.ack_offset.load(Ordering::Relaxed) >= offset
        })
        .count() as i64
}

/// What WAIT does now: reply at once, or block.
pub enum WaitOutcome {
    Now(Reply),
    Block(PendingBlock),
}

/// WAIT with parsed arguments (`timeout_ms` 0 = forever).
pub fn wait(
    srv: &Arc<Server>,
    numreplicas: i64,
    timeout_ms: u64,
    in_multi: bool,
) -> Result<WaitOutcome, RedisError> {
    if super::is_replica(srv) {
        return Err(RedisError::err("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let target = super::repl_offset(srv);
    let now = acked(srv, target);
    if now >= numreplicas || in_multi {
        return Ok(WaitOutcome::Now(Reply::Int(now)));
    }
    srv.repl.feed_dbless(&[b"REPLCONF", b"GETACK", b"*"]);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
    let srv2 = srv.clone();
    tokio::spawn(async move {
        let mut tx = tx;
        loop {
            let notified = srv2.repl.acks.notified();
            let count = acked(&srv2, target);
            let expired = deadline.is_some_and(|d| Instant::now() >= d);
            if count >= numreplicas || expired || srv2.shutdown.is_cancelled() {
                let _ = tx.send(Reply::Int(count));
                return;
            }
            let step = deadline.map_or(Duration::from_millis(100), |d| {
                d.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100))
            });
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(step) => {}
                _ = tx.closed() => return,
            }
        }
    });
    Ok(WaitOutcome::Block(PendingBlock {
        id: WAIT_BLOCK_ID,
        rx,
        timeout: None,
        timeout_reply: Reply::Int(0),
        keys: Vec::new(),
        command: "wait",
    }))
}

/// Replicas counted by min-replicas-to-write: online, ACK within max lag.
pub fn good_replicas(srv: &Server) -> i64 {
    let max_lag = srv.config.get_i64("min-replicas-max-lag").max(0) as u64 * 1000;
    let now = clock::now_ms();
    srv.repl
        .replicas()
        .iter()
        .filter(|r| {
            r.state.load(Ordering::Relaxed) == super::STATE_ONLINE
                && now.saturating_sub(r.ack_ms.load(Ordering::Relaxed)) <= max_lag
        })
        .count() as i64
}

/// NOREPLICAS when fewer good replicas than min-replicas-to-write.
pub fn check_min_replicas(srv: &Server) -> Result<(), RedisError> {
    let min = srv.config.get_i64("min-replicas-to-write");
    if min <= 0 || srv.config.get_i64("min-replicas-max-lag") <= 0 || super::is_replica(srv) {
        return Ok(());
    }
    if good_replicas(srv) < min {
        return Err(RedisError::raw(
            "NOREPLICAS Not enough good replicas to write.",
        ));
    }
    Ok(())
}
