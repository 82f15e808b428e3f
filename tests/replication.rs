//! Replication black-box tests: SYNC/PSYNC on the primary side, Shoal
//! replicas of Shoal and of redis-server (and the reverse), full sync in
//! both RDB transfer forms, partial resync after a link drop (checked with
//! sync_partial_ok), WAIT, min-replicas-to-write, read-only and stale-data
//! replicas, expiry on replicas, promotion with replid2 handover.

mod common;

use std::time::Duration;

use common::{wait_until, Server};

#[test]
fn sync_sends_snapshot_then_stream() {
    let s = Server::shoal(&[]);
    let mut c = s.conn();
    c.cmd(&["SET", "before", "1"]);
    let mut repl = s.conn();
    repl.send(&["SYNC"]);
    // Skip keep-alive newlines, then read the bulk payload.
    let header = loop {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut repl.r, &mut line).expect("read");
        if line.trim().is_empty() {
            continue;
        }
        break line;
    };
    let len: usize = header
        .trim()
        .trim_start_matches('$')
        .parse()
        .expect("payload length");
    let mut payload = vec![0u8; len];
    std::io::Read::read_exact(&mut repl.r, &mut payload).expect("payload");
    assert!(payload.starts_with(b"REDIS0010"));
    c.cmd(&["SET", "foo", "bar"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "n"]);
    c.cmd(&["INCR", "n"]);
    c.cmd(&["EXEC"]);
    assert_eq!(repl.read_reply(), common::encode(&["SELECT", "0"]));
    assert_eq!(repl.read_reply(), common::encode(&["SET", "foo", "bar"]));
    assert_eq!(repl.read_reply(), common::encode(&["MULTI"]));
    assert_eq!(repl.read_reply(), common::encode(&["INCR", "n"]));
    assert_eq!(repl.read_reply(), common::encode(&["INCR", "n"]));
    assert_eq!(repl.read_reply(), common::encode(&["EXEC"]));
}

