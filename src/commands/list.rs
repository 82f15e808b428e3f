//! List commands (Redis's t_list.c) except the blocking ones
//! (`list_block.rs`): pushes, pops, ranges, LPOS, LMOVE, LMPOP.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::KeyGuards;
use crate::notify::class::{GENERIC, LIST};
use crate::protocol::Reply;
use crate::types::{Entry, ListValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lindex", lindex),
    ("lset", lset),
    ("lrange", lrange),
    ("ltrim", ltrim),
    ("linsert", linsert),
    ("lrem", lrem),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
];

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    pub fn parse(a: &[u8]) -> Option<End> {
        if args::is(a, "LEFT") {
            Some(End::Left)
        } else if args::is(a, "RIGHT") {
            Some(End::Right)
        } else {
            None
        }
    }

    /// The keyspace events of a pop and a push at this end.
    pub fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }

    pub fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    pub fn pop_name(self) -> &'static [u8] {
        match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        }
    }
}

/// The list at `key`: Ok(None) when missing, WRONGTYPE for other types.
pub fn list_mut<'g>(
    g: &'g mut KeyGuards,
    key: &[u8],
) -> Result<Option<&'g mut ListValue>, RedisError> {
    match g.get_mut(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::List(l),
            ..
        }) => Ok(Some(l)),
        Some(_) => Err(RedisError::WrongType),
    }
}

fn push_generic(ctx: &mut Ctx, argv: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let len = match list_mut(&mut g, key)? {
        Some(l) => push_all(l, &argv[2..], end),
        None if only_existing => return Ok(Reply::Int(0)),
        None => {
            let mut l = ListValue::default();
            let n = push_all(&mut l, &argv[2..], end);
            g.insert(key, Entry::new(Value::List(Box::new(l))));
            n
        }
    };
    g.touched(key);
    g.notify(LIST, end.push_event(), key);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(len as i64))
}

fn push_all(l: &mut ListValue, items: &[Bytes], end: End) -> usize {
    for it in items {
        let b: Box<[u8]> = it[..].into();
        match end {
            End::Left => l.items.push_front(b),
            End::Right => l.items.push_back(b),
        }
    }
    l.len()
}

fn lpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Left, false)
}

fn rpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Right, false)
}

fn lpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Left, true)
}

fn rpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Right, true)
}

/// Pop up to `count` items from `key`, deleting the key when emptied,
/// and report the pop (and `del`). Returns None when the key is missing.
pub fn pop_items(
    g: &mut KeyGuards,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Bytes>>, RedisError> {
    let Some(l) = list_mut(g, key)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(count.min(l.len()));
    for _ in 0..count {
        let it = match end {
            End::Left => l.items.pop_front(),
            End::Right => l.items.pop_back(),
        };
        match it {
            Some(b) => out.push(Bytes::from(b.into_vec())),
            None => break,
        }
    }
    let empty = l.is_empty();
    if !out.is_empty() {
        g.notify(LIST, end.pop_event(), key);
    }
    if empty {
        g.remove(key);
        g.notify(GENERIC, "del", key);
    } else {
        g.touched(key);
    }
    Ok(Some(out))
}

fn pop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(RedisError::arity(&argv[0]));
    }
    let count = match argv.get(2) {
        Some(c) => {
            let n = args::int(c)
                .map_err(|_| RedisError::err("value is out of range, must be positive"))?;
            if n < 0 {
                return Err(RedisError::err("value is out of range, must be positive"));
            }
            Some(n as usize)
        }
        None => None,
    };
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(items) = pop_items(&mut g, key, end, count.unwrap_or(1))? else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    if !items.is_empty() {
        g.propagate(argv.to_vec());
    }
    Ok(match count {
        None => items.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
        Some(_) => Reply::bulks(items),
    })
}

fn lpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Left)
}

fn rpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Right)
}

fn llen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    Ok(Reply::Int(
        list_mut(&mut g, &argv[1])?.map_or(0, |l| l.len() as i64),
    ))
}

/// Resolve a possibly negative index; None when out of range.
fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let i = args::int(&argv[2])?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(l) = list_mut(&mut g, &argv[1])? else {
        return Ok(Reply::Nil);
    };
    Ok(index(l.len(), i).map_or(Reply::Nil, |i| {
        Reply::Bulk(Bytes::copy_from_slice(&l.items[i]))
    }))
}

fn lset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let i = args::int(&argv[2])?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(l) = list_mut(&mut g, &argv[1])? else {
        return Err(RedisError::NoSuchKey);
    };
    let Some(i) = index(l.len(), i) else {
        return Err(RedisError::err("index out of range"));
    };
    l.items[i] = argv[3][..].into();
    g.touched(&argv[1]);
    g.notify(LIST, "lset", &argv[1]);
    g.propagate(argv.to_vec());
    Ok(Reply::OK)
}

