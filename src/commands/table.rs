//! THE command table: Redis 7.0's command model (`meta.rs`, generated
//! from the reference server) joined with our handlers by name. Dispatch,
//! COMMAND, key extraction and INFO commandstats all read this table;
//! nothing else hard-codes command names.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::ctx::Ctx;
use super::meta::COMMAND_META;
use crate::command::CommandMeta;
use crate::error::CmdResult;

/// A command handler. `argv[0]` is the command name as sent.
pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// Calls, time and errors per command (INFO commandstats).
#[derive(Debug, Default)]
pub struct CmdStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// INFO latencystats.
    pub hist: crate::info::histogram::Histogram,
}

impl CmdStats {
    pub fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.usec.store(0, Ordering::Relaxed);
        self.rejected.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        self.hist.reset();
    }
}

/// Flags checked on the hot path, precomputed from the row's flag names
/// so dispatch tests bits instead of comparing strings.
pub mod flag {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const NO_AUTH: u32 = 1 << 4;
    pub const NO_MULTI: u32 = 1 << 5;
    pub const SKIP_MONITOR: u32 = 1 << 6;
    pub const PROTECTED: u32 = 1 << 7;
    pub const MAY_REPLICATE: u32 = 1 << 8;
    pub const PUBSUB: u32 = 1 << 9;
    pub const LOADING: u32 = 1 << 10;
    pub const STALE: u32 = 1 << 11;
    pub const BLOCKING: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 13;
    pub const SKIP_SLOWLOG: u32 = 1 << 14;
    /// Served in an importing slot without a prior ASKING (RESTORE-ASKING).
    pub const ASKING: u32 = 1 << 15;
    /// Refused inside scripts (redis.call).
    pub const NOSCRIPT: u32 = 1 << 16;
    /// Runs while a script is busy (SCRIPT KILL, SHUTDOWN NOSAVE ...).
    pub const ALLOW_BUSY: u32 = 1 << 17;

    /// Bits for Redis's flag names.
    pub fn from_names(names: &[&str]) -> u32 {
        names.iter().fold(0, |acc, n| {
            acc | match *n {
                "write" => WRITE,
                "readonly" => READONLY,
                "denyoom" => DENYOOM,
                "admin" => ADMIN,
                "no_auth" => NO_AUTH,
                "no_multi" => NO_MULTI,
                "skip_monitor" => SKIP_MONITOR,
                "protected" => PROTECTED,
                "may_replicate" => MAY_REPLICATE,
                "pubsub" => PUBSUB,
                "loading" => LOADING,
                "stale" => STALE,
                "blocking" => BLOCKING,
                "fast" => FAST,
                "skip_slowlog" => SKIP_SLOWLOG,
                "asking" => ASKING,
                "noscript" => NOSCRIPT,
                "allow_busy" => ALLOW_BUSY,
                _ => 0,
            }
        })
    }
}

/// One executable command (or container of subcommands).
pub struct Command {
    pub meta: &'static CommandMeta,
    pub handler: Option<Handler>,
    pub subs: HashMap<String, Command>,
    pub stats: CmdStats,
    /// `flag::*` bits of the row.
    pub flags: u32,
}

impl Command {
    /// Look up a subcommand (case-insensitive).
    pub fn sub(&self, name: &[u8]) -> Option<&Command> {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        self.subs.get(&lower)
    }

    pub fn is_container(&self) -> bool {
        !self.subs.is_empty()
    }

    /// Does the command carry any of the `flag::*` bits in `f`?
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}