#[test]
fn redis_replica_follows_shoal_primary() {
    let s = Server::shoal(&["--repl-diskless-sync-delay", "0"]);
    let mut c = s.conn();
    c.cmd(&["SET", "before", "1"]);
    c.cmd(&["RPUSH", "list", "a", "b"]);
    let port = s.port.to_string();
    let Some(replica) = Server::redis(&["--replicaof", "127.0.0.1", &port]) else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    let mut r = replica.conn();
    let synced = || {
        let info = String::from_utf8_lossy(
            &common::Conn::connect(replica.port)
                .expect("c")
                .cmd(&["INFO", "replication"]),
        )
        .into_owned();
        info.contains("master_link_status:up")
    };
    assert!(wait_until(Duration::from_secs(10), synced));
    c.cmd(&["SET", "after", "2"]);
    c.cmd(&["SELECT", "5"]);
    c.cmd(&["SET", "in5", "x"]);
    assert!(wait_until(Duration::from_secs(5), || r
        .cmd(&["GET", "after"])
        == b"$1\r\n2\r\n"));
    assert_eq!(r.cmd(&["GET", "before"]), b"$1\r\n1\r\n");
    assert_eq!(
        r.cmd(&["LRANGE", "list", "0", "-1"]),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    r.cmd(&["SELECT", "5"]);
    assert!(wait_until(Duration::from_secs(5), || r
        .cmd(&["GET", "in5"])
        == b"$1\r\nx\r\n"));
    // Drop the link from the primary's side: the Redis replica comes back
    // with PSYNC and is served from our backlog.
    c.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    c.cmd(&["SET", "during", "3"]);
    assert!(wait_until(Duration::from_secs(10), || {
        field(s.port, "stats", "sync_partial_ok") == "1"
    }));
    r.cmd(&["SELECT", "5"]);
    assert!(wait_until(Duration::from_secs(5), || r
        .cmd(&["GET", "during"])
        == b"$1\r\n3\r\n"));
    assert_eq!(field(s.port, "stats", "sync_full"), "1");
}

fn info(port: u16, section: &str) -> String {
    let mut c = common::Conn::connect(port).expect("connect");
    String::from_utf8_lossy(&c.cmd(&["INFO", section])).into_owned()
}

/// One `name:value` field of INFO `section` ("" when absent).
fn field(port: u16, section: &str, name: &str) -> String {
    info(port, section)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_default()
}

fn link_up(port: u16) -> bool {
    field(port, "replication", "master_link_status") == "up"
}

fn bulk(v: &str) -> Vec<u8> {
    format!("${}\r\n{v}\r\n", v.len()).into_bytes()
}

/// Wait until `port`'s replica has processed the master's whole stream.
fn caught_up(master: u16, replica: u16) -> bool {
    wait_until(Duration::from_secs(10), || {
        let m = field(master, "replication", "master_repl_offset");
        !m.is_empty() && m == field(replica, "replication", "slave_repl_offset")
    })
}

#[test]
fn shoal_replica_full_then_partial_resync() {
    let m = Server::shoal(&["--repl-diskless-sync-delay", "0"]);
    let mut mc = m.conn();
    mc.cmd(&["SET", "k", "v"]);
    mc.cmd(&["HSET", "h", "f", "1"]);
    let mp = m.port.to_string();
    let r = Server::shoal(&["--replicaof", "127.0.0.1", &mp]);
    assert!(wait_until(Duration::from_secs(10), || link_up(r.port)));
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(
        rc.cmd(&["SET", "x", "1"]),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
    mc.cmd(&["SELECT", "3"]);
    mc.cmd(&["INCRBYFLOAT", "f", "1.5"]);
    assert!(caught_up(m.port, r.port));
    rc.cmd(&["SELECT", "3"]);
    assert_eq!(rc.cmd(&["GET", "f"]), bulk("1.5"));
    // Same replid on both sides; ROLE agrees.
    assert_eq!(
        field(m.port, "replication", "master_replid"),
        field(r.port, "replication", "master_replid")
    );
    let role = String::from_utf8_lossy(&rc.cmd(&["ROLE"])).into_owned();
    assert!(
        role.starts_with("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n"),
        "{role}"
    );
    assert!(role.contains("$9\r\nconnected\r\n"), "{role}");
    assert!(wait_until(Duration::from_secs(5), || {
        info(m.port, "replication")
            .contains(&format!("slave0:ip=127.0.0.1,port={},state=online", r.port))
    }));
    // Link drop from the replica's side: PSYNC continues from the backlog.
    rc.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
    mc.cmd(&["SET", "while-down", "1"]);
    assert!(wait_until(Duration::from_secs(10), || {
        field(m.port, "stats", "sync_partial_ok") == "1"
    }));
    assert!(caught_up(m.port, r.port));
    assert_eq!(rc.cmd(&["GET", "while-down"]), bulk("1"));
    assert_eq!(field(m.port, "stats", "sync_full"), "1");
    assert_eq!(field(m.port, "stats", "sync_partial_err"), "0");
}

#[test]
fn disk_based_full_sync() {
    let m = Server::shoal(&["--repl-diskless-sync", "no"]);
    let mut mc = m.conn();
    for i in 0..200 {
        mc.cmd(&["SET", &format!("key:{i}"), &format!("{i}")]);
    }
    let mp = m.port.to_string();
    let r = Server::shoal(&["--replicaof", "127.0.0.1", &mp]);
    assert!(wait_until(Duration::from_secs(10), || link_up(r.port)));
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["DBSIZE"]), b":200\r\n");
    assert_eq!(rc.cmd(&["GET", "key:199"]), bulk("199"));
}

