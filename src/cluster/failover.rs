//! Replica roles, elections and manual failover as pure state transitions
//! (no I/O), mirroring Redis 7.0's clusterSetMaster,
//! clusterHandleSlaveFailover, clusterSendFailoverAuthIfNeeded,
//! clusterFailoverReplaceYourMaster and the manual failover handshake.
//!
//! Invariants:
//! - A master votes at most once per currentEpoch (`last_vote_epoch`, saved
//!   in nodes.conf before the ACK leaves) and at most once per failed master
//!   within 2 × node timeout (`Node::voted_time`).
//! - A replica asks for votes once per election, with a fresh currentEpoch;
//!   it wins with ACKs from a majority of slot-owning masters and then takes
//!   its master's slots with configEpoch = the election epoch.
//! - Starting or stopping replication is not done here: the bus layer
//!   compares the role recorded in the state with the replication module and
//!   calls `replication::follow` / `promote` when they differ.

use super::bus::msg::{Body, Header, Msg, MsgFlags};
use super::gossip::{self, Action, Settings};
use super::state::{id_str, ClusterState, NodeId};

/// Overall manual failover timeout (CLUSTER_MF_TIMEOUT).
pub const MF_TIMEOUT: u64 = 5000;
/// A master pauses writes for MF_TIMEOUT × this (CLUSTER_MF_PAUSE_MULT).
pub const MF_PAUSE_MULT: u64 = 2;

/// Election and manual-failover progress of this node.
#[derive(Debug, Clone)]
pub struct FailoverState {
    /// When the current (or next) election starts, ms; 0 = never scheduled.
    pub auth_time: u64,
    /// Votes received in the current election.
    pub auth_count: usize,
    /// The AUTH_REQUEST of the current election was sent.
    pub auth_sent: bool,
    /// Our rank among the replicas of our master when scheduling.
    pub auth_rank: usize,
    /// currentEpoch of the current election.
    pub auth_epoch: u64,
    /// Manual failover deadline (ms), 0 when none is in progress.
    pub mf_end: u64,
    /// Replica side: the offset matched, the election may start.
    pub mf_can_start: bool,
    /// Replica side: the paused master's offset, -1 until known.
    pub mf_master_offset: i64,
    /// Master side: the replica that asked for the manual failover.
    pub mf_replica: Option<NodeId>,
    /// Replica side: when the link to the master went down (ms), None when up.
    pub link_down_since: Option<u64>,
    /// Why the last automatic failover attempt could not proceed (logged once).
    pub cant_failover: Option<&'static str>,
}

impl Default for FailoverState {
    fn default() -> Self {
        FailoverState {
            auth_time: 0,
            auth_count: 0,
            auth_sent: false,
            auth_rank: 0,
            auth_epoch: 0,
            mf_end: 0,
            mf_can_start: false,
            mf_master_offset: -1,
            mf_replica: None,
            link_down_since: None,
            cant_failover: None,
        }
    }
}

/// CLUSTER FAILOVER options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Default,
    Force,
    Takeover,
}

/// Make myself a replica of `master` (clusterSetMaster): open slots are
/// closed and any manual failover is abandoned.
pub fn set_master(st: &mut ClusterState, master: NodeId, out: &mut Vec<Action>) {
    // While still a master: lifts a manual-failover write pause, which
    // would otherwise delay the MOVED replies of the new replica.
    reset_manual(st, out);
    let me = st.me_mut();
    if me.flags.master {
        me.flags.master = false;
        me.flags.replica = true;
        st.migrating.clear();
        st.importing.clear();
    }
    let me = st.me_mut();
    me.flags.replica = true;
    me.master = Some(master);
    out.push(Action::Persist);
}

/// Make myself a master (clusterSetNodeAsMaster(myself)).
fn set_myself_master(st: &mut ClusterState) {
    let me = st.me_mut();
    me.flags.master = true;
    me.flags.replica = false;
    me.master = None;
}

/// Abandon a manual failover; a master lifts the write pause it started.
pub fn reset_manual(st: &mut ClusterState, out: &mut Vec<Action>) {
    if st.fo.mf_end != 0 && st.me().is_master() {
        out.push(Action::Unpause);
    }
    st.fo.mf_end = 0;
    st.fo.mf_can_start = false;
    st.fo.mf_master_offset = -1;
    st.fo.mf_replica = None;
}

