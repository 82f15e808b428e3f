//! Sorted sets through RDB: shoal → shoal, shoal → redis-server, and a
//! redis-server file holding a large (skiplist-encoded) set → shoal.

mod common;

use common::Server;

fn fill(c: &mut common::Conn) {
    c.cmd(&[
        "ZADD", "small", "1", "a", "0.1", "b", "-inf", "c", "1e20", "d",
    ]);
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..300 {
        args.push(format!("{}", f64::from(i) / 3.0));
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.cmd(&refs);
}

fn dump(c: &mut common::Conn) -> (Vec<u8>, Vec<u8>) {
    (
        c.cmd(&["ZRANGE", "small", "0", "-1", "WITHSCORES"]),
        c.cmd(&["ZRANGE", "big", "0", "-1", "WITHSCORES"]),
    )
}

#[test]
fn zsets_survive_save_and_load() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().to_str().expect("utf8");
    let bin = common::shoal_bin();
    let before = {
        let s = Server::start(&bin, &["--dir", dir]);
        let mut c = s.conn();
        fill(&mut c);
        assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
        dump(&mut c)
    };
    assert!(before.1.len() > 3000);
    {
        let s = Server::start(&bin, &["--dir", dir]);
        let mut c = s.conn();
        assert_eq!(dump(&mut c), before);
    }
    let Some(redis) = Server::redis(&["--dir", dir]) else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    let mut r = redis.conn();
    assert_eq!(dump(&mut r), before);
}

#[test]
fn redis_skiplist_file_loads() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().to_str().expect("utf8");
    let Some(redis) = Server::redis(&["--dir", dir]) else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    let want = {
        let mut r = redis.conn();
        r.cmd(&["FLUSHALL"]);
        let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
        for i in 0..300 {
            args.push(format!("{}", f64::from(i) * 1.25));
            args.push(format!("m{i}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        r.cmd(&refs);
        assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
        r.cmd(&["ZRANGE", "big", "0", "-1", "WITHSCORES"])
    };
    drop(redis);
    let s = Server::start(&common::shoal_bin(), &["--dir", dir]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["ZRANGE", "big", "0", "-1", "WITHSCORES"]), want);
    assert_eq!(c.cmd(&["ZRANK", "big", "m299"]), b":299\r\n");
}
