//! CLUSTER subcommands that read or change the local cluster state, plus
//! ASKING, READONLY and READWRITE. Subcommands that talk to other nodes
//! (MEET, REPLICATE, FAILOVER) live in `cluster_net.rs`.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::cluster::routing::Endpoint;
use crate::cluster::slots::parse_slot;
use crate::cluster::state::{id_str, parse_id, ClusterState};
use crate::cluster::{Cluster, NodeId};
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::SLOTS;
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("asking", asking),
    ("readonly", readonly),
    ("readwrite", readwrite),
    ("cluster|info", info),
    ("cluster|myid", myid),
    ("cluster|nodes", nodes),
    ("cluster|slots", slots),
    ("cluster|shards", shards),
    ("cluster|keyslot", keyslot),
    ("cluster|countkeysinslot", countkeysinslot),
    ("cluster|getkeysinslot", getkeysinslot),
    ("cluster|addslots", addslots),
    ("cluster|addslotsrange", addslotsrange),
    ("cluster|delslots", delslots),
    ("cluster|delslotsrange", delslotsrange),
    ("cluster|flushslots", flushslots),
    ("cluster|setslot", setslot),
    ("cluster|set-config-epoch", set_config_epoch),
    ("cluster|bumpepoch", bumpepoch),
    ("cluster|count-failure-reports", count_failure_reports),
    ("cluster|forget", forget),
    ("cluster|saveconfig", saveconfig),
    ("cluster|links", links),
    ("cluster|meet", meet),
    ("cluster|reset", reset),
    ("cluster|replicas", replicas),
    ("cluster|slaves", replicas),
];

/// CLUSTER RESET [HARD|SOFT]: forget every other node and all slots; HARD
/// also takes a new node id and zeroes the epochs.
fn reset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let hard = match argv.get(2) {
        None => false,
        Some(a) if args::is(a, "SOFT") => false,
        Some(a) if args::is(a, "HARD") => true,
        Some(_) => return Err(RedisError::Syntax),
    };
    let is_master = cl.read(|st| st.me().is_master());
    if is_master && !ctx.ks().db(0).is_empty() {
        return Err(RedisError::err(
            "CLUSTER RESET can't be called with master nodes containing keys",
        ));
    }
    let now = ctx.now_ms;
    cl.with(&ctx.srv.config, |st| {
        // Become a master first (a replica cannot forget its master), then
        // forget every other node, without the FORGET blacklist: Redis
        // deletes them (clusterReset) and gossip may re-add them.
        let me = st.me_mut();
        me.flags.replica = false;
        me.flags.master = true;
        me.master = None;
        let blacklist = st.blacklist.clone();
        let others: Vec<NodeId> = st
            .nodes
            .keys()
            .copied()
            .filter(|id| *id != st.myself)
            .collect();
        for id in others {
            let _ = st.forget(id);
        }
        st.blacklist = blacklist;
        for slot in 0..SLOTS as u16 {
            st.assign(slot, None);
        }
        st.migrating.clear();
        st.importing.clear();
        if hard {
            st.current_epoch = 0;
            st.last_vote_epoch = 0;
            let mut n = st
                .nodes
                .remove(&st.myself)
                .expect("invariant: myself exists");
            n.config_epoch = 0;
            n.id = crate::cluster::state::random_id();
            st.myself = n.id;
            st.nodes.insert(n.id, n);
        }
        st.start_ms = now;
    });
    cl.links.clear();
    crate::cluster::persist(ctx.srv);
    Ok(Reply::OK)
}

/// CLUSTER REPLICAS/SLAVES <master-id>: the replicas' CLUSTER NODES lines.
fn replicas(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let id = known_node(cl, &argv[2])?;
    let now = ctx.now_ms;
    cl.read(|st| {
        if st.nodes.get(&id).is_some_and(|n| !n.is_master()) {
            return Err(RedisError::err("The specified node is not a master"));
        }
        let lines = replicas_of(st, &id)
            .iter()
            .filter_map(|r| st.nodes.get(r))
            .map(|n| Reply::bulk_str(&st.node_line(n, now)))
            .collect();
        Ok(Reply::Array(lines))
    })
}

