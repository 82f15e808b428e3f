//! Primary side: answering SYNC/PSYNC and feeding one replica link.
//!
//! PSYNC <replid> <offset> is served from the backlog (+CONTINUE) when the
//! replid is ours (or our replid2 up to second_repl_offset, after a
//! promotion) and the offset is still held; otherwise +FULLRESYNC. A full
//! sync forks a copy-on-write snapshot; the replica link is registered in
//! the stream while the keyspace gate is held for the fork, so the replica
//! receives exactly the writes after the snapshot, in order. The RDB goes
//! either through a file (`$<len>`) or, with repl-diskless-sync and a
//! replica that announced `capa eof`, straight from the child through a
//! pipe (`$EOF:<40-byte mark>` ... mark), as Redis 7.0 does.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::backlog::Backlog;
use super::{ReplicaLink, SyncRequest, STATE_ONLINE, STATE_SEND_BULK, STATE_WAIT_BGSAVE};
use crate::protocol::{ParseLimits, RequestParser};
use crate::server::Server;
use crate::util::clock;

type Rx = mpsc::UnboundedReceiver<Bytes>;

fn new_link(srv: &Server, req: &SyncRequest, state: u8) -> (Arc<ReplicaLink>, Rx) {
    let (tx, rx) = mpsc::unbounded_channel();
    let ip = req.ip.clone().unwrap_or_else(|| {
        req.addr
            .rsplit_once(':')
            .map_or(req.addr.clone(), |(h, _)| h.to_string())
    });
    let link = Arc::new(ReplicaLink {
        id: srv.repl.next_link_id.fetch_add(1, Ordering::Relaxed),
        ip,
        port: req.listening_port,
        state: AtomicU8::new(state),
        ack_offset: AtomicI64::new(0),
        ack_ms: AtomicU64::new(clock::now_ms()),
        tx,
        alive: AtomicBool::new(true),
        kill: req.kill.clone(),
    });
    (link, rx)
}

/// Serve a replica that sent SYNC or PSYNC. Returns when the replica
/// disconnects or the server stops.
pub async fn serve_replica(
    srv: Arc<Server>,
    rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    req: SyncRequest,
) {
    if super::is_replica(&srv) && !srv.repl.link.up.load(Ordering::Relaxed) {
        let _ = wr
            .write_all(b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n")
            .await;
        return;
    }
    if req.psync {
        if let Some((link, rx)) = try_continue(&srv, &mut wr, &req).await {
            run_link(&srv, link, rd, wr, rx, false).await;
            return;
        }
    }
    let Some((link, rx, diskless)) = full_sync(&srv, &mut wr, &req).await else {
        return;
    };
    // After a diskless transfer the replica only knows the payload ended
    // when its last 40 bytes are the EOF mark, so (like Redis) nothing more
    // is sent until its first REPLCONF ACK says it finished loading.
    run_link(&srv, link, rd, wr, rx, diskless).await;
}

/// +CONTINUE when the replica's history is ours and still in the backlog.
async fn try_continue(
    srv: &Arc<Server>,
    wr: &mut OwnedWriteHalf,
    req: &SyncRequest,
) -> Option<(Arc<ReplicaLink>, Rx)> {
    let repl = &srv.repl;
    let (link, rx) = new_link(srv, req, STATE_ONLINE);
    let (replid, tail) = {
        let mut c = repl.core.lock();
        let ours =
            req.replid == c.replid || (req.replid == c.replid2 && req.offset <= c.second_offset);
        let tail = if ours {
            c.backlog.as_ref().and_then(|b| b.since(req.offset))
        } else {
            None
        };
        let Some(tail) = tail else {
            if req.replid != "?" {
                repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    "Partial resynchronization not accepted (replid {} offset {})",
                    req.replid,
                    req.offset
                );
            }
            return None;
        };
        c.replicas.push(link.clone());
        (c.replid.clone(), tail)
    };
    repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
    link.ack_offset.store(req.offset - 1, Ordering::Relaxed);
    let line = if req.capa_psync2 {
        format!("+CONTINUE {replid}\r\n")
    } else {
        "+CONTINUE\r\n".to_string()
    };
    tracing::info!(
        "Partial resynchronization request from {} accepted, sending {} bytes of backlog",
        req.addr,
        tail.len()
    );
    if wr.write_all(line.as_bytes()).await.is_err() || wr.write_all(&tail).await.is_err() {
        repl.remove_link(link.id);
        return None;
    }
    Some((link, rx))
}