/// Clamp a [start, stop] range like Redis; None when empty.
pub fn clamp_range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

fn lrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (start, stop) = (args::int(&argv[2])?, args::int(&argv[3])?);
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(l) = list_mut(&mut g, &argv[1])? else {
        return Ok(Reply::empty_array());
    };
    let Some((s, e)) = clamp_range(l.len(), start, stop) else {
        return Ok(Reply::empty_array());
    };
    Ok(Reply::bulks(
        l.items.range(s..=e).map(|b| Bytes::copy_from_slice(b)),
    ))
}

fn ltrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (start, stop) = (args::int(&argv[2])?, args::int(&argv[3])?);
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(l) = list_mut(&mut g, key)? else {
        return Ok(Reply::OK);
    };
    match clamp_range(l.len(), start, stop) {
        Some((s, e)) => {
            l.items.truncate(e + 1);
            l.items.drain(..s);
        }
        None => l.items.clear(),
    }
    let empty = l.is_empty();
    g.notify(LIST, "ltrim", key);
    if empty {
        g.remove(key);
        g.notify(GENERIC, "del", key);
    } else {
        g.touched(key);
    }
    g.propagate(argv.to_vec());
    Ok(Reply::OK)
}

fn linsert(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let after = if args::is(&argv[2], "AFTER") {
        true
    } else if args::is(&argv[2], "BEFORE") {
        false
    } else {
        return Err(RedisError::Syntax);
    };
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(l) = list_mut(&mut g, key)? else {
        return Ok(Reply::Int(0));
    };
    let Some(pos) = l.items.iter().position(|x| x[..] == argv[3][..]) else {
        return Ok(Reply::Int(-1));
    };
    l.items
        .insert(if after { pos + 1 } else { pos }, argv[4][..].into());
    let len = l.len();
    g.touched(key);
    g.notify(LIST, "linsert", key);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(len as i64))
}

