//! Replica migration (Redis 7.0 clusterHandleSlaveMigration), pure state:
//! when a master that used to have replicas is left with none working
//! ("orphaned") for 5 s, one replica of the best-covered master moves to
//! it, provided its own master keeps more than cluster-migration-barrier
//! working replicas. The mover is the replica with the smallest node id
//! among the best-covered masters' replicas, so every node picks the same one.

use super::gossip::{Action, Settings};
use super::state::{ClusterState, NodeId};

/// How long a master must stay orphaned before a replica moves to it.
pub const MIGRATION_DELAY: u64 = 5000;

/// Replicas of `master` not flagged FAIL.
fn working_replicas(st: &ClusterState, master: &NodeId) -> Vec<NodeId> {
    st.nodes
        .values()
        .filter(|n| n.flags.replica && n.master.as_ref() == Some(master) && !n.flags.fail)
        .map(|n| n.id)
        .collect()
}

/// Called every cron tick.
pub fn cron(st: &mut ClusterState, s: &Settings, now: u64, out: &mut Vec<Action>) {
    // A master seen with a replica becomes a migration target (MIGRATE_TO),
    // and so does every master serving slots once some master has replicas
    // (Redis flags a master at its first slot when masters have slaves, and
    // a replica promoted to master): a promoted replica left without
    // replicas is then adopted.
    let with_replicas: Vec<NodeId> = st
        .nodes
        .values()
        .filter(|n| n.flags.replica)
        .filter_map(|n| n.master)
        .collect();
    let masters_have_replicas = !with_replicas.is_empty();
    for m in with_replicas {
        if let Some(n) = st.nodes.get_mut(&m) {
            n.migrate_to = true;
        }
    }
    if masters_have_replicas {
        for n in st.nodes.values_mut() {
            if n.is_master() && n.slots.count() > 0 {
                n.migrate_to = true;
            }
        }
    }
    let me = st.me();
    if !me.flags.replica || !s.allow_replica_migration || !st.ok {
        return;
    }
    let Some(mymaster) = me.master else { return };
    let (mut orphaned, mut max_replicas, mut mine) = (0, 0, 0);
    for n in st.nodes.values().filter(|n| n.is_master() && !n.flags.fail) {
        let ok = working_replicas(st, &n.id).len();
        if ok == 0 && n.slots.count() > 0 && n.migrate_to {
            orphaned += 1;
        }
        max_replicas = max_replicas.max(ok);
        if n.id == mymaster {
            mine = ok;
        }
    }
    if orphaned == 0 || max_replicas < 2 || mine != max_replicas {
        return;
    }
    if mine <= s.migration_barrier {
        return;
    }
    let mut target: Option<NodeId> = None;
    let mut candidate = st.myself;
    let ids: Vec<NodeId> = st.nodes.keys().copied().collect();
    for id in ids {
        let Some(n) = st.nodes.get(&id) else { continue };
        let replicas = if n.is_master() {
            working_replicas(st, &id)
        } else {
            Vec::new()
        };
        let is_orphaned = n.is_master() && !n.flags.fail && n.migrate_to && replicas.is_empty();
        if replicas.len() == max_replicas {
            if let Some(min) = replicas.iter().min() {
                candidate = candidate.min(*min);
            }
        }
        let slots = n.slots.count();
        if let Some(n) = st.nodes.get_mut(&id) {
            if is_orphaned {
                if target.is_none() && slots > 0 {
                    target = Some(id);
                }
                if n.orphaned_time == 0 {
                    n.orphaned_time = now;
                }
            } else {
                n.orphaned_time = 0;
            }
        }
    }
    let Some(target) = target else { return };
    let since = st.nodes.get(&target).map_or(now, |n| n.orphaned_time);
    if candidate == st.myself && now.saturating_sub(since) > MIGRATION_DELAY {
        tracing::warn!(
            "Migrating to orphaned master {}",
            super::state::id_str(&target)
        );
        super::failover::set_master(st, target, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::Node;

    fn nid(c: char) -> NodeId {
        NodeId::parse(&c.to_string().repeat(40)).expect("valid id")
    }

    #[test]
    fn the_smallest_replica_of_the_best_covered_master_moves() {
        // a has replicas d and e; b has none (it had one that failed).
        let mut st = ClusterState::new(nid('d'), 7000, 17000);
        for c in ['a', 'b', 'e', 'f'] {
            st.nodes
                .insert(nid(c), Node::new(nid(c), "127.0.0.1", 7001, 17001));
        }
        for (r, m) in [('d', 'a'), ('e', 'a'), ('f', 'b')] {
            let n = st.nodes.get_mut(&nid(r)).expect("node");
            n.flags.master = false;
            n.flags.replica = true;
            n.master = Some(nid(m));
        }
        st.nodes.get_mut(&nid('f')).expect("f").flags.fail = true;
        for slot in 0..16384u16 {
            st.assign(slot, Some(if slot < 8192 { nid('a') } else { nid('b') }));
        }
        st.ok = true;
        let s = Settings {
            migration_barrier: 1,
            allow_replica_migration: true,
            ..Settings::default()
        };
        let mut out = Vec::new();
        cron(&mut st, &s, 1_000, &mut out);
        assert_eq!(st.me().master, Some(nid('a')));
        cron(&mut st, &s, 1_000 + MIGRATION_DELAY + 1, &mut out);
        assert_eq!(st.me().master, Some(nid('b')));
        // With the barrier at 2, a keeps both replicas.
        st.me_mut().master = Some(nid('a'));
        st.nodes.get_mut(&nid('b')).expect("b").orphaned_time = 0;
        let s = Settings {
            migration_barrier: 2,
            ..s
        };
        cron(&mut st, &s, 20_000, &mut out);
        cron(&mut st, &s, 30_000, &mut out);
        assert_eq!(st.me().master, Some(nid('a')));
    }
}
