//! Parts of an RDB file Shoal reads past instead of loading: module data
//! (aux fields and module-typed keys) and function libraries.
//!
//! Redis refuses a file with module data when the module is not loaded;
//! Shoal has no module API and no Lua engine, so refusing would make every
//! such file unusable. The rest of the file is still good data: we skip
//! these records with a warning naming what was dropped. Module values are
//! skippable without the module because Redis 7 writes them
//! self-describing (RDB_TYPE_MODULE_2): a sequence of typed fields closed
//! by an EOF marker.

use super::decode::Reader;
use super::RdbError;

/// Field markers of the self-describing module value format.
mod field {
    pub const EOF: u64 = 0;
    pub const SINT: u64 = 1;
    pub const UINT: u64 = 2;
    pub const FLOAT: u64 = 3;
    pub const DOUBLE: u64 = 4;
    pub const STRING: u64 = 5;
}

/// The 9-character module type name packed in a 64-bit module id (its
/// low 10 bits are the encoding version).
pub fn module_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = id >> 10;
    let mut name = [0u8; 9];
    for c in name.iter_mut().rev() {
        *c = CHARSET[(bits & 63) as usize];
        bits >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// Read past typed module fields up to and including their EOF marker.
fn skip_fields(r: &mut Reader) -> Result<(), RdbError> {
    loop {
        match r.length()? {
            field::EOF => return Ok(()),
            field::SINT | field::UINT => {
                r.length()?;
            }
            field::FLOAT => {
                r.take(4)?;
            }
            field::DOUBLE => {
                r.take(8)?;
            }
            field::STRING => {
                r.string()?;
            }
            _ => return Err(RdbError::Corrupt("Unknown module field type")),
        }
    }
}

/// An RDB_OPCODE_MODULE_AUX record (after its opcode byte).
pub fn module_aux(r: &mut Reader) -> Result<(), RdbError> {
    let id = r.length()?;
    // "When" the aux data was saved (before/after the keyspace): a UINT
    // field with its value.
    if r.length()? != field::UINT {
        return Err(RdbError::Corrupt("Bad module aux 'when' field"));
    }
    r.length()?;
    skip_fields(r)?;
    tracing::warn!(
        "Skipping module aux data of module '{}' in the RDB file: Shoal has no module support",
        module_name(id)
    );
    Ok(())
}

/// The value of a module-typed key (RDB_TYPE_MODULE_2, after the key).
pub fn module_value(r: &mut Reader, key: &[u8]) -> Result<(), RdbError> {
    let id = r.length()?;
    skip_fields(r)?;
    tracing::warn!(
        "Skipping key '{}' of module type '{}' in the RDB file: Shoal has no module support",
        String::from_utf8_lossy(key),
        module_name(id)
    );
    Ok(())
}

/// An RDB_OPCODE_FUNCTION2 record: one string, a library's source code.
pub fn function_library(r: &mut Reader) -> Result<(), RdbError> {
    let code = r.string()?;
    let first_line = code.split(|&b| b == b'\n').next().unwrap_or_default();
    tracing::warn!(
        "Skipping function library '{}' in the RDB file: Shoal has no Lua engine",
        String::from_utf8_lossy(first_line)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::rdb::encode::{put_len, put_string};

    #[test]
    fn module_names_decode() {
        // "ReJSON-RL" with encoding version 3, as RedisJSON registers it.
        let charset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id = 0u64;
        for c in b"ReJSON-RL" {
            id = (id << 6) | charset.iter().position(|x| x == c).unwrap() as u64;
        }
        assert_eq!(module_name((id << 10) | 3), "ReJSON-RL");
    }

    #[test]
    fn module_fields_are_skipped_to_their_end() {
        let mut buf = Vec::new();
        put_len(&mut buf, 42);
        for (t, v) in [(field::SINT, 7u64), (field::UINT, 300)] {
            put_len(&mut buf, t);
            put_len(&mut buf, v);
        }
        put_len(&mut buf, field::FLOAT);
        buf.extend_from_slice(&1.5f32.to_le_bytes());
        put_len(&mut buf, field::DOUBLE);
        buf.extend_from_slice(&2.5f64.to_le_bytes());
        put_len(&mut buf, field::STRING);
        put_string(&mut buf, b"payload", false);
        put_len(&mut buf, field::EOF);
        buf.push(0xAB);
        let mut r = Reader::new(&buf);
        module_value(&mut r, b"k").unwrap();
        assert_eq!(r.u8().unwrap(), 0xAB);
        // Truncated or garbled: an error, never a panic.
        for cut in 0..buf.len() - 1 {
            let _ = module_value(&mut Reader::new(&buf[..cut]), b"k");
        }
        let mut bad = buf.clone();
        bad[1] = 9;
        assert!(module_value(&mut Reader::new(&bad), b"k").is_err());
    }
}
