//! The commands: one handler file per group (as Redis's groups), the
//! generated command model (`meta.rs`) and THE table joining them.

pub mod admin;
pub mod connection;
pub mod ctx;
pub mod generic;
pub mod introspect;
pub mod meta;
pub mod persist;
pub mod string;
pub mod table;
pub mod tx;
pub mod zset;
pub mod zset_pop;
pub mod zset_range;
pub mod zset_store;
