//! Pub/Sub across a 3-master + 3-replica Shoal cluster: PUBLISH reaches
//! subscribers on every node over the bus; shard channels are served by
//! the slot's master and its replicas (SSUBSCRIBE on a replica without
//! READONLY), SPUBLISH reaches the whole shard, a migrating slot's
//! channels stay with the source until SETSLOT NODE, and then their
//! subscribers get a `sunsubscribe`.

use std::time::Duration;

use cluster_tests::client::key_slot;
use cluster_tests::resp::{Conn, Value};
use cluster_tests::{have_redis_tools, Cluster, Kind, Node};

/// Read one push and return its strings (kind, channel, payload).
fn read_message(c: &mut Conn) -> Vec<String> {
    match c.read() {
        Ok(v) => v.items().iter().map(Value::text).collect(),
        Err(e) => panic!("no message arrived: {e}"),
    }
}

fn subscriber(node: &Node, verb: &str, channel: &str) -> Conn {
    let mut c = node.conn();
    let reply = c.cmd(&[verb, channel]);
    assert_eq!(reply.items().len(), 3, "{verb} on {}: {reply:?}", node.port);
    assert_eq!(reply.items()[0].text(), verb.to_ascii_lowercase());
    c
}

/// The node whose CLUSTER NODES line for itself says it owns `slot` as a
/// master, and the replicas of that master.
fn shard_of(cl: &Cluster, slot: u16) -> (usize, Vec<usize>) {
    let owner = cl
        .nodes
        .iter()
        .position(|n| {
            let me = n.nodes().into_iter().find(|l| l.contains("myself"));
            me.is_some_and(|l| l.contains("master") && owns(&l, slot))
        })
        .expect("a master owns the slot");
    let owner_id = cl.nodes[owner].id();
    let replicas = (0..cl.nodes.len())
        .filter(|&i| {
            cl.nodes[i]
                .nodes()
                .iter()
                .any(|l| l.contains("myself") && l.contains(&format!("slave {owner_id}")))
        })
        .collect();
    (owner, replicas)
}

/// Whether a CLUSTER NODES line lists `slot` among its ranges.
fn owns(line: &str, slot: u16) -> bool {
    line.split(' ').skip(8).any(|r| {
        let mut ends = r.splitn(2, '-').map(|x| x.parse::<u16>().ok());
        match (ends.next().flatten(), ends.next()) {
            (Some(a), Some(Some(b))) => (a..=b).contains(&slot),
            (Some(a), None) => a == slot,
            _ => false,
        }
    })
}