#[test]
fn shoal_replica_of_redis_primary() {
    let Some(m) = Server::redis(&["--repl-diskless-sync-delay", "0"]) else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    let mut mc = m.conn();
    mc.cmd(&["MSET", "a", "1", "b", "2"]);
    mc.cmd(&["ZADD", "z", "1", "m"]);
    mc.cmd(&["SET", "t", "v", "EX", "1000"]);
    let r = Server::shoal(&[]);
    let mut rc = r.conn();
    let mp = m.port.to_string();
    assert_eq!(rc.cmd(&["REPLICAOF", "127.0.0.1", &mp]), b"+OK\r\n");
    assert_eq!(
        rc.cmd(&["REPLICAOF", "127.0.0.1", &mp]),
        b"+OK Already connected to specified master\r\n"
    );
    assert!(wait_until(Duration::from_secs(10), || link_up(r.port)));
    assert_eq!(rc.cmd(&["DBSIZE"]), b":4\r\n");
    mc.cmd(&["MULTI"]);
    mc.cmd(&["INCR", "n"]);
    mc.cmd(&["LPUSH", "l", "x"]);
    mc.cmd(&["EXEC"]);
    mc.cmd(&["SADD", "s", "1", "2", "3"]);
    mc.cmd(&["SPOP", "s"]);
    assert_eq!(mc.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    assert!(caught_up(m.port, r.port));
    assert_eq!(rc.cmd(&["SMEMBERS", "s"]), mc.cmd(&["SMEMBERS", "s"]));
    assert_eq!(rc.cmd(&["GET", "n"]), bulk("1"));
    let ttl = String::from_utf8_lossy(&rc.cmd(&["TTL", "t"])).into_owned();
    assert!(ttl == ":1000\r\n" || ttl.starts_with(":99"), "{ttl}");
    // Link drop from redis-server's side: our PSYNC is accepted.
    mc.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    mc.cmd(&["SET", "during", "x"]);
    assert!(wait_until(Duration::from_secs(10), || {
        field(m.port, "stats", "sync_partial_ok") == "1"
    }));
    assert!(caught_up(m.port, r.port));
    assert_eq!(rc.cmd(&["GET", "during"]), bulk("x"));
    assert_eq!(rc.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(rc.cmd(&["SET", "mine", "1"]), b"+OK\r\n");
}

#[test]
fn wait_and_min_replicas() {
    let m = Server::shoal(&["--repl-diskless-sync-delay", "0"]);
    let mut mc = m.conn();
    assert_eq!(mc.cmd(&["WAIT", "0", "0"]), b":0\r\n");
    assert_eq!(mc.cmd(&["WAIT", "1", "100"]), b":0\r\n");
    let mp = m.port.to_string();
    let r = Server::shoal(&["--replicaof", "127.0.0.1", &mp]);
    assert!(wait_until(Duration::from_secs(10), || link_up(r.port)));
    mc.cmd(&["SET", "k", "v"]);
    assert_eq!(mc.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    let start = std::time::Instant::now();
    assert_eq!(mc.cmd(&["WAIT", "2", "300"]), b":1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(250));
    let mut rc = r.conn();
    assert!(String::from_utf8_lossy(&rc.cmd(&["WAIT", "1", "0"]))
        .starts_with("-ERR WAIT cannot be used with replica instances."));
    mc.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]);
    assert_eq!(
        mc.cmd(&["SET", "k", "v"]),
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(mc.cmd(&["GET", "k"]), bulk("v"));
    mc.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]);
    assert_eq!(mc.cmd(&["SET", "k", "v2"]), b"+OK\r\n");
}

#[test]
fn stale_replica_and_masterdown() {
    let dead = common::free_port().to_string();
    let r = Server::shoal(&["--replica-serve-stale-data", "no"]);
    let mut rc = r.conn();
    rc.cmd(&["REPLICAOF", "127.0.0.1", &dead]);
    assert_eq!(
        rc.cmd(&["GET", "k"]),
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    // PING has no `stale` flag: Redis refuses it too.
    assert!(rc.cmd(&["PING"]).starts_with(b"-MASTERDOWN"));
    let role = String::from_utf8_lossy(&rc.cmd(&["ROLE"])).into_owned();
    assert!(role.ends_with(":-1\r\n"), "{role}");
    assert_eq!(field(r.port, "replication", "master_link_status"), "down");
    assert_eq!(rc.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(rc.cmd(&["GET", "k"]), b"$-1\r\n");
    // A transaction queued before the link went down: EXEC is refused as
    // its commands would be, and the transaction is gone.
    let mut other = r.conn();
    rc.cmd(&["MULTI"]);
    assert_eq!(rc.cmd(&["GET", "k"]), b"+QUEUED\r\n");
    other.cmd(&["REPLICAOF", "127.0.0.1", &dead]);
    assert_eq!(
        rc.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of: MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert_eq!(rc.cmd(&["EXEC"]), b"-ERR EXEC without MULTI\r\n");
    other.cmd(&["REPLICAOF", "NO", "ONE"]);
}

#[test]
fn replicas_wait_for_the_primarys_del() {
    let m = Server::shoal(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ]);
    let mut mc = m.conn();
    mc.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let mp = m.port.to_string();
    let r = Server::shoal(&["--replicaof", "127.0.0.1", &mp]);
    assert!(wait_until(Duration::from_secs(10), || link_up(r.port)));
    mc.cmd(&["SET", "k", "v", "PX", "100"]);
    assert!(caught_up(m.port, r.port));
    std::thread::sleep(Duration::from_millis(150));
    let mut rc = r.conn();
    // Logically expired: hidden, but still held until the primary's DEL.
    assert_eq!(rc.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(rc.cmd(&["DBSIZE"]), b":1\r\n");
    assert_eq!(mc.cmd(&["GET", "k"]), b"$-1\r\n");
    assert!(caught_up(m.port, r.port));
    assert_eq!(rc.cmd(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn promotion_keeps_history_for_siblings() {
    let m = Server::shoal(&["--repl-diskless-sync-delay", "0"]);
    let mp = m.port.to_string();
    let a = Server::shoal(&[
        "--replicaof",
        "127.0.0.1",
        &mp,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let b = Server::shoal(&["--replicaof", "127.0.0.1", &mp]);
    let mut mc = m.conn();
    mc.cmd(&["SET", "k", "1"]);
    assert!(wait_until(Duration::from_secs(10), || link_up(a.port)
        && link_up(b.port)));
    assert!(caught_up(m.port, a.port) && caught_up(m.port, b.port));
    let old_id = field(m.port, "replication", "master_replid");
    let off = field(a.port, "replication", "master_repl_offset");
    drop(m);
    let mut ac = a.conn();
    assert_eq!(ac.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(field(a.port, "replication", "master_replid2"), old_id);
    let second: i64 = field(a.port, "replication", "second_repl_offset")
        .parse()
        .unwrap_or(0);
    assert_eq!(second, off.parse::<i64>().unwrap_or(-9) + 1);
    ac.cmd(&["SET", "k", "2"]);
    let ap = a.port.to_string();
    let mut bc = b.conn();
    bc.cmd(&["REPLICAOF", "127.0.0.1", &ap]);
    assert!(wait_until(Duration::from_secs(10), || {
        field(a.port, "stats", "sync_partial_ok") == "1"
    }));
    assert_eq!(field(a.port, "stats", "sync_full"), "0");
    assert!(caught_up(a.port, b.port));
    assert_eq!(bc.cmd(&["GET", "k"]), bulk("2"));
    assert_eq!(
        field(b.port, "replication", "master_replid"),
        field(a.port, "replication", "master_replid")
    );
}

#[test]
fn writable_replica_expires_its_own_keys() {
    let m = Server::shoal(&["--repl-diskless-sync-delay", "0"]);
    let mp = m.port.to_string();
    let r = Server::shoal(&["--replicaof", "127.0.0.1", &mp, "--replica-read-only", "no"]);
    assert!(wait_until(Duration::from_secs(10), || link_up(r.port)));
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["SET", "local", "v", "PX", "100"]), b"+OK\r\n");
    assert_eq!(rc.cmd(&["DBSIZE"]), b":1\r\n");
    assert!(wait_until(Duration::from_secs(5), || rc.cmd(&["DBSIZE"]) == b":0\r\n"));
    // Reclaimed as an expiry (Redis's expireSlaveKeys), so counted as one.
    assert_eq!(field(r.port, "stats", "expired_keys"), "1");
    // Writes on a replica are local: nothing reaches the master.
    assert_eq!(m.conn().cmd(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn digests_match_between_primary_replica_and_redis() {
    let setup: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["SET", "i", "12345"],
        &["RPUSH", "l", "a", "b", "3"],
        &["SADD", "st", "x", "y", "7"],
        &["SADD", "si", "1", "2", "3"],
        &["ZADD", "z", "1.5", "a", "2", "b"],
        &["HSET", "h", "f", "v", "g", "1"],
        &["SET", "e", "v", "EX", "100"],
    ];
    let keys = [
        "DEBUG",
        "DIGEST-VALUE",
        "s",
        "i",
        "l",
        "st",
        "si",
        "z",
        "h",
        "e",
        "none",
    ];
    let m = Server::shoal(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ]);
    let mut mc = m.conn();
    for c in setup {
        mc.cmd(c);
    }
    let mp = m.port.to_string();
    let r = Server::shoal(&[
        "--replicaof",
        "127.0.0.1",
        &mp,
        "--enable-debug-command",
        "yes",
    ]);
    assert!(wait_until(Duration::from_secs(10), || link_up(r.port)));
    assert!(caught_up(m.port, r.port));
    let mut rc = r.conn();
    assert_eq!(mc.cmd(&["DEBUG", "DIGEST"]), rc.cmd(&["DEBUG", "DIGEST"]));
    let ours = mc.cmd(&keys);
    assert_eq!(ours, rc.cmd(&keys));
    let Some(redis) = Server::redis(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut xc = redis.conn();
    for c in setup {
        xc.cmd(c);
    }
    assert_eq!(ours, xc.cmd(&keys));
}

/// A replica with an AOF rewrites it after a full sync, so that the AOF
/// holds what the sync brought (Redis restartAOFAfterSYNC): started again
/// on its own, it has every key.
#[test]
fn replica_aof_is_rewritten_after_full_sync() {
    let m = Server::shoal(&["--repl-diskless-sync-delay", "0"]);
    let mut mc = m.conn();
    mc.cmd(&["SET", "before", "1"]);
    let mp = m.port.to_string();
    let mut r = Server::shoal(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--replicaof",
        "127.0.0.1",
        &mp,
    ]);
    assert!(wait_until(Duration::from_secs(10), || link_up(r.port)));
    mc.cmd(&["SET", "after", "2"]);
    assert!(wait_until(Duration::from_secs(10), || caught_up(
        m.port, r.port
    )));
    let aof_dir = r.dir.path().join("appendonlydir");
    let rewritten = || {
        std::fs::read_dir(&aof_dir)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name() == "appendonly.aof.2.base.rdb")
            })
            .unwrap_or(false)
    };
    assert!(wait_until(Duration::from_secs(10), rewritten));
    assert!(wait_until(Duration::from_secs(10), || {
        field(r.port, "persistence", "aof_rewrite_in_progress") == "0"
    }));
    let _ = r.child.kill();
    let _ = r.child.wait();
    let dir = r.dir.path().display().to_string();
    let alone = Server::shoal(&["--appendonly", "yes", "--dir", &dir]);
    let mut c = alone.conn();
    assert_eq!(c.cmd(&["GET", "before"]), bulk("1"));
    assert_eq!(c.cmd(&["GET", "after"]), bulk("2"));
}
