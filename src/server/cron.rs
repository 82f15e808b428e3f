//! Periodic background work (Redis's serverCron): active expiry, idle
//! client timeouts, CLIENT PAUSE expiry, instantaneous ops/sec.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::Server;
use crate::expire;
use crate::util::clock;

pub fn spawn(srv: Arc<Server>) {
    tokio::spawn(async move {
        let mut cursor = expire::Cursor::default();
        let mut last_ops = 0u64;
        let mut last_tick = std::time::Instant::now();
        loop {
            let hz = srv.config.hot.hz.load(Ordering::Relaxed).clamp(1, 500) as u64;
            let period = Duration::from_millis(1000 / hz);
            tokio::select! {
                _ = srv.shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            if srv.config.hot.active_expire.load(Ordering::Relaxed) && !srv.ks.is_replica() {
                let srv2 = srv.clone();
                let budget = period / 4;
                let mut cur = cursor;
                cursor = tokio::task::spawn_blocking(move || {
                    expire::cycle(&srv2.ks, &mut cur, clock::now_ms(), budget);
                    cur
                })
                .await
                .unwrap_or_default();
            }
            crate::keyspace::access::refresh_clock();
            if crate::evict::running() {
                let srv2 = srv.clone();
                let budget = period / 4;
                let _ = tokio::task::spawn_blocking(move || background_evict(&srv2, budget)).await;
            }
            // Saves and rewrites take the keyspace gate on this thread:
            // while a script holds it they wait for the next tick, so the
            // event loop stays free to answer BUSY and SCRIPT KILL.
            if !srv.scripts.is_running() {
                crate::persistence::save::cron(&srv);
                crate::persistence::aof::cron(&srv);
            }
            // Keeps used_memory_peak current between INFO calls.
            crate::info::resources::used_memory();
            client_timeouts(&srv);
            unpause_if_due(&srv);
            let ops = srv.stats.total_commands_processed.load(Ordering::Relaxed);
            let secs = last_tick.elapsed().as_secs_f64().max(0.001);
            srv.stats
                .instantaneous_ops_per_sec
                .store(((ops - last_ops) as f64 / secs) as u64, Ordering::Relaxed);
            last_ops = ops;
            last_tick = std::time::Instant::now();
        }
    });
}

/// Keep evicting while an eviction cycle ran out of time with memory still
/// over the limit (Redis's evictionTimeProc), within `budget`.
fn background_evict(srv: &Server, budget: Duration) {
    let start = std::time::Instant::now();
    while crate::evict::make_room(&srv.ks, &srv.config) == crate::evict::Outcome::Running
        && start.elapsed() < budget
    {}
}

fn client_timeouts(srv: &Server) {
    let timeout = srv.config.hot.timeout.load(Ordering::Relaxed);
    if timeout <= 0 {
        return;
    }
    let now = clock::now_ms();
    for c in srv.clients.snapshot() {
        let idle = now.saturating_sub(c.last_interaction_ms.load(Ordering::Relaxed));
        let exempt = c.blocked.load(Ordering::Relaxed)
            || c.monitor.load(Ordering::Relaxed)
            || c.sub.load(Ordering::Relaxed) + c.psub.load(Ordering::Relaxed) > 0;
        if !exempt && idle > timeout as u64 * 1000 {
            c.kill.cancel();
        }
    }
}

fn unpause_if_due(srv: &Server) {
    let mut p = srv.pause.lock();
    if let Some((_, until)) = *p {
        if until <= clock::now_ms() {
            *p = None;
            srv.pause_changed.notify_waiters();
        }
    }
}
