//! Per-connection state owned by the connection task.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;

use super::clients::ClientInfo;
use crate::protocol::RespVersion;

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
}

impl Session {
    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Session {
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
        }
    }

    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }
}
