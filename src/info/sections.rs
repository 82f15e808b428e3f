//! INFO text with Redis 7.0's sections and field names.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::persistence::child_info;
use crate::server::Server;

/// Every section in the order Redis prints them, whatever the request order.
const ORDER: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];
/// Sections printed by `INFO` and `INFO default`.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Which sections a request selects: `default` (or no argument), `all`
/// (everything but module-generated sections, which we have none of),
/// `everything`, or section names (case-insensitive, unknown ones ignored).
pub fn select(req: &[String]) -> Vec<&'static str> {
    let mut on = vec![false; ORDER.len()];
    let mut mark = |names: &[&str]| {
        for (i, s) in ORDER.iter().enumerate() {
            if names.contains(s) {
                on[i] = true;
            }
        }
    };
    if req.is_empty() {
        mark(DEFAULT);
    }
    for r in req {
        match r.to_ascii_lowercase().as_str() {
            "default" => mark(DEFAULT),
            "all" | "everything" => mark(ORDER),
            other => mark(&[other]),
        }
    }
    ORDER
        .iter()
        .zip(on)
        .filter_map(|(s, on)| on.then_some(*s))
        .collect()
}

/// Render the requested sections (`[]` = default).
pub fn render(srv: &Server, req: &[String]) -> String {
    let mut out = String::new();
    for (i, s) in select(req).iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        section(srv, s, &mut out);
    }
    out
}

