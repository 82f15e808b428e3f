//! Shoal: a Redis Cluster–compatible in-memory server node.
//!
//! Layers (imports only point down): util, error → protocol, config,
//! command → types → keyspace → expire, commands::<group> → commands::table,
//! server, info. See STYLE.md in the shared folder for the architecture map.

#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod cluster;
pub mod command;
pub mod commands;
pub mod config;
pub mod error;
pub mod evict;
pub mod expire;
pub mod info;
pub mod keyspace;
pub mod logging;
pub mod notify;
pub mod persistence;
pub mod protocol;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod types;
pub mod util;

/// Version reported by INFO and --version (Redis-compatible).
pub const REDIS_VERSION: &str = "7.0.15";
/// Shoal's own version.
pub const SHOAL_VERSION: &str = env!("CARGO_PKG_VERSION");
