//! Diagnostics: SLOWLOG GET/LEN/RESET/HELP and LATENCY LATEST/HISTORY/
//! RESET/DOCTOR/GRAPH/HISTOGRAM/HELP, with Redis 7.0.15's reply shapes
//! and error texts. The data lives in `info::slowlog`, `info::latency`
//! (fed by `server::call`) and the per-command histograms.

use bytes::Bytes;

use super::ctx::Ctx;
use super::help;
use super::table::{CmdStats, Handler};
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::{Reply, RespVersion};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("slowlog|get", slowlog_get),
    ("slowlog|len", slowlog_len),
    ("slowlog|reset", slowlog_reset),
    ("slowlog|help", slowlog_help),
    ("latency|latest", latency_latest),
    ("latency|history", latency_history),
    ("latency|reset", latency_reset),
    ("latency|doctor", latency_doctor),
    ("latency|graph", latency_graph),
    ("latency|histogram", latency_histogram),
    ("latency|help", latency_help),
];

fn slowlog_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match args::int(a) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => {
                return Err(RedisError::err(
                    "count should be greater than or equal to -1",
                ))
            }
        },
    };
    let entries = ctx.srv.slowlog.get(count);
    Ok(Reply::Array(
        entries
            .into_iter()
            .map(|e| {
                Reply::Array(vec![
                    Reply::Int(e.id as i64),
                    Reply::Int(e.time as i64),
                    Reply::Int(e.usec as i64),
                    Reply::Array(e.argv.into_iter().map(Reply::Bulk).collect()),
                    Reply::Bulk(Bytes::from(e.addr)),
                    Reply::Bulk(Bytes::from(e.name)),
                ])
            })
            .collect(),
    ))
}

fn slowlog_len(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.srv.slowlog.len() as i64))
}

fn slowlog_reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.srv.slowlog.reset();
    Ok(Reply::OK)
}

fn slowlog_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help::reply(help::SLOWLOG))
}

fn latency_latest(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        ctx.srv
            .latency
            .latest()
            .into_iter()
            .map(|(event, s, max)| {
                Reply::Array(vec![
                    Reply::Bulk(Bytes::from(event)),
                    Reply::Int(s.time as i64),
                    Reply::Int(s.ms as i64),
                    Reply::Int(max as i64),
                ])
            })
            .collect(),
    ))
}

fn latency_history(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let samples = ctx.srv.latency.history(&args::text(&argv[2]));
    Ok(Reply::Array(
        samples
            .into_iter()
            .map(|s| Reply::Array(vec![Reply::Int(s.time as i64), Reply::Int(s.ms as i64)]))
            .collect(),
    ))
}

fn latency_reset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let names: Vec<String> = argv[2..].iter().map(|a| args::text(a)).collect();
    Ok(Reply::Int(ctx.srv.latency.reset(&names) as i64))
}

const DISABLED: &str = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";
const CALM: &str = "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n";

/// A shorter form of Redis's report: the same opening and per-event
/// statistics, and only the slow-log advice.
fn latency_doctor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let threshold = ctx.srv.config.get_i64("latency-monitor-threshold");
    let events = ctx.srv.latency.snapshot();
    let text = if events.is_empty() && threshold == 0 {
        DISABLED.to_string()
    } else if events.is_empty() {
        CALM.to_string()
    } else {
        let mut t = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        let now = ctx.now_ms / 1000;
        for (i, (name, s)) in events.iter().enumerate() {
            let n = s.samples.len().max(1) as f64;
            let avg = s.samples.iter().map(|x| x.ms as f64).sum::<f64>() / n;
            let dev = s
                .samples
                .iter()
                .map(|x| (x.ms as f64 - avg).abs())
                .sum::<f64>()
                / n;
            let first = s.samples.front().map_or(now, |x| x.time);
            let period = ((now.saturating_sub(first)) as f64 / n).max(1.0);
            t.push_str(&format!(
                "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {period:.2} sec). Worst all time event {}ms.\n",
                i + 1,
                s.samples.len(),
                avg as u64,
                dev as u64,
                s.max
            ));
        }
        t.push_str("\nI have a few advices for you:\n\n- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        t
    };
    Ok(Reply::Verbatim(Bytes::from(text)))
}