fn section(srv: &Server, name: &str, out: &mut String) {
    let title = match name {
        "cpu" => "CPU".to_string(),
        n => {
            let mut c = n.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    };
    let _ = write!(out, "# {title}\r\n");
    match name {
        "server" => server(srv, out),
        "clients" => clients(srv, out),
        "memory" => super::resources::memory(srv, out),
        "persistence" => persistence(srv, out),
        "stats" => stats(srv, out),
        "replication" => replication(srv, out),
        "cpu" => super::resources::cpu(out),
        "commandstats" => commandstats(srv, out),
        "errorstats" => errorstats(srv, out),
        "latencystats" => latencystats(srv, out),
        "cluster" => {
            let on = i32::from(srv.config.get_bool("cluster-enabled"));
            let _ = write!(out, "cluster_enabled:{on}\r\n");
        }
        "keyspace" => keyspace(srv, out),
        _ => {}
    }
}

fn line(out: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = write!(out, "{k}:{v}\r\n");
}

fn server(srv: &Server, out: &mut String) {
    let uptime = srv.started.elapsed().as_secs();
    line(out, "redis_version", crate::REDIS_VERSION);
    line(out, "redis_git_sha1", "00000000");
    line(out, "redis_git_dirty", 0);
    line(out, "redis_build_id", "shoal");
    line(
        out,
        "redis_mode",
        if srv.config.get_bool("cluster-enabled") {
            "cluster"
        } else {
            "standalone"
        },
    );
    line(out, "os", os_name());
    line(out, "arch_bits", 64);
    line(out, "monotonic_clock", "POSIX clock_gettime");
    line(out, "multiplexing_api", "epoll");
    line(out, "atomicvar_api", "c11-builtin");
    line(out, "gcc_version", "0.0.0");
    line(out, "process_id", std::process::id());
    line(out, "process_supervised", "no");
    line(out, "run_id", &srv.run_id);
    line(out, "tcp_port", srv.port());
    line(out, "server_time_usec", crate::util::clock::now_us());
    line(out, "uptime_in_seconds", uptime);
    line(out, "uptime_in_days", uptime / 86400);
    line(out, "hz", srv.config.hot.hz.load(Ordering::Relaxed));
    line(out, "configured_hz", srv.config.get("hz"));
    line(out, "lru_clock", crate::keyspace::access::lru_clock());
    line(out, "executable", &srv.executable);
    line(
        out,
        "config_file",
        srv.config
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    line(out, "io_threads_active", 0);
}

fn clients(srv: &Server, out: &mut String) {
    line(
        out,
        "connected_clients",
        srv.clients.connected.load(Ordering::Relaxed),
    );
    line(out, "cluster_connections", 0);
    line(out, "maxclients", srv.config.get("maxclients"));
    line(out, "client_recent_max_input_buffer", 0);
    line(out, "client_recent_max_output_buffer", 0);
    let blocked = srv
        .clients
        .snapshot()
        .iter()
        .filter(|c| c.blocked.load(Ordering::Relaxed))
        .count();
    line(out, "blocked_clients", blocked);
    line(out, "tracking_clients", 0);
    line(out, "clients_in_timeout_table", blocked);
}

fn stats(srv: &Server, out: &mut String) {
    let s = &srv.stats;
    let g = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    line(
        out,
        "total_connections_received",
        g(&s.total_connections_received),
    );
    line(
        out,
        "total_commands_processed",
        g(&s.total_commands_processed),
    );
    line(
        out,
        "instantaneous_ops_per_sec",
        g(&s.instantaneous_ops_per_sec),
    );
    line(out, "total_net_input_bytes", g(&s.total_net_input_bytes));
    line(out, "total_net_output_bytes", g(&s.total_net_output_bytes));
    line(out, "total_net_repl_input_bytes", 0);
    line(out, "total_net_repl_output_bytes", 0);
    line(out, "instantaneous_input_kbps", "0.00");
    line(out, "instantaneous_output_kbps", "0.00");
    line(out, "instantaneous_input_repl_kbps", "0.00");
    line(out, "instantaneous_output_repl_kbps", "0.00");
    line(out, "rejected_connections", g(&s.rejected_connections));
    let r = &srv.repl;
    line(out, "sync_full", g(&r.sync_full));
    line(out, "sync_partial_ok", g(&r.sync_partial_ok));
    line(out, "sync_partial_err", g(&r.sync_partial_err));
    line(out, "expired_keys", g(&s.expired_keys));
    line(out, "expired_stale_perc", "0.00");
    line(
        out,
        "expired_time_cap_reached_count",
        g(&s.expired_time_cap_reached_count),
    );
    line(
        out,
        "expire_cycle_cpu_milliseconds",
        g(&s.expire_cycle_cpu_milliseconds),
    );
    line(out, "evicted_keys", g(&s.evicted_keys));
    line(out, "evicted_clients", g(&s.evicted_clients));
    line(out, "total_eviction_exceeded_time", 0);
    line(out, "current_eviction_exceeded_time", 0);
    line(out, "keyspace_hits", g(&s.keyspace_hits));
    line(out, "keyspace_misses", g(&s.keyspace_misses));
    line(out, "pubsub_channels", 0);
    line(out, "pubsub_patterns", 0);
    line(out, "pubsubshard_channels", 0);
    line(out, "latest_fork_usec", 0);
    line(
        out,
        "total_forks",
        crate::util::fork::TOTAL_FORKS.load(Ordering::Relaxed),
    );
    line(
        out,
        "migrate_cached_sockets",
        crate::commands::migrate::cached_sockets(),
    );
    line(out, "slave_expires_tracked_keys", 0);
    line(out, "active_defrag_hits", 0);
    line(out, "active_defrag_misses", 0);
    line(out, "active_defrag_key_hits", 0);
    line(out, "active_defrag_key_misses", 0);
    line(out, "total_active_defrag_time", 0);
    line(out, "current_active_defrag_time", 0);
    line(out, "tracking_total_keys", 0);
    line(out, "tracking_total_items", 0);
    line(out, "tracking_total_prefixes", 0);
    line(
        out,
        "unexpected_error_replies",
        g(&s.unexpected_error_replies),
    );
    line(out, "total_error_replies", g(&s.total_error_replies));
    line(out, "dump_payload_sanitizations", 0);
    line(out, "total_reads_processed", g(&s.total_reads_processed));
    line(out, "total_writes_processed", g(&s.total_writes_processed));
    line(out, "io_threaded_reads_processed", 0);
    line(out, "io_threaded_writes_processed", 0);
    line(out, "reply_buffer_shrinks", 0);
    line(out, "reply_buffer_expands", 0);
}

fn replication(srv: &Server, out: &mut String) {
    let ids = srv.repl.ids();
    line(
        out,
        "role",
        if ids.master.is_some() {
            "slave"
        } else {
            "master"
        },
    );
    if let Some(m) = &ids.master {
        replica_fields(srv, m, ids.offset, out);
    }
    let replicas = srv.repl.replicas();
    line(out, "connected_slaves", replicas.len());
    let min = srv.config.get_i64("min-replicas-to-write");
    if min > 0 && srv.config.get_i64("min-replicas-max-lag") > 0 {
        line(
            out,
            "min_slaves_good_slaves",
            crate::replication::wait::good_replicas(srv),
        );
    }
    let now_s = crate::util::clock::now_ms() / 1000;
    for (i, r) in replicas.iter().enumerate() {
        let state = r.state.load(Ordering::Relaxed);
        let lag = if state == crate::replication::STATE_ONLINE {
            now_s.saturating_sub(r.ack_ms.load(Ordering::Relaxed) / 1000)
        } else {
            0
        };
        let state = match state {
            crate::replication::STATE_WAIT_BGSAVE => "wait_bgsave",
            crate::replication::STATE_SEND_BULK => "send_bulk",
            _ => "online",
        };
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={state},offset={},lag={lag}\r\n",
            r.ip,
            r.port,
            r.ack_offset.load(Ordering::Relaxed)
        );
    }
    line(out, "master_failover_state", "no-failover");
    line(out, "master_replid", &ids.replid);
    line(out, "master_replid2", &ids.replid2);
    line(out, "master_repl_offset", ids.offset);
    line(out, "second_repl_offset", ids.second_offset);
    line(out, "repl_backlog_active", i32::from(ids.backlog_active));
    line(
        out,
        "repl_backlog_size",
        srv.config.get("repl-backlog-size"),
    );
    line(out, "repl_backlog_first_byte_offset", ids.backlog_first);
    line(out, "repl_backlog_histlen", ids.backlog_histlen);
}

/// The replica-only block of INFO replication, in Redis's order.
fn replica_fields(srv: &Server, m: &crate::replication::MasterAddr, offset: i64, out: &mut String) {
    let link = &srv.repl.link;
    let up = link.up.load(Ordering::Relaxed);
    let syncing = link.sync_in_progress.load(Ordering::Relaxed);
    let now_ms = crate::util::clock::now_ms();
    let secs_since = |ms: u64| (now_ms.saturating_sub(ms) / 1000) as i64;
    line(out, "master_host", &m.host);
    line(out, "master_port", m.port);
    line(out, "master_link_status", if up { "up" } else { "down" });
    let last_io = link.last_io_ms.load(Ordering::Relaxed);
    line(
        out,
        "master_last_io_seconds_ago",
        if up { secs_since(last_io) } else { -1 },
    );
    line(out, "master_sync_in_progress", i32::from(syncing));
    let (read, done) = if up {
        (link.read_offset.load(Ordering::Relaxed), offset)
    } else {
        (offset, offset)
    };
    line(out, "slave_read_repl_offset", read.max(done));
    line(out, "slave_repl_offset", done);
    if syncing {
        let total = link.transfer_size.load(Ordering::Relaxed);
        let read = link.transfer_read.load(Ordering::Relaxed);
        let perc = if total > 0 {
            read as f64 / total as f64 * 100.0
        } else {
            0.0
        };
        line(out, "master_sync_total_bytes", total);
        line(out, "master_sync_read_bytes", read);
        line(out, "master_sync_left_bytes", total - read);
        line(out, "master_sync_perc", format!("{perc:.2}"));
        line(out, "master_sync_last_io_seconds_ago", secs_since(last_io));
    }
    if !up {
        let since = link.down_since_ms.load(Ordering::Relaxed);
        line(
            out,
            "master_link_down_since_seconds",
            if since > 0 { secs_since(since) } else { -1 },
        );
    }
    let yes = |n: &str| i32::from(srv.config.get_bool(n));
    line(
        out,
        "slave_priority",
        srv.config.get_i64("replica-priority"),
    );
    line(out, "slave_read_only", yes("replica-read-only"));
    line(out, "replica_announced", yes("replica-announced"));
}

fn keyspace(srv: &Server, out: &mut String) {
    for i in 0..srv.ks.db_count() {
        let db = srv.ks.db(i);
        if db.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "db{i}:keys={},expires={},avg_ttl=0\r\n",
            db.len(),
            db.volatile_len()
        );
    }
}

