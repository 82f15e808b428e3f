//! Sorted set commands, part 3: set algebra — ZUNION, ZINTER, ZDIFF, their
//! STORE variants and ZINTERCARD. Inputs may be sorted sets or plain sets
//! (every member scores 1), with WEIGHTS and AGGREGATE SUM|MIN|MAX as in
//! Redis 7.0 (a NaN from inf-inf or inf*0 counts as 0).

use std::collections::HashMap;

use bytes::Bytes;

use super::ctx::Ctx;
use super::zset::{limits, scored_reply, store_result};
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::protocol::Reply;
use crate::types::Value;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

impl Agg {
    fn apply(self, acc: f64, v: f64) -> f64 {
        match self {
            Agg::Sum => {
                let s = acc + v;
                if s.is_nan() {
                    0.0
                } else {
                    s
                }
            }
            Agg::Min => acc.min(v),
            Agg::Max => acc.max(v),
        }
    }
}

struct Request<'a> {
    keys: &'a [Bytes],
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
}

/// Parse `numkeys key... [WEIGHTS ..] [AGGREGATE ..] [WITHSCORES]`
/// starting at `argv[at]`.
fn parse<'a>(argv: &'a [Bytes], at: usize, op: Op, store: bool) -> Result<Request<'a>, RedisError> {
    let numkeys = args::int(&argv[at])?;
    if numkeys < 1 {
        return Err(RedisError::err(format!(
            "at least 1 input key is needed for '{}' command",
            args::lower(&argv[0])
        )));
    }
    let first = at + 1;
    if numkeys as u64 > (argv.len() - first) as u64 {
        return Err(RedisError::Syntax);
    }
    let n = numkeys as usize;
    let mut req = Request {
        keys: &argv[first..first + n],
        weights: vec![1.0; n],
        agg: Agg::Sum,
        withscores: false,
    };
    let mut i = first + n;
    while i < argv.len() {
        let a = &argv[i];
        let left = argv.len() - i - 1;
        if op != Op::Diff && args::is(a, "weights") && left >= n {
            for (j, w) in argv[i + 1..=i + n].iter().enumerate() {
                req.weights[j] = crate::util::numparse::parse_f64(w)
                    .ok_or_else(|| RedisError::err("weight value is not a float"))?;
            }
            i += n;
        } else if op != Op::Diff && args::is(a, "aggregate") && left >= 1 {
            let v = &argv[i + 1];
            req.agg = if args::is(v, "sum") {
                Agg::Sum
            } else if args::is(v, "min") {
                Agg::Min
            } else if args::is(v, "max") {
                Agg::Max
            } else {
                return Err(RedisError::Syntax);
            };
            i += 1;
        } else if !store && args::is(a, "withscores") {
            req.withscores = true;
        } else {
            return Err(RedisError::Syntax);
        }
        i += 1;
    }
    Ok(req)
}

/// The elements of one input (sets score 1), WRONGTYPE for other types.
fn load_input(g: &mut KeyGuards, key: &[u8]) -> Result<Vec<(Bytes, f64)>, RedisError> {
    Ok(match g.value(key) {
        None => Vec::new(),
        Some(Value::ZSet(z)) => z
            .iter()
            .map(|(m, s)| (Bytes::copy_from_slice(m), s))
            .collect(),
        Some(Value::Set(s)) => s.members().into_iter().map(|m| (m, 1.0)).collect(),
        Some(_) => return Err(RedisError::WrongType),
    })
}

