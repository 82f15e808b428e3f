//! Persistence: RDB snapshots (Redis 7.0 RDB version 10) — the codec in
//! `rdb/`, saving/loading the dataset in `save.rs` — and the multi-part
//! append-only file in `aof/`.

pub mod aof;
pub mod child_info;
pub mod progress;
pub mod rdb;
pub mod save;

pub use save::{bgsave, load_at_startup, save, SaveState};

/// Start-up load: the AOF takes precedence over the RDB file when
/// `appendonly yes`, as in Redis.
pub fn load_data(srv: &std::sync::Arc<crate::server::Server>) -> Result<(), String> {
    if srv.config.get_bool("appendonly") {
        aof::load_at_startup(srv)
    } else {
        load_at_startup(srv)
    }
}
