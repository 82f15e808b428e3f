//! Pub/Sub: channel, pattern and shard-channel subscriptions, and message
//! delivery to each subscriber's connection in its own RESP version.
//!
//! Each subscriber is reached through its connection's push channel; the
//! bytes queued there are counted so a slow subscriber that exceeds the
//! pubsub output buffer limits is disconnected instead of growing memory
//! without bound (client-output-buffer-limit pubsub, default 32mb 8mb 60).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::protocol::{Reply, RespVersion};
use crate::util::glob::glob_match;

/// How to reach one subscribed client.
#[derive(Clone)]
pub struct Subscriber {
    pub client: u64,
    pub resp: RespVersion,
    pub tx: UnboundedSender<Bytes>,
    /// Bytes queued for this client and not yet written to its socket.
    pub pending: Arc<AtomicUsize>,
    /// Since when (ms) the soft limit has been exceeded; 0 = not exceeded.
    pub soft_since: Arc<AtomicU64>,
    pub kill: CancellationToken,
}

/// Output buffer limits for pubsub clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

#[derive(Default)]
struct Inner {
    channels: BTreeMap<Bytes, HashMap<u64, Subscriber>>,
    patterns: BTreeMap<Bytes, HashMap<u64, Subscriber>>,
    shard: BTreeMap<Bytes, HashMap<u64, Subscriber>>,
}

/// Which namespace a subscription lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

/// The registry.
#[derive(Default)]
pub struct PubSub {
    inner: Mutex<Inner>,
    /// Current pubsub output buffer limits, for publishers that have no
    /// config at hand (keyspace notifications).
    limits: Mutex<Option<Limits>>,
    /// Bumped whenever shard channels are dropped behind the sessions'
    /// back, so a session rechecks its own set only after a drop.
    shard_drops: AtomicU64,
}