/// Every handler group registers `(name, handler)` pairs; subcommands are
/// named `parent|sub` as in Redis.
fn handlers() -> Vec<(&'static str, Handler)> {
    let groups: &[&[(&'static str, Handler)]] = &[
        super::connection::COMMANDS,
        super::string::COMMANDS,
        super::string_edit::COMMANDS,
        super::string_num::COMMANDS,
        super::bitmap::COMMANDS,
        super::bitfield::COMMANDS,
        super::lcs::COMMANDS,
        super::generic::COMMANDS,
        super::expire::COMMANDS,
        super::keyscan::COMMANDS,
        super::object::COMMANDS,
        super::tx::COMMANDS,
        super::introspect::COMMANDS,
        super::admin::COMMANDS,
        super::persist::COMMANDS,
        super::list::COMMANDS,
        super::blocking::COMMANDS,
        super::pubsub::COMMANDS,
        super::repl::COMMANDS,
        super::cluster::COMMANDS,
        super::cluster_repl::COMMANDS,
        super::hash::COMMANDS,
        super::set::COMMANDS,
        super::scripting::COMMANDS,
        super::set_ops::COMMANDS,
        super::client::COMMANDS,
        super::config::COMMANDS,
        super::diag::COMMANDS,
        super::dump::COMMANDS,
        super::migrate::COMMANDS,
        super::zset::COMMANDS,
        super::sort::COMMANDS,
        super::memory::COMMANDS,
    ];
    groups.iter().flat_map(|g| g.iter().copied()).collect()
}

/// The table.
pub struct CommandTable {
    /// Keyed by the lower-case name as bytes: lookups need no UTF-8 check.
    map: HashMap<Box<[u8]>, Command, ahash::RandomState>,
}

impl CommandTable {
    pub fn build() -> CommandTable {
        let handlers: HashMap<&str, Handler> = handlers().into_iter().collect();
        let mut map = HashMap::default();
        for meta in COMMAND_META {
            if let Some(cmd) = build_one(meta, &handlers) {
                map.insert(meta.name.as_bytes().into(), cmd);
            }
        }
        CommandTable { map }
    }

    /// The table after `rename-command` directives: a command moves to its
    /// new name, or disappears when renamed to "".
    pub fn build_renamed(renames: &[(String, String)]) -> CommandTable {
        let mut t = CommandTable::build();
        for (from, to) in renames {
            if let Some(cmd) = t.map.remove(from.to_ascii_lowercase().as_bytes()) {
                if !to.is_empty() {
                    t.map
                        .insert(to.to_ascii_lowercase().into_bytes().into(), cmd);
                }
            }
        }
        t
    }

    /// Case-insensitive lookup without allocating for short names.
    pub fn get(&self, name: &[u8]) -> Option<&Command> {
        let mut buf = [0u8; 32];
        if name.len() <= buf.len() {
            for (d, s) in buf.iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
            return self.map.get(&buf[..name.len()]);
        }
        None
    }

    /// Every command, sorted by name.
    pub fn all(&self) -> Vec<&Command> {
        let mut v: Vec<&Command> = self.map.values().collect();
        v.sort_by_key(|c| c.meta.name);
        v
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn build_one(meta: &'static CommandMeta, handlers: &HashMap<&str, Handler>) -> Option<Command> {
    let subs: HashMap<String, Command> = meta
        .subcommands
        .iter()
        .filter_map(|s| {
            let short = s.name.split('|').nth(1)?.to_string();
            build_one(s, handlers).map(|c| (short, c))
        })
        .collect();
    let handler = handlers.get(meta.name).copied();
    if handler.is_none() && subs.is_empty() {
        return None;
    }
    Some(Command {
        meta,
        handler,
        subs,
        stats: CmdStats::default(),
        flags: flag::from_names(meta.flags)
            | protected_bit(meta.name)
            | may_replicate_bit(meta.name),
    })
}

/// COMMAND INFO does not expose MAY_REPLICATE either: these commands
/// carry it in Redis 7.0 (CLIENT PAUSE WRITE holds them, read-only
/// scripts may not call them).
fn may_replicate_bit(name: &str) -> u32 {
    match name {
        "publish" | "spublish" | "pfcount" | "eval" | "evalsha" | "fcall" => flag::MAY_REPLICATE,
        _ => 0,
    }
}

/// COMMAND INFO does not expose Redis's PROTECTED flag, so the generated
/// rows lack it: DEBUG and MODULE (with their subcommands) are protected.
fn protected_bit(name: &str) -> u32 {
    match name.split('|').next() {
        Some("debug" | "module") => flag::PROTECTED,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_meta(name: &str) -> bool {
        let (parent, sub) = match name.split_once('|') {
            Some((p, _)) => (p, Some(name)),
            None => (name, None),
        };
        COMMAND_META.iter().any(|m| {
            m.name == parent
                && match sub {
                    None => true,
                    Some(full) => m.subcommands.iter().any(|s| s.name == full),
                }
        })
    }

    #[test]
    fn every_handler_has_a_row() {
        let mut seen = std::collections::HashSet::new();
        for (name, _) in handlers() {
            assert!(find_meta(name), "handler '{name}' has no command row");
            assert!(seen.insert(name), "handler '{name}' registered twice");
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        let t = CommandTable::build();
        assert!(t.get(b"GeT").is_some());
        assert!(t.get(b"nosuchcommand").is_none());
    }
}
