//! Accept loop: binds the `bind` addresses on `port`, spawns one task per
//! client, enforces maxclients, and drives shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::clients::ClientInfo;
use super::{conn, cron, shutdown, Server};
use crate::util::clock;

/// Bind, serve, and return the exit code once shutdown completes.
pub async fn serve(srv: Arc<Server>) -> i32 {
    let listeners = match bind_all(&srv).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("{e}");
            return 1;
        }
    };
    shutdown::install_signal_handlers(srv.clone());
    cron::spawn(srv.clone());
    tracing::info!("Ready to accept connections");
    let mut tasks = Vec::new();
    for l in listeners {
        tasks.push(tokio::spawn(accept_loop(srv.clone(), l)));
    }
    srv.shutdown.cancelled().await;
    shutdown::finish(&srv).await
}

async fn bind_all(srv: &Server) -> Result<Vec<TcpListener>, String> {
    let port = srv.port();
    let bind = srv.config.get("bind");
    let mut out = Vec::new();
    for addr in bind.split_whitespace() {
        let (optional, addr) = match addr.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, addr),
        };
        let host = match addr {
            "*" => "0.0.0.0".to_string(),
            "::*" => "::".to_string(),
            a => a.to_string(),
        };
        let sock = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match TcpListener::bind(&sock).await {
            Ok(l) => out.push(l),
            Err(e) if optional => tracing::debug!("Skipping optional bind {sock}: {e}"),
            Err(e) => {
                return Err(format!(
                    "Warning: Could not create server TCP listening socket {sock}: {e}"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("Failed listening on port (tcp), aborting.".into());
    }
    Ok(out)
}

async fn accept_loop(srv: Arc<Server>, listener: TcpListener) {
    let laddr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    loop {
        let accepted = tokio::select! {
            _ = srv.shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        srv.stats
            .total_connections_received
            .fetch_add(1, Ordering::Relaxed);
        let maxclients = srv.config.get_i64("maxclients").max(1) as usize;
        if srv.clients.connected.load(Ordering::Relaxed) >= maxclients {
            srv.stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut s = stream;
                let _ = s.write_all(b"-ERR max number of clients reached\r\n").await;
            });
            continue;
        }
        let fd = raw_fd(&stream);
        let local = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| laddr.clone());
        let info = Arc::new(ClientInfo::new(
            srv.clients.next_id(),
            peer.to_string(),
            local,
            fd,
            clock::now_ms(),
        ));
        srv.clients.register(info.clone());
        tokio::spawn(conn::serve_client(srv.clone(), stream, info));
    }
}

#[cfg(unix)]
fn raw_fd(s: &tokio::net::TcpStream) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(s.as_raw_fd())
}

#[cfg(not(unix))]
fn raw_fd(_: &tokio::net::TcpStream) -> i64 {
    -1
}
