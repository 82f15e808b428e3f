//! Introspection: INFO sections, error statistics, SLOWLOG.

pub mod errors;
pub mod histogram;
pub mod latency;
pub mod resources;
pub mod sections;
pub mod slowlog;
