//! Exact emulation of the x87 80-bit `long double` arithmetic Redis 7.0
//! uses for INCRBYFLOAT (and HINCRBYFLOAT): glibc `strtold` parsing
//! (correctly rounded, hex floats, inf/nan), one round-to-nearest-even
//! addition, and `printf("%.17Lf")` followed by Redis's trailing-zero trim
//! (`ld2string(.., LD_STR_HUMAN)`). Rust has no f80, so values are kept as
//! `mant * 2^exp` with a 64-bit mantissa and all steps are done exactly
//! with `util::bignum`.

use super::bignum::Big;

/// Smallest exponent (of the mantissa's unit bit): denormals live here.
const MIN_EXP: i64 = -16445;
/// Values at or above 2^16384 overflow to infinity.
const MAX_BITS: i64 = 16384;
/// Redis's MAX_LONG_DOUBLE_CHARS: longer inputs are rejected.
const MAX_LD_CHARS: usize = 5 * 1024;

/// A finite or infinite x87 extended-precision value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDouble {
    /// `(-1)^neg * mant * 2^exp`; `mant == 0` is (signed) zero.
    Finite {
        neg: bool,
        mant: u64,
        exp: i64,
    },
    Inf {
        neg: bool,
    },
}

impl LongDouble {
    pub fn from_i64(v: i64) -> LongDouble {
        LongDouble::Finite {
            neg: v < 0,
            mant: v.unsigned_abs(),
            exp: 0,
        }
    }

    pub fn is_finite(&self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }
}

/// Round `big * 2^exp` (plus a sticky bit below it) to 64 bits, RNE.
fn round(neg: bool, big: &Big, exp: i64, sticky: bool) -> LongDouble {
    // Append the sticky flag as an extra low bit so one path handles both.
    let big = if sticky {
        big.shl(1).add(&Big::from_u64(1))
    } else {
        big.shl(1)
    };
    let exp = exp - 1;
    let bits = big.bits() as i64;
    if bits == 0 {
        return LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    let drop = (bits - 64).max(MIN_EXP - exp);
    let mut e = exp + drop;
    let mut mant;
    if drop <= 0 {
        mant = big.shl(drop.unsigned_abs()).low_u64();
    } else {
        let d = drop as u64;
        mant = big.shr(d).low_u64();
        let half = big.bit(d - 1);
        let rest = big.any_below(d - 1);
        if half && (rest || mant & 1 == 1) {
            let (m, carry) = mant.overflowing_add(1);
            mant = m;
            if carry {
                mant = 1 << 63;
                e += 1;
            }
        }
    }
    let top = if mant == 0 {
        0
    } else {
        64 - i64::from(mant.leading_zeros())
    };
    if mant != 0 && e + top > MAX_BITS {
        return LongDouble::Inf { neg };
    }
    LongDouble::Finite { neg, mant, exp: e }
}

/// glibc `strtold` as Redis's `string2ld` uses it: the whole input must be
/// consumed, no leading space, no NaN, no overflow, no underflow to zero.
pub fn parse(s: &[u8]) -> Option<LongDouble> {
    if s.is_empty() || s.len() >= MAX_LD_CHARS || s[0].is_ascii_whitespace() || s[0] == 0x0b {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(LongDouble::Inf { neg });
    }
    if lower.len() > 2 && lower.starts_with(b"0x") {
        return parse_hex(neg, &lower[2..]);
    }
    parse_dec(neg, &lower)
}

/// Split `digits[.digits]` into (mantissa digits, digits after the point,
/// rest). Returns None when there is no digit at all.
fn split_mantissa(s: &[u8], radix: u32) -> Option<(Vec<u8>, i64, &[u8])> {
    let mut digits = Vec::new();
    let mut frac = 0i64;
    let mut seen_point = false;
    let mut seen_digit = false;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if (c as char).is_digit(radix) {
            seen_digit = true;
            if !(digits.is_empty() && c == b'0') {
                digits.push((c as char).to_digit(radix).unwrap_or(0) as u8);
                if seen_point {
                    frac += 1;
                }
            } else if seen_point {
                frac += 1;
            }
        } else {
            break;
        }
        i += 1;
    }
    seen_digit.then(|| (digits, frac, &s[i..]))
}

/// Parse `[+-]digits` after an exponent marker; saturates far out of range.
fn parse_exp(s: &[u8]) -> Option<i64> {
    let (neg, d) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in d {
        v = (v * 10 + i64::from(c - b'0')).min(1 << 40);
    }
    Some(if neg { -v } else { v })
}

fn to_big(digits: &[u8], radix: u32) -> Big {
    let mut b = Big::zero();
    for &d in digits {
        b.mul_add_small(radix, u32::from(d));
    }
    b
}

