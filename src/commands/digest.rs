//! DEBUG DIGEST / DIGEST-VALUE: a fingerprint of the dataset that is equal
//! for equal contents whatever the encoding or insertion order (sets and
//! hashes are combined order-independently), used by tests to compare a
//! dataset before and after a reload. It is not bit-compatible with
//! Redis's SHA1-based digest; like Redis it is all zeros for an empty
//! dataset and covers key names, types, values and whether a TTL is set.

use std::hash::{Hash, Hasher};

use bytes::Bytes;

use super::ctx::Ctx;
use crate::command::args;
use crate::error::CmdResult;
use crate::keyspace::Keyspace;
use crate::protocol::Reply;
use crate::types::{Entry, StrValue, Value};

fn h(parts: &[&[u8]], salt: u64) -> u64 {
    let mut s = std::collections::hash_map::DefaultHasher::new();
    salt.hash(&mut s);
    for p in parts {
        p.hash(&mut s);
    }
    s.finish()
}

/// 160 bits as three lanes (the last one uses 32 bits).
type Digest = [u64; 3];

fn lanes(parts: &[&[u8]]) -> Digest {
    [h(parts, 1), h(parts, 2), h(parts, 3) & 0xffff_ffff]
}

fn xor(a: &mut Digest, b: Digest) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// Digest of one value (DEBUG DIGEST-VALUE) plus its expiry flag.
pub fn value_digest(v: &Value, has_ttl: bool) -> Digest {
    let mut d = lanes(&[v.type_name().as_bytes()]);
    // Ordered types chain their elements; unordered ones XOR them.
    let chain = |acc: &mut u64, parts: &[&[u8]]| {
        *acc = h(parts, *acc);
    };
    match v {
        Value::Str(s) => xor(&mut d, lanes(&[&s.to_bytes()])),
        Value::List(l) => {
            let mut acc = 0;
            for it in &l.items {
                chain(&mut acc, &[it]);
            }
            xor(&mut d, lanes(&[&acc.to_le_bytes()]));
        }
        Value::ZSet(z) => {
            let mut acc = 0;
            for (m, score) in z.iter() {
                chain(
                    &mut acc,
                    &[m, crate::util::numfmt::fmt_g17(score).as_bytes()],
                );
            }
            xor(&mut d, lanes(&[&acc.to_le_bytes()]));
        }
        Value::Set(s) => {
            for m in s.members() {
                xor(&mut d, lanes(&[b"m", &m]));
            }
        }
        Value::Hash(hv) => {
            for (f, x) in hv.iter() {
                xor(&mut d, lanes(&[b"f", f, x]));
            }
        }
    }
    if has_ttl {
        xor(&mut d, lanes(&[b"!!expire!!"]));
    }
    d
}

fn key_digest(key: &[u8], e: &Entry) -> Digest {
    let v = value_digest(&e.value, e.expire_at != 0);
    let mut d = lanes(&[key]);
    for (x, y) in d.iter_mut().zip(v) {
        *x = h(&[&x.to_le_bytes(), &y.to_le_bytes()], 9);
    }
    d
}

pub fn hex(d: Digest) -> String {
    format!("{:016x}{:016x}{:08x}", d[0], d[1], d[2] as u32)
}

/// DEBUG DIGEST of the whole keyspace.
pub fn dataset(ks: &Keyspace) -> String {
    let mut fin: Digest = [0; 3];
    for i in 0..ks.db_count() {
        let db = ks.db(i);
        if db.is_empty() {
            continue;
        }
        let mut acc: Digest = [0; 3];
        db.for_each_shard(|_, s| {
            for (k, e) in s.iter() {
                xor(&mut acc, key_digest(k, e));
            }
        });
        let idx = (i as u64).to_le_bytes();
        xor(
            &mut fin,
            lanes(&[
                &idx,
                &acc[0].to_le_bytes(),
                &acc[1].to_le_bytes(),
                &acc[2].to_le_bytes(),
            ]),
        );
    }
    hex(fin)
}

/// DEBUG POPULATE count [prefix] [size]: create `prefix:N` = `value:N`
/// (padded with zero bytes or cut to `size`), skipping existing keys.
pub fn populate(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let count = args::int(&a[0])?.max(0);
    let prefix = a.get(1).map_or(&b"key"[..], |p| &p[..]).to_vec();
    let size = match a.get(2) {
        Some(s) => Some(args::int(s)?.max(0) as usize),
        None => None,
    };
    let db = ctx.db();
    for j in 0..count {
        let mut key = prefix.clone();
        key.extend_from_slice(format!(":{j}").as_bytes());
        let mut val = format!("value:{j}").into_bytes();
        if let Some(n) = size {
            val.resize(n, 0);
        }
        let mut g = ctx.lock(&db, &[&key]);
        if !g.exists(&key) {
            g.insert(&key, Entry::new(Value::Str(StrValue::from_bytes(&val))));
        }
    }
    Ok(Reply::OK)
}

/// DEBUG DIGEST-VALUE key...: one digest per key (zeros when missing).
pub fn digest_value(ctx: &mut Ctx, keys: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let mut g = ctx.lock(&db, std::slice::from_ref(k));
        let d = g
            .peek(k)
            .map_or([0; 3], |e| value_digest(&e.value, e.expire_at != 0));
        out.push(Reply::StatusOwned(hex(d)));
    }
    Ok(Reply::Array(out))
}
