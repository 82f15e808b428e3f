//! Cluster bus I/O: the listener on the bus port, one outbound link per
//! known node, and the 100 ms cron. All protocol decisions are made by
//! `cluster::gossip` on the locked state; this module only moves bytes and
//! carries out the returned actions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::codec::{decode, encode, next_frame, Frame, DEFAULT_MAX_FRAME_LEN};
use super::msg::{Body, Msg};
use crate::cluster::failover;
use crate::cluster::gossip::{self, Action, LinkInfo, Settings};
use crate::cluster::state::NodeId;
use crate::server::Server;
use crate::util::clock;

/// The sending side of a link: messages are encoded here and queued for
/// its writer task; `pending` counts the queued bytes, the link's send
/// buffer that cluster-link-sendbuf-limit bounds.
#[derive(Clone)]
pub struct LinkTx {
    tx: mpsc::UnboundedSender<Bytes>,
    pending: Arc<AtomicUsize>,
}

impl LinkTx {
    /// A sender whose messages go nowhere (a link still connecting).
    fn detached() -> LinkTx {
        let (tx, _) = mpsc::unbounded_channel();
        LinkTx {
            tx,
            pending: Arc::default(),
        }
    }

    /// Queue a message; returns the bytes now waiting to be written.
    pub fn send(&self, m: &Msg) -> usize {
        let b = Bytes::from(encode(m));
        let n = b.len();
        let pending = self.pending.fetch_add(n, Ordering::Relaxed) + n;
        if self.tx.send(b).is_err() {
            self.pending.fetch_sub(n, Ordering::Relaxed);
        }
        pending
    }
}

/// Outbound links by node.
#[derive(Default)]
pub struct Links {
    out: Mutex<HashMap<NodeId, LinkTx>>,
    /// Links freed for exceeding cluster-link-sendbuf-limit (CLUSTER INFO
    /// total_cluster_links_buffer_limit_exceeded).
    pub limit_exceeded: AtomicU64,
    /// Open connections, for CLUSTER LINKS.
    pub registry: Arc<super::registry::Registry>,
}

impl Links {
    /// Forget every outbound link: nothing is sent through them any more.
    pub fn clear(&self) {
        self.out.lock().clear();
    }

    /// Stop sending to `id` over its outbound link (it reconnects later).
    pub fn drop_out(&self, id: &NodeId) {
        self.out.lock().remove(id);
    }
}

pub fn settings(srv: &Server) -> Settings {
    Settings {
        node_timeout: srv.config.get_i64("cluster-node-timeout").max(1) as u64,
        announce_ip: srv.config.get("cluster-announce-ip"),
        hostname: srv.config.get("cluster-announce-hostname"),
        validity_factor: srv.config.get_i64("cluster-replica-validity-factor").max(0) as u64,
        repl_ping_period: srv.config.get_i64("repl-ping-replica-period").max(1) as u64,
        replica_no_failover: srv.config.get_bool("cluster-replica-no-failover"),
        migration_barrier: srv.config.get_i64("cluster-migration-barrier").max(0) as usize,
        allow_replica_migration: srv.config.get_bool("cluster-allow-replica-migration"),
    }
}

/// Start the bus listener and the cluster cron.
pub fn start(srv: Arc<Server>) {
    if srv.cluster.is_none() {
        return;
    }
    // myself's entry carries the announced ports and hostname.
    crate::cluster::update_announced_endpoint(&srv);
    // The real bus port: myself's entry carries the announced one.
    let cport = crate::cluster::bus_port(&srv.config);
    let srv2 = srv.clone();
    tokio::spawn(async move {
        let listener = match TcpListener::bind(("0.0.0.0", cport)).await {
            Ok(l) => l,
            Err(e) => {
                // A node without its bus cannot take part in the cluster:
                // Redis aborts at start-up in this case too.
                tracing::warn!("Failed listening on port {cport} (cluster), aborting: {e}");
                std::process::exit(1);
            }
        };
        loop {
            tokio::select! {
                _ = srv2.shutdown.cancelled() => return,
                r = listener.accept() => if let Ok((s, _)) = r {
                    tokio::spawn(inbound(srv2.clone(), s));
                }
            }
        }
    });
    tokio::spawn(cron(srv));
}

