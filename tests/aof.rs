//! Append-only file crash tests: with `appendfsync always` a SIGKILL at a
//! random moment (also during a rewrite) loses no acknowledged write and
//! invents none; rewrites and BGSAVE under concurrent writes lose nothing;
//! a torn tail is truncated or refused per `aof-load-truncated`; a corrupt
//! middle refuses to start.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, Server};

fn start(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.to_str().expect("utf8"), "--appendonly", "yes"];
    args.extend_from_slice(extra);
    Server::start(&common::shoal_bin(), &args)
}

fn info_field(c: &mut common::Conn, name: &str) -> String {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).to_string();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A writer that INCRs its counter until the connection fails; returns
/// (last acknowledged value, number of INCRs sent).
fn incr_until_error(port: u16, key: String, stop: Arc<AtomicBool>) -> (i64, i64) {
    let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, 0);
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    let (mut acked, mut sent) = (0i64, 0i64);
    let req = common::encode(&["INCR", &key]);
    while !stop.load(Ordering::Relaxed) {
        if w.write_all(&req).is_err() {
            break;
        }
        sent += 1;
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(n) if n > 0 && line.starts_with(':') => {
                acked = line[1..].trim().parse().expect("int");
            }
            _ => break,
        }
    }
    (acked, sent)
}

fn get_int(c: &mut common::Conn, k: &str) -> i64 {
    let got = String::from_utf8_lossy(&c.cmd(&["GET", k])).to_string();
    got.lines().nth(1).unwrap_or("0").parse().expect("int")
}

#[test]
fn always_sigkill_keeps_every_acknowledged_write() {
    let data = tempfile::tempdir().expect("tempdir");
    // (counter key, last acknowledged value, INCRs sent)
    let mut expected: Vec<(String, i64, i64)> = Vec::new();
    for round in 0..4u64 {
        let mut s = start(data.path(), &["--appendfsync", "always"]);
        let mut c = s.conn();
        // Every acknowledged INCR of every earlier round survived, and
        // nothing that was never sent appeared.
        for (k, acked, sent) in &expected {
            let n = get_int(&mut c, k);
            assert!(
                n >= *acked && n <= *sent,
                "round {round}: {k} = {n} not in [{acked}, {sent}]"
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let (port, stop) = (s.port, stop.clone());
                let key = format!("r{round}:w{t}");
                std::thread::spawn(move || (key.clone(), incr_until_error(port, key, stop)))
            })
            .collect();
        // A pseudo-random moment; odd rounds crash during a rewrite.
        let ms = 150 + (round * 7919 + u64::from(std::process::id())) % 250;
        std::thread::sleep(Duration::from_millis(ms / 2));
        if round % 2 == 1 {
            c.cmd(&["BGREWRITEAOF"]);
        }
        std::thread::sleep(Duration::from_millis(ms / 2));
        let _ = s.child.kill();
        let _ = s.child.wait();
        for h in writers {
            let (key, (acked, sent)) = h.join().expect("writer");
            assert!(acked > 0, "writer {key} made progress");
            expected.push((key, acked, sent));
        }
    }
    let s = start(data.path(), &["--appendfsync", "always"]);
    let mut c = s.conn();
    for (k, acked, sent) in &expected {
        let n = get_int(&mut c, k);
        assert!(
            n >= *acked && n <= *sent,
            "{k} = {n} not in [{acked}, {sent}]"
        );
    }
}

#[test]
fn rewrite_and_bgsave_under_writes_lose_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let s = start(data.path(), &["--aof-use-rdb-preamble", "no"]);
    let stop = Arc::new(AtomicBool::new(false));
    let (port, stop2) = (s.port, stop.clone());
    let writer = std::thread::spawn(move || {
        let mut c = common::Conn::connect(port).expect("connect");
        let mut n = 0u64;
        while !stop2.load(Ordering::Relaxed) || n < 3000 {
            c.cmd(&["RPUSH", &format!("l{}", n % 50), &n.to_string()]);
            c.cmd(&["SET", &format!("k{n}"), &n.to_string()]);
            n += 1;
        }
        n
    });
    let mut c = s.conn();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        c.cmd(&["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut c, "aof_rewrites") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
    }));
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    }));
    stop.store(true, Ordering::Relaxed);
    let n = writer.join().expect("writer");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let manifest =
        std::fs::read_to_string(data.path().join("appendonlydir/appendonly.aof.manifest"))
            .expect("manifest");
    assert!(
        manifest.contains("appendonly.aof.2.base.aof seq 2 type b"),
        "{manifest}"
    );
    shutdown(s, c);
    let check = |s: &Server| {
        let mut c = s.conn();
        assert_eq!(c.cmd(&["DBSIZE"]), format!(":{}\r\n", n + 50).into_bytes());
        let total: u64 = (0..50)
            .map(|i| {
                let r = String::from_utf8_lossy(&c.cmd(&["LLEN", &format!("l{i}")])).to_string();
                r.trim()[1..].parse::<u64>().expect("int")
            })
            .sum();
        assert_eq!(total, n);
        assert_eq!(
            c.cmd(&["GET", &format!("k{}", n - 1)]),
            format!("${}\r\n{}\r\n", (n - 1).to_string().len(), n - 1).into_bytes()
        );
    };
    check(&start(data.path(), &[]));
    // redis-server loads the same directory (AOF base without preamble).
    if let Some(r) = Server::redis(&[
        "--dir",
        data.path().to_str().expect("utf8"),
        "--appendonly",
        "yes",
    ]) {
        check(&r);
    }
}

