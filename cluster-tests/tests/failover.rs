//! Replicas and failover with real processes: six nodes (3 masters + 3
//! replicas) joined by `redis-cli --cluster create --cluster-replicas 1`;
//! a master SIGKILLed and replaced by its replica with every write
//! acknowledged by `WAIT 1` kept; the old master rejoining as a replica;
//! CLUSTER FAILOVER under a continuous write load with zero lost writes;
//! and a mixed cluster where a redis-server replica fails over a Shoal
//! master and a Shoal replica fails over a redis-server master.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_tests::client::ClusterClient;
use cluster_tests::{have_redis_tools, wait_until, which, Cluster, Kind, Node};

const TIMEOUT_MS: u64 = 1000;

fn is_master(n: &Node) -> bool {
    let id = n.id();
    n.nodes()
        .iter()
        .any(|l| l.starts_with(&id) && l.contains("myself,master"))
}

/// The master id of a replica (None for a master or an unreachable node).
fn master_of(n: &Node) -> Option<String> {
    let id = n.id();
    let lines = n.nodes();
    let line = lines.iter().find(|l| l.starts_with(&id))?;
    let f: Vec<&str> = line.split(' ').collect();
    (f.len() > 3 && f[2].contains("slave")).then(|| f[3].to_string())
}

/// A key served by `nodes[mi]` (it answers a GET without MOVED).
fn key_of(nodes: &[Node], mi: usize) -> String {
    (0..10_000)
        .map(|i| format!("key{i}"))
        .find(|k| !nodes[mi].cmd(&["GET", k]).is_error())
        .expect("a key served by the master")
}

/// (master, replica) indexes of one shard, optionally by server kinds.
fn shard(nodes: &[Node], kinds: Option<(Kind, Kind)>) -> Option<(usize, usize)> {
    let alive = |n: &Node| n.pid().is_some();
    for (ri, r) in nodes.iter().enumerate().filter(|(_, n)| alive(n)) {
        let Some(mid) = master_of(r) else { continue };
        let Some(mi) = nodes.iter().position(|n| alive(n) && n.id() == mid) else {
            continue;
        };
        if kinds.is_none_or(|(mk, rk)| nodes[mi].kind == mk && r.kind == rk) {
            return Some((mi, ri));
        }
    }
    None
}

fn wait_replicas_agreed(cl: &Cluster, replicas: usize) {
    let ok = wait_until(Duration::from_secs(15), || {
        cl.nodes
            .iter()
            .all(|n| n.nodes().iter().filter(|l| l.contains("slave")).count() == replicas)
    });
    assert!(ok, "replica roles not agreed:\n{}", cl.describe());
}

fn wait_link_up(n: &Node) {
    let ok = wait_until(Duration::from_secs(20), || {
        n.cmd(&["INFO", "replication"])
            .text()
            .contains("master_link_status:up")
    });
    assert!(ok, "replica {} never synced:\n{}", n.port, n.log());
}

/// Write `count` keys tagged `{tag}` on the master, acknowledged by WAIT 1.
fn write_acked(n: &Node, tag: &str, count: usize) {
    let mut c = n.conn();
    for i in 0..count {
        let k = format!("{{{tag}}}k{i}");
        assert_eq!(c.cmd(&["SET", &k, &format!("v{i}")]).text(), "OK");
    }
    let acked = wait_until(Duration::from_secs(10), || {
        c.cmd(&["WAIT", "1", "1000"]).int() == Some(1)
    });
    assert!(acked, "WAIT 1 never acknowledged");
}

fn all_present(n: &Node, tag: &str, count: usize) -> bool {
    let mut c = n.conn();
    c.cmd(&["READONLY"]);
    (0..count).all(|i| c.cmd(&["GET", &format!("{{{tag}}}k{i}")]).text() == format!("v{i}"))
}