/// CLUSTER MEET ip port [cport]: start a handshake; the bus cron connects.
fn meet(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let ip = args::text(&argv[2]);
    let port = args::int(&argv[3]).map_err(|_| {
        RedisError::err(format!(
            "Invalid TCP base port specified: {}",
            args::text(&argv[3])
        ))
    })?;
    let cport = match argv.get(4) {
        Some(a) => args::int(a).map_err(|_| {
            RedisError::err(format!("Invalid TCP bus port specified: {}", args::text(a)))
        })?,
        None => port + 10000,
    };
    let valid_ip = ip.parse::<std::net::IpAddr>().is_ok();
    if !valid_ip || !(1..=65535).contains(&port) || !(1..=65535).contains(&cport) {
        return Err(RedisError::err(format!(
            "Invalid node address specified: {ip}:{port}"
        )));
    }
    let now = ctx.now_ms;
    cl.with(&ctx.srv.config, |st| {
        crate::cluster::gossip::start_handshake(st, &ip, port as u16, cport as u16, now)
    });
    Ok(Reply::OK)
}

/// The cluster, or Redis's error when cluster mode is off.
pub fn cluster<'a>(ctx: &Ctx<'a>) -> Result<&'a Cluster, RedisError> {
    let srv: &'a std::sync::Arc<crate::server::Server> = ctx.srv;
    srv.cluster
        .as_ref()
        .ok_or_else(|| RedisError::err("This instance has cluster support disabled"))
}

fn asking(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    ctx.sess.asking = true;
    Ok(Reply::OK)
}

fn readonly(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    ctx.sess.readonly = true;
    Ok(Reply::OK)
}

fn readwrite(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    ctx.sess.readonly = false;
    Ok(Reply::OK)
}

fn info(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let exceeded = cl
        .links
        .limit_exceeded
        .load(std::sync::atomic::Ordering::Relaxed);
    let text = cl.read(|st| st.info_text(exceeded));
    Ok(Reply::Verbatim(Bytes::from(text)))
}

fn myid(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let id = cluster(ctx)?.read(|st| st.myself);
    Ok(Reply::bulk_str(id_str(&id)))
}

fn nodes(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let text = cluster(ctx)?.read(|st| st.nodes_text(now));
    Ok(Reply::Verbatim(Bytes::from(text)))
}

/// A CLUSTER SLOTS node: the preferred endpoint, port, id, then the other
/// known endpoints (Redis addNodeToNodeReply).
fn node_entry(st: &ClusterState, id: &NodeId, endpoint: Endpoint) -> Reply {
    let Some(n) = st.nodes.get(id) else {
        return Reply::empty_array();
    };
    let mut meta = Vec::new();
    if endpoint != Endpoint::Ip {
        meta.push((Reply::bulk_str("ip"), Reply::bulk_str(&n.ip)));
    }
    if endpoint != Endpoint::Hostname && !n.hostname.is_empty() {
        meta.push((Reply::bulk_str("hostname"), Reply::bulk_str(&n.hostname)));
    }
    let first = match endpoint {
        Endpoint::Unknown => Reply::Nil,
        e => Reply::bulk_str(e.of(&n.ip, &n.hostname)),
    };
    Reply::Array(vec![
        first,
        Reply::Int(i64::from(n.port)),
        Reply::bulk_str(id_str(id)),
        Reply::Map(meta),
    ])
}

/// Replicas of `master` that are not failing.
fn replicas_of(st: &ClusterState, master: &NodeId) -> Vec<NodeId> {
    st.nodes
        .values()
        .filter(|n| n.master.as_ref() == Some(master))
        .map(|n| n.id)
        .collect()
}

fn slots(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let endpoint = Endpoint::from_config(&ctx.srv.config.get("cluster-preferred-endpoint-type"));
    let reply = cluster(ctx)?.read(|st| {
        let mut out = Vec::new();
        let mut start = 0usize;
        while start < SLOTS {
            let Some(owner) = st.owners[start] else {
                start += 1;
                continue;
            };
            let mut end = start;
            while end + 1 < SLOTS && st.owners[end + 1] == Some(owner) {
                end += 1;
            }
            let mut entry = vec![
                Reply::Int(start as i64),
                Reply::Int(end as i64),
                node_entry(st, &owner, endpoint),
            ];
            // A replica still loading its first sync announces offset 0
            // and is left out, as Redis's isReplicaAvailable does.
            for r in replicas_of(st, &owner) {
                if st
                    .nodes
                    .get(&r)
                    .is_some_and(|n| !n.is_failing() && n.repl_offset != 0)
                {
                    entry.push(node_entry(st, &r, endpoint));
                }
            }
            out.push(Reply::Array(entry));
            start = end + 1;
        }
        Reply::Array(out)
    });
    Ok(reply)
}

