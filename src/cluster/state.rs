//! Cluster state without I/O: the node table, slot ownership, open
//! (migrating/importing) slots and epochs. The bus and commands mutate it
//! under one mutex and republish the routing snapshot after every change.

use std::collections::{BTreeMap, HashMap};

use super::slots::SlotBitmap;
use crate::keyspace::SLOTS;

pub use super::bus::msg::NodeId;

/// A fresh random node name (40 lower-case hex characters).
pub fn random_id() -> NodeId {
    let mut id = [0u8; 40];
    for b in id.iter_mut() {
        *b = b"0123456789abcdef"[rand::random::<usize>() % 16];
    }
    NodeId(id)
}

/// Parse a node name given by a client.
pub fn parse_id(s: &[u8]) -> Option<NodeId> {
    NodeId::parse(std::str::from_utf8(s).ok()?)
}

/// The node name as text (peers' names are validated before use).
pub fn id_str(id: &NodeId) -> &str {
    id.as_str()
        .unwrap_or("????????????????????????????????????????")
}

/// Node flags (CLUSTER NODES names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub myself: bool,
    pub master: bool,
    pub replica: bool,
    pub pfail: bool,
    pub fail: bool,
    pub handshake: bool,
    pub noaddr: bool,
    pub nofailover: bool,
}

impl Flags {
    pub fn render(&self) -> String {
        let mut v = Vec::new();
        let pairs = [
            (self.myself, "myself"),
            (self.master, "master"),
            (self.replica, "slave"),
            (self.pfail, "fail?"),
            (self.fail, "fail"),
            (self.handshake, "handshake"),
            (self.noaddr, "noaddr"),
            (self.nofailover, "nofailover"),
        ];
        for (on, name) in pairs {
            if on {
                v.push(name);
            }
        }
        if v.is_empty() {
            "noflags".into()
        } else {
            v.join(",")
        }
    }
}

/// One known node.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: NodeId,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub hostname: String,
    pub flags: Flags,
    pub master: Option<NodeId>,
    pub ping_sent: u64,
    pub pong_received: u64,
    pub config_epoch: u64,
    pub link_connected: bool,
    pub slots: SlotBitmap,
    /// Failure reports: reporter → time (ms).
    pub fail_reports: HashMap<NodeId, u64>,
    pub repl_offset: i64,
    /// When the node was flagged FAIL (ms).
    pub fail_time: u64,
    /// Send MEET instead of PING on the next outbound connection.
    pub meet: bool,
    /// When the node object was created (handshake timeout).
    pub ctime: u64,
    /// When this node (a master) last got our vote for one of its replicas.
    pub voted_time: u64,
    /// The master had replicas once: it is a replica migration target when
    /// orphaned (CLUSTER_NODE_MIGRATE_TO).
    pub migrate_to: bool,
    /// Since when the master has no working replica (ms, 0 = not orphaned).
    pub orphaned_time: u64,
}

impl Node {
    pub fn new(id: NodeId, ip: &str, port: u16, cport: u16) -> Node {
        Node {
            id,
            ip: ip.to_string(),
            port,
            cport,
            hostname: String::new(),
            flags: Flags {
                master: true,
                ..Flags::default()
            },
            master: None,
            ping_sent: 0,
            pong_received: 0,
            config_epoch: 0,
            link_connected: false,
            slots: SlotBitmap::default(),
            fail_reports: HashMap::new(),
            repl_offset: 0,
            fail_time: 0,
            meet: false,
            ctime: crate::util::clock::now_ms(),
            voted_time: 0,
            migrate_to: false,
            orphaned_time: 0,
        }
    }

    pub fn is_master(&self) -> bool {
        self.flags.master
    }

    pub fn is_failing(&self) -> bool {
        self.flags.fail
    }
}

/// An open slot during migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenSlot {
    Migrating(NodeId),
    Importing(NodeId),
}

