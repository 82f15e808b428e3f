//! The cluster bus protocol as pure state transitions (no I/O): building
//! PING/PONG/MEET with gossip, processing received messages, failure
//! detection (PFAIL → FAIL by a majority of masters) and the periodic cron.
//! Functions return `Action`s that the link layer (`bus::link`) carries out.
//!
//! Mirrors Redis 7.0's clusterProcessPacket / clusterCron behaviour as
//! described in the Redis Cluster specification.

use bytes::Bytes;

use super::bus::msg::{
    Body, Epoch, Gossip, Header, IpField, Msg, MsgFlags, NodeFlags, PingBody, PingExt,
};
use super::state::{random_id, ClusterState, Node, NodeId};

/// What the link layer must do after a state transition.
#[derive(Debug)]
pub enum Action {
    /// Reply on the link the message came from.
    Reply(Msg),
    /// Send to one node over its outbound link.
    Send(NodeId, Msg),
    /// Send to every node with a link (FAIL, PUBLISH, UPDATE...).
    Broadcast(Msg),
    /// Drop the outbound link of a node (it changed identity or address).
    DropLink(NodeId),
    /// Deliver a bus PUBLISH locally.
    Publish {
        shard: bool,
        channel: Bytes,
        message: Bytes,
    },
    /// nodes.conf must be written (before any message of the same batch
    /// leaves: a vote must be on disk before the ACK is sent).
    Persist,
    /// Pause writes until the time (ms): a master in manual failover.
    PauseWrites(u64),
    /// Lift the manual failover pause.
    Unpause,
}

/// Where a message came from.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    /// For outbound links: the node we connected to.
    pub node: Option<NodeId>,
    /// Peer IP of the TCP connection.
    pub peer_ip: String,
    /// Our IP as the peer reached it (learned from MEET).
    pub local_ip: String,
}

/// Settings the protocol needs from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub node_timeout: u64,
    pub announce_ip: String,
    pub hostname: String,
    /// cluster-replica-validity-factor (0 = a replica always tries).
    pub validity_factor: u64,
    /// repl-ping-replica-period, seconds.
    pub repl_ping_period: u64,
    /// cluster-replica-no-failover.
    pub replica_no_failover: bool,
    /// cluster-migration-barrier.
    pub migration_barrier: usize,
    /// cluster-allow-replica-migration.
    pub allow_replica_migration: bool,
}

fn flags_of(n: &Node) -> NodeFlags {
    let f = &n.flags;
    let mut v = 0;
    let pairs = [
        (f.master, NodeFlags::MASTER),
        (f.replica, NodeFlags::SLAVE),
        (f.pfail, NodeFlags::PFAIL),
        (f.fail, NodeFlags::FAIL),
        (f.myself, NodeFlags::MYSELF),
        (f.handshake, NodeFlags::HANDSHAKE),
        (f.noaddr, NodeFlags::NOADDR),
        (f.nofailover, NodeFlags::NOFAILOVER),
    ];
    for (on, bit) in pairs {
        if on {
            v |= bit;
        }
    }
    NodeFlags(v)
}

/// The header describing myself.
pub fn header(st: &ClusterState, s: &Settings) -> Header {
    let me = st.me();
    let master = me
        .master
        .filter(|_| me.flags.replica)
        .and_then(|m| st.nodes.get(&m));
    let (slots, epoch) = match master {
        Some(m) => (m.slots.clone(), m.config_epoch),
        None => (me.slots.clone(), me.config_epoch),
    };
    Header {
        port: me.port,
        current_epoch: Epoch(st.current_epoch),
        config_epoch: Epoch(epoch),
        offset: me.repl_offset.max(0) as u64,
        sender: st.myself,
        myslots: slots,
        slaveof: master.map_or(NodeId::NULL, |m| m.id),
        myip: IpField::from_text(&s.announce_ip),
        pport: 0,
        cport: me.cport,
        flags: flags_of(me),
        state: if st.ok { 0 } else { 1 },
        mflags: super::failover::header_flags(st),
        ..Header::default()
    }
}

