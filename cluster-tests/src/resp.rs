//! A minimal blocking RESP2 client for tests: encode a command as a
//! multibulk request, read one reply into a [`Value`]. Garbage from the
//! server becomes an `io::Error`, never a panic.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One decoded RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The reply as text (status, error, integer or bulk); arrays give "".
    pub fn text(&self) -> String {
        match self {
            Value::Status(s) | Value::Error(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Value::Bulk(None) | Value::Array(_) => String::new(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_))
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The elements of an array reply (empty for anything else).
    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(Some(v)) => v,
            _ => &[],
        }
    }
}

/// A blocking connection to one node.
pub struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    pub fn connect(port: u16) -> io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    /// Connect to any address within `connect`; every later read or write
    /// fails after `io` (a killed, paused or cut-off container must turn
    /// into an error within a bound, not a hung test).
    pub fn open(addr: SocketAddr, connect: Duration, io: Duration) -> io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, connect)?;
        s.set_read_timeout(Some(io))?;
        s.set_write_timeout(Some(io))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    /// Send one command and read its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> io::Result<Value> {
        self.w.write_all(&encode(argv))?;
        read_value(&mut self.r)
    }

    /// Send one command without waiting for its reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, argv: &[A]) {
        if let Err(e) = self.w.write_all(&encode(argv)) {
            panic!("write to node: {e}");
        }
    }

    /// Read one reply (after [`Conn::send`]).
    pub fn read(&mut self) -> io::Result<Value> {
        read_value(&mut self.r)
    }

    /// Like [`Conn::call`], but I/O failures panic (test code).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Value {
        match self.call(argv) {
            Ok(v) => v,
            Err(e) => panic!("I/O error talking to node: {e}"),
        }
    }
}

/// Encode `argv` as a RESP multibulk request.
pub fn encode<A: AsRef<[u8]>>(argv: &[A]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        let a = a.as_ref();
        b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        b.extend_from_slice(a);
        b.extend_from_slice(b"\r\n");
    }
    b
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad("line without CRLF"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| bad("non-UTF-8 line"))
}

fn read_value(r: &mut impl BufRead) -> io::Result<Value> {
    let line = read_line(r)?;
    let (kind, body) = line.split_at(line.len().min(1));
    let num = || body.parse::<i64>().map_err(|_| bad("bad length"));
    Ok(match kind {
        "+" => Value::Status(body.to_string()),
        "-" => Value::Error(body.to_string()),
        ":" => Value::Int(num()?),
        "$" => {
            let n = num()?;
            if n < 0 {
                return Ok(Value::Bulk(None));
            }
            let mut buf = vec![0u8; usize::try_from(n).map_err(|_| bad("len"))? + 2];
            io::Read::read_exact(r, &mut buf)?;
            buf.truncate(buf.len() - 2);
            Value::Bulk(Some(buf))
        }
        "*" => {
            let n = num()?;
            if n < 0 {
                return Ok(Value::Array(None));
            }
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(read_value(r)?);
            }
            Value::Array(Some(v))
        }
        _ => return Err(bad("unknown reply type")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_nested_and_rejects_garbage() {
        let mut r = io::Cursor::new(b"*2\r\n$3\r\nfoo\r\n:-4\r\n".to_vec());
        let v = read_value(&mut r).unwrap();
        assert_eq!(
            v,
            Value::Array(Some(vec![
                Value::Bulk(Some(b"foo".to_vec())),
                Value::Int(-4)
            ]))
        );
        for g in [&b"?x\r\n"[..], b"$abc\r\n", b"+ok\n", b""] {
            assert!(read_value(&mut io::Cursor::new(g.to_vec())).is_err());
        }
    }
}
