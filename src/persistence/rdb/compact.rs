//! Byte formats Redis embeds inside RDB strings for small collections:
//! ziplist (Redis < 7.0), listpack (7.0), intset and zipmap (Redis < 2.6).
//! Each parser walks one blob and returns its elements; every length and
//! offset is checked against the blob so garbage yields `RdbError`, never a
//! panic. Integer elements come back as their decimal text, which is how
//! Redis hands them to the collection that is rebuilt from them.

use super::RdbError;

type Res<T> = Result<T, RdbError>;

/// A bounds-checked cursor over one blob.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(RdbError::BadCompact)?;
        let s = self.b.get(self.pos..end).ok_or(RdbError::BadCompact)?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }

    fn peek(&self) -> Res<u8> {
        self.b.get(self.pos).copied().ok_or(RdbError::BadCompact)
    }

    /// `n` bytes little-endian, sign-extended to i64 (n in 1..=8).
    fn int_le(&mut self, n: usize) -> Res<i64> {
        let s = self.take(n)?;
        let mut v: u64 = 0;
        for (i, b) in s.iter().enumerate() {
            v |= u64::from(*b) << (8 * i);
        }
        let shift = 64 - 8 * n as u32;
        Ok(((v << shift) as i64) >> shift)
    }

    fn u32_le(&mut self) -> Res<u32> {
        Ok(self.int_le(4)? as u32)
    }

    fn u32_be(&mut self) -> Res<u32> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
}