/// Every node still running reports cluster_state:ok.
fn live_ok(nodes: &[Node], dead: &[usize]) -> bool {
    nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| !dead.contains(i))
        .all(|(_, n)| n.info_field("cluster_state") == "ok")
}

#[test]
fn sigkill_master_replica_takes_over_and_old_master_rejoins() {
    if !have_redis_tools() {
        return;
    }
    let mut cl = Cluster::create(&[Kind::Shoal; 6], 1, TIMEOUT_MS);
    wait_replicas_agreed(&cl, 3);
    cl.wait_check_ok(Duration::from_secs(10));
    let (mi, ri) = shard(&cl.nodes, None).expect("a shard");
    let tag = key_of(&cl.nodes, mi);
    let master_id = cl.nodes[mi].id();

    // Replica views: CLUSTER REPLICAS, MOVED for writes, READONLY reads.
    let reps = cl.nodes[0].cmd(&["CLUSTER", "REPLICAS", &master_id]);
    assert_eq!(reps.items().len(), 1, "{reps:?}");
    let set = cl.nodes[ri].cmd(&["SET", &tag, "x"]).text();
    assert!(set.starts_with("MOVED "), "{set}");
    wait_link_up(&cl.nodes[ri]);
    write_acked(&cl.nodes[mi], &tag, 50);
    assert!(all_present(&cl.nodes[ri], &tag, 50));
    let k1 = format!("{{{tag}}}k1");
    let mut rc = cl.nodes[ri].conn();
    assert!(rc.cmd(&["GET", &k1]).is_error());
    assert_eq!(rc.cmd(&["READONLY"]).text(), "OK");
    assert_eq!(rc.cmd(&["GET", &k1]).text(), "v1");

    // SIGKILL the master: its replica is elected and takes the slots.
    let start = Instant::now();
    cl.nodes[mi].kill();
    let promoted = wait_until(Duration::from_secs(20), || {
        is_master(&cl.nodes[ri]) && live_ok(&cl.nodes, &[mi])
    });
    assert!(promoted, "replica not promoted:\n{}", cl.describe());
    eprintln!(
        "SIGKILL -> replica promoted, cluster ok: {:?}",
        start.elapsed()
    );
    assert!(
        all_present(&cl.nodes[ri], &tag, 50),
        "acknowledged writes lost"
    );

    // The old master restarts from its nodes.conf and becomes a replica of
    // the new master (UPDATE / slots lost), then resyncs.
    cl.nodes[mi].restart();
    let new_id = cl.nodes[ri].id();
    let rejoined = wait_until(Duration::from_secs(20), || {
        master_of(&cl.nodes[mi]).as_deref() == Some(new_id.as_str())
    });
    assert!(
        rejoined,
        "old master did not rejoin as a replica:\n{}",
        cl.describe()
    );
    wait_link_up(&cl.nodes[mi]);
    assert!(wait_until(Duration::from_secs(10), || all_present(
        &cl.nodes[mi],
        &tag,
        50
    )));
    cl.wait_check_ok(Duration::from_secs(10));
}

