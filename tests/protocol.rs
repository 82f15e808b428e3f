//! Black-box protocol tests: raw bytes in, exact bytes out, as
//! redis-server 7.0.15 answers (each expectation was checked against it).

mod common;

use std::time::{Duration, Instant};

use common::{Conn, Server};

fn shoal() -> Server {
    Server::shoal(&["--enable-debug-command", "yes"])
}

/// Send raw bytes and read until the server closes the connection.
fn raw_until_close(c: &mut Conn, bytes: &[u8]) -> Vec<u8> {
    c.send_raw(bytes);
    c.read_to_end()
}

fn client_id(c: &mut Conn) -> String {
    let r = c.cmd(&["CLIENT", "ID"]);
    String::from_utf8_lossy(&r[1..r.len() - 2]).into_owned()
}

#[test]
fn inline_commands_with_quotes() {
    let s = shoal();
    let mut c = s.conn();
    c.send_raw(b"SET k \"hello world\"\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    c.send_raw(b"GET k\r\n");
    assert_eq!(c.read_reply(), b"$11\r\nhello world\r\n");
    c.send_raw(b"ECHO 'single quoted'\n");
    assert_eq!(c.read_reply(), b"$13\r\nsingle quoted\r\n");
    c.send_raw(b"ECHO \"\\x41\\n\"\r\n");
    assert_eq!(c.read_reply(), b"$2\r\nA\n\r\n");
    // Blank lines are ignored.
    c.send_raw(b"\r\n\r\nPING\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
}

#[test]
fn pipelining_1000_commands_in_one_write() {
    let s = shoal();
    let mut c = s.conn();
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend(common::encode(&["SET", &format!("k{i}"), &i.to_string()]));
        batch.extend(common::encode(&["GET", &format!("k{i}")]));
    }
    c.send_raw(&batch);
    for i in 0..1000 {
        assert_eq!(c.read_reply(), b"+OK\r\n");
        let v = i.to_string();
        assert_eq!(
            c.read_reply(),
            format!("${}\r\n{v}\r\n", v.len()).into_bytes()
        );
    }
}

#[test]
fn protocol_errors_reply_then_close() {
    let s = shoal();
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*abc\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\na\r\nx1\r\n",
            b"-ERR Protocol error: expected '$', got 'x'\r\n",
        ),
        (
            b"*1\r\n$abc\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$-1\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET a \"unbalanced\r\nPING\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"*2147483648\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
    ];
    for (input, want) in cases {
        let mut c = s.conn();
        assert_eq!(&raw_until_close(&mut c, input), want, "{input:?}");
    }
    let mut c = s.conn();
    let big = vec![b'A'; 70_000];
    assert_eq!(
        raw_until_close(&mut c, &big),
        b"-ERR Protocol error: too big inline request\r\n"
    );
}

