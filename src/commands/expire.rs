//! Key expiry commands (Redis's expire.c): EXPIRE, PEXPIRE, EXPIREAT,
//! PEXPIREAT with NX/XX/GT/LT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! Propagation mirrors Redis 7.0: a new expiry is replicated as
//! `PEXPIREAT key <abs ms> [flags]`, and a time already in the past
//! deletes the key and is replicated as `DEL key`. The active expiry
//! cycle itself lives in `src/expire.rs`.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
];

/// NX/XX/GT/LT flags of the EXPIRE family.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExpireFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

impl ExpireFlags {
    /// Parse the options after `key time`, with Redis's error texts.
    pub fn parse(opts: &[Bytes]) -> CmdResult<ExpireFlags> {
        let mut f = ExpireFlags::default();
        for o in opts {
            if args::is(o, "NX") {
                f.nx = true;
            } else if args::is(o, "XX") {
                f.xx = true;
            } else if args::is(o, "GT") {
                f.gt = true;
            } else if args::is(o, "LT") {
                f.lt = true;
            } else {
                return Err(RedisError::err(format!(
                    "Unsupported option {}",
                    args::text(o)
                )));
            }
        }
        if f.nx && (f.xx || f.gt || f.lt) {
            return Err(RedisError::err(
                "NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if f.gt && f.lt {
            return Err(RedisError::err(
                "GT and LT options at the same time are not compatible",
            ));
        }
        Ok(f)
    }

    /// May a key whose expiry is `current` (None = persistent) get `when`?
    /// A persistent key counts as an infinite TTL for GT and LT.
    pub fn allows(self, current: Option<i64>, when: i64) -> bool {
        if self.nx && current.is_some() {
            return false;
        }
        if self.xx && current.is_none() {
            return false;
        }
        if self.gt && current.is_none_or(|c| when <= c) {
            return false;
        }
        if self.lt && current.is_some_and(|c| when >= c) {
            return false;
        }
        true
    }
}

/// Absolute expiry in ms from the `time` argument, or Redis's
/// "invalid expire time" error on overflow. Negative results are allowed
/// (they delete the key).
pub fn absolute_ms(arg: &[u8], unit_ms: i64, base_ms: i64, cmd: &'static str) -> CmdResult<i64> {
    let when = args::int(arg)?;
    let invalid = || RedisError::InvalidExpire(cmd);
    let when = when.checked_mul(unit_ms).ok_or_else(invalid)?;
    // Redis only rejects overflow above LLONG_MAX when adding the base.
    if base_ms > 0 && when > i64::MAX - base_ms {
        return Err(invalid());
    }
    Ok(when + base_ms)
}

fn expire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms as i64;
    expire_generic(ctx, argv, 1000, now, "expire")
}

fn pexpire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms as i64;
    expire_generic(ctx, argv, 1, now, "pexpire")
}

fn expireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, 1000, 0, "expireat")
}

fn pexpireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, 1, 0, "pexpireat")
}

/// The body shared by the four EXPIRE commands.
fn expire_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    unit_ms: i64,
    base_ms: i64,
    cmd: &'static str,
) -> CmdResult {
    let flags = ExpireFlags::parse(&argv[3..])?;
    let when = absolute_ms(&argv[2], unit_ms, base_ms, cmd)?;
    let key = &argv[1];
    let replica = ctx.ks().is_replica() || ctx.ks().is_loading();
    let now = ctx.now_ms as i64;
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let Some(e) = g.peek(key) else {
        return Ok(Reply::Int(0));
    };
    let current = (e.expire_at != 0).then_some(e.expire_at as i64);
    if !flags.allows(current, when) {
        return Ok(Reply::Int(0));
    }
    // A past time deletes at once, except on a replica, which waits for
    // its primary's DEL (Redis's checkAlreadyExpired).
    if when <= now && !replica {
        g.remove(key);
        g.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        return Ok(Reply::Int(1));
    }
    // A past time on a replica is stored as is; 0 would mean "no expiry".
    g.set_expire(key, when.max(1) as u64);
    let mut prop = argv.to_vec();
    prop[0] = Bytes::from_static(b"PEXPIREAT");
    prop[2] = Bytes::from(when.to_string());
    g.propagate(prop);
    Ok(Reply::Int(1))
}

/// -2 for a missing key, -1 without expiry, else `f(expire_at_ms)`.
fn ttl_generic(ctx: &mut Ctx, argv: &[Bytes], f: impl FnOnce(i64) -> i64) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    Ok(Reply::Int(match g.peek(&argv[1]) {
        None => -2,
        Some(e) if e.expire_at == 0 => -1,
        Some(e) => f(e.expire_at as i64),
    }))
}

fn ttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms as i64;
    // Rounded to the nearest second, as Redis does.
    ttl_generic(ctx, argv, |at| ((at - now).max(0) + 500) / 1000)
}

fn pttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms as i64;
    ttl_generic(ctx, argv, |at| (at - now).max(0))
}

fn expiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, |at| at / 1000)
}

fn pexpiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, |at| at)
}

fn persist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..2]);
    let has_ttl = g.peek(key).is_some_and(|e| e.expire_at != 0);
    if !has_ttl {
        return Ok(Reply::Int(0));
    }
    g.set_expire(key, 0);
    g.propagate(argv.to_vec());
    Ok(Reply::Int(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(opts: &[&str]) -> CmdResult<ExpireFlags> {
        let v: Vec<Bytes> = opts.iter().map(|s| Bytes::from(s.to_string())).collect();
        ExpireFlags::parse(&v)
    }

    #[test]
    fn flag_errors_match_redis() {
        let e = |o: &[&str]| flags(o).unwrap_err().to_string();
        assert_eq!(
            e(&["nx", "xx"]),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            e(&["gt", "LT"]),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(e(&["foo"]), "ERR Unsupported option foo");
        assert!(flags(&["xx", "gt"]).is_ok());
    }

    #[test]
    fn gt_lt_treat_persistent_as_infinite() {
        let gt = flags(&["gt"]).unwrap();
        let lt = flags(&["lt"]).unwrap();
        assert!(!gt.allows(None, 100));
        assert!(lt.allows(None, 100));
        assert!(gt.allows(Some(50), 100));
        assert!(!gt.allows(Some(100), 100));
        assert!(!lt.allows(Some(100), 100));
        assert!(lt.allows(Some(101), 100));
    }

    #[test]
    fn absolute_time_overflow() {
        assert_eq!(absolute_ms(b"10", 1000, 5, "expire"), Ok(10_005));
        assert_eq!(absolute_ms(b"-10", 1000, 0, "expire"), Ok(-10_000));
        assert!(absolute_ms(b"9223372036854775807", 1000, 0, "expire").is_err());
        assert!(absolute_ms(b"9223372036854775807", 1, 1, "pexpire").is_err());
        assert_eq!(
            absolute_ms(b"9223372036854775807", 1, 0, "pexpireat"),
            Ok(i64::MAX)
        );
        assert_eq!(
            absolute_ms(b"x", 1, 0, "pexpire"),
            Err(RedisError::NotInteger)
        );
    }
}