/// PING, PONG or MEET with a gossip section: max(3, N/10) random nodes
/// plus every node in PFAIL, never myself or the receiver.
pub fn ping_msg(st: &ClusterState, s: &Settings, kind: u8, to: Option<NodeId>) -> Msg {
    let candidates: Vec<&Node> = st
        .nodes
        .values()
        .filter(|n| {
            !n.flags.myself
                && Some(n.id) != to
                && !n.flags.handshake
                && !n.flags.noaddr
                && !n.flags.pfail
        })
        .collect();
    let wanted = (st.nodes.len() / 10).max(3).min(candidates.len());
    let mut picked: Vec<&Node> = Vec::with_capacity(wanted);
    let mut idx: Vec<usize> = (0..candidates.len()).collect();
    for i in 0..wanted {
        let j = i + rand::random::<usize>() % (idx.len() - i);
        idx.swap(i, j);
        picked.push(candidates[idx[i]]);
    }
    picked.extend(
        st.nodes
            .values()
            .filter(|n| n.flags.pfail && !n.flags.myself && Some(n.id) != to),
    );
    let gossip = picked.iter().map(|n| gossip_entry(n)).collect();
    let mut extensions = Vec::new();
    if !s.hostname.is_empty() {
        extensions.push(PingExt::Hostname(Bytes::from(s.hostname.clone())));
    }
    let body = PingBody { gossip, extensions };
    let body = match kind {
        0 => Body::Ping(body),
        1 => Body::Pong(body),
        _ => Body::Meet(body),
    };
    Msg {
        header: header(st, s),
        body,
    }
}

fn gossip_entry(n: &Node) -> Gossip {
    Gossip {
        nodename: n.id,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: IpField::from_text(&n.ip),
        port: n.port,
        cport: n.cport,
        flags: flags_of(n),
        ..Gossip::default()
    }
}

/// Start a handshake with a node known only by address (CLUSTER MEET or gossip).
pub fn start_handshake(st: &mut ClusterState, ip: &str, port: u16, cport: u16, now: u64) -> bool {
    let dup = st
        .nodes
        .values()
        .any(|n| n.flags.handshake && n.ip == ip && n.port == port && n.cport == cport);
    if dup {
        return false;
    }
    let mut n = Node::new(random_id(), ip, port, cport);
    n.flags.handshake = true;
    n.flags.master = true;
    n.meet = true;
    n.ctime = now;
    st.nodes.insert(n.id, n);
    true
}

