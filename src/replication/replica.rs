//! Replica side: one task per `REPLICAOF host port`.
//!
//! Connect → handshake (PING, AUTH masterauth/masteruser, REPLCONF
//! listening-port / ip-address / capa eof psync2) → PSYNC with our replid
//! and offset+1 (or `? -1` without history) → either +CONTINUE (stream
//! resumes; a new replid moves ours to replid2) or +FULLRESYNC, where the
//! RDB (`$<len>` or diskless `$EOF:<mark>`) is loaded into a fresh
//! keyspace. The stream is then applied through `dispatch::execute` with a
//! master session (same path as clients: stats, WATCH, blocking wakeups),
//! and the consumed bytes are fed verbatim to our own backlog so that
//! sub-replicas and a later promotion keep the same history (PSYNC2).
//! REPLCONF ACK <offset> goes out every second; link loss or repl-timeout
//! silence leads to a reconnect with PSYNC.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::backlog::Backlog;
use super::MasterAddr;
use crate::protocol::{ParseLimits, RequestParser};
use crate::server::session::Session;
use crate::server::Server;
use crate::util::clock;

type Res<T> = Result<T, String>;

/// Start following `master` until `token` is cancelled.
pub fn spawn(srv: Arc<Server>, master: MasterAddr, token: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let r = tokio::select! {
                _ = token.cancelled() => return,
                _ = srv.shutdown.cancelled() => return,
                r = session(&srv, &master, &token) => r,
            };
            if token.is_cancelled() {
                return;
            }
            let link = &srv.repl.link;
            link.sync_in_progress.store(false, Ordering::Relaxed);
            if link.up.swap(false, Ordering::Relaxed) {
                link.down_since_ms.store(clock::now_ms(), Ordering::Relaxed);
                tracing::info!("Connection with master lost.");
            }
            if let Err(e) = r {
                tracing::warn!(
                    "Replication with MASTER {}:{}: {e}",
                    master.host,
                    master.port
                );
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = srv.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    });
}

/// Buffered connection to the master.
struct Link {
    sock: TcpStream,
    /// A duplicate of the socket's fd, to shut it down from another thread.
    dup: Option<std::net::TcpStream>,
    buf: BytesMut,
    timeout: Duration,
}

impl Link {
    async fn fill(&mut self) -> Res<()> {
        match tokio::time::timeout(self.timeout, self.sock.read_buf(&mut self.buf)).await {
            Err(_) => Err("Timeout connecting to the MASTER...".into()),
            Ok(Ok(0)) => Err("connection lost".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
        }
    }

    /// One reply line without its CRLF ("" for a keep-alive newline).
    async fn line(&mut self) -> Res<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let l = self.buf.split_to(i + 1);
                let s = String::from_utf8_lossy(&l[..i]);
                return Ok(s.trim_end_matches('\r').to_string());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("reply line too long".into());
            }
            self.fill().await?;
        }
    }

    async fn command(&mut self, argv: &[&str]) -> Res<String> {
        let mut out = BytesMut::new();
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::from(a.to_string())).collect();
        super::encode_cmd(&mut out, &argv);
        self.sock.write_all(&out).await.map_err(|e| e.to_string())?;
        loop {
            let l = self.line().await?;
            if !l.is_empty() {
                return Ok(l);
            }
        }
    }
}

fn repl_timeout(srv: &Server) -> Duration {
    Duration::from_secs(srv.config.get_i64("repl-timeout").max(1) as u64)
}

async fn connect(srv: &Server, m: &MasterAddr) -> Res<Link> {
    let timeout = repl_timeout(srv);
    let addr = format!("{}:{}", m.host, m.port);
    let sock = match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("Error condition on socket for SYNC: {e}")),
        Err(_) => return Err("Timeout connecting to the MASTER...".into()),
    };
    let _ = sock.set_nodelay(!srv.config.get_bool("repl-disable-tcp-nodelay"));
    let std_sock = sock.into_std().map_err(|e| e.to_string())?;
    let dup = std_sock.try_clone().ok();
    let sock = TcpStream::from_std(std_sock).map_err(|e| e.to_string())?;
    tracing::info!("MASTER <-> REPLICA sync started");
    Ok(Link {
        sock,
        dup,
        buf: BytesMut::with_capacity(64 * 1024),
        timeout,
    })
}

