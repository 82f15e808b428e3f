//! A minimal blocking RESP2 client over an address (container IPs), with
//! connect and read timeouts so that a killed, paused or cut-off node turns
//! into an `io::Error` within a bound instead of a hung test.

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
    /// Connect within `connect`; every later read or write fails after `io`.
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
}

/// Encode a command as a RESP multibulk request.
pub fn encode<A: AsRef<[u8]>>(argv: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_len(s: &str) -> io::Result<i64> {
    s.parse().map_err(|_| bad("bad length"))
}

/// Read one reply (nested arrays included).
pub fn read_value(r: &mut impl BufRead) -> io::Result<Value> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at_checked(1).ok_or_else(|| bad("empty line"))?;
    match kind {
        "+" => Ok(Value::Status(rest.to_string())),
        "-" => Ok(Value::Error(rest.to_string())),
        ":" => Ok(Value::Int(read_len(rest)?)),
        "$" => {
            let n = read_len(rest)?;
            if n < 0 {
                return Ok(Value::Bulk(None));
            }
            let len = usize::try_from(n).map_err(|_| bad("bad bulk length"))?;
            let mut buf = vec![0u8; len + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(len);
            Ok(Value::Bulk(Some(buf)))
        }
        "*" => {
            let n = read_len(rest)?;
            if n < 0 {
                return Ok(Value::Array(None));
            }
            let items = (0..n).map(|_| read_value(r)).collect::<io::Result<_>>()?;
            Ok(Value::Array(Some(items)))
        }
        _ => Err(bad("unknown reply type")),
    }
}

/// Redis's key hash slot: CRC16/XMODEM of the key (or its `{hash tag}`).
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|s| {
            let rest = &key[s + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&e| e > 0)
                .map(|e| &rest[..e])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &b in tagged {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc & 16383
}
