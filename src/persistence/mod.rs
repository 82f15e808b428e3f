//! Persistence: RDB snapshots (Redis 7.0 RDB version 10) — the codec in
//! `rdb/`, and saving/loading the dataset in `save.rs`.

pub mod rdb;
pub mod save;

pub use save::{bgsave, load_at_startup, save, SaveState};
