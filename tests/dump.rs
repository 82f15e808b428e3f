//! DUMP / RESTORE / MIGRATE interoperability with a real redis-server 7.0:
//! payloads DUMPed by Redis (every type, small and large encodings)
//! RESTORE into Shoal with identical data, Shoal's payloads RESTORE into
//! Redis, and MIGRATE moves keys in both directions. Skipped (with a
//! message) when redis-server is not installed.

mod common;

use common::{Conn, Server};

/// The payload of a bulk reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    assert_eq!(
        reply[0],
        b'$',
        "not a bulk: {}",
        String::from_utf8_lossy(reply)
    );
    let nl = reply.iter().position(|&b| b == b'\n').expect("header");
    reply[nl + 1..reply.len() - 2].to_vec()
}

/// Elements of a flat array of bulk strings.
fn elems(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = reply.iter().position(|&b| b == b'\n').expect("header") + 1;
    while i < reply.len() {
        let nl = i + reply[i..].iter().position(|&b| b == b'\n').expect("len");
        let n: usize = std::str::from_utf8(&reply[i + 1..nl - 1])
            .expect("utf8")
            .parse()
            .expect("len");
        out.push(reply[nl + 1..nl + 1 + n].to_vec());
        i = nl + 1 + n + 2;
    }
    out
}

/// A type-aware, order-independent view of a key's contents.
fn contents(c: &mut Conn, key: &str) -> Vec<Vec<u8>> {
    let t = c.cmd(&["TYPE", key]);
    let mut v = match &t[..] {
        b"+string\r\n" => vec![bulk(&c.cmd(&["GET", key]))],
        b"+list\r\n" => return elems(&c.cmd(&["LRANGE", key, "0", "-1"])),
        b"+set\r\n" => elems(&c.cmd(&["SMEMBERS", key])),
        b"+zset\r\n" => return elems(&c.cmd(&["ZRANGE", key, "0", "-1", "WITHSCORES"])),
        b"+hash\r\n" => {
            let e = elems(&c.cmd(&["HGETALL", key]));
            let mut pairs: Vec<Vec<u8>> = e.chunks(2).map(|p| p.concat()).collect();
            pairs.sort();
            return pairs;
        }
        other => panic!("unexpected type {}", String::from_utf8_lossy(other)),
    };
    v.sort();
    v
}

fn servers() -> Option<(Server, Server)> {
    let Some(redis) = Server::redis(&["--enable-debug-command", "yes"]) else {
        eprintln!("redis-server not installed: skipping DUMP/RESTORE interop tests");
        return None;
    };
    Some((Server::shoal(&[]), redis))
}

fn args(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

/// Fill Redis with one key per type and encoding.
fn populate(r: &mut Conn) -> Vec<&'static str> {
    let mut cmds: Vec<Vec<String>> = vec![
        args("SET str hello"),
        args("SET int -123456"),
        vec!["SET".into(), "lzf".into(), "abc".repeat(100)],
        args("RPUSH list a b 1 -2 300 70000 4294967296 -9223372036854775808"),
        args("SADD intset 1 2 3 -100 70000 4294967296"),
        args("SADD set a b c 1"),
        args("HSET hash f v f2 123 f3 -1"),
        args("ZADD zset 1 a 2.5 b -inf c inf d 0 e"),
    ];
    fn many(prefix: &'static str, n: usize) -> impl Iterator<Item = String> {
        (0..n).map(move |i| format!("{prefix}{i}"))
    }
    let mut big_list = vec!["RPUSH".to_string(), "biglist".into()];
    big_list.extend(many("item", 1000));
    big_list.push("x".repeat(20000));
    cmds.push(big_list);
    let mut big_set = vec!["SADD".to_string(), "bigintset".into()];
    big_set.extend((0..600).map(|i| (i * 7).to_string()));
    cmds.push(big_set);
    let mut big_set = vec!["SADD".to_string(), "bigset".into()];
    big_set.extend(many("m", 300));
    cmds.push(big_set);
    let mut big_hash = vec!["HSET".to_string(), "bighash".into()];
    big_hash.extend(many("f", 300).flat_map(|f| [f.clone(), f.repeat(3)]));
    cmds.push(big_hash);
    cmds.push(vec![
        "HSET".into(),
        "longhash".into(),
        "f".into(),
        "v".repeat(100),
    ]);
    let mut big_zset = vec!["ZADD".to_string(), "bigzset".into()];
    big_zset.extend((0..300).flat_map(|i| [format!("{}.25", i % 17), format!("m{i}")]));
    cmds.push(big_zset);
    for c in &cmds {
        let reply = r.cmd(c);
        assert!(
            reply[0] != b'-',
            "{c:?}: {}",
            String::from_utf8_lossy(&reply)
        );
    }
    // A PLAIN quicklist node: an element above the packed threshold.
    assert_eq!(
        r.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]),
        b"+OK\r\n"
    );
    let plain = "p".repeat(500);
    r.cmd(&["RPUSH", "plainlist", "a", &plain, "b"]);
    vec![
        "str",
        "int",
        "lzf",
        "list",
        "intset",
        "set",
        "hash",
        "zset",
        "biglist",
        "bigintset",
        "bigset",
        "bighash",
        "longhash",
        "bigzset",
        "plainlist",
    ]
}

