//! The commands: one handler file per group (as Redis's groups), the
//! generated command model (`meta.rs`) and THE table joining them.

pub mod admin;
pub mod client;
pub mod config;
pub mod connection;
pub mod ctx;
pub mod diag;
pub mod generic;
pub mod help;
pub mod introspect;
pub mod meta;
pub mod string;
pub mod table;
pub mod tx;
