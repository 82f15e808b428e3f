//! Keyspace notifications, black box: the event stream a PSUBSCRIBE *
//! client sees for a script of writes must equal redis-server's byte for
//! byte (event names, order, `del` after emptied collections, `new`), and
//! expiry (lazy and active) publishes `expired`.

mod common;

use std::time::Duration;

use common::{Conn, Server};

/// Writes covering every event family; each line is one command.
const SCRIPT: &str = "\
set foo bar
set foo bar ex 100
setex s2 10 v
getset foo x
append foo y
setrange foo 1 zz
incr n
decrby n 3
incrbyfloat f 1.5
getex foo ex 100
getex foo persist
getdel foo
mset a 1 b 2
setnx d 2
setbit bits 3 1
setbit bits 3 1
bitop or dest bits
bitop or dest nokey
expire a 100
expire a -1
persist b
rename b b2
set x 1
rename b2 x
copy x y
move y 1
del y nokey d
lpush l a b c
rpush l d
linsert l before a q
lset l 0 w
lrem l 1 w
ltrim l 0 1
lpop l
rpop l
rpush l2 a b
lmove l2 l3 left right
lmove l2 l3 left right
rpoplpush l3 l3
lmpop 2 l3 l2 left count 5
hset h a 1 b 2
hsetnx h z 1
hincrby h a 1
hincrbyfloat h b 1.5
hdel h a b z
sadd s a b c
srem s a x
smove s s3 b
spop s
sadd sa 1 2 3
sadd sb 2 3 4
sinterstore si sa sb
sunionstore su sa sb
sdiffstore sd nokey sa
zadd z 1 a 2 b 3 c
zincrby z 1 a
zrem z a
zpopmin z
zpopmax z 5
zadd z2 1 a 2 b 3 c 4 d
zremrangebyrank z2 0 0
zremrangebyscore z2 2 2
zremrangebylex z2 - +
zadd z3 1 a 2 b
zrangestore z4 z3 0 -1
zunionstore z5 1 z3
rpush sl 3 1 2
sort sl store sl2
sort nokey store sl2";

fn run(s: &Server, flags: &str) -> Vec<u8> {
    let mut c = s.conn();
    c.cmd(&["FLUSHALL"]);
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    let mut sub = s.conn();
    sub.cmd(&["PSUBSCRIBE", "*"]);
    for line in SCRIPT.lines() {
        let argv: Vec<&str> = line.split(' ').collect();
        c.cmd(&argv);
    }
    c.cmd(&["PUBLISH", "end", "x"]);
    let end = b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$3\r\nend\r\n$1\r\nx\r\n".to_vec();
    let mut all = Vec::new();
    loop {
        let m = sub.read_reply();
        if m == end {
            break;
        }
        all.extend_from_slice(&m);
    }
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    all
}

#[test]
fn event_stream_matches_redis() {
    let Some(redis) = Server::redis(&[]) else {
        eprintln!("SKIPPED: redis-server not installed");
        return;
    };
    let shoal = Server::shoal(&[]);
    for flags in ["KEA", "KEAn", "Kl", "Eg", "E$sz"] {
        let a = run(&shoal, flags);
        let b = run(&redis, flags);
        assert!(!b.is_empty() || flags.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "flags {flags}"
        );
    }
}

fn expect_event(sub: &mut Conn, event: &str, key: &str) {
    let want = format!(
        "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n${}\r\n__keyevent@0__:{event}\r\n${}\r\n{key}\r\n",
        15 + event.len(),
        key.len()
    );
    assert_eq!(String::from_utf8_lossy(&sub.read_reply()), want);
}

#[test]
fn lazy_and_active_expiry_publish_expired() {
    let s = Server::shoal(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let mut sub = s.conn();
    sub.cmd(&["PSUBSCRIBE", "*"]);
    // Lazy: active expiry off, the read finds the key expired.
    c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    c.cmd(&["PSETEX", "lazy", "1", "v"]);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(c.cmd(&["GET", "lazy"]), b"$-1\r\n");
    expect_event(&mut sub, "expired", "lazy");
    // Active: nobody reads the key; the expiry cycle reclaims it.
    c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    c.cmd(&["PSETEX", "active", "50", "v"]);
    expect_event(&mut sub, "expired", "active");
    assert_eq!(c.cmd(&["EXISTS", "active"]), b":0\r\n");
}

#[test]
fn publish_to_self_arrives_before_the_reply() {
    let s = Server::shoal(&[]);
    let mut c = s.conn();
    c.cmd(&["HELLO", "3"]);
    c.cmd(&["SUBSCRIBE", "me"]);
    c.send(&["PUBLISH", "me", "hi"]);
    assert_eq!(
        c.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$2\r\nhi\r\n"
    );
    assert_eq!(c.read_reply(), b":1\r\n");
}
