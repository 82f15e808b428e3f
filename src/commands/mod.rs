//! The commands: one handler file per group (as Redis's groups), the
//! generated command model (`meta.rs`) and THE table joining them.

pub mod admin;
pub mod coll;
pub mod connection;
pub mod ctx;
pub mod generic;
pub mod hash;
pub mod hash_rand;
pub mod introspect;
pub mod meta;
pub mod persist;
pub mod set;
pub mod set_ops;
pub mod string;
pub mod table;
pub mod tx;
