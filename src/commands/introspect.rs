//! COMMAND and its subcommands: a print of the command table rows.

use bytes::Bytes;

use super::ctx::Ctx;
use super::table::{Command, Handler};
use crate::command::args;
use crate::command::keys::key_positions;
use crate::command::spec::{Begin, Doc, Find, KeySpec};
use crate::command::CommandMeta;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;
use crate::util::glob::glob_match;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("command", command),
    ("command|count", count),
    ("command|info", info),
    ("command|docs", docs),
    ("command|list", list),
    ("command|getkeys", getkeys),
    ("command|getkeysandflags", getkeysandflags),
    ("command|help", help),
];

fn status_set(items: &[&'static str]) -> Reply {
    Reply::Set(items.iter().map(|s| Reply::Status(s)).collect())
}

fn kv(k: &str, v: Reply) -> (Reply, Reply) {
    (Reply::bulk_str(k), v)
}

fn key_spec_reply(ks: &KeySpec) -> Reply {
    let mut m = Vec::new();
    if !ks.notes.is_empty() {
        m.push(kv("notes", Reply::bulk_str(ks.notes)));
    }
    m.push(kv("flags", status_set(ks.flags)));
    let begin = match ks.begin {
        Begin::Index(i) => (
            "index",
            Reply::Map(vec![kv("index", Reply::Int(i64::from(i)))]),
        ),
        Begin::Keyword { word, start_from } => (
            "keyword",
            Reply::Map(vec![
                kv("keyword", Reply::bulk_str(word)),
                kv("startfrom", Reply::Int(i64::from(start_from))),
            ]),
        ),
        Begin::Unknown => ("unknown", Reply::Map(vec![])),
    };
    m.push(kv(
        "begin_search",
        Reply::Map(vec![
            kv("type", Reply::bulk_str(begin.0)),
            kv("spec", begin.1),
        ]),
    ));
    let find = match ks.find {
        Find::Range { last, step, limit } => (
            "range",
            Reply::Map(vec![
                kv("lastkey", Reply::Int(i64::from(last))),
                kv("keystep", Reply::Int(i64::from(step))),
                kv("limit", Reply::Int(i64::from(limit))),
            ]),
        ),
        Find::Keynum { idx, first, step } => (
            "keynum",
            Reply::Map(vec![
                kv("keynumidx", Reply::Int(i64::from(idx))),
                kv("firstkey", Reply::Int(i64::from(first))),
                kv("keystep", Reply::Int(i64::from(step))),
            ]),
        ),
        Find::Unknown => ("unknown", Reply::Map(vec![])),
    };
    m.push(kv(
        "find_keys",
        Reply::Map(vec![
            kv("type", Reply::bulk_str(find.0)),
            kv("spec", find.1),
        ]),
    ));
    Reply::Map(m)
}

/// One COMMAND INFO entry.
fn info_reply(cmd: &Command) -> Reply {
    let m: &CommandMeta = cmd.meta;
    let subs: Vec<Reply> = sorted_subs(cmd).into_iter().map(info_reply).collect();
    Reply::Array(vec![
        Reply::bulk_str(m.name),
        Reply::Int(i64::from(m.arity)),
        status_set(m.flags),
        Reply::Int(i64::from(m.legacy.0)),
        Reply::Int(i64::from(m.legacy.1)),
        Reply::Int(i64::from(m.legacy.2)),
        status_set(m.acl),
        Reply::Set(m.tips.iter().map(|t| Reply::bulk_str(t)).collect()),
        Reply::Array(m.key_specs.iter().map(key_spec_reply).collect()),
        Reply::Array(subs),
    ])
}

fn sorted_subs(cmd: &Command) -> Vec<&Command> {
    let mut v: Vec<&Command> = cmd.subs.values().collect();
    v.sort_by_key(|c| c.meta.name);
    v
}

fn doc_reply(key: &str, d: &Doc) -> Reply {
    match d {
        Doc::S(s) => Reply::bulk_str(s),
        Doc::I(i) => Reply::Int(*i),
        Doc::Nil => Reply::Nil,
        Doc::A(items) if key == "flags" || key == "doc_flags" => Reply::Set(
            items
                .iter()
                .map(|i| match i {
                    Doc::S(s) => Reply::Status(s),
                    other => doc_reply("", other),
                })
                .collect(),
        ),
        Doc::A(items) => Reply::Array(items.iter().map(|i| doc_reply("", i)).collect()),
        Doc::M(pairs) => Reply::Map(pairs.iter().map(|(k, v)| kv(k, doc_reply(k, v))).collect()),
    }
}

fn docs_reply(cmd: &Command) -> Reply {
    let mut m: Vec<(Reply, Reply)> = cmd
        .meta
        .docs
        .iter()
        .map(|(k, v)| kv(k, doc_reply(k, v)))
        .collect();
    if cmd.is_container() {
        let subs = sorted_subs(cmd)
            .into_iter()
            .map(|s| (Reply::bulk_str(s.meta.name), docs_reply(s)))
            .collect();
        m.push(kv("subcommands", Reply::Map(subs)));
    }
    Reply::Map(m)
}

fn command(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        ctx.srv.commands.all().into_iter().map(info_reply).collect(),
    ))
}