fn commandstats(srv: &Server, out: &mut String) {
    let mut emit = |name: &str, s: &crate::commands::table::CmdStats| {
        let calls = s.calls.load(Ordering::Relaxed);
        let rejected = s.rejected.load(Ordering::Relaxed);
        let failed = s.failed.load(Ordering::Relaxed);
        if calls == 0 && rejected == 0 && failed == 0 {
            return;
        }
        let usec = s.usec.load(Ordering::Relaxed);
        let per = if calls > 0 {
            usec as f64 / calls as f64
        } else {
            0.0
        };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
        );
    };
    for c in srv.commands.all() {
        emit(c.meta.name, &c.stats);
        let mut subs: Vec<_> = c.subs.values().collect();
        subs.sort_by_key(|s| s.meta.name);
        for s in subs {
            emit(s.meta.name, &s.stats);
        }
    }
}

fn errorstats(srv: &Server, out: &mut String) {
    for (k, v) in srv.errors.snapshot() {
        let _ = write!(out, "errorstat_{k}:count={v}\r\n");
    }
}

/// Persistence: the truthful "nothing running, nothing saved" state until
/// RDB/AOF exist; unsaved changes come from the `dirty` counter.
fn persistence(srv: &Server, out: &mut String) {
    line(
        out,
        "loading",
        i32::from(srv.loading.load(Ordering::Relaxed)),
    );
    line(out, "async_loading", 0);
    for (k, v) in child_info::CHILD.info_lines() {
        line(out, k, v);
    }
    line(
        out,
        "rdb_changes_since_last_save",
        srv.stats.dirty.load(Ordering::Relaxed),
    );
    let p = &srv.persist;
    let bg = p.in_progress();
    line(out, "rdb_bgsave_in_progress", i32::from(bg));
    line(
        out,
        "rdb_last_save_time",
        srv.lastsave.load(Ordering::Relaxed),
    );
    let ok = p.last_bgsave_ok.load(Ordering::Relaxed);
    line(out, "rdb_last_bgsave_status", if ok { "ok" } else { "err" });
    line(
        out,
        "rdb_last_bgsave_time_sec",
        p.last_bgsave_secs.load(Ordering::Relaxed),
    );
    let cur = if bg {
        let started = p.bgsave_started_ms.load(Ordering::Relaxed);
        (crate::util::clock::now_ms().saturating_sub(started) / 1000) as i64
    } else {
        -1
    };
    line(out, "rdb_current_bgsave_time_sec", cur);
    line(out, "rdb_saves", p.rdb_saves.load(Ordering::Relaxed));
    line(
        out,
        "rdb_last_cow_size",
        child_info::CHILD.last_cow(child_info::Kind::Rdb),
    );
    line(
        out,
        "rdb_last_load_keys_expired",
        p.last_load_expired.load(Ordering::Relaxed),
    );
    line(
        out,
        "rdb_last_load_keys_loaded",
        p.last_load_loaded.load(Ordering::Relaxed),
    );
    crate::persistence::aof::info(srv, out, false);
    line(out, "module_fork_in_progress", 0);
    line(out, "module_fork_last_cow_size", 0);
    if srv.config.get_bool("appendonly") {
        crate::persistence::aof::info(srv, out, true);
    }
    if srv.loading.load(Ordering::Relaxed) {
        srv.persist.load.info(out);
    }
}

