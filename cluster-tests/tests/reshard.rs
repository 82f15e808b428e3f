//! Slot migration driven by `redis-cli --cluster reshard` while a
//! cluster-aware client keeps writing and reading: no key may be lost or
//! read back wrong, and the client must have been redirected (ASK/MOVED)
//! on the way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use cluster_tests::client::ClusterClient;
use cluster_tests::{have_redis_tools, Cluster, Value};

/// What the background client did.
struct Load {
    writes: u64,
    reads: u64,
    wrong: Vec<String>,
    expected: HashMap<String, String>,
    asks: u64,
    retries: u64,
}

/// Write and read keys until `stop`; every read must return the last
/// value this client wrote.
fn run_load(seed_port: u16, stop: Arc<AtomicBool>) -> Load {
    let mut c = ClusterClient::new(seed_port);
    let mut load = Load {
        writes: 0,
        reads: 0,
        wrong: Vec::new(),
        expected: HashMap::new(),
        asks: 0,
        retries: 0,
    };
    let mut i: u64 = 0;
    while !stop.load(Ordering::Relaxed) || i < 200 {
        let key = format!("load:{}", i % 1500);
        let val = format!("v{i}");
        match c.call(&[b"SET", key.as_bytes(), val.as_bytes()]) {
            Ok(Value::Status(s)) if s == "OK" => {
                load.expected.insert(key, val);
                load.writes += 1;
            }
            other => load.wrong.push(format!("SET {key}: {other:?}")),
        }
        // Read back an older key.
        let old = format!("load:{}", (i * 7) % 1500);
        if let Some(want) = load.expected.get(&old) {
            match c.call(&[b"GET", old.as_bytes()]) {
                Ok(Value::Bulk(Some(v))) if v == want.as_bytes() => load.reads += 1,
                other => load.wrong.push(format!("GET {old}: {other:?} want {want}")),
            }
        }
        i += 1;
    }
    load.asks = c.seen.ask;
    load.retries = c.seen.tryagain;
    load
}

