//! Pub/Sub across connections: delivery, patterns, RESP3 pushes that
//! CLIENT REPLY OFF does not silence.

mod common;

use common::Server;

#[test]
fn publish_reaches_channel_and_pattern_subscribers() {
    let s = Server::shoal(&[]);
    let mut sub = s.conn();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "news"]),
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    let mut psub = s.conn();
    assert_eq!(
        psub.cmd(&["PSUBSCRIBE", "n*"]),
        b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
    );
    let mut c = s.conn();
    assert_eq!(c.cmd(&["PUBLISH", "news", "hi"]), b":2\r\n");
    assert_eq!(
        sub.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        psub.read_reply(),
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    // RESP2 subscribe mode refuses other commands.
    assert!(sub
        .cmd(&["GET", "x"])
        .starts_with(b"-ERR Can't execute 'get'"));
}

#[test]
fn resp3_pushes_survive_client_reply_off() {
    let s = Server::shoal(&[]);
    let mut sub = s.conn();
    sub.cmd(&["HELLO", "3"]);
    sub.send(&["CLIENT", "REPLY", "OFF"]);
    sub.send(&["SSUBSCRIBE", "chan"]);
    assert_eq!(
        sub.read_reply(),
        b">3\r\n$10\r\nssubscribe\r\n$4\r\nchan\r\n:1\r\n"
    );
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SPUBLISH", "chan", "hello"]), b":1\r\n");
    assert_eq!(
        sub.read_reply(),
        b">3\r\n$8\r\nsmessage\r\n$4\r\nchan\r\n$5\r\nhello\r\n"
    );
}
