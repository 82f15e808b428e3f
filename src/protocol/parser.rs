//! Hot path: resumable request parser (RESP multibulk and inline).
//!
//! Mirrors Redis's `processMultibulkBuffer`/`processInlineBuffer`: progress
//! through a partially received multibulk request is remembered between
//! reads, so a large bulk is not rescanned on every read. A complete
//! request is split off the read buffer once and its arguments are `Bytes`
//! slices of that one allocation (zero copy).
//!
//! Error texts are the ones Redis sends after `-ERR Protocol error: `.

use bytes::{Bytes, BytesMut};

use crate::util::split::split_args;

/// Longest inline request or length line Redis accepts (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: i64,
    /// Clients that must still authenticate get tiny limits (Redis 7.0).
    pub authenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// A protocol violation. `Display` is the text after `Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("too big inline request")]
    TooBigInline,
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("too big mbulk count string")]
    TooBigMbulkCount,
    #[error("invalid multibulk length")]
    InvalidMultibulkLen,
    #[error("unauthenticated multibulk length")]
    UnauthMultibulkLen,
    #[error("too big bulk count string")]
    TooBigBulkCount,
    #[error("expected '$', got '{0}'")]
    ExpectedDollar(char),
    #[error("invalid bulk length")]
    InvalidBulkLen,
    #[error("unauthenticated bulk length")]
    UnauthBulkLen,
}

/// Parser state kept between reads for one connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Number of arguments announced by `*<n>`; 0 when not inside a multibulk.
    argc: usize,
    /// Byte offset (into the read buffer) where parsing resumes.
    pos: usize,
    /// (start, end) of each argument parsed so far.
    spans: Vec<(usize, usize)>,
    /// Length of the bulk whose header was read but whose body is missing.
    pending_bulk: Option<usize>,
}

/// A parsed request: its arguments (empty for a blank inline line).
pub type Argv = Vec<Bytes>;

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a multibulk request is half received.
    pub fn in_progress(&self) -> bool {
        self.argc > 0
    }

    /// Try to take one complete request off the front of `buf`.
    /// `Ok(None)` means more bytes are needed. An empty `Argv` is a request
    /// Redis silently ignores (blank inline line, `*0`, `*-1`).
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<Argv>, ProtocolError> {
        let mut argv = Vec::new();
        Ok(self.parse_into(buf, limits, &mut argv)?.then_some(argv))
    }

    /// `parse` into a caller-owned vector (cleared first), so the
    /// connection reuses one allocation for every request. Returns true
    /// when a request (possibly empty) was taken off `buf`.
    pub fn parse_into(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
        argv: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        argv.clear();
        if self.argc == 0 {
            if buf.is_empty() {
                return Ok(false);
            }
            if buf[0] != b'*' {
                return parse_inline(buf, argv);
            }
            match self.read_count(buf, limits)? {
                None => return Ok(false),
                Some(0) => return Ok(true),
                Some(_) => {}
            }
        }
        while self.spans.len() < self.argc {
            let len = match self.pending_bulk {
                Some(len) => len,
                None => match self.read_bulk_header(buf, limits)? {
                    Some(len) => len,
                    None => return Ok(false),
                },
            };
            if buf.len() < self.pos + len + 2 {
                self.pending_bulk = Some(len);
                return Ok(false);
            }
            self.spans.push((self.pos, self.pos + len));
            self.pos += len + 2;
            self.pending_bulk = None;
        }
        let frame = buf.split_to(self.pos).freeze();
        argv.extend(self.spans.iter().map(|&(s, e)| frame.slice(s..e)));
        self.reset();
        Ok(true)
    }

    fn reset(&mut self) {
        self.argc = 0;
        self.pos = 0;
        self.spans.clear();
        self.pending_bulk = None;
    }

    /// Read `*<n>\r\n`. Returns the count (0 for an ignorable request).
    fn read_count(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<usize>, ProtocolError> {
        let (n, next) = match small_header(buf, 0) {
            Some(h) => h,
            None => {
                let Some(line_end) = find_cr(buf, 0) else {
                    if buf.len() > INLINE_MAX {
                        return Err(ProtocolError::TooBigMbulkCount);
                    }
                    return Ok(None);
                };
                if line_end + 2 > buf.len() {
                    return Ok(None);
                }
                let n = parse_i64(&buf[1..line_end]).ok_or(ProtocolError::InvalidMultibulkLen)?;
                (n, line_end + 2)
            }
        };
        if n > i64::from(i32::MAX) {
            return Err(ProtocolError::InvalidMultibulkLen);
        }
        if !limits.authenticated && n > 10 {
            return Err(ProtocolError::UnauthMultibulkLen);
        }
        if n <= 0 {
            let _ = buf.split_to(next);
            return Ok(Some(0));
        }
        self.argc = n as usize;
        self.pos = next;
        // Do not trust the announced count for preallocation; keep the
        // span vector across requests unless a huge one inflated it.
        if self.spans.capacity() > 4096 {
            self.spans = Vec::new();
        }
        self.spans.reserve(self.argc.min(1024));
        Ok(Some(self.argc))
    }

    /// Read `$<len>\r\n` at `self.pos`.
    fn read_bulk_header(
        &mut self,
        buf: &BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<usize>, ProtocolError> {
        let fast = match buf.get(self.pos) {
            Some(b'$') => small_header(buf, self.pos),
            _ => None,
        };
        let (n, next) = match fast {
            Some(h) => h,
            None => {
                let Some(line_end) = find_cr(buf, self.pos) else {
                    if buf.len() - self.pos > INLINE_MAX {
                        return Err(ProtocolError::TooBigBulkCount);
                    }
                    return Ok(None);
                };
                if line_end + 2 > buf.len() {
                    return Ok(None);
                }
                if buf[self.pos] != b'$' {
                    return Err(ProtocolError::ExpectedDollar(buf[self.pos] as char));
                }
                let n =
                    parse_i64(&buf[self.pos + 1..line_end]).ok_or(ProtocolError::InvalidBulkLen)?;
                (n, line_end + 2)
            }
        };
        if n < 0 || n > limits.max_bulk_len {
            return Err(ProtocolError::InvalidBulkLen);
        }
        if !limits.authenticated && n > 16384 {
            return Err(ProtocolError::UnauthBulkLen);
        }
        self.pos = next;
        Ok(Some(n as usize))
    }
}

/// Fast path for a header line `<type byte><digits>\r` followed by one
/// more byte, with at most 9 digits and no leading zero: the shape every
/// client sends. Returns the number and the offset after the line; `None`
/// sends the caller to the general path, which also produces the errors.
fn small_header(buf: &[u8], at: usize) -> Option<(i64, usize)> {
    let digits = buf.get(at + 1..)?;
    let mut n: i64 = 0;
    for (i, &c) in digits.iter().enumerate().take(10) {
        if c.is_ascii_digit() {
            n = n * 10 + i64::from(c - b'0');
            continue;
        }
        let leading_zero = i > 1 && digits[0] == b'0';
        if c == b'\r' && i > 0 && !leading_zero && digits.len() > i + 1 {
            return Some((n, at + 1 + i + 2));
        }
        return None;
    }
    None
}

fn find_cr(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&c| c == b'\r')
        .map(|i| i + from)
}