/// The whole cluster view of this node.
#[derive(Debug)]
pub struct ClusterState {
    pub myself: NodeId,
    pub nodes: BTreeMap<NodeId, Node>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// Owner of each slot.
    pub owners: Box<[Option<NodeId>]>,
    pub migrating: BTreeMap<u16, NodeId>,
    pub importing: BTreeMap<u16, NodeId>,
    pub ok: bool,
    pub require_full_coverage: bool,
    /// cluster-allow-replica-migration, refreshed before every change.
    pub allow_replica_migration: bool,
    /// cluster-allow-pubsubshard-when-down, refreshed before every change.
    pub allow_pubsubshard_when_down: bool,
    pub stats_sent: BTreeMap<&'static str, u64>,
    pub stats_received: BTreeMap<&'static str, u64>,
    /// Nodes recently FORGOTten: not re-added from gossip until the time (ms).
    pub blacklist: HashMap<NodeId, u64>,
    /// When this node started (a master waits before declaring the cluster ok).
    pub start_ms: u64,
    /// Election and manual-failover progress (`cluster::failover`).
    pub fo: super::failover::FailoverState,
    /// Bumped whenever `owners` changes (the routing snapshot depends on it).
    pub owners_gen: u64,
    /// The full-coverage inputs derived from `owners` at `owners_gen`: is
    /// every slot assigned, and which nodes own slots. Scanning 16384
    /// owners on every bus message made resharding crawl, so the scan is
    /// redone only when ownership changed.
    coverage: Coverage,
}

#[derive(Debug, Default)]
struct Coverage {
    gen: Option<u64>,
    all_assigned: bool,
    owners: Vec<NodeId>,
}

/// Errors of slot-changing commands, with Redis's texts.
pub type StateResult<T = ()> = Result<T, String>;

impl ClusterState {
    pub fn new(myself: NodeId, port: u16, cport: u16) -> ClusterState {
        let mut me = Node::new(myself, "", port, cport);
        me.flags.myself = true;
        let mut nodes = BTreeMap::new();
        nodes.insert(myself, me);
        ClusterState {
            myself,
            nodes,
            current_epoch: 0,
            last_vote_epoch: 0,
            owners: vec![None; SLOTS].into_boxed_slice(),
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            ok: false,
            require_full_coverage: true,
            allow_replica_migration: true,
            allow_pubsubshard_when_down: true,
            stats_sent: BTreeMap::new(),
            stats_received: BTreeMap::new(),
            blacklist: HashMap::new(),
            start_ms: crate::util::clock::now_ms(),
            fo: Default::default(),
            owners_gen: 0,
            coverage: Coverage::default(),
        }
    }

    pub fn me(&self) -> &Node {
        self.nodes
            .get(&self.myself)
            .expect("invariant: myself is in the node table")
    }

    pub fn me_mut(&mut self) -> &mut Node {
        self.nodes
            .get_mut(&self.myself)
            .expect("invariant: myself is in the node table")
    }

    /// Give `slot` to `owner` (or unassign it), keeping node bitmaps in sync.
    pub fn assign(&mut self, slot: u16, owner: Option<NodeId>) {
        if let Some(prev) = self.owners[usize::from(slot)] {
            if let Some(n) = self.nodes.get_mut(&prev) {
                n.slots.set(slot, false);
            }
        }
        if let Some(o) = owner {
            if let Some(n) = self.nodes.get_mut(&o) {
                n.slots.set(slot, true);
            }
        }
        if self.owners[usize::from(slot)] != owner {
            self.owners_gen += 1;
        }
        self.owners[usize::from(slot)] = owner;
    }

    /// CLUSTER ADDSLOTS: all-or-nothing.
    pub fn add_slots(&mut self, slots: &[u16]) -> StateResult {
        let mut seen = vec![false; SLOTS];
        for &s in slots {
            if self.owners[usize::from(s)].is_some() {
                return Err(format!("ERR Slot {s} is already busy"));
            }
            if std::mem::replace(&mut seen[usize::from(s)], true) {
                return Err(format!("ERR Slot {s} specified multiple times"));
            }
        }
        for &s in slots {
            self.importing.remove(&s);
            self.assign(s, Some(self.myself));
        }
        self.update_state();
        Ok(())
    }

    /// CLUSTER DELSLOTS: all-or-nothing.
    pub fn del_slots(&mut self, slots: &[u16]) -> StateResult {
        let mut seen = vec![false; SLOTS];
        for &s in slots {
            if self.owners[usize::from(s)].is_none() {
                return Err(format!("ERR Slot {s} is already unassigned"));
            }
            if std::mem::replace(&mut seen[usize::from(s)], true) {
                return Err(format!("ERR Slot {s} specified multiple times"));
            }
        }
        for &s in slots {
            self.assign(s, None);
        }
        self.update_state();
        Ok(())
    }

