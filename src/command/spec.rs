//! Command metadata types. One `CommandMeta` row per Redis command (and per
//! subcommand) describes arity, flags, ACL categories, key specs and docs;
//! the same row drives dispatch checks, COMMAND INFO/DOCS/GETKEYS, key
//! extraction for cluster routing and MULTI slot collection.

/// A static documentation tree, printed as-is by COMMAND DOCS
/// (maps become RESP3 maps or flat RESP2 arrays).
#[derive(Debug)]
pub enum Doc {
    S(&'static str),
    I(i64),
    A(&'static [Doc]),
    M(&'static [(&'static str, Doc)]),
    Nil,
}

/// Where the search for keys begins.
#[derive(Debug, Clone, Copy)]
pub enum Begin {
    /// Keys start at this argument index.
    Index(i32),
    /// Keys start after `word`, searched from `start_from` (negative: from the end).
    Keyword {
        word: &'static str,
        start_from: i32,
    },
    Unknown,
}

/// How keys are found after the beginning.
#[derive(Debug, Clone, Copy)]
pub enum Find {
    /// `last` relative to begin (negative: from the end), every `step`;
    /// `limit` > 1 means "1/limit of the remaining args".
    Range {
        last: i32,
        step: i32,
        limit: i32,
    },
    /// The number of keys is at `idx` (relative to begin), keys start at `first`.
    Keynum {
        idx: i32,
        first: i32,
        step: i32,
    },
    Unknown,
}

/// One key spec (Redis 7.0 `keySpec`).
#[derive(Debug)]
pub struct KeySpec {
    pub notes: &'static str,
    pub flags: &'static [&'static str],
    pub begin: Begin,
    pub find: Find,
}

/// The static description of a command.
#[derive(Debug)]
pub struct CommandMeta {
    /// Lower-case name; subcommands are `parent|sub`.
    pub name: &'static str,
    /// Positive: exact argc; negative: at least -arity.
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// Legacy (first, last, step) triple reported by COMMAND INFO.
    pub legacy: (i32, i32, i32),
    pub acl: &'static [&'static str],
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    pub docs: &'static [(&'static str, Doc)],
    pub subcommands: &'static [CommandMeta],
}

impl CommandMeta {
    /// Does the row carry flag `f` (Redis's flag name)?
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.contains(&f)
    }

    /// The name a client sees in errors: the subcommand part only for
    /// `parent|sub` rows is not used; Redis prints the full `parent|sub`.
    pub fn full_name(&self) -> &'static str {
        self.name
    }

    /// Does `argc` satisfy the arity?
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Documentation field by name.
    pub fn doc(&self, field: &str) -> Option<&Doc> {
        self.docs.iter().find(|(k, _)| *k == field).map(|(_, v)| v)
    }

    /// Group from the docs ("string", "generic", ...).
    pub fn group(&self) -> &'static str {
        match self.doc("group") {
            Some(Doc::S(g)) => g,
            _ => "",
        }
    }
}