impl Inner {
    fn map(&mut self, k: Kind) -> &mut BTreeMap<Bytes, HashMap<u64, Subscriber>> {
        match k {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

impl PubSub {
    /// Subscribe; false if the client was already subscribed.
    pub fn subscribe(&self, k: Kind, name: &Bytes, sub: &Subscriber) -> bool {
        let mut inner = self.inner.lock();
        inner
            .map(k)
            .entry(name.clone())
            .or_default()
            .insert(sub.client, sub.clone())
            .is_none()
    }

    /// Unsubscribe; false if the client was not subscribed.
    pub fn unsubscribe(&self, k: Kind, name: &[u8], client: u64) -> bool {
        let mut inner = self.inner.lock();
        let map = inner.map(k);
        let Some(subs) = map.get_mut(name) else {
            return false;
        };
        let removed = subs.remove(&client).is_some();
        if subs.is_empty() {
            map.remove(name);
        }
        removed
    }

    /// PUBLISH / SPUBLISH: deliver and return the number of receivers.
    pub fn publish(
        &self,
        shard: bool,
        channel: &Bytes,
        payload: &Bytes,
        limits: Limits,
        now_ms: u64,
    ) -> usize {
        let inner = self.inner.lock();
        let mut n = 0;
        let (kind, map) = if shard {
            ("smessage", &inner.shard)
        } else {
            ("message", &inner.channels)
        };
        if let Some(subs) = map.get(channel) {
            for s in subs.values() {
                deliver(s, &[kind.as_bytes(), channel, payload], limits, now_ms);
                n += 1;
            }
        }
        if !shard {
            for (pat, subs) in &inner.patterns {
                if glob_match(pat, channel, false) {
                    for s in subs.values() {
                        deliver(s, &[b"pmessage", pat, channel, payload], limits, now_ms);
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// Whether `client` is still subscribed to `name` (a node that lost a
    /// slot drops its shard channels behind the sessions' back).
    pub fn is_subscribed(&self, k: Kind, name: &[u8], client: u64) -> bool {
        let mut inner = self.inner.lock();
        inner
            .map(k)
            .get(name)
            .is_some_and(|s| s.contains_key(&client))
    }

    /// How many times shard channels were dropped (see `shard_drops`).
    pub fn shard_drops(&self) -> u64 {
        self.shard_drops.load(Ordering::Relaxed)
    }

    /// Drop every shard channel `lost` says is no longer served here and
    /// tell each subscriber with a `sunsubscribe` push carrying its
    /// remaining shard subscriptions (Redis removeChannelsInSlot).
    pub fn drop_shard_channels(&self, lost: impl Fn(&[u8]) -> bool) {
        let mut inner = self.inner.lock();
        if inner.shard.is_empty() {
            return;
        }
        let gone: Vec<Bytes> = inner.shard.keys().filter(|c| lost(c)).cloned().collect();
        if !gone.is_empty() {
            self.shard_drops.fetch_add(1, Ordering::Relaxed);
        }
        for channel in gone {
            let Some(subs) = inner.shard.remove(&channel) else {
                continue;
            };
            for sub in subs.values() {
                let left = inner
                    .shard
                    .values()
                    .filter(|m| m.contains_key(&sub.client))
                    .count();
                let reply = Reply::Push(vec![
                    Reply::bulk_str("sunsubscribe"),
                    Reply::Bulk(channel.clone()),
                    Reply::Int(left as i64),
                ]);
                let mut buf = bytes::BytesMut::new();
                reply.encode(sub.resp, &mut buf);
                sub.pending.fetch_add(buf.len(), Ordering::Relaxed);
                let _ = sub.tx.send(buf.freeze());
            }
        }
    }

    /// Record the pubsub output buffer limits (start-up, CONFIG SET).
    pub fn set_limits(&self, limits: Limits) {
        *self.limits.lock() = Some(limits);
    }

    /// Publish a keyspace notification on `channel` (never a shard channel).
    pub fn publish_notification(&self, channel: &Bytes, payload: &Bytes) {
        let limits = (*self.limits.lock()).unwrap_or_else(|| limits_from_config(""));
        self.publish(
            false,
            channel,
            payload,
            limits,
            crate::util::clock::now_ms(),
        );
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS.
    pub fn channels(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let inner = self.inner.lock();
        let map = if shard { &inner.shard } else { &inner.channels };
        map.keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB for one channel.
    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        let inner = self.inner.lock();
        let map = if shard { &inner.shard } else { &inner.channels };
        map.get(channel).map_or(0, |s| s.len())
    }

    /// PUBSUB NUMPAT: number of distinct patterns.
    pub fn numpat(&self) -> usize {
        self.inner.lock().patterns.len()
    }

    /// Channel and pattern counts for INFO stats.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.channels.len(), inner.patterns.len())
    }
}

/// Encode a pubsub message for one subscriber, enforce its output buffer
/// limits, and queue it.
fn deliver(s: &Subscriber, parts: &[&[u8]], limits: Limits, now_ms: u64) {
    let msg = encode_push(s.resp, parts);
    let pending = s.pending.fetch_add(msg.len(), Ordering::Relaxed) + msg.len();
    if limits.hard > 0 && pending > limits.hard {
        s.kill.cancel();
        return;
    }
    if limits.soft > 0 && pending > limits.soft {
        let since = s.soft_since.load(Ordering::Relaxed);
        if since == 0 {
            s.soft_since.store(now_ms, Ordering::Relaxed);
        } else if now_ms.saturating_sub(since) / 1000 >= limits.soft_secs {
            s.kill.cancel();
            return;
        }
    } else {
        s.soft_since.store(0, Ordering::Relaxed);
    }
    let _ = s.tx.send(msg);
}

/// A push message (`>` in RESP3, array in RESP2) of bulk strings.
pub fn encode_push(resp: RespVersion, parts: &[&[u8]]) -> Bytes {
    let reply = Reply::Push(
        parts
            .iter()
            .map(|p| Reply::Bulk(Bytes::copy_from_slice(p)))
            .collect(),
    );
    let mut out = BytesMut::new();
    reply.encode(resp, &mut out);
    out.freeze()
}

/// Parse `client-output-buffer-limit` for the pubsub class.
pub fn limits_from_config(value: &str) -> Limits {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let mut lim = Limits {
        hard: 32 << 20,
        soft: 8 << 20,
        soft_secs: 60,
    };
    for w in parts.chunks(4) {
        if let [class, hard, soft, secs] = w {
            if *class == "pubsub" {
                let mem =
                    |s: &str| crate::config::spec::parse_memory(s).unwrap_or(0).max(0) as usize;
                lim = Limits {
                    hard: mem(hard),
                    soft: mem(soft),
                    soft_secs: secs.parse().unwrap_or(0),
                };
            }
        }
    }
    lim
}