/// Message flags of the header describing myself: PAUSED while a master
/// holds writes for a manual failover.
pub fn header_flags(st: &ClusterState) -> MsgFlags {
    let mut f = MsgFlags::default();
    if st.me().is_master() && st.fo.mf_end != 0 {
        f.set(MsgFlags::PAUSED, true);
    }
    f
}

fn msg(st: &ClusterState, s: &Settings, body: Body) -> Msg {
    Msg {
        header: gossip::header(st, s),
        body,
    }
}

/// Failover messages: AUTH_REQUEST (vote), AUTH_ACK (count), MFSTART
/// (pause) and the PAUSED flag of a master's pings (offset to reach).
pub fn on_message(st: &mut ClusterState, s: &Settings, m: &Msg, now: u64) -> Vec<Action> {
    let mut out = Vec::new();
    let h = &m.header;
    let known = st.nodes.get(&h.sender).is_some_and(|n| !n.flags.handshake);
    if !known || h.sender == st.myself {
        return out;
    }
    match &m.body {
        Body::FailoverAuthRequest => vote_if_needed(st, s, h, now, &mut out),
        Body::FailoverAuthAck => {
            let counts = st
                .nodes
                .get(&h.sender)
                .is_some_and(|n| n.is_master() && n.slots.count() > 0);
            if counts && h.current_epoch.0 >= st.fo.auth_epoch && st.fo.auth_sent {
                st.fo.auth_count += 1;
                // Promote right away rather than at the next cron tick.
                handle_replica_failover(st, s, now, &mut out);
            }
        }
        Body::MfStart => {
            let mine = st.me().is_master()
                && st.nodes.get(&h.sender).and_then(|n| n.master) == Some(st.myself);
            if mine {
                reset_manual(st, &mut out);
                st.fo.mf_end = now + MF_TIMEOUT;
                st.fo.mf_replica = Some(h.sender);
                tracing::warn!(
                    "Manual failover requested by replica {}.",
                    id_str(&h.sender)
                );
                out.push(Action::PauseWrites(now + MF_TIMEOUT * MF_PAUSE_MULT));
                out.push(Action::Send(
                    h.sender,
                    gossip::ping_msg(st, s, 0, Some(h.sender)),
                ));
            }
        }
        _ => {}
    }
    let me = st.me();
    if me.flags.replica
        && me.master == Some(h.sender)
        && h.mflags.has(MsgFlags::PAUSED)
        && st.fo.mf_end != 0
    {
        // Keep the latest offset: writes accepted just before the pause
        // took effect show up in the next ping.
        st.fo.mf_master_offset = h.offset as i64;
    }
    out
}

/// Vote for the replica that sent `h` if Redis's rules allow it.
fn vote_if_needed(
    st: &mut ClusterState,
    s: &Settings,
    h: &Header,
    now: u64,
    out: &mut Vec<Action>,
) {
    let me = st.me();
    if !me.is_master() || me.slots.count() == 0 {
        return;
    }
    let force = h.mflags.has(MsgFlags::FORCEACK);
    if h.current_epoch.0 < st.current_epoch || st.last_vote_epoch == st.current_epoch {
        return;
    }
    let Some(master_id) = st
        .nodes
        .get(&h.sender)
        .filter(|n| !n.is_master())
        .and_then(|n| n.master)
    else {
        return;
    };
    let Some(master) = st.nodes.get(&master_id) else {
        return;
    };
    if !master.flags.fail && !force {
        return;
    }
    if now.saturating_sub(master.voted_time) < s.node_timeout * 2 {
        return;
    }
    // The claimed slots must not belong to a node with a newer config.
    for slot in super::slots::iter(&h.myslots) {
        let owner_epoch = st.owners[usize::from(slot)]
            .and_then(|o| st.nodes.get(&o))
            .map_or(0, |n| n.config_epoch);
        if owner_epoch > h.config_epoch.0 {
            return;
        }
    }
    st.last_vote_epoch = st.current_epoch;
    if let Some(m) = st.nodes.get_mut(&master_id) {
        m.voted_time = now;
    }
    *st.stats_sent.entry("auth-ack").or_insert(0) += 1;
    tracing::warn!(
        "Failover auth granted to {} for epoch {}",
        id_str(&h.sender),
        st.current_epoch
    );
    out.push(Action::Persist);
    // Answer on the link the request came in on: the candidate just wrote
    // to it, so it reaches the live process. Our own outbound link to a
    // replica that restarted a moment ago may still be connecting (its
    // messages are dropped) or point at the old process, and the lost
    // ACK made a manual failover right after a restart time out.
    out.push(Action::Reply(msg(st, s, Body::FailoverAuthAck)));
}