/// Runs inside the fork's gate: register the link at the snapshot point.
/// Returns (replid, offset) for +FULLRESYNC.
fn attach_at_fork(srv: &Server, link: &Arc<ReplicaLink>) -> (String, i64) {
    let mut c = srv.repl.core.lock();
    if c.backlog.is_none() {
        // First replica of a master without history: a fresh replid, as
        // Redis does when it creates the backlog.
        if c.master.is_none() {
            c.replid = super::new_replid();
            c.replid2 = super::NULL_REPLID.to_string();
            c.second_offset = -1;
        }
        let off = c.offset;
        c.backlog = Some(Backlog::new(super::backlog_size(srv), off));
    }
    // The replica starts mid-stream: force a SELECT before the next write.
    c.seldb = -1;
    c.replicas.push(link.clone());
    (c.replid.clone(), c.offset)
}

async fn full_sync(
    srv: &Arc<Server>,
    wr: &mut OwnedWriteHalf,
    req: &SyncRequest,
) -> Option<(Arc<ReplicaLink>, Rx, bool)> {
    srv.repl.sync_full.fetch_add(1, Ordering::Relaxed);
    super::ensure_sink(srv);
    let diskless = req.capa_eof && srv.config.get_bool("repl-diskless-sync");
    let (link, rx) = new_link(srv, req, STATE_WAIT_BGSAVE);
    if diskless {
        let delay = srv.config.get_i64("repl-diskless-sync-delay").max(0);
        for _ in 0..delay {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if wr.write_all(b"\n").await.is_err() {
                return None;
            }
        }
    }
    let ok = if diskless {
        send_diskless(srv, wr, req, &link).await
    } else {
        send_disk(srv, wr, req, &link).await
    };
    if !ok {
        srv.repl.remove_link(link.id);
        return None;
    }
    link.state.store(STATE_ONLINE, Ordering::Relaxed);
    link.ack_ms.store(clock::now_ms(), Ordering::Relaxed);
    tracing::info!("Synchronization with replica {} succeeded", req.addr);
    Some((link, rx, diskless))
}

fn fullresync_line(req: &SyncRequest, ids: &(String, i64)) -> Option<String> {
    req.psync
        .then(|| format!("+FULLRESYNC {} {}\r\n", ids.0, ids.1))
}

async fn send_disk(
    srv: &Arc<Server>,
    wr: &mut OwnedWriteHalf,
    req: &SyncRequest,
    link: &Arc<ReplicaLink>,
) -> bool {
    let path = std::env::temp_dir().join(format!(
        "shoal-repl-{}-{}.rdb",
        std::process::id(),
        rand::random::<u32>()
    ));
    let ids = Arc::new(parking_lot::Mutex::new((String::new(), 0i64)));
    let pid = {
        let (srv2, link2, ids2) = (srv.clone(), link.clone(), ids.clone());
        crate::persistence::save::fork_snapshot(srv, path.clone(), false, move || {
            *ids2.lock() = attach_at_fork(&srv2, &link2);
        })
    };
    let Ok(pid) = pid else {
        tracing::warn!("Can't fork for replica full sync");
        return false;
    };
    tracing::info!("Starting BGSAVE for SYNC with target: disk");
    let ids = ids.lock().clone();
    if let Some(line) = fullresync_line(req, &ids) {
        if wr.write_all(line.as_bytes()).await.is_err() {
            return false;
        }
    }
    // Newlines keep the replica's link alive while the snapshot is written.
    let mut done = tokio::task::spawn_blocking(move || crate::util::fork::wait_child(pid));
    let ok = loop {
        tokio::select! {
            r = &mut done => break r.unwrap_or(false),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if wr.write_all(b"\n").await.is_err() {
                    break false;
                }
            }
        }
    };
    let sent = ok && send_file(wr, &path, link).await;
    let _ = std::fs::remove_file(&path);
    sent
}

