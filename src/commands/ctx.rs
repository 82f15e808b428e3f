//! `Ctx`: everything a handler may reach. Handlers never see sockets,
//! tasks or files; they get the server state, their session, the clock
//! read once for this command, and helpers to lock keys.

use std::sync::Arc;

use crate::command::CommandMeta;
use crate::keyspace::{Db, KeyGuards, Keyspace};
use crate::server::session::Session;
use crate::server::Server;

pub struct Ctx<'a> {
    pub srv: &'a Arc<Server>,
    pub sess: &'a mut Session,
    /// Unix time in ms, read once per command (Redis's cached mstime).
    pub now_ms: u64,
    /// The row of the command being executed.
    pub meta: &'static CommandMeta,
    /// True while running inside EXEC (gate already held exclusively).
    pub in_exec: bool,
}

impl<'a> Ctx<'a> {
    /// The keyspace.
    pub fn ks(&self) -> &'a Keyspace {
        &self.srv.ks
    }

    /// The client's selected database.
    pub fn db(&self) -> Arc<Db> {
        self.srv.ks.db(self.sess.db)
    }

    /// Take the keyspace gate exclusively for a whole-keyspace operation
    /// (FLUSHALL, SWAPDB); `None` inside EXEC, which already holds it.
    pub fn exclusive(&self) -> Option<parking_lot::RwLockWriteGuard<'a, ()>> {
        if self.in_exec {
            None
        } else {
            Some(self.srv.ks.gate.write())
        }
    }

    /// Lock the slots of `keys` in `db` (ascending slot order). The guard
    /// borrows only the keyspace and `db`, not the context.
    pub fn lock<'b, K: AsRef<[u8]>>(&self, db: &'b Db, keys: &[K]) -> KeyGuards<'b>
    where
        'a: 'b,
    {
        let srv: &'a Arc<Server> = self.srv;
        KeyGuards::lock(&srv.ks, db, self.now_ms, keys, self.in_exec)
    }
}