fn int_text(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

/// Ziplist: `zlbytes:u32 zltail:u32 zllen:u16 entries… 0xFF`, each entry
/// `prevlen encoding data`.
pub fn ziplist(blob: &[u8]) -> Res<Vec<Vec<u8>>> {
    let mut c = Cur { b: blob, pos: 0 };
    let total = c.u32_le()? as usize;
    let tail = c.u32_le()? as usize;
    let count = c.int_le(2)? as u16;
    if total != blob.len() || tail >= blob.len() {
        return Err(RdbError::BadCompact);
    }
    let mut out = Vec::new();
    while c.peek()? != 0xFF {
        // prevlen: one byte, or 0xFE and four bytes.
        if c.u8()? == 0xFE {
            c.take(4)?;
        }
        out.push(ziplist_entry(&mut c)?);
    }
    if c.pos + 1 != blob.len() || (count != u16::MAX && usize::from(count) != out.len()) {
        return Err(RdbError::BadCompact);
    }
    Ok(out)
}

fn ziplist_entry(c: &mut Cur) -> Res<Vec<u8>> {
    let b = c.u8()?;
    let len = match b >> 6 {
        0 => usize::from(b & 0x3f),
        1 => usize::from(b & 0x3f) << 8 | usize::from(c.u8()?),
        // The low six bits of the 32-bit length marker are unused.
        2 => c.u32_be()? as usize,
        _ => {
            let v = match b {
                0xC0 => c.int_le(2)?,
                0xD0 => c.int_le(4)?,
                0xE0 => c.int_le(8)?,
                0xF0 => c.int_le(3)?,
                0xFE => c.int_le(1)?,
                0xF1..=0xFD => i64::from(b & 0x0f) - 1,
                _ => return Err(RdbError::BadCompact),
            };
            return Ok(int_text(v));
        }
    };
    Ok(c.take(len)?.to_vec())
}

/// Bytes the listpack back-length takes for an entry of `l` bytes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Listpack: `total:u32 count:u16 entries… 0xFF`, each entry
/// `encoding data backlen`.
pub fn listpack(blob: &[u8]) -> Res<Vec<Vec<u8>>> {
    let mut c = Cur { b: blob, pos: 0 };
    let total = c.u32_le()? as usize;
    let count = c.int_le(2)? as u16;
    if total != blob.len() {
        return Err(RdbError::BadCompact);
    }
    let mut out = Vec::new();
    while c.peek()? != 0xFF {
        let start = c.pos;
        let item = listpack_entry(&mut c)?;
        let l = c.pos - start;
        let back = c.take(backlen_size(l))?;
        if decode_backlen(back) != Some(l) {
            return Err(RdbError::BadCompact);
        }
        out.push(item);
    }
    if c.pos + 1 != blob.len() || (count != u16::MAX && usize::from(count) != out.len()) {
        return Err(RdbError::BadCompact);
    }
    Ok(out)
}

/// The back-length is read right to left: 7 bits per byte, the high bit
/// set on every byte but the leftmost.
fn decode_backlen(b: &[u8]) -> Option<usize> {
    let mut v = 0usize;
    for (i, byte) in b.iter().rev().enumerate() {
        v |= usize::from(byte & 0x7f) << (7 * i);
        let last = i + 1 == b.len();
        if (byte & 0x80 == 0) != last {
            return None;
        }
    }
    Some(v)
}

fn listpack_entry(c: &mut Cur) -> Res<Vec<u8>> {
    let b = c.u8()?;
    let len = if b & 0x80 == 0 {
        return Ok(int_text(i64::from(b)));
    } else if b & 0xC0 == 0x80 {
        usize::from(b & 0x3f)
    } else if b & 0xE0 == 0xC0 {
        let v = i64::from(b & 0x1f) << 8 | i64::from(c.u8()?);
        // 13-bit two's complement.
        let v = if v >= 1 << 12 { v - (1 << 13) } else { v };
        return Ok(int_text(v));
    } else if b & 0xF0 == 0xE0 {
        usize::from(b & 0x0f) << 8 | usize::from(c.u8()?)
    } else {
        let v = match b {
            0xF0 => {
                let n = c.u32_le()? as usize;
                return Ok(c.take(n)?.to_vec());
            }
            0xF1 => c.int_le(2)?,
            0xF2 => c.int_le(3)?,
            0xF3 => c.int_le(4)?,
            0xF4 => c.int_le(8)?,
            _ => return Err(RdbError::BadCompact),
        };
        return Ok(int_text(v));
    };
    Ok(c.take(len)?.to_vec())
}

/// Intset: `encoding:u32 (2|4|8) length:u32 values…`, strictly ascending.
pub fn intset(blob: &[u8]) -> Res<Vec<i64>> {
    let mut c = Cur { b: blob, pos: 0 };
    let width = c.u32_le()? as usize;
    let n = c.u32_le()? as usize;
    if !matches!(width, 2 | 4 | 8) || n.checked_mul(width).map(|b| b + 8) != Some(blob.len()) {
        return Err(RdbError::BadCompact);
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let v = c.int_le(width)?;
        if out.last().is_some_and(|&p| p >= v) {
            return Err(RdbError::BadCompact);
        }
        out.push(v);
    }
    Ok(out)
}

/// Zipmap (hashes saved by Redis < 2.6): `zmlen` then
/// `len key len free value [free bytes]` pairs, ending with 0xFF.
pub fn zipmap(blob: &[u8]) -> Res<Vec<super::build::RawPair>> {
    let mut c = Cur { b: blob, pos: 0 };
    c.u8()?;
    let mut out = Vec::new();
    loop {
        if c.peek()? == 0xFF {
            break;
        }
        let klen = zipmap_len(&mut c)?;
        let key = c.take(klen)?.to_vec();
        let vlen = zipmap_len(&mut c)?;
        let free = usize::from(c.u8()?);
        let val = c.take(vlen)?.to_vec();
        c.take(free)?;
        out.push((key, val));
    }
    if c.pos + 1 != blob.len() {
        return Err(RdbError::BadCompact);
    }
    Ok(out)
}

fn zipmap_len(c: &mut Cur) -> Res<usize> {
    match c.u8()? {
        254 => Ok(c.u32_le()? as usize),
        255 => Err(RdbError::BadCompact),
        n => Ok(usize::from(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_small() {
        // total=6+…, count=3: uint7 5, str "ab", int13 -1, end.
        let mut lp = vec![0, 0, 0, 0, 3, 0];
        lp.extend_from_slice(&[5, 1]);
        lp.extend_from_slice(&[0x82, b'a', b'b', 3]);
        lp.extend_from_slice(&[0xDF, 0xFF, 2]);
        lp.push(0xFF);
        let n = lp.len() as u32;
        lp[..4].copy_from_slice(&n.to_le_bytes());
        let v = listpack(&lp).unwrap();
        assert_eq!(v, vec![b"5".to_vec(), b"ab".to_vec(), b"-1".to_vec()]);
    }

    #[test]
    fn ziplist_all_encodings() {
        let mut zl = vec![0u8; 10];
        zl.extend_from_slice(&[0x00, 0x02, b'a', b'b']); // 6-bit string
        zl.extend_from_slice(&[0x04, 0xF5]); // immediate 4
        zl.extend_from_slice(&[0x02, 0xC0]); // int16
        zl.extend_from_slice(&(-300i16).to_le_bytes());
        let tail = zl.len() as u32;
        zl.extend_from_slice(&[0x04, 0xF0]); // int24
        zl.extend_from_slice(&100000i32.to_le_bytes()[..3]);
        zl.push(0xFF);
        let n = zl.len() as u32;
        zl[..4].copy_from_slice(&n.to_le_bytes());
        zl[4..8].copy_from_slice(&tail.to_le_bytes());
        zl[8..10].copy_from_slice(&4u16.to_le_bytes());
        let v = ziplist(&zl).unwrap();
        let want: Vec<&[u8]> = vec![b"ab", b"4", b"-300", b"100000"];
        assert_eq!(v, want);
        // A wrong element count or a truncated blob is an error.
        zl[8] = 5;
        assert!(ziplist(&zl).is_err());
        assert!(ziplist(&zl[..zl.len() - 2]).is_err());
    }

    #[test]
    fn backlen_multi_byte() {
        // 200 = 1<<7 | 72: leftmost 0x01, rightmost 72|0x80.
        assert_eq!(decode_backlen(&[0x01, 72 | 0x80]), Some(200));
        assert_eq!(backlen_size(200), 2);
    }

    #[test]
    fn intset_and_zipmap() {
        let mut is = vec![2, 0, 0, 0, 2, 0, 0, 0];
        is.extend_from_slice(&(-3i16).to_le_bytes());
        is.extend_from_slice(&7i16.to_le_bytes());
        assert_eq!(intset(&is).unwrap(), vec![-3, 7]);
        let zm = [1, 1, b'k', 2, 1, b'v', b'w', 0, 0xFF];
        assert_eq!(zipmap(&zm).unwrap(), vec![(b"k".to_vec(), b"vw".to_vec())]);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(data: Vec<u8>) {
            let _ = ziplist(&data);
            let _ = listpack(&data);
            let _ = intset(&data);
            let _ = zipmap(&data);
        }
    }
}
