//! Server-wide counters reported by INFO stats (Redis field names).

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Atomic counters; every field is an INFO stats field of the same name.
        #[derive(Debug, Default)]
        pub struct Stats { $(pub $name: AtomicU64,)* }

        /// Set when commands run on one thread only (`io-threads 1`, the
/// default): hot-path counters are then bumped with a plain load and store
/// instead of a locked read-modify-write, which showed up in profiles of
/// pipelined GET/SET. Readers on other threads still see whole values.
static ONE_WRITER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Declare whether commands run on a single thread (server start-up).
pub fn set_one_writer(on: bool) {
    ONE_WRITER.store(on, Ordering::Relaxed);
}

/// Add to a counter only command execution writes.
#[inline]
pub fn bump(c: &AtomicU64, n: u64) {
    if ONE_WRITER.load(Ordering::Relaxed) {
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    } else {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

impl Stats {
            /// CONFIG RESETSTAT.
            pub fn reset(&self) {
                $(self.$name.store(0, Ordering::Relaxed);)*
            }
        }
    };
}

counters!(
    total_connections_received,
    total_commands_processed,
    total_net_input_bytes,
    total_net_output_bytes,
    rejected_connections,
    expired_keys,
    expired_stale_perc,
    expired_time_cap_reached_count,
    expire_cycle_cpu_milliseconds,
    evicted_keys,
    evicted_clients,
    keyspace_hits,
    keyspace_misses,
    total_error_replies,
    unexpected_error_replies,
    total_reads_processed,
    total_writes_processed,
    client_query_buffer_limit_disconnections,
    client_output_buffer_limit_disconnections,
    dirty,
    total_blocking_keys,
    instantaneous_ops_per_sec,
);

impl Stats {
    pub fn incr(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