async fn send_file(wr: &mut OwnedWriteHalf, path: &std::path::Path, link: &ReplicaLink) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(meta) = f.metadata() else {
        return false;
    };
    link.state.store(STATE_SEND_BULK, Ordering::Relaxed);
    let header = format!("${}\r\n", meta.len());
    if wr.write_all(header.as_bytes()).await.is_err() {
        return false;
    }
    let (mut rx, pump) = pump(f, || true);
    let mut ok = true;
    while let Some(chunk) = rx.recv().await {
        if ok && wr.write_all(&chunk).await.is_err() {
            ok = false;
        }
    }
    ok && pump.await.unwrap_or(false)
}

/// Read `src` to its end on a blocking thread, in chunks, then run `done`
/// (reaping the snapshot child) and return its result.
fn pump<R: std::io::Read + Send + 'static>(
    mut src: R,
    done: impl FnOnce() -> bool + Send + 'static,
) -> (mpsc::Receiver<Vec<u8>>, tokio::task::JoinHandle<bool>) {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(8);
    let handle = tokio::task::spawn_blocking(move || {
        let mut read_ok = true;
        loop {
            let mut chunk = vec![0u8; 1 << 16];
            match src.read(&mut chunk) {
                Ok(0) => break,
                Err(_) => {
                    read_ok = false;
                    break;
                }
                Ok(n) => {
                    chunk.truncate(n);
                    if tx.blocking_send(chunk).is_err() {
                        break;
                    }
                }
            }
        }
        drop(src);
        done() && read_ok
    });
    (rx, handle)
}

async fn send_diskless(
    srv: &Arc<Server>,
    wr: &mut OwnedWriteHalf,
    req: &SyncRequest,
    link: &Arc<ReplicaLink>,
) -> bool {
    let Ok((reader, writer)) = std::io::pipe() else {
        return false;
    };
    let ids = Arc::new(parking_lot::Mutex::new((String::new(), 0i64)));
    let pid = {
        let (srv2, link2, ids2) = (srv.clone(), link.clone(), ids.clone());
        crate::persistence::save::fork_snapshot_stream(srv, writer, move || {
            *ids2.lock() = attach_at_fork(&srv2, &link2);
        })
    };
    let Ok(pid) = pid else {
        tracing::warn!("Can't fork for replica full sync");
        return false;
    };
    tracing::info!("Starting BGSAVE for SYNC with target: replicas sockets");
    let ids = ids.lock().clone();
    let mark = super::new_replid();
    let mut head = fullresync_line(req, &ids).unwrap_or_default();
    head.push_str(&format!("$EOF:{mark}\r\n"));
    link.state.store(STATE_SEND_BULK, Ordering::Relaxed);
    let (mut rx, pump) = pump(reader, move || crate::util::fork::wait_child(pid));
    let mut ok = wr.write_all(head.as_bytes()).await.is_ok();
    while let Some(chunk) = rx.recv().await {
        if ok && wr.write_all(&chunk).await.is_err() {
            ok = false;
        }
    }
    let child_ok = pump.await.unwrap_or(false);
    ok && child_ok && wr.write_all(mark.as_bytes()).await.is_ok()
}

/// Stream writes to an online replica and read its REPLCONF ACKs.
async fn run_link(
    srv: &Arc<Server>,
    link: Arc<ReplicaLink>,
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    mut rx: Rx,
    mut wait_ack: bool,
) {
    let mut buf = BytesMut::with_capacity(4096);
    let mut parser = RequestParser::new();
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = srv.shutdown.cancelled() => break,
            _ = link.kill.cancelled() => break,
            msg = rx.recv(), if !wait_ack => {
                let Some(m) = msg else { break };
                out.clear();
                out.extend_from_slice(&m);
                while out.len() < (1 << 20) {
                    match rx.try_recv() {
                        Ok(more) => out.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                if wr.write_all(&out).await.is_err() {
                    break;
                }
            }
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(_) => match read_acks(srv, &link, &mut parser, &mut buf) {
                    None => break,
                    Some(n) => wait_ack &= n == 0,
                },
            },
            _ = tick.tick() => {
                let timeout = srv.config.get_i64("repl-timeout").max(1) as u64 * 1000;
                let idle = clock::now_ms().saturating_sub(link.ack_ms.load(Ordering::Relaxed));
                if idle > timeout {
                    tracing::warn!("Disconnecting timedout replica: {}:{}", link.ip, link.port);
                    break;
                }
            }
        }
    }
    link.alive.store(false, Ordering::Relaxed);
    srv.repl.remove_link(link.id);
    tracing::info!("Connection with replica {}:{} lost.", link.ip, link.port);
}

