//! The replication backlog: a fixed-size ring holding the last
//! `repl-backlog-size` bytes of the replication stream, addressed by the
//! stream offset, so a replica that reconnects with `PSYNC <replid> <off>`
//! can be served the bytes it missed (+CONTINUE) instead of a full sync.
//!
//! Offsets follow Redis: `master_repl_offset` counts every byte ever fed;
//! the first byte held is `first_byte_offset = offset - histlen + 1`. A
//! PSYNC for offset `o` can be served when `first <= o <= offset + 1`.

/// Ring buffer of the most recent stream bytes.
#[derive(Debug)]
pub struct Backlog {
    buf: Vec<u8>,
    /// Next write position in `buf`.
    idx: usize,
    /// Valid bytes in `buf` (≤ capacity).
    histlen: usize,
    /// Offset of the last byte written (master_repl_offset when created).
    end: i64,
}

impl Backlog {
    /// An empty backlog whose next byte will have offset `offset + 1`.
    pub fn new(size: usize, offset: i64) -> Backlog {
        Backlog {
            buf: vec![0; size.max(16 * 1024)],
            idx: 0,
            histlen: 0,
            end: offset,
        }
    }

    pub fn size(&self) -> usize {
        self.buf.len()
    }

    pub fn histlen(&self) -> usize {
        self.histlen
    }

    /// `repl_backlog_first_byte_offset` as INFO shows it.
    pub fn first_byte_offset(&self) -> i64 {
        self.end - self.histlen as i64 + 1
    }

    /// Append stream bytes (the caller advances master_repl_offset too).
    pub fn feed(&mut self, mut data: &[u8]) {
        let cap = self.buf.len();
        self.end += data.len() as i64;
        if data.len() >= cap {
            // Only the tail fits.
            data = &data[data.len() - cap..];
            self.buf.copy_from_slice(data);
            self.idx = 0;
            self.histlen = cap;
            return;
        }
        let first = (cap - self.idx).min(data.len());
        self.buf[self.idx..self.idx + first].copy_from_slice(&data[..first]);
        let rest = &data[first..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.idx = (self.idx + data.len()) % cap;
        self.histlen = (self.histlen + data.len()).min(cap);
    }

    /// The bytes from stream offset `from` (inclusive) to the end, or None
    /// when `from` is not held any more (or lies in the future).
    pub fn since(&self, from: i64) -> Option<Vec<u8>> {
        let first = self.first_byte_offset();
        if from < first || from > self.end + 1 {
            return None;
        }
        let n = (self.end + 1 - from) as usize;
        let cap = self.buf.len();
        let start = (self.idx + cap - n) % cap;
        let mut out = Vec::with_capacity(n);
        let first_part = (cap - start).min(n);
        out.extend_from_slice(&self.buf[start..start + first_part]);
        out.extend_from_slice(&self.buf[..n - first_part]);
        Some(out)
    }

    /// Resize keeping as much recent history as fits (CONFIG SET
    /// repl-backlog-size).
    pub fn resize(&mut self, size: usize) {
        let size = size.max(16 * 1024);
        if size == self.buf.len() {
            return;
        }
        let keep = self.histlen.min(size);
        let tail = self.since(self.end + 1 - keep as i64).unwrap_or_default();
        let end = self.end;
        *self = Backlog::new(size, end - tail.len() as i64);
        self.feed(&tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_wraparound() {
        let mut b = Backlog::new(16 * 1024, 100);
        assert_eq!(b.first_byte_offset(), 101);
        assert_eq!(b.since(101), Some(vec![]));
        b.feed(b"hello");
        assert_eq!(b.first_byte_offset(), 101);
        assert_eq!(b.since(103).as_deref(), Some(&b"llo"[..]));
        assert_eq!(b.since(106), Some(vec![]));
        assert_eq!(b.since(107), None);
        assert_eq!(b.since(100), None);
        let big: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        b.feed(&big);
        assert_eq!(b.histlen(), 16 * 1024);
        let end = 105 + 40_000;
        assert_eq!(b.first_byte_offset(), end - 16 * 1024 + 1);
        let got = b.since(end - 9).unwrap_or_default();
        assert_eq!(got, big[big.len() - 10..].to_vec());
        // Many small writes that wrap the ring.
        for i in 0..5000u32 {
            b.feed(&i.to_le_bytes());
        }
        let got = b
            .since(b.first_byte_offset() + 16 * 1024 - 8)
            .unwrap_or_default();
        let mut want = 4998u32.to_le_bytes().to_vec();
        want.extend_from_slice(&4999u32.to_le_bytes());
        assert_eq!(got, want);
    }

    #[test]
    fn resize_keeps_recent_history() {
        let mut b = Backlog::new(32 * 1024, 0);
        let data: Vec<u8> = (0..30_000u32).map(|i| (i % 7) as u8).collect();
        b.feed(&data);
        b.resize(16 * 1024);
        assert_eq!(b.histlen(), 16 * 1024);
        assert_eq!(
            b.since(30_000 - 99).unwrap_or_default(),
            data[29_900..].to_vec()
        );
        b.resize(64 * 1024);
        assert_eq!(
            b.since(30_000 - 99).unwrap_or_default(),
            data[29_900..].to_vec()
        );
        assert_eq!(b.first_byte_offset(), 30_000 - 16 * 1024 + 1);
    }
}
