//! The table behind CLUSTER LINKS: one entry per open bus connection, "to"
//! (outbound, one per known node) or "from" (inbound, attributed to a node
//! once a message names its sender), with its creation time. Entries are
//! removed by a guard when the link's task ends, however it ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::msg::NodeId;
use crate::protocol::Reply;

#[derive(Debug, Clone)]
struct Entry {
    outbound: bool,
    node: Option<NodeId>,
    created_ms: u64,
    /// Cancelled to close the link (DEBUG CLUSTERLINK KILL).
    kill: tokio_util::sync::CancellationToken,
}

/// Registered links.
#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    entries: Mutex<HashMap<u64, Entry>>,
}

/// Removes its link from the registry when dropped.
pub struct LinkGuard {
    reg: Arc<Registry>,
    pub id: u64,
    /// Cancelled when the link must close.
    pub kill: tokio_util::sync::CancellationToken,
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        self.reg.entries.lock().remove(&self.id);
    }
}

impl Registry {
    /// Record a new link; it stays listed while the guard lives.
    pub fn register(
        self: &Arc<Self>,
        outbound: bool,
        node: Option<NodeId>,
        now_ms: u64,
    ) -> LinkGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let kill = tokio_util::sync::CancellationToken::new();
        let entry = Entry {
            outbound,
            node,
            created_ms: now_ms,
            kill: kill.clone(),
        };
        self.entries.lock().insert(id, entry);
        LinkGuard {
            reg: self.clone(),
            id,
            kill,
        }
    }

    /// Close the links of `node`: outbound ones ("to"), inbound ones
    /// ("from"), or both. Returns how many were closed.
    pub fn kill(&self, node: &NodeId, to: bool, from: bool) -> usize {
        let entries = self.entries.lock();
        let mut n = 0;
        for e in entries.values() {
            if e.node.as_ref() == Some(node) && ((e.outbound && to) || (!e.outbound && from)) {
                e.kill.cancel();
                n += 1;
            }
        }
        n
    }

    /// Attribute an inbound link to the node that sent a message on it.
    /// A node has one inbound link: an older one loses its node (Redis
    /// frees it; here it is no longer listed).
    pub fn set_node(&self, id: u64, node: NodeId) {
        let mut entries = self.entries.lock();
        match entries.get(&id) {
            Some(e) if e.node.is_none() => {}
            _ => return,
        }
        for (other, e) in entries.iter_mut() {
            if *other != id && !e.outbound && e.node == Some(node) {
                e.node = None;
            }
        }
        if let Some(e) = entries.get_mut(&id) {
            e.node = Some(node);
        }
    }

    /// CLUSTER LINKS rows for links attributed to a node `known` accepts
    /// (Redis lists only links bound to a node of its table).
    pub fn reply(&self, known: impl Fn(&NodeId) -> bool) -> Vec<Reply> {
        let mut rows: Vec<(u64, Entry)> = self
            .entries
            .lock()
            .iter()
            .filter(|(_, e)| e.node.as_ref().is_some_and(&known))
            .map(|(id, e)| (*id, e.clone()))
            .collect();
        rows.sort_by_key(|(id, _)| *id);
        rows.into_iter()
            .filter_map(|(_, e)| {
                let node = e.node?;
                let f = |k: &'static str, v: Reply| {
                    (Reply::Bulk(bytes::Bytes::from_static(k.as_bytes())), v)
                };
                let dir = if e.outbound { "to" } else { "from" };
                let events = if e.outbound { "rw" } else { "r" };
                Some(Reply::Map(vec![
                    f(
                        "direction",
                        Reply::Bulk(bytes::Bytes::from_static(dir.as_bytes())),
                    ),
                    f(
                        "node",
                        Reply::Bulk(bytes::Bytes::copy_from_slice(
                            super::super::state::id_str(&node).as_bytes(),
                        )),
                    ),
                    f("create-time", Reply::Int(e.created_ms as i64)),
                    f(
                        "events",
                        Reply::Bulk(bytes::Bytes::from_static(events.as_bytes())),
                    ),
                    f("send-buffer-allocated", Reply::Int(0)),
                    f("send-buffer-used", Reply::Int(0)),
                ]))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_remove_their_links_and_inbound_links_get_a_node() {
        let reg = Arc::new(Registry::default());
        let a = NodeId([b'a'; 40]);
        let out = reg.register(true, Some(a), 5);
        let inb = reg.register(false, None, 6);
        assert_eq!(reg.reply(|_| true).len(), 1);
        reg.set_node(inb.id, a);
        assert_eq!(reg.reply(|_| true).len(), 2);
        let newer = reg.register(false, None, 7);
        reg.set_node(newer.id, a);
        assert_eq!(reg.reply(|_| true).len(), 2);
        drop(newer);
        assert_eq!(reg.reply(|_| false).len(), 0);
        drop(out);
        drop(inb);
        assert!(reg.reply(|_| true).is_empty());
    }
}