/// Handle what a replica sends on its link: REPLCONF ACK <offset>.
/// Returns how many ACKs were read, None on a protocol error.
fn read_acks(
    srv: &Server,
    link: &ReplicaLink,
    parser: &mut RequestParser,
    buf: &mut BytesMut,
) -> Option<usize> {
    let mut acks = 0;
    let limits = ParseLimits {
        max_bulk_len: 1 << 20,
        authenticated: true,
    };
    loop {
        match parser.parse(buf, limits) {
            Ok(Some(argv)) => {
                let is_ack = argv.len() >= 3
                    && argv[0].eq_ignore_ascii_case(b"replconf")
                    && argv[1].eq_ignore_ascii_case(b"ack");
                if is_ack {
                    let off = std::str::from_utf8(&argv[2])
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok());
                    if let Some(off) = off {
                        if off > link.ack_offset.load(Ordering::Relaxed) {
                            link.ack_offset.store(off, Ordering::Relaxed);
                        }
                    }
                    link.ack_ms.store(clock::now_ms(), Ordering::Relaxed);
                    srv.repl.acks.notify_waiters();
                    acks += 1;
                }
            }
            Ok(None) => return Some(acks),
            Err(_) => return None,
        }
    }
}

/// Once a second: PING replicas every repl-ping-replica-period, release
/// the backlog after repl-backlog-ttl without replicas.
pub fn spawn_cron(srv: Arc<Server>) {
    tokio::spawn(async move {
        let mut secs: i64 = 0;
        loop {
            tokio::select! {
                _ = srv.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            secs += 1;
            let period = srv.config.get_i64("repl-ping-replica-period").max(1);
            let has_replicas = !srv.repl.replicas().is_empty();
            if has_replicas && secs % period == 0 && srv.pause.lock().is_none() {
                srv.repl.feed_dbless(&[b"ping"]);
            }
            backlog_ttl(&srv);
            expire_local_keys(&srv);
            super::on_backlog_size_change(&srv);
        }
    });
}

fn backlog_ttl(srv: &Server) {
    let ttl = srv.config.get_i64("repl-backlog-ttl");
    let mut c = srv.repl.core.lock();
    let idle = clock::now_ms().saturating_sub(c.no_replicas_since_ms);
    if ttl > 0
        && c.master.is_none()
        && c.replicas.is_empty()
        && c.backlog.is_some()
        && idle > ttl as u64 * 1000
    {
        c.replid = super::new_replid();
        c.replid2 = super::NULL_REPLID.to_string();
        c.second_offset = -1;
        c.backlog = None;
        tracing::info!("Replication backlog freed after {ttl} seconds without connected replicas.");
    }
}

/// A writable replica expires the keys its own clients gave a TTL to
/// (never those of the master's stream).
fn expire_local_keys(srv: &Server) {
    let ks = &srv.ks;
    if !ks.is_replica() {
        ks.replica_ttls.clear();
        return;
    }
    let now = clock::now_ms();
    for (db_index, key) in ks.replica_ttls.take() {
        if db_index >= ks.db_count() {
            continue;
        }
        let db = ks.db(db_index);
        let mut g = crate::keyspace::KeyGuards::lock(ks, &db, now, &[&key], false);
        let at = g.peek_raw(&key).map(|e| e.expire_at);
        match at {
            Some(at) if at != 0 && at <= now => {
                g.expire_key(&key);
            }
            Some(at) if at != 0 => {
                drop(g);
                ks.replica_ttls.put_back(db_index, key);
            }
            _ => {}
        }
    }
}
