//! Key extraction from argv by key specs (Redis's getKeysUsingKeySpecs).
//! One extractor serves COMMAND GETKEYS, cluster routing and the slot set
//! that MULTI/EXEC locks.

use bytes::Bytes;

use super::spec::{Begin, CommandMeta, Find};
use crate::util::numparse::parse_i64;

/// Indexes into argv of every key of the command, in spec order.
/// Invalid numkeys etc. yield the keys found so far (the command itself
/// reports the error when it runs).
pub fn key_positions(meta: &CommandMeta, argv: &[Bytes]) -> Vec<usize> {
    // SORT's STORE key has no key spec Redis can describe (its getkeys
    // procedure finds it by walking the options).
    if meta.name == "sort" {
        return sort_keys(argv);
    }
    // MIGRATE's KEYS spec is INCOMPLETE, so Redis resorts to its getkeys
    // callback: with KEYS the "" at argv[3] is not a key.
    if meta.name == "migrate" {
        return migrate_positions(argv);
    }
    let mut out = Vec::new();
    let argc = argv.len() as i64;
    for spec in meta.key_specs {
        let first = match spec.begin {
            Begin::Index(i) => i64::from(i),
            Begin::Keyword { word, start_from } => {
                match find_keyword(argv, word, i64::from(start_from)) {
                    Some(i) => i,
                    None => continue,
                }
            }
            Begin::Unknown => continue,
        };
        if first >= argc {
            continue;
        }
        match spec.find {
            Find::Range { last, step, limit } => {
                let last = i64::from(last);
                let lastkey = if last >= 0 {
                    first + last
                } else if limit <= 1 {
                    argc + last
                } else {
                    first + ((argc - first) / i64::from(limit) + last)
                };
                let step = i64::from(step.max(1));
                let mut i = first;
                while i <= lastkey && i < argc {
                    out.push(i as usize);
                    i += step;
                }
            }
            Find::Keynum {
                idx,
                first: fk,
                step,
            } => {
                let numidx = first + i64::from(idx);
                let Some(n) = argv.get(numidx as usize).and_then(|a| parse_i64(a)) else {
                    continue;
                };
                if n <= 0 {
                    continue;
                }
                let start = first + i64::from(fk);
                let step = i64::from(step.max(1));
                for k in 0..n {
                    let i = start + k * step;
                    if i >= argc {
                        break;
                    }
                    out.push(i as usize);
                }
            }
            Find::Unknown => {}
        }
    }
    out
}

/// Redis's sortGetKeys: the source key, then the destination of the
/// last STORE (option arguments are skipped, so a GET pattern spelled
/// "store" is not mistaken for the option).
fn sort_keys(argv: &[Bytes]) -> Vec<usize> {
    let mut out = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        let skip = if a.eq_ignore_ascii_case(b"limit") {
            2
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            1
        } else if a.eq_ignore_ascii_case(b"store") {
            if i + 1 < argv.len() {
                store = Some(i + 1);
            }
            1
        } else {
            0
        };
        i += 1 + skip;
    }
    out.extend(store);
    out.retain(|&i| i < argv.len());
    out
}

/// Redis's migrateGetKeys: argv[3], or everything after KEYS when argv[3]
/// is empty (nothing when both are given: MIGRATE reports the syntax error).
fn migrate_positions(argv: &[Bytes]) -> Vec<usize> {
    let mut i = 6;
    while i < argv.len() {
        let a = &argv[i];
        if a.eq_ignore_ascii_case(b"keys") {
            if argv.get(3).is_some_and(|k| !k.is_empty()) {
                return Vec::new();
            }
            return (i + 1..argv.len()).collect();
        }
        if a.eq_ignore_ascii_case(b"auth") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"auth2") {
            i += 2;
        }
        i += 1;
    }
    if argv.len() > 3 {
        vec![3]
    } else {
        Vec::new()
    }
}

fn find_keyword(argv: &[Bytes], word: &str, start_from: i64) -> Option<i64> {
    let argc = argv.len() as i64;
    let (start, end, step): (i64, i64, i64) = if start_from >= 0 {
        (start_from, argc, 1)
    } else {
        (argc + start_from, 0, -1)
    };
    let mut i = start;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        if argv[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
            return Some(i + 1);
        }
        i += step;
    }
    None
}
