//! HRANDFIELD and HINCRBYFLOAT (Redis's t_hash.c).
//!
//! HRANDFIELD follows hrandfieldWithCountCommand's cases: a negative count
//! samples with repetition, a count at least the size returns the whole
//! hash in its order, otherwise distinct random fields.
//!
//! Deviation: Redis adds in `long double` and prints with `%.17Lf`; we add
//! in f64 and print the shortest round-trip form (at most 17 decimals), so
//! results whose long double expansion shows noise digits differ.

use bytes::Bytes;
use rand::seq::index;
use rand::Rng;

use super::coll;
use super::ctx::Ctx;
use super::hash::bulk;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::{Reply, RespVersion};
use crate::types::HashValue;
use crate::util::ldouble::{self, LongDouble};

pub fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis computes in long double (emulated exactly by util::ldouble).
    let incr = ldouble::parse(&argv[3]).ok_or(RedisError::NotFloat)?;
    if !incr.is_finite() {
        return Err(RedisError::err("value is NaN or Infinity"));
    }
    let lim = coll::limits(ctx).hash;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let ev = (crate::notify::class::HASH, "hincrbyfloat");
    let text = coll::update(&mut g, &argv[1], Some(HashValue::default()), ev, |h| {
        let cur = match h.get(&argv[2]) {
            None => LongDouble::from_i64(0),
            Some(v) => ldouble::parse(v)
                .filter(LongDouble::is_finite)
                .ok_or_else(|| RedisError::err("hash value is not a float"))?,
        };
        let n = ldouble::add(cur, incr)
            .filter(LongDouble::is_finite)
            .ok_or_else(|| RedisError::err("increment would produce NaN or Infinity"))?;
        let text = ldouble::to_human_string(n);
        h.set(&argv[2], text.as_bytes(), lim);
        Ok((text, true))
    })?
    .unwrap_or_default();
    let text = Bytes::from(text);
    // Replayed as HSET of the result, so replicas never recompute floats.
    g.propagate(vec![
        Bytes::from_static(b"HSET"),
        argv[1].clone(),
        argv[2].clone(),
        text.clone(),
    ]);
    Ok(Reply::Bulk(text))
}

pub fn hrandfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(count_arg) = argv.get(2) else {
        return single(ctx, &argv[1]);
    };
    let l = count_arg_range(count_arg)?;
    let withvalues = match argv.get(3) {
        None => false,
        Some(a) if argv.len() == 4 && args::is(a, "WITHVALUES") => true,
        Some(_) => return Err(RedisError::Syntax),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(RedisError::OutOfRange);
    }
    let resp3 = ctx.sess.resp == RespVersion::Resp3;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(h) = coll::read::<HashValue>(&mut g, &argv[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    let picks = pick_indices(h.len(), l)?;
    // Positions in the small encoding are linear to reach: index it once.
    let small: Option<Vec<(&[u8], &[u8])>> =
        matches!(h, HashValue::Listpack(_)).then(|| h.iter().collect());
    let at = |i: usize| match &small {
        Some(v) => v.get(i).copied(),
        None => h.pair_at(i),
    };
    let mut out = Vec::with_capacity(picks.len() * 2);
    for i in picks {
        let Some((f, v)) = at(i) else {
            continue;
        };
        match (withvalues, resp3) {
            (false, _) => out.push(bulk(f)),
            (true, false) => {
                out.push(bulk(f));
                out.push(bulk(v));
            }
            (true, true) => out.push(Reply::Array(vec![bulk(f), bulk(v)])),
        }
    }
    Ok(Reply::Array(out))
}

/// A count in [-LONG_MAX, LONG_MAX] (getRangeLongFromObjectOrReply).
pub fn count_arg_range(arg: &[u8]) -> CmdResult<i64> {
    match args::int(arg)? {
        i64::MIN => Err(RedisError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        l => Ok(l),
    }
}

/// HRANDFIELD without a count: one random field or nil.
fn single(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &[key]);
    let Some(h) = coll::read::<HashValue>(&mut g, key)? else {
        return Ok(Reply::Nil);
    };
    let i = rand::thread_rng().gen_range(0..h.len());
    Ok(h.pair_at(i).map_or(Reply::Nil, |(f, _)| bulk(f)))
}

/// The positions a random-with-count reply returns, shared with
/// SRANDMEMBER: `l < 0` repeats, `l >= len` is everything in order,
/// otherwise distinct positions in random order.
///
/// Deviation: Redis streams any repeat count until the client's output
/// limit closes it; we refuse counts we could not hold in memory.
pub fn pick_indices(len: usize, l: i64) -> CmdResult<Vec<usize>> {
    let mut rng = rand::thread_rng();
    let count = l.unsigned_abs();
    if count == 0 || len == 0 {
        return Ok(Vec::new());
    }
    if l < 0 || count == 1 {
        if count > MAX_REPEAT_COUNT {
            return Err(RedisError::OutOfRange);
        }
        return Ok((0..count).map(|_| rng.gen_range(0..len)).collect());
    }
    if count >= len as u64 {
        return Ok((0..len).collect());
    }
    Ok(index::sample(&mut rng, len, count as usize).into_vec())
}

/// Largest repeat count served (see `pick_indices`).
const MAX_REPEAT_COUNT: u64 = 50_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks() {
        assert_eq!(pick_indices(3, 5), Ok(vec![0, 1, 2]));
        assert_eq!(pick_indices(3, -7).map(|v| v.len()), Ok(7));
        let mut p = pick_indices(10, 4).unwrap_or_default();
        p.sort_unstable();
        p.dedup();
        assert_eq!(p.len(), 4);
        assert_eq!(pick_indices(0, -3), Ok(vec![]));
    }
}
