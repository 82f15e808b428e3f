//! Server-wide counters reported by INFO stats (Redis field names).

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Atomic counters; every field is an INFO stats field of the same name.
        #[derive(Debug, Default)]
        pub struct Stats { $(pub $name: AtomicU64,)* }

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
