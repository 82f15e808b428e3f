//! Hot path: the cluster redirection decision (Redis 7.0 getNodeByQuery +
//! clusterRedirectClient) against an immutable snapshot of slot ownership,
//! published after every cluster state change (one atomic load per command).

use std::collections::{HashMap, HashSet};

use super::state::ClusterState;
use crate::error::RedisError;
use crate::keyspace::{key_slot, SLOTS};

const NONE: u16 = u16::MAX;

/// Routing snapshot.
#[derive(Debug)]
pub struct SlotMap {
    pub ok: bool,
    owners: Box<[u16]>,
    /// `ip:port` (or `hostname:port`) of each node index.
    endpoints: Vec<String>,
    myself: u16,
    /// When myself is a replica: the index of its master.
    my_master: Option<u16>,
    migrating: HashMap<u16, u16>,
    importing: HashSet<u16>,
    pub allow_reads_when_down: bool,
    /// cluster-allow-pubsubshard-when-down.
    pub allow_pubsubshard_when_down: bool,
}

/// Why a command cannot run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    Moved(u16, String),
    Ask(u16, String),
    CrossSlot,
    TryAgain,
    Down,
    DownReadOnly,
    Unbound,
}

impl From<Redirect> for RedisError {
    fn from(r: Redirect) -> RedisError {
        RedisError::raw(match r {
            Redirect::Moved(s, e) => format!("MOVED {s} {e}"),
            Redirect::Ask(s, e) => format!("ASK {s} {e}"),
            Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Redirect::TryAgain => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
            Redirect::Down => "CLUSTERDOWN The cluster is down".into(),
            Redirect::DownReadOnly => {
                "CLUSTERDOWN The cluster is down and only accepts read commands".into()
            }
            Redirect::Unbound => "CLUSTERDOWN Hash slot not served".into(),
        })
    }
}

/// What the routing decision needs to know about the request.
pub struct Query<'a> {
    pub keys: &'a [&'a [u8]],
    pub is_write: bool,
    pub asking: bool,
    pub readonly_client: bool,
    pub is_migrate: bool,
    /// SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH: replicas of the owner serve them
    /// without READONLY, and a migrating slot's channels stay with the
    /// source until SETSLOT NODE (channels are not keys to count).
    pub pubsub_shard: bool,
}

/// cluster-preferred-endpoint-type: how CLUSTER SLOTS and redirections
/// name a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Ip,
    Hostname,
    Unknown,
}

impl Endpoint {
    pub fn from_config(value: &str) -> Endpoint {
        match value {
            "hostname" => Endpoint::Hostname,
            "unknown-endpoint" => Endpoint::Unknown,
            _ => Endpoint::Ip,
        }
    }

    /// The preferred endpoint of a node (Redis getPreferredEndpoint): a
    /// missing hostname is "?", an unknown endpoint "".
    pub fn of<'a>(self, ip: &'a str, hostname: &'a str) -> &'a str {
        match self {
            Endpoint::Ip => ip,
            Endpoint::Hostname if hostname.is_empty() => "?",
            Endpoint::Hostname => hostname,
            Endpoint::Unknown => "",
        }
    }
}

/// Everything a [`SlotMap`] is built from, cheap to compare: when it is
/// unchanged the published snapshot is still right.
#[derive(Debug, PartialEq, Eq)]
pub struct RoutingKey {
    owners_gen: u64,
    ok: bool,
    allow_reads_when_down: bool,
    allow_pubsubshard_when_down: bool,
    endpoint: Endpoint,
    my_master: Option<super::NodeId>,
    migrating: Vec<(u16, super::NodeId)>,
    importing: Vec<u16>,
    /// (id, ip, port, hostname) of every node, in table order.
    nodes: Vec<(super::NodeId, String, u16, String)>,
}

impl RoutingKey {
    pub fn of(st: &ClusterState, allow_reads_when_down: bool, endpoint: Endpoint) -> RoutingKey {
        let me = st.me();
        RoutingKey {
            owners_gen: st.owners_gen,
            ok: st.ok,
            allow_reads_when_down,
            allow_pubsubshard_when_down: st.allow_pubsubshard_when_down,
            endpoint,
            my_master: me.master.filter(|_| me.flags.replica),
            migrating: st.migrating.iter().map(|(s, n)| (*s, *n)).collect(),
            importing: st.importing.keys().copied().collect(),
            nodes: st
                .nodes
                .values()
                .map(|n| (n.id, n.ip.clone(), n.port, n.hostname.clone()))
                .collect(),
        }
    }
}

