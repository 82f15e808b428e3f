//! Cluster mode (Redis Cluster 7.0 compatible). `state` holds the node
//! table, slot ownership and epochs (no I/O); `routing` is the per-command
//! redirection decision against an immutable snapshot of slot ownership;
//! the bus codecs and links live under `bus`.

pub mod bus;
pub mod failover;
pub mod gossip;
pub mod nodes_conf;
pub mod replica_migration;
pub mod role;
pub mod routing;
pub mod slots;
pub mod state;

pub use routing::{Redirect, SlotMap};
pub use state::{ClusterState, NodeId};

use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::config::Config;

/// The cluster of this node: state under one mutex, routing snapshot
/// republished after every change.
pub struct Cluster {
    state: Mutex<ClusterState>,
    map: ArcSwap<SlotMap>,
    /// The inputs of the published snapshot.
    map_key: Mutex<Option<routing::RoutingKey>>,
    /// Outbound bus links.
    pub links: bus::link::Links,
    /// The master address replication follows (`role::reconcile`).
    pub following: role::Following,
    /// DEBUG DROP-CLUSTER-PACKET-FILTER: bus packets of this type are
    /// dropped on receipt (-1: none), for tests that cut one message kind.
    pub drop_filter: std::sync::atomic::AtomicI64,
    /// A `persist_soon` save is queued and has not read the state yet.
    save_queued: std::sync::atomic::AtomicBool,
}