fn shard_node(st: &ClusterState, id: &NodeId) -> Reply {
    let Some(n) = st.nodes.get(id) else {
        return Reply::Map(vec![]);
    };
    let kv = |k: &str, v: Reply| (Reply::bulk_str(k), v);
    let role = if n.flags.replica { "replica" } else { "master" };
    // A replica that has not finished its first sync announces offset 0.
    let health = if n.is_failing() {
        "fail"
    } else if n.flags.replica && n.repl_offset == 0 {
        "loading"
    } else {
        "online"
    };
    let mut m = vec![
        kv("id", Reply::bulk_str(id_str(id))),
        kv("port", Reply::Int(i64::from(n.port))),
        kv("ip", Reply::bulk_str(&n.ip)),
        kv("endpoint", Reply::bulk_str(&n.ip)),
    ];
    if !n.hostname.is_empty() {
        m.push(kv("hostname", Reply::bulk_str(&n.hostname)));
    }
    m.push(kv("role", Reply::bulk_str(role)));
    m.push(kv("replication-offset", Reply::Int(n.repl_offset)));
    m.push(kv("health", Reply::bulk_str(health)));
    Reply::Map(m)
}

fn shards(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let reply = cluster(ctx)?.read(|st| {
        let masters: Vec<&crate::cluster::state::Node> =
            st.nodes.values().filter(|n| n.is_master()).collect();
        let out = masters
            .into_iter()
            .map(|m| {
                let mut slots = Vec::new();
                for (a, b) in m.slots.ranges() {
                    slots.push(Reply::Int(i64::from(a)));
                    slots.push(Reply::Int(i64::from(b)));
                }
                let mut nodes = vec![shard_node(st, &m.id)];
                nodes.extend(replicas_of(st, &m.id).iter().map(|r| shard_node(st, r)));
                Reply::Map(vec![
                    (Reply::bulk_str("slots"), Reply::Array(slots)),
                    (Reply::bulk_str("nodes"), Reply::Array(nodes)),
                ])
            })
            .collect();
        Reply::Array(out)
    });
    Ok(reply)
}

fn keyslot(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(i64::from(crate::keyspace::key_slot(&argv[2]))))
}

fn countkeysinslot(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = args::int(&argv[2])?;
    if !(0..SLOTS as i64).contains(&n) {
        return Err(RedisError::err("Invalid slot"));
    }
    Ok(Reply::Int(ctx.ks().db(0).slot_len(n as u16) as i64))
}

fn getkeysinslot(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let slot = args::int(&argv[2])?;
    let count = args::int(&argv[3])?;
    if !(0..SLOTS as i64).contains(&slot) || count < 0 {
        return Err(RedisError::err("Invalid slot or number of keys"));
    }
    let db = ctx.ks().db(0);
    let g = db.lock_slot(slot as u16);
    let keys: Vec<Bytes> = g
        .as_ref()
        .map(|s| {
            s.keys()
                .take(count as usize)
                .map(|k| Bytes::copy_from_slice(k))
                .collect()
        })
        .unwrap_or_default();
    Ok(Reply::bulks(keys))
}

fn slot_args(argv: &[Bytes]) -> Result<Vec<u16>, RedisError> {
    argv.iter()
        .map(|a| parse_slot(a).ok_or_else(|| RedisError::err("Invalid or out of range slot")))
        .collect()
}