#[test]
fn redis_payloads_round_trip_through_shoal() {
    let Some((shoal, redis)) = servers() else {
        return;
    };
    let (mut s, mut r) = (shoal.conn(), redis.conn());
    for key in populate(&mut r) {
        let payload = bulk(&r.cmd(&["DUMP", key]));
        let reply = s.cmd(&[b"RESTORE", key.as_bytes(), b"0", &payload]);
        assert_eq!(
            reply,
            b"+OK\r\n",
            "{key}: {}",
            String::from_utf8_lossy(&reply)
        );
        assert_eq!(s.cmd(&["TYPE", key]), r.cmd(&["TYPE", key]), "{key}");
        let (se, re) = (
            s.cmd(&["OBJECT", "ENCODING", key]),
            r.cmd(&["OBJECT", "ENCODING", key]),
        );
        if key != "bigzset" {
            assert_eq!(se, re, "{key} encoding");
        }
        let t = s.cmd(&["TYPE", key]);
        if t == b"+string\r\n" || t == b"+list\r\n" {
            assert_eq!(contents(&mut s, key), contents(&mut r, key), "{key}");
        }
        // Back into Redis, where every type can be read.
        let back = bulk(&s.cmd(&["DUMP", key]));
        let copy = format!("{key}:back");
        let reply = r.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &back]);
        assert_eq!(
            reply,
            b"+OK\r\n",
            "{key}: {}",
            String::from_utf8_lossy(&reply)
        );
        assert_eq!(contents(&mut r, key), contents(&mut r, &copy), "{key}");
        if t == b"+string\r\n" {
            assert_eq!(back, payload, "{key}: string payloads are byte-identical");
        }
    }
}

