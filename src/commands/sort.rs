//! SORT and SORT_RO over lists, sets and sorted sets, with BY (including
//! `nosort` and `key->field` hash lookups), GET (including `#`), LIMIT,
//! ASC/DESC, ALPHA and STORE — Redis 7.0's sort.c semantics.
//!
//! Pattern lookups read arbitrary keys, which the command table cannot
//! declare, so they are read one key at a time after the source is copied
//! out (never holding two slot locks out of order).

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::{Db, KeyGuards};
use crate::protocol::Reply;
use crate::types::{Entry, ListValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[("sort", sort), ("sort_ro", sort_ro)];

#[derive(Default)]
struct Opts {
    by: Option<Bytes>,
    gets: Vec<Bytes>,
    limit: Option<(i64, i64)>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
}

fn parse(argv: &[Bytes], read_only: bool) -> Result<Opts, RedisError> {
    let mut o = Opts::default();
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        let left = argv.len() - i - 1;
        if args::is(a, "ASC") {
            o.desc = false;
        } else if args::is(a, "DESC") {
            o.desc = true;
        } else if args::is(a, "ALPHA") {
            o.alpha = true;
        } else if args::is(a, "LIMIT") && left >= 2 {
            o.limit = Some((args::int(&argv[i + 1])?, args::int(&argv[i + 2])?));
            i += 2;
        } else if args::is(a, "STORE") && left >= 1 && !read_only {
            o.store = Some(argv[i + 1].clone());
            i += 1;
        } else if args::is(a, "BY") && left >= 1 {
            o.by = Some(argv[i + 1].clone());
            i += 1;
        } else if args::is(a, "GET") && left >= 1 {
            o.gets.push(argv[i + 1].clone());
            i += 1;
        } else {
            return Err(RedisError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// The elements to sort and the source type (Some(true): sorted set,
/// Some(false): set, None: list or missing).
fn source(g: &mut KeyGuards, key: &[u8]) -> Result<(Vec<Bytes>, Option<bool>), RedisError> {
    Ok(match g.value(key) {
        None => (Vec::new(), None),
        Some(Value::List(l)) => (
            l.items.iter().map(|b| Bytes::copy_from_slice(b)).collect(),
            None,
        ),
        Some(Value::Set(s)) => (s.members(), Some(false)),
        Some(Value::ZSet(z)) => (
            z.iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect(),
            Some(true),
        ),
        Some(_) => return Err(RedisError::WrongType),
    })
}

/// Substitute the first `*` of `pattern` with `elem` and read that key
/// (or hash field after `->`). `#` returns the element itself.
fn lookup(ctx: &Ctx, db: &Db, pattern: &[u8], elem: &[u8]) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(Bytes::copy_from_slice(elem));
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let arrow = pattern
        .windows(2)
        .rposition(|w| w == b"->")
        .filter(|&p| p > star && p + 2 < pattern.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = pattern[..star].to_vec();
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let mut g = ctx.lock(db, &[&key]);
    match (g.value(&key)?, arrow) {
        (Value::Str(s), None) => Some(s.to_bytes()),
        (Value::Hash(h), Some(p)) => h.get(&pattern[p + 2..]).map(Bytes::copy_from_slice),
        _ => None,
    }
}

fn sort_generic(ctx: &mut Ctx, argv: &[Bytes], read_only: bool) -> CmdResult {
    let mut o = parse(argv, read_only)?;
    let db = ctx.db();
    let (mut elems, kind) = {
        let mut g = ctx.lock(&db, &argv[1..2]);
        source(&mut g, &argv[1])?
    };
    let is_zset = kind == Some(true);
    let mut dont_sort = o.by.as_ref().is_some_and(|b| !b.contains(&b'*'));
    if dont_sort && kind == Some(false) && (o.store.is_some() || ctx.sess.in_script) {
        // A set's order is random: Redis sorts it (ALPHA, by element)
        // when the result is stored or read by a script, so replicas and
        // the AOF agree.
        dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    if !dont_sort {
        sort_elements(ctx, &db, &mut elems, &o)?;
    } else if is_zset && o.desc {
        elems.reverse();
    }
    let (start, count) = window(elems.len(), o.limit);
    let picked = &elems[start..start + count];
    let mut out: Vec<Option<Bytes>> = Vec::new();
    for e in picked {
        if o.gets.is_empty() {
            out.push(Some(e.clone()));
        }
        for p in &o.gets {
            out.push(lookup(ctx, &db, p, e));
        }
    }
    match &o.store {
        Some(dst) => store(ctx, &db, dst, out),
        None => Ok(Reply::Array(
            out.into_iter()
                .map(|v| v.map_or(Reply::Nil, Reply::Bulk))
                .collect(),
        )),
    }
}

fn sort_elements(ctx: &Ctx, db: &Db, elems: &mut Vec<Bytes>, o: &Opts) -> Result<(), RedisError> {
    let weights: Vec<Option<Bytes>> = match &o.by {
        Some(p) => elems.iter().map(|e| lookup(ctx, db, p, e)).collect(),
        None => elems.iter().map(|e| Some(e.clone())).collect(),
    };
    let mut rows: Vec<(Bytes, Option<Bytes>, f64)> = Vec::with_capacity(elems.len());
    for (e, w) in elems.drain(..).zip(weights) {
        let score = if o.alpha {
            0.0
        } else {
            match &w {
                None => 0.0,
                Some(b) => crate::util::numparse::parse_f64(b).ok_or_else(|| {
                    RedisError::err("One or more scores can't be converted into double")
                })?,
            }
        };
        rows.push((e, w, score));
    }
    rows.sort_by(|a, b| {
        let ord = if o.alpha {
            match (&a.1, &b.1) {
                (Some(x), Some(y)) => x.cmp(y),
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        } else {
            a.2.partial_cmp(&b.2).unwrap_or(std::cmp::Ordering::Equal)
        };
        // Equal weights fall back to the elements themselves (deterministic).
        let ord = ord.then_with(|| a.0.cmp(&b.0));
        if o.desc {
            ord.reverse()
        } else {
            ord
        }
    });
    elems.extend(rows.into_iter().map(|r| r.0));
    Ok(())
}

/// LIMIT offset count → (start, len) within `n` elements.
fn window(n: usize, limit: Option<(i64, i64)>) -> (usize, usize) {
    let Some((off, count)) = limit else {
        return (0, n);
    };
    let start = off.max(0) as usize;
    if start >= n {
        return (n, 0);
    }
    let avail = n - start;
    let count = if count < 0 {
        avail
    } else {
        (count as usize).min(avail)
    };
    (start, count)
}

fn store(ctx: &Ctx, db: &Db, dst: &Bytes, out: Vec<Option<Bytes>>) -> CmdResult {
    let n = out.len();
    let mut g = ctx.lock(db, &[dst]);
    if n == 0 {
        if g.remove(dst).is_some() {
            g.notify(crate::notify::class::GENERIC, "del", dst);
            g.propagate(vec![Bytes::from_static(b"DEL"), dst.clone()]);
        }
        return Ok(Reply::Int(0));
    }
    let mut l = ListValue::default();
    l.items.extend(
        out.into_iter()
            .map(|v| v.map_or_else(|| Box::from(&b""[..]), |b| b[..].into())),
    );
    let mut prop = vec![Bytes::from_static(b"RPUSH"), dst.clone()];
    prop.extend(l.items.iter().map(|b| Bytes::copy_from_slice(b)));
    g.insert(dst, Entry::new(Value::List(Box::new(l))));
    g.notify(crate::notify::class::LIST, "sortstore", dst);
    g.propagate(vec![Bytes::from_static(b"DEL"), dst.clone()]);
    g.propagate(prop);
    Ok(Reply::Int(n as i64))
}

fn sort(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, true)
}
