//! MEMORY USAGE: an estimate of the bytes a key and its value occupy
//! (allocation sizes rounded up to jemalloc's 16-byte classes, plus the
//! per-key entry overhead). Large collections are sampled like Redis
//! (SAMPLES, default 5; 0 = all elements). The rest of MEMORY (STATS,
//! DOCTOR, PURGE) comes with the memory work (issue 7).

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::types::{StrValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[("memory|usage", usage)];

/// Per-key overhead: the map slot (key pointer + entry) and its allocation.
const ENTRY_OVERHEAD: usize = 56;

fn alloc(n: usize) -> usize {
    n.div_ceil(16) * 16
}

/// Average element size from the first `samples` elements, times the count.
fn sampled<I: Iterator<Item = usize>>(it: I, len: usize, samples: usize) -> usize {
    let take = if samples == 0 { len } else { samples.min(len) };
    if take == 0 {
        return 0;
    }
    let sum: usize = it.take(take).sum();
    sum * len / take
}

fn value_size(v: &Value, samples: usize) -> usize {
    match v {
        Value::Str(StrValue::Int(_)) => 0,
        Value::Str(s) => alloc(s.len()),
        Value::List(l) => {
            32 + sampled(
                l.items.iter().map(|b| alloc(b.len()) + 16),
                l.len(),
                samples,
            )
        }
        Value::Hash(h) => {
            48 + sampled(
                h.iter().map(|(f, x)| f.len() + x.len() + 4),
                h.len(),
                samples,
            )
        }
        Value::Set(s) => {
            48 + sampled(
                s.members().iter().map(|m| alloc(m.len()) + 16),
                s.len(),
                samples,
            )
        }
        Value::ZSet(z) => 48 + sampled(z.iter().map(|(m, _)| m.len() + 48), z.len(), samples),
    }
}

fn usage(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut samples = 5usize;
    let mut i = 3;
    while i < argv.len() {
        if args::is(&argv[i], "SAMPLES") && i + 1 < argv.len() {
            let n = args::int(&argv[i + 1])?;
            if n < 0 {
                return Err(RedisError::Syntax);
            }
            samples = n as usize;
            i += 2;
        } else {
            return Err(RedisError::Syntax);
        }
    }
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[2..3]);
    let Some(e) = g.peek(&argv[2]) else {
        return Ok(Reply::Nil);
    };
    let n = ENTRY_OVERHEAD + alloc(argv[2].len()) + value_size(&e.value, samples);
    Ok(Reply::Int(n as i64))
}
