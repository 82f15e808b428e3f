//! DUMP and RESTORE / RESTORE-ASKING (Redis's cluster.c): values travel as
//! DUMP payloads (`persistence::rdb::payload`), byte-compatible with Redis
//! 7.0 in both directions. RESTORE is propagated with an absolute TTL
//! (`ABSTTL` appended) so replicas and the AOF replay it identically.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::access;
use crate::persistence::rdb::{payload, Limits};
use crate::protocol::Reply;
use crate::types::Entry;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("dump", dump),
    ("restore", restore),
    ("restore-asking", restore),
];

fn dump(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let compress = ctx.srv.config.get_bool("rdbcompression");
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    Ok(match g.get(&argv[1]) {
        Some(e) => Reply::Bulk(payload::dump(&e.value, compress).into()),
        None => Reply::Nil,
    })
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    idle: Option<i64>,
    freq: Option<i64>,
}

fn parse_opts(argv: &[Bytes]) -> CmdResult<RestoreOpts> {
    let mut o = RestoreOpts::default();
    let mut j = 4;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let a = &argv[j];
        if args::is(a, "REPLACE") {
            o.replace = true;
        } else if args::is(a, "ABSTTL") {
            o.absttl = true;
        } else if args::is(a, "IDLETIME") && more && o.freq.is_none() {
            let v = args::int(&argv[j + 1])?;
            if v < 0 {
                return Err(RedisError::err("Invalid IDLETIME value, must be >= 0"));
            }
            o.idle = Some(v);
            j += 1;
        } else if args::is(a, "FREQ") && more && o.idle.is_none() {
            let v = args::int(&argv[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(RedisError::err(
                    "Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            o.freq = Some(v);
            j += 1;
        } else {
            return Err(RedisError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Access metadata for a restored key (objectSetLRUOrLFU): FREQ counts
/// under an LFU policy, IDLETIME under any other.
fn access_meta(o: &RestoreOpts, now_ms: u64) -> u32 {
    if access::lfu_mode() {
        if let Some(f) = o.freq {
            let minutes = ((now_ms / 60_000) as u32) & 0xFFFF;
            return (minutes << 8) | f as u32;
        }
    } else if let Some(idle) = o.idle {
        let clock = i64::from(access::lru_clock());
        let mut abs = clock - idle;
        if abs < 0 {
            abs += i64::from(access::LRU_CLOCK_MAX);
        }
        return abs.max(0) as u32;
    }
    0
}

fn restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = parse_opts(argv)?;
    let key = &argv[1];
    let db = ctx.db();
    let limits = Limits::from_config(&ctx.srv.config);
    let replica = ctx.ks().is_replica();
    let mut g = ctx.lock(&db, &argv[1..2]);
    if !o.replace && g.exists(key) {
        return Err(RedisError::BusyKey);
    }
    let ttl = args::int(&argv[2])?;
    if ttl < 0 {
        return Err(RedisError::err("Invalid TTL value, must be >= 0"));
    }
    let Some(body) = payload::verify(
        &argv[3],
        payload::SKIP_CHECKSUM.load(std::sync::atomic::Ordering::Relaxed),
    ) else {
        return Err(RedisError::err(
            "DUMP payload version or checksum are wrong",
        ));
    };
    let value = payload::load(body, limits).map_err(|_| RedisError::err("Bad data format"))?;
    let deleted = o.replace && g.remove(key).is_some();
    let now = g.now();
    let at = match (ttl, o.absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => (t as u64).saturating_add(now),
    };
    // An expiry already in the past: the key is not created (a replica
    // keeps it and waits for the primary's DEL).
    if at != 0 && at <= now && !replica {
        if deleted {
            g.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        return Ok(Reply::OK);
    }
    let mut e = Entry::new(value);
    e.expire_at = at;
    e.lru = access_meta(&o, ctx.now_ms);
    g.insert(key, e);
    let mut prop = argv.to_vec();
    if at != 0 && !o.absttl {
        prop[2] = Bytes::from(at.to_string());
        prop.push(Bytes::from_static(b"ABSTTL"));
    }
    g.propagate(prop);
    Ok(Reply::OK)
}
