//! Per-connection state owned by the connection task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::clients::ClientInfo;
use crate::keyspace::Keyspace;
use crate::protocol::{Reply, RespVersion};

/// A command queued inside MULTI.
#[derive(Debug, Clone)]
pub struct Queued {
    pub argv: Vec<Bytes>,
}

/// CLIENT REPLY mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the current command's reply.
    Skip,
}

/// A blocking command waiting for data (BLPOP and friends).
pub struct PendingBlock {
    /// Waiter id in the keyspace's blocking registry.
    pub id: u64,
    pub rx: tokio::sync::oneshot::Receiver<Reply>,
    /// None: block forever.
    pub timeout: Option<std::time::Duration>,
    /// Reply sent when the timeout fires.
    pub timeout_reply: Reply,
    /// The keys waited on (cluster mode redirects the client when their
    /// slot moves away).
    pub keys: Vec<bytes::Bytes>,
    /// The blocked command's name: an error that ends the wait counts as
    /// its failed call (INFO commandstats).
    pub command: &'static str,
}

/// State of one client connection.
pub struct Session {
    pub id: u64,
    pub info: Arc<ClientInfo>,
    pub db: usize,
    pub resp: RespVersion,
    pub authenticated: bool,
    /// Commands queued since MULTI; `None` when not in a transaction.
    pub multi: Option<Vec<Queued>>,
    /// A queued command failed validation: EXEC must abort.
    pub multi_error: bool,
    pub watched: Vec<(usize, Box<[u8]>)>,
    pub watch_dirty: Arc<AtomicBool>,
    pub close_after_reply: bool,
    pub reply_mode: ReplyMode,
    pub monitor: bool,
    /// Set by a blocking command that found no data.
    pub pending_block: Option<PendingBlock>,
    /// Out-of-band messages for this connection (pub/sub, MONITOR).
    pub push: tokio::sync::mpsc::UnboundedSender<bytes::Bytes>,
    /// Bytes sent through `push` and not yet written to the socket.
    pub push_pending: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub push_soft_since: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub subs: std::collections::BTreeSet<Bytes>,
    pub psubs: std::collections::BTreeSet<Bytes>,
    pub ssubs: std::collections::BTreeSet<Bytes>,
    /// The PubSub shard-drop count `ssubs` was last checked against.
    pub ssubs_checked: u64,
    /// SYNC / PSYNC received: the connection becomes a replica link.
    pub replica_sync: Option<crate::replication::SyncRequest>,
    /// What REPLCONF announced before SYNC/PSYNC.
    pub repl_hello: crate::replication::SyncRequest,
    /// The connection applying our master's replication stream.
    pub is_master: bool,
    /// ASKING was sent: the next command may touch an importing slot.
    pub asking: bool,
    /// READONLY: reads of the master's slots are served by this replica.
    pub readonly: bool,
    /// While the connection runs a batch of pipelined commands: the end of
    /// the previous command, reused as the start of the next one so each
    /// command costs one clock read (None between batches).
    pub batch_clock: Option<std::time::Instant>,
    /// The name last published in `info.last_cmd` (saves its mutex when
    /// the client repeats a command).
    pub last_cmd: &'static str,
    /// The client a Lua script's commands run as.
    pub in_script: bool,
}

impl Session {
    pub fn new(
        info: Arc<ClientInfo>,
        authenticated: bool,
        push: tokio::sync::mpsc::UnboundedSender<bytes::Bytes>,
    ) -> Session {
        Session {
            id: info.id,
            info,
            db: 0,
            resp: RespVersion::Resp2,
            authenticated,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            close_after_reply: false,
            reply_mode: ReplyMode::On,
            monitor: false,
            pending_block: None,
            push,
            push_pending: Default::default(),
            push_soft_since: Default::default(),
            subs: Default::default(),
            psubs: Default::default(),
            ssubs: Default::default(),
            ssubs_checked: 0,
            replica_sync: None,
            repl_hello: Default::default(),
            is_master: false,
            asking: false,
            readonly: false,
            batch_clock: None,
            last_cmd: "NULL",
            in_script: false,
        }
    }

    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Leave MULTI state without running anything.
    pub fn end_multi(&mut self) {
        self.multi = None;
        self.multi_error = false;
        self.info.multi.store(-1, Ordering::Relaxed);
    }

    /// Forget every watched key of this client.
    pub fn unwatch_all(&mut self, ks: &Keyspace) {
        let watched = std::mem::take(&mut self.watched);
        ks.watches.unwatch(self.id, &watched);
        self.watch_dirty.store(false, Ordering::Relaxed);
    }

    /// Redis's discardTransaction: MULTI state and WATCHes both go.
    pub fn discard_transaction(&mut self, ks: &Keyspace) {
        self.end_multi();
        self.unwatch_all(ks);
    }

    /// Channel + pattern subscriptions (what RESP2 subscribe mode counts).
    pub fn sub_count(&self) -> usize {
        self.subs.len() + self.psubs.len()
    }

    /// In RESP2 subscribe mode only pub/sub commands, PING, QUIT and RESET run.
    pub fn in_resp2_subscribe_mode(&self) -> bool {
        self.resp == RespVersion::Resp2 && self.sub_count() + self.ssubs.len() > 0
    }
}