    /// Recompute cluster_state: ok when every slot is served by a non-failing
    /// node (unless full coverage is not required) and a majority of the
    /// slot-owning masters is reachable. A master that just started waits
    /// 2 s (CLUSTER_WRITABLE_DELAY) before declaring the cluster ok.
    pub fn update_state(&mut self) {
        let mut ok = true;
        if self.require_full_coverage {
            self.refresh_coverage();
            let cov = &self.coverage;
            ok = cov.all_assigned
                && cov
                    .owners
                    .iter()
                    .all(|id| self.nodes.get(id).is_some_and(|n| !n.is_failing()));
        }
        let (mut size, mut reachable) = (0, 0);
        for n in self.nodes.values() {
            if n.is_master() && n.slots.count() > 0 {
                size += 1;
                if !n.flags.fail && !n.flags.pfail {
                    reachable += 1;
                }
            }
        }
        if ok && reachable < size / 2 + 1 {
            ok = false;
        }
        let now = crate::util::clock::now_ms();
        if ok && !self.ok && self.me().is_master() && now.saturating_sub(self.start_ms) < 2000 {
            ok = false;
        }
        self.ok = ok;
    }

    /// Recompute `coverage` when `owners` changed since the last scan.
    /// `owners` is the truth (node bitmaps may be refreshed from gossip
    /// separately); runs of slots share an owner, so each run costs one
    /// comparison.
    fn refresh_coverage(&mut self) {
        if self.coverage.gen == Some(self.owners_gen) {
            return;
        }
        let mut all_assigned = true;
        let mut owners: Vec<NodeId> = Vec::new();
        let mut last: Option<NodeId> = None;
        for o in self.owners.iter() {
            match o {
                None => all_assigned = false,
                Some(id) if last.as_ref() == Some(id) => {}
                Some(id) => {
                    if !owners.contains(id) {
                        owners.push(*id);
                    }
                    last = Some(*id);
                }
            }
        }
        self.coverage = Coverage {
            gen: Some(self.owners_gen),
            all_assigned,
            owners,
        };
    }

    /// Masters serving at least one slot (`cluster_size`).
    pub fn size(&self) -> usize {
        self.nodes
            .values()
            .filter(|n| n.is_master() && n.slots.count() > 0)
            .count()
    }

    /// One CLUSTER NODES line.
    pub fn node_line(&self, n: &Node, now_ms: u64) -> String {
        let _ = now_ms;
        let addr = if n.hostname.is_empty() {
            format!("{}:{}@{}", n.ip, n.port, n.cport)
        } else {
            format!("{}:{}@{},{}", n.ip, n.port, n.cport, n.hostname)
        };
        let master = n.master.map_or("-".to_string(), |m| id_str(&m).to_string());
        let link = if n.flags.myself || n.link_connected {
            "connected"
        } else {
            "disconnected"
        };
        let mut line = format!(
            "{} {} {} {} {} {} {} {}",
            id_str(&n.id),
            addr,
            n.flags.render(),
            master,
            n.ping_sent,
            n.pong_received,
            n.config_epoch,
            link
        );
        for (a, b) in n.slots.ranges() {
            if a == b {
                line.push_str(&format!(" {a}"));
            } else {
                line.push_str(&format!(" {a}-{b}"));
            }
        }
        if n.flags.myself {
            for (s, to) in &self.migrating {
                line.push_str(&format!(" [{s}->-{}]", id_str(to)));
            }
            for (s, from) in &self.importing {
                line.push_str(&format!(" [{s}-<-{}]", id_str(from)));
            }
        }
        line
    }

    /// CLUSTER NODES text.
    pub fn nodes_text(&self, now_ms: u64) -> String {
        let mut out = String::new();
        // Redis prints nodes in dict order; we print myself first, then by id.
        let me = self.me();
        out.push_str(&self.node_line(me, now_ms));
        out.push('\n');
        for n in self.nodes.values().filter(|n| !n.flags.myself) {
            out.push_str(&self.node_line(n, now_ms));
            out.push('\n');
        }
        out
    }

