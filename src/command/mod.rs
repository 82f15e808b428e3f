//! The command *model*: what a command is (spec rows, key specs) and how
//! its keys are found. The commands themselves live in `crate::commands`.

pub mod args;
pub mod keys;
pub mod spec;

pub use spec::{CommandMeta, Doc, KeySpec};