async fn handshake(srv: &Server, l: &mut Link) -> Res<()> {
    let pong = l.command(&["PING"]).await?;
    // An auth error still proves the master is alive; AUTH comes next.
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    let pass = srv.config.get("masterauth");
    if !pass.is_empty() {
        let user = srv.config.get("masteruser");
        let r = if user.is_empty() {
            l.command(&["AUTH", &pass]).await?
        } else {
            l.command(&["AUTH", &user, &pass]).await?
        };
        if r.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    let announced = srv.config.get_i64("replica-announce-port");
    let port = if announced > 0 {
        announced as u16
    } else {
        srv.port()
    };
    // Errors to REPLCONF are not fatal: old masters do not know it.
    l.command(&["REPLCONF", "listening-port", &port.to_string()])
        .await?;
    let ip = srv.config.get("replica-announce-ip");
    if !ip.is_empty() {
        l.command(&["REPLCONF", "ip-address", &ip]).await?;
    }
    l.command(&["REPLCONF", "capa", "eof", "capa", "psync2"])
        .await?;
    Ok(())
}

/// One connection's life: handshake, sync, stream until it breaks.
async fn session(srv: &Arc<Server>, m: &MasterAddr, token: &CancellationToken) -> Res<()> {
    let mut l = connect(srv, m).await?;
    handshake(srv, &mut l).await?;
    let (replid, offset) = {
        let c = srv.repl.core.lock();
        if c.backlog.is_some() {
            (c.replid.clone(), c.offset + 1)
        } else {
            ("?".to_string(), -1)
        }
    };
    tracing::info!("Trying a partial resynchronization (request {replid}:{offset}).");
    let reply = l.command(&["PSYNC", &replid, &offset.to_string()]).await?;
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let (Some(id), Some(off)) = (it.next(), it.next().and_then(|o| o.parse::<i64>().ok()))
        else {
            return Err(format!("bad FULLRESYNC reply '{reply}'"));
        };
        tracing::info!("Full resync from master: {id}:{off}");
        full_sync(srv, &mut l, id, off).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        tracing::info!("Successful partial resynchronization with master.");
        continue_with(srv, rest.trim());
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    let link = &srv.repl.link;
    link.up.store(true, Ordering::Relaxed);
    link.last_io_ms.store(clock::now_ms(), Ordering::Relaxed);
    tracing::info!(
        "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished loading."
    );
    stream(srv, l, token).await
}

/// +CONTINUE [<new replid>]: the master's history continues ours.
fn continue_with(srv: &Server, new_id: &str) {
    let mut c = srv.repl.core.lock();
    if !new_id.is_empty() && new_id != c.replid {
        c.replid2 = std::mem::replace(&mut c.replid, new_id.to_string());
        c.second_offset = c.offset + 1;
        // Sub-replicas must learn the new id too.
        for r in std::mem::take(&mut c.replicas) {
            r.kill.cancel();
        }
    }
    let off = c.offset;
    srv.repl.link.read_offset.store(off, Ordering::Relaxed);
}

/// Receive the RDB payload and load it into a fresh keyspace.
async fn full_sync(srv: &Arc<Server>, l: &mut Link, id: &str, off: i64) -> Res<()> {
    let link = &srv.repl.link;
    link.sync_in_progress.store(true, Ordering::Relaxed);
    let header = loop {
        let h = l.line().await?;
        if !h.is_empty() {
            break h;
        }
    };
    let payload = read_payload(srv, l, &header).await?;
    tracing::info!(
        "MASTER <-> REPLICA sync: receiving {} bytes from master",
        payload.len()
    );
    let srv2 = srv.clone();
    // Redis loads on its main thread and answers other clients (with
    // -LOADING) only every loading-process-events-interval-bytes; a smaller
    // payload is loaded before any other command runs. Here the load holds
    // the keyspace gate, so commands on keys wait for it instead, and only
    // a payload Redis would interrupt makes clients see -LOADING.
    let interval = srv
        .config
        .get_i64("loading-process-events-interval-bytes")
        .max(0) as usize;
    let announce = payload.len() > interval;
    if announce {
        srv.loading.store(true, Ordering::Relaxed);
    }
    let loaded = tokio::task::spawn_blocking(move || load(&srv2, &payload))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    srv.loading.store(false, Ordering::Relaxed);
    link.sync_in_progress.store(false, Ordering::Relaxed);
    let n = loaded?;
    tracing::info!("MASTER <-> REPLICA sync: Finished with success ({n} keys)");
    restart_aof_after_sync(srv);
    let size = super::backlog_size(srv);
    let mut c = srv.repl.core.lock();
    c.replid = id.to_string();
    c.replid2 = super::NULL_REPLID.to_string();
    c.second_offset = -1;
    c.offset = off;
    c.backlog = Some(Backlog::new(size, off));
    // Our sub-replicas hold a history that no longer exists.
    for r in std::mem::take(&mut c.replicas) {
        r.kill.cancel();
    }
    link.read_offset.store(off, Ordering::Relaxed);
    link.stream_db.store(0, Ordering::Relaxed);
    Ok(())
}

/// The AOF described the dataset the full sync just replaced: start it
/// over with a rewrite whose base is the new dataset (Redis
/// restartAOFAfterSYNC), or a restart would lose what the sync brought.
fn restart_aof_after_sync(srv: &Arc<Server>) {
    if !srv.config.get_bool("appendonly") {
        return;
    }
    crate::persistence::aof::stop_appendonly(srv);
    if let Err(e) = crate::persistence::aof::start_appendonly(srv, false) {
        tracing::warn!("Failed enabling the AOF after successful master synchronization! {e}");
    }
}

async fn read_payload(srv: &Server, l: &mut Link, header: &str) -> Res<Vec<u8>> {
    let link = &srv.repl.link;
    let Some(spec) = header.strip_prefix('$') else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$': {header}"
        ));
    };
    if let Some(mark) = spec.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err("bad EOF mark".into());
        }
        link.transfer_size.store(-1, Ordering::Relaxed);
        loop {
            if l.buf.len() >= 40 && l.buf[l.buf.len() - 40..] == mark[..] {
                let n = l.buf.len() - 40;
                let data = l.buf.split_to(n).to_vec();
                l.buf.clear();
                return Ok(data);
            }
            l.fill().await?;
            link.transfer_read
                .store(l.buf.len() as i64, Ordering::Relaxed);
            link.last_io_ms.store(clock::now_ms(), Ordering::Relaxed);
        }
    }
    let len: usize = spec
        .parse()
        .map_err(|_| format!("bad bulk length '{spec}'"))?;
    link.transfer_size.store(len as i64, Ordering::Relaxed);
    l.buf.reserve(len.saturating_sub(l.buf.len()));
    while l.buf.len() < len {
        l.fill().await?;
        link.transfer_read
            .store(l.buf.len().min(len) as i64, Ordering::Relaxed);
        link.last_io_ms.store(clock::now_ms(), Ordering::Relaxed);
    }
    Ok(l.buf.split_to(len).to_vec())
}