impl SlotMap {
    /// Build the snapshot from the state, redirections naming nodes by
    /// the preferred endpoint type.
    pub fn build(st: &ClusterState, allow_reads_when_down: bool, endpoint: Endpoint) -> SlotMap {
        let positions: HashMap<super::NodeId, u16> = st
            .nodes
            .keys()
            .enumerate()
            .map(|(i, id)| (*id, i as u16))
            .collect();
        let index = |id: &super::NodeId| positions.get(id).copied().unwrap_or(NONE);
        let endpoints = st
            .nodes
            .values()
            .map(|n| {
                let host = endpoint.of(&n.ip, &n.hostname);
                format!("{host}:{}", n.port)
            })
            .collect();
        // Runs of slots share an owner: remember the last lookup so the
        // build stays cheap (it runs after every state change).
        let mut last: Option<(&super::NodeId, u16)> = None;
        let owners = st
            .owners
            .iter()
            .map(|o| match (o, last) {
                (None, _) => NONE,
                (Some(id), Some((l, i))) if l == id => i,
                (Some(id), _) => {
                    let i = index(id);
                    last = Some((id, i));
                    i
                }
            })
            .collect();
        let me = st.me();
        let my_master = if me.flags.replica {
            me.master.as_ref().map(index)
        } else {
            None
        };
        SlotMap {
            ok: st.ok,
            owners,
            endpoints,
            myself: index(&st.myself),
            my_master,
            migrating: st.migrating.iter().map(|(s, n)| (*s, index(n))).collect(),
            importing: st.importing.keys().copied().collect(),
            allow_reads_when_down,
            allow_pubsubshard_when_down: st.allow_pubsubshard_when_down,
        }
    }

    fn endpoint(&self, idx: u16) -> String {
        self.endpoints
            .get(usize::from(idx))
            .cloned()
            .unwrap_or_default()
    }

    /// Decide whether the request runs here. `exists(key)` reports whether
    /// a key is present (only asked for open slots).
    pub fn route(&self, q: &Query, exists: impl Fn(&[u8]) -> bool) -> Result<(), Redirect> {
        let mut slot: Option<u16> = None;
        let mut owner = NONE;
        let (mut migrating, mut importing) = (false, false);
        let (mut missing, mut existing) = (0, 0);
        let mut multiple_keys = false;
        let mut first_key: Option<&[u8]> = None;
        for &k in q.keys {
            let s = key_slot(k);
            match slot {
                None => {
                    slot = Some(s);
                    owner = self.owners[usize::from(s)];
                    if owner == NONE {
                        return Err(Redirect::Unbound);
                    }
                    first_key = Some(k);
                    if owner == self.myself && self.migrating.contains_key(&s) {
                        migrating = true;
                    } else if self.importing.contains(&s) {
                        importing = true;
                    }
                }
                Some(prev) if prev != s => return Err(Redirect::CrossSlot),
                Some(_) => {
                    if first_key != Some(k) {
                        multiple_keys = true;
                    }
                }
            }
            if (migrating || importing) && !q.pubsub_shard {
                if exists(k) {
                    existing += 1;
                } else {
                    missing += 1;
                }
            }
        }
        let Some(slot) = slot else { return Ok(()) };
        if !self.ok {
            // Shard pub/sub has its own switch (Redis getNodeByQuery).
            if q.pubsub_shard {
                if !self.allow_pubsubshard_when_down {
                    return Err(Redirect::Down);
                }
            } else if !self.allow_reads_when_down {
                return Err(Redirect::Down);
            } else if q.is_write {
                return Err(Redirect::DownReadOnly);
            }
        }
        if (migrating || importing) && q.is_migrate {
            return Ok(());
        }
        if migrating && missing > 0 {
            if existing > 0 {
                return Err(Redirect::TryAgain);
            }
            let to = self.migrating.get(&slot).copied().unwrap_or(NONE);
            return Err(Redirect::Ask(slot, self.endpoint(to)));
        }
        if importing && q.asking {
            if multiple_keys && missing > 0 {
                return Err(Redirect::TryAgain);
            }
            return Ok(());
        }
        if (q.readonly_client || q.pubsub_shard) && !q.is_write && self.my_master == Some(owner) {
            return Ok(());
        }
        if owner != self.myself {
            return Err(Redirect::Moved(slot, self.endpoint(owner)));
        }
        Ok(())
    }

    /// Whether `channel`'s slot is served by my shard (myself or my
    /// master): shard channels of other slots are dropped.
    pub fn serves_channel(&self, channel: &[u8]) -> bool {
        let owner = self.owners[usize::from(key_slot(channel))];
        owner != NONE && (owner == self.myself || self.my_master == Some(owner))
    }

    /// Whether a client blocked on `keys` must be unblocked with an error
    /// (Redis clusterRedirectBlockedClientIfNeeded): the cluster is down,
    /// or a key's slot is neither served nor being imported here.
    /// Clients blocked on no key (WAIT) are left alone.
    pub fn blocked_redirect<K: AsRef<[u8]>>(&self, keys: &[K]) -> Option<Redirect> {
        if keys.is_empty() {
            return None;
        }
        if !self.ok {
            return Some(Redirect::Down);
        }
        for k in keys {
            let slot = key_slot(k.as_ref());
            let owner = self.owners[usize::from(slot)];
            if owner != self.myself && !self.importing.contains(&slot) {
                if owner == NONE {
                    return Some(Redirect::Unbound);
                }
                return Some(Redirect::Moved(slot, self.endpoint(owner)));
            }
        }
        None
    }

    /// Number of slots (for sanity checks in tests).
    pub fn slots(&self) -> usize {
        debug_assert_eq!(self.owners.len(), SLOTS);
        self.owners.len()
    }
}