/// Process one received message.
pub fn on_message(
    st: &mut ClusterState,
    s: &Settings,
    msg: &Msg,
    link: &LinkInfo,
    now: u64,
) -> Vec<Action> {
    let mut out = Vec::new();
    let h = &msg.header;
    if !h.sender.is_valid() {
        return out;
    }
    let known = st.nodes.get(&h.sender).is_some_and(|n| !n.flags.handshake);
    if let Some(t) = msg.body.msg_type() {
        *st.stats_received.entry(t.stats_name()).or_insert(0) += 1;
    }
    if known {
        if h.current_epoch.0 > st.current_epoch {
            st.current_epoch = h.current_epoch.0;
            out.push(Action::Persist);
        }
        if let Some(n) = st.nodes.get_mut(&h.sender) {
            if h.config_epoch.0 > n.config_epoch && h.slaveof.is_null() {
                n.config_epoch = h.config_epoch.0;
                out.push(Action::Persist);
            }
            n.repl_offset = h.offset as i64;
        }
    }
    match &msg.body {
        Body::Ping(p) | Body::Meet(p) => {
            let is_meet = matches!(msg.body, Body::Meet(_));
            on_ping(st, s, msg, p, link, known, is_meet, now, &mut out);
            if known {
                ping_extensions(st, &msg.header.sender, p);
            }
        }
        Body::Pong(p) => {
            on_pong(st, msg, p, link, known, now, &mut out);
            if known {
                ping_extensions(st, &msg.header.sender, p);
            }
        }
        Body::Fail { about } if known => {
            if let Some(n) = st.nodes.get_mut(about) {
                if !n.flags.fail && !n.flags.myself {
                    n.flags.fail = true;
                    n.flags.pfail = false;
                    n.fail_time = now;
                    out.push(Action::Persist);
                }
            }
        }
        Body::Publish { channel, message } if known => out.push(Action::Publish {
            shard: false,
            channel: channel.clone(),
            message: message.clone(),
        }),
        Body::PublishShard { channel, message } if known => out.push(Action::Publish {
            shard: true,
            channel: channel.clone(),
            message: message.clone(),
        }),
        Body::Update {
            config_epoch,
            nodename,
            slots,
        } if known => {
            let newer = st
                .nodes
                .get(nodename)
                .is_some_and(|n| n.config_epoch < config_epoch.0);
            if newer {
                if let Some(n) = st.nodes.get_mut(nodename) {
                    n.config_epoch = config_epoch.0;
                }
                update_slots(st, *nodename, config_epoch.0, slots, &mut out);
            }
        }
        _ => {}
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn on_ping(
    st: &mut ClusterState,
    s: &Settings,
    msg: &Msg,
    p: &PingBody,
    link: &LinkInfo,
    known: bool,
    is_meet: bool,
    now: u64,
    out: &mut Vec<Action>,
) {
    let h = &msg.header;
    // Learn our own address from the first MEET (unless announced).
    if is_meet && st.me().ip.is_empty() && !link.local_ip.is_empty() {
        st.me_mut().ip = if s.announce_ip.is_empty() {
            link.local_ip.clone()
        } else {
            s.announce_ip.clone()
        };
        out.push(Action::Persist);
    }
    if !known && is_meet {
        let ip = if h.myip.is_empty() {
            link.peer_ip.clone()
        } else {
            h.myip.to_text()
        };
        start_handshake(st, &ip, h.port, h.cport, now);
        gossip_section(st, h.sender, p, now, out);
        out.push(Action::Persist);
    }
    if known && !is_meet && link.node.is_none() {
        update_address(st, h, link, out);
    }
    if known {
        sender_view(st, msg, now, out);
        gossip_section(st, h.sender, p, now, out);
    }
    let reply = ping_msg(st, s, 1, Some(h.sender));
    *st.stats_sent.entry("pong").or_insert(0) += 1;
    out.push(Action::Reply(reply));
}

/// What a ping's extensions say about its sender: its announced hostname,
/// none when it sent no hostname extension (Redis 7.0
/// clusterProcessPingExtensions).
fn ping_extensions(st: &mut ClusterState, sender: &NodeId, p: &PingBody) {
    if *sender == st.myself {
        return;
    }
    let hostname = p.extensions.iter().find_map(|e| match e {
        PingExt::Hostname(h) => Some(String::from_utf8_lossy(h).into_owned()),
        _ => None,
    });
    if let Some(n) = st.nodes.get_mut(sender) {
        n.hostname = hostname.unwrap_or_default();
    }
}

/// A known node that pings from a new address or announces new ports
/// (CONFIG SET cluster-announce-port) is reached there from now on: the
/// outbound link is dropped and reconnects (Redis nodeUpdateAddressIfNeeded).
fn update_address(st: &mut ClusterState, h: &Header, link: &LinkInfo, out: &mut Vec<Action>) {
    if h.sender == st.myself {
        return;
    }
    let ip = if h.myip.is_empty() {
        link.peer_ip.clone()
    } else {
        h.myip.to_text()
    };
    let Some(n) = st.nodes.get_mut(&h.sender) else {
        return;
    };
    if n.flags.handshake || ip.is_empty() {
        return;
    }
    if (n.ip.as_str(), n.port, n.cport) == (ip.as_str(), h.port, h.cport) {
        return;
    }
    n.ip = ip;
    n.port = h.port;
    n.cport = h.cport;
    n.flags.noaddr = false;
    out.push(Action::DropLink(h.sender));
    out.push(Action::Persist);
}

fn on_pong(
    st: &mut ClusterState,
    msg: &Msg,
    p: &PingBody,
    link: &LinkInfo,
    known: bool,
    now: u64,
    out: &mut Vec<Action>,
) {
    let h = &msg.header;
    let Some(link_node) = link.node else {
        // A PONG on an inbound link (a broadcast, e.g. after a failover):
        // no liveness information, but the sender's role, slots and gossip
        // count, as in Redis's clusterProcessPacket.
        if known {
            sender_view(st, msg, now, out);
            gossip_section(st, h.sender, p, now, out);
        }
        return;
    };
    let handshaking = st.nodes.get(&link_node).is_some_and(|n| n.flags.handshake);
    if handshaking {
        if known {
            // We already know this node under its real name: drop the duplicate.
            st.nodes.remove(&link_node);
            out.push(Action::DropLink(link_node));
            return;
        }
        // Handshake complete: the node takes the name it announced.
        if let Some(mut n) = st.nodes.remove(&link_node) {
            n.id = h.sender;
            n.flags.handshake = false;
            n.meet = false;
            st.nodes.insert(h.sender, n);
            out.push(Action::DropLink(link_node));
            out.push(Action::Persist);
        }
    } else if link_node != h.sender {
        // The node at that address changed identity: forget the address.
        if let Some(n) = st.nodes.get_mut(&link_node) {
            n.flags.noaddr = true;
            n.ip.clear();
        }
        out.push(Action::DropLink(link_node));
        return;
    }
    if let Some(n) = st.nodes.get_mut(&h.sender) {
        n.pong_received = now;
        n.ping_sent = 0;
        n.link_connected = true;
        if n.flags.pfail {
            n.flags.pfail = false;
        } else if n.flags.fail {
            let slotless_or_replica = n.flags.replica || n.slots.count() == 0;
            if slotless_or_replica || now.saturating_sub(n.fail_time) > 2 * st_timeout_hint(n) {
                n.flags.fail = false;
                out.push(Action::Persist);
            }
        }
    }
    sender_view(st, msg, now, out);
    gossip_section(st, h.sender, p, now, out);
}

/// FAIL of a master with slots is undone after 2 × node timeout; the
/// timeout itself is not stored per node, so the caller's cron clears it.
fn st_timeout_hint(_n: &Node) -> u64 {
    u64::MAX / 4
}

/// Apply what the sender says about itself: role, master, slots, epoch collision.
fn sender_view(st: &mut ClusterState, msg: &Msg, now: u64, out: &mut Vec<Action>) {
    let h = &msg.header;
    let _ = now;
    let Some(n) = st.nodes.get_mut(&h.sender) else {
        return;
    };
    if n.flags.handshake {
        return;
    }
    if h.slaveof.is_null() {
        if n.flags.replica {
            n.flags.replica = false;
            n.flags.master = true;
            n.master = None;
            out.push(Action::Persist);
        }
    } else if n.master != Some(h.slaveof) || !n.flags.replica {
        n.flags.replica = true;
        n.flags.master = false;
        n.master = Some(h.slaveof);
        out.push(Action::Persist);
    }
    n.flags.nofailover = h.flags.has(NodeFlags::NOFAILOVER);
    let is_master = h.slaveof.is_null();
    if is_master {
        // A master that became a replica loses its slots; a master's claimed
        // slots win when its config epoch is newer.
        // Only a claim that differs from what we know of the sender can
        // change ownership or be stale (Redis's dirty_slots): both checks
        // scan every slot, so they are skipped for the usual ping.
        let changed = h.myslots != n.slots;
        if changed {
            update_slots(st, h.sender, h.config_epoch.0, &h.myslots, out);
            // Tell a sender with a stale view about slots owned by newer epochs.
            if let Some(update) = stale_claim(st, h) {
                out.push(Action::Send(h.sender, update));
            }
        }
        epoch_collision(st, h.sender, out);
    } else if n.slots.count() > 0 {
        let slots: Vec<u16> = super::slots::iter(&n.slots).collect();
        for s in slots {
            st.assign(s, None);
        }
    }
}

/// Take the slots claimed by `sender` whose current owner has an older
/// config epoch (or none).
fn update_slots(
    st: &mut ClusterState,
    sender: NodeId,
    epoch: u64,
    claimed: &super::slots::SlotBitmap,
    out: &mut Vec<Action>,
) {
    let me = st.myself;
    if sender == me {
        return;
    }
    // The master of my shard: myself, or the node I replicate.
    let curmaster = if st.me().is_master() {
        Some(me)
    } else {
        st.me().master
    };
    let mut lost_to_sender = false;
    let mut migrated_our_slots = 0;
    let mut changed = false;
    for s in super::slots::iter(claimed) {
        let owner = st.owners[usize::from(s)];
        if owner == Some(sender) {
            continue;
        }
        // Slots we are importing are taken only through SETSLOT NODE.
        if st.importing.contains_key(&s) {
            continue;
        }
        let owner_epoch = owner
            .and_then(|o| st.nodes.get(&o))
            .map_or(0, |n| n.config_epoch);
        if owner.is_none() || owner_epoch < epoch {
            if owner.is_some() && owner == curmaster {
                lost_to_sender = true;
                migrated_our_slots += 1;
            }
            st.assign(s, Some(sender));
            if owner == Some(me) {
                st.migrating.remove(&s);
            }
            changed = true;
        }
        // A slot the sender stopped claiming keeps its owner until another
        // node claims it (Redis clusterUpdateSlotsConfigWith): unassigning
        // it here left the slot uncovered (CLUSTERDOWN) for every SETSLOT
        // NODE of a resharding until the new owner's claim arrived.
    }
    if changed {
        out.push(Action::Persist);
    }
    // My shard lost its last slot to the sender: it was failed over (or
    // emptied), so follow the new owner (clusterUpdateSlotsConfigWith).
    let shard_empty = curmaster
        .and_then(|m| st.nodes.get(&m))
        .is_some_and(|n| n.slots.count() == 0);
    // Without replica migration only a takeover of the whole shard (a
    // failover: the sender claims exactly what it took from us) is
    // followed; a resharding that empties it leaves the replicas in place.
    let whole_shard = claimed.count() == migrated_our_slots;
    if lost_to_sender && shard_empty && (st.allow_replica_migration || whole_shard) {
        tracing::warn!(
            "Configuration change detected. Reconfiguring myself as a replica of {}",
            super::state::id_str(&sender)
        );
        super::failover::set_master(st, sender, out);
    }
}

/// An UPDATE for a sender that claims slots we know belong to a node with
/// a newer config epoch.
fn stale_claim(st: &ClusterState, h: &Header) -> Option<Msg> {
    for s in super::slots::iter(&h.myslots) {
        // Unclaimed slots and the sender's own are not stale.
        let Some(owner) = st.owners[usize::from(s)] else {
            continue;
        };
        if owner == h.sender {
            continue;
        }
        let Some(n) = st.nodes.get(&owner) else {
            continue;
        };
        if n.config_epoch > h.config_epoch.0 {
            let header = Header {
                sender: st.myself,
                current_epoch: Epoch(st.current_epoch),
                ..Header::default()
            };
            let body = Body::Update {
                config_epoch: Epoch(n.config_epoch),
                nodename: n.id,
                slots: n.slots.clone(),
            };
            return Some(Msg { header, body });
        }
    }
    None
}

/// Two masters with the same config epoch: the one with the smaller name
/// takes a new epoch (Redis clusterHandleConfigEpochCollision).
fn epoch_collision(st: &mut ClusterState, sender: NodeId, out: &mut Vec<Action>) {
    let me = st.me();
    let Some(n) = st.nodes.get(&sender) else {
        return;
    };
    if !me.is_master() || !n.is_master() || n.config_epoch != me.config_epoch || sender <= st.myself
    {
        return;
    }
    st.current_epoch += 1;
    let e = st.current_epoch;
    st.me_mut().config_epoch = e;
    out.push(Action::Persist);
}

/// Failure reports and discovery from a gossip section.
fn gossip_section(
    st: &mut ClusterState,
    sender: NodeId,
    p: &PingBody,
    now: u64,
    out: &mut Vec<Action>,
) {
    let sender_is_master = st
        .nodes
        .get(&sender)
        .is_some_and(|n| n.is_master() && !n.flags.handshake);
    for g in &p.gossip {
        if !g.nodename.is_valid() {
            continue;
        }
        if st.nodes.contains_key(&g.nodename) {
            let failing = g.flags.0 & (NodeFlags::PFAIL | NodeFlags::FAIL) != 0;
            if sender_is_master && g.nodename != st.myself {
                if let Some(n) = st.nodes.get_mut(&g.nodename) {
                    if failing {
                        n.fail_reports.insert(sender, now);
                    } else {
                        n.fail_reports.remove(&sender);
                    }
                }
                if failing {
                    mark_failing_if_needed(st, g.nodename, now, out);
                }
            }
            if let Some(n) = st.nodes.get_mut(&g.nodename) {
                let pong = u64::from(g.pong_received) * 1000;
                if !failing
                    && n.ping_sent == 0
                    && n.fail_reports.is_empty()
                    && pong <= now + 500
                    && pong > n.pong_received
                {
                    n.pong_received = pong;
                }
            }
        } else if !g.flags.has(NodeFlags::NOADDR)
            && st.blacklist.get(&g.nodename).is_none_or(|t| *t <= now)
        {
            let ip = g.ip.to_text();
            if !ip.is_empty() && start_handshake(st, &ip, g.port, g.cport, now) {
                out.push(Action::Persist);
            }
        }
    }
}

/// PFAIL → FAIL once a majority of slot-owning masters report the node
/// (reports older than 2 × node timeout are dropped by the cron).
fn mark_failing_if_needed(st: &mut ClusterState, id: NodeId, now: u64, out: &mut Vec<Action>) {
    let size = st.size();
    let quorum = size / 2 + 1;
    let me_master = st.me().is_master();
    let Some(n) = st.nodes.get_mut(&id) else {
        return;
    };
    if !n.flags.pfail || n.flags.fail {
        return;
    }
    let failures = n.fail_reports.len() + usize::from(me_master);
    if failures < quorum {
        return;
    }
    n.flags.pfail = false;
    n.flags.fail = true;
    n.fail_time = now;
    tracing::info!(
        "Marking node {} as failing (quorum reached).",
        super::state::id_str(&id)
    );
    let header = Header {
        sender: st.myself,
        current_epoch: Epoch(st.current_epoch),
        ..Header::default()
    };
    let _ = header;
    out.push(Action::Broadcast(Msg {
        header: Header::default(),
        body: Body::Fail { about: id },
    }));
    out.push(Action::Persist);
}

/// Periodic work (every 100 ms): handshake timeouts, PFAIL detection,
/// pings, expiry of failure reports and FAIL undo. `tick` counts calls.
pub fn cron(st: &mut ClusterState, s: &Settings, now: u64, tick: u64) -> Vec<Action> {
    let mut out = Vec::new();
    let timeout = s.node_timeout.max(1);
    let handshake_timeout = timeout.max(1000);
    let stale: Vec<NodeId> = st
        .nodes
        .values()
        .filter(|n| n.flags.handshake && now.saturating_sub(n.ctime) > handshake_timeout)
        .map(|n| n.id)
        .collect();
    for id in stale {
        st.nodes.remove(&id);
        out.push(Action::DropLink(id));
    }
    let ids: Vec<NodeId> = st
        .nodes
        .keys()
        .copied()
        .filter(|id| *id != st.myself)
        .collect();
    for id in &ids {
        let Some(n) = st.nodes.get_mut(id) else {
            continue;
        };
        n.fail_reports
            .retain(|_, t| now.saturating_sub(*t) <= timeout * 2);
        if n.flags.handshake {
            continue;
        }
        if n.ping_sent == 0 && now.saturating_sub(n.pong_received) > timeout / 2 {
            n.ping_sent = now;
            out.push(Action::Send(
                *id,
                Msg {
                    header: Header::default(),
                    body: Body::Ping(PingBody::default()),
                },
            ));
        }
        if n.ping_sent != 0
            && now.saturating_sub(n.ping_sent) > timeout
            && !n.flags.pfail
            && !n.flags.fail
        {
            n.flags.pfail = true;
        }
        if n.flags.fail
            && n.is_master()
            && n.slots.count() > 0
            && n.link_connected
            && n.ping_sent == 0
            && now.saturating_sub(n.fail_time) > timeout * 2
        {
            // Reachable again and not replaced: undo FAIL (FAIL_UNDO_TIME_MULT).
            n.flags.fail = false;
            out.push(Action::Persist);
        }
    }
    // Once a second, ping the node with the oldest pong among 5 random ones.
    if tick.is_multiple_of(10) && !ids.is_empty() {
        let mut best: Option<(u64, NodeId)> = None;
        for _ in 0..5 {
            let id = ids[rand::random::<usize>() % ids.len()];
            if let Some(n) = st.nodes.get(&id) {
                if n.ping_sent != 0 || n.flags.handshake {
                    continue;
                }
                if best.is_none_or(|(p, _)| n.pong_received < p) {
                    best = Some((n.pong_received, id));
                }
            }
        }
        if let Some((_, id)) = best {
            if let Some(n) = st.nodes.get_mut(&id) {
                n.ping_sent = now;
            }
            out.push(Action::Send(
                id,
                Msg {
                    header: Header::default(),
                    body: Body::Ping(PingBody::default()),
                },
            ));
        }
    }
    let failing: Vec<NodeId> = st
        .nodes
        .values()
        .filter(|n| n.flags.pfail)
        .map(|n| n.id)
        .collect();
    for id in failing {
        mark_failing_if_needed(st, id, now, &mut out);
    }
    let _ = MsgFlags::default();
    out
}
