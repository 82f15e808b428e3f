//! Black-box tests for the key family: SCAN's guarantee under concurrent
//! writes, active expiry of keys nobody reads, SWAPDB and WATCH.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Conn, Server};

/// Bulk strings of a flat raw reply (skips headers), in order.
fn bulks(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let end = raw[i..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(raw.len(), |p| i + p);
        let line = &raw[i..end];
        i = end + 2;
        if line.first() == Some(&b'$') {
            let n: usize = std::str::from_utf8(&line[1..])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            out.push(raw[i..i + n].to_vec());
            i += n + 2;
        }
    }
    out
}

/// Run one full SCAN iteration, returning every key and the call count.
fn scan_all(c: &mut Conn, count: &str, between: &mut dyn FnMut()) -> (HashSet<Vec<u8>>, usize) {
    let mut cursor = b"0".to_vec();
    let mut keys = HashSet::new();
    let mut calls = 0;
    loop {
        let reply = c.cmd(&[&b"SCAN"[..], &cursor, b"COUNT", count.as_bytes()]);
        let mut items = bulks(&reply).into_iter();
        cursor = items.next().expect("cursor");
        keys.extend(items);
        calls += 1;
        between();
        if cursor == b"0" {
            return (keys, calls);
        }
        assert!(calls < 1_000_000, "scan did not terminate");
    }
}

/// Send many commands pipelined, then read every reply.
fn pipeline(c: &mut Conn, cmds: &[Vec<String>]) {
    for chunk in cmds.chunks(500) {
        for argv in chunk {
            c.send(argv);
        }
        for _ in chunk {
            c.read_reply();
        }
    }
}

fn stable_keys() -> Vec<String> {
    // Half spread over all slots, half in one slot (hash tag) so the
    // cursor's position inside a large, resizing slot is exercised too.
    (0..3000)
        .map(|i| format!("stable:{i}"))
        .chain((0..3000).map(|i| format!("{{hot}}stable:{i}")))
        .collect()
}

#[test]
fn scan_returns_every_key_present_throughout_under_churn() {
    let srv = Server::shoal(&[]);
    let mut c = srv.conn();
    let stable = stable_keys();
    let sets: Vec<Vec<String>> = stable
        .iter()
        .map(|k| vec!["SET".into(), k.clone(), "v".into()])
        .collect();
    pipeline(&mut c, &sets);

    // A writer adds and removes other keys in the same slots (forcing the
    // maps to grow and shrink) for as long as the scans run.
    let stop = Arc::new(AtomicBool::new(false));
    let port = srv.port;
    let stop2 = stop.clone();
    let rounds = Arc::new(AtomicU64::new(0));
    let rounds2 = rounds.clone();
    let writer = std::thread::spawn(move || {
        let mut w = Conn::connect(port).expect("connect");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut round = 0u64;
        while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
            let add: Vec<Vec<String>> = (0..400)
                .flat_map(|i| {
                    [
                        vec!["SET".into(), format!("churn:{round}:{i}"), "x".into()],
                        vec![
                            "SET".into(),
                            format!("{{hot}}churn:{round}:{i}"),
                            "x".into(),
                        ],
                    ]
                })
                .collect();
            pipeline(&mut w, &add);
            if round % 2 == 1 {
                let del: Vec<Vec<String>> = (0..400)
                    .flat_map(|i| {
                        [round - 1, round].into_iter().flat_map(move |r| {
                            [
                                vec!["DEL".into(), format!("churn:{r}:{i}")],
                                vec!["DEL".into(), format!("{{hot}}churn:{r}:{i}")],
                            ]
                        })
                    })
                    .collect();
                pipeline(&mut w, &del);
            }
            round += 1;
            rounds2.store(round, Ordering::Relaxed);
        }
    });

    // Repeat the scans until the writer has really run alongside them.
    let mut passes = 0;
    while passes < 3 || (rounds.load(Ordering::Relaxed) < 4 && passes < 30) {
        passes += 1;
        let count = ["1", "10", "1000"][passes % 3];
        let (seen, calls) = scan_all(&mut c, count, &mut || {});
        eprintln!(
            "pass {passes} count {count}: {calls} calls, {} keys, writer round {}",
            seen.len(),
            rounds.load(Ordering::Relaxed)
        );
        for k in &stable {
            assert!(
                seen.contains(k.as_bytes()),
                "SCAN COUNT {count} missed {k} ({calls} calls)"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    assert!(
        rounds.load(Ordering::Relaxed) >= 4,
        "writer did not overlap the scans"
    );
}

#[test]
fn short_ttl_keys_expire_without_access() {
    let srv = Server::shoal(&[]);
    let mut c = srv.conn();
    for db in ["0", "9"] {
        c.cmd(&["SELECT", db]);
        let sets: Vec<Vec<String>> = (0..200)
            .map(|i| {
                vec![
                    "SET".into(),
                    format!("t:{i}"),
                    "v".into(),
                    "PX".into(),
                    "100".into(),
                ]
            })
            .collect();
        pipeline(&mut c, &sets);
        c.cmd(&["SET", "keeper", "v"]);
    }
    // DBSIZE counts logically expired keys until they are reclaimed, and
    // reading it never expires anything: only the active cycle can do it.
    for db in ["0", "9"] {
        c.cmd(&["SELECT", db]);
        let ok = common::wait_until(Duration::from_secs(10), || c.cmd(&["DBSIZE"]) == b":1\r\n");
        assert!(ok, "db {db}: expired keys were not reclaimed actively");
    }
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "stats"])).into_owned();
    assert!(info.contains("expired_keys:400"), "{info}");
}

