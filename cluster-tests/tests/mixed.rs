//! A mixed cluster: Shoal and real redis-server 7.0 nodes joined by
//! `redis-cli --cluster create`, passing `--cluster check`, with slots
//! (and their keys) resharded from Shoal to Redis and back.

use std::time::Duration;

use cluster_tests::client::ClusterClient;
use cluster_tests::{have_redis_tools, Cluster, Kind, Value};

fn keys_intact(cl: &Cluster, n: usize) {
    let mut c = ClusterClient::new(cl.nodes[1].port);
    for i in 0..n {
        let k = format!("m:{i}");
        let want = Value::Bulk(Some(format!("{i}").into_bytes()));
        assert_eq!(c.call(&[b"GET", k.as_bytes()]).ok(), Some(want), "{k}");
    }
}

#[test]
fn shoal_and_redis_nodes_share_a_cluster_and_trade_slots() {
    if !have_redis_tools() {
        return;
    }
    let cl = Cluster::create(&[Kind::Shoal, Kind::Redis, Kind::Shoal], 0, 2000);
    cl.wait_check_ok(Duration::from_secs(10));
    let mut c = ClusterClient::new(cl.nodes[0].port);
    for i in 0..400 {
        let (k, v) = (format!("m:{i}"), i.to_string());
        assert_eq!(
            c.call(&[b"SET", k.as_bytes(), v.as_bytes()]).ok(),
            Some(Value::Status("OK".into()))
        );
    }
    // Every node, Shoal or Redis, knows the same three masters.
    for n in &cl.nodes {
        assert_eq!(n.info_field("cluster_known_nodes"), "3", "{:?}", n.kind);
    }
    let (shoal, redis) = (&cl.nodes[0], &cl.nodes[1]);
    let (sid, rid) = (shoal.id(), redis.id());
    let seed = shoal.addr();
    for (from, to) in [(&sid, &rid), (&rid, &sid)] {
        let out = cl.cli_text(&[
            "reshard",
            &seed,
            "--cluster-from",
            from,
            "--cluster-to",
            to,
            "--cluster-slots",
            "300",
            "--cluster-yes",
        ]);
        assert!(!out.contains("ERR"), "reshard {from} -> {to}:\n{out}");
        cl.wait_check_ok(Duration::from_secs(10));
        keys_intact(&cl, 400);
    }
    // Every node (Shoal or Redis) reports the same owner for slot 0.
    let owner_of_0: Vec<String> = cl
        .nodes
        .iter()
        .map(|n| {
            let v = n.cmd(&["CLUSTER", "SLOTS"]);
            v.items()
                .iter()
                .find(|r| r.items().first().and_then(Value::int) == Some(0))
                .and_then(|r| r.items().get(2))
                .and_then(|n| n.items().get(1))
                .map(Value::text)
                .unwrap_or_default()
        })
        .collect();
    assert!(
        owner_of_0
            .iter()
            .all(|p| *p == owner_of_0[0] && !p.is_empty()),
        "{owner_of_0:?}"
    );
}
