//! Blocking list commands with several clients: FIFO fairness, sub-second
//! timeouts, wake-ups from MULTI/EXEC, LMOVE and RENAME, and disconnects.

mod common;

use std::time::{Duration, Instant};

use common::{wait_until, Conn, Server};

fn blocked(c: &mut Conn) -> usize {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "clients"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn wait_blocked(admin: &mut Conn, n: usize) {
    assert!(
        wait_until(Duration::from_secs(5), || blocked(admin) == n),
        "expected {n} blocked clients"
    );
}

#[test]
fn first_blocked_client_is_served_first() {
    let s = Server::shoal(&[]);
    let mut admin = s.conn();
    let mut waiters: Vec<Conn> = Vec::new();
    for i in 0..3 {
        let mut c = s.conn();
        c.send(&["BLPOP", "q", "0"]);
        wait_blocked(&mut admin, i + 1);
        waiters.push(c);
    }
    assert_eq!(admin.cmd(&["RPUSH", "q", "1", "2", "3"]), b":3\r\n");
    for (i, c) in waiters.iter_mut().enumerate() {
        let want = format!("*2\r\n$1\r\nq\r\n$1\r\n{}\r\n", i + 1);
        assert_eq!(c.read_reply(), want.as_bytes());
    }
    assert_eq!(admin.cmd(&["EXISTS", "q"]), b":0\r\n");
}

#[test]
fn sub_second_timeout() {
    let s = Server::shoal(&[]);
    let mut c = s.conn();
    let t = Instant::now();
    assert_eq!(c.cmd(&["BLPOP", "nokey", "0.2"]), b"*-1\r\n");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(
        c.cmd(&["BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.05"]),
        b"*-1\r\n"
    );
}

#[test]
fn woken_by_exec_lmove_and_rename() {
    let s = Server::shoal(&[]);
    let mut admin = s.conn();
    let mut a = s.conn();
    a.send(&["BRPOP", "t", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["MULTI"]);
    admin.cmd(&["RPUSH", "t", "x"]);
    admin.cmd(&["RPUSH", "t", "y"]);
    assert_eq!(admin.cmd(&["EXEC"]), b"*2\r\n:1\r\n:2\r\n");
    // Served after EXEC, with the state EXEC left behind: the tail is y.
    assert_eq!(a.read_reply(), b"*2\r\n$1\r\nt\r\n$1\r\ny\r\n");

    a.send(&["BLPOP", "dst", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "src", "v"]);
    admin.cmd(&["LMOVE", "src", "dst", "LEFT", "LEFT"]);
    assert_eq!(a.read_reply(), b"*2\r\n$3\r\ndst\r\n$1\r\nv\r\n");

    a.send(&["BLPOP", "k2", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "k1", "r"]);
    admin.cmd(&["RENAME", "k1", "k2"]);
    assert_eq!(a.read_reply(), b"*2\r\n$2\r\nk2\r\n$1\r\nr\r\n");
}

#[test]
fn blmove_chain_and_pipelined_commands_after_unblock() {
    let s = Server::shoal(&[]);
    let mut admin = s.conn();
    let mut a = s.conn();
    let mut b = s.conn();
    b.send(&["BLPOP", "stage2", "0"]);
    wait_blocked(&mut admin, 1);
    // A blocks on stage1 and has a pipelined PING queued behind it.
    let mut req = common::encode(&["BLMOVE", "stage1", "stage2", "LEFT", "RIGHT", "0"]);
    req.extend_from_slice(&common::encode(&["PING"]));
    a.send_raw(&req);
    wait_blocked(&mut admin, 2);
    admin.cmd(&["LPUSH", "stage1", "job"]);
    assert_eq!(a.read_reply(), b"$3\r\njob\r\n");
    assert_eq!(a.read_reply(), b"+PONG\r\n");
    assert_eq!(b.read_reply(), b"*2\r\n$6\r\nstage2\r\n$3\r\njob\r\n");
}

#[test]
fn disconnected_waiter_loses_nothing() {
    let s = Server::shoal(&[]);
    let mut admin = s.conn();
    {
        let mut a = s.conn();
        a.send(&["BLPOP", "q", "0"]);
        wait_blocked(&mut admin, 1);
    }
    wait_blocked(&mut admin, 0);
    admin.cmd(&["RPUSH", "q", "keep"]);
    assert_eq!(
        admin.cmd(&["LRANGE", "q", "0", "-1"]),
        b"*1\r\n$4\r\nkeep\r\n"
    );
}

#[test]
fn bzpopmin_woken_by_zadd_in_fifo_order() {
    let s = Server::shoal(&[]);
    let mut admin = s.conn();
    let mut a = s.conn();
    let mut b = s.conn();
    a.send(&["BZPOPMIN", "z", "0"]);
    wait_blocked(&mut admin, 1);
    b.send(&["BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"]);
    wait_blocked(&mut admin, 2);
    admin.cmd(&["ZADD", "z", "1", "one", "2", "two", "3", "three"]);
    assert_eq!(a.read_reply(), b"*3\r\n$1\r\nz\r\n$3\r\none\r\n$1\r\n1\r\n");
    assert_eq!(
        b.read_reply(),
        b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$5\r\nthree\r\n$1\r\n3\r\n*2\r\n$3\r\ntwo\r\n$1\r\n2\r\n"
    );
}

fn client_id(c: &mut Conn) -> String {
    String::from_utf8_lossy(&c.cmd(&["CLIENT", "ID"]))
        .trim_start_matches(':')
        .trim()
        .to_string()
}

#[test]
fn client_unblock_times_out_or_errors_the_wait() {
    let s = Server::shoal(&[]);
    let mut admin = s.conn();
    let mut c = s.conn();
    let id = client_id(&mut c);
    c.send(&["BRPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":1\r\n");
    assert_eq!(c.read_reply(), b"*-1\r\n");
    c.send(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), b":1\r\n");
    assert_eq!(
        c.read_reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":0\r\n");
}

/// An UNBLOCKED error is an error reply of the blocked command: INFO
/// errorstats, commandstats failed_calls and total_error_replies count it
/// (Redis's info.tcl "errorstats: blocking commands").
#[test]
fn client_unblock_error_counts_in_errorstats() {
    let s = Server::shoal(&[]);
    let mut admin = s.conn();
    let mut c = s.conn();
    let id = client_id(&mut c);
    admin.cmd(&["CONFIG", "RESETSTAT"]);
    c.send(&["BLPOP", "list1", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), b":1\r\n");
    assert!(c.read_reply().starts_with(b"-UNBLOCKED"));
    let info = String::from_utf8_lossy(&admin.cmd(&["INFO", "all"])).to_string();
    assert!(info.contains("errorstat_UNBLOCKED:count=1\r\n"), "{info}");
    let blpop = info
        .lines()
        .find(|l| l.starts_with("cmdstat_blpop:"))
        .unwrap_or_default();
    assert!(
        blpop.contains("calls=1,") && blpop.ends_with("rejected_calls=0,failed_calls=1"),
        "{blpop}"
    );
    assert!(info.contains("total_error_replies:1\r\n"), "{info}");
}

#[test]
fn swapdb_wakes_clients_blocked_in_either_db() {
    let s = Server::shoal(&[]);
    let mut admin = s.conn();
    admin.cmd(&["SELECT", "1"]);
    admin.cmd(&["RPUSH", "k", "hello"]);
    let mut c = s.conn();
    c.cmd(&["SELECT", "9"]);
    c.send(&["BRPOP", "k", "5"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["SWAPDB", "1", "9"]), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"*2\r\n$1\r\nk\r\n$5\r\nhello\r\n");
}
