//! RDB reader over an in-memory byte slice. Every length is bounds-checked
//! against the remaining input, so garbage yields `RdbError`, never a panic
//! or a huge allocation.

use super::{build, decode_compact, Limits};
use super::{
    opcode, rtype, RdbError, CRC64, ENC_INT16, ENC_INT32, ENC_INT8, ENC_LZF, LEN_32BIT, LEN_64BIT,
    RDB_VERSION,
};
use crate::types::{StrValue, Value};

/// One key read from the file.
#[derive(Debug)]
pub struct Item {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute expiry in ms, 0 = none.
    pub expire_at: u64,
    /// Offset just past this key in the file (load progress).
    pub end: usize,
}

/// What else the file said.
#[derive(Debug, Default)]
pub struct Meta {
    pub version: u32,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Offset just past the RDB (EOF opcode and checksum): an AOF with an
    /// RDB preamble continues there.
    pub end: usize,
}

pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    limits: Limits,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            limits: Limits::default(),
        }
    }

    /// A reader that builds collections with the given size thresholds.
    pub fn with_limits(data: &'a [u8], limits: Limits) -> Self {
        Reader {
            data,
            pos: 0,
            limits,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        let end = self.pos.checked_add(n).ok_or(RdbError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(RdbError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// A length, or `Err(Some(enc))` style special encodings via `len_or_enc`.
    pub fn length(&mut self) -> Result<u64, RdbError> {
        match self.len_or_enc()? {
            (n, false) => Ok(n),
            (t, true) => Err(RdbError::UnknownType(t as u8)),
        }
    }

    /// (value, is_special_encoding)
    fn len_or_enc(&mut self) -> Result<(u64, bool), RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => (u64::from(b & 0x3f), false),
            1 => (u64::from(b & 0x3f) << 8 | u64::from(self.u8()?), false),
            3 => (u64::from(b & 0x3f), true),
            _ => match b {
                LEN_32BIT => (u64::from(u32::from_be_bytes(self.array()?)), false),
                LEN_64BIT => (u64::from_be_bytes(self.array()?), false),
                other => return Err(RdbError::UnknownType(other)),
            },
        })
    }

    /// A string in any of its encodings.
    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        let (n, special) = self.len_or_enc()?;
        if !special {
            let n = self.checked_len(n)?;
            return Ok(self.take(n)?.to_vec());
        }
        let v: i64 = match n as u8 {
            ENC_INT8 => i64::from(self.u8()? as i8),
            ENC_INT16 => i64::from(i16::from_le_bytes(self.array()?)),
            ENC_INT32 => i64::from(i32::from_le_bytes(self.array()?)),
            ENC_LZF => {
                let clen = self.length()?;
                let clen = self.checked_len(clen)?;
                let len = self.length()?;
                // Decompressed size is bounded by what LZF can expand to.
                if len > (clen as u64).saturating_mul(256) + 16 {
                    return Err(RdbError::BadLength(len));
                }
                let c = self.take(clen)?;
                return lzf::decompress(c, len as usize).map_err(|_| RdbError::BadLzf);
            }
            other => return Err(RdbError::UnknownType(other)),
        };
        Ok(v.to_string().into_bytes())
    }

    fn checked_len(&self, n: u64) -> Result<usize, RdbError> {
        if n > (self.data.len() - self.pos) as u64 {
            return Err(RdbError::Truncated);
        }
        Ok(n as usize)
    }
}

/// Decode a value of type `t` (the body of a key, or of a DUMP payload).
pub fn read_value(r: &mut Reader, t: u8) -> Result<Value, RdbError> {
    let lim = r.limits();
    match t {
        rtype::STRING => Ok(Value::Str(StrValue::from_bytes(&r.string()?))),
        rtype::LIST => {
            let n = r.length()?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(r.string()?);
            }
            build::list(items)
        }
        rtype::SET => {
            let n = r.length()?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(r.string()?);
            }
            build::set(items, &lim)
        }
        rtype::HASH => {
            let n = r.length()?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                let f = r.string()?;
                pairs.push((f, r.string()?));
            }
            build::hash(pairs, &lim)
        }
        rtype::ZSET | rtype::ZSET_2 => {
            let n = r.length()?;
            let mut v = Vec::new();
            for _ in 0..n {
                let m = r.string()?;
                let score = if t == rtype::ZSET_2 {
                    f64::from_le_bytes(r.array()?)
                } else {
                    read_text_double(r)?
                };
                v.push((m, score));
            }
            build::zset(v, &lim)
        }
        other => decode_compact::read_compact(r, other),
    }
}

/// Old-style zset score: a length byte then ASCII (253/254/255 = nan/+inf/-inf).
fn read_text_double(r: &mut Reader) -> Result<f64, RdbError> {
    let len = r.u8()?;
    Ok(match len {
        253 => f64::NAN,
        254 => f64::INFINITY,
        255 => f64::NEG_INFINITY,
        n => std::str::from_utf8(r.take(usize::from(n))?)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(RdbError::BadLength(u64::from(n)))?,
    })
}

