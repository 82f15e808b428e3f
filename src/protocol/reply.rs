//! Hot path: the reply model and its RESP2/RESP3 encoder.
//!
//! Handlers build a `Reply`; the connection encodes it for the client's
//! protocol version. RESP3-only shapes degrade the way Redis degrades them
//! for RESP2 clients (maps become flat arrays, doubles become bulk strings,
//! null becomes `$-1` or `*-1`).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::RedisError;
use crate::util::numfmt;

/// Protocol version negotiated with HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RespVersion {
    #[default]
    Resp2,
    Resp3,
}

/// A reply value.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`-style status.
    Status(&'static str),
    /// A status built at run time (e.g. TYPE's reply).
    StatusOwned(String),
    Error(RedisError),
    Int(i64),
    Bulk(Bytes),
    /// Null bulk (`$-1` / `_`).
    Nil,
    /// Null array (`*-1` / `_`).
    NilArray,
    Array(Vec<Reply>),
    /// Key/value pairs: `%` in RESP3, flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// `~` in RESP3, array in RESP2.
    Set(Vec<Reply>),
    /// `,` in RESP3, bulk string in RESP2 (formatted as Redis's %.17g).
    Double(f64),
    /// `#t`/`#f` in RESP3, integer 1/0 in RESP2.
    Bool(bool),
    /// `=` verbatim string in RESP3 (format `txt`), bulk in RESP2.
    Verbatim(Bytes),
    /// `>` push in RESP3, array in RESP2.
    Push(Vec<Reply>),
    /// Pre-encoded bytes written as they are (used by MONITOR and friends).
    Raw(Bytes),
    /// Several top-level replies for one command (SUBSCRIBE a b c).
    Multi(Vec<Reply>),
}

impl Reply {
    pub const OK: Reply = Reply::Status("OK");

    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    pub fn bulk_str(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn bulk_int(n: i64) -> Reply {
        let mut buf = itoa::Buffer::new();
        Reply::Bulk(Bytes::copy_from_slice(buf.format(n).as_bytes()))
    }

    /// An array of bulk strings.
    pub fn bulks<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        Reply::Array(items.into_iter().map(|b| Reply::Bulk(b.into())).collect())
    }

    /// An empty array.
    pub fn empty_array() -> Reply {
        Reply::Array(Vec::new())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Append the encoding of this reply to `out`.
    pub fn encode(&self, ver: RespVersion, out: &mut BytesMut) {
        let r3 = ver == RespVersion::Resp3;
        match self {
            Reply::Status(s) => put_line(out, b'+', s.as_bytes()),
            Reply::StatusOwned(s) => put_line(out, b'+', s.as_bytes()),
            Reply::Error(e) => {
                let text = e.to_string();
                put_line(out, b'-', sanitize_error(&text).as_bytes())
            }
            Reply::Int(n) => put_int(out, b':', *n),
            Reply::Bulk(b) => put_bulk(out, b),
            Reply::Nil if r3 => out.put_slice(b"_\r\n"),
            Reply::Nil => out.put_slice(b"$-1\r\n"),
            Reply::NilArray if r3 => out.put_slice(b"_\r\n"),
            Reply::NilArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => put_items(out, b'*', items, ver),
            Reply::Set(items) => put_items(out, if r3 { b'~' } else { b'*' }, items, ver),
            Reply::Push(items) => put_items(out, if r3 { b'>' } else { b'*' }, items, ver),
            Reply::Map(pairs) => {
                if r3 {
                    put_int(out, b'%', pairs.len() as i64);
                } else {
                    put_int(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(ver, out);
                    v.encode(ver, out);
                }
            }
            Reply::Double(d) => {
                let s = numfmt::fmt_double_reply(*d);
                if r3 {
                    put_line(out, b',', s.as_bytes());
                } else {
                    put_bulk(out, s.as_bytes());
                }
            }
            Reply::Bool(b) if r3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Bool(b) => put_int(out, b':', i64::from(*b)),
            Reply::Verbatim(b) if r3 => {
                put_int(out, b'=', b.len() as i64 + 4);
                out.put_slice(b"txt:");
                out.put_slice(b);
                out.put_slice(b"\r\n");
            }
            Reply::Verbatim(b) => put_bulk(out, b),
            Reply::Raw(b) => out.put_slice(b),
            Reply::Multi(items) => items.iter().for_each(|r| r.encode(ver, out)),
        }
    }
}

impl From<RedisError> for Reply {
    fn from(e: RedisError) -> Reply {
        Reply::Error(e)
    }
}

/// Redis replaces newlines in error texts with spaces so the reply stays
/// one line (addReplyErrorLength).
fn sanitize_error(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        std::borrow::Cow::Owned(text.replace(['\r', '\n'], " "))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

fn put_line(out: &mut BytesMut, tag: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(tag);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn put_int(out: &mut BytesMut, tag: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    put_line(out, tag, buf.format(n).as_bytes());
}

fn put_bulk(out: &mut BytesMut, b: &[u8]) {
    put_int(out, b'$', b.len() as i64);
    out.reserve(b.len() + 2);
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn put_items(out: &mut BytesMut, tag: u8, items: &[Reply], ver: RespVersion) {
    put_int(out, tag, items.len() as i64);
    for it in items {
        it.encode(ver, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, v: RespVersion) -> Vec<u8> {
        let mut b = BytesMut::new();
        r.encode(v, &mut b);
        b.to_vec()
    }

    #[test]
    fn shapes() {
        use RespVersion::*;
        assert_eq!(enc(&Reply::OK, Resp2), b"+OK\r\n");
        assert_eq!(enc(&Reply::Nil, Resp2), b"$-1\r\n");
        assert_eq!(enc(&Reply::Nil, Resp3), b"_\r\n");
        assert_eq!(enc(&Reply::Int(-3), Resp2), b":-3\r\n");
        assert_eq!(enc(&Reply::bulk_str("hi"), Resp2), b"$2\r\nhi\r\n");
        let m = Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]);
        assert_eq!(enc(&m, Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Resp2), b"$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Resp3), b",1.5\r\n");
        assert_eq!(
            enc(&Reply::Error(RedisError::Syntax), Resp2),
            b"-ERR syntax error\r\n"
        );
    }
}
