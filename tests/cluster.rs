//! Cluster mode end to end: three shoal-server masters joined by
//! `redis-cli --cluster create`, redirections through `redis-cli -c`, and
//! FAIL agreement after a SIGKILL within 2 × cluster-node-timeout.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{wait_until, which, Server};

fn node(dir: &std::path::Path) -> Server {
    let conf = dir.join(format!("nodes-{}.conf", rand_suffix()));
    Server::shoal(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        conf.to_str().expect("utf8"),
        "--cluster-node-timeout",
        "2000",
    ])
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn info_field(s: &Server, field: &str) -> String {
    let raw = s.conn().cmd(&["CLUSTER", "INFO"]);
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

#[test]
fn redis_cli_creates_a_three_master_cluster() {
    if which("redis-cli").is_none() {
        eprintln!("SKIPPED: redis-cli not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes: Vec<Server> = (0..3).map(|_| node(dir.path())).collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addrs)
        .arg("--cluster-yes")
        .output()
        .expect("redis-cli");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
    for n in &nodes {
        assert!(wait_until(Duration::from_secs(10), || info_field(
            n,
            "cluster_state"
        ) == "ok"));
        assert_eq!(info_field(n, "cluster_known_nodes"), "3");
    }
    // Redirections: every node answers MOVED for keys it does not own, and
    // redis-cli -c follows them.
    let moved = nodes
        .iter()
        .map(|n| n.conn().cmd(&["GET", "foo"]))
        .filter(|r| r.starts_with(b"-MOVED 12182 127.0.0.1:"))
        .count();
    assert_eq!(moved, 2);
    let port = nodes[0].port.to_string();
    let set = Command::new("redis-cli")
        .args(["-c", "-p", &port, "SET", "foo", "bar"])
        .output()
        .expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&set.stdout).trim(), "OK");
    let get = Command::new("redis-cli")
        .args(["-c", "-p", &port, "GET", "foo"])
        .output()
        .expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "bar");
    assert!(nodes[0]
        .conn()
        .cmd(&["MGET", "a", "b"])
        .starts_with(b"-CROSSSLOT"));

    // SIGKILL one master: the others agree on FAIL within 2 × node timeout.
    let victim = nodes.remove(2);
    let victim_id = String::from_utf8_lossy(&victim.conn().cmd(&["CLUSTER", "MYID"]))
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    drop(victim);
    let start = Instant::now();
    let all_fail = wait_until(Duration::from_secs(4), || {
        nodes.iter().all(|n| {
            let raw = n.conn().cmd(&["CLUSTER", "NODES"]);
            String::from_utf8_lossy(&raw)
                .lines()
                .any(|l| l.starts_with(&victim_id) && l.contains("fail") && !l.contains("fail?"))
        })
    });
    assert!(all_fail, "FAIL not agreed within 4 s");
    eprintln!("FAIL agreement after SIGKILL: {:?}", start.elapsed());
    assert!(wait_until(Duration::from_secs(5), || info_field(
        &nodes[0],
        "cluster_state"
    ) == "fail"));
}

#[test]
fn cluster_reset_soft_and_hard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = node(dir.path());
    let mut c = n.conn();
    let id =
        |c: &mut common::Conn| String::from_utf8_lossy(&c.cmd(&["CLUSTER", "MYID"])).into_owned();
    let before = id(&mut c);
    assert_eq!(c.cmd(&["CLUSTER", "ADDSLOTS", "1", "2"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", "5"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["CLUSTER", "RESET", "SOFT"]), b"+OK\r\n");
    assert_eq!(id(&mut c), before);
    assert_eq!(c.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "1"]), b":0\r\n");
    let slots = String::from_utf8_lossy(&c.cmd(&["CLUSTER", "SLOTS"])).into_owned();
    assert_eq!(slots, "*0\r\n");
    assert_eq!(c.cmd(&["CLUSTER", "RESET", "HARD"]), b"+OK\r\n");
    assert_ne!(id(&mut c), before);
    assert_eq!(
        c.cmd(&["CLUSTER", "RESET", "FOO"]),
        b"-ERR syntax error\r\n"
    );
    let me = id(&mut c);
    let me = me.lines().nth(1).unwrap_or_default().to_string();
    assert_eq!(c.cmd(&["CLUSTER", "REPLICAS", &me]), b"*0\r\n");
    assert_eq!(
        c.cmd(&["CLUSTER", "REPLICAS", "nosuchnode"]),
        b"-ERR Unknown node nosuchnode\r\n"
    );
}
