//! Keyspace iteration (Redis's db.c): KEYS, SCAN, RANDOMKEY.
//!
//! These visit slot shards one at a time under the shared keyspace gate
//! (never holding two slot locks). SCAN's cursor is described in
//! `keyspace/scan.rs`: it encodes the slot plus a resize-stable position
//! inside the slot, so a key present for the whole iteration is always
//! returned. Logically expired keys are never returned.

use bytes::Bytes;
use rand::Rng;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::keyspace::scan::{step, Cursor};
use crate::keyspace::{KeyGuards, SLOTS};
use crate::protocol::Reply;
use crate::util::glob::glob_match;

pub const COMMANDS: &[(&str, Handler)] =
    &[("keys", keys), ("scan", scan), ("randomkey", randomkey)];

/// The shared gate for a read-only walk (None inside EXEC, which holds it).
fn shared_gate<'a>(ctx: &Ctx<'a>) -> Option<parking_lot::RwLockReadGuard<'a, ()>> {
    (!ctx.in_exec).then(|| ctx.ks().gate.read())
}

fn keys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let pat = &argv[1];
    let all = pat.as_ref() == b"*";
    let now = ctx.now_ms;
    let db = ctx.db();
    let _gate = shared_gate(ctx);
    let mut out = Vec::new();
    db.for_each_shard(|_, shard| {
        for (k, e) in shard.iter() {
            if (all || glob_match(pat, k, false)) && !e.is_expired(now) {
                out.push(Reply::Bulk(Bytes::copy_from_slice(k)));
            }
        }
    });
    Ok(Reply::Array(out))
}

/// Parse a cursor like C's strtoul (as Redis does): optional leading
/// whitespace and sign, digits, nothing after; "-N" wraps around.
pub fn parse_cursor(arg: &[u8]) -> CmdResult<u64> {
    let invalid = || RedisError::err("invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let s = arg
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .map_or(&arg[arg.len()..], |i| &arg[i..]);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// SCAN options.
struct ScanOpts {
    count: usize,
    pattern: Option<Bytes>,
    type_name: Option<Bytes>,
}

fn parse_scan_opts(argv: &[Bytes]) -> CmdResult<ScanOpts> {
    let mut o = ScanOpts {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = 2;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        let a = &argv[i];
        if args::is(a, "COUNT") && has_value {
            let n = args::int(&argv[i + 1])?;
            if n < 1 {
                return Err(RedisError::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args::is(a, "MATCH") && has_value {
            let p = &argv[i + 1];
            o.pattern = (p.as_ref() != b"*").then(|| p.clone());
        } else if args::is(a, "TYPE") && has_value {
            o.type_name = Some(argv[i + 1].clone());
        } else {
            return Err(RedisError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let raw = parse_cursor(&argv[1])?;
    let o = parse_scan_opts(argv)?;
    let now = ctx.now_ms;
    let db = ctx.db();
    let _gate = shared_gate(ctx);
    let mut cur = Cursor::decode(raw);
    let mut visited = 0usize;
    let mut out = Vec::new();
    let next = loop {
        let mut resume = None;
        let mut expired = Vec::new();
        {
            let g = db.lock_slot(cur.slot);
            if let Some(shard) = g.as_deref() {
                let s = step(shard, cur.position, o.count - visited, now);
                visited += s.keys.len();
                resume = s.resume;
                expired = s.expired;
                for (k, e) in s.keys {
                    let type_ok = o
                        .type_name
                        .as_ref()
                        .is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
                    let match_ok = o.pattern.as_ref().is_none_or(|p| glob_match(p, k, false));
                    if type_ok && match_ok {
                        out.push(Reply::Bulk(Bytes::copy_from_slice(k)));
                    }
                }
            }
        }
        if !expired.is_empty() {
            // Lazy expiry of what the scan met: deleted and propagated as
            // DEL through the guard. The gate is already held (shared).
            let mut g = KeyGuards::lock_slots(ctx.ks(), &db, now, &[cur.slot], true);
            for k in &expired {
                g.exists(k);
            }
        }
        if let Some(position) = resume {
            break Some(Cursor {
                slot: cur.slot,
                position,
            });
        }
        match Cursor::after_slot(cur.slot) {
            None => break None,
            Some(c) if visited >= o.count => break Some(c),
            Some(c) => cur = c,
        }
    };
    let next = next.map_or(0, Cursor::encode);
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(out),
    ]))
}

fn randomkey(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    if db.is_empty() {
        return Ok(Reply::Nil);
    }
    let _gate = shared_gate(ctx);
    let mut rng = rand::thread_rng();
    let start = rng.gen_range(0..SLOTS);
    for i in 0..SLOTS {
        let slot = ((start + i) % SLOTS) as u16;
        // The gate is already held (shared here, exclusively inside EXEC).
        let mut g = KeyGuards::lock_slots(ctx.ks(), &db, now, &[slot], true);
        let Some((live, expired)) = g.with_shard(|shard| {
            let mut live = Vec::new();
            let mut expired = Vec::new();
            for (k, e) in shard.iter() {
                let dst = if e.is_expired(now) {
                    &mut expired
                } else {
                    &mut live
                };
                dst.push(Bytes::copy_from_slice(k));
            }
            (live, expired)
        }) else {
            continue;
        };
        // Like Redis, expired keys met on the way are deleted (each a
        // plain DEL in the replication stream, never wrapped in MULTI).
        for k in &expired {
            g.exists(k);
        }
        if !live.is_empty() {
            let k = live[rng.gen_range(0..live.len())].clone();
            return Ok(Reply::Bulk(k));
        }
    }
    Ok(Reply::Nil)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_parsing_follows_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b" 12"), Ok(12));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"abc"[..],
            b"1a",
            b"18446744073709551616",
            b"-",
            b" ",
            b"1 ",
        ] {
            assert!(parse_cursor(bad).is_err(), "{:?}", bad);
        }
    }
}
