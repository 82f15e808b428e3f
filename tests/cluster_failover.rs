//! Cluster replicas and failover end to end, with real processes: six
//! shoal-server nodes joined by `redis-cli --cluster create
//! --cluster-replicas 1`, a master SIGKILLed and replaced by its replica
//! (writes acknowledged by WAIT 1 survive), the old master rejoining as a
//! replica, and CLUSTER FAILOVER (manual) swapping roles without losing
//! writes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, shoal_bin, wait_until, which, Conn};

const NODE_TIMEOUT: &str = "1000";

/// A cluster node process that can be killed and restarted on its port
/// with its nodes.conf (killed on drop).
struct Node {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn start(dir: &Path, port: u16) -> Node {
        Node::start_bin(dir, port, shoal_bin())
    }

    fn start_bin(dir: &Path, port: u16, bin: PathBuf) -> Node {
        let mut n = Node {
            port,
            dir: dir.join(port.to_string()),
            bin,
            child: None,
        };
        std::fs::create_dir_all(&n.dir).expect("node dir");
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let dir = self.dir.display().to_string();
        let child = Command::new(&self.bin)
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--dir", &dir])
            .args(["--cluster-enabled", "yes", "--cluster-config-file"])
            .arg(self.dir.join("nodes.conf"))
            .args(["--cluster-node-timeout", NODE_TIMEOUT])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn shoal-server");
        self.child = Some(child);
        let ok = wait_until(Duration::from_secs(10), || {
            Conn::connect(self.port).is_ok_and(|mut c| c.cmd(&["PING"]) == b"+PONG\r\n")
        });
        assert!(ok, "node {} did not start", self.port);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn conn(&self) -> Conn {
        Conn::connect(self.port).expect("connect")
    }

    fn text(&self, argv: &[&str]) -> String {
        Conn::connect(self.port)
            .map(|mut c| String::from_utf8_lossy(&c.cmd(argv)).into_owned())
            .unwrap_or_default()
    }

    fn id(&self) -> String {
        self.text(&["CLUSTER", "MYID"])
            .lines()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    fn info(&self, field: &str) -> String {
        self.text(&["CLUSTER", "INFO"])
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{field}:"))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default()
    }

    /// The CLUSTER NODES line this node prints about `id`.
    fn line_about(&self, id: &str) -> String {
        self.text(&["CLUSTER", "NODES"])
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_string()
    }

    fn is_master(&self) -> bool {
        let id = self.id();
        let l = self.line_about(&id);
        l.contains("myself,master")
    }

    /// The master id of this node when it is a replica.
    fn master_id(&self) -> Option<String> {
        let id = self.id();
        let l = self.line_about(&id);
        let f: Vec<&str> = l.split(' ').collect();
        (f.len() > 3 && f[2].contains("slave")).then(|| f[3].to_string())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Six nodes, three masters with one replica each, `cluster_state:ok` everywhere.
fn six_node_cluster(dir: &Path) -> Option<Vec<Node>> {
    which("redis-cli")?;
    let nodes: Vec<Node> = (0..6).map(|_| Node::start(dir, free_port())).collect();
    create(nodes)
}

/// Join the nodes with `redis-cli --cluster create --cluster-replicas 1`.
fn create(nodes: Vec<Node>) -> Option<Vec<Node>> {
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .expect("redis-cli");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
    for n in &nodes {
        let ok = wait_until(Duration::from_secs(15), || n.info("cluster_state") == "ok");
        assert!(ok, "node {} not ok", n.port);
    }
    // Every node sees three masters with slots and three replicas.
    let agreed = wait_until(Duration::from_secs(15), || {
        nodes.iter().all(|n| {
            let t = n.text(&["CLUSTER", "NODES"]);
            t.lines().filter(|l| l.contains("slave")).count() == 3
                && t.lines().filter(|l| l.contains("master")).count() == 3
        })
    });
    assert!(agreed, "replicas not agreed");
    Some(nodes)
}

/// The node serving `slot`'s key as master, and its replica.
fn shard_of(nodes: &[Node], key: &str) -> (usize, usize) {
    let master = nodes
        .iter()
        .position(|n| n.is_master() && n.text(&["GET", key]).starts_with('$'))
        .expect("a master serves the key");
    let mid = nodes[master].id();
    let replica = nodes
        .iter()
        .position(|n| n.master_id().as_deref() == Some(mid.as_str()))
        .expect("the master has a replica");
    (master, replica)
}

fn check_passes(port: u16) -> bool {
    let out = Command::new("redis-cli")
        .args(["--cluster", "check", &format!("127.0.0.1:{port}")])
        .output()
        .expect("redis-cli");
    let text = String::from_utf8_lossy(&out.stdout);
    text.contains("[OK] All nodes agree about slots configuration.")
        && text.contains("[OK] All 16384 slots covered.")
}

/// Write `count` keys of hash tag `{tag}` on `n`, acknowledged by WAIT 1.
fn write_keys(n: &Node, tag: &str, count: usize) {
    let mut c = n.conn();
    for i in 0..count {
        let k = format!("{{{tag}}}k{i}");
        assert_eq!(c.cmd(&["SET", &k, &format!("v{i}")]), b"+OK\r\n");
    }
    let acked = wait_until(Duration::from_secs(10), || {
        c.cmd(&["WAIT", "1", "1000"]) == b":1\r\n"
    });
    assert!(acked, "WAIT 1 never acknowledged");
}

fn keys_present(n: &Node, tag: &str, count: usize) -> bool {
    let mut c = n.conn();
    (0..count).all(|i| {
        let k = format!("{{{tag}}}k{i}");
        c.cmd(&["GET", &k]) == format!("${}\r\nv{i}\r\n", format!("v{i}").len()).as_bytes()
    })
}

#[test]
fn replicas_failover_and_rejoin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut nodes) = six_node_cluster(dir.path()) else {
        eprintln!("SKIPPED: redis-cli not installed");
        return;
    };
    assert!(check_passes(nodes[0].port));
    let _ = Command::new("redis-cli")
        .args(["-c", "-p", &nodes[0].port.to_string(), "SET", "probe", "x"])
        .output();
    let (mi, ri) = shard_of(&nodes, "probe");
    let master_id = nodes[mi].id();

    // Replica views: CLUSTER REPLICAS, MOVED for writes, READONLY reads.
    let reps = nodes[0].text(&["CLUSTER", "REPLICAS", &master_id]);
    assert!(reps.starts_with("*1\r\n"), "{reps}");
    assert!(nodes[ri]
        .text(&["SET", "probe", "y"])
        .starts_with("-MOVED "));
    assert!(nodes[ri].text(&["GET", "probe"]).starts_with("-MOVED "));
    write_keys(&nodes[mi], "probe", 50);
    let mut rc = nodes[ri].conn();
    assert_eq!(rc.cmd(&["READONLY"]), b"+OK\r\n");
    assert_eq!(rc.cmd(&["GET", "probe"]), b"$1\r\nx\r\n");
    assert_eq!(rc.cmd(&["READWRITE"]), b"+OK\r\n");

    // SIGKILL the master: its replica is elected and takes the slots.
    let start = Instant::now();
    nodes[mi].kill();
    let promoted = wait_until(Duration::from_secs(20), || {
        nodes[ri].is_master()
            && nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != mi)
                .all(|(_, n)| n.info("cluster_state") == "ok")
    });
    assert!(promoted, "replica not promoted");
    eprintln!("failover after SIGKILL: {:?}", start.elapsed());
    assert!(
        keys_present(&nodes[ri], "probe", 50),
        "acknowledged writes lost"
    );

    // The old master comes back as a replica of the new one.
    nodes[mi].spawn();
    let new_id = nodes[ri].id();
    let rejoined = wait_until(Duration::from_secs(20), || {
        nodes[mi].master_id().as_deref() == Some(new_id.as_str())
    });
    assert!(rejoined, "old master did not become a replica");
    assert!(wait_until(Duration::from_secs(20), || {
        keys_present(&nodes[mi], "probe", 50) || {
            let mut c = nodes[mi].conn();
            c.cmd(&["READONLY"]);
            (0..50).all(|i| c.cmd(&["GET", &format!("{{probe}}k{i}")]).starts_with(b"$"))
        }
    }));
    assert!(wait_until(Duration::from_secs(10), || check_passes(
        nodes[ri].port
    )));
}

#[test]
fn manual_failover_keeps_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(nodes) = six_node_cluster(dir.path()) else {
        eprintln!("SKIPPED: redis-cli not installed");
        return;
    };
    let _ = Command::new("redis-cli")
        .args(["-c", "-p", &nodes[0].port.to_string(), "SET", "mf", "x"])
        .output();
    let (mi, ri) = shard_of(&nodes, "mf");
    write_keys(&nodes[mi], "mf", 200);
    let mut rc = nodes[ri].conn();
    assert_eq!(
        rc.cmd(&["CLUSTER", "FAILOVER", "BOGUS"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        nodes[mi].conn().cmd(&["CLUSTER", "FAILOVER"]),
        b"-ERR You should send CLUSTER FAILOVER to a replica\r\n"
    );
    assert_eq!(rc.cmd(&["CLUSTER", "FAILOVER"]), b"+OK\r\n");
    let swapped = wait_until(Duration::from_secs(10), || {
        nodes[ri].is_master() && nodes[mi].master_id() == Some(nodes[ri].id())
    });
    assert!(swapped, "manual failover did not swap roles");
    assert!(keys_present(&nodes[ri], "mf", 200));
    // Writes go to the new master; the old one redirects.
    assert!(nodes[mi]
        .text(&["SET", "{mf}new", "1"])
        .starts_with("-MOVED "));
    assert_eq!(nodes[ri].text(&["SET", "{mf}new", "1"]), "+OK\r\n");
    assert!(wait_until(Duration::from_secs(10), || nodes
        .iter()
        .all(|n| n.info("cluster_state") == "ok")));
}

/// The index of a replica whose master is of the other kind (`bin` names).
fn cross_pair(nodes: &[Node], master_is_shoal: bool) -> Option<(usize, usize)> {
    let shoal = shoal_bin();
    for (ri, r) in nodes.iter().enumerate() {
        let Some(mid) = r.master_id() else { continue };
        let mi = nodes.iter().position(|n| n.id() == mid)?;
        if (nodes[mi].bin == shoal) == master_is_shoal && (r.bin == shoal) != master_is_shoal {
            return Some((mi, ri));
        }
    }
    None
}

fn key_of_master(nodes: &[Node], mi: usize) -> String {
    (0..10_000)
        .map(|i| format!("key{i}"))
        .find(|k| nodes[mi].text(&["GET", k]).starts_with('$'))
        .expect("a key served by the master")
}

/// A Redis replica fails over a Shoal master and a Shoal replica fails
/// over a Redis master, in one cluster built by redis-cli.
#[test]
fn mixed_cluster_failover_both_ways() {
    let Some(redis) = which("redis-server") else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    if which("redis-cli").is_none() {
        eprintln!("SKIPPED: redis-cli not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // redis-cli pairs the 4th, 5th, 6th nodes with the 3rd, 1st, 2nd masters.
    let kinds = [true, false, true, false, true, true];
    let nodes: Vec<Node> = kinds
        .iter()
        .map(|&shoal| {
            let bin = if shoal { shoal_bin() } else { redis.clone() };
            Node::start_bin(dir.path(), free_port(), bin)
        })
        .collect();
    let mut nodes = create(nodes).expect("cluster");
    for master_is_shoal in [true, false] {
        let (mi, ri) = cross_pair(&nodes, master_is_shoal).expect("a mixed shard");
        let tag = key_of_master(&nodes, mi);
        let ok = wait_until(Duration::from_secs(15), || {
            nodes[ri]
                .text(&["INFO", "replication"])
                .contains("master_link_status:up")
        });
        assert!(ok, "replica link not up");
        write_keys(&nodes[mi], &tag, 30);
        nodes[mi].kill();
        let promoted = wait_until(Duration::from_secs(20), || {
            nodes[ri].is_master()
                && nodes
                    .iter()
                    .filter(|n| n.child.is_some())
                    .all(|n| n.info("cluster_state") == "ok")
        });
        assert!(
            promoted,
            "replica not promoted (master shoal: {master_is_shoal})"
        );
        assert!(keys_present(&nodes[ri], &tag, 30), "writes lost");
    }
}
