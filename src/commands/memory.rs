//! MEMORY: USAGE (an estimate of the bytes a key and its value occupy:
//! allocations rounded to jemalloc's size classes plus the per-key node
//! and table slot; large collections are sampled like Redis, SAMPLES
//! default 5, 0 = all elements), STATS, DOCTOR, PURGE, MALLOC-STATS and
//! HELP with Redis 7.0's replies (object.c).

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::info::resources;
use crate::protocol::Reply;
use crate::types::{HashValue, SetValue, StrValue, Value, ZSetValue};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("memory|usage", usage),
    ("memory|stats", stats),
    ("memory|doctor", doctor),
    ("memory|purge", purge),
    ("memory|malloc-stats", malloc_stats),
    ("memory|help", help),
];

/// Per-key overhead: the 64-byte node (key and entry) in its shard's node
/// vector plus the shard's one tag byte (keyspace::nodes).
const ENTRY_OVERHEAD: usize = 65;

/// Heap bytes of a key name: none when it fits inside the node.
fn key_size(len: usize) -> usize {
    if len <= crate::keyspace::key::INLINE_MAX {
        0
    } else {
        alloc(len)
    }
}

fn alloc(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        crate::util::alloc::size_class(n)
    }
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

/// Heap bytes of a value. Packed encodings (listpack, intset, the small
/// string set) are one buffer each and are measured exactly; tables are
/// estimated from sampled elements like Redis's objectComputeSize.
fn value_size(v: &Value, samples: usize) -> usize {
    match v {
        Value::Str(StrValue::Int(_) | StrValue::Inline(_)) => 0,
        Value::Str(s) => alloc(s.len()),
        Value::List(l) => {
            32 + sampled(
                l.items.iter().map(|b| alloc(b.len()) + 16),
                l.len(),
                samples,
            )
        }
        Value::Hash(HashValue::Listpack(p)) => alloc(p.byte_len()),
        Value::Hash(h) => {
            48 + sampled(
                h.iter().map(|(f, x)| f.len() + x.len() + 4),
                h.len(),
                samples,
            )
        }
        Value::Set(SetValue::Intset(i)) => alloc(i.byte_len()),
        Value::Set(SetValue::Small(p)) => alloc(p.byte_len()),
        Value::Set(s) => {
            48 + sampled(
                s.members().iter().map(|m| alloc(m.len()) + 16),
                s.len(),
                samples,
            )
        }
        Value::ZSet(ZSetValue::Listpack(l)) => alloc(l.byte_len()),
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
    let n = ENTRY_OVERHEAD + key_size(argv[2].len()) + value_size(&e.value, samples);
    Ok(Reply::Int(n as i64))
}

fn stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let o = resources::overhead(ctx.srv);
    let net = o.used.saturating_sub(o.startup);
    let dataset = o.used - o.total;
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let int = |n: u64| Reply::Int(n as i64);
    let diff = |a: u64, b: u64| Reply::Int(a as i64 - b as i64);
    let a = o.alloc;
    let mut m: Vec<(Reply, Reply)> = Vec::new();
    let mut put = |k: &str, v: Reply| m.push((Reply::bulk_str(k), v));
    put("peak.allocated", int(o.peak));
    put("total.allocated", int(o.used));
    put("startup.allocated", int(o.startup));
    put("replication.backlog", int(0));
    put("clients.slaves", int(0));
    put("clients.normal", int(o.clients_normal));
    put("cluster.links", int(0));
    put("aof.buffer", int(0));
    put("lua.caches", int(0));
    put("functions.caches", int(0));
    for &(db, _, table) in &o.dbs {
        let inner = vec![
            (Reply::bulk_str("overhead.hashtable.main"), int(table)),
            (Reply::bulk_str("overhead.hashtable.expires"), int(0)),
            (Reply::bulk_str("overhead.hashtable.slot-to-keys"), int(0)),
        ];
        put(&format!("db.{db}"), Reply::Map(inner));
    }
    put("overhead.total", int(o.total));
    put("keys.count", int(o.keys));
    put(
        "keys.bytes-per-key",
        int(net.checked_div(o.keys).unwrap_or(0)),
    );
    put("dataset.bytes", int(dataset));
    put("dataset.percentage", Reply::Double(pct(dataset, net)));
    put("peak.percentage", Reply::Double(pct(o.used, o.peak)));
    put("allocator.allocated", int(a.allocated));
    put("allocator.active", int(a.active));
    put("allocator.resident", int(a.resident));
    put(
        "allocator-fragmentation.ratio",
        Reply::Double(ratio(a.active, a.allocated)),
    );
    put("allocator-fragmentation.bytes", diff(a.active, a.allocated));
    put(
        "allocator.rss-ratio",
        Reply::Double(ratio(a.resident, a.active)),
    );
    put("allocator.rss-bytes", diff(a.resident, a.active));
    put(
        "rss-overhead.ratio",
        Reply::Double(ratio(o.rss, a.resident)),
    );
    put("rss-overhead.bytes", diff(o.rss, a.resident));
    put("fragmentation", Reply::Double(ratio(o.rss, o.used)));
    put("fragmentation.bytes", diff(o.rss, o.used));
    Ok(Reply::Map(m))
}

const DOCTOR_EMPTY: &str = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
const DOCTOR_FINE: &str = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";

/// Redis's getMemoryDoctorReport checks, on our figures.
fn doctor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    const MB10: u64 = 10 << 20;
    let o = resources::overhead(ctx.srv);
    let a = o.alloc;
    let over = |x: u64, y: u64, r: f64| y > 0 && x as f64 / y as f64 > r && x > y + MB10;
    let text = if o.used < 5 << 20 {
        DOCTOR_EMPTY.to_string()
    } else {
        let clients = ctx.srv.clients.snapshot().len().max(1) as u64;
        let checks = [
            (o.peak as f64 / o.used as f64 > 1.5, " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n"),
            (over(o.rss, o.used, 1.4), " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc-5.3.0\".\n\n"),
            (over(a.active, a.allocated, 1.1), " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n"),
            (over(a.resident, a.active, 1.1), " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n"),
            (over(o.rss, a.resident, 1.1), " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n"),
            (o.clients_normal / clients > 200 * 1024, " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n"),
        ];
        let found: Vec<&str> = checks.iter().filter(|c| c.0).map(|c| c.1).collect();
        if found.is_empty() {
            DOCTOR_FINE.to_string()
        } else {
            let mut s = String::from(
                "Sam, I detected a few issues in this Redis instance memory implants:\n\n",
            );
            found.iter().for_each(|f| s.push_str(f));
            s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
            s
        }
    };
    Ok(Reply::Verbatim(Bytes::from(text)))
}

fn purge(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    crate::util::alloc::purge();
    Ok(Reply::OK)
}

fn malloc_stats(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // jemalloc's report carries its own begin/end banners.
    Ok(Reply::Verbatim(Bytes::from(
        crate::util::alloc::malloc_stats(),
    )))
}

fn help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        LINES.iter().map(|l| Reply::Status(l)).collect(),
    ))
}
