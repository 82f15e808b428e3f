//! The client registry: shared, lock-light information about every
//! connection (CLIENT LIST/INFO/KILL, INFO clients) and the kill switch.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

/// Client classes of CLIENT LIST/KILL TYPE (replication ones never occur
/// until replication exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Normal,
    Master,
    Replica,
    Pubsub,
}

impl ClientKind {
    /// Parse a TYPE argument (`slave` is the old name of `replica`).
    pub fn parse(s: &str) -> Option<ClientKind> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientKind::Normal),
            "master" => Some(ClientKind::Master),
            "replica" | "slave" => Some(ClientKind::Replica),
            "pubsub" => Some(ClientKind::Pubsub),
            _ => None,
        }
    }
}

/// Per-connection information visible to other connections.
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    pub created_ms: u64,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub last_cmd: Mutex<&'static str>,
    pub last_interaction_ms: AtomicU64,
    pub db: AtomicUsize,
    pub resp: AtomicUsize,
    /// Commands queued in MULTI, -1 when not in MULTI.
    pub multi: AtomicI64,
    pub qbuf: AtomicUsize,
    pub omem: AtomicUsize,
    pub monitor: AtomicBool,
    pub no_evict: AtomicBool,
    pub sub: AtomicUsize,
    pub psub: AtomicUsize,
    pub ssub: AtomicUsize,
    pub blocked: AtomicBool,
    /// 0, or REPL_MASTER / REPL_REPLICA for replication links.
    pub repl_kind: std::sync::atomic::AtomicU8,
    /// Cancelled by CLIENT KILL / shutdown: the connection task exits.
    pub kill: CancellationToken,
}

/// `ClientInfo::repl_kind` values.
pub const REPL_MASTER: u8 = 1;
pub const REPL_REPLICA: u8 = 2;

impl ClientInfo {
    pub fn new(id: u64, addr: String, laddr: String, fd: i64, now_ms: u64) -> ClientInfo {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created_ms: now_ms,
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            last_cmd: Mutex::new("NULL"),
            last_interaction_ms: AtomicU64::new(now_ms),
            db: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            multi: AtomicI64::new(-1),
            qbuf: AtomicUsize::new(0),
            omem: AtomicUsize::new(0),
            monitor: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            ssub: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            repl_kind: std::sync::atomic::AtomicU8::new(0),
            kill: CancellationToken::new(),
        }
    }

    /// True while subscribed to any channel or pattern (Redis's PUBSUB flag).
    pub fn is_pubsub(&self) -> bool {
        self.sub.load(Ordering::Relaxed)
            + self.psub.load(Ordering::Relaxed)
            + self.ssub.load(Ordering::Relaxed)
            > 0
    }

    /// The client class used by CLIENT LIST/KILL TYPE. Monitors count as
    /// normal clients, as in Redis.
    pub fn kind(&self) -> ClientKind {
        match self.repl_kind.load(Ordering::Relaxed) {
            REPL_MASTER => return ClientKind::Master,
            REPL_REPLICA => return ClientKind::Replica,
            _ => {}
        }
        if self.is_pubsub() {
            ClientKind::Pubsub
        } else {
            ClientKind::Normal
        }
    }

    /// The `flags=` field of CLIENT LIST, letters in Redis's order.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        match self.repl_kind.load(Ordering::Relaxed) {
            REPL_MASTER => f.push('M'),
            REPL_REPLICA => f.push('S'),
            _ => {}
        }
        if self.monitor.load(Ordering::Relaxed) {
            f.push('O');
        }
        if self.is_pubsub() {
            f.push('P');
        }
        if self.multi.load(Ordering::Relaxed) >= 0 {
            f.push('x');
        }
        if self.blocked.load(Ordering::Relaxed) {
            f.push('b');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One CLIENT LIST line (without the trailing newline), Redis 7.0 fields.
    pub fn line(&self, now_ms: u64, current_cmd: Option<&str>) -> String {
        let age = now_ms.saturating_sub(self.created_ms) / 1000;
        let idle = now_ms.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed)) / 1000;
        let cmd = current_cmd.unwrap_or(*self.last_cmd.lock());
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.lock(),
            age,
            idle,
            self.flags(),
            self.db.load(Ordering::Relaxed),
            self.sub.load(Ordering::Relaxed),
            self.psub.load(Ordering::Relaxed),
            self.ssub.load(Ordering::Relaxed),
            self.multi.load(Ordering::Relaxed),
            qbuf,
            0,
            self.omem.load(Ordering::Relaxed),
            qbuf + 16384 + self.omem.load(Ordering::Relaxed),
            cmd,
            self.resp.load(Ordering::Relaxed),
        )
    }
}

/// All connected clients.
#[derive(Default)]
pub struct Clients {
    pub map: DashMap<u64, Arc<ClientInfo>>,
    next_id: AtomicU64,
    pub connected: AtomicUsize,
    pub monitors: AtomicUsize,
}

impl Clients {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn register(&self, info: Arc<ClientInfo>) {
        self.map.insert(info.id, info);
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unregister(&self, id: u64) {
        if self.map.remove(&id).is_some() {
            self.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Snapshot of all clients sorted by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        let mut v: Vec<_> = self.map.iter().map(|e| e.value().clone()).collect();
        v.sort_by_key(|c| c.id);
        v
    }
}