/// Parse an inline request (`SET a b\r\n`, telnet style).
fn parse_inline(buf: &mut BytesMut, argv: &mut Vec<Bytes>) -> Result<bool, ProtocolError> {
    let Some(nl) = buf.iter().position(|&c| c == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(false);
    };
    let line = buf.split_to(nl + 1);
    let mut body = &line[..nl];
    if body.last() == Some(&b'\r') {
        body = &body[..body.len() - 1];
    }
    let args = split_args(body).ok_or(ProtocolError::UnbalancedQuotes)?;
    argv.extend(args.into_iter().map(Bytes::from));
    Ok(true)
}

/// Strict decimal i64 parse, as Redis's string2ll (no spaces, no '+').
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    crate::util::numparse::parse_i64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Argv>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(a) = p.parse(&mut buf, ParseLimits::default())? {
            out.push(a);
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let r = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], vec![Bytes::from("GET"), Bytes::from("a")]);
        assert_eq!(r[1], vec![Bytes::from("PING")]);
    }

    #[test]
    fn resumable_byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(a) = p.parse(&mut buf, ParseLimits::default()).unwrap() {
                got = Some(a);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("value"));
        assert!(buf.is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_all(b"*x\r\n"),
            Err(ProtocolError::InvalidMultibulkLen)
        );
        assert_eq!(
            parse_all(b"*1\r\nfoo\r\n"),
            Err(ProtocolError::ExpectedDollar('f'))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-2\r\n"),
            Err(ProtocolError::InvalidBulkLen)
        );
        assert_eq!(
            parse_all(b"\"abc\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(parse_all(b"*-1\r\n").unwrap(), vec![Vec::<Bytes>::new()]);
    }

    #[test]
    fn header_fast_path_agrees_with_general_rules() {
        for (input, want) in [
            (&b"$3\r\n"[..], Some((3, 4))),
            (b"$0\r\n", Some((0, 4))),
            (b"$123456789\r\n", Some((123456789, 12))),
            (b"$03\r\n", None),
            (b"$\r\n", None),
            (b"$3\r", None),
            (b"$-1\r\n", None),
            (b"$1234567890\r\n", None),
        ] {
            assert_eq!(small_header(input, 0), want, "{input:?}");
        }
        // Leading zeros are refused either way, as Redis's string2ll does.
        assert_eq!(
            parse_all(b"*1\r\n$01\r\na\r\n"),
            Err(ProtocolError::InvalidBulkLen)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data: Vec<u8>) {
            let _ = parse_all(&data);
        }
    }
}