/// Only the header of Redis's ASCII graph (no sparkline yet).
fn latency_graph(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let event = args::text(&argv[2]);
    let events = ctx.srv.latency.snapshot();
    let Some(s) = events.get(&event).filter(|s| !s.samples.is_empty()) else {
        return Err(RedisError::err(format!(
            "No samples available for event '{event}'"
        )));
    };
    let high = s.samples.iter().map(|x| x.ms).max().unwrap_or(0);
    let low = s.samples.iter().map(|x| x.ms).min().unwrap_or(0);
    let text = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        s.max,
        "-".repeat(80)
    );
    Ok(Reply::Verbatim(Bytes::from(text)))
}

fn histogram_entry(name: &str, stats: &CmdStats) -> Option<(Reply, Reply)> {
    let (calls, buckets) = stats.hist.log_buckets()?;
    Some((
        Reply::bulk_str(name),
        Reply::Map(vec![
            (Reply::bulk_str("calls"), Reply::Int(calls as i64)),
            (
                Reply::bulk_str("histogram_usec"),
                Reply::Map(
                    buckets
                        .into_iter()
                        .map(|(k, v)| (Reply::Int(k as i64), Reply::Int(v as i64)))
                        .collect(),
                ),
            ),
        ]),
    ))
}

fn latency_histogram(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let wanted: Vec<String> = argv[2..].iter().map(|a| args::lower(a)).collect();
    let mut out = Vec::new();
    for c in ctx.srv.commands.all() {
        let mut subs: Vec<_> = c.subs.values().collect();
        subs.sort_by_key(|s| s.meta.name);
        let want_parent = wanted.is_empty() || wanted.iter().any(|w| w == c.meta.name);
        if want_parent {
            out.extend(histogram_entry(c.meta.name, &c.stats));
        }
        for s in subs {
            if want_parent || wanted.iter().any(|w| w == s.meta.name) {
                out.extend(histogram_entry(s.meta.name, &s.stats));
            }
        }
    }
    Ok(Reply::Map(out))
}

fn latency_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help::reply(help::LATENCY))
}

/// DEBUG PROTOCOL <type>: one sample of each reply type, used by clients'
/// and the Tcl suite's protocol tests. Shapes RESP2 cannot express degrade
/// the way Redis degrades them (attributes are dropped, push is refused).
pub fn debug_protocol(ctx: &mut Ctx, kind: &[u8]) -> CmdResult {
    let resp3 = ctx.sess.resp == RespVersion::Resp3;
    let raw = |s: &str| Reply::Raw(Bytes::copy_from_slice(s.as_bytes()));
    Ok(match args::lower(kind).as_str() {
        "string" => Reply::bulk_str("Hello World"),
        "integer" => Reply::Int(12345),
        // Redis sends exactly 3.141, not π.
        #[allow(clippy::approx_constant)]
        "double" => Reply::Double(3.141),
        "bignum" if resp3 => raw("(1234567999999999999999999999999999999\r\n"),
        "bignum" => Reply::bulk_str("1234567999999999999999999999999999999"),
        "null" => Reply::Nil,
        "array" => Reply::Array((0..3).map(Reply::Int).collect()),
        "set" => Reply::Set((0..3).map(Reply::Int).collect()),
        "map" => Reply::Map((0..3).map(|j| (Reply::Int(j), Reply::Bool(j == 1))).collect()),
        "attrib" if resp3 => raw("|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n"),
        "attrib" => Reply::bulk_str("Some real reply following the attribute"),
        "push" if resp3 => raw(">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n"),
        "push" => return Err(RedisError::err("RESP2 is not supported by this command")),
        "verbatim" => Reply::Verbatim(Bytes::from_static(b"This is a verbatim\nstring")),
        "true" => Reply::Bool(true),
        "false" => Reply::Bool(false),
        _ => return Err(RedisError::err("Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")),
    })
}