/// Start/end pairs of ADDSLOTSRANGE / DELSLOTSRANGE (`argv` is the whole
/// command, so the arity error names the right subcommand).
fn range_args(argv: &[Bytes]) -> Result<Vec<u16>, RedisError> {
    let name = format!("cluster|{}", args::lower(&argv[1]));
    let argv = &argv[2..];
    if !argv.len().is_multiple_of(2) {
        return Err(RedisError::arity(name.as_bytes()));
    }
    let mut out = Vec::new();
    for pair in argv.chunks(2) {
        let a = slot_args(&pair[..1])?[0];
        let b = slot_args(&pair[1..])?[0];
        if a > b {
            return Err(RedisError::err(format!(
                "start slot number {a} is greater than end slot number {b}"
            )));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

fn change_slots(ctx: &Ctx, slots: Vec<u16>, add: bool) -> CmdResult {
    let cl = cluster(ctx)?;
    cl.with(&ctx.srv.config, |st| {
        if add {
            st.add_slots(&slots)
        } else {
            st.del_slots(&slots)
        }
    })
    .map_err(RedisError::raw)?;
    crate::cluster::persist(ctx.srv);
    Ok(Reply::OK)
}

fn addslots(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    let s = slot_args(&argv[2..])?;
    change_slots(ctx, s, true)
}

fn addslotsrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    let s = range_args(argv)?;
    change_slots(ctx, s, true)
}

fn delslots(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    let s = slot_args(&argv[2..])?;
    change_slots(ctx, s, false)
}

fn delslotsrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    let s = range_args(argv)?;
    change_slots(ctx, s, false)
}

fn flushslots(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    if !ctx.ks().db(0).is_empty() {
        return Err(RedisError::err(
            "DB must be empty to perform CLUSTER FLUSHSLOTS.",
        ));
    }
    cl.with(&ctx.srv.config, |st| {
        let mine: Vec<u16> = crate::cluster::slots::iter(&st.me().slots).collect();
        for s in mine {
            st.assign(s, None);
        }
    });
    crate::cluster::persist(ctx.srv);
    Ok(Reply::OK)
}

fn setslot(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let is_replica = cl.read(|st| st.me().flags.replica);
    if is_replica {
        return Err(RedisError::err("Please use SETSLOT only with masters."));
    }
    let slot =
        parse_slot(&argv[2]).ok_or_else(|| RedisError::err("Invalid or out of range slot"))?;
    let action = args::lower(&argv[3]);
    // MIGRATING/IMPORTING and NODE word the unknown-node error differently.
    let node_arg = |unknown: &str| -> Result<NodeId, RedisError> {
        let a = &argv[4];
        let node = parse_id(a)
            .and_then(|id| cl.read(|st| st.nodes.get(&id).map(|n| (id, n.flags.replica))));
        match node {
            Some((_, true)) => Err(RedisError::err("Target node is not a master")),
            Some((id, false)) => Ok(id),
            None => Err(RedisError::err(format!("{unknown} {}", args::text(a)))),
        }
    };
    let keys_in_slot = ctx.ks().db(0).slot_len(slot);
    let mut fsync = false;
    match (action.as_str(), argv.len()) {
        ("migrating", 5) => {
            if cl.read(|st| st.owners[usize::from(slot)] != Some(st.myself)) {
                return Err(RedisError::err(format!(
                    "I'm not the owner of hash slot {slot}"
                )));
            }
            let to = node_arg("I don't know about node")?;
            cl.with(&ctx.srv.config, |st| {
                st.migrating.insert(slot, to);
            });
        }
        ("importing", 5) => {
            if cl.read(|st| st.owners[usize::from(slot)] == Some(st.myself)) {
                return Err(RedisError::err(format!(
                    "I'm already the owner of hash slot {slot}"
                )));
            }
            let from = node_arg("I don't know about node")?;
            cl.with(&ctx.srv.config, |st| {
                st.importing.insert(slot, from);
            });
        }
        ("stable", 4) => cl.with(&ctx.srv.config, |st| {
            st.migrating.remove(&slot);
            st.importing.remove(&slot);
        }),
        ("node", 5) => {
            let to = node_arg("Unknown node")?;
            fsync = setslot_node(ctx, cl, slot, to, keys_in_slot)?;
        }
        _ => {
            return Err(RedisError::err(
                "Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
            ))
        }
    }
    // Redis saves nodes.conf for SETSLOT without fsync unless the epoch
    // changed; an fsync per call would make resharding crawl.
    if fsync {
        crate::cluster::persist(ctx.srv);
    } else {
        crate::cluster::persist_nofsync(ctx.srv);
    }
    Ok(Reply::OK)
}

/// SETSLOT <slot> NODE <id> (Redis 7.0 semantics). Returns true when the
/// config epoch was bumped (nodes.conf must then be fsynced).
fn setslot_node(
    ctx: &Ctx,
    cl: &Cluster,
    slot: u16,
    to: NodeId,
    keys_in_slot: usize,
) -> Result<bool, RedisError> {
    let (me, owner) = cl.read(|st| (st.myself, st.owners[usize::from(slot)]));
    if owner == Some(me) && to != me && keys_in_slot > 0 {
        return Err(RedisError::err(format!(
            "Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
        )));
    }
    let follow = ctx.srv.config.get_bool("cluster-allow-replica-migration");
    let mut actions = Vec::new();
    let (bumped, imported) = cl.with(&ctx.srv.config, |st| {
        // A migrating slot left without keys stops migrating, whoever the
        // new owner is; one that still has keys keeps its state.
        if keys_in_slot == 0 {
            st.migrating.remove(&slot);
        }
        st.assign(slot, Some(to));
        // A master that gave away its last slot follows the node that
        // took it (Redis's SETSLOT NODE with allow-replica-migration).
        if owner == Some(me) && to != me && follow && st.me().slots.count() == 0 {
            tracing::warn!(
                "Configuration change detected. Reconfiguring myself as a replica of {}",
                id_str(&to)
            );
            crate::cluster::failover::set_master(st, to, &mut actions);
        }
        // Importing ends only when the slot is assigned to myself: claim it
        // with a new epoch (without consensus) so the cluster accepts it.
        if to == me && st.importing.remove(&slot).is_some() {
            let bumped = bump_epoch(st);
            if bumped {
                tracing::warn!("configEpoch updated after importing slot {slot}");
            }
            return (bumped, true);
        }
        (false, false)
    });
    if !actions.is_empty() {
        crate::cluster::bus::link::perform(ctx.srv, actions, None);
    }
    if imported {
        // Let the other nodes know the new owner right away.
        crate::cluster::broadcast_pong(ctx.srv);
    }
    Ok(bumped)
}

/// Give myself a new config epoch unless mine is already non-zero and the
/// greatest (Redis clusterBumpConfigEpochWithoutConsensus; collisions are
/// resolved later by the epoch collision handling).
/// Returns true when the epoch changed.
pub fn bump_epoch(st: &mut ClusterState) -> bool {
    let bumped = crate::cluster::failover::bump_epoch_without_consensus(st);
    if bumped {
        tracing::warn!("New configEpoch set to {}", st.current_epoch);
    }
    bumped
}

fn set_config_epoch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let epoch = args::int(&argv[2])?;
    if epoch < 0 {
        return Err(RedisError::err(format!(
            "Invalid config epoch specified: {epoch}"
        )));
    }
    let res = cl.with(&ctx.srv.config, |st| {
        if st.nodes.len() > 1 {
            return Err("ERR The user can assign a config epoch only when the node does not know any other node.");
        }
        if st.me().config_epoch != 0 {
            return Err("ERR Node config epoch is already non-zero");
        }
        st.me_mut().config_epoch = epoch as u64;
        st.current_epoch = st.current_epoch.max(epoch as u64);
        Ok(())
    });
    res.map_err(RedisError::raw)?;
    crate::cluster::persist(ctx.srv);
    Ok(Reply::OK)
}

