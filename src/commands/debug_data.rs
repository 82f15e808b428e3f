//! DEBUG subcommands that inspect or generate data (Redis's debug.c):
//! DIGEST, DIGEST-VALUE, OBJECT, POPULATE, LISTPACK, QUICKLIST,
//! QUICKLIST-PACKED-THRESHOLD, STRINGMATCH-TEST, CHANGE-REPL-ID.
//!
//! Digests are content hashes with Redis's shape (20 bytes as hex, all
//! zeros for a missing key or an empty dataset): order-sensitive for
//! strings and lists, order-insensitive for sets and hashes, so a copy,
//! a reload or a replica of a value has the digest of the original.
//! Shoal's compact encodings are not Redis's byte layouts, so DEBUG
//! LISTPACK/QUICKLIST print nothing but reply as Redis does.

use bytes::Bytes;

use super::ctx::Ctx;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::types::{Entry, StrValue, Value};
use crate::util::sha1::{hex, Sha1};

type Digest = [u8; 20];

/// `d = sha1(d ^ sha1(data))`: order-sensitive mixing.
fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, data);
    *d = Sha1::digest(d);
}

/// `d ^= sha1(data)`: order-insensitive mixing.
fn xor(d: &mut Digest, data: &[u8]) {
    for (a, b) in d.iter_mut().zip(Sha1::digest(data)) {
        *a ^= b;
    }
}

fn xor_digest(d: &mut Digest, other: &Digest) {
    for (a, b) in d.iter_mut().zip(other) {
        *a ^= b;
    }
}

/// Mix the digest of a value into `d`.
fn value_digest(d: &mut Digest, v: &Value) {
    match v {
        Value::Str(s) => s.with_bytes(|b| mix(d, b)),
        Value::List(l) => {
            for it in &l.items {
                mix(d, it);
            }
        }
        Value::Set(s) => {
            for m in s.members() {
                xor(d, &m);
            }
        }
        Value::Hash(h) => {
            for (f, val) in h.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, f);
                mix(&mut e, val);
                xor_digest(d, &e);
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, m);
                mix(&mut e, crate::util::numfmt::fmt_g17(score).as_bytes());
                xor_digest(d, &e);
            }
        }
    }
}

/// DEBUG DIGEST: one digest of every key, value and expiry of every db.
pub fn digest(ctx: &mut Ctx) -> CmdResult {
    let _gate = ctx.exclusive();
    let mut total = [0u8; 20];
    for i in 0..ctx.ks().db_count() {
        let db = ctx.ks().db(i);
        if db.is_empty() {
            continue;
        }
        mix(&mut total, &(i as u32).to_le_bytes());
        db.for_each_shard(|_, shard| {
            for (k, e) in shard.iter() {
                let mut kd = [0u8; 20];
                mix(&mut kd, k);
                value_digest(&mut kd, &e.value);
                if e.expire_at != 0 {
                    mix(&mut kd, b"!!expire!!");
                    mix(&mut kd, &e.expire_at.to_le_bytes());
                }
                xor_digest(&mut total, &kd);
            }
        });
    }
    Ok(Reply::StatusOwned(hex(&total)))
}

/// The entry of `key` as stored, logically expired or not (DEBUG looks
/// keys up without expiring them).
fn raw_entry<R>(ctx: &Ctx, key: &[u8], f: impl FnOnce(Option<&Entry>) -> R) -> R {
    let db = ctx.db();
    let g = db.lock_slot(crate::keyspace::key_slot(key));
    f(g.as_ref().and_then(|s| s.get(key)))
}

/// DEBUG DIGEST-VALUE key...: the digest of each value (zeros if missing).
pub fn digest_value(ctx: &mut Ctx, keys: &[Bytes]) -> CmdResult {
    let out = keys
        .iter()
        .map(|k| {
            let mut d = [0u8; 20];
            raw_entry(ctx, k, |e| {
                if let Some(e) = e {
                    value_digest(&mut d, &e.value);
                }
            });
            Reply::StatusOwned(hex(&d))
        })
        .collect();
    Ok(Reply::Array(out))
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

/// DEBUG POPULATE count [prefix] [size]: create `prefix:N` string keys
/// that do not exist yet, with values `value:N` (padded or cut to size).
pub fn populate(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let positive = || RedisError::err("value is out of range, must be positive");
    let count = args::int(&argv[2]).map_err(|_| positive())?;
    let count = u64::try_from(count).map_err(|_| positive())?;
    let size = match argv.get(4) {
        Some(a) => {
            usize::try_from(args::int(a).map_err(|_| positive())?).map_err(|_| positive())?
        }
        None => 0,
    };
    let prefix = argv.get(3).map_or(&b"key"[..], |p| &p[..]);
    let db = ctx.db();
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.push(b':');
        key.extend_from_slice(j.to_string().as_bytes());
        let mut g = ctx.lock(&db, &[&key]);
        if g.exists(&key) {
            continue;
        }
        let mut val = format!("value:{j}").into_bytes();
        if size > 0 {
            val.resize(size, 0);
        }
        g.insert(&key, Entry::new(Value::Str(StrValue::from_bytes(&val))));
    }
    Ok(Reply::OK)
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
