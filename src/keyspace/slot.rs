//! Hot path: key → hash slot (CRC16/XMODEM mod 16384 with `{hash tags}`).

/// Number of hash slots in Redis Cluster.
pub const SLOTS: usize = 16384;

/// The part of a key that is hashed: the content of the first `{...}`
/// when it is non-empty, otherwise the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&c| c == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&c| c == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// CRC16/XMODEM (poly 0x1021, init 0), one table lookup per byte. The
/// table is built at compile time; the generic crate's iterator costs
/// about three times as many instructions per byte on every command.
const CRC16_TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut b = 0;
        while b < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            b += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
};

fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc = crc16_step(crc, b);
    }
    crc
}

#[inline(always)]
fn crc16_step(crc: u16, b: u8) -> u16 {
    (crc << 8) ^ CRC16_TABLE[usize::from((crc >> 8) as u8 ^ b)]
}

/// The hash slot of `key`.
pub fn key_slot(key: &[u8]) -> u16 {
    // One pass for the common key without `{`: hash while looking for it,
    // and fall back to the tag rules only when one shows up.
    let mut crc = 0u16;
    for &b in key {
        if b == b'{' {
            return crc16(hash_tag(key)) & (SLOTS as u16 - 1);
        }
        crc = crc16_step(crc, b);
    }
    crc & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_tags() {
        assert_eq!(
            crc16::State::<crc16::XMODEM>::calculate(b"123456789"),
            0x31C3
        );
        assert_eq!(crc16(b"123456789"), 0x31C3);
        for k in [&b""[..], b"a", b"key:000000012345", &[0xff; 300]] {
            assert_eq!(crc16(k), crc16::State::<crc16::XMODEM>::calculate(k));
        }
        assert_eq!(key_slot(b"foo"), 12182);
        for k in [&b"a{b}c"[..], b"{}x", b"x{", b"{{a}}", b"plain:key"] {
            assert_eq!(key_slot(k), crc16(hash_tag(k)) & 16383);
        }
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
    }
}