#[test]
fn reshard_1000_slots_under_load_loses_nothing() {
    if !have_redis_tools() {
        return;
    }
    let cl = Cluster::shoal(3, 2000);
    let (from, to) = (cl.nodes[0].id(), cl.nodes[1].id());
    let stop = Arc::new(AtomicBool::new(false));
    let port = cl.nodes[2].port;
    let s2 = stop.clone();
    let worker = thread::spawn(move || run_load(port, s2));
    // Let the client fill the key space before slots start moving.
    thread::sleep(Duration::from_millis(300));
    let out = cl.cli_text(&[
        "reshard",
        &cl.nodes[0].addr(),
        "--cluster-from",
        &from,
        "--cluster-to",
        &to,
        "--cluster-slots",
        "1000",
        "--cluster-yes",
    ]);
    stop.store(true, Ordering::Relaxed);
    let load = match worker.join() {
        Ok(l) => l,
        Err(_) => panic!("load thread panicked"),
    };
    assert!(
        !out.contains("ERR") && out.contains("Moving slot 999 "),
        "reshard failed:\n{out}"
    );
    assert!(
        load.wrong.is_empty(),
        "wrong replies: {:?}",
        &load.wrong[..load.wrong.len().min(10)]
    );
    assert!(load.writes > 200, "only {} writes", load.writes);
    eprintln!(
        "reshard under load: {} writes, {} reads, {} ASK redirections, {} TRYAGAIN/CLUSTERDOWN retries",
        load.writes, load.reads, load.asks, load.retries
    );
    cl.wait_check_ok(Duration::from_secs(10));
    assert_eq!(cl.nodes[1].info_field("cluster_slots_assigned"), "16384");
    let slots = cl.nodes[1].cmd(&["CLUSTER", "COUNTKEYSINSLOT", "0"]);
    assert!(slots.int().is_some());
    // Every key reads back its last value, through a fresh client.
    let mut c = ClusterClient::new(cl.nodes[0].port);
    for (k, v) in &load.expected {
        let got = c.call(&[b"GET", k.as_bytes()]).ok();
        assert_eq!(
            got,
            Some(Value::Bulk(Some(v.clone().into_bytes()))),
            "key {k}"
        );
    }
    // Node 0 gave away slots 0..=999: it has no key of them left.
    for slot in [0, 500, 999] {
        let n = cl.nodes[0].cmd(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
        assert_eq!(n, Value::Int(0));
    }
}

#[test]
fn setslot_ask_asking_and_tryagain() {
    if !have_redis_tools() {
        return;
    }
    let cl = Cluster::shoal(3, 2000);
    // "foo" and "{foo}x" live in slot 12182, owned by the third node.
    let src = cl
        .nodes
        .iter()
        .find(|n| n.cmd(&["GET", "foo"]) == Value::Bulk(None))
        .expect("owner of slot 12182");
    let dst = cl
        .nodes
        .iter()
        .find(|n| n.port != src.port)
        .expect("other node");
    let (src_id, dst_id) = (src.id(), dst.id());
    let mut s = src.conn();
    let mut d = dst.conn();
    assert_eq!(s.cmd(&["SET", "foo", "1"]), Value::Status("OK".into()));
    let ok = Value::Status("OK".into());
    assert_eq!(
        d.cmd(&["CLUSTER", "SETSLOT", "12182", "IMPORTING", &src_id]),
        ok
    );
    assert_eq!(
        s.cmd(&["CLUSTER", "SETSLOT", "12182", "MIGRATING", &dst_id]),
        ok
    );
    // Existing key served by the source; a missing one is ASKed to the target;
    // a multi-key request with only some keys here gets TRYAGAIN.
    assert_eq!(s.cmd(&["GET", "foo"]), Value::Bulk(Some(b"1".to_vec())));
    let ask = format!("ASK 12182 {}", dst.addr());
    assert_eq!(s.cmd(&["GET", "{foo}x"]), Value::Error(ask));
    assert!(s
        .cmd(&["MGET", "foo", "{foo}x"])
        .text()
        .starts_with("TRYAGAIN"));
    // The target refuses without ASKING, serves with it (once).
    assert!(d.cmd(&["GET", "{foo}x"]).text().starts_with("MOVED 12182"));
    assert_eq!(d.cmd(&["ASKING"]), ok);
    assert_eq!(d.cmd(&["SET", "{foo}x", "2"]), ok);
    assert!(d.cmd(&["GET", "{foo}x"]).text().starts_with("MOVED 12182"));
    assert_eq!(d.cmd(&["ASKING"]), ok);
    assert!(d
        .cmd(&["MGET", "{foo}x", "{foo}y"])
        .text()
        .starts_with("TRYAGAIN"));
    // Errors worded as Redis words them.
    assert_eq!(
        d.cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", "nosuch"]),
        Value::Error("ERR Unknown node nosuch".into())
    );
    assert_eq!(
        s.cmd(&["CLUSTER", "SETSLOT", "12182", "IMPORTING", "nosuch"]),
        Value::Error("ERR I'm already the owner of hash slot 12182".into())
    );
    assert!(s
        .cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &dst_id])
        .text()
        .starts_with(
            "ERR Can't assign hashslot 12182 to a different node while I still hold keys"
        ));
    // Move the key, then close the slot: target first (bumps its epoch), then source.
    let port = dst.port.to_string();
    let mig = s.cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &port,
        "",
        "0",
        "5000",
        "KEYS",
        "foo",
    ]);
    assert_eq!(mig, ok);
    assert_eq!(
        s.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]),
        Value::Int(0)
    );
    let epoch_before = dst.info_field("cluster_my_epoch");
    assert_eq!(d.cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &dst_id]), ok);
    assert_ne!(dst.info_field("cluster_my_epoch"), epoch_before);
    assert_eq!(s.cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &dst_id]), ok);
    assert!(s
        .cmd(&["GET", "foo"])
        .text()
        .starts_with(&format!("MOVED 12182 {}", dst.addr())));
    assert_eq!(d.cmd(&["GET", "foo"]), Value::Bulk(Some(b"1".to_vec())));
    let keys = d.cmd(&["CLUSTER", "GETKEYSINSLOT", "12182", "10"]);
    assert_eq!(keys.items().len(), 2);
    // The third node learns the new owner through gossip.
    let third = cl
        .nodes
        .iter()
        .find(|n| n.port != src.port && n.port != dst.port)
        .expect("third");
    let moved = format!("MOVED 12182 {}", dst.addr());
    assert!(cluster_tests::wait_until(Duration::from_secs(5), || {
        third.cmd(&["GET", "foo"]).text() == moved
    }));
    cl.wait_check_ok(Duration::from_secs(10));
}

/// A client blocked on a key whose slot moves away is unblocked with
/// MOVED (Redis re-checks blocked clients from its cron).
#[test]
fn blocked_client_is_redirected_when_its_slot_moves() {
    if !have_redis_tools() {
        return;
    }
    let cl = Cluster::shoal(3, 2000);
    // A key in slot 0, owned by the first node.
    let key = (0..)
        .map(|i| format!("b{i}"))
        .find(|k| cluster_tests::client::key_slot(k.as_bytes()) == 0)
        .unwrap_or_default();
    let owner = &cl.nodes[0];
    let mut blocked = owner.conn();
    blocked.send(&["BRPOP", &key, "0"]);
    assert!(cluster_tests::wait_until(Duration::from_secs(5), || {
        owner
            .cmd(&["INFO", "clients"])
            .text()
            .contains("blocked_clients:1")
    }));
    let out = cl.cli_text(&[
        "reshard",
        &owner.addr(),
        "--cluster-from",
        &owner.id(),
        "--cluster-to",
        &cl.nodes[1].id(),
        "--cluster-slots",
        "1",
        "--cluster-yes",
    ]);
    assert!(out.contains("Moving slot 0 "), "{out}");
    let reply = blocked.read().expect("reply to the blocked BRPOP");
    assert_eq!(
        reply,
        Value::Error(format!("MOVED 0 {}", cl.nodes[1].addr()))
    );
}