#[test]
fn publish_reaches_every_node_and_shard_channels_stay_in_their_shard() {
    if !have_redis_tools() {
        return;
    }
    let cl = Cluster::create(&[Kind::Shoal; 6], 1, 2000);
    cl.wait_check_ok(Duration::from_secs(20));

    // PUBLISH on one node is delivered by every other node.
    let mut subs: Vec<Conn> = cl.nodes[1..]
        .iter()
        .map(|n| subscriber(n, "SUBSCRIBE", "news"))
        .collect();
    assert_eq!(
        cl.nodes[0].cmd(&["PUBLISH", "news", "hello"]).int(),
        Some(0)
    );
    for s in &mut subs {
        assert_eq!(read_message(s), ["message", "news", "hello"]);
    }

    // A shard channel: its master and that master's replica serve it, the
    // replica without READONLY; SPUBLISH on the master reaches both.
    let channel = "orders";
    let slot = key_slot(channel.as_bytes());
    let (owner, replicas) = shard_of(&cl, slot);
    assert!(!replicas.is_empty(), "{}", cl.describe());
    // SPUBLISH goes to the replicas the master knows over connected links,
    // as in Redis; the replica's own view can be ahead of its master's.
    let replica_id = cl.nodes[replicas[0]].id();
    let known = cluster_tests::wait_until(Duration::from_secs(10), || {
        cl.nodes[owner]
            .nodes()
            .iter()
            .any(|l| l.starts_with(&replica_id) && l.contains("slave") && l.ends_with("connected"))
    });
    assert!(
        known,
        "the master never listed its replica:\n{}",
        cl.describe()
    );
    let mut on_master = subscriber(&cl.nodes[owner], "SSUBSCRIBE", channel);
    let mut on_replica = subscriber(&cl.nodes[replicas[0]], "SSUBSCRIBE", channel);
    let n = cl.nodes[owner].cmd(&["SPUBLISH", channel, "one"]);
    assert_eq!(n.int(), Some(1), "{n:?}");
    assert_eq!(read_message(&mut on_master), ["smessage", channel, "one"]);
    assert_eq!(read_message(&mut on_replica), ["smessage", channel, "one"]);

    // While the slot migrates, its channels are still served by the source.
    let target = (0..cl.nodes.len())
        .find(|&i| {
            i != owner
                && !replicas.contains(&i)
                && cl.nodes[i]
                    .nodes()
                    .iter()
                    .any(|l| l.contains("myself,master"))
        })
        .expect("another master");
    let target_id = cl.nodes[target].id();
    let s = slot.to_string();
    let r = cl.nodes[owner].cmd(&["CLUSTER", "SETSLOT", &s, "MIGRATING", &target_id]);
    assert_eq!(r.text(), "OK");
    let n = cl.nodes[owner].cmd(&["SPUBLISH", channel, "two"]);
    assert_eq!(n.int(), Some(1), "{n:?}");
    assert_eq!(read_message(&mut on_master), ["smessage", channel, "two"]);
    assert_eq!(read_message(&mut on_replica), ["smessage", channel, "two"]);
    let owner_id = cl.nodes[owner].id();
    let r = cl.nodes[target].cmd(&["CLUSTER", "SETSLOT", &s, "IMPORTING", &owner_id]);
    assert_eq!(r.text(), "OK");

    // Once the slot leaves the shard, its subscribers are unsubscribed:
    // on the source at once, on its replica when it learns the new owner.
    let r = cl.nodes[owner].cmd(&["CLUSTER", "SETSLOT", &s, "NODE", &target_id]);
    assert_eq!(r.text(), "OK");
    assert_eq!(read_message(&mut on_master), ["sunsubscribe", channel, "0"]);
    let r = cl.nodes[target].cmd(&["CLUSTER", "SETSLOT", &s, "NODE", &target_id]);
    assert_eq!(r.text(), "OK");
    assert_eq!(
        read_message(&mut on_replica),
        ["sunsubscribe", channel, "0"]
    );
    // Out of subscribe mode again: ordinary commands run (and redirect).
    let r = on_master.cmd(&["GET", channel]);
    assert!(r.text().starts_with("MOVED"), "{r:?}");
}

/// A peer that stops reading (SIGSTOP) makes the link's send buffer grow
/// with every PUBLISH; past cluster-link-sendbuf-limit the link is freed
/// (counted in CLUSTER INFO) and connected again, instead of queueing
/// without bound.
#[test]
fn a_link_over_its_send_buffer_limit_is_freed() {
    if !have_redis_tools() {
        return;
    }
    let cl = Cluster::create(&[Kind::Shoal; 3], 0, 2000);
    let (a, b) = (&cl.nodes[0], &cl.nodes[1]);
    let exceeded = || a.info_field("total_cluster_links_buffer_limit_exceeded");
    assert_eq!(exceeded(), "0");
    let r = a.cmd(&["CONFIG", "SET", "cluster-node-timeout", "3600000"]);
    assert_eq!(r.text(), "OK");
    let r = a.cmd(&["CONFIG", "SET", "cluster-link-sendbuf-limit", "262144"]);
    assert_eq!(r.text(), "OK");
    let pid = b.pid().expect("node b runs").to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    };
    signal("-STOP");
    let payload = "x".repeat(128 * 1024);
    let freed = cluster_tests::wait_until(Duration::from_secs(20), || {
        a.cmd(&["PUBLISH", "ch", &payload]);
        exceeded() != "0"
    });
    signal("-CONT");
    assert!(freed, "the link to the stopped node was never freed");
    // The cluster heals: the link is connected again.
    let r = a.cmd(&["CONFIG", "SET", "cluster-link-sendbuf-limit", "0"]);
    assert_eq!(r.text(), "OK");
    cl.wait_check_ok(Duration::from_secs(20));
}
