//! Changing the cluster's shape with redis-cli --cluster as an operator
//! would: add-node, rebalance onto the empty master, fix an open slot,
//! move a node's slots away and del-node it; call, info, set-timeout; and
//! a 6-node cluster with redirections through `redis-cli -c`.

use std::time::Duration;

use cluster_tests::{
    have_redis_tools, output_text, redis_cli, wait_until, Cluster, Kind, Node, Value,
};

fn fill(cl: &Cluster, n: usize) {
    let mut c = cluster_tests::client::ClusterClient::new(cl.nodes[0].port);
    for i in 0..n {
        let (k, v) = (format!("key:{i}"), format!("val:{i}"));
        let r = c.call(&[b"SET", k.as_bytes(), v.as_bytes()]);
        assert_eq!(r.ok(), Some(Value::Status("OK".into())));
    }
}

fn all_keys_present(cl: &Cluster, n: usize) {
    let mut c = cluster_tests::client::ClusterClient::new(cl.nodes[0].port);
    for i in 0..n {
        let k = format!("key:{i}");
        let want = Value::Bulk(Some(format!("val:{i}").into_bytes()));
        assert_eq!(c.call(&[b"GET", k.as_bytes()]).ok(), Some(want), "{k}");
    }
}

/// How many slot ranges `node` lists for itself in CLUSTER NODES.
fn slot_ranges(node: &Node) -> usize {
    let line = node
        .nodes()
        .into_iter()
        .find(|l| l.contains("myself"))
        .unwrap_or_default();
    line.split(' ')
        .skip(8)
        .filter(|f| !f.starts_with('['))
        .count()
}

#[test]
fn add_node_rebalance_fix_and_del_node() {
    if !have_redis_tools() {
        return;
    }
    let mut cl = Cluster::shoal(3, 2000);
    fill(&cl, 300);
    let seed = cl.nodes[0].addr();

    // add-node: an empty master joins.
    let new = Node::start(Kind::Shoal, 2000, &[]);
    let new_addr = new.addr();
    let out = cl.cli_text(&["add-node", &new_addr, &seed]);
    assert!(out.contains("[OK] New node added correctly."), "{out}");
    cl.push(new);
    cl.wait_stable(Duration::from_secs(15));

    // rebalance gives it its share; a small weight keeps the move short
    // (~200 slots) while going through the same code path.
    let w = format!("{}=0.04", cl.nodes[3].id());
    let out = cl.cli_text(&[
        "rebalance",
        &seed,
        "--cluster-use-empty-masters",
        "--cluster-weight",
        &w,
    ]);
    assert!(out.contains("Rebalancing across 4 nodes"), "{out}");
    cl.wait_check_ok(Duration::from_secs(30));
    assert!(
        slot_ranges(&cl.nodes[3]) > 0,
        "new node got no slots:\n{out}"
    );
    all_keys_present(&cl, 300);

    // An open slot left behind by an interrupted migration is closed by fix.
    let (a, b) = (&cl.nodes[0], &cl.nodes[1]);
    let slot = first_slot(a);
    let ok = Value::Status("OK".into());
    assert_eq!(
        b.cmd(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &a.id()]),
        ok
    );
    assert_eq!(
        a.cmd(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &b.id()]),
        ok
    );
    let check = cl.cli_text(&["check", &seed]);
    assert!(check.contains("The following slots are open"), "{check}");
    let out = cl.cli_text(&["fix", &seed, "--cluster-yes"]);
    assert!(out.contains("Fixing open slot"), "{out}");
    cl.wait_check_ok(Duration::from_secs(10));

    // del-node: move the new node's slots away (weight 0), then remove it.
    let victim = cl.nodes[3].id();
    let w = format!("{victim}=0");
    let out = cl.cli_text(&["rebalance", &seed, "--cluster-weight", &w]);
    assert!(!out.contains("ERR"), "{out}");
    assert!(wait_until(Duration::from_secs(10), || {
        cl.nodes[3].cmd(&["DBSIZE"]) == Value::Int(0)
    }));
    let out = cl.cli_text(&["del-node", &seed, &victim]);
    assert!(
        out.contains("Sending CLUSTER RESET SOFT to the deleted node."),
        "{out}"
    );
    let gone = cl.nodes.pop();
    drop(gone);
    for n in &cl.nodes {
        assert!(wait_until(Duration::from_secs(5), || {
            n.nodes().iter().all(|l| !l.starts_with(&victim))
        }));
    }
    cl.wait_check_ok(Duration::from_secs(10));
    all_keys_present(&cl, 300);

    // call / info / set-timeout.
    let out = cl.cli_text(&["call", &seed, "DBSIZE"]);
    let total: i64 = out
        .lines()
        .filter_map(|l| l.rsplit(": ").next()?.trim().parse::<i64>().ok())
        .sum();
    assert_eq!(total, 300, "{out}");
    let out = cl.cli_text(&["info", &seed]);
    assert!(out.contains("[OK] 300 keys in 3 masters."), "{out}");
    let out = cl.cli_text(&["set-timeout", &seed, "3000"]);
    assert!(out.contains("New node timeout set. 3 OK, 0 ERR."), "{out}");
    for n in &cl.nodes {
        let v = n.cmd(&["CONFIG", "GET", "cluster-node-timeout"]);
        assert_eq!(v.items().get(1).map(Value::text).as_deref(), Some("3000"));
    }
}

