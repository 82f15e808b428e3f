//! Loading AOF files: an optional RDB part (a `.base.rdb` file, or the
//! preamble of an old single-file AOF) followed by RESP commands, replayed
//! through the normal execution path (`server::call`) by a fake client.
//!
//! As in Redis 7.0: `#` annotation lines are skipped; a MULTI without its
//! EXEC at the end is reverted; a file that ends in the middle of a command
//! is truncated to its last complete command when `aof-load-truncated yes`
//! and it is the last file, otherwise loading fails; any other format error
//! fails with the file name and byte offset. Never a silent partial load.

use std::sync::Arc;

use bytes::Bytes;

use crate::server::clients::ClientInfo;
use crate::server::session::Session;
use crate::server::Server;

/// Why reading the next command stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// Clean end of file.
    Eof,
    /// The file ends inside a command.
    Short,
    /// Not AOF syntax at this offset.
    Bad(usize),
}

/// What one command (or annotation) read from `data[pos..]` is.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    Cmd(Vec<Bytes>, usize),
    Annotation(usize),
}

fn line(data: &[u8], pos: usize) -> Result<(&[u8], usize), Stop> {
    if pos >= data.len() {
        return Err(Stop::Eof);
    }
    match memchr(&data[pos..]) {
        Some(i) => {
            let l = &data[pos..pos + i];
            Ok((l.strip_suffix(b"\r").unwrap_or(l), pos + i + 1))
        }
        None => Err(Stop::Short),
    }
}

fn memchr(s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b'\n')
}

fn number(s: &[u8], at: usize) -> Result<usize, Stop> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .ok_or(Stop::Bad(at))
}

/// Parse the command starting at `pos`.
pub fn next(data: &Bytes, pos: usize) -> Result<Item, Stop> {
    let (head, mut at) = line(data, pos)?;
    if head.first() == Some(&b'#') {
        return Ok(Item::Annotation(at));
    }
    if head.first() != Some(&b'*') {
        return Err(Stop::Bad(pos));
    }
    let argc = number(&head[1..], pos)?;
    if argc < 1 {
        return Err(Stop::Bad(pos));
    }
    let mut argv = Vec::with_capacity(argc.min(1024));
    for _ in 0..argc {
        let start = at;
        let (l, next) = line(data, at).map_err(|e| match e {
            Stop::Eof => Stop::Short,
            e => e,
        })?;
        if l.first() != Some(&b'$') {
            return Err(Stop::Bad(start));
        }
        let len = number(&l[1..], start)?;
        if data.len() - next < len.saturating_add(2) {
            return Err(Stop::Short);
        }
        if &data[next + len..next + len + 2] != b"\r\n" {
            return Err(Stop::Bad(next + len));
        }
        argv.push(data.slice(next..next + len));
        at = next + len + 2;
    }
    Ok(Item::Cmd(argv, at))
}

/// How a file loaded.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    Ok,
    /// Cut at this offset (aof-load-truncated).
    Truncated(usize),
}

