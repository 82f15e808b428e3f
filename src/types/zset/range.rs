//! Score and lex ranges of ZRANGEBYSCORE / ZRANGEBYLEX and friends, parsed
//! with Redis's rules: `(` makes a score bound exclusive, scores go through
//! C `strtod` (so leading spaces, hex and the empty string are accepted, NaN
//! is not), lex bounds must be `-`, `+`, `[x` or `(x`.

use crate::error::RedisError;

/// `[min, max]` with optional exclusive ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    /// Parse `min` and `max` arguments (ERR min or max is not a float).
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, RedisError> {
        let (min, minex) = parse_score_bound(min)?;
        let (max, maxex) = parse_score_bound(max)?;
        Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    /// Is `s` before the start of the range?
    pub fn below_min(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    /// Is `s` not past the end of the range?
    pub fn within_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

fn parse_score_bound(arg: &[u8]) -> Result<(f64, bool), RedisError> {
    let err = || RedisError::err("min or max is not a float");
    let (body, ex) = match arg.split_first() {
        Some((b'(', rest)) => (rest, true),
        _ => (arg, false),
    };
    strtod_whole(body).map(|v| (v, ex)).ok_or_else(err)
}

/// C `strtod` that must consume the whole string, NaN rejected.
pub fn strtod_whole(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        // strtod converts nothing and stops at the terminator: 0 is accepted.
        return Some(0.0);
    }
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r'))?;
    let text = std::str::from_utf8(&s[start..]).ok()?;
    let v = parse_hex(text).or_else(|| {
        // Rust's parser is stricter than strtod only about forms we reject
        // anyway (e.g. "1e"); "inf", "infinity", ".5", "1." agree.
        let ok = text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'));
        if ok {
            text.parse::<f64>().ok()
        } else {
            None
        }
    })?;
    (!v.is_nan()).then_some(v)
}

/// strtod's hexadecimal integers: [+-]0x<hex digits>.
fn parse_hex(t: &str) -> Option<f64> {
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let v = digits.bytes().fold(0.0f64, |acc, c| {
        acc * 16.0 + f64::from((c as char).to_digit(16).unwrap_or(0))
    });
    Some(if neg { -v } else { v })
}

/// One end of a lex range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    fn parse(arg: &[u8]) -> Result<LexBound, RedisError> {
        match arg.split_first() {
            Some((b'+', [])) => Ok(LexBound::PosInf),
            Some((b'-', [])) => Ok(LexBound::NegInf),
            Some((b'(', rest)) => Ok(LexBound::Excl(rest.to_vec())),
            Some((b'[', rest)) => Ok(LexBound::Incl(rest.to_vec())),
            _ => Err(RedisError::err("min or max not valid string range item")),
        }
    }
}

/// A lex range `min`..`max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, RedisError> {
        Ok(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// Is `m` before the start of the range?
    pub fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m < b.as_slice(),
            LexBound::Excl(b) => m <= b.as_slice(),
        }
    }

    /// Is `m` not past the end of the range?
    pub fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= b.as_slice(),
            LexBound::Excl(b) => m < b.as_slice(),
        }
    }
}
