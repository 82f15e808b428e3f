//! Replication (Redis 7.0 PSYNC2 protocol), both roles.
//!
//! - `backlog.rs`: the ring of recent stream bytes served to PSYNC.
//! - `primary.rs`: answering SYNC/PSYNC (+FULLRESYNC with a disk or
//!   diskless `$EOF:` RDB transfer, +CONTINUE from the backlog) and
//!   streaming writes to replica links, reading their REPLCONF ACKs.
//! - `replica.rs`: REPLICAOF: handshake, RDB load, applying the master's
//!   stream through the ordinary command path, ACKs, reconnects.
//! - `wait.rs`: WAIT and min-replicas-to-write.
//!
//! State shared by both roles lives in `Replication` (one per server):
//! replid/replid2, master_repl_offset, second_repl_offset, the backlog,
//! the selected db of the stream and the attached replica links. Lock
//! order: the Propagator's mutex may be held when `Replication::core` is
//! taken (the stream sink), never the reverse.
//!
//! Narrow API used by cluster failover: `follow`, `promote`, `repl_offset`,
//! `is_replica`, `master_link_down_since`.

pub mod backlog;
pub mod primary;
pub mod replica;
pub mod wait;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::protocol::{Reply, RespVersion};
use crate::server::propagate::Sink;
use crate::server::Server;
use crate::util::clock;
use backlog::Backlog;

pub const NULL_REPLID: &str = "0000000000000000000000000000000000000000";

/// A fresh random 40-hex-digit replication id.
pub fn new_replid() -> String {
    (0..40)
        .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
        .collect()
}

/// What a replica announced before PSYNC (REPLCONF) and what it asked.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// PSYNC (true) or the old SYNC.
    pub psync: bool,
    pub replid: String,
    /// PSYNC offset: the first byte the replica wants.
    pub offset: i64,
    pub listening_port: u16,
    pub ip: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// Peer address (ip:port) of the connection.
    pub addr: String,
    /// The connection's kill switch (CLIENT KILL TYPE replica).
    pub kill: CancellationToken,
}

/// States shown in INFO's slaveN lines.
pub const STATE_WAIT_BGSAVE: u8 = 0;
pub const STATE_SEND_BULK: u8 = 1;
pub const STATE_ONLINE: u8 = 2;

/// One attached replica (primary side).
pub struct ReplicaLink {
    pub id: u64,
    pub ip: String,
    pub port: u16,
    pub state: AtomicU8,
    /// Offset from the replica's last REPLCONF ACK.
    pub ack_offset: AtomicI64,
    pub ack_ms: AtomicU64,
    tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
    pub alive: AtomicBool,
    pub kill: CancellationToken,
}

/// The master a replica follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

struct Core {
    replid: String,
    replid2: String,
    offset: i64,
    second_offset: i64,
    backlog: Option<Backlog>,
    /// Database of the last SELECT in the stream; -1 forces a new SELECT.
    seldb: i64,
    replicas: Vec<Arc<ReplicaLink>>,
    no_replicas_since_ms: u64,
    master: Option<MasterAddr>,
    /// Cancels the running replica task.
    task: Option<CancellationToken>,
}

impl Core {
    /// Append bytes to the stream: backlog, offset, every replica link.
    fn feed(&mut self, data: Bytes) {
        if let Some(b) = self.backlog.as_mut() {
            b.feed(&data);
        }
        self.offset += data.len() as i64;
        for r in &self.replicas {
            if r.tx.send(data.clone()).is_err() {
                r.alive.store(false, Ordering::Relaxed);
            }
        }
    }

    fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, new_replid());
        self.second_offset = self.offset + 1;
    }
}

/// Link state of the replica role (INFO, failover data age).
#[derive(Default)]
pub struct LinkState {
    pub up: AtomicBool,
    pub sync_in_progress: AtomicBool,
    /// Unix ms of the last byte received from the master.
    pub last_io_ms: AtomicU64,
    /// Unix ms when the link went down (0: never up).
    pub down_since_ms: AtomicU64,
    /// Bytes read from the master stream (slave_read_repl_offset).
    pub read_offset: AtomicI64,
    pub transfer_size: AtomicI64,
    /// Database selected by the master's stream: it survives a reconnect
    /// (+CONTINUE does not repeat SELECT), as Redis's cached master does.
    pub stream_db: std::sync::atomic::AtomicUsize,
    pub transfer_read: AtomicI64,
}

