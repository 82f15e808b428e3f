//! DEBUG subcommands that inspect or generate data (Redis's debug.c):
//! OBJECT, LISTPACK, QUICKLIST, QUICKLIST-PACKED-THRESHOLD
//! (DIGEST, DIGEST-VALUE and POPULATE live in `digest.rs`).
//!
//! Shoal's compact encodings are not Redis's byte layouts, so DEBUG
//! LISTPACK/QUICKLIST print nothing but reply as Redis does.

use bytes::Bytes;

use super::ctx::Ctx;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::types::{Entry, Value};

/// The entry of `key` as stored, logically expired or not (DEBUG looks
/// keys up without expiring them).
fn raw_entry<R>(ctx: &Ctx, key: &[u8], f: impl FnOnce(Option<&Entry>) -> R) -> R {
    let db = ctx.db();
    let g = db.lock_slot(crate::keyspace::key_slot(key));
    f(g.as_ref().and_then(|s| s.get(key)))
}

/// DEBUG OBJECT key: Redis's one-line description. The address is the
/// value's slot in the keyspace, stable while the key is modified in place.
pub fn object(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let line = raw_entry(ctx, key, |e| {
        e.map(|e| {
            let len = crate::persistence::rdb::payload::dump(&e.value, false)
                .len()
                .saturating_sub(11);
            let ql = match &e.value {
                Value::List(l) => format!(
                    " ql_nodes:1 ql_avg_node:{:.2} ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:{}",
                    l.len() as f64,
                    l.items.iter().map(|i| i.len()).sum::<usize>()
                ),
                _ => String::new(),
            };
            format!(
                "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}{}",
                &e.value,
                e.value.encoding(),
                len,
                e.lru & crate::keyspace::access::LRU_CLOCK_MAX,
                crate::keyspace::access::idle_secs(e.lru),
                ql
            )
        })
    });
    line.map(Reply::StatusOwned).ok_or(RedisError::NoSuchKey)
}

/// DEBUG LISTPACK / QUICKLIST key: Redis prints the structure to stdout.
pub fn structure(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let quicklist = args::is(&argv[1], "QUICKLIST");
    let enc = raw_entry(ctx, &argv[2], |e| e.map(|e| e.value.encoding()));
    let enc = enc.ok_or(RedisError::NoSuchKey)?;
    match (quicklist, enc) {
        (true, "quicklist") => Ok(Reply::Status("Quicklist structure printed on stdout")),
        (true, _) => Err(RedisError::err("Not a quicklist encoded object.")),
        (false, "listpack") => Ok(Reply::Status("Listpack structure printed on stdout")),
        (false, _) => Err(RedisError::err("Not a listpack encoded object.")),
    }
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD size: validated like Redis (0 means
/// the default; lists are not stored as quicklists, so nothing changes).
pub fn packed_threshold(arg: &[u8]) -> CmdResult {
    let sz = crate::config::spec::parse_memory(&args::text(arg));
    match sz {
        Some(s) if (0..=(1i64 << 32) - (1 << 20)).contains(&s) => Ok(Reply::OK),
        _ => Err(RedisError::err(
            "argument must be a memory value bigger than 1 and smaller than 4gb",
        )),
    }
}