/// Replicas of my master with a better replication offset than mine.
fn rank(st: &ClusterState) -> usize {
    let me = st.me();
    let Some(master) = me.master else { return 0 };
    st.nodes
        .values()
        .filter(|n| {
            !n.flags.myself
                && n.master == Some(master)
                && n.flags.replica
                && !n.flags.nofailover
                && n.repl_offset > me.repl_offset
        })
        .count()
}

fn cant_failover(st: &mut ClusterState, why: &'static str) {
    if st.fo.cant_failover != Some(why) {
        tracing::info!("Currently unable to failover: {why}");
        st.fo.cant_failover = Some(why);
    }
}

/// Periodic failover work (every cron tick): manual failover timeout and
/// progress, pings to a replica in manual failover, the election.
pub fn cron(st: &mut ClusterState, s: &Settings, now: u64) -> Vec<Action> {
    let mut out = Vec::new();
    st.me_mut().flags.nofailover = s.replica_no_failover;
    if st.fo.mf_end != 0 && now > st.fo.mf_end {
        tracing::warn!("Manual failover timed out.");
        reset_manual(st, &mut out);
    }
    if st.fo.mf_end != 0 {
        if st.me().is_master() {
            // Keep the replica informed of the paused offset.
            if let Some(r) = st.fo.mf_replica {
                out.push(Action::Send(r, gossip::ping_msg(st, s, 0, Some(r))));
            }
        } else if !st.fo.mf_can_start
            && st.fo.mf_master_offset >= 0
            && st.fo.mf_master_offset == st.me().repl_offset
        {
            st.fo.mf_can_start = true;
            tracing::warn!("All master replication stream processed, manual failover can start.");
        }
    }
    handle_replica_failover(st, s, now, &mut out);
    out
}

/// The automatic/manual election of a replica (clusterHandleSlaveFailover).
pub fn handle_replica_failover(
    st: &mut ClusterState,
    s: &Settings,
    now: u64,
    out: &mut Vec<Action>,
) {
    let me = st.me();
    if !me.flags.replica {
        return;
    }
    let Some(master) = me.master.and_then(|m| st.nodes.get(&m)) else {
        return;
    };
    let manual = st.fo.mf_end != 0 && st.fo.mf_can_start;
    let timeout = s.node_timeout;
    let auth_timeout = (timeout * 2).max(2000);
    let auth_retry = auth_timeout * 2;
    if !master.flags.fail && !manual {
        return;
    }
    if master.slots.count() == 0 {
        return;
    }
    if s.replica_no_failover && !manual {
        return cant_failover(st, "cluster-replica-no-failover is set");
    }
    let mut data_age = st.fo.link_down_since.map_or(0, |t| now.saturating_sub(t));
    if data_age > timeout {
        data_age -= timeout;
    }
    let max_age = s.repl_ping_period * 1000 + timeout * s.validity_factor;
    if s.validity_factor > 0 && !manual && data_age > max_age {
        return cant_failover(st, "Disconnected from master for longer than allowed.");
    }
    if st.fo.auth_time == 0 || now.saturating_sub(st.fo.auth_time) > auth_retry {
        schedule_election(st, s, now, manual, out);
        if !manual {
            return;
        }
    }
    if !st.fo.auth_sent && !manual {
        let newrank = rank(st);
        if newrank > st.fo.auth_rank {
            let added = (newrank - st.fo.auth_rank) as u64 * 1000;
            st.fo.auth_time += added;
            st.fo.auth_rank = newrank;
        }
    }
    if now < st.fo.auth_time {
        return;
    }
    if now - st.fo.auth_time > auth_timeout {
        return cant_failover(st, "Failover attempt expired.");
    }
    if !st.fo.auth_sent {
        st.current_epoch += 1;
        st.fo.auth_epoch = st.current_epoch;
        st.fo.auth_sent = true;
        tracing::warn!(
            "Starting a failover election for epoch {}.",
            st.current_epoch
        );
        let mut req = msg(st, s, Body::FailoverAuthRequest);
        if manual {
            req.header.mflags.set(MsgFlags::FORCEACK, true);
        }
        *st.stats_sent.entry("auth-req").or_insert(0) += 1;
        out.push(Action::Persist);
        out.push(Action::Broadcast(req));
        return;
    }
    let quorum = st.size() / 2 + 1;
    if st.fo.auth_count >= quorum {
        tracing::warn!("Failover election won: I'm the new master.");
        if st.me().config_epoch < st.fo.auth_epoch {
            st.me_mut().config_epoch = st.fo.auth_epoch;
            tracing::warn!(
                "configEpoch set to {} after successful failover",
                st.fo.auth_epoch
            );
        }
        replace_my_master(st, s, out);
    }
}

