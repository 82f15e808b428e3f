//! BITFIELD and BITFIELD_RO (Redis's bitops.c): typed integer fields
//! (`i1`..`i64`, `u1`..`u63`) at arbitrary bit offsets (`#N` = N * width),
//! with GET/SET/INCRBY and OVERFLOW WRAP|SAT|FAIL, which applies to the
//! operations after it. All arguments are validated before anything runs.
//! The command is propagated as given when a SET/INCRBY changed a value
//! (or created/grew the string while writing).

use bytes::Bytes;

use super::bitmap::{check_string, parse_offset, string_for_bits};
use super::ctx::Ctx;
use super::string::get_string;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[("bitfield", bitfield), ("bitfield_ro", bitfield_ro)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy)]
enum OpKind {
    Get,
    Set(i64),
    Incr(i64),
}

#[derive(Debug, Clone, Copy)]
struct Op {
    kind: OpKind,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

fn parse_type(arg: &[u8]) -> Result<(bool, u32), RedisError> {
    let err = || {
        RedisError::err(
            "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let (signed, digits) = match arg.split_first() {
        Some((b'i', rest)) => (true, rest),
        Some((b'u', rest)) => (false, rest),
        _ => return Err(err()),
    };
    let bits = crate::util::numparse::parse_i64(digits).ok_or_else(err)?;
    let max = if signed { 64 } else { 63 };
    if bits < 1 || bits > max {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn parse_ops(ctx: &Ctx, argv: &[Bytes], readonly: bool) -> Result<Vec<Op>, RedisError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let sub = &argv[j];
        let rem = argv.len() - j - 1;
        let kind = if args::is(sub, "GET") && rem >= 2 {
            0
        } else if args::is(sub, "SET") && rem >= 3 {
            1
        } else if args::is(sub, "INCRBY") && rem >= 3 {
            2
        } else if args::is(sub, "OVERFLOW") && rem >= 1 {
            let w = &argv[j + 1];
            overflow = if args::is(w, "WRAP") {
                Overflow::Wrap
            } else if args::is(w, "SAT") {
                Overflow::Sat
            } else if args::is(w, "FAIL") {
                Overflow::Fail
            } else {
                return Err(RedisError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(RedisError::Syntax);
        };
        let (signed, bits) = parse_type(&argv[j + 1])?;
        let offset = parse_offset(ctx, &argv[j + 2], bits)?;
        let kind = match kind {
            0 => OpKind::Get,
            k => {
                if readonly {
                    return Err(RedisError::err(
                        "BITFIELD_RO only supports the GET subcommand",
                    ));
                }
                let v = args::int(&argv[j + 3])?;
                j += 1;
                if k == 1 {
                    OpKind::Set(v)
                } else {
                    OpKind::Incr(v)
                }
            }
        };
        j += 3;
        ops.push(Op {
            kind,
            signed,
            bits,
            offset,
            overflow,
        });
    }
    Ok(ops)
}

/// Read `bits` bits MSB-first at bit `offset` (past the end reads zeros).
fn read_bits(v: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |acc, i| {
        let pos = offset + i;
        let b = v
            .get((pos >> 3) as usize)
            .is_some_and(|byte| byte & (0x80 >> (pos & 7)) != 0);
        (acc << 1) | u64::from(b)
    })
}

fn write_bits(v: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let pos = offset + i;
        let bit = (value >> (u64::from(bits) - 1 - i)) & 1 == 1;
        if let Some(byte) = v.get_mut((pos >> 3) as usize) {
            let mask = 0x80u8 >> (pos & 7);
            if bit {
                *byte |= mask;
            } else {
                *byte &= !mask;
            }
        }
    }
}

fn sign_extend(raw: u64, bits: u32) -> i64 {
    if bits == 64 {
        raw as i64
    } else {
        let shift = 64 - bits;
        ((raw << shift) as i64) >> shift
    }
}

/// `value + incr` in a field of the given type: the stored result, or
/// None when the FAIL policy rejects an overflow.
fn apply(signed: bool, bits: u32, value: i128, incr: i128, ow: Overflow) -> Option<i64> {
    let (min, max): (i128, i128) = if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let sum = value + incr;
    if (min..=max).contains(&sum) {
        return Some(sum as i64);
    }
    match ow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if sum > max { max } else { min } as i64),
        Overflow::Wrap => {
            let raw = (sum as u128 & ((1u128 << bits) - 1)) as u64;
            Some(if signed {
                sign_extend(raw, bits)
            } else {
                raw as i64
            })
        }
    }
}

