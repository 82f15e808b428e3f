//! Lua scripting against a running shoal-server: effects replication into
//! the AOF, restarts replaying it, SCRIPT KILL with BUSY replies for other
//! clients, and the cluster rules for the keys a script touches. Reply
//! shapes and error texts are compared with redis-server in
//! tests/diff/scripting.txt.

mod common;

use std::time::Duration;

use common::{wait_until, Conn, Server};

fn text(reply: Vec<u8>) -> String {
    String::from_utf8_lossy(&reply).into_owned()
}

/// The AOF's incremental file as text.
fn aof_text(dir: &std::path::Path) -> String {
    let raw = std::fs::read(common::aof_incr_file(dir)).expect("aof");
    String::from_utf8_lossy(&raw).into_owned()
}

#[test]
fn script_effects_go_to_the_aof_as_a_transaction_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "--dir",
        dir.path().to_str().expect("utf8"),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let s = Server::start(&common::shoal_bin(), &args);
    let mut c = s.conn();
    let script = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incrby', KEYS[2], 5)";
    let r = c.cmd(&["EVAL", script, "2", "a", "b", "one"]);
    assert_eq!(text(r), ":5\r\n");
    // A read-only script propagates nothing; a single write goes alone.
    c.cmd(&["EVAL", "return redis.call('get', 'a')", "0"]);
    c.cmd(&["EVAL", "return redis.call('del', 'nothing')", "0"]);
    let aof = aof_text(dir.path());
    assert!(!aof.contains("EVAL") && !aof.contains("eval"), "{aof}");
    let multi = aof.find("MULTI").expect("a MULTI in the AOF");
    let exec = aof.find("EXEC").expect("an EXEC in the AOF");
    let set = aof.find("one").expect("the SET in the AOF");
    assert!(multi < set && set < exec, "{aof}");
    assert_eq!(aof.matches("MULTI").count(), 1, "{aof}");
    drop(c);
    drop(s);
    let s = Server::start(&common::shoal_bin(), &args);
    let mut c = s.conn();
    assert_eq!(text(c.cmd(&["GET", "a"])), "$3\r\none\r\n");
    assert_eq!(text(c.cmd(&["GET", "b"])), "$1\r\n5\r\n");
}

#[test]
fn script_kill_stops_a_busy_script_and_other_clients_get_busy() {
    let s = Server::shoal(&["--busy-reply-threshold", "200"]);
    let mut runner = s.conn();
    let mut other = s.conn();
    runner.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    // SCRIPT KILL answers NOTBUSY until the script has started, then
    // waits for busy-reply-threshold before it kills.
    assert!(wait_until(Duration::from_secs(5), || {
        !text(other.cmd(&["SCRIPT", "KILL"])).starts_with("-NOTBUSY")
    }));
    let reply = text(runner.read_reply());
    assert!(
        reply.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{reply}"
    );
    assert_eq!(text(other.cmd(&["PING"])), "+PONG\r\n");

    // Another client's command waits, then gets BUSY past the threshold.
    runner.send(&["EVAL", "while true do end", "0"]);
    std::thread::sleep(Duration::from_millis(50));
    let busy = text(other.cmd(&["GET", "x"]));
    assert!(
        busy.starts_with("-BUSY Redis is busy running a script"),
        "{busy}"
    );
    assert_eq!(text(other.cmd(&["SCRIPT", "KILL"])), "+OK\r\n");
    assert!(text(runner.read_reply()).starts_with("-ERR Script killed"));
}

#[test]
fn a_script_that_wrote_cannot_be_killed() {
    let s = Server::shoal(&["--busy-reply-threshold", "100"]);
    let mut runner = s.conn();
    let mut other = s.conn();
    let script = "redis.call('set', 'x', '1') local t = redis.call('time')[1] \
                  while redis.call('time')[1] - t < 2 do end return 1";
    runner.send(&["EVAL", script, "0"]);
    let mut answer = String::new();
    assert!(wait_until(Duration::from_secs(5), || {
        answer = text(other.cmd(&["SCRIPT", "KILL"]));
        !answer.starts_with("-NOTBUSY")
    }));
    assert!(answer.starts_with("-UNKILLABLE"), "{answer}");
    assert_eq!(text(runner.read_reply()), ":1\r\n");
}

#[test]
fn watch_sees_a_script_write() {
    let s = Server::shoal(&[]);
    let mut c = s.conn();
    let mut w = s.conn();
    w.cmd(&["WATCH", "k"]);
    c.cmd(&["EVAL", "return redis.call('set', 'k', 'v')", "0"]);
    w.cmd(&["MULTI"]);
    w.cmd(&["PING"]);
    assert_eq!(text(w.cmd(&["EXEC"])), "*-1\r\n");
}