/// Plan the next election: 500 ms + random 0..500 ms + rank × 1 s (no
/// delay for a manual failover), and share our offset with the siblings.
fn schedule_election(
    st: &mut ClusterState,
    s: &Settings,
    now: u64,
    manual: bool,
    out: &mut Vec<Action>,
) {
    st.fo.auth_count = 0;
    st.fo.auth_sent = false;
    st.fo.auth_rank = rank(st);
    st.fo.auth_time = now + 500 + rand::random::<u64>() % 500 + st.fo.auth_rank as u64 * 1000;
    if manual {
        st.fo.auth_time = now;
        st.fo.auth_rank = 0;
    }
    tracing::warn!(
        "Start of election delayed for {} milliseconds (rank #{}, offset {}).",
        st.fo.auth_time - now,
        st.fo.auth_rank,
        st.me().repl_offset
    );
    let master = st.me().master;
    let siblings: Vec<NodeId> = st
        .nodes
        .values()
        .filter(|n| !n.flags.myself && n.master == master && n.flags.replica)
        .map(|n| n.id)
        .collect();
    for id in siblings {
        out.push(Action::Send(id, gossip::ping_msg(st, s, 1, Some(id))));
    }
}

/// Become a master and take every slot of my old master, then tell every
/// node (clusterFailoverReplaceYourMaster).
fn replace_my_master(st: &mut ClusterState, s: &Settings, out: &mut Vec<Action>) {
    let Some(old) = st.me().master else { return };
    set_myself_master(st);
    let slots: Vec<u16> = st
        .nodes
        .get(&old)
        .map(|n| super::slots::iter(&n.slots).collect())
        .unwrap_or_default();
    for slot in slots {
        st.assign(slot, Some(st.myself));
    }
    st.fo.auth_time = 0;
    st.fo.auth_sent = false;
    reset_manual(st, out);
    st.update_state();
    out.push(Action::Persist);
    out.push(Action::Broadcast(gossip::ping_msg(st, s, 1, None)));
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica. Errors are Redis's texts.
pub fn manual_failover(
    st: &mut ClusterState,
    s: &Settings,
    mode: Mode,
    now: u64,
) -> Result<Vec<Action>, &'static str> {
    let me = st.me();
    if me.is_master() {
        return Err("ERR You should send CLUSTER FAILOVER to a replica");
    }
    let Some(master) = me.master.and_then(|m| st.nodes.get(&m)) else {
        return Err("ERR I'm a replica but my master is unknown to me");
    };
    let master_id = master.id;
    if mode == Mode::Default && (master.flags.fail || !master.link_connected) {
        return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
    }
    let mut out = Vec::new();
    reset_manual(st, &mut out);
    st.fo.mf_end = now + MF_TIMEOUT;
    match mode {
        Mode::Takeover => {
            tracing::warn!("Taking over the master (user request).");
            bump_epoch_without_consensus(st);
            replace_my_master(st, s, &mut out);
        }
        Mode::Force => {
            tracing::warn!("Forced failover user request accepted.");
            st.fo.mf_can_start = true;
            // Start the election at once instead of waiting for the retry time.
            st.fo.auth_time = 0;
            st.fo.auth_sent = false;
        }
        Mode::Default => {
            tracing::warn!("Manual failover user request accepted.");
            st.fo.auth_time = 0;
            st.fo.auth_sent = false;
            *st.stats_sent.entry("mfstart").or_insert(0) += 1;
            out.push(Action::Send(master_id, msg(st, s, Body::MfStart)));
        }
    }
    Ok(out)
}

/// Give myself a configEpoch greater than any other without an election
/// (clusterBumpConfigEpochWithoutConsensus).
pub fn bump_epoch_without_consensus(st: &mut ClusterState) -> bool {
    let max = st
        .nodes
        .values()
        .map(|n| n.config_epoch)
        .max()
        .unwrap_or(0)
        .max(st.current_epoch);
    let mine = st.me().config_epoch;
    if mine == 0 || mine != max {
        st.current_epoch += 1;
        let e = st.current_epoch;
        st.me_mut().config_epoch = e;
        return true;
    }
    false
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
