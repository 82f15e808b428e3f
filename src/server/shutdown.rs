//! Graceful shutdown: SIGTERM/SIGINT and SHUTDOWN stop accepting, let
//! connections finish their current batch, and remove the pidfile.

use std::sync::Arc;

use super::{Server, ShutdownMode};

pub fn install_signal_handlers(srv: Arc<Server>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("Could not install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
            _ = int.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
        }
        srv.request_shutdown(ShutdownMode::Default);
    });
}

/// Finish shutting down; returns the process exit code.
pub async fn finish(srv: &Server) -> i32 {
    tracing::warn!("User requested shutdown...");
    let mode = (*srv.shutdown_mode.lock()).unwrap_or(ShutdownMode::Default);
    // A nodes.conf save queued by the bus (`cluster::persist_soon`) may
    // not have run yet.
    if srv.cluster.is_some() {
        crate::cluster::persist(srv);
    }
    // Flush and fsync the AOF; a rewrite in progress is abandoned.
    crate::persistence::aof::stop_appendonly(srv);
    let has_points = !srv.config.get("save").trim().is_empty();
    if mode == ShutdownMode::Save || (mode == ShutdownMode::Default && has_points) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if crate::persistence::save(srv, false).is_err() {
            tracing::warn!("Error trying to save the DB, can't exit.");
        }
    }
    // Give connection tasks a moment to flush their last replies.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let pidfile = srv.config.get("pidfile");
    if !pidfile.is_empty() {
        tracing::info!("Removing the pid file.");
        let _ = std::fs::remove_file(&pidfile);
    }
    tracing::warn!("Redis is now ready to exit, bye bye...");
    0
}