    /// CLUSTER INFO text.
    pub fn info_text(&self, links_limit_exceeded: u64) -> String {
        let assigned = self.owners.iter().filter(|o| o.is_some()).count();
        let mut pfail = 0;
        let mut fail = 0;
        for o in self.owners.iter().flatten() {
            if let Some(n) = self.nodes.get(o) {
                if n.flags.fail {
                    fail += 1;
                } else if n.flags.pfail {
                    pfail += 1;
                }
            }
        }
        let ok = assigned - pfail - fail;
        let sent: u64 = self.stats_sent.values().sum();
        let received: u64 = self.stats_received.values().sum();
        let mut s = format!(
            "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{ok}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n",
            if self.ok { "ok" } else { "fail" },
            self.nodes.len(),
            self.size(),
            self.current_epoch,
            self.my_epoch(),
        );
        for (k, v) in &self.stats_sent {
            s.push_str(&format!("cluster_stats_messages_{k}_sent:{v}\r\n"));
        }
        s.push_str(&format!("cluster_stats_messages_sent:{sent}\r\n"));
        for (k, v) in &self.stats_received {
            s.push_str(&format!("cluster_stats_messages_{k}_received:{v}\r\n"));
        }
        s.push_str(&format!("cluster_stats_messages_received:{received}\r\n"));
        s.push_str(&format!(
            "total_cluster_links_buffer_limit_exceeded:{links_limit_exceeded}\r\n"
        ));
        s
    }

    /// CLUSTER FORGET: drop a node (its slots become unassigned).
    pub fn forget(&mut self, id: NodeId) -> StateResult {
        if id == self.myself {
            return Err("ERR I tried hard but I can't forget myself...".into());
        }
        if self.me().flags.replica && self.me().master == Some(id) {
            return Err("ERR Can't forget my master!".into());
        }
        for s in 0..SLOTS {
            if self.owners[s] == Some(id) {
                self.owners[s] = None;
                self.owners_gen += 1;
            }
        }
        self.migrating.retain(|_, n| *n != id);
        self.importing.retain(|_, n| *n != id);
        self.nodes.remove(&id);
        // Redis keeps forgotten nodes out of gossip for a minute.
        self.blacklist
            .insert(id, crate::util::clock::now_ms() + 60_000);
        for n in self.nodes.values_mut() {
            n.fail_reports.remove(&id);
            if n.master == Some(id) {
                n.master = None;
            }
        }
        Ok(())
    }

    /// nodes.conf contents: the CLUSTER NODES lines (without nodes still in
    /// handshake) and the vars line.
    pub fn config_text(&self) -> String {
        let mut out = String::new();
        for n in std::iter::once(self.me()).chain(self.nodes.values().filter(|n| !n.flags.myself)) {
            if n.flags.handshake {
                continue;
            }
            out.push_str(&self.node_line(n, 0));
            out.push('\n');
        }
        out.push_str(&format!(
            "vars currentEpoch {} lastVoteEpoch {}\n",
            self.current_epoch, self.last_vote_epoch
        ));
        out
    }

    /// The config epoch of myself, or of my master when I am a replica.
    pub fn my_epoch(&self) -> u64 {
        let me = self.me();
        match me.master.and_then(|m| self.nodes.get(&m)) {
            Some(m) if me.flags.replica => m.config_epoch,
            _ => me.config_epoch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_lines() {
        let id = parse_id(b"f469c029c2ce5a8e67585bcf6e9addea19a7cf37").unwrap();
        let mut st = ClusterState::new(id, 7140, 17140);
        st.start_ms = 0;
        assert_eq!(st.nodes_text(0), "f469c029c2ce5a8e67585bcf6e9addea19a7cf37 :7140@17140 myself,master - 0 0 0 connected\n");
        st.add_slots(&[0, 1, 2, 5000]).unwrap();
        assert_eq!(st.add_slots(&[1]), Err("ERR Slot 1 is already busy".into()));
        assert_eq!(
            st.add_slots(&[7, 7]),
            Err("ERR Slot 7 specified multiple times".into())
        );
        assert!(st.nodes_text(0).ends_with("connected 0-2 5000\n"));
        assert!(!st.ok);
        assert_eq!(st.size(), 1);
        let all: Vec<u16> = (0..16384)
            .filter(|s| ![0, 1, 2, 5000].contains(s))
            .collect();
        st.add_slots(&all).unwrap();
        assert!(st.ok);
    }
}
