//! DUMP payloads: one RDB value (type byte + encoding), then the RDB
//! version as 2 little-endian bytes, then a little-endian CRC64 of
//! everything before it. RESTORE and MIGRATE use the same format.

use super::decode::{read_value, Reader};
use super::encode::put_value;
use super::{Limits, RdbError, CRC64, RDB_VERSION};
use crate::types::Value;

/// Serialize `v` as a DUMP payload.
pub fn dump(v: &Value, compress: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    put_value(&mut buf, v, compress);
    buf.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = CRC64.checksum(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

/// The value part of a payload whose footer is valid: a version this
/// server can read and a matching checksum (Redis's verifyDumpPayload).
/// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE accepts any checksum.
pub static SKIP_CHECKSUM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn verify(p: &[u8], skip_checksum: bool) -> Option<&[u8]> {
    let body_len = p.len().checked_sub(10)?;
    let (body, footer) = p.split_at(body_len);
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if u32::from(ver) > RDB_VERSION {
        return None;
    }
    if skip_checksum {
        return Some(body);
    }
    let crc = CRC64.checksum(&p[..p.len() - 8]);
    (crc.to_le_bytes() == footer[2..]).then_some(body)
}

/// Decode a verified payload body into a value.
pub fn load(body: &[u8], limits: Limits) -> Result<Value, RdbError> {
    let mut r = Reader::with_limits(body, limits);
    let t = r.u8()?;
    read_value(&mut r, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StrValue;

    #[test]
    fn string_payload_matches_redis() {
        // redis-cli: SET foo bar; DUMP foo
        let v = Value::Str(StrValue::from_bytes(b"bar"));
        let p = dump(&v, true);
        assert_eq!(p, b"\x00\x03bar\n\x00\xe6\xbeI`\xeef\xfd\x17");
        let body = verify(&p, false).unwrap();
        assert_eq!(load(body, Limits::default()).unwrap(), v);
    }

    #[test]
    fn rejects_bad_footer() {
        let mut p = dump(&Value::Str(StrValue::from_bytes(b"x")), true);
        assert!(verify(&p[..5], false).is_none());
        let n = p.len();
        p[n - 1] ^= 1;
        assert!(verify(&p, false).is_none());
        assert!(verify(&p, true).is_some());
    }
}
