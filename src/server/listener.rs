//! Accept loop: binds the `bind` addresses on `port`, spawns one task per
//! client, enforces maxclients, and drives shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::clients::ClientInfo;
use super::{conn, cron, shutdown, Server};
use crate::util::clock;

/// Bind, serve, and return the exit code once shutdown completes.
pub async fn serve(srv: Arc<Server>) -> i32 {
    let listeners = match bind_all(&srv, srv.port()) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("{e}");
            return 1;
        }
    };
    // The banner (with our PID, which test harnesses wait for) comes once
    // the port is bound, as in Redis.
    crate::logging::banner(&srv.config);
    shutdown::install_signal_handlers(srv.clone());
    // Like Redis, listen before loading the dataset: clients connecting
    // meanwhile get -LOADING for commands not flagged `loading`.
    srv.loading.store(true, Ordering::Relaxed);
    if let Err(e) = start_accepting(&srv, listeners) {
        tracing::warn!("{e}");
        return 1;
    }
    // A node that starts as a replica (replicaof, or a replica in
    // nodes.conf) keeps the expired keys of its files: only its master's
    // DELs remove them, as in Redis (iAmMaster() during the load).
    let replica_in_cluster = srv
        .cluster
        .as_ref()
        .is_some_and(|c| c.read(|st| st.me().flags.replica));
    let follows = crate::replication::configured_master(&srv.config).is_some();
    if replica_in_cluster || follows {
        srv.ks.set_replica(true);
    }
    let loader = srv.clone();
    let loaded = tokio::task::spawn_blocking(move || crate::persistence::load_data(&loader)).await;
    srv.loading.store(false, Ordering::Relaxed);
    match loaded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!("{e}");
            return 1;
        }
        Err(e) => {
            tracing::warn!("Loading the dataset failed: {e}");
            return 1;
        }
    }
    cron::spawn(srv.clone());
    crate::cluster::bus::link::start(srv.clone());
    tracing::info!("Ready to accept connections");
    srv.shutdown.cancelled().await;
    shutdown::finish(&srv).await
}

/// CONFIG SET port: listen on `port` first, and only once that worked
/// stop accepting on the old port (existing clients stay connected).
pub fn rebind(srv: &Arc<Server>, port: u16) -> Result<(), String> {
    // Redis reports the bare system error here.
    let listeners = bind_all(srv, port).map_err(|e| match e.rsplit_once(": ") {
        Some((_, cause)) => cause.to_string(),
        None => e,
    })?;
    start_accepting(srv, listeners)?;
    srv.tcp_port.store(u64::from(port), Ordering::Relaxed);
    Ok(())
}

/// Spawn the accept loops of a new listener generation, ending the old one.
fn start_accepting(srv: &Arc<Server>, listeners: Vec<std::net::TcpListener>) -> Result<(), String> {
    let mut tokio_listeners = Vec::new();
    for l in listeners {
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        tokio_listeners.push(TcpListener::from_std(l).map_err(|e| e.to_string())?);
    }
    let generation = CancellationToken::new();
    let old = std::mem::replace(&mut *srv.listening.lock(), generation.clone());
    old.cancel();
    for l in tokio_listeners {
        tokio::spawn(accept_loop(srv.clone(), l, generation.clone()));
    }
    Ok(())
}

fn bind_all(srv: &Server, port: u16) -> Result<Vec<std::net::TcpListener>, String> {
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
        match std::net::TcpListener::bind(&sock) {
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

async fn accept_loop(srv: Arc<Server>, listener: TcpListener, generation: CancellationToken) {
    let laddr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    loop {
        let accepted = tokio::select! {
            _ = srv.shutdown.cancelled() => return,
            _ = generation.cancelled() => return,
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
