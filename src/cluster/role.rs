//! Keeps the replication module in step with the role the cluster state
//! records for this node (Redis does the same from clusterCron: "if we are
//! a replica but replication is off, enable it when the master's address is
//! known"). The state machine (`failover`, `gossip`) only flips flags; this
//! file calls `replication::{follow, promote}` when the recorded role and
//! the followed address differ, and feeds the replication offset and the
//! master link status back into the state before each cron tick.
//!
//! Also applies the manual-failover write pause on a master.

use std::sync::Arc;

use crate::server::{PauseKind, Server};

use crate::replication as repl;

/// The address replication was last told to follow (None: master role).
#[derive(Default)]
pub struct Following(parking_lot::Mutex<Option<(String, u16)>>);

/// Start following the master recorded in the state, or promote this node
/// when the state says it became a master.
pub fn reconcile(srv: &Arc<Server>) {
    let Some(cl) = &srv.cluster else { return };
    let (replica, want) = cl.read(|st| {
        let me = st.me();
        let addr = me
            .master
            .filter(|_| me.flags.replica)
            .and_then(|m| st.nodes.get(&m))
            .filter(|n| !n.ip.is_empty() && !n.flags.noaddr)
            .map(|n| (n.ip.clone(), n.port));
        (me.flags.replica, addr)
    });
    let mut cur = cl.following.0.lock();
    if *cur == want {
        return;
    }
    match want {
        Some((ip, port)) => {
            tracing::info!("Cluster: replicating {ip}:{port}");
            repl::follow(srv, &ip, port);
            *cur = Some((ip, port));
        }
        None if !replica && cur.take().is_some() => repl::promote(srv),
        // Already a master, or a replica whose master has no known
        // address yet: nothing to do.
        None => {}
    }
}

/// Copy the replication offset and master link status into the state.
pub fn refresh(srv: &Arc<Server>, st: &mut crate::cluster::ClusterState) {
    // During a full sync a replica has no data to offer yet: it announces
    // offset 0 (Redis: no master client while the RDB is transferred).
    let syncing = st.me().flags.replica
        && srv
            .repl
            .link
            .sync_in_progress
            .load(std::sync::atomic::Ordering::Relaxed);
    st.me_mut().repl_offset = if syncing { 0 } else { repl::repl_offset(srv) };
    // The age of a replica's data (Redis's data_age): since the link went
    // down, or since the last byte from the master while it is up.
    st.fo.link_down_since = if st.me().flags.replica {
        repl::master_link_down_since(srv)
            .or_else(|| Some(repl::master_last_io_ms(srv)).filter(|&t| t > 0))
    } else {
        None
    };
}

/// Pause writes until `until` (ms) for a manual failover, never weakening
/// a stronger pause already in force.
pub fn pause_writes(srv: &Server, until: u64) {
    let mut p = srv.pause.lock();
    match *p {
        Some((PauseKind::All, u)) if u >= until => {}
        Some((_, u)) if u >= until => {}
        _ => *p = Some((PauseKind::Write, until)),
    }
    drop(p);
    srv.pause_changed.notify_waiters();
}

/// Lift the manual failover pause (a write pause only).
pub fn unpause(srv: &Server) {
    let mut p = srv.pause.lock();
    if matches!(*p, Some((PauseKind::Write, _))) {
        *p = None;
    }
    drop(p);
    srv.pause_changed.notify_waiters();
}