/// SHUTDOWN NOSAVE and wait for the process to exit.
fn shutdown(mut s: Server, mut c: common::Conn) {
    c.send(&["SHUTDOWN", "NOSAVE"]);
    let _ = c.read_to_end();
    let _ = s.child.wait();
}

fn incr_file(dir: &Path) -> std::path::PathBuf {
    common::aof_incr_file(dir)
}

/// Start shoal expecting it to exit at once; returns its exit status.
fn start_fails(dir: &Path, extra: &[&str]) -> bool {
    let port = common::free_port().to_string();
    let mut args = vec![
        "--port",
        &port,
        "--dir",
        dir.to_str().expect("utf8"),
        "--appendonly",
        "yes",
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(common::shoal_bin())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return !status.success();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

#[test]
fn torn_tail_and_corrupt_middle() {
    let data = tempfile::tempdir().expect("tempdir");
    {
        let s = start(data.path(), &[]);
        let mut c = s.conn();
        c.cmd(&["SET", "a", "1"]);
        c.cmd(&["SET", "b", "2"]);
        shutdown(s, c);
    }
    let incr = incr_file(data.path());
    let good = std::fs::read(&incr).expect("incr");
    let mut torn = good.clone();
    torn.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1");
    std::fs::write(&incr, &torn).expect("write");
    // aof-load-truncated no: refuse to start, file untouched.
    assert!(start_fails(data.path(), &["--aof-load-truncated", "no"]));
    assert_eq!(std::fs::read(&incr).expect("incr"), torn);
    // yes (default): load, and cut the file at the last whole command.
    {
        let s = start(data.path(), &[]);
        let mut c = s.conn();
        assert_eq!(
            c.cmd(&["MGET", "a", "b", "c"]),
            b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"
        );
        shutdown(s, c);
    }
    let after = std::fs::read(&incr).expect("incr");
    assert!(after.starts_with(&good));
    // A MULTI without EXEC at the end is reverted, not half applied.
    let mut tx = after.clone();
    tx.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nm\r\n$1\r\n1\r\n");
    std::fs::write(&incr, &tx).expect("write");
    {
        let s = start(data.path(), &[]);
        assert_eq!(s.conn().cmd(&["EXISTS", "m"]), b":0\r\n");
    }
    // Garbage in the middle is fatal even with aof-load-truncated yes.
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] = b'!';
    bad[at + 1] = b'!';
    bad.extend_from_slice(&good);
    std::fs::write(&incr, &bad).expect("write");
    assert!(start_fails(data.path(), &[]));
}

#[test]
fn config_set_appendonly_at_runtime() {
    appendonly_at_runtime(false);
}

/// Inside EXEC the rewrite is scheduled and the cron starts it (Redis
/// logs "AOF was enabled during a transaction").
#[test]
fn config_set_appendonly_inside_multi() {
    appendonly_at_runtime(true);
}

fn appendonly_at_runtime(in_multi: bool) {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().to_str().expect("utf8");
    let s = Server::start(
        &common::shoal_bin(),
        &["--dir", dir, "--enable-debug-command", "yes"],
    );
    let mut c = s.conn();
    c.cmd(&["SET", "before", "1"]);
    if in_multi {
        c.cmd(&["MULTI"]);
        c.cmd(&["CONFIG", "SET", "appendonly", "yes"]);
        c.cmd(&["SET", "during", "2"]);
        assert_eq!(c.cmd(&["EXEC"]), b"*2\r\n+OK\r\n+OK\r\n");
    } else {
        assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), b"+OK\r\n");
        c.cmd(&["SET", "during", "2"]);
    }
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut c, "aof_rewrites") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
    }));
    c.cmd(&["SET", "after", "3"]);
    assert_eq!(c.cmd(&["DEBUG", "LOADAOF"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), b":3\r\n");
    shutdown(s, c);
    let s = start(data.path(), &[]);
    assert_eq!(
        s.conn().cmd(&["MGET", "before", "during", "after"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
}