#[test]
fn ignorable_requests() {
    let s = shoal();
    let mut c = s.conn();
    c.send_raw(b"*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
}

#[test]
fn proto_max_bulk_len_at_runtime() {
    let s = shoal();
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1000"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive\r\n".to_vec()
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1048576"]),
        b"+OK\r\n"
    );
    let mut d = s.conn();
    assert_eq!(
        raw_until_close(&mut d, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n"),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    // Exactly the limit is accepted.
    let mut e = s.conn();
    let big = vec![b'x'; 1048576];
    let r = e.cmd(&[b"ECHO".as_slice(), &big]);
    assert_eq!(r.len(), 1048576 + "$1048576\r\n\r\n".len());
}

#[test]
fn client_query_buffer_limit_closes_client() {
    let s = shoal();
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "client-query-buffer-limit", "1048576"]),
        b"+OK\r\n"
    );
    let mut d = s.conn();
    let mut req = b"*2\r\n$4\r\nECHO\r\n$2000000\r\n".to_vec();
    req.extend(vec![b'x'; 1_100_000]);
    d.send_raw(&req);
    assert_eq!(d.read_to_end(), b"");
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn resp3_after_hello_3() {
    let s = shoal();
    let mut c = s.conn();
    let hello = c.cmd(&["HELLO", "3"]);
    assert!(hello.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"));
    assert_eq!(c.cmd(&["GET", "missing"]), b"_\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(c.cmd(&["DEBUG", "PROTOCOL", "double"]), b",3.141\r\n");
    assert_eq!(c.cmd(&["DEBUG", "PROTOCOL", "true"]), b"#t\r\n");
    assert_eq!(
        c.cmd(&["DEBUG", "PROTOCOL", "bignum"]),
        b"(1234567999999999999999999999999999999\r\n"
    );
    let info = c.cmd(&["INFO", "cluster"]);
    assert_eq!(info, b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
    // Back to RESP2: the same replies degrade.
    c.cmd(&["HELLO", "2"]);
    assert_eq!(c.cmd(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(c.cmd(&["DEBUG", "PROTOCOL", "double"]), b"$5\r\n3.141\r\n");
}

#[test]
fn quit_replies_ok_then_closes() {
    let s = shoal();
    let mut c = s.conn();
    assert_eq!(raw_until_close(&mut c, b"QUIT\r\nPING\r\n"), b"+OK\r\n");
}

#[test]
fn client_reply_off_and_skip() {
    let s = shoal();
    let mut c = s.conn();
    c.send_raw(
        b"CLIENT REPLY SKIP\r\nPING a\r\nPING b\r\nCLIENT REPLY OFF\r\nPING c\r\nCLIENT REPLY ON\r\nPING d\r\n",
    );
    assert_eq!(c.read_reply(), b"$1\r\nb\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"$1\r\nd\r\n");
}

#[test]
fn client_kill_by_id_closes_the_target() {
    let s = shoal();
    let mut victim = s.conn();
    let id = client_id(&mut victim);
    let mut killer = s.conn();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    assert_eq!(victim.read_to_end(), b"");
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", &id]), b":0\r\n");
    // Killing yourself still delivers the reply first.
    let me = client_id(&mut killer);
    killer.send(&["CLIENT", "KILL", "ID", &me, "SKIPME", "no"]);
    assert_eq!(killer.read_to_end(), b":1\r\n");
}

#[test]
fn client_kill_old_form_and_list_filters() {
    let s = shoal();
    let mut a = s.conn();
    let mut b = s.conn();
    let id = client_id(&mut b);
    let list = a.cmd(&["CLIENT", "LIST", "ID", &id]);
    let text = String::from_utf8_lossy(&list).into_owned();
    let addr = text
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap_or_default()
        .to_string();
    assert!(text.contains(&format!("id={id} addr=")), "{text}");
    assert_eq!(a.cmd(&["CLIENT", "KILL", &addr]), b"+OK\r\n");
    assert_eq!(b.read_to_end(), b"");
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", &addr]),
        b"-ERR No such client\r\n"
    );
}

#[test]
fn client_list_line_has_redis_fields_in_order() {
    let s = shoal();
    let mut c = s.conn();
    c.cmd(&["CLIENT", "SETNAME", "me"]);
    let r = c.cmd(&["CLIENT", "INFO"]);
    let text = String::from_utf8_lossy(&r).into_owned();
    let line = text.lines().nth(1).unwrap_or_default();
    let names: Vec<&str> = line
        .split(' ')
        .filter_map(|f| f.split('=').next())
        .collect();
    assert_eq!(
        names.join(" "),
        "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp"
    );
    assert!(line.contains(" name=me "), "{line}");
    assert!(line.contains(" cmd=client|info "), "{line}");
    assert!(line.contains(" qbuf=26 "), "{line}");
    assert!(text.ends_with("\n\r\n"));
}

#[test]
fn client_pause_write_delays_writes_not_reads() {
    let s = shoal();
    let mut admin = s.conn();
    let mut w = s.conn();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "500", "WRITE"]), b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(w.cmd(&["GET", "k"]), b"$-1\r\n");
    assert!(t.elapsed() < Duration::from_millis(300));
    assert_eq!(w.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    // UNPAUSE releases waiting writers at once.
    admin.cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]);
    w.send(&["SET", "k", "v2"]);
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(w.read_reply(), b"+OK\r\n");
    assert!(t.elapsed() < Duration::from_millis(1000));
}

#[test]
fn slowlog_records_slow_commands() {
    let s = shoal();
    let mut c = s.conn();
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    c.cmd(&["CLIENT", "SETNAME", "slowpoke"]);
    c.cmd(&["SLOWLOG", "RESET"]);
    c.cmd(&["PING", "hi"]);
    let r = c.cmd(&["SLOWLOG", "GET", "1"]);
    let text = String::from_utf8_lossy(&r).into_owned();
    assert!(text.starts_with("*1\r\n*6\r\n:"), "{text}");
    assert!(
        text.contains("*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n$15\r\n127.0.0.1:"),
        "{text}"
    );
    assert!(text.ends_with("$8\r\nslowpoke\r\n"), "{text}");
}

#[test]
fn latency_monitor_records_slow_commands() {
    let s = shoal();
    let mut c = s.conn();
    c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "10"]);
    c.cmd(&["DEBUG", "SLEEP", "0.05"]);
    let r = c.cmd(&["LATENCY", "LATEST"]);
    assert!(r.starts_with(b"*1\r\n*4\r\n$7\r\ncommand\r\n:"), "{r:?}");
    assert!(c
        .cmd(&["LATENCY", "HISTORY", "command"])
        .starts_with(b"*1\r\n*2\r\n:"));
    assert_eq!(c.cmd(&["LATENCY", "RESET"]), b":1\r\n");
    assert_eq!(c.cmd(&["LATENCY", "LATEST"]), b"*0\r\n");
}

#[test]
fn config_rewrite_updates_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.conf");
    std::fs::write(&path, "# keep me\nhz 10\nhz 11\n\n# tail\n").expect("write conf");
    let port = common::free_port();
    let child = std::process::Command::new(common::shoal_bin())
        .args([
            path.to_str().unwrap_or_default(),
            "--port",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let s = Server { port, child, dir };
    assert!(common::wait_until(Duration::from_secs(10), || {
        Conn::connect(port).is_ok()
    }));
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "hz",
            "20",
            "maxmemory-policy",
            "allkeys-lru"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&path).expect("read conf");
    assert!(
        text.starts_with("# keep me\nhz 20\n\n# tail\n\n# Generated by CONFIG REWRITE\n"),
        "{text}"
    );
    assert!(text.contains("\nmaxmemory-policy allkeys-lru\n"), "{text}");
    assert!(text.contains(&format!("\nport {port}\n")), "{text}");
    // A second rewrite keeps the marker and changes nothing else.
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    assert_eq!(std::fs::read_to_string(&path).expect("read conf"), text);
}

#[test]
fn config_rewrite_without_file() {
    let s = shoal();
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "REWRITE"]),
        b"-ERR The server is running without a config file\r\n"
    );
}
