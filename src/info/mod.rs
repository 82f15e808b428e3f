//! Introspection: INFO sections, error statistics, SLOWLOG.

pub mod errors;
pub mod sections;
pub mod slowlog;
