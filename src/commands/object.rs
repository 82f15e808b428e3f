//! OBJECT ENCODING / FREQ / IDLETIME / REFCOUNT / HELP (Redis's object.c).
//!
//! Lookups do not update access metadata (Redis's LOOKUP_NOTOUCH) but do
//! apply lazy expiry. IDLETIME is only tracked under LRU policies and
//! FREQ only under LFU policies; the other one errors with Redis's text.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::access;
use crate::protocol::Reply;
use crate::types::{Entry, StrValue, Value};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("object|encoding", encoding),
    ("object|freq", freq),
    ("object|idletime", idletime),
    ("object|refcount", refcount),
    ("object|help", help),
];

/// Redis's OBJ_SHARED_REFCOUNT, reported for shared integer objects.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Integers 0..OBJ_SHARED_INTEGERS are shared objects in Redis.
const SHARED_INTEGERS: i64 = 10_000;

const SWITCH_NOTE: &str = "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// Run `f` on the entry of argv[2] (no touch), or reply nil.
fn with_entry(ctx: &Ctx, argv: &[Bytes], f: impl FnOnce(&Entry) -> Reply) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[2..3]);
    Ok(g.peek(&argv[2]).map_or(Reply::Nil, f))
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.srv.config.get("maxmemory-policy").contains("lfu")
}

fn encoding(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    with_entry(ctx, argv, |e| Reply::bulk_str(e.value.encoding()))
}

fn idletime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis looks the key up first: a missing key replies nil even under LFU.
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[2..3]);
    let Some(e) = g.peek(&argv[2]) else {
        return Ok(Reply::Nil);
    };
    if lfu_policy(ctx) {
        return Err(RedisError::err(format!(
            "An LFU maxmemory policy is selected, idle time not tracked. {SWITCH_NOTE}"
        )));
    }
    Ok(Reply::Int(access::idle_secs(e.lru) as i64))
}

fn freq(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[2..3]);
    let Some(e) = g.peek(&argv[2]) else {
        return Ok(Reply::Nil);
    };
    if !lfu_policy(ctx) {
        return Err(RedisError::err(format!(
            "An LFU maxmemory policy is not selected, access frequency not tracked. {SWITCH_NOTE}"
        )));
    }
    let decay = ctx.srv.config.get_i64("lfu-decay-time");
    Ok(Reply::Int(i64::from(access::lfu_decayed(e.lru, decay))))
}

fn refcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis shares small integer objects unless maxmemory is set with an
    // LRU/LFU policy (those need per-object access metadata).
    let policy = ctx.srv.config.get("maxmemory-policy");
    let maxmemory = ctx.srv.config.get_i64("maxmemory");
    let sharing = maxmemory == 0 || !(policy.contains("lru") || policy.contains("lfu"));
    with_entry(ctx, argv, |e| {
        let shared = sharing
            && matches!(&e.value, Value::Str(StrValue::Int(n)) if (0..SHARED_INTEGERS).contains(n));
        Reply::Int(if shared { SHARED_REFCOUNT } else { 1 })
    })
}

fn help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        LINES.iter().map(|l| Reply::Status(l)).collect(),
    ))
}
