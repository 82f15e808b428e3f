//! MIGRATE (Redis's cluster.c): DUMP the keys, send them to another
//! instance as RESTORE (RESTORE-ASKING in cluster mode) over a blocking
//! connection with the given timeout, then delete them here unless COPY.
//! The reply texts, the single retry after a socket error and the DEL
//! propagated for the keys the target acknowledged follow Redis 7.0.
//!
//! The source keys stay locked while the target answers, so nothing can
//! change them between the DUMP and the DEL (Redis blocks the whole server
//! for the same reason). The blocking socket I/O runs under
//! `block_in_place`, so the async worker is handed off, not stalled.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::persistence::rdb::payload;
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[("migrate", migrate)];

/// Redis reads each reply line into a 1024-byte buffer.
const LINE_MAX: usize = 1023;
/// Cached connections: at most this many, closed after this idle time
/// (MIGRATE_SOCKET_CACHE_ITEMS / _TTL).
const CACHE_ITEMS: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);

/// A connection kept for the next MIGRATE to the same `host:port`, with
/// the db it has selected (-1: unknown, SELECT again).
struct Cached {
    conn: BufReader<TcpStream>,
    last_dbid: i64,
    last_use: Instant,
}

static CACHE: LazyLock<Mutex<HashMap<Vec<u8>, Cached>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Close idle cached connections; returns how many remain (INFO's
/// migrate_cached_sockets).
pub fn cached_sockets() -> usize {
    let mut c = CACHE.lock();
    c.retain(|_, s| s.last_use.elapsed() <= CACHE_TTL);
    c.len()
}

fn cache_put(name: Vec<u8>, conn: BufReader<TcpStream>, last_dbid: i64) {
    let mut c = CACHE.lock();
    if c.len() >= CACHE_ITEMS && !c.contains_key(&name) {
        if let Some(k) = c.keys().next().cloned() {
            c.remove(&k);
        }
    }
    let last_use = Instant::now();
    c.insert(
        name,
        Cached {
            conn,
            last_dbid,
            last_use,
        },
    );
}

struct Opts {
    copy: bool,
    replace: bool,
    auth: Option<(Option<Bytes>, Bytes)>,
    /// Index of the first key and how many keys.
    first_key: usize,
}

fn parse_opts(argv: &[Bytes]) -> CmdResult<Opts> {
    let mut o = Opts {
        copy: false,
        replace: false,
        auth: None,
        first_key: 3,
    };
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let a = &argv[j];
        if args::is(a, "COPY") {
            o.copy = true;
        } else if args::is(a, "REPLACE") {
            o.replace = true;
        } else if args::is(a, "AUTH") {
            if more < 1 {
                return Err(RedisError::Syntax);
            }
            o.auth = Some((None, argv[j + 1].clone()));
            j += 1;
        } else if args::is(a, "AUTH2") {
            if more < 2 {
                return Err(RedisError::Syntax);
            }
            o.auth = Some((Some(argv[j + 1].clone()), argv[j + 2].clone()));
            j += 2;
        } else if args::is(a, "KEYS") {
            if !argv[3].is_empty() {
                return Err(RedisError::err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            o.first_key = j + 1;
            return Ok(o);
        } else {
            return Err(RedisError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Append one RESP command to `buf`.
fn resp(buf: &mut Vec<u8>, parts: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for p in parts {
        buf.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        buf.extend_from_slice(p);
        buf.extend_from_slice(b"\r\n");
    }
}

/// How a transfer failed on the socket.
enum SockErr {
    Connect,
    Write,
    /// Read failure; `timeout` forbids the retry, `acked` keys were
    /// confirmed before it happened.
    Read {
        timeout: bool,
    },
}

/// What the target answered.
struct Outcome {
    /// Per key: true when its RESTORE succeeded.
    acked: Vec<bool>,
    /// First error line from the target (without the leading '-').
    error: Option<String>,
    /// A read failed after `acked.len()` replies.
    read_failed: Option<bool>,
}

struct Transfer<'a> {
    host: &'a [u8],
    port: &'a [u8],
    timeout: Duration,
    /// AUTH command (may be empty), the SELECT command, the RESTOREs.
    auth: &'a [u8],
    select: &'a [u8],
    restores: &'a [u8],
    dbid: i64,
    keys: usize,
}

impl Transfer<'_> {
    fn cache_name(&self) -> Vec<u8> {
        [self.host, b":", self.port].concat()
    }
}

fn connect(t: &Transfer) -> Result<TcpStream, SockErr> {
    let host = std::str::from_utf8(t.host).map_err(|_| SockErr::Connect)?;
    let port: u16 = std::str::from_utf8(t.port)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or(SockErr::Connect)?;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|_| SockErr::Connect)?;
    let mut err = SockErr::Connect;
    for a in addrs {
        match TcpStream::connect_timeout(&a, t.timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(t.timeout));
                let _ = s.set_write_timeout(Some(t.timeout));
                return Ok(s);
            }
            // Redis connects without blocking and only notices a refused
            // connection when it writes the request.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => err = SockErr::Write,
            Err(_) => {}
        }
    }
    Err(err)
}

fn read_line(r: &mut BufReader<TcpStream>) -> Result<String, bool> {
    let mut line = Vec::new();
    match r.read_until(b'\n', &mut line) {
        Ok(0) => Err(false),
        Ok(_) => {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            line.truncate(LINE_MAX);
            Ok(String::from_utf8_lossy(&line).into_owned())
        }
        Err(e) => Err(matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
    }
}

/// One attempt: reuse or open a connection, send everything, read the
/// replies. The connection goes back to the cache unless a socket error
/// happened.
fn attempt(t: &Transfer) -> Result<Outcome, SockErr> {
    let name = t.cache_name();
    let cached = CACHE.lock().remove(&name);
    let (mut r, last_dbid) = match cached {
        Some(c) => (c.conn, c.last_dbid),
        None => (BufReader::new(connect(t)?), -1),
    };
    let select = last_dbid != t.dbid;
    let mut req = t.auth.to_vec();
    if select {
        req.extend_from_slice(t.select);
    }
    req.extend_from_slice(t.restores);
    r.get_mut().write_all(&req).map_err(|_| SockErr::Write)?;
    let mut pre_error = None;
    let auth = !t.auth.is_empty();
    for _ in 0..(usize::from(auth) + usize::from(select)) {
        let line = read_line(&mut r).map_err(|timeout| SockErr::Read { timeout })?;
        if pre_error.is_none() {
            pre_error = line.strip_prefix('-').map(str::to_string);
        }
    }
    let mut out = Outcome {
        acked: Vec::new(),
        error: None,
        read_failed: None,
    };
    for _ in 0..t.keys {
        let line = match read_line(&mut r) {
            Ok(l) => l,
            Err(timeout) => {
                out.read_failed = Some(timeout);
                return Ok(out);
            }
        };
        let err = pre_error
            .clone()
            .or_else(|| line.strip_prefix('-').map(str::to_string));
        if out.error.is_none() {
            out.error = err.clone();
        }
        out.acked.push(err.is_none());
    }
    // After an error from the target its selected db is not known.
    let db = if out.error.is_some() { -1 } else { t.dbid };
    cache_put(name, r, db);
    Ok(out)
}

/// Redis retries once after a socket error that is not a timeout, as long
/// as no reply has been read (a cached connection may just have closed).
fn transfer(t: &Transfer) -> Result<Outcome, SockErr> {
    cached_sockets();
    match attempt(t) {
        Err(SockErr::Read { timeout: false }) | Err(SockErr::Write) => attempt(t),
        Ok(o) if o.acked.is_empty() && o.read_failed == Some(false) => attempt(t),
        other => other,
    }
}

fn io_error(e: SockErr) -> RedisError {
    RedisError::raw(match e {
        SockErr::Connect => "IOERR error or timeout connecting to the client",
        SockErr::Write => "IOERR error or timeout writing to target instance",
        SockErr::Read { .. } => "IOERR error or timeout reading to target instance",
    })
}

fn migrate(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = parse_opts(argv)?;
    let timeout = args::int(&argv[5])?;
    let dbid = args::int(&argv[4])?;
    let timeout = if timeout <= 0 { 1000 } else { timeout as u64 };
    let keys: Vec<Bytes> = if o.first_key == 3 {
        vec![argv[3].clone()]
    } else {
        argv[o.first_key..].to_vec()
    };
    let compress = ctx.srv.config.get_bool("rdbcompression");
    let restore: &[u8] = if ctx.srv.config.get_bool("cluster-enabled") {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let db = ctx.db();
    let mut g = ctx.lock(&db, &keys);
    let now = g.now();

    let mut auth = Vec::new();
    if let Some((user, pass)) = &o.auth {
        match user {
            Some(u) => resp(&mut auth, &[b"AUTH", u, pass]),
            None => resp(&mut auth, &[b"AUTH", pass]),
        }
    }
    let mut select = Vec::new();
    resp(&mut select, &[b"SELECT", dbid.to_string().as_bytes()]);
    let mut restores = Vec::new();
    let mut sent = Vec::new();
    for k in &keys {
        let Some(e) = g.get(k) else { continue };
        let ttl = if e.expire_at == 0 {
            0
        } else {
            e.expire_at.saturating_sub(now).max(1)
        };
        let p = payload::dump(&e.value, compress);
        let ttl = ttl.to_string();
        let mut parts: Vec<&[u8]> = vec![restore, k, ttl.as_bytes(), &p];
        if o.replace {
            parts.push(b"REPLACE");
        }
        resp(&mut restores, &parts);
        sent.push(k.clone());
    }
    if sent.is_empty() {
        return Ok(Reply::Status("NOKEY"));
    }
    let t = Transfer {
        host: &argv[1],
        port: &argv[2],
        timeout: Duration::from_millis(timeout),
        auth: &auth,
        select: &select,
        restores: &restores,
        dbid,
        keys: sent.len(),
    };
    let out = crate::util::blocking::off_worker(|| transfer(&t)).map_err(io_error)?;
    if !o.copy {
        let mut del = vec![Bytes::from_static(b"DEL")];
        for (k, _) in sent.iter().zip(&out.acked).filter(|(_, ok)| **ok) {
            g.remove(k);
            g.notify(crate::notify::class::GENERIC, "del", k);
            del.push(k.clone());
        }
        if del.len() > 1 {
            g.propagate(del);
        }
    }
    if let Some(e) = out.error {
        return Err(RedisError::err(format!(
            "Target instance replied with error: {e}"
        )));
    }
    if let Some(timeout) = out.read_failed {
        return Err(io_error(SockErr::Read { timeout }));
    }
    Ok(Reply::OK)
}