#[test]
fn scripts_wake_blocked_clients() {
    let s = Server::shoal(&[]);
    let mut waiter = s.conn();
    let mut c = s.conn();
    waiter.send(&["BLPOP", "q", "5"]);
    std::thread::sleep(Duration::from_millis(100));
    c.cmd(&["EVAL", "return redis.call('rpush', 'q', 'job')", "0"]);
    assert_eq!(text(waiter.read_reply()), "*2\r\n$1\r\nq\r\n$3\r\njob\r\n");
}

/// A single-node cluster serving only slot 0..=100: scripts may touch
/// only keys of served slots, all in one slot.
#[test]
fn cluster_scripts_touch_only_local_keys_of_one_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("nodes.conf");
    let s = Server::shoal(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        conf.to_str().expect("utf8"),
    ]);
    let mut c: Conn = s.conn();
    assert_eq!(
        text(c.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])),
        "+OK\r\n"
    );
    assert!(wait_until(Duration::from_secs(5), || {
        text(c.cmd(&["CLUSTER", "INFO"])).contains("cluster_state:ok")
    }));
    // {a} and {b} hash to different slots.
    let cross = text(c.cmd(&["EVAL", "return 1", "2", "{a}1", "{b}1"]));
    assert!(cross.starts_with("-CROSSSLOT"), "{cross}");
    let r = text(c.cmd(&[
        "EVAL",
        "redis.call('set', KEYS[1], 1) return redis.call('set', '{b}2', 1)",
        "1",
        "{a}1",
    ]));
    assert!(
        r.starts_with("-ERR Script attempted to access keys that do not hash to the same slot"),
        "{r}"
    );
    let ok = text(c.cmd(&["EVAL", "return redis.call('set', '{a}2', 1)", "1", "{a}1"]));
    assert_eq!(ok, "+OK\r\n");
    assert_eq!(
        text(c.cmd(&["CLUSTER", "DELSLOTSRANGE", "0", "16383"])),
        "+OK\r\n"
    );
    let r = text(c.cmd(&["EVAL", "return redis.call('get', 'x')", "0"]));
    assert!(r.contains("Script attempted to"), "{r}");
}

#[test]
fn shutdown_nosave_ends_a_server_stuck_in_a_script() {
    let mut s = Server::shoal(&["--busy-reply-threshold", "50"]);
    let mut runner = s.conn();
    let mut other = s.conn();
    runner.send(&["EVAL", "redis.call('set', 'x', 1) while true do end", "0"]);
    assert!(wait_until(Duration::from_secs(5), || {
        text(other.cmd(&["PING"])).starts_with("-BUSY")
    }));
    other.send(&["SHUTDOWN", "NOSAVE"]);
    let exited = wait_until(Duration::from_secs(10), || {
        matches!(s.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "the server did not exit");
}

/// A client blocked on a key the busy script wrote is served when the
/// script ends, and the event loop keeps answering BUSY meanwhile.
#[test]
fn a_busy_script_writing_a_blocked_key_does_not_stall_the_server() {
    let s = Server::shoal(&["--busy-reply-threshold", "50"]);
    let mut waiter = s.conn();
    let mut runner = s.conn();
    let mut other = s.conn();
    waiter.send(&["BLPOP", "q", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    let script = "redis.call('rpush', 'q', 'job') local t = redis.call('time')[1] \
                  while redis.call('time')[1] - t < 2 do end return 1";
    runner.send(&["EVAL", script, "0"]);
    assert!(wait_until(Duration::from_secs(5), || {
        text(other.cmd(&["PING"])).starts_with("-BUSY")
    }));
    assert_eq!(text(runner.read_reply()), ":1\r\n");
    assert_eq!(text(waiter.read_reply()), "*2\r\n$1\r\nq\r\n$3\r\njob\r\n");
    assert_eq!(text(other.cmd(&["PING"])), "+PONG\r\n");
}

/// A script that was always quick runs on the event loop; when a run
/// overruns before writing, it moves to the script thread, where other
/// clients get BUSY and SCRIPT KILL can stop it.
#[test]
fn a_quick_script_that_turns_slow_can_still_be_killed() {
    let s = Server::shoal(&["--busy-reply-threshold", "100"]);
    let mut runner = s.conn();
    let mut other = s.conn();
    let body = "local n = tonumber(ARGV[1]) local i = 0 \
                while n < 0 or i < n do i = i + 1 end return i";
    let sha = text(runner.cmd(&["SCRIPT", "LOAD", body]));
    let sha = sha.lines().nth(1).expect("sha").to_string();
    for _ in 0..3 {
        assert_eq!(text(runner.cmd(&["EVALSHA", &sha, "0", "10"])), ":10\r\n");
    }
    runner.send(&["EVALSHA", &sha, "0", "-1"]);
    assert!(wait_until(Duration::from_secs(5), || {
        text(other.cmd(&["PING"])).starts_with("-BUSY")
    }));
    assert_eq!(text(other.cmd(&["SCRIPT", "KILL"])), "+OK\r\n");
    assert!(text(runner.read_reply()).starts_with("-ERR Script killed"));
    assert_eq!(text(runner.cmd(&["EVALSHA", &sha, "0", "5"])), ":5\r\n");
}
