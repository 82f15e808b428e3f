//! Start-up behaviour like redis-server: flags, config errors, --version,
//! pidfile, SIGTERM and SHUTDOWN.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{shoal_bin, wait_until, Server};

#[test]
fn version_and_help() {
    let out = Command::new(shoal_bin())
        .arg("--version")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Redis server v=7.0.15"));
    let out = Command::new(shoal_bin())
        .arg("--help")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));
}

#[test]
fn bad_directive_fails_like_redis() {
    let out = Command::new(shoal_bin())
        .args(["--port", "7001", "--bogus", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***"),
        "{err}"
    );
    assert!(
        err.contains(">>> 'bogus \"1\"'\nBad directive or wrong number of arguments"),
        "{err}"
    );
    let out = Command::new(shoal_bin())
        .args(["--maxmemory", "lots"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("argument must be a memory value"));
    let out = Command::new(shoal_bin())
        .arg("/nonexistent/redis.conf")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn config_file_and_flags_combine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("shoal.conf");
    std::fs::write(
        &conf,
        "# test\nmaxmemory-policy allkeys-lru\nsave 900 1\nsave 300 10\n",
    )
    .expect("write");
    let s = Server::start(&shoal_bin(), &[conf.to_str().expect("utf8"), "--hz", "20"]);
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz"]),
        b"*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
    );
}

#[test]
fn pidfile_sigterm_and_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("shoal.pid");
    let mut s = Server::shoal(&["--pidfile", pidfile.to_str().expect("utf8")]);
    assert!(wait_until(Duration::from_secs(5), || pidfile.exists()));
    let pid = std::fs::read_to_string(&pidfile).expect("pid");
    assert_eq!(pid.trim(), s.child.id().to_string());
    // SIGTERM: graceful exit with status 0 and the pidfile removed.
    let _ = Command::new("kill").args(["-TERM", pid.trim()]).status();
    let status = s.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert!(!pidfile.exists());

    let s = Server::shoal(&[]);
    let mut c = s.conn();
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(
        c.read_to_end().is_empty(),
        "SHUTDOWN closes the connection without a reply"
    );
}