/// The lowest slot `node` serves.
fn first_slot(node: &Node) -> String {
    let line = node
        .nodes()
        .into_iter()
        .find(|l| l.contains("myself"))
        .unwrap_or_default();
    let range = line.split(' ').nth(8).unwrap_or("0");
    range.split('-').next().unwrap_or("0").to_string()
}

#[test]
fn six_masters_and_import_from_standalone_nodes() {
    if !have_redis_tools() {
        return;
    }
    let cl = Cluster::shoal(6, 2000);
    for n in &cl.nodes {
        assert_eq!(n.info_field("cluster_size"), "6");
    }
    // redis-cli -c reaches every key from any node.
    let p = cl.nodes[5].port.to_string();
    for k in ["a", "b", "c", "foo", "{user}1"] {
        let set = redis_cli(&["-c", "-p", &p, "SET", k, k]);
        assert_eq!(output_text(&set).trim(), "OK");
    }
    for n in &cl.nodes {
        let p = n.port.to_string();
        for k in ["a", "foo", "{user}1"] {
            let get = redis_cli(&["-c", "-p", &p, "GET", k]);
            assert_eq!(output_text(&get).trim(), k);
        }
    }

    // import from a standalone Shoal (COPY) and a standalone Redis (moving).
    let shoal = Node::standalone(Kind::Shoal);
    let redis = Node::standalone(Kind::Redis);
    for i in 0..50 {
        let (k, v) = (format!("s:{i}"), format!("{i}"));
        shoal.cmd(&["SET", &k, &v]);
        redis.cmd(&["RPUSH", &format!("r:{i}"), "x", &v]);
    }
    let seed = cl.nodes[0].addr();
    let out = cl.cli_text(&[
        "import",
        &seed,
        "--cluster-from",
        &shoal.addr(),
        "--cluster-copy",
    ]);
    assert!(!out.contains("ERR"), "{out}");
    let out = cl.cli_text(&[
        "import",
        &seed,
        "--cluster-from",
        &redis.addr(),
        "--cluster-replace",
    ]);
    assert!(!out.contains("ERR"), "{out}");
    assert_eq!(shoal.cmd(&["DBSIZE"]), Value::Int(50));
    assert_eq!(redis.cmd(&["DBSIZE"]), Value::Int(0));
    let mut c = cluster_tests::client::ClusterClient::new(cl.nodes[0].port);
    for i in 0..50 {
        let k = format!("s:{i}");
        let want = Value::Bulk(Some(i.to_string().into_bytes()));
        assert_eq!(c.call(&[b"GET", k.as_bytes()]).ok(), Some(want));
        let k = format!("r:{i}");
        assert_eq!(c.call(&[b"LLEN", k.as_bytes()]).ok(), Some(Value::Int(2)));
    }
}