/// Replay one file's bytes. `may_truncate`: it is the last file and
/// `aof-load-truncated yes`. Errors carry Redis's wording plus the offset.
pub fn replay(
    srv: &Arc<Server>,
    data: Bytes,
    name: &str,
    may_truncate: bool,
) -> Result<Loaded, String> {
    let mut pos = 0usize;
    if data.starts_with(b"REDIS") {
        let (_, end) = crate::persistence::save::load_bytes(srv, &data, true).map_err(|e| {
            format!("Error reading the RDB base file {name}, AOF loading aborted: {e}")
        })?;
        pos = end;
    }
    let mut sess = fake_session();
    let mut valid_up_to = pos;
    let mut multi: Option<(usize, Vec<Vec<Bytes>>)> = None;
    let stop = loop {
        match next(&data, pos) {
            Ok(Item::Annotation(n)) => pos = n,
            Ok(Item::Cmd(argv, n)) => {
                let start = pos;
                pos = n;
                srv.persist.load.at(pos);
                if argv[0].eq_ignore_ascii_case(b"multi") {
                    multi = Some((start, Vec::new()));
                } else if argv[0].eq_ignore_ascii_case(b"exec") {
                    for q in multi.take().map(|m| m.1).unwrap_or_default() {
                        run(srv, &mut sess, &q, name)?;
                    }
                } else if let Some((_, q)) = multi.as_mut() {
                    q.push(argv);
                } else {
                    run(srv, &mut sess, &argv, name)?;
                }
                if multi.is_none() {
                    valid_up_to = pos;
                }
            }
            Err(Stop::Eof) => {
                if let Some((start, _)) = multi {
                    tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
                    valid_up_to = start;
                    break Stop::Short;
                }
                break Stop::Eof;
            }
            Err(e) => break e,
        }
    };
    match stop {
        Stop::Eof => Ok(Loaded::Ok),
        Stop::Bad(at) => Err(format!(
            "Bad file format reading the append only file {name} at offset {at}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
        )),
        Stop::Short if may_truncate => {
            tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
            tracing::warn!("!!! Truncating the AOF {name} at offset {valid_up_to} !!!");
            Ok(Loaded::Truncated(valid_up_to))
        }
        Stop::Short => Err(format!(
            "Unexpected end of file reading the append only file {name} (last valid command ends at offset {valid_up_to}). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
        )),
    }
}

fn fake_session() -> Session {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let info = Arc::new(ClientInfo::new(
        u64::MAX,
        String::new(),
        String::new(),
        -1,
        crate::util::clock::now_ms(),
    ));
    Session::new(info, true, tx)
}

/// Run one command as the AOF client (the caller holds the keyspace gate
/// exclusively, hence `in_exec`).
fn run(srv: &Arc<Server>, sess: &mut Session, argv: &[Bytes], name: &str) -> Result<(), String> {
    let cmd = crate::server::dispatch::resolve(srv, argv).map_err(|_| {
        format!(
            "Unknown command '{}' reading the append only file {name}",
            String::from_utf8_lossy(&argv[0])
        )
    })?;
    let _ = crate::server::call::call(srv, sess, cmd, argv, true);
    sess.pending_block = None;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(s: &'static [u8]) -> (Vec<Vec<Bytes>>, Result<(), Stop>) {
        let data = Bytes::from_static(s);
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            match next(&data, pos) {
                Ok(Item::Cmd(a, n)) => {
                    out.push(a);
                    pos = n;
                }
                Ok(Item::Annotation(n)) => pos = n,
                Err(Stop::Eof) => return (out, Ok(())),
                Err(e) => return (out, Err(e)),
            }
        }
    }

    #[test]
    fn parses_commands_and_annotations() {
        let (c, r) = cmds(b"#TS:123\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(r, Ok(()));
        assert_eq!(c.len(), 2);
        assert_eq!(&c[0][0][..], b"SELECT");
    }

    #[test]
    fn truncation_is_short_and_garbage_is_bad_with_offset() {
        let (c, r) = cmds(b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\n");
        assert_eq!((c.len(), r), (1, Err(Stop::Short)));
        let (_, r) = cmds(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI");
        assert_eq!(r, Err(Stop::Short));
        let (_, r) = cmds(b"*1\r\n$4\r\nPING\r\nxyz\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(r, Err(Stop::Bad(14)));
        let (_, r) = cmds(b"*1\r\n$4\r\nPINGXX*1\r\n");
        assert_eq!(r, Err(Stop::Bad(12)));
        let (_, r) = cmds(b"*0\r\n");
        assert_eq!(r, Err(Stop::Bad(0)));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(data: Vec<u8>) {
            let data = Bytes::from(data);
            let mut pos = 0;
            while let Ok(item) = next(&data, pos) {
                pos = match item { Item::Cmd(_, n) | Item::Annotation(n) => n };
            }
        }
    }
}
