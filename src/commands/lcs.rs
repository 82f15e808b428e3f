//! LCS (Redis 7.0's longest common subsequence of two string keys):
//! plain string, LEN, or IDX with MINMATCHLEN/WITHMATCHLEN. Missing keys
//! are empty strings. The match list is produced by walking the DP table
//! back from the ends of both strings, preferring to step in the first
//! string only when that keeps a strictly longer LCS, so the chosen
//! subsequence and the match order are the ones Redis reports.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::Handler;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::types::Value;

pub const COMMANDS: &[(&str, Handler)] = &[("lcs", lcs)];

#[derive(Default)]
struct Opts {
    len: bool,
    idx: bool,
    min_len: i64,
    with_len: bool,
}

fn parse_opts(argv: &[Bytes]) -> Result<Opts, RedisError> {
    let mut o = Opts::default();
    let mut i = 3;
    while i < argv.len() {
        let a = &argv[i];
        if args::is(a, "IDX") {
            o.idx = true;
        } else if args::is(a, "LEN") {
            o.len = true;
        } else if args::is(a, "WITHMATCHLEN") {
            o.with_len = true;
        } else if args::is(a, "MINMATCHLEN") && i + 1 < argv.len() {
            o.min_len = args::int(&argv[i + 1])?.max(0);
            i += 1;
        } else {
            return Err(RedisError::Syntax);
        }
        i += 1;
    }
    if o.len && o.idx {
        return Err(RedisError::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

fn read(g: &mut crate::keyspace::KeyGuards, key: &[u8]) -> Result<Bytes, RedisError> {
    match g.value(key) {
        None => Ok(Bytes::new()),
        Some(Value::Str(s)) => Ok(s.to_bytes()),
        #[allow(unreachable_patterns)]
        Some(_) => Err(RedisError::err(
            "The specified keys must contain string values",
        )),
    }
}

/// One contiguous match: inclusive ranges in a and b.
type Match = ((usize, usize), (usize, usize));

fn lcs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut g = ctx.lock(&db, &argv[1..3]);
    let a = read(&mut g, &argv[1])?;
    let b = read(&mut g, &argv[2])?;
    drop(g);
    let o = parse_opts(argv)?;
    let (text, matches) = compute(&a, &b);
    if o.len {
        return Ok(Reply::Int(text.len() as i64));
    }
    if !o.idx {
        return Ok(Reply::Bulk(Bytes::from(text)));
    }
    let list = matches
        .into_iter()
        .filter(|((s, e), _)| (e - s + 1) as i64 >= o.min_len)
        .map(|((as_, ae), (bs, be))| {
            let pair =
                |s: usize, e: usize| Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]);
            let mut m = vec![pair(as_, ae), pair(bs, be)];
            if o.with_len {
                m.push(Reply::Int((ae - as_ + 1) as i64));
            }
            Reply::Array(m)
        })
        .collect();
    Ok(Reply::Map(vec![
        (
            Reply::Bulk(Bytes::from_static(b"matches")),
            Reply::Array(list),
        ),
        (
            Reply::Bulk(Bytes::from_static(b"len")),
            Reply::Int(text.len() as i64),
        ),
    ]))
}

/// The LCS text and its contiguous matches, last match first.
fn compute(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<Match>) {
    let w = b.len() + 1;
    let mut dp = vec![0u32; (a.len() + 1) * w];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let mut text = Vec::new();
    let mut matches = Vec::new();
    let mut cur: Option<Match> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            text.push(a[i - 1]);
            let (ai, bj) = (i - 1, j - 1);
            cur = match cur {
                Some(((s, e), (bs, be))) if ai + 1 == s && bj + 1 == bs => {
                    Some(((ai, e), (bj, be)))
                }
                prev => {
                    matches.extend(prev);
                    Some(((ai, ai), (bj, bj)))
                }
            };
            i -= 1;
            j -= 1;
        } else if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    matches.extend(cur);
    text.reverse();
    (text, matches)
}

#[cfg(test)]
mod tests {
    use super::compute;

    #[test]
    fn classic() {
        let (t, m) = compute(b"ohmytext", b"mynewtext");
        assert_eq!(t, b"mytext");
        assert_eq!(m, vec![((4, 7), (5, 8)), ((2, 3), (0, 1))]);
        assert_eq!(compute(b"", b"abc").0, b"");
    }
}