impl Cluster {
    /// A fresh node (no nodes.conf yet): random id, no slots.
    pub fn new(cfg: &Config) -> Cluster {
        let (port, cport) = announced_ports(cfg);
        let mut st = match load_nodes_conf(cfg, port, cport) {
            Ok(Some(st)) => st,
            Ok(None) => ClusterState::new(state::random_id(), port, cport),
            Err(e) => {
                // A corrupt nodes.conf must never be silently reset.
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        st.require_full_coverage = cfg.get_bool("cluster-require-full-coverage");
        st.update_state();
        let map = ArcSwap::from_pointee(SlotMap::build(&st, false, routing::Endpoint::Ip));
        let c = Cluster {
            state: Mutex::new(st),
            map,
            map_key: Mutex::new(None),
            links: Default::default(),
            following: Default::default(),
            drop_filter: std::sync::atomic::AtomicI64::new(-1),
            save_queued: std::sync::atomic::AtomicBool::new(false),
        };
        c.with(cfg, |_| ());
        c
    }

    /// CLUSTER LINKS entries (one per bus link).
    pub fn links_reply(&self) -> Vec<crate::protocol::Reply> {
        let (me, known): (NodeId, Vec<NodeId>) =
            self.read(|st| (st.myself, st.nodes.keys().copied().collect()));
        self.links
            .registry
            .reply(|id| *id != me && known.contains(id))
    }

    /// The current routing snapshot.
    pub fn map(&self) -> Arc<SlotMap> {
        self.map.load_full()
    }

    /// Read the state.
    pub fn read<R>(&self, f: impl FnOnce(&ClusterState) -> R) -> R {
        f(&self.state.lock())
    }

    /// Change the state, then recompute cluster health and republish the
    /// routing snapshot.
    pub fn with<R>(&self, cfg: &Config, f: impl FnOnce(&mut ClusterState) -> R) -> R {
        let mut st = self.state.lock();
        st.allow_replica_migration = cfg.get_bool("cluster-allow-replica-migration");
        st.allow_pubsubshard_when_down = cfg.get_bool("cluster-allow-pubsubshard-when-down");
        st.require_full_coverage = cfg.get_bool("cluster-require-full-coverage");
        let r = f(&mut st);
        st.update_state();
        let reads = cfg.get_bool("cluster-allow-reads-when-down");
        let endpoint = routing::Endpoint::from_config(&cfg.get("cluster-preferred-endpoint-type"));
        // Most bus messages change nothing routing depends on: rebuild the
        // snapshot only when its inputs changed (an idle node handles tens
        // of messages per second).
        let key = routing::RoutingKey::of(&st, reads, endpoint);
        let mut last = self.map_key.lock();
        if last.as_ref() != Some(&key) {
            self.map
                .store(Arc::new(SlotMap::build(&st, reads, endpoint)));
            *last = Some(key);
        }
        r
    }
}

/// Write nodes.conf atomically: temp file, fsync, rename, fsync the directory.
pub fn save_config(srv: &crate::server::Server) -> std::io::Result<()> {
    save_config_with(srv, true)
}

/// Write nodes.conf. With `fsync`: atomically and durably (temp file,
/// fsync, rename, fsync the directory). Without: in place, as Redis 7.0
/// does for changes such as CLUSTER SETSLOT (a rename costs milliseconds
/// on ext4, which made resharding crawl).
fn save_config_with(srv: &crate::server::Server, fsync: bool) -> std::io::Result<()> {
    use std::io::Write;
    // Saves from commands and from the bus share one file and temp name.
    static SAVING: Mutex<()> = Mutex::new(());
    let Some(cl) = &srv.cluster else {
        return Ok(());
    };
    let _saving = SAVING.lock();
    let text = cl.read(|st| st.config_text());
    let path = std::path::PathBuf::from(srv.config.get("cluster-config-file"));
    if !fsync {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        f.write_all(text.as_bytes())?;
        return f.set_len(text.len() as u64);
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Persist after a change Redis persists; a failure is logged (Redis exits
/// on a failed nodes.conf write; we keep serving and report it).
pub fn persist(srv: &crate::server::Server) {
    if let Err(e) = save_config(srv) {
        tracing::warn!("Could not save the cluster node config: {e}");
    }
}

/// Persist without fsync (Redis's CLUSTER_TODO_SAVE_CONFIG without
/// CLUSTER_TODO_FSYNC_CONFIG).
pub fn persist_nofsync(srv: &crate::server::Server) {
    if let Err(e) = save_config_with(srv, false) {
        tracing::warn!("Could not save the cluster node config: {e}");
    }
}

/// The bus port this node listens on: cluster-port, or port + 10000.
pub fn bus_port(cfg: &Config) -> u16 {
    match cfg.get_i64("cluster-port") {
        0 => (cfg.get_i64("port") as u16).wrapping_add(10000),
        p => p as u16,
    }
}

/// The client and bus ports myself announces (CLUSTER NODES, bus
/// headers): cluster-announce-port / cluster-announce-bus-port when set,
/// else the real ones (Redis clusterUpdateMyselfAnnouncedPorts).
pub fn announced_ports(cfg: &Config) -> (u16, u16) {
    let pick = |announced: i64, real: u16| {
        if announced > 0 {
            announced as u16
        } else {
            real
        }
    };
    (
        pick(
            cfg.get_i64("cluster-announce-port"),
            cfg.get_i64("port") as u16,
        ),
        pick(cfg.get_i64("cluster-announce-bus-port"), bus_port(cfg)),
    )
}

/// Start-up and CONFIG SET of a port, an announced port or the announced
/// hostname: myself's entry changes at once, peers learn it from the next
/// ping.
pub fn update_announced_endpoint(srv: &crate::server::Server) {
    let Some(cl) = &srv.cluster else { return };
    let (port, cport) = announced_ports(&srv.config);
    let hostname = srv.config.get("cluster-announce-hostname");
    let changed = cl.with(&srv.config, |st| {
        let me = st.me_mut();
        let changed = (me.port, me.cport, me.hostname.as_str()) != (port, cport, hostname.as_str());
        me.port = port;
        me.cport = cport;
        me.hostname = hostname;
        changed
    });
    if changed {
        persist_nofsync(srv);
    }
}

/// Persist (with fsync) on a blocking thread, coalescing requests that
/// arrive before the queued save reads the state. Changes learned from the
/// bus are saved this way, as Redis saves them once per event-loop turn in
/// beforeSleep: a synchronous fsync + rename per gossip message stalled
/// client commands for milliseconds during resharding.
pub fn persist_soon(srv: &Arc<crate::server::Server>) {
    use std::sync::atomic::Ordering;
    let Some(cl) = &srv.cluster else { return };
    if cl.save_queued.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        cl.save_queued.store(false, Ordering::Release);
        persist(srv);
        return;
    };
    let srv = srv.clone();
    rt.spawn_blocking(move || {
        // Gather the changes of a burst (a resharding moves a slot every
        // millisecond) into one save; what the bus taught us is taught
        // again after a crash, so a short delay loses nothing.
        std::thread::sleep(std::time::Duration::from_millis(10));
        if let Some(cl) = &srv.cluster {
            // Cleared before the state is read: a later change queues a
            // new save, an earlier one is in this save.
            cl.save_queued.store(false, Ordering::Release);
        }
        persist(&srv);
    });
}

/// Send a PONG to every node now (Redis clusterBroadcastPong), so a slot
/// change is known without waiting for the next ping round.
pub fn broadcast_pong(srv: &std::sync::Arc<crate::server::Server>) {
    bus::link::broadcast_pong(srv);
}

/// Rebuild the state from `cluster-config-file`. Ok(None): no file (or an
/// empty one, which Redis also treats as "new node").
fn load_nodes_conf(cfg: &Config, port: u16, cport: u16) -> Result<Option<ClusterState>, String> {
    let path = cfg.get("cluster-config-file");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "Unrecoverable error: can't read the cluster config file {path}: {e}"
            ))
        }
    };
    let conf = match nodes_conf::parse(&text) {
        Ok(c) => c,
        Err(nodes_conf::NodesConfError::Empty) => return Ok(None),
        Err(e) => {
            return Err(format!(
                "Unrecoverable error: corrupted cluster config file \"{path}\": {e}"
            ))
        }
    };
    let me = conf
        .myself()
        .ok_or_else(|| format!("Unrecoverable error: no myself node in {path}"))?;
    let mut st = ClusterState::new(me.id, port, cport);
    st.current_epoch = conf.current_epoch.0;
    st.last_vote_epoch = conf.last_vote_epoch.0;
    for line in &conf.nodes {
        let f = line.flags;
        let mut n = state::Node::new(line.id, &line.ip, line.port, line.cport);
        if line.id == me.id {
            n.port = port;
            n.cport = cport;
        }
        n.hostname = line.hostname.clone().unwrap_or_default();
        n.flags.myself = line.id == me.id;
        n.flags.replica = f.has(bus::msg::NodeFlags::SLAVE);
        n.flags.master = !n.flags.replica;
        n.flags.fail = f.has(bus::msg::NodeFlags::FAIL);
        n.flags.noaddr = f.has(bus::msg::NodeFlags::NOADDR);
        n.flags.nofailover = f.has(bus::msg::NodeFlags::NOFAILOVER);
        n.master = line.master;
        n.config_epoch = line.config_epoch.0;
        st.nodes.insert(line.id, n);
        for &(a, b) in &line.slots {
            for s in a..=b {
                st.assign(s, Some(line.id));
            }
        }
        for o in &line.open_slots {
            match o.kind {
                nodes_conf::OpenSlotKind::Migrating => st.migrating.insert(o.slot, o.node),
                nodes_conf::OpenSlotKind::Importing => st.importing.insert(o.slot, o.node),
            };
        }
    }
    Ok(Some(st))
}
