//! Single-node cluster-mode commands. Multi-node clusters (redis-cli
//! --cluster create, redirections, FAIL agreement, resharding) live in the
//! `cluster-tests/` workspace crate.

mod common;

use common::Server;

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