/// Replication state of one server.
pub struct Replication {
    core: Mutex<Core>,
    sink_registered: AtomicBool,
    /// Woken when a replica ACKs (WAIT) or the replica set changes.
    pub acks: tokio::sync::Notify,
    pub link: LinkState,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    next_link_id: AtomicU64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            core: Mutex::new(Core {
                replid: new_replid(),
                replid2: NULL_REPLID.to_string(),
                offset: 0,
                second_offset: -1,
                backlog: None,
                seldb: -1,
                replicas: Vec::new(),
                no_replicas_since_ms: clock::now_ms(),
                master: None,
                task: None,
            }),
            sink_registered: AtomicBool::new(false),
            acks: tokio::sync::Notify::new(),
            link: LinkState::default(),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            next_link_id: AtomicU64::new(1),
        }
    }
}

/// The Propagator sink that turns applied writes into stream bytes (only
/// on a top-level master: a replica proxies its master's bytes instead).
struct StreamSink(Arc<Replication>);

pub(crate) fn encode_cmd(out: &mut BytesMut, argv: &[Bytes]) {
    Reply::Array(argv.iter().map(|a| Reply::Bulk(a.clone())).collect())
        .encode(RespVersion::Resp2, out);
}

impl Sink for StreamSink {
    fn feed(&self, db: usize, cmds: &[Vec<Bytes>]) {
        self.0.feed_cmds(db, cmds);
    }
}

impl Replication {
    /// Encode commands into the stream, with a SELECT when the db changes
    /// (top-level master only: a replica proxies its master's bytes).
    fn feed_cmds(&self, db: usize, cmds: &[Vec<Bytes>]) {
        let mut core = self.core.lock();
        if core.master.is_some() || core.backlog.is_none() {
            return;
        }
        let mut out = BytesMut::new();
        if core.seldb != db as i64 {
            encode_cmd(
                &mut out,
                &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())],
            );
            core.seldb = db as i64;
        }
        for c in cmds {
            encode_cmd(&mut out, c);
        }
        core.feed(out.freeze());
    }
}

/// A command that goes to replicas but not to the AOF (PUBLISH).
pub fn propagate_repl_only(srv: &Server, db: usize, argv: &[Bytes]) {
    srv.repl.feed_cmds(db, &[argv.to_vec()]);
}

/// Snapshot of the ids and offsets (INFO, ROLE, failover).
#[derive(Debug, Clone)]
pub struct Ids {
    pub replid: String,
    pub replid2: String,
    pub offset: i64,
    pub second_offset: i64,
    pub backlog_active: bool,
    pub backlog_first: i64,
    pub backlog_histlen: i64,
    pub master: Option<MasterAddr>,
}

impl Replication {
    pub fn ids(&self) -> Ids {
        let c = self.core.lock();
        Ids {
            replid: c.replid.clone(),
            replid2: c.replid2.clone(),
            offset: c.offset,
            second_offset: c.second_offset,
            backlog_active: c.backlog.is_some(),
            backlog_first: c.backlog.as_ref().map_or(0, |b| b.first_byte_offset()),
            backlog_histlen: c.backlog.as_ref().map_or(0, |b| b.histlen() as i64),
            master: c.master.clone(),
        }
    }

    pub fn master(&self) -> Option<MasterAddr> {
        self.core.lock().master.clone()
    }

    /// Attached replica links (INFO, ROLE, WAIT).
    pub fn replicas(&self) -> Vec<Arc<ReplicaLink>> {
        self.core.lock().replicas.clone()
    }

    fn remove_link(&self, id: u64) {
        let mut c = self.core.lock();
        c.replicas.retain(|r| r.id != id);
        if c.replicas.is_empty() {
            c.no_replicas_since_ms = clock::now_ms();
        }
        drop(c);
        self.acks.notify_waiters();
    }

    /// Feed raw stream bytes (the replica proxying its master's stream,
    /// or PING / REPLCONF GETACK on a master).
    pub fn feed_raw(&self, data: Bytes) {
        self.core.lock().feed(data);
    }

    /// Feed one command that carries no db (PING, REPLCONF GETACK): no
    /// SELECT is emitted, as Redis passes its current stream db.
    fn feed_dbless(&self, argv: &[&'static [u8]]) {
        let mut c = self.core.lock();
        if c.master.is_some() || c.backlog.is_none() {
            return;
        }
        let mut out = BytesMut::new();
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::from_static(a)).collect();
        encode_cmd(&mut out, &argv);
        c.feed(out.freeze());
    }

    fn resize_backlog(&self, size: usize) {
        if let Some(b) = self.core.lock().backlog.as_mut() {
            b.resize(size);
        }
    }
}

fn backlog_size(srv: &Server) -> usize {
    srv.config.get_i64("repl-backlog-size").max(0) as usize
}