/// Fill in the sender header (and gossip for pings) of a message built
/// without access to the state.
fn complete(srv: &Server, msg: Msg, to: Option<NodeId>) -> Msg {
    let Some(cl) = &srv.cluster else { return msg };
    if !msg.header.sender.is_null() {
        return msg;
    }
    let s = settings(srv);
    cl.read(|st| match &msg.body {
        Body::Ping(p) if p.gossip.is_empty() => gossip::ping_msg(st, &s, 0, to),
        _ => Msg {
            header: gossip::header(st, &s),
            body: msg.body,
        },
    })
}

/// Send over the outbound link to `id`; a link whose queued bytes exceed
/// cluster-link-sendbuf-limit (a peer that stopped reading) is freed, and
/// the cron connects again (Redis 7.0's cluster link send buffer limit).
fn send_bounded(cl: &crate::cluster::Cluster, id: NodeId, tx: &LinkTx, m: &Msg, limit: usize) {
    let pending = tx.send(m);
    if limit > 0 && pending > limit {
        tracing::warn!(
            "Freeing cluster link to node {}: send buffer of {pending} bytes exceeds the limit",
            crate::cluster::state::id_str(&id)
        );
        cl.links.limit_exceeded.fetch_add(1, Ordering::Relaxed);
        cl.links.drop_out(&id);
        cl.links.registry.kill(&id, true, false);
    }
}

/// Send a PUBLISH to every node (Redis clusterPropagatePublish), or a
/// SPUBLISH to the other nodes of my shard: my master or myself, and its
/// replicas (clusterPropagatePublishShard).
pub fn propagate_publish(
    srv: &Arc<Server>,
    shard: bool,
    channel: &bytes::Bytes,
    message: &bytes::Bytes,
) {
    let Some(cl) = &srv.cluster else { return };
    let (channel, message) = (channel.clone(), message.clone());
    let body = if shard {
        Body::PublishShard { channel, message }
    } else {
        Body::Publish { channel, message }
    };
    // The sender header is filled in by `complete`.
    let msg = Msg {
        header: Default::default(),
        body,
    };
    if !shard {
        perform(srv, vec![Action::Broadcast(msg)], None);
        return;
    }
    let targets: Vec<NodeId> = cl.read(|st| {
        let me = st.me();
        let master = if me.flags.replica {
            me.master
        } else {
            Some(st.myself)
        };
        st.nodes
            .values()
            .filter(|n| n.id != st.myself && master.is_some())
            .filter(|n| Some(n.id) == master || (n.flags.replica && n.master == master))
            .map(|n| n.id)
            .collect()
    });
    let sends = targets
        .into_iter()
        .map(|id| Action::Send(id, msg.clone()))
        .collect();
    perform(srv, sends, None);
}

/// A FAILOVER_AUTH_ACK being sent: the vote it carries must be durable.
fn is_vote(a: &Action) -> bool {
    matches!(
        a,
        Action::Reply(m) | Action::Send(_, m) | Action::Broadcast(m)
            if matches!(m.body, Body::FailoverAuthAck)
    )
}

/// Broadcast a PONG with gossip over every outbound link.
pub fn broadcast_pong(srv: &Arc<Server>) {
    let Some(cl) = &srv.cluster else { return };
    let s = settings(srv);
    let msg = cl.read(|st| gossip::ping_msg(st, &s, 1, None));
    perform(srv, vec![Action::Broadcast(msg)], None);
}

