//! Primary side of replication: SYNC gives a snapshot then the write
//! stream; a real redis-server replica follows a Shoal primary.

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
    let s = Server::shoal(&[]);
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
}