fn bumpepoch(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let (bumped, epoch) = cl.with(&ctx.srv.config, |st| (bump_epoch(st), st.me().config_epoch));
    crate::cluster::persist(ctx.srv);
    Ok(Reply::StatusOwned(format!(
        "{} {epoch}",
        if bumped { "BUMPED" } else { "STILL" }
    )))
}

fn known_node(cl: &Cluster, arg: &[u8]) -> Result<NodeId, RedisError> {
    parse_id(arg)
        .filter(|id| cl.read(|st| st.nodes.contains_key(id)))
        .ok_or_else(|| RedisError::err(format!("Unknown node {}", args::text(arg))))
}

fn count_failure_reports(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let id = known_node(cl, &argv[2])?;
    Ok(Reply::Int(
        cl.read(|st| st.nodes.get(&id).map_or(0, |n| n.fail_reports.len())) as i64,
    ))
}

fn forget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let id = known_node(cl, &argv[2])?;
    let res = cl.with(&ctx.srv.config, |st| st.forget(id));
    res.map_err(RedisError::raw)?;
    crate::cluster::persist(ctx.srv);
    Ok(Reply::OK)
}

fn saveconfig(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    crate::cluster::save_config(ctx.srv)
        .map_err(|e| RedisError::err(format!("error saving the cluster node config: {e}")))?;
    Ok(Reply::OK)
}

fn links(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    Ok(Reply::Array(cl.links_reply()))
}

/// DEBUG CLUSTERLINK KILL <to|from|all> <node-id>: close bus links with a
/// node (tests use it to cut one direction). The outbound sender goes at
/// once, so nothing sent after the kill travels on the old link.
pub fn debug_clusterlink_kill(ctx: &mut Ctx, dir: &[u8], node: &[u8]) -> CmdResult {
    let Some(cl) = &ctx.srv.cluster else {
        return Err(RedisError::err(
            "Debug option only available for cluster mode enabled setup!",
        ));
    };
    let id = parse_id(node)
        .filter(|id| cl.read(|st| st.nodes.contains_key(id)))
        .ok_or_else(|| RedisError::err(format!("Unknown node {}", args::text(node))))?;
    let (to, from) = match args::lower(dir).as_str() {
        "to" => (true, false),
        "from" => (false, true),
        "all" => (true, true),
        _ => {
            return Err(RedisError::err(format!(
                "Unknown direction {}",
                args::text(dir)
            )))
        }
    };
    if to {
        cl.links.drop_out(&id);
    }
    cl.links.registry.kill(&id, to, from);
    Ok(Reply::OK)
}
