//! The commands: one handler file per group (as Redis's groups), the
//! generated command model (`meta.rs`) and THE table joining them.

pub mod admin;
pub mod bitfield;
pub mod bitmap;
pub mod blocking;
pub mod client;
pub mod cluster;
pub mod coll;
pub mod config;
pub mod connection;
pub mod ctx;
pub mod diag;
pub mod dump;
pub mod expire;
pub mod generic;
pub mod hash;
pub mod hash_rand;
pub mod help;
pub mod introspect;
pub mod keyscan;
pub mod lcs;
pub mod list;
pub mod meta;
pub mod migrate;
pub mod object;
pub mod persist;
pub mod pubsub;
pub mod repl;
pub mod set;
pub mod set_ops;
pub mod string;
pub mod string_edit;
pub mod string_num;
pub mod table;
pub mod tx;
