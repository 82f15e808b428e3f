//! Three Shoal masters joined by `redis-cli --cluster create`:
//! redirections seen raw and through `redis-cli -c`, CROSSSLOT, and FAIL
//! agreement within 2 × cluster-node-timeout after a SIGKILL.

use std::time::{Duration, Instant};

use cluster_tests::{have_redis_tools, output_text, redis_cli, wait_until, Cluster};

#[test]
fn three_masters_redirect_and_agree_on_fail() {
    if !have_redis_tools() {
        return;
    }
    let timeout_ms = 1000;
    let mut cl = Cluster::shoal(3, timeout_ms);
    for n in &cl.nodes {
        assert_eq!(n.info_field("cluster_slots_assigned"), "16384");
    }
    cl.wait_check_ok(Duration::from_secs(10));

    // Exactly one node owns slot 12182 ("foo"); the others send MOVED.
    let moved: Vec<String> = cl
        .nodes
        .iter()
        .map(|n| n.cmd(&["GET", "foo"]).text())
        .filter(|e| e.starts_with("MOVED 12182 127.0.0.1:"))
        .collect();
    assert_eq!(moved.len(), 2, "{moved:?}");

    let port = cl.nodes[0].port.to_string();
    let set = redis_cli(&["-c", "-p", &port, "SET", "foo", "bar"]);
    assert_eq!(output_text(&set).trim(), "OK");
    for n in &cl.nodes {
        let p = n.port.to_string();
        let get = redis_cli(&["-c", "-p", &p, "GET", "foo"]);
        assert_eq!(output_text(&get).trim(), "bar");
    }
    assert!(cl.nodes[0]
        .cmd(&["MGET", "a", "b"])
        .text()
        .starts_with("CROSSSLOT"));

    // SIGKILL one master: the others agree on FAIL within 2 × node timeout.
    let victim_id = cl.nodes[2].id();
    cl.nodes[2].kill();
    let start = Instant::now();
    let alive = &cl.nodes[..2];
    let all_fail = wait_until(Duration::from_millis(2 * timeout_ms), || {
        alive.iter().all(|n| {
            n.nodes()
                .iter()
                .any(|l| l.starts_with(&victim_id) && l.contains("fail") && !l.contains("fail?"))
        })
    });
    let took = start.elapsed();
    assert!(
        all_fail,
        "FAIL not agreed within 2 × node timeout:\n{}",
        cl.describe()
    );
    eprintln!("FAIL agreement after SIGKILL: {took:?} (node timeout {timeout_ms} ms)");
    assert!(wait_until(Duration::from_secs(5), || {
        alive[0].info_field("cluster_state") == "fail"
    }));
}
