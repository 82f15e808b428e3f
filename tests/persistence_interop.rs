//! Files round-trip between Shoal and redis-server 7.0 in both directions,
//! for every data type in its small and large encodings, with TTLs: the
//! appendonly directory (RDB preamble and plain AOF base) and dump.rdb.
//! Skipped when redis-server is not installed.

mod common;

use std::path::Path;

use common::{Conn, Server};

/// Fill every type, small (listpack/intset) and large (quicklist,
/// hashtable, skiplist) forms, some with TTLs, in two databases.
fn fill(c: &mut Conn) {
    c.cmd(&["SET", "str", "hello"]);
    c.cmd(&["SET", "int", "-12345"]);
    c.cmd(&["SET", "big", &"x".repeat(5000)]);
    c.cmd(&["SET", "ttl", "v", "PX", "500000"]);
    c.cmd(&["RPUSH", "lsmall", "a", "1", "b"]);
    let items: Vec<String> = (0..300).map(|i| format!("item-{i}")).collect();
    let mut argv = vec!["RPUSH".to_string(), "lbig".into()];
    argv.extend(items.iter().cloned());
    c.cmd(&argv);
    c.cmd(&["SADD", "sint", "1", "2", "3", "-7"]);
    let mut argv = vec!["SADD".to_string(), "sbig".into()];
    argv.extend(items.iter().cloned());
    c.cmd(&argv);
    c.cmd(&["ZADD", "zsmall", "1", "a", "2.5", "b", "-inf", "c"]);
    let mut argv = vec!["ZADD".to_string(), "zbig".into()];
    for (i, it) in items.iter().enumerate() {
        argv.push(format!("{}", i as f64 / 3.0));
        argv.push(it.clone());
    }
    c.cmd(&argv);
    c.cmd(&["HSET", "hsmall", "f", "v", "n", "1"]);
    let mut argv = vec!["HSET".to_string(), "hbig".into()];
    for it in &items {
        argv.push(it.clone());
        argv.push(format!("{it}-value"));
    }
    c.cmd(&argv);
    c.cmd(&["PEXPIRE", "hbig", "600000"]);
    c.cmd(&["SELECT", "5"]);
    c.cmd(&["SET", "other-db", "1"]);
    c.cmd(&["EXPIRE", "other-db", "700"]);
    c.cmd(&["SELECT", "0"]);
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).to_string()
}

/// Everything observable about the dataset, with TTLs rounded to minutes.
fn snapshot(c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    for db in ["0", "5"] {
        c.cmd(&["SELECT", db]);
        let keys = text(c.cmd(&["KEYS", "*"]));
        let mut keys: Vec<String> = keys
            .lines()
            .filter(|l| !l.starts_with('*') && !l.starts_with('$'))
            .map(String::from)
            .collect();
        keys.sort();
        for k in keys {
            let t = text(c.cmd(&["TYPE", &k]));
            let body = match t.trim() {
                "+string" => text(c.cmd(&["GET", &k])),
                "+list" => text(c.cmd(&["LRANGE", &k, "0", "-1"])),
                "+zset" => text(c.cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                "+set" => {
                    let mut m: Vec<String> = text(c.cmd(&["SMEMBERS", &k]))
                        .lines()
                        .map(String::from)
                        .collect();
                    m.sort();
                    m.join("\n")
                }
                "+hash" => {
                    let mut m: Vec<String> = text(c.cmd(&["HGETALL", &k]))
                        .lines()
                        .map(String::from)
                        .collect();
                    m.sort();
                    m.join("\n")
                }
                other => other.to_string(),
            };
            let ttl = text(c.cmd(&["PTTL", &k]));
            let ttl: i64 = ttl.trim()[1..].parse().unwrap_or(0);
            let ttl = if ttl > 0 {
                (ttl + 30_000) / 60_000
            } else {
                ttl
            };
            out.push(format!("{db} {k} {t} ttl={ttl} {body}"));
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}

fn stop(mut s: Server) {
    let mut c = s.conn();
    c.send(&["SHUTDOWN", "NOSAVE"]);
    let _ = c.read_to_end();
    let _ = s.child.wait();
}

fn start(bin: &Path, dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.to_str().expect("utf8")];
    args.extend_from_slice(extra);
    Server::start(bin, &args)
}

/// Write with `from`, read back with `to`, through `mode`'s files.
fn round_trip(from: &Path, to: &Path, extra: &[&str], rdb: bool) {
    let data = tempfile::tempdir().expect("tempdir");
    let s = start(from, data.path(), extra);
    let mut c = s.conn();
    fill(&mut c);
    if rdb {
        assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    } else {
        // Put the data in the base file, then more in an incr file.
        c.cmd(&["BGREWRITEAOF"]);
        let done = common::wait_until(std::time::Duration::from_secs(10), || {
            let info = text(c.cmd(&["INFO", "persistence"]));
            info.contains("aof_rewrites:1") && info.contains("aof_rewrite_in_progress:0")
        });
        assert!(done, "rewrite finished");
        c.cmd(&["RPUSH", "lsmall", "after-rewrite"]);
        c.cmd(&["SET", "ttl2", "v", "EX", "900"]);
    }
    let want = snapshot(&mut c);
    stop(s);
    let s = start(to, data.path(), extra);
    let got = snapshot(&mut s.conn());
    assert_eq!(
        got,
        want,
        "{} -> {} {extra:?}",
        from.display(),
        to.display()
    );
    stop(s);
}

#[test]
fn files_round_trip_with_redis_both_directions() {
    let Some(redis) = common::which("redis-server") else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    let shoal = common::shoal_bin();
    for (extra, rdb) in [
        (&["--appendonly", "yes"][..], false),
        (
            &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"][..],
            false,
        ),
        (&["--appendonly", "no"][..], true),
    ] {
        round_trip(&shoal, &redis, extra, rdb);
        round_trip(&redis, &shoal, extra, rdb);
    }
}

/// A dump.rdb holding a function library (Redis 7 writes FUNCTION2
/// records): Shoal has no Lua engine, so it skips the library with a
/// warning and loads every key.
#[test]
fn redis_dump_with_functions_loads_without_them() {
    let Some(redis) = common::which("redis-server") else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let s = start(&redis, data.path(), &[]);
    let mut c = s.conn();
    let lib = "#!lua name=mylib\nredis.register_function('one', function() return 1 end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), b"$5\r\nmylib\r\n");
    c.cmd(&["SET", "kept", "yes"]);
    c.cmd(&["RPUSH", "list", "a", "b"]);
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    stop(s);
    let s = start(&common::shoal_bin(), data.path(), &[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "kept"]), b"$3\r\nyes\r\n");
    assert_eq!(c.cmd(&["LLEN", "list"]), b":2\r\n");
    stop(s);
}
