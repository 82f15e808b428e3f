//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH,
//! PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::error::CmdResult;
use crate::protocol::Reply;
use crate::pubsub::{Kind, Subscriber};
use crate::server::session::Session;
use crate::server::Server;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("psubscribe", psubscribe),
    ("ssubscribe", ssubscribe),
    ("unsubscribe", unsubscribe),
    ("punsubscribe", punsubscribe),
    ("sunsubscribe", sunsubscribe),
    ("publish", publish),
    ("spublish", spublish),
    ("pubsub|channels", channels),
    ("pubsub|numsub", numsub),
    ("pubsub|numpat", numpat),
    ("pubsub|shardchannels", shardchannels),
    ("pubsub|shardnumsub", shardnumsub),
];

fn subscriber(sess: &Session) -> Subscriber {
    Subscriber {
        client: sess.id,
        resp: sess.resp,
        tx: sess.push.clone(),
        pending: sess.push_pending.clone(),
        soft_since: sess.push_soft_since.clone(),
        kill: sess.info.kill.clone(),
    }
}

fn set_of(sess: &mut Session, k: Kind) -> &mut std::collections::BTreeSet<Bytes> {
    match k {
        Kind::Channel => &mut sess.subs,
        Kind::Pattern => &mut sess.psubs,
        Kind::Shard => &mut sess.ssubs,
    }
}

fn names(k: Kind) -> (&'static str, &'static str) {
    match k {
        Kind::Channel => ("subscribe", "unsubscribe"),
        Kind::Pattern => ("psubscribe", "punsubscribe"),
        Kind::Shard => ("ssubscribe", "sunsubscribe"),
    }
}

/// The count Redis reports: shard subscriptions are counted apart.
fn count(sess: &Session, k: Kind) -> i64 {
    match k {
        Kind::Shard => sess.ssubs.len() as i64,
        _ => sess.sub_count() as i64,
    }
}

/// Drop from the session the shard channels the node dropped when it
/// stopped serving their slot (the client got its `sunsubscribe` push).
pub fn forget_dropped_shard_channels(srv: &Server, sess: &mut Session) {
    let drops = srv.pubsub.shard_drops();
    if sess.ssubs.is_empty() || drops == sess.ssubs_checked {
        return;
    }
    sess.ssubs_checked = drops;
    let before = sess.ssubs.len();
    let id = sess.id;
    sess.ssubs
        .retain(|c| srv.pubsub.is_subscribed(Kind::Shard, c, id));
    if sess.ssubs.len() != before {
        sync_counts(sess);
    }
}

fn sync_counts(sess: &Session) {
    sess.info.sub.store(sess.subs.len(), Ordering::Relaxed);
    sess.info.psub.store(sess.psubs.len(), Ordering::Relaxed);
    sess.info.ssub.store(sess.ssubs.len(), Ordering::Relaxed);
}

fn confirm(kind: &str, name: Option<&Bytes>, n: i64) -> Reply {
    Reply::Push(vec![
        Reply::bulk_str(kind),
        name.map_or(Reply::Nil, |b| Reply::Bulk(b.clone())),
        Reply::Int(n),
    ])
}

fn subscribe_generic(ctx: &mut Ctx, argv: &[Bytes], k: Kind) -> CmdResult {
    let sub = subscriber(ctx.sess);
    let mut out = Vec::with_capacity(argv.len() - 1);
    for arg in &argv[1..] {
        // Owned copies: a subscription outlives the request, and a clone
        // of its `Bytes` would pin the whole read buffer it came from.
        let name = &Bytes::copy_from_slice(arg);
        if set_of(ctx.sess, k).insert(name.clone()) {
            ctx.srv.pubsub.subscribe(k, name, &sub);
        }
        out.push(confirm(names(k).0, Some(name), count(ctx.sess, k)));
    }
    sync_counts(ctx.sess);
    Ok(Reply::Multi(out))
}

fn unsubscribe_generic(srv: &Server, sess: &mut Session, names_in: &[Bytes], k: Kind) -> Reply {
    let targets: Vec<Bytes> = if names_in.is_empty() {
        set_of(sess, k).iter().cloned().collect()
    } else {
        names_in.to_vec()
    };
    let mut out = Vec::new();
    for name in &targets {
        if set_of(sess, k).remove(name) {
            srv.pubsub.unsubscribe(k, name, sess.id);
        }
        out.push(confirm(names(k).1, Some(name), count(sess, k)));
    }
    if targets.is_empty() {
        out.push(confirm(names(k).1, None, count(sess, k)));
    }
    sync_counts(sess);
    Reply::Multi(out)
}

/// Drop every subscription of a client (disconnect, RESET).
pub fn unsubscribe_all(srv: &Server, sess: &mut Session) {
    for k in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(set_of(sess, k)) {
            srv.pubsub.unsubscribe(k, &name, sess.id);
        }
    }
    sync_counts(sess);
}

fn subscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(unsubscribe_generic(
        ctx.srv,
        ctx.sess,
        &argv[1..],
        Kind::Channel,
    ))
}

fn punsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(unsubscribe_generic(
        ctx.srv,
        ctx.sess,
        &argv[1..],
        Kind::Pattern,
    ))
}

fn sunsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(unsubscribe_generic(
        ctx.srv,
        ctx.sess,
        &argv[1..],
        Kind::Shard,
    ))
}

fn publish_generic(ctx: &mut Ctx, argv: &[Bytes], shard: bool) -> CmdResult {
    let limits =
        crate::pubsub::limits_from_config(&ctx.srv.config.get("client-output-buffer-limit"));
    let n = ctx
        .srv
        .pubsub
        .publish(shard, &argv[1], &argv[2], limits, ctx.now_ms);
    // Outside cluster mode Redis sends PUBLISH to replicas (not the AOF)
    // so their subscribers see the message too; in a cluster it goes over
    // the bus, to every node (PUBLISH) or to the shard (SPUBLISH).
    if ctx.srv.cluster.is_none() {
        crate::replication::propagate_repl_only(ctx.srv, ctx.sess.db, argv);
    } else {
        crate::cluster::bus::link::propagate_publish(ctx.srv, shard, &argv[1], &argv[2]);
    }
    Ok(Reply::Int(n as i64))
}

fn publish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    publish_generic(ctx, argv, false)
}

fn spublish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    publish_generic(ctx, argv, true)
}

fn channels_generic(ctx: &Ctx, argv: &[Bytes], shard: bool) -> CmdResult {
    let pat = argv.get(2).map(|b| &b[..]);
    Ok(Reply::bulks(ctx.srv.pubsub.channels(shard, pat)))
}

fn channels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    channels_generic(ctx, argv, false)
}

fn shardchannels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    channels_generic(ctx, argv, true)
}

fn numsub_generic(ctx: &Ctx, argv: &[Bytes], shard: bool) -> CmdResult {
    let pairs = argv[2..]
        .iter()
        .map(|c| {
            (
                Reply::Bulk(c.clone()),
                Reply::Int(ctx.srv.pubsub.numsub(shard, c) as i64),
            )
        })
        .collect();
    Ok(Reply::Map(pairs))
}

fn numsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    numsub_generic(ctx, argv, false)
}

fn shardnumsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    numsub_generic(ctx, argv, true)
}

fn numpat(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.srv.pubsub.numpat() as i64))
}
