//! RDB writer: header, aux fields, databases, keys, EOF + CRC64.

use std::io::{self, Write};

use super::{
    opcode, rtype, CRC64, ENC_INT16, ENC_INT32, ENC_INT8, ENC_LZF, ENC_VAL, LEN_32BIT, LEN_64BIT,
    RDB_VERSION,
};
use crate::types::{StrValue, Value};
use crate::util::numparse::parse_i64;

/// Writes an RDB stream while computing its CRC64.
pub struct RdbWriter<W: Write> {
    out: W,
    digest: crc::Digest<'static, u64>,
    compress: bool,
    checksum: bool,
}

/// Append the RDB length encoding of `n` to `buf`.
pub fn put_len(buf: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        buf.push(n as u8);
    } else if n < 1 << 14 {
        buf.push(((n >> 8) as u8) | (super::LEN_14BIT << 6));
        buf.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        buf.push(LEN_32BIT);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        buf.push(LEN_64BIT);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// Integer encoding of a string if it round-trips (rdbTryIntegerEncoding).
fn int_encoding(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() > 11 {
        return None;
    }
    let v = parse_i64(s)?;
    let enc = |t: u8| (ENC_VAL << 6) | t;
    if let Ok(b) = i8::try_from(v) {
        Some(vec![enc(ENC_INT8), b as u8])
    } else if let Ok(h) = i16::try_from(v) {
        let mut o = vec![enc(ENC_INT16)];
        o.extend_from_slice(&h.to_le_bytes());
        Some(o)
    } else if let Ok(w) = i32::try_from(v) {
        let mut o = vec![enc(ENC_INT32)];
        o.extend_from_slice(&w.to_le_bytes());
        Some(o)
    } else {
        None
    }
}

/// Append an RDB string (integer, LZF or raw encoding) to `buf`.
pub fn put_string(buf: &mut Vec<u8>, s: &[u8], compress: bool) {
    if let Some(enc) = int_encoding(s) {
        buf.extend_from_slice(&enc);
        return;
    }
    // Redis only keeps the compressed form when it saves at least 4 bytes.
    if compress && s.len() > 20 {
        if let Ok(c) = lzf::compress(s) {
            if c.len() + 4 < s.len() {
                buf.push((ENC_VAL << 6) | ENC_LZF);
                put_len(buf, c.len() as u64);
                put_len(buf, s.len() as u64);
                buf.extend_from_slice(&c);
                return;
            }
        }
    }
    put_len(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

/// Append the type byte and encoded value (the DUMP payload body).
pub fn put_value(buf: &mut Vec<u8>, v: &Value, compress: bool) {
    match v {
        Value::Str(s) => {
            buf.push(rtype::STRING);
            match s {
                StrValue::Int(n) => {
                    let mut b = itoa::Buffer::new();
                    put_string(buf, b.format(*n).as_bytes(), compress);
                }
                other => other.with_bytes(|b| put_string(buf, b, compress)),
            }
        }
        // Collections use the plain (non-listpack) encodings, which every
        // Redis since 2.x loads, including 7.0.
        Value::List(l) => {
            buf.push(rtype::LIST);
            put_len(buf, l.len() as u64);
            for it in &l.items {
                put_string(buf, it, compress);
            }
        }
        Value::Set(s) => {
            buf.push(rtype::SET);
            put_len(buf, s.len() as u64);
            s.members()
                .iter()
                .for_each(|m| put_string(buf, m, compress));
        }
        Value::Hash(h) => {
            buf.push(rtype::HASH);
            put_len(buf, h.len() as u64);
            let mut pair = |f: &[u8], v: &[u8]| {
                put_string(buf, f, compress);
                put_string(buf, v, compress);
            };
            h.iter().for_each(|(f, x)| pair(f, x));
        }
        Value::ZSet(z) => {
            buf.push(rtype::ZSET_2);
            put_len(buf, z.len() as u64);
            // Redis writes a skiplist from the highest score down, so
            // loading it back inserts at the head each time.
            for (m, score) in z.iter_range(0, z.len(), true) {
                put_string(buf, m, compress);
                buf.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
}

impl<W: Write> RdbWriter<W> {
    pub fn new(out: W, compress: bool, checksum: bool) -> Self {
        RdbWriter {
            out,
            digest: CRC64.digest(),
            compress,
            checksum,
        }
    }

    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        self.digest.update(b);
        self.out.write_all(b)
    }

    pub fn header(&mut self) -> io::Result<()> {
        self.write(format!("REDIS{RDB_VERSION:04}").as_bytes())
    }

    pub fn aux(&mut self, key: &str, value: &str) -> io::Result<()> {
        let mut b = vec![opcode::AUX];
        put_string(&mut b, key.as_bytes(), false);
        put_string(&mut b, value.as_bytes(), false);
        self.write(&b)
    }

    pub fn select_db(&mut self, db: usize, size: u64, expires: u64) -> io::Result<()> {
        let mut b = vec![opcode::SELECTDB];
        put_len(&mut b, db as u64);
        b.push(opcode::RESIZEDB);
        put_len(&mut b, size);
        put_len(&mut b, expires);
        self.write(&b)
    }

    /// One key with its optional expiry (absolute ms).
    pub fn key(&mut self, key: &[u8], value: &Value, expire_at: u64) -> io::Result<()> {
        let mut b = Vec::with_capacity(key.len() + 32);
        if expire_at != 0 {
            b.push(opcode::EXPIRETIME_MS);
            b.extend_from_slice(&expire_at.to_le_bytes());
        }
        let mut v = Vec::new();
        put_value(&mut v, value, self.compress);
        b.push(v[0]);
        put_string(&mut b, key, self.compress);
        b.extend_from_slice(&v[1..]);
        self.write(&b)
    }

    /// EOF opcode and checksum; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write(&[opcode::EOF])?;
        let crc = if self.checksum {
            self.digest.clone().finalize()
        } else {
            0
        };
        self.out.write_all(&crc.to_le_bytes())?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_check_value() {
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn lengths_and_ints() {
        let mut b = Vec::new();
        put_len(&mut b, 10);
        put_len(&mut b, 300);
        put_len(&mut b, 70000);
        assert_eq!(b, vec![10, 0x41, 0x2c, 0x80, 0, 1, 0x11, 0x70]);
        let mut s = Vec::new();
        put_string(&mut s, b"12", false);
        put_string(&mut s, b"-300", false);
        put_string(&mut s, b"012", false);
        assert_eq!(s, vec![0xc0, 12, 0xc1, 0xd4, 0xfe, 3, b'0', b'1', b'2']);
    }
}