fn weighted(s: f64, w: f64) -> f64 {
    let v = s * w;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Compute the operation over the loaded inputs.
fn compute(op: Op, inputs: Vec<Vec<(Bytes, f64)>>, weights: &[f64], agg: Agg) -> Vec<(Bytes, f64)> {
    let mut acc: HashMap<Bytes, f64, ahash::RandomState> = HashMap::default();
    let mut order: Vec<Bytes> = Vec::new();
    match op {
        Op::Union => {
            for (inp, w) in inputs.iter().zip(weights) {
                for (m, s) in inp {
                    let v = weighted(*s, *w);
                    match acc.get_mut(m) {
                        Some(a) => *a = agg.apply(*a, v),
                        None => {
                            acc.insert(m.clone(), v);
                            order.push(m.clone());
                        }
                    }
                }
            }
        }
        Op::Inter => {
            // Walk the smallest input and probe the others, as Redis does.
            let mut idx: Vec<usize> = (0..inputs.len()).collect();
            idx.sort_by_key(|&i| inputs[i].len());
            let maps: Vec<HashMap<&Bytes, f64, ahash::RandomState>> = inputs
                .iter()
                .map(|v| v.iter().map(|(m, s)| (m, *s)).collect())
                .collect();
            let (&first, rest) = match idx.split_first() {
                Some(x) => x,
                None => return Vec::new(),
            };
            'outer: for (m, s) in &inputs[first] {
                let mut score = weighted(*s, weights[first]);
                for &j in rest {
                    match maps[j].get(m) {
                        Some(sj) => score = agg.apply(score, weighted(*sj, weights[j])),
                        None => continue 'outer,
                    }
                }
                acc.insert(m.clone(), score);
                order.push(m.clone());
            }
        }
        Op::Diff => {
            let mut it = inputs.into_iter();
            let first = it.next().unwrap_or_default();
            let others: Vec<HashMap<Bytes, f64, ahash::RandomState>> =
                it.map(|v| v.into_iter().collect()).collect();
            return first
                .into_iter()
                .filter(|(m, _)| others.iter().all(|o| !o.contains_key(m)))
                .collect();
        }
    }
    order
        .into_iter()
        .filter_map(|m| acc.get(&m).map(|s| (m.clone(), *s)))
        .collect()
}

fn sort_scored(v: &mut [(Bytes, f64)]) {
    v.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
}

fn generic(ctx: &mut Ctx, argv: &[Bytes], op: Op, store: bool) -> CmdResult {
    let at = if store { 2 } else { 1 };
    let req = parse(argv, at, op, store)?;
    let lim = limits(ctx);
    let db = ctx.db();
    let mut lock_keys: Vec<&[u8]> = req.keys.iter().map(|k| &k[..]).collect();
    if store {
        lock_keys.push(&argv[1]);
    }
    let mut g = ctx.lock(&db, &lock_keys);
    let mut inputs = Vec::with_capacity(req.keys.len());
    for k in req.keys {
        inputs.push(load_input(&mut g, k)?);
    }
    let mut result = compute(op, inputs, &req.weights, req.agg);
    if store {
        let n = result.len() as i64;
        let ev = match op {
            Op::Union => "zunionstore",
            Op::Inter => "zinterstore",
            Op::Diff => "zdiffstore",
        };
        if store_result(&mut g, &argv[1], result, lim, ev) {
            g.propagate(argv.to_vec());
        }
        return Ok(Reply::Int(n));
    }
    drop(g);
    sort_scored(&mut result);
    Ok(scored_reply(result, req.withscores, ctx.sess.resp))
}

pub fn zunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    generic(ctx, argv, Op::Union, false)
}

pub fn zinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    generic(ctx, argv, Op::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    generic(ctx, argv, Op::Diff, false)
}

pub fn zunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    generic(ctx, argv, Op::Union, true)
}

pub fn zinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    generic(ctx, argv, Op::Inter, true)
}

pub fn zdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    generic(ctx, argv, Op::Diff, true)
}

/// ZINTERCARD numkeys key... [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let numkeys = args::int(&argv[1])?;
    if numkeys < 1 {
        return Err(RedisError::err(
            "at least 1 input key is needed for 'zintercard' command",
        ));
    }
    if numkeys as u64 > (argv.len() - 2) as u64 {
        return Err(RedisError::Syntax);
    }
    let n = numkeys as usize;
    let keys = &argv[2..2 + n];
    let mut limit = 0u64;
    let mut i = 2 + n;
    while i < argv.len() {
        if args::is(&argv[i], "limit") && i + 1 < argv.len() {
            limit = crate::util::numparse::parse_i64(&argv[i + 1])
                .and_then(|l| u64::try_from(l).ok())
                .ok_or_else(|| RedisError::err("LIMIT can't be negative"))?;
            i += 2;
        } else {
            return Err(RedisError::Syntax);
        }
    }
    let db = ctx.db();
    let mut g = ctx.lock(&db, keys);
    let mut inputs = Vec::with_capacity(n);
    for k in keys {
        inputs.push(load_input(&mut g, k)?);
    }
    drop(g);
    let mut card = compute(Op::Inter, inputs, &vec![1.0; n], Agg::Sum).len() as u64;
    if limit > 0 {
        card = card.min(limit);
    }
    Ok(Reply::Int(card as i64))
}