fn parse_dec(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let (digits, frac, rest) = split_mantissa(s, 10)?;
    let exp10 = match rest {
        [] => 0,
        [b'e', tail @ ..] => parse_exp(tail)?,
        _ => return None,
    };
    if digits.is_empty() {
        return Some(LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let e = exp10 - frac;
    let magnitude = e + digits.len() as i64; // value < 10^magnitude
    if magnitude > 4934 {
        return None; // overflow: ERANGE with HUGE_VAL
    }
    if magnitude < -4952 {
        return None; // underflow to zero: ERANGE with 0
    }
    let mut d = to_big(&digits, 10);
    let v = if e >= 0 {
        d.mul_pow10(e as u64);
        round(neg, &d, 0, false)
    } else {
        let mut p = Big::from_u64(1);
        p.mul_pow10((-e) as u64);
        let shift = (p.bits() as i64 - d.bits() as i64 + 68).max(0) as u64;
        let (q, r) = d.shl(shift).divrem(&p);
        round(neg, &q, -(shift as i64), !r.is_zero())
    };
    finite_or_reject(v)
}

fn parse_hex(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let (digits, frac, rest) = split_mantissa(s, 16)?;
    let exp2 = match rest {
        [] => 0,
        [b'p', tail @ ..] => parse_exp(tail)?,
        _ => return None,
    };
    if digits.is_empty() {
        return Some(LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let e = exp2 - 4 * frac;
    let top = e + 4 * digits.len() as i64;
    if !(MIN_EXP - 8..=MAX_BITS + 8).contains(&top) {
        return None;
    }
    finite_or_reject(round(neg, &to_big(&digits, 16), e, false))
}

/// Reject overflow to infinity and underflow to zero (strtold's ERANGE).
fn finite_or_reject(v: LongDouble) -> Option<LongDouble> {
    match v {
        LongDouble::Finite { mant, .. } if mant != 0 => Some(v),
        _ => None,
    }
}

/// `a + b` rounded once, as the FPU does. NaN (inf - inf) is None.
pub fn add(a: LongDouble, b: LongDouble) -> Option<LongDouble> {
    use LongDouble::*;
    match (a, b) {
        (Inf { neg: x }, Inf { neg: y }) if x != y => None,
        (Inf { .. }, _) => Some(a),
        (_, Inf { .. }) => Some(b),
        (
            Finite {
                neg: na,
                mant: ma,
                exp: ea,
            },
            Finite {
                neg: nb,
                mant: mb,
                exp: eb,
            },
        ) => {
            if ma == 0 && mb == 0 {
                return Some(Finite {
                    neg: na && nb,
                    mant: 0,
                    exp: 0,
                });
            }
            let e = ea.min(eb);
            let x = Big::from_u64(ma).shl((ea - e) as u64);
            let y = Big::from_u64(mb).shl((eb - e) as u64);
            Some(if na == nb {
                round(na, &x.add(&y), e, false)
            } else if x >= y {
                round(na && x != y, &x.sub(&y), e, false)
            } else {
                round(nb, &y.sub(&x), e, false)
            })
        }
    }
}

/// `%.17Lf` then Redis's trim of trailing zeros and of "-0".
pub fn to_human_string(v: LongDouble) -> String {
    let (neg, mant, exp) = match v {
        LongDouble::Inf { neg } => return if neg { "-inf" } else { "inf" }.into(),
        LongDouble::Finite { neg, mant, exp } => (neg, mant, exp),
    };
    let m = Big::from_u64(mant);
    let scaled = if exp >= 0 {
        let mut n = m.shl(exp as u64);
        n.mul_pow10(17);
        n
    } else {
        let k = (-exp) as u64;
        let mut n = m;
        n.mul_pow10(17);
        let q = n.shr(k);
        let half = n.bit(k - 1);
        let rest = n.any_below(k - 1);
        if half && (rest || q.bit(0)) {
            q.add(&Big::from_u64(1))
        } else {
            q
        }
    };
    let digits = format!("{:0>18}", scaled.to_decimal());
    let (int, frac) = digits.split_at(digits.len() - 17);
    let frac = frac.trim_end_matches('0');
    let mut out = String::with_capacity(digits.len() + 2);
    if neg {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if out == "-0" {
        out = "0".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> Option<String> {
        let x = parse(a.as_bytes())?;
        let y = parse(b.as_bytes())?;
        let r = add(x, y)?;
        r.is_finite().then(|| to_human_string(r))
    }

    #[test]
    fn like_redis() {
        assert_eq!(incr("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(incr("0", "5.0e3").as_deref(), Some("5000"));
        assert_eq!(incr("0", "0x10").as_deref(), Some("16"));
        assert_eq!(incr("0", "0x1p-3").as_deref(), Some("0.125"));
        assert_eq!(
            incr("0", "0.000003814697265625").as_deref(),
            Some("0.00000381469726562")
        );
        assert_eq!(incr("0", "-0.000000000000000001").as_deref(), Some("0"));
        assert_eq!(
            incr("5001.5", "-0.0000000000000000001").as_deref(),
            Some("5001.5")
        );
        assert_eq!(incr("0", "1e-4940").as_deref(), Some("0"));
        assert_eq!(incr("0", "inf"), None);
        assert_eq!(
            incr("9223372036854775807", "1").as_deref(),
            Some("9223372036854775808")
        );
        let big = incr("0", "1e4000").unwrap_or_default();
        assert!(big.starts_with("99999999999999999999654638730996237849324925835069"));
    }

    #[test]
    fn rejects() {
        for s in [
            "", " 1", "1 ", "1e", "nan", "1e5000", "1e-5000", "0x", "1\0", "abc", "--1",
        ] {
            assert_eq!(parse(s.as_bytes()), None, "{s}");
        }
        assert!(parse(b"+1.5").is_some());
        assert!(parse(b".5").is_some());
        assert!(parse(b"5.").is_some());
        assert!(parse(b"0e-99999").is_some());
    }
}