/// Flush every database and load the payload, with the gate held.
fn load(srv: &Server, payload: &[u8]) -> Res<u64> {
    let _gate = srv.ks.gate.write();
    for i in 0..srv.ks.db_count() {
        let old = srv.ks.replace_db(i);
        srv.ks
            .watches
            .touch_db(i, |k| old.contains_raw(k).is_some(), |_| None);
        std::thread::spawn(move || drop(old));
    }
    crate::persistence::save::load_bytes(srv, payload, true)
        .map(|(n, _)| n)
        .map_err(|e| format!("Short read or OOM loading DB ({e})"))
}

fn master_session(srv: &Server, m: &MasterAddr) -> Session {
    let info = Arc::new(crate::server::clients::ClientInfo::new(
        srv.clients.next_id(),
        format!("{}:{}", m.host, m.port),
        String::new(),
        -1,
        clock::now_ms(),
    ));
    info.repl_kind
        .store(crate::server::clients::REPL_MASTER, Ordering::Relaxed);
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut sess = Session::new(info, true, tx);
    sess.is_master = true;
    sess.db = srv.repl.link.stream_db.load(Ordering::Relaxed);
    sess
}

async fn send_ack(srv: &Server, l: &mut Link) -> Res<()> {
    let off = super::repl_offset(srv).to_string();
    let mut out = BytesMut::new();
    super::encode_cmd(
        &mut out,
        &[
            Bytes::from_static(b"REPLCONF"),
            Bytes::from_static(b"ACK"),
            Bytes::from(off),
        ],
    );
    l.sock.write_all(&out).await.map_err(|e| e.to_string())
}

/// Apply the master's stream until the link breaks or we are cancelled.
async fn stream(srv: &Arc<Server>, mut l: Link, token: &CancellationToken) -> Res<()> {
    let mut sess = master_session(
        srv,
        &srv.repl.master().unwrap_or(MasterAddr {
            host: String::new(),
            port: 0,
        }),
    );
    srv.clients.register(sess.info.clone());
    let done = CancellationToken::new();
    close_on_kill(srv, &mut l, &sess, &done);
    let r = stream_loop(srv, &mut l, token, &mut sess).await;
    done.cancel();
    srv.clients.unregister(sess.id);
    r
}

