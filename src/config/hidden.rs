//! Hidden directives: settable and readable by exact name (CONFIG GET
//! with the full name, config files, CONFIG SET) but never listed by a
//! CONFIG GET pattern, as Redis 7.0's HIDDEN_CONFIG ones. Kept apart from
//! the generated `table.rs`, which lists only what `CONFIG GET *` shows.

use super::spec::{Directive, Kind};

const INT_MIN: i64 = i32::MIN as i64;
const INT_MAX: i64 = i32::MAX as i64;

pub static HIDDEN: &[Directive] = &[
    Directive {
        name: "use-exit-on-panic",
        alias: None,
        kind: Kind::Bool,
        default: "no",
        mutable: true,
    },
    Directive {
        name: "rdb-key-save-delay",
        alias: None,
        kind: Kind::Int {
            min: INT_MIN,
            max: INT_MAX,
        },
        default: "0",
        mutable: true,
    },
    Directive {
        name: "key-load-delay",
        alias: None,
        kind: Kind::Int {
            min: INT_MIN,
            max: INT_MAX,
        },
        default: "0",
        mutable: true,
    },
    Directive {
        name: "watchdog-period",
        alias: None,
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
        default: "0",
        mutable: true,
    },
    Directive {
        name: "loading-process-events-interval-bytes",
        alias: None,
        kind: Kind::Int {
            min: 1024,
            max: INT_MAX,
        },
        default: "2097152",
        mutable: true,
    },
];