fn lrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = args::int(&argv[2])?;
    let key = &argv[1];
    let elem = &argv[3][..];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(l) = list_mut(&mut g, key)? else {
        return Ok(Reply::Int(0));
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut removed = 0usize;
    if count >= 0 {
        let mut i = 0;
        while i < l.items.len() && removed < limit {
            if &l.items[i][..] == elem {
                l.items.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
    } else {
        let mut i = l.items.len();
        while i > 0 && removed < limit {
            i -= 1;
            if &l.items[i][..] == elem {
                l.items.remove(i);
                removed += 1;
            }
        }
    }
    if removed > 0 {
        let empty = l.is_empty();
        g.notify(LIST, "lrem", key);
        if empty {
            g.remove(key);
            g.notify(GENERIC, "del", key);
        } else {
            g.touched(key);
        }
        g.propagate(argv.to_vec());
    }
    Ok(Reply::Int(removed as i64))
}

fn lpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut i = 3;
    while i < argv.len() {
        let val = argv.get(i + 1).ok_or(RedisError::Syntax)?;
        if args::is(&argv[i], "RANK") {
            rank = args::int(val)?;
            if rank == 0 {
                return Err(RedisError::err("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
            }
            if rank == i64::MIN {
                // Redis 7.0 negates LONG_MIN and ends up behaving like -1.
                rank = -1;
            }
        } else if args::is(&argv[i], "COUNT") {
            let c = args::int(val)?;
            if c < 0 {
                return Err(RedisError::err("COUNT can't be negative"));
            }
            count = Some(c);
        } else if args::is(&argv[i], "MAXLEN") {
            maxlen = args::int(val)?;
            if maxlen < 0 {
                return Err(RedisError::err("MAXLEN can't be negative"));
            }
        } else {
            return Err(RedisError::Syntax);
        }
        i += 2;
    }
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(l) = list_mut(&mut g, &argv[1])? else {
        return Ok(if count.is_some() {
            Reply::empty_array()
        } else {
            Reply::Nil
        });
    };
    let want = match count {
        Some(0) => usize::MAX,
        Some(c) => c as usize,
        None => 1,
    };
    let found = lpos_scan(l, &argv[2], rank, want, maxlen as usize);
    Ok(match count {
        None => found.first().map_or(Reply::Nil, |&p| Reply::Int(p as i64)),
        Some(_) => Reply::Array(found.into_iter().map(|p| Reply::Int(p as i64)).collect()),
    })
}

fn lpos_scan(l: &ListValue, elem: &[u8], rank: i64, want: usize, maxlen: usize) -> Vec<usize> {
    let n = l.len();
    let limit = if maxlen == 0 { n } else { maxlen.min(n) };
    let mut skip = rank.unsigned_abs() - 1;
    let mut out = Vec::new();
    for step in 0..limit {
        let i = if rank > 0 { step } else { n - 1 - step };
        if &l.items[i][..] == elem {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            out.push(i);
            if out.len() >= want {
                break;
            }
        }
    }
    out
}

/// Move one element from `src` to `dst`; shared by LMOVE, RPOPLPUSH and
/// the blocking variants. Returns None when `src` is missing.
pub fn move_one(
    g: &mut KeyGuards,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Bytes>, RedisError> {
    if list_mut(g, src)?.is_none() {
        return Ok(None);
    }
    // Type-check the destination before popping anything.
    list_mut(g, dst)?;
    // Pop without deleting: when `src` is `dst` the list is rotated, not
    // deleted and recreated.
    let (v, src_empty) = match list_mut(g, src)? {
        Some(l) => {
            let v = match from {
                End::Left => l.items.pop_front(),
                End::Right => l.items.pop_back(),
            };
            (v, l.is_empty())
        }
        None => (None, false),
    };
    let Some(v) = v else {
        return Ok(None);
    };
    let v = Bytes::from(v.into_vec());
    let item = std::slice::from_ref(&v);
    match list_mut(g, dst)? {
        Some(l) => {
            push_all(l, item, to);
            g.touched(dst);
        }
        None => {
            let mut l = ListValue::default();
            push_all(&mut l, item, to);
            g.insert(dst, Entry::new(Value::List(Box::new(l))));
        }
    }
    // Redis's order: the push on `dst`, then the pop (and del) on `src`.
    g.notify(LIST, to.push_event(), dst);
    g.notify(LIST, from.pop_event(), src);
    if src_empty && src != dst {
        g.remove(src);
        g.notify(GENERIC, "del", src);
    } else {
        g.touched(src);
    }
    Ok(Some(v))
}

fn lmove_generic(ctx: &mut Ctx, argv: &[Bytes], from: End, to: End) -> CmdResult {
    let keys = [argv[1].clone(), argv[2].clone()];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &keys);
    match move_one(&mut g, &argv[1], &argv[2], from, to)? {
        Some(v) => {
            g.propagate(argv.to_vec());
            Ok(Reply::Bulk(v))
        }
        None => Ok(Reply::Nil),
    }
}

fn lmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (Some(from), Some(to)) = (End::parse(&argv[3]), End::parse(&argv[4])) else {
        return Err(RedisError::Syntax);
    };
    lmove_generic(ctx, argv, from, to)
}

fn rpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    lmove_generic(ctx, argv, End::Right, End::Left)
}

/// Parsed `numkeys key... LEFT|RIGHT [COUNT n]` (LMPOP and BLMPOP).
pub struct MpopArgs {
    pub keys: Vec<Bytes>,
    pub end: End,
    pub count: usize,
}

/// Parse LMPOP-style arguments starting at `argv[first]` (numkeys).
pub fn parse_mpop(argv: &[Bytes], first: usize) -> Result<MpopArgs, RedisError> {
    let numkeys =
        args::int(&argv[first]).map_err(|_| RedisError::err("numkeys should be greater than 0"))?;
    if numkeys <= 0 {
        return Err(RedisError::err("numkeys should be greater than 0"));
    }
    let nk = numkeys as usize;
    let rest = argv.len() - first - 1;
    if nk > rest {
        return Err(RedisError::Syntax);
    }
    let keys = argv[first + 1..first + 1 + nk].to_vec();
    let mut i = first + 1 + nk;
    let end = argv
        .get(i)
        .and_then(|a| End::parse(a))
        .ok_or(RedisError::Syntax)?;
    i += 1;
    let mut count = 1usize;
    let mut seen_count = false;
    while i < argv.len() {
        if args::is(&argv[i], "COUNT") && !seen_count && i + 1 < argv.len() {
            let c = args::int(&argv[i + 1])
                .map_err(|_| RedisError::err("count should be greater than 0"))?;
            if c <= 0 {
                return Err(RedisError::err("count should be greater than 0"));
            }
            count = c as usize;
            seen_count = true;
            i += 2;
        } else {
            return Err(RedisError::Syntax);
        }
    }
    Ok(MpopArgs { keys, end, count })
}

/// Pop from the first non-empty key; returns the `[key, [items]]` reply
/// and propagates the pop as LPOP/RPOP key count.
pub fn mpop_once(g: &mut KeyGuards, a: &MpopArgs) -> Result<Option<Reply>, RedisError> {
    for k in &a.keys {
        if let Some(items) = pop_items(g, k, a.end, a.count)? {
            let n = items.len();
            g.propagate(vec![
                Bytes::from_static(a.end.pop_name()),
                k.clone(),
                Bytes::from(n.to_string()),
            ]);
            return Ok(Some(Reply::Array(vec![
                Reply::Bulk(k.clone()),
                Reply::bulks(items),
            ])));
        }
    }
    Ok(None)
}

fn lmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_mpop(argv, 1)?;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &a.keys);
    Ok(mpop_once(&mut g, &a)?.unwrap_or(Reply::NilArray))
}