/// CLIENT KILL TYPE master must drop the link at once, as Redis frees the
/// client synchronously, even while our runtime is busy (DEBUG SLEEP): a
/// helper thread holding a duplicate of the socket shuts it down.
fn close_on_kill(srv: &Arc<Server>, l: &mut Link, sess: &Session, done: &CancellationToken) {
    let Some(dup) = l.dup.take() else {
        return;
    };
    let handle = tokio::runtime::Handle::current();
    let kill = sess.info.kill.clone();
    let done = done.clone();
    let link = srv.clone();
    std::thread::spawn(move || {
        handle.block_on(async {
            tokio::select! {
                _ = kill.cancelled() => {
                    let _ = dup.shutdown(std::net::Shutdown::Both);
                    // The link is down from now on, however long the
                    // runtime takes to notice (the data age of a replica
                    // failover counts from here, as in Redis).
                    let l = &link.repl.link;
                    if l.up.swap(false, Ordering::Relaxed) {
                        l.down_since_ms.store(clock::now_ms(), Ordering::Relaxed);
                    }
                }
                _ = done.cancelled() => {}
            }
        });
    });
}

async fn stream_loop(
    srv: &Arc<Server>,
    l: &mut Link,
    token: &CancellationToken,
    sess: &mut Session,
) -> Res<()> {
    let mut parser = RequestParser::new();
    let mut raw = BytesMut::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    send_ack(srv, l).await?;
    // Bytes left after the RDB payload are stream bytes.
    raw.extend_from_slice(&l.buf);
    apply(srv, l, &mut parser, &mut raw, sess).await?;
    loop {
        tokio::select! {
            _ = token.cancelled() => return Ok(()),
            _ = sess.info.kill.cancelled() => return Err("master client killed".into()),
            r = l.sock.read_buf(&mut l.buf) => {
                let n = match r {
                    Ok(0) => return Err("connection lost".into()),
                    Ok(n) => n,
                    Err(e) => return Err(e.to_string()),
                };
                let now = clock::now_ms();
                srv.repl.link.last_io_ms.store(now, Ordering::Relaxed);
                sess.info.last_interaction_ms.store(now, Ordering::Relaxed);
                srv.repl.link.read_offset.fetch_add(n as i64, Ordering::Relaxed);
                raw.extend_from_slice(&l.buf[l.buf.len() - n..]);
                apply(srv, l, &mut parser, &mut raw, sess).await?;
            }
            _ = tick.tick() => {
                let idle = clock::now_ms().saturating_sub(srv.repl.link.last_io_ms.load(Ordering::Relaxed));
                if idle > l.timeout.as_millis() as u64 {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
                send_ack(srv, l).await?;
            }
        }
    }
}

/// Execute every complete command in the buffer; feed the consumed bytes
/// to our backlog (and sub-replicas) so offsets match the master's.
async fn apply(
    srv: &Arc<Server>,
    l: &mut Link,
    parser: &mut RequestParser,
    raw: &mut BytesMut,
    sess: &mut Session,
) -> Res<()> {
    let limits = ParseLimits {
        max_bulk_len: i64::MAX,
        authenticated: true,
    };
    let mut consumed = 0usize;
    loop {
        let before = l.buf.len();
        let argv = match parser.parse(&mut l.buf, limits) {
            Ok(Some(a)) => a,
            Ok(None) => break,
            Err(e) => return Err(format!("protocol error from master: {e}")),
        };
        let n = before - l.buf.len();
        if is_getack(&argv) {
            // The ACK covers what was processed before this GETACK.
            if consumed > 0 {
                srv.repl.feed_raw(raw.split_to(consumed).freeze());
                consumed = 0;
            }
            send_ack(srv, l).await?;
        } else if !argv.is_empty() {
            let _ = crate::keyspace::replica_ttl::as_master(|| {
                crate::server::dispatch::execute(srv, sess, &argv)
            });
            if let Some(pb) = sess.pending_block.take() {
                srv.ks.blocking.claim_id(pb.id);
            }
        }
        consumed += n;
    }
    if consumed > 0 {
        srv.repl.feed_raw(raw.split_to(consumed).freeze());
    }
    srv.repl.link.stream_db.store(sess.db, Ordering::Relaxed);
    Ok(())
}

fn is_getack(argv: &[Bytes]) -> bool {
    argv.len() >= 2
        && argv[0].eq_ignore_ascii_case(b"replconf")
        && argv[1].eq_ignore_ascii_case(b"getack")
}