/// Carry out actions; `reply` is the link the message arrived on.
/// A vote is written to nodes.conf before its ACK leaves; other changes
/// are saved soon after, off the thread that serves clients.
pub fn perform(srv: &Arc<Server>, actions: Vec<Action>, reply: Option<&LinkTx>) {
    let Some(cl) = &srv.cluster else { return };
    let limit = srv.config.get_i64("cluster-link-sendbuf-limit").max(0) as usize;
    if actions.iter().any(|a| matches!(a, Action::Persist)) {
        if actions.iter().any(is_vote) {
            crate::cluster::persist(srv);
        } else {
            crate::cluster::persist_soon(srv);
        }
    }
    for a in actions {
        match a {
            Action::Reply(m) => {
                if let Some(r) = reply {
                    r.send(&m);
                }
            }
            Action::Send(id, m) => {
                let m = complete(srv, m, Some(id));
                let tx = cl.links.out.lock().get(&id).cloned();
                if let Some(tx) = tx {
                    send_bounded(cl, id, &tx, &m, limit);
                }
            }
            Action::Broadcast(m) => {
                let m = complete(srv, m, None);
                let links: Vec<(NodeId, LinkTx)> = cl
                    .links
                    .out
                    .lock()
                    .iter()
                    .map(|(id, tx)| (*id, tx.clone()))
                    .collect();
                for (id, tx) in links {
                    send_bounded(cl, id, &tx, &m, limit);
                }
            }
            Action::DropLink(id) => {
                cl.links.out.lock().remove(&id);
            }
            Action::Publish {
                shard,
                channel,
                message,
            } => {
                let limits = crate::pubsub::limits_from_config(
                    &srv.config.get("client-output-buffer-limit"),
                );
                srv.pubsub
                    .publish(shard, &channel, &message, limits, clock::now_ms());
            }
            Action::Persist => {}
            Action::PauseWrites(until) => crate::cluster::role::pause_writes(srv, until),
            Action::Unpause => crate::cluster::role::unpause(srv),
        }
    }
    crate::cluster::role::reconcile(srv);
}

/// Read frames from a bus connection and hand each decoded message to `f`.
async fn read_loop(
    rd: &mut (impl AsyncReadExt + Unpin),
    buf: &mut BytesMut,
    mut f: impl FnMut(Msg),
) -> bool {
    loop {
        match next_frame(buf, DEFAULT_MAX_FRAME_LEN) {
            Ok(Frame::Ready { len }) => {
                let frame = buf.split_to(len);
                match decode(&frame) {
                    Ok(m) => f(m),
                    // A malformed packet closes the link, never the node.
                    Err(_) => return false,
                }
            }
            Ok(Frame::Incomplete { .. }) => match rd.read_buf(buf).await {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            },
            Err(_) => return false,
        }
    }
}

/// A task that encodes and writes every message sent to the returned channel.
fn spawn_writer(mut wr: tokio::net::tcp::OwnedWriteHalf) -> (LinkTx, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let pending = Arc::new(AtomicUsize::new(0));
    let written = pending.clone();
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
            written.fetch_sub(b.len(), Ordering::Relaxed);
        }
    });
    (LinkTx { tx, pending }, writer)
}

async fn inbound(srv: Arc<Server>, stream: TcpStream) {
    let peer_ip = stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let local_ip = stream
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let (mut rd, wr) = stream.into_split();
    let (tx, writer) = spawn_writer(wr);
    let link = LinkInfo {
        node: None,
        peer_ip,
        local_ip,
    };
    let Some(cl) = &srv.cluster else { return };
    let guard = cl.links.registry.register(false, None, clock::now_ms());
    let mut buf = BytesMut::with_capacity(4096);
    let srv2 = srv.clone();
    let reading = read_loop(&mut rd, &mut buf, |m| {
        if !m.header.sender.is_null() {
            cl.links.registry.set_node(guard.id, m.header.sender);
        }
        on_msg(&srv2, &m, &link, Some(&tx))
    });
    tokio::select! {
        _ = reading => {}
        _ = guard.kill.cancelled() => {}
    }
    writer.abort();
}

fn on_msg(srv: &Arc<Server>, m: &Msg, link: &LinkInfo, reply: Option<&LinkTx>) {
    let Some(cl) = &srv.cluster else { return };
    let filter = cl.drop_filter.load(std::sync::atomic::Ordering::Relaxed);
    if filter == i64::from(m.body.type_id()) {
        return;
    }
    let s = settings(srv);
    let now = clock::now_ms();
    let actions = cl.with(&srv.config, |st| {
        let mut out = gossip::on_message(st, &s, m, link, now);
        out.extend(failover::on_message(st, &s, m, now));
        out
    });
    perform(srv, actions, reply);
}

