//! Keyspace notifications (Redis's notify.c): `notify-keyspace-events`
//! flag parsing and printing, and publication of
//! `__keyspace@<db>__:<key> <event>` / `__keyevent@<db>__:<event> <key>`
//! messages through Pub/Sub.
//!
//! Handlers report events through `KeyGuards::notify` (which also covers
//! the automatic `new` and `expired` events); code that has no guards at
//! hand (active expiry, eviction) calls `Notifier::keyspace_event`. With
//! notifications off (the default) an event costs one atomic load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::pubsub::PubSub;

/// Event classes (the `notify-keyspace-events` characters).
pub mod class {
    /// K: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1;
    /// E: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// g: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// $: string commands.
    pub const STRING: u32 = 1 << 3;
    /// l: list commands.
    pub const LIST: u32 = 1 << 4;
    /// s: set commands.
    pub const SET: u32 = 1 << 5;
    /// h: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// z: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// x: a key expired.
    pub const EXPIRED: u32 = 1 << 8;
    /// e: a key was evicted.
    pub const EVICTED: u32 = 1 << 9;
    /// t: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// m: key miss (not part of A).
    pub const KEY_MISS: u32 = 1 << 11;
    /// d: module events.
    pub const MODULE: u32 = 1 << 13;
    /// n: a new key was created (not part of A).
    pub const NEW: u32 = 1 << 14;
    /// A: alias for g$lshzxetd.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// The characters in the order Redis prints the type classes.
const TYPE_CHARS: &[(char, u32)] = &[
    ('g', class::GENERIC),
    ('$', class::STRING),
    ('l', class::LIST),
    ('s', class::SET),
    ('h', class::HASH),
    ('z', class::ZSET),
    ('x', class::EXPIRED),
    ('e', class::EVICTED),
    ('t', class::STREAM),
    ('d', class::MODULE),
    ('n', class::NEW),
];

/// The error CONFIG SET reports for an unknown class character.
pub const BAD_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// Parse a class string; `None` on an unknown character.
pub fn parse_flags(s: &str) -> Option<u32> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => class::ALL,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            'm' => class::KEY_MISS,
            _ => TYPE_CHARS.iter().find(|(ch, _)| *ch == c)?.1,
        };
    }
    Some(flags)
}

/// The canonical string of `flags` (what CONFIG GET prints).
pub fn flags_to_string(flags: u32) -> String {
    let mut out = String::new();
    if flags & class::ALL == class::ALL {
        // As Redis 7.0 prints it: 'n' is not part of A and is dropped here.
        out.push('A');
    } else {
        for (c, f) in TYPE_CHARS {
            if flags & f != 0 {
                out.push(*c);
            }
        }
    }
    for (c, f) in [
        ('K', class::KEYSPACE),
        ('E', class::KEYEVENT),
        ('m', class::KEY_MISS),
    ] {
        if flags & f != 0 {
            out.push(c);
        }
    }
    out
}

/// Publishes keyspace events according to the configured classes.
pub struct Notifier {
    flags: AtomicU32,
    pubsub: Arc<PubSub>,
}

impl Notifier {
    pub fn new(pubsub: Arc<PubSub>) -> Notifier {
        Notifier {
            flags: AtomicU32::new(0),
            pubsub,
        }
    }

    /// Apply a new `notify-keyspace-events` value (already validated).
    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// Is any event of `class` to be published?
    pub fn wants(&self, class: u32) -> bool {
        let f = self.flags.load(Ordering::Relaxed);
        f & class != 0 && f & (class::KEYSPACE | class::KEYEVENT) != 0
    }

    /// notifyKeyspaceEvent: publish `event` about `key` in database `db`
    /// if its class is enabled.
    pub fn keyspace_event(&self, class: u32, event: &str, key: &[u8], db: usize) {
        let flags = self.flags.load(Ordering::Relaxed);
        if flags & class == 0 {
            return;
        }
        let db = db.to_string();
        let event_b = Bytes::copy_from_slice(event.as_bytes());
        let key_b = Bytes::copy_from_slice(key);
        if flags & class::KEYSPACE != 0 {
            let chan = channel("__keyspace@", &db, key);
            self.pubsub.publish_notification(&chan, &event_b);
        }
        if flags & class::KEYEVENT != 0 {
            let chan = channel("__keyevent@", &db, event.as_bytes());
            self.pubsub.publish_notification(&chan, &key_b);
        }
    }
}

fn channel(prefix: &str, db: &str, tail: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(prefix.len() + db.len() + 3 + tail.len());
    b.put_slice(prefix.as_bytes());
    b.put_slice(db.as_bytes());
    b.put_slice(b"__:");
    b.put_slice(tail);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_strings_like_redis() {
        let norm = |s: &str| parse_flags(s).map(flags_to_string);
        assert_eq!(norm("gKE").as_deref(), Some("gKE"));
        assert_eq!(norm("$lshzxeKE").as_deref(), Some("$lshzxeKE"));
        assert_eq!(norm("KA").as_deref(), Some("AK"));
        assert_eq!(norm("EA").as_deref(), Some("AE"));
        assert_eq!(norm("").as_deref(), Some(""));
        assert_eq!(norm("KEA").as_deref(), Some("AKE"));
        assert_eq!(norm("Ex").as_deref(), Some("xE"));
        assert_eq!(norm("En").as_deref(), Some("nE"));
        assert_eq!(norm("AnKEm").as_deref(), Some("AKEm"));
        assert_eq!(norm("g$lshzxetdKE").as_deref(), Some("AKE"));
        assert_eq!(norm("Q"), None);
    }
}