fn count(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.srv.commands.len() as i64))
}

/// Find a command or `parent|sub` by name.
fn lookup<'a>(ctx: &'a Ctx, name: &[u8]) -> Option<&'a Command> {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    match name.split_once('|') {
        Some((p, s)) => ctx.srv.commands.get(p.as_bytes())?.sub(s.as_bytes()),
        None => ctx.srv.commands.get(name.as_bytes()),
    }
}

fn info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        return command(ctx, argv);
    }
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|n| lookup(ctx, n).map_or(Reply::NilArray, info_reply))
            .collect(),
    ))
}

fn docs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cmds: Vec<&Command> = if argv.len() == 2 {
        ctx.srv.commands.all()
    } else {
        argv[2..].iter().filter_map(|n| lookup(ctx, n)).collect()
    };
    Ok(Reply::Map(
        cmds.into_iter()
            .map(|c| (Reply::bulk_str(c.meta.name), docs_reply(c)))
            .collect(),
    ))
}

fn all_names(ctx: &Ctx) -> Vec<&'static CommandMeta> {
    let mut out = Vec::new();
    for c in ctx.srv.commands.all() {
        out.push(c.meta);
        out.extend(sorted_subs(c).into_iter().map(|s| s.meta));
    }
    out
}

fn list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let names = all_names(ctx);
    let filtered: Vec<&CommandMeta> = match argv.len() {
        2 => names,
        5 if args::is(&argv[2], "FILTERBY") => {
            let val = &argv[4];
            if args::is(&argv[3], "PATTERN") {
                names
                    .into_iter()
                    .filter(|m| glob_match(val, m.name.as_bytes(), true))
                    .collect()
            } else if args::is(&argv[3], "ACLCAT") {
                let cat = format!("@{}", args::lower(val));
                names
                    .into_iter()
                    .filter(|m| m.acl.contains(&cat.as_str()))
                    .collect()
            } else if args::is(&argv[3], "MODULE") {
                Vec::new()
            } else {
                return Err(RedisError::Syntax);
            }
        }
        _ => return Err(RedisError::Syntax),
    };
    Ok(Reply::Array(
        filtered
            .into_iter()
            .map(|m| Reply::bulk_str(m.name))
            .collect(),
    ))
}

/// Resolve the command named in `argv[2..]` and extract its key positions.
fn keys_of(ctx: &Ctx, argv: &[Bytes]) -> Result<(Vec<usize>, &'static CommandMeta), RedisError> {
    let target = &argv[2..];
    let Some(mut cmd) = ctx.srv.commands.get(&target[0]) else {
        return Err(RedisError::err("Invalid command specified"));
    };
    if cmd.is_container() {
        if let Some(sub) = target.get(1).and_then(|s| cmd.sub(s)) {
            cmd = sub;
        }
    }
    let m = cmd.meta;
    if m.key_specs.is_empty() {
        return Err(RedisError::err("The command has no key arguments"));
    }
    if !m.arity_ok(target.len()) {
        return Err(RedisError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    let pos = key_positions(m, target);
    if pos.is_empty() {
        return Err(RedisError::err("Invalid arguments specified for command"));
    }
    Ok((pos, m))
}

fn getkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (pos, _) = keys_of(ctx, argv)?;
    Ok(Reply::Array(
        pos.into_iter()
            .map(|i| Reply::Bulk(argv[2 + i].clone()))
            .collect(),
    ))
}

fn getkeysandflags(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (pos, m) = keys_of(ctx, argv)?;
    let target = &argv[2..];
    // Map each position back to the spec that produced it for its flags.
    let mut out = Vec::new();
    for i in pos {
        let flags = m
            .key_specs
            .iter()
            .find(|ks| spec_covers(ks, m, target, i))
            .map_or(&[][..], |ks| ks.flags);
        out.push(Reply::Array(vec![
            Reply::Bulk(target[i].clone()),
            status_set(flags),
        ]));
    }
    Ok(Reply::Array(out))
}

fn spec_covers(ks: &'static KeySpec, m: &CommandMeta, argv: &[Bytes], i: usize) -> bool {
    let single = CommandMeta {
        key_specs: std::slice::from_ref(ks),
        ..*m
    };
    key_positions(&single, argv).contains(&i)
}

fn help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let lines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Print this help.",
    ];
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::Status(l)).collect(),
    ))
}