/// Keep one outbound link per known node.
async fn outbound(srv: Arc<Server>, id: NodeId, ip: String, cport: u16, first: Msg) {
    let Some(cl) = &srv.cluster else { return };
    let timeout = Duration::from_millis(settings(&srv).node_timeout.max(1000));
    let stream = match tokio::time::timeout(timeout, TcpStream::connect((ip.as_str(), cport))).await
    {
        Ok(Ok(s)) => s,
        _ => {
            cl.links.out.lock().remove(&id);
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let local_ip = stream
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let (mut rd, wr) = stream.into_split();
    let (tx, writer) = spawn_writer(wr);
    cl.links.out.lock().insert(id, tx.clone());
    let guard = cl.links.registry.register(true, Some(id), clock::now_ms());
    tx.send(&first);
    let link = LinkInfo {
        node: Some(id),
        peer_ip: ip,
        local_ip,
    };
    let mut buf = BytesMut::with_capacity(4096);
    let srv2 = srv.clone();
    let reading = read_loop(&mut rd, &mut buf, |m| on_msg(&srv2, &m, &link, Some(&tx)));
    tokio::select! {
        _ = reading => {}
        _ = guard.kill.cancelled() => {}
    }
    writer.abort();
    {
        // Only our own entry: a freed link may already have a successor.
        let mut out = cl.links.out.lock();
        if out
            .get(&id)
            .is_some_and(|t| Arc::ptr_eq(&t.pending, &tx.pending))
        {
            out.remove(&id);
        }
    }
    cl.with(&srv.config, |st| {
        if let Some(n) = st.nodes.get_mut(&id) {
            n.link_connected = false;
        }
    });
}

async fn cron(srv: Arc<Server>) {
    let mut tick = 0u64;
    loop {
        tokio::select! {
            _ = srv.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        tick += 1;
        let Some(cl) = &srv.cluster else { return };
        let s = settings(&srv);
        let now = clock::now_ms();
        let actions = cl.with(&srv.config, |st| {
            crate::cluster::role::refresh(&srv, st);
            let mut out = gossip::cron(st, &s, now, tick);
            out.extend(failover::cron(st, &s, now));
            crate::cluster::replica_migration::cron(st, &s, now, &mut out);
            out
        });
        perform(&srv, actions, None);
        // Subscribers of shard channels whose slot left my shard are told
        // with a `sunsubscribe` (Redis does it when the slot is deleted).
        let map = cl.map();
        srv.pubsub.drop_shard_channels(|c| !map.serves_channel(c));
        connect_missing(&srv, &s);
    }
}

/// Open links to nodes without one: MEET for nodes met by address, PING otherwise.
fn connect_missing(srv: &Arc<Server>, s: &Settings) {
    let Some(cl) = &srv.cluster else { return };
    let todo: Vec<(NodeId, String, u16, Msg)> = cl.with(&srv.config, |st| {
        let linked: Vec<NodeId> = cl.links.out.lock().keys().copied().collect();
        let ids: Vec<NodeId> = st
            .nodes
            .values()
            .filter(|n| {
                !n.flags.myself && !n.flags.noaddr && !n.ip.is_empty() && !linked.contains(&n.id)
            })
            .map(|n| n.id)
            .collect();
        let now = clock::now_ms();
        ids.into_iter()
            .filter_map(|id| {
                let kind = if st.nodes.get(&id)?.meet { 2 } else { 0 };
                let msg = gossip::ping_msg(st, s, kind, Some(id));
                let n = st.nodes.get_mut(&id)?;
                n.meet = false;
                if n.ping_sent == 0 {
                    n.ping_sent = now;
                }
                Some((id, n.ip.clone(), n.cport, msg))
            })
            .collect()
    });
    for (id, ip, cport, msg) in todo {
        // Reserve the slot so the next tick does not connect twice.
        cl.links.out.lock().insert(id, LinkTx::detached());
        tokio::spawn(outbound(srv.clone(), id, ip, cport, msg));
    }
}