#[test]
fn corrupt_payloads_are_rejected() {
    let Some((shoal, redis)) = servers() else {
        return;
    };
    let (mut s, mut r) = (shoal.conn(), redis.conn());
    populate(&mut r);
    for key in ["list", "intset", "hash", "zset", "biglist"] {
        let payload = bulk(&r.cmd(&["DUMP", key]));
        // Every truncation (with a recomputed footer) must fail cleanly.
        for cut in 1..payload.len() - 10 {
            let mut p = payload[..cut].to_vec();
            p.extend_from_slice(&10u16.to_le_bytes());
            let crc = shoal::persistence::rdb::CRC64.checksum(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            let reply = s.cmd(&[b"RESTORE", b"bad".as_slice(), b"0", &p, b"REPLACE"]);
            assert!(reply.starts_with(b"-ERR Bad data format") || reply == b"+OK\r\n");
        }
    }
    assert_eq!(s.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn shoal_values_restore_into_redis() {
    let Some((shoal, redis)) = servers() else {
        return;
    };
    let (mut s, mut r) = (shoal.conn(), redis.conn());
    s.cmd(&["SET", "a", "12"]);
    s.cmd(&["SET", "b", &"z".repeat(1000)]);
    let mut push = vec!["RPUSH".to_string(), "l".into()];
    push.extend((0..500).map(|i| format!("v{i}")));
    s.cmd(&push);
    for key in ["a", "b", "l"] {
        let p = bulk(&s.cmd(&["DUMP", key]));
        assert_eq!(r.cmd(&[b"RESTORE", key.as_bytes(), b"0", &p]), b"+OK\r\n");
        assert_eq!(contents(&mut s, key), contents(&mut r, key), "{key}");
    }
}

#[test]
fn migrate_shoal_to_redis_and_back() {
    let Some((shoal, redis)) = servers() else {
        return;
    };
    let (mut s, mut r) = (shoal.conn(), redis.conn());
    let (sp, rp) = (shoal.port.to_string(), redis.port.to_string());
    s.cmd(&["SET", "a", "1"]);
    s.cmd(&["RPUSH", "b", "x", "y"]);
    s.cmd(&["PEXPIRE", "b", "100000"]);
    let ok = s.cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &rp,
        "",
        "3",
        "5000",
        "KEYS",
        "a",
        "b",
        "nokey",
    ]);
    assert_eq!(ok, b"+OK\r\n", "{}", String::from_utf8_lossy(&ok));
    assert_eq!(s.cmd(&["EXISTS", "a", "b"]), b":0\r\n");
    r.cmd(&["SELECT", "3"]);
    assert_eq!(r.cmd(&["GET", "a"]), b"$1\r\n1\r\n");
    assert_eq!(contents(&mut r, "b"), vec![b"x".to_vec(), b"y".to_vec()]);
    let ttl = String::from_utf8(r.cmd(&["PTTL", "b"])).unwrap_or_default();
    let ttl: i64 = ttl.trim_start_matches(':').trim().parse().unwrap_or(-1);
    assert!(ttl > 90000 && ttl <= 100000, "ttl {ttl}");
    // COPY keeps the source; an existing target needs REPLACE.
    s.cmd(&["SET", "a", "2"]);
    let busy = s.cmd(&["MIGRATE", "127.0.0.1", &rp, "a", "3", "5000", "COPY"]);
    assert_eq!(
        busy,
        b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    let ok = s.cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &rp,
        "a",
        "3",
        "5000",
        "COPY",
        "REPLACE",
    ]);
    assert_eq!(ok, b"+OK\r\n");
    assert_eq!(s.cmd(&["GET", "a"]), b"$1\r\n2\r\n");
    assert_eq!(r.cmd(&["GET", "a"]), b"$1\r\n2\r\n");
    assert_eq!(
        s.cmd(&["MIGRATE", "127.0.0.1", &rp, "zz", "0", "5000"]),
        b"+NOKEY\r\n"
    );

    // Redis → Shoal, every type.
    r.cmd(&["SELECT", "0"]);
    let keys = populate(&mut r);
    let mut want = Vec::new();
    for k in &keys {
        want.push((*k, r.cmd(&["TYPE", k])));
    }
    let mut cmd: Vec<&str> = vec!["MIGRATE", "127.0.0.1", &sp, "", "0", "5000", "KEYS"];
    cmd.extend(keys.iter().copied());
    let ok = r.cmd(&cmd);
    assert_eq!(ok, b"+OK\r\n", "{}", String::from_utf8_lossy(&ok));
    for (k, t) in want {
        assert_eq!(s.cmd(&["TYPE", k]), t, "{k}");
        assert_eq!(r.cmd(&["EXISTS", k]), b":0\r\n");
    }
    // And back again: Shoal's payloads load in Redis with the same data.
    let mut cmd: Vec<&str> = vec!["MIGRATE", "127.0.0.1", &rp, "", "0", "5000", "KEYS"];
    cmd.extend(keys.iter().copied());
    assert_eq!(s.cmd(&cmd), b"+OK\r\n");
    assert_eq!(
        r.cmd(&["DBSIZE"]),
        format!(":{}\r\n", keys.len()).into_bytes()
    );
}

#[test]
fn migrate_with_auth_to_shoal() {
    let Some(redis) = Server::redis(&[]) else {
        eprintln!("redis-server not installed: skipping");
        return;
    };
    let shoal = Server::shoal(&[]);
    let (mut s, mut r) = (shoal.conn(), redis.conn());
    assert_eq!(s.cmd(&["CONFIG", "SET", "requirepass", "pw"]), b"+OK\r\n");
    let sp = shoal.port.to_string();
    r.cmd(&["SET", "k", "v"]);
    let e = r.cmd(&["MIGRATE", "127.0.0.1", &sp, "k", "0", "5000"]);
    assert!(
        e.starts_with(b"-ERR Target instance replied with error: NOAUTH"),
        "{}",
        String::from_utf8_lossy(&e)
    );
    assert_eq!(
        r.cmd(&["MIGRATE", "127.0.0.1", &sp, "k", "0", "5000", "AUTH", "pw"]),
        b"+OK\r\n"
    );
    s.cmd(&["AUTH", "pw"]);
    assert_eq!(s.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    // Shoal as the source, with AUTH2 against itself is not needed; a
    // closed port gives Redis's write error.
    let e = s.cmd(&["MIGRATE", "127.0.0.1", "1", "k", "0", "100"]);
    assert_eq!(e, b"-IOERR error or timeout writing to target instance\r\n");
}
