//! Test support: start real `shoal-server` / `redis-server` processes on
//! free 127.0.0.1 ports (below 32768), talk raw RESP to them, and kill
//! them by PID on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU16 = AtomicU16::new(0);

/// A port that is free right now (and whose bus port +10000 is too).
/// Each test process starts at its own offset so parallel test binaries
/// rarely race for the same port; ports stay in 12000..21000 (bus ports
/// +10000 below 32768), away from the Tcl suite's default 21079+.
pub fn free_port() -> u16 {
    let start = (std::process::id() % 500) * 20;
    loop {
        let n = u32::from(NEXT.fetch_add(1, Ordering::Relaxed));
        let p = (12000 + (start + n) % 9000) as u16;
        if TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 10000)).is_ok()
        {
            return p;
        }
    }
}

/// Path of the shoal-server binary built for these tests.
pub fn shoal_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shoal-server"))
}

/// A server process killed on drop.
pub struct Server {
    pub port: u16,
    pub child: Child,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Start shoal-server with extra `--name value` arguments.
    pub fn shoal(extra: &[&str]) -> Server {
        Server::start(&shoal_bin(), extra)
    }

    /// Start the reference redis-server (None when it is not installed).
    pub fn redis(extra: &[&str]) -> Option<Server> {
        let bin = which("redis-server")?;
        Some(Server::start(&bin, extra))
    }

    pub fn start(bin: &Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let port_s = port.to_string();
        // A leading non-flag argument is a config file and must come first.
        let (conf, extra) = match extra.first() {
            Some(f) if !f.starts_with("--") => (Some(*f), &extra[1..]),
            _ => (None, extra),
        };
        let mut args: Vec<&str> = conf.into_iter().collect();
        args.extend_from_slice(&["--port", &port_s, "--bind", "127.0.0.1", "--save", ""]);
        args.extend_from_slice(&["--appendonly", "no", "--dir"]);
        let dir_s = dir.path().display().to_string();
        args.push(&dir_s);
        args.extend_from_slice(extra);
        let child = Command::new(bin)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let mut s = Server { port, child, dir };
        s.wait_ready();
        s
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // Our process must be the one answering on the port.
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server on port {} exited at start: {status}", self.port);
            }
            // A probe that fails (refused, reset while the kernel hands
            // the port over) just means "not yet": never panic here.
            if ping_ok(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server on port {} did not start", self.port);
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.port).expect("connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One PING on a fresh connection; any I/O error counts as "not ready".
fn ping_ok(port: u16) -> bool {
    let Ok(mut c) = Conn::connect(port) else {
        return false;
    };
    if c.w.write_all(&encode(&["PING"])).is_err() {
        return false;
    }
    let mut out = Vec::new();
    read_value(&mut c.r, &mut out).is_ok() && out == b"+PONG\r\n"
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

/// A raw RESP connection.
pub struct Conn {
    pub r: BufReader<TcpStream>,
    pub w: TcpStream,
}

impl Conn {
    pub fn connect(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    /// Send a command as a multibulk request and return the raw reply bytes.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Vec<u8> {
        self.send(argv);
        self.read_reply()
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, argv: &[A]) {
        self.w.write_all(&encode(argv)).expect("write");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("write");
    }

    /// Read one complete RESP2/RESP3 reply, returned as raw bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        read_value(&mut self.r, &mut out).expect("read reply");
        out
    }

    /// Read until EOF (the server closed the connection).
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        let _ = self.r.read_to_end(&mut v);
        v
    }
}

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

fn read_line(r: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "eof",
        ));
    }
    out.extend_from_slice(&line);
    Ok(line)
}

fn read_value(r: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<()> {
    let line = read_line(r, out)?;
    let body = std::str::from_utf8(&line[1..line.len().saturating_sub(2)]).unwrap_or("0");
    match line[0] {
        b'$' | b'=' | b'!' => {
            let n: i64 = body.parse().unwrap_or(-1);
            if n >= 0 {
                let mut buf = vec![0u8; n as usize + 2];
                r.read_exact(&mut buf)?;
                out.extend_from_slice(&buf);
            }
        }
        b'*' | b'~' | b'>' => {
            let n: i64 = body.parse().unwrap_or(-1);
            for _ in 0..n.max(0) {
                read_value(r, out)?;
            }
        }
        b'%' | b'|' => {
            let n: i64 = body.parse().unwrap_or(0);
            for _ in 0..n.max(0) * 2 {
                read_value(r, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Poll `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The AOF's current incremental file (the manifest's last `type i` line).
pub fn aof_incr_file(dir: &Path) -> PathBuf {
    let m = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    let name = m
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .expect("incr line")
        .to_string();
    dir.join("appendonlydir").join(name)
}