/// Register the stream sink once (lazily, so a server that never had a
/// replica pays nothing per write).
fn ensure_sink(srv: &Server) {
    if !srv.repl.sink_registered.swap(true, Ordering::AcqRel) {
        srv.ks
            .propagator
            .add_sink(Arc::new(StreamSink(srv.repl.clone())));
    }
}

// ---- The narrow API (cluster failover, REPLICAOF, INFO) ----

/// Become a replica of `host:port` (REPLICAOF host port). A no-op when
/// already following that master.
pub fn follow(srv: &Arc<Server>, host: &str, port: u16) {
    let want = MasterAddr {
        host: host.to_string(),
        port,
    };
    let token = CancellationToken::new();
    {
        let mut c = srv.repl.core.lock();
        if c.master.as_ref() == Some(&want) {
            return;
        }
        if let Some(t) = c.task.take() {
            t.cancel();
        }
        c.master = Some(want.clone());
        c.task = Some(token.clone());
        // Our own history is the "cached master": PSYNC with our replid and
        // offset lets a promoted former replica continue us (psync2). Our
        // replicas stay: they are dropped only if that history ends (a new
        // replid on +CONTINUE, or a full sync), as in Redis 7.0.
    }
    // In cluster mode the role lives in nodes.conf, never in `replicaof`.
    if srv.cluster.is_none() {
        srv.config
            .store("replicaof", format!("{} {}", want.host, want.port));
    }
    srv.ks.set_replica(true);
    srv.repl.link.stream_db.store(0, Ordering::Relaxed);
    srv.repl.link.up.store(false, Ordering::Relaxed);
    srv.repl
        .link
        .down_since_ms
        .store(clock::now_ms(), Ordering::Relaxed);
    tracing::info!("Connecting to MASTER {}:{}", want.host, want.port);
    replica::spawn(srv.clone(), want, token);
}

/// Stop following a master (REPLICAOF NO ONE): a new replid, the old one
/// kept as replid2 up to our offset so former siblings can PSYNC with us.
pub fn promote(srv: &Arc<Server>) {
    let replicas = {
        let mut c = srv.repl.core.lock();
        if c.master.is_none() {
            return;
        }
        if let Some(t) = c.task.take() {
            t.cancel();
        }
        c.master = None;
        c.shift_replid();
        c.seldb = -1;
        if c.backlog.is_none() {
            let off = c.offset;
            c.backlog = Some(Backlog::new(backlog_size(srv), off));
        }
        std::mem::take(&mut c.replicas)
    };
    // Sub-replicas reconnect and learn the new replid with +CONTINUE.
    for r in replicas {
        r.kill.cancel();
    }
    ensure_sink(srv);
    if srv.cluster.is_none() {
        srv.config.store("replicaof", String::new());
    }
    srv.ks.set_replica(false);
    srv.repl.link.up.store(false, Ordering::Relaxed);
    srv.repl
        .link
        .sync_in_progress
        .store(false, Ordering::Relaxed);
    tracing::info!("MASTER MODE enabled");
}

/// The replication offset: processed stream offset on a replica (the
/// election rank), master_repl_offset on a master.
pub fn repl_offset(srv: &Server) -> i64 {
    srv.repl.core.lock().offset
}

pub fn is_replica(srv: &Server) -> bool {
    srv.repl.core.lock().master.is_some()
}

/// Unix ms since which the link with the master is down; None when not a
/// replica or when the link is up.
pub fn master_link_down_since(srv: &Server) -> Option<u64> {
    if !is_replica(srv) || srv.repl.link.up.load(Ordering::Relaxed) {
        return None;
    }
    Some(srv.repl.link.down_since_ms.load(Ordering::Relaxed))
}

/// Unix ms of the last byte from the master (0 if none yet).
pub fn master_last_io_ms(srv: &Server) -> u64 {
    srv.repl.link.last_io_ms.load(Ordering::Relaxed)
}

/// Start-up: the `replicaof` directive.
pub fn start(srv: &Arc<Server>) {
    if let Some((host, port)) = configured_master(&srv.config) {
        follow(srv, &host, port);
    }
    primary::spawn_cron(srv.clone());
}

/// The master named by the `replicaof` directive (None for "no one" or
/// when unset).
pub fn configured_master(cfg: &crate::config::Config) -> Option<(String, u16)> {
    let v = cfg.get("replicaof");
    let mut it = v.split_whitespace();
    let (host, port) = (it.next()?, it.next()?);
    if host.eq_ignore_ascii_case("no") {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

/// CONFIG SET repl-backlog-size.
pub fn on_backlog_size_change(srv: &Server) {
    srv.repl.resize_backlog(backlog_size(srv));
}