/// Parse a whole RDB file, calling `on_item` for every key.
pub fn load(
    data: &[u8],
    on_item: impl FnMut(Item) -> Result<(), RdbError>,
) -> Result<Meta, RdbError> {
    load_with(data, Limits::default(), on_item)
}

/// `load` with the server's encoding thresholds.
pub fn load_with(
    data: &[u8],
    limits: Limits,
    mut on_item: impl FnMut(Item) -> Result<(), RdbError>,
) -> Result<Meta, RdbError> {
    let mut r = Reader::with_limits(data, limits);
    if r.take(5)? != b"REDIS" {
        return Err(RdbError::BadSignature);
    }
    let ver = std::str::from_utf8(r.take(4)?)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or(RdbError::BadSignature)?;
    if !(1..=RDB_VERSION).contains(&ver) {
        return Err(RdbError::BadVersion(ver));
    }
    let mut meta = Meta {
        version: ver,
        aux: Vec::new(),
        end: 0,
    };
    let mut db = 0usize;
    let mut expire_at = 0u64;
    loop {
        let op = r.u8()?;
        match op {
            opcode::EOF => break,
            opcode::SELECTDB => {
                let n = r.length()?;
                db = usize::try_from(n).map_err(|_| RdbError::BadDb(n))?;
            }
            opcode::RESIZEDB => {
                r.length()?;
                r.length()?;
            }
            opcode::AUX => {
                let k = r.string()?;
                let v = r.string()?;
                meta.aux.push((k, v));
            }
            opcode::EXPIRETIME_MS => expire_at = u64::from_le_bytes(r.array()?),
            opcode::EXPIRETIME => expire_at = u64::from(u32::from_le_bytes(r.array()?)) * 1000,
            opcode::IDLE => {
                r.length()?;
            }
            opcode::FREQ => {
                r.u8()?;
            }
            opcode::MODULE_AUX => super::skip::module_aux(&mut r)?,
            opcode::FUNCTION2 => super::skip::function_library(&mut r)?,
            // The pre-GA function format, which Redis 7.0 refuses as well.
            opcode::FUNCTION => return Err(RdbError::UnsupportedOpcode(op)),
            rtype::MODULE_2 => {
                let key = r.string()?;
                super::skip::module_value(&mut r, &key)?;
                expire_at = 0;
            }
            t => {
                let key = r.string()?;
                let value = read_value(&mut r, t)?;
                on_item(Item {
                    db,
                    key,
                    value,
                    expire_at,
                    end: r.pos(),
                })?;
                expire_at = 0;
            }
        }
    }
    if ver >= 5 && r.pos() + 8 <= data.len() {
        let covered = r.pos();
        let expected = u64::from_le_bytes(r.array()?);
        if expected != 0 {
            let got = CRC64.checksum(&data[..covered]);
            if got != expected {
                return Err(RdbError::Checksum { expected, got });
            }
        }
    }
    meta.end = r.pos();
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::super::encode::RdbWriter;
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = RdbWriter::new(Vec::new(), true, true);
        w.header().unwrap();
        w.aux("redis-ver", "7.0.15").unwrap();
        w.select_db(0, 3, 1).unwrap();
        w.key(b"a", &Value::Str(StrValue::from_bytes(b"hello")), 0)
            .unwrap();
        w.key(b"n", &Value::Str(StrValue::from_int(-70000)), 1234567)
            .unwrap();
        w.key(b"big", &Value::Str(StrValue::from_bytes(&[b'x'; 500])), 0)
            .unwrap();
        w.select_db(3, 1, 0).unwrap();
        w.key(b"z", &Value::Str(StrValue::from_bytes(b"")), 0)
            .unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        let data = sample();
        let mut items = Vec::new();
        let meta = load(&data, |i| {
            items.push(i);
            Ok(())
        })
        .unwrap();
        assert_eq!(meta.version, 10);
        assert_eq!(items.len(), 4);
        assert_eq!(items[1].expire_at, 1234567);
        assert_eq!(items[1].value, Value::Str(StrValue::Int(-70000)));
        assert_eq!(
            items[2].value,
            Value::Str(StrValue::from_bytes(&[b'x'; 500]))
        );
        assert_eq!(items[3].db, 3);
    }

    #[test]
    fn checksum_detects_corruption() {
        let mut data = sample();
        let n = data.len();
        data[n - 12] ^= 0x55;
        assert!(load(&data, |_| Ok(())).is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(data: Vec<u8>) {
            let mut d = b"REDIS0010".to_vec();
            d.extend_from_slice(&data);
            let _ = load(&d, |_| Ok(()));
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..200) {
            let data = sample();
            let cut = cut.min(data.len());
            let _ = load(&data[..cut], |_| Ok(()));
        }
    }
}