/// `latency_percentiles_usec_<cmd>:p50=..,p99=..` for commands with samples.
fn latencystats(srv: &Server, out: &mut String) {
    use super::histogram::{label, parse_percentiles};
    let ps =
        parse_percentiles(&srv.config.get("latency-tracking-info-percentiles")).unwrap_or_default();
    let mut emit = |name: &str, h: &super::histogram::Histogram| {
        let Some(vals) = h.percentiles(&ps) else {
            return;
        };
        let fields: Vec<String> = ps
            .iter()
            .zip(vals)
            .map(|(p, v)| format!("{}={:.3}", label(*p), v as f64 / 1000.0))
            .collect();
        let _ = write!(
            out,
            "latency_percentiles_usec_{name}:{}\r\n",
            fields.join(",")
        );
    };
    for c in srv.commands.all() {
        emit(c.meta.name, &c.stats.hist);
        let mut subs: Vec<_> = c.subs.values().collect();
        subs.sort_by_key(|s| s.meta.name);
        for s in subs {
            emit(s.meta.name, &s.stats.hist);
        }
    }
}

/// `uname -s -r -m` as Redis prints it, e.g. `Linux 6.1.0 x86_64`.
fn os_name() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let kernel = read("/proc/sys/kernel/ostype");
    if kernel.is_empty() {
        return std::env::consts::OS.to_string();
    }
    format!(
        "{kernel} {} {}",
        read("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    )
}

#[cfg(test)]
mod tests {
    use super::select;

    fn sel(args: &[&str]) -> Vec<&'static str> {
        select(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn section_selection_follows_redis_rules() {
        assert_eq!(sel(&[]), sel(&["default"]));
        assert!(!sel(&[]).contains(&"commandstats"));
        assert_eq!(sel(&["all"]).len(), 13);
        assert_eq!(sel(&["everything"]), sel(&["all"]));
        // Fixed order and no duplicates whatever the request order.
        assert_eq!(
            sel(&["keyspace", "CPU", "server", "cpu"]),
            ["server", "cpu", "keyspace"]
        );
        assert_eq!(sel(&["cpu", "all"]), sel(&["all"]));
        assert!(sel(&["nosuch"]).is_empty());
        assert!(sel(&["commandSTATS"]) == ["commandstats"]);
    }
}