#[test]
fn manual_failover_under_write_load_loses_nothing() {
    if !have_redis_tools() {
        return;
    }
    let cl = Cluster::create(&[Kind::Shoal; 6], 1, TIMEOUT_MS);
    wait_replicas_agreed(&cl, 3);
    let (mi, ri) = shard(&cl.nodes, None).expect("a shard");
    let tag = key_of(&cl.nodes, mi);
    wait_link_up(&cl.nodes[ri]);

    let mut rc = cl.nodes[ri].conn();
    assert_eq!(
        rc.cmd(&["CLUSTER", "FAILOVER", "BOGUS"]).text(),
        "ERR syntax error"
    );
    assert_eq!(
        cl.nodes[mi].cmd(&["CLUSTER", "FAILOVER"]).text(),
        "ERR You should send CLUSTER FAILOVER to a replica"
    );

    // A client writes continuously through redirections; every SET that
    // got +OK must be on the new master afterwards.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let (seed, tag) = (cl.nodes[mi].port, tag.clone());
        std::thread::spawn(move || {
            let mut c = ClusterClient::new(seed);
            let mut acked = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let k = format!("{{{tag}}}load{i}");
                let v = i.to_string();
                if let Ok(r) = c.call(&[b"SET", k.as_bytes(), v.as_bytes()]) {
                    if r.text() == "OK" {
                        acked.push(i);
                    }
                }
                i += 1;
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rc.cmd(&["CLUSTER", "FAILOVER"]).text(), "OK");
    let swapped = wait_until(Duration::from_secs(10), || {
        is_master(&cl.nodes[ri])
            && master_of(&cl.nodes[mi]).as_deref() == Some(cl.nodes[ri].id().as_str())
    });
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().expect("writer");
    assert!(
        swapped,
        "manual failover did not swap roles:\n{}",
        cl.describe()
    );
    assert!(acked.len() > 10, "too few writes: {}", acked.len());
    let mut c = cl.nodes[ri].conn();
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|i| c.cmd(&["GET", &format!("{{{tag}}}load{i}")]).text() != i.to_string())
        .collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost", lost.len());
    // The old master redirects writes to the new one.
    let moved = cl.nodes[mi].cmd(&["SET", &tag, "1"]).text();
    assert!(moved.starts_with("MOVED "), "{moved}");
    assert!(wait_until(Duration::from_secs(10), || live_ok(
        &cl.nodes,
        &[]
    )));
}

#[test]
fn mixed_cluster_failover_both_ways() {
    if !have_redis_tools() || which("redis-server").is_none() {
        return;
    }
    // Masters Shoal, Redis, Shoal; redis-cli pairs the replicas as it
    // likes, so re-point them: Redis→Shoal#0, Shoal→Redis#1, Shoal→Shoal#2.
    let kinds = [
        Kind::Shoal,
        Kind::Redis,
        Kind::Shoal,
        Kind::Redis,
        Kind::Shoal,
        Kind::Shoal,
    ];
    let mut cl = Cluster::create(&kinds, 1, TIMEOUT_MS);
    wait_replicas_agreed(&cl, 3);
    for (r, m) in [(3, 0), (4, 1), (5, 2)] {
        let id = cl.nodes[m].id();
        assert_eq!(cl.nodes[r].cmd(&["CLUSTER", "REPLICATE", &id]).text(), "OK");
    }
    let pointed = wait_until(Duration::from_secs(15), || {
        [(3, 0), (4, 1), (5, 2)].iter().all(|&(r, m)| {
            let (rid, mid) = (cl.nodes[r].id(), cl.nodes[m].id());
            cl.nodes.iter().all(|n| {
                n.nodes()
                    .iter()
                    .any(|l| l.starts_with(&rid) && l.contains(&format!("slave {mid}")))
            })
        })
    });
    assert!(
        pointed,
        "replicas not re-pointed:
{}",
        cl.describe()
    );
    let mut dead = Vec::new();
    for (mk, rk) in [(Kind::Shoal, Kind::Redis), (Kind::Redis, Kind::Shoal)] {
        let Some((mi, ri)) = shard(&cl.nodes, Some((mk, rk))) else {
            panic!("no {mk:?} master with a {rk:?} replica:\n{}", cl.describe());
        };
        let tag = key_of(&cl.nodes, mi);
        wait_link_up(&cl.nodes[ri]);
        write_acked(&cl.nodes[mi], &tag, 30);
        cl.nodes[mi].kill();
        dead.push(mi);
        let promoted = wait_until(Duration::from_secs(20), || {
            is_master(&cl.nodes[ri]) && live_ok(&cl.nodes, &dead)
        });
        assert!(
            promoted,
            "{rk:?} replica not promoted over {mk:?} master:\n{}",
            cl.describe()
        );
        assert!(all_present(&cl.nodes[ri], &tag, 30), "writes lost");
    }
}