#[test]
fn swapdb_invalidates_watch() {
    let srv = Server::shoal(&[]);
    let mut a = srv.conn();
    let mut b = srv.conn();
    b.cmd(&["SELECT", "1"]);
    b.cmd(&["SET", "k", "in-db1"]);
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["SWAPDB", "0", "1"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "k"]);
    assert_eq!(a.cmd(&["EXEC"]), b"*-1\r\n");
    // A watched key absent from both dbs is not touched.
    a.cmd(&["WATCH", "other"]);
    b.cmd(&["SWAPDB", "0", "1"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "other"]);
    assert_eq!(a.cmd(&["EXEC"]), b"*1\r\n$-1\r\n");
}

fn changes_since_save(c: &mut Conn) -> u64 {
    let raw = c.cmd(&["INFO", "persistence"]);
    let text = String::from_utf8_lossy(&raw);
    text.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO persistence has rdb_changes_since_last_save")
}

/// SETBIT and BITFIELD count changes as Redis does: one for creating the
/// key, none for writing a bit that is already set so, one per applied
/// BITFIELD operation (Redis's bitops test checks the first two).
#[test]
fn setbit_and_bitfield_count_changes_like_redis() {
    let s = Server::shoal(&[]);
    let mut c = s.conn();
    let mut steps = Vec::new();
    let mut last = changes_since_save(&mut c);
    for cmd in [
        &["SETBIT", "a", "0", "0"][..],
        &["BITFIELD", "b", "SET", "i5", "0", "0"],
        &["SETBIT", "a", "0", "0"],
        &["BITFIELD", "b", "SET", "i5", "0", "0"],
        &["SETBIT", "a", "0", "1"],
        &[
            "BITFIELD", "b", "SET", "i5", "0", "1", "SET", "i5", "5", "3", "GET", "i5", "0",
        ],
        &[
            "BITFIELD", "c", "SET", "i5", "0", "1", "SET", "i5", "5", "3",
        ],
    ] {
        c.cmd(cmd);
        let now = changes_since_save(&mut c);
        steps.push(now - last);
        last = now;
    }
    // Redis 7.0.15 gives the same deltas.
    assert_eq!(steps, vec![1, 1, 0, 0, 1, 2, 2]);
}

fn memory_usage(c: &mut Conn, key: &str) -> i64 {
    let raw = c.cmd(&["MEMORY", "USAGE", key]);
    String::from_utf8_lossy(&raw)
        .trim_start_matches(':')
        .trim()
        .parse()
        .expect("MEMORY USAGE replies an integer")
}

/// MEMORY USAGE follows the packed layouts: a one-element hash, sorted
/// set, intset or small set is one node plus one small buffer (Redis
/// 7.0.15: 64, 80, 64 and 232 bytes), a short string lives in the node.
#[test]
fn memory_usage_measures_packed_values() {
    let s = Server::shoal(&[]);
    let mut c = s.conn();
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["ZADD", "z", "1", "a"]);
    c.cmd(&["SADD", "is", "1", "2", "3"]);
    c.cmd(&["SADD", "s", "a", "b", "c"]);
    c.cmd(&["SET", "str", "hello"]);
    for key in ["h", "z", "is", "s"] {
        let n = memory_usage(&mut c, key);
        assert!((64..=96).contains(&n), "{key}: {n}");
    }
    assert!((64..=72).contains(&memory_usage(&mut c, "str")));
    let fields: Vec<String> = (0..100)
        .flat_map(|i| [format!("f{i}"), format!("v{i}")])
        .collect();
    let mut argv = vec!["HSET".to_string(), "h100".to_string()];
    argv.extend(fields);
    c.cmd(&argv);
    assert!(memory_usage(&mut c, "h100") > memory_usage(&mut c, "h") + 500);
}
