//! RDB snapshots: SAVE/BGSAVE write a file that Shoal and redis-server load
//! on start, and SHUTDOWN SAVE persists before exiting.

mod common;

use std::time::Duration;

use common::{wait_until, Server};

fn start_in(dir: &std::path::Path, bin: &std::path::Path) -> Server {
    Server::start(bin, &["--dir", dir.to_str().expect("utf8")])
}

#[test]
fn save_and_reload_strings() {
    let data = tempfile::tempdir().expect("tempdir");
    let bin = common::shoal_bin();
    {
        let s = start_in(data.path(), &bin);
        let mut c = s.conn();
        c.cmd(&["SET", "a", "hello"]);
        c.cmd(&["SET", "n", "-123456789"]);
        c.cmd(&["SET", "big", &"x".repeat(1000)]);
        c.cmd(&["SET", "t", "v", "EX", "1000"]);
        c.cmd(&["SELECT", "3"]);
        c.cmd(&["SET", "z", ""]);
        assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    }
    let s = start_in(data.path(), &bin);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "a"]), b"$5\r\nhello\r\n");
    assert_eq!(c.cmd(&["GET", "n"]), b"$10\r\n-123456789\r\n");
    assert_eq!(c.cmd(&["GET", "big"]).len(), 1000 + 9);
    c.cmd(&["SELECT", "3"]);
    assert_eq!(c.cmd(&["GET", "z"]), b"$0\r\n\r\n");
}

#[test]
fn bgsave_forks_and_redis_loads_our_file() {
    let data = tempfile::tempdir().expect("tempdir");
    let s = start_in(data.path(), &common::shoal_bin());
    let mut c = s.conn();
    for i in 0..2000 {
        c.cmd(&["SET", &format!("key:{i}"), &format!("value-{i}")]);
    }
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    let file = data.path().join("dump.rdb");
    assert!(wait_until(Duration::from_secs(10), || file.exists()));
    // Writes keep being served while (and after) the child saves.
    assert_eq!(c.cmd(&["SET", "after", "1"]), b"+OK\r\n");
    drop(s);
    let Some(redis) = Server::redis(&["--dir", data.path().to_str().expect("utf8")]) else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    let mut r = redis.conn();
    assert_eq!(r.cmd(&["DBSIZE"]), b":2000\r\n");
    assert_eq!(r.cmd(&["GET", "key:1999"]), b"$10\r\nvalue-1999\r\n");
}

#[test]
fn shutdown_save_persists() {
    let data = tempfile::tempdir().expect("tempdir");
    let bin = common::shoal_bin();
    let mut s = start_in(data.path(), &bin);
    let mut c = s.conn();
    c.cmd(&["SET", "k", "v"]);
    c.send(&["SHUTDOWN", "SAVE"]);
    let _ = c.read_to_end();
    let _ = s.child.wait();
    let s = start_in(data.path(), &bin);
    assert_eq!(s.conn().cmd(&["GET", "k"]), b"$1\r\nv\r\n");
}

/// While a dump loads, clients get -LOADING and INFO reports progress
/// (loading:1 and the loading_* fields), as Redis does.
#[test]
fn info_reports_loading_progress() {
    let data = tempfile::tempdir().expect("tempdir");
    let bin = common::shoal_bin();
    {
        let dir = data.path().to_str().expect("utf8");
        let s = Server::start(&bin, &["--dir", dir, "--enable-debug-command", "yes"]);
        let mut c = s.conn();
        assert_eq!(c.cmd(&["DEBUG", "POPULATE", "2000"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    }
    // 2000 keys at 1 ms each: about two seconds of loading.
    let port = common::free_port();
    // Started by hand: Server::start waits for PONG, which only comes
    // after loading. Wrapped in Server so it is killed even on panic.
    let child = std::process::Command::new(&bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", data.path().to_str().expect("utf8")])
        .args(["--key-load-delay", "1000", "--enable-debug-command", "yes"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let _server = Server {
        port,
        child,
        dir: tempfile::tempdir().expect("tempdir"),
    };
    let mut seen = String::new();
    let loading = wait_until(Duration::from_secs(10), || {
        let Ok(mut c) = common::Conn::connect(port) else {
            return false;
        };
        seen = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
        seen.contains("loading:1") && !seen.contains("loading_loaded_bytes:0\r\n")
    });
    assert!(loading, "{seen}");
    for field in [
        "loading_start_time:",
        "loading_total_bytes:",
        "loading_loaded_perc:",
        "loading_eta_seconds:",
    ] {
        assert!(seen.contains(field), "{field} missing: {seen}");
    }
    let mut c = common::Conn::connect(port).expect("connect");
    assert!(c.cmd(&["GET", "key:1"]).starts_with(b"-LOADING"));
    let done = wait_until(Duration::from_secs(20), || {
        c.cmd(&["DBSIZE"]) == b":2000\r\n"
    });
    assert!(done);
}

/// INFO field `name` as a number (0 when missing).
fn info_num(c: &mut common::Conn, name: &str) -> u64 {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A BGSAVE child reports its copy-on-write memory and keys written while
/// it runs, and the last COW size stays in INFO after it ends (Redis's
/// child-info pipe).
#[test]
fn bgsave_reports_copy_on_write_and_progress() {
    let s = Server::shoal(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["DEBUG", "POPULATE", "20000", "k", "200"]),
        b"+OK\r\n"
    );
    // ~100 µs per key: the child runs for a few seconds.
    c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "100"]);
    assert!(c
        .cmd(&["BGSAVE"])
        .starts_with(b"+Background saving started"));
    // Rewrite every value: each page the parent touches is copied.
    for i in 0..20000 {
        c.send(&["SET", &format!("k:{i}"), &"y".repeat(200)]);
    }
    for _ in 0..20000 {
        c.read_reply();
    }
    let reported = wait_until(Duration::from_secs(10), || {
        info_num(&mut c, "current_cow_size") > 0
            && info_num(&mut c, "current_save_keys_processed") > 0
    });
    assert!(reported, "no COW report while the child ran");
    assert_eq!(info_num(&mut c, "current_save_keys_total"), 20000);
    let done = wait_until(Duration::from_secs(30), || {
        info_num(&mut c, "rdb_bgsave_in_progress") == 0 && info_num(&mut c, "rdb_last_cow_size") > 0
    });
    assert!(done, "rdb_last_cow_size never set");
    assert_eq!(info_num(&mut c, "current_cow_size"), 0);
}