/// Unsigned SET values are taken as u64 like Redis, so -1 overflows.
fn set_value(op: &Op, v: i64) -> i128 {
    if op.signed {
        i128::from(v)
    } else {
        i128::from(v as u64)
    }
}

fn field(v: &[u8], op: &Op) -> i64 {
    let raw = read_bits(v, op.offset, op.bits);
    if op.signed {
        sign_extend(raw, op.bits)
    } else {
        raw as i64
    }
}

fn bitfield_generic(ctx: &mut Ctx, argv: &[Bytes], readonly: bool) -> CmdResult {
    let ops = parse_ops(ctx, argv, readonly)?;
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let maxbit = ops
        .iter()
        .filter(|o| !matches!(o.kind, OpKind::Get))
        .map(|o| o.offset + u64::from(o.bits) - 1)
        .max();
    let Some(maxbit) = maxbit else {
        // Read-only: a missing key reads as zeros.
        let v = get_string(&mut g, key)?.unwrap_or_default();
        return Ok(Reply::Array(
            ops.iter().map(|o| Reply::Int(field(&v, o))).collect(),
        ));
    };
    check_string(&mut g, key)?;
    let (buf, grown, created) = string_for_bits(&mut g, key, maxbit)?;
    let mut out = Vec::with_capacity(ops.len());
    let mut changes = 0u64;
    for op in &ops {
        let old = field(buf, op);
        let (new, reply) = match op.kind {
            OpKind::Get => {
                out.push(Reply::Int(old));
                continue;
            }
            OpKind::Set(v) => {
                let new = apply(op.signed, op.bits, set_value(op, v), 0, op.overflow);
                (new, Reply::Int(old))
            }
            OpKind::Incr(by) => {
                let new = apply(
                    op.signed,
                    op.bits,
                    i128::from(old),
                    i128::from(by),
                    op.overflow,
                );
                (new, new.map_or(Reply::Nil, Reply::Int))
            }
        };
        match new {
            Some(n) => {
                write_bits(buf, op.offset, op.bits, n as u64);
                // Like Redis, only a real change (or a created/grown
                // string) counts as a write to propagate.
                if grown || n != old {
                    changes += 1;
                }
                out.push(reply);
            }
            None => out.push(Reply::Nil),
        }
    }
    if changes > 0 {
        // Redis adds one change per applied operation; the key's creation
        // or the signal below counts the first.
        if !created {
            g.touched(key);
        }
        g.add_dirty(changes - 1);
        g.notify(crate::notify::class::STRING, "setbit", key);
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Array(out))
}

fn bitfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_policies() {
        assert_eq!(apply(false, 8, 250, 10, Overflow::Wrap), Some(4));
        assert_eq!(apply(false, 8, 250, 10, Overflow::Sat), Some(255));
        assert_eq!(apply(false, 8, 250, 10, Overflow::Fail), None);
        assert_eq!(apply(true, 8, 120, 10, Overflow::Wrap), Some(-126));
        assert_eq!(apply(true, 8, -120, -10, Overflow::Sat), Some(-128));
        assert_eq!(
            apply(true, 64, i64::MAX.into(), 1, Overflow::Wrap),
            Some(i64::MIN)
        );
    }

    #[test]
    fn bits_io() {
        let mut v = vec![0u8; 2];
        write_bits(&mut v, 4, 8, 0xab);
        assert_eq!(v, [0x0a, 0xb0]);
        assert_eq!(read_bits(&v, 4, 8), 0xab);
        assert_eq!(sign_extend(0xff, 8), -1);
    }
}
