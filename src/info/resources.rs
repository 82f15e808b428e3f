//! INFO memory and INFO cpu: real figures from jemalloc's statistics,
//! /proc and getrusage, with Redis 7.0.15's field names and order.
//!
//! `used_memory` is the counting allocator's figure (util::alloc, the
//! equivalent of Redis's zmalloc counter: live allocations rounded to
//! jemalloc's size classes), falling back to jemalloc's `stats.allocated`
//! when the counter is not installed; `used_memory_rss` is the process RSS
//! as Redis reads it. The peak is tracked here, refreshed by
//! the cron and whenever INFO memory is rendered.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::server::Server;

static PEAK: AtomicU64 = AtomicU64::new(0);
static STARTUP: AtomicU64 = AtomicU64::new(0);

/// jemalloc's view of the heap.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllocStats {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
}

#[cfg(not(target_env = "msvc"))]
pub fn alloc_stats() -> AllocStats {
    use tikv_jemalloc_ctl::{epoch, stats};
    // Statistics are cached by jemalloc until the epoch advances.
    let _ = epoch::advance();
    AllocStats {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
    }
}

#[cfg(target_env = "msvc")]
pub fn alloc_stats() -> AllocStats {
    AllocStats::default()
}

/// Bytes in use: the allocator counter, else jemalloc's statistics.
fn allocated_now() -> u64 {
    crate::util::alloc::allocated().unwrap_or_else(|| alloc_stats().allocated)
}

/// Record the memory in use right after start-up (`used_memory_startup`).
pub fn record_startup() {
    let a = allocated_now();
    STARTUP.store(a, Ordering::Relaxed);
    PEAK.fetch_max(a, Ordering::Relaxed);
}

/// Current used memory, also folded into the peak.
pub fn used_memory() -> u64 {
    let a = allocated_now();
    PEAK.fetch_max(a, Ordering::Relaxed);
    a
}

/// Where memory goes, as Redis's getMemoryOverheadData reports it.
#[derive(Debug, Default, Clone)]
pub struct Overhead {
    pub used: u64,
    pub peak: u64,
    pub startup: u64,
    pub rss: u64,
    pub alloc: AllocStats,
    /// Query and output buffers of normal clients.
    pub clients_normal: u64,
    /// Per non-empty db: (index, keys, table overhead).
    pub dbs: Vec<(usize, u64, u64)>,
    pub total: u64,
    pub keys: u64,
}

/// Table cost per key: one node pointer plus one control byte per bucket,
/// buckets 7/8 full at most (keyspace::shard).
fn table_overhead(keys: u64) -> u64 {
    keys * 9 * 8 / 7
}

pub fn overhead(srv: &Server) -> Overhead {
    let a = alloc_stats();
    let used = allocated_now();
    let peak = PEAK.fetch_max(used, Ordering::Relaxed).max(used);
    let rss = match process_rss() {
        0 => a.resident,
        r => r,
    };
    let startup = STARTUP.load(Ordering::Relaxed).min(used);
    let clients_normal: u64 = srv
        .clients
        .snapshot()
        .iter()
        .map(|c| (c.qbuf.load(Ordering::Relaxed) + c.omem.load(Ordering::Relaxed)) as u64)
        .sum();
    let mut dbs = Vec::new();
    let mut keys = 0;
    for i in 0..srv.ks.db_count() {
        let n = srv.ks.db(i).len();
        if n > 0 {
            dbs.push((i, n, table_overhead(n)));
            keys += n;
        }
    }
    let total = (startup + clients_normal + dbs.iter().map(|d| d.2).sum::<u64>()).min(used);
    Overhead {
        used,
        peak,
        startup,
        rss,
        alloc: a,
        clients_normal,
        dbs,
        total,
        keys,
    }
}

/// A `kB` figure from a /proc file such as `VmRSS:  1234 kB` (0 if absent).
fn proc_kb(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Process resident set size, as Redis reads it from /proc.
fn process_rss() -> u64 {
    proc_kb("/proc/self/status", "VmRSS:")
}

fn total_system_memory() -> u64 {
    proc_kb("/proc/meminfo", "MemTotal:")
}

/// Redis's bytesToHuman: `B`, then K/M/G/T/P with two decimals.
pub fn human(n: u64) -> String {
    const UNITS: [(f64, &str); 5] = [
        (1024.0, "K"),
        (1048576.0, "M"),
        (1073741824.0, "G"),
        (1099511627776.0, "T"),
        (1125899906842624.0, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    let f = n as f64;
    for (i, (div, unit)) in UNITS.iter().enumerate() {
        let last = i + 1 == UNITS.len();
        if last || f < div * 1024.0 {
            return format!("{:.2}{unit}", f / div);
        }
    }
    format!("{n}B")
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn line(out: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = write!(out, "{k}:{v}\r\n");
}

pub fn memory(srv: &Server, out: &mut String) {
    let o = overhead(srv);
    let (a, used, peak, rss, startup) = (o.alloc, o.used, o.peak, o.rss, o.startup);
    let dataset = used - o.total;
    let net = used - startup;
    line(out, "used_memory", used);
    line(out, "used_memory_human", human(used));
    line(out, "used_memory_rss", rss);
    line(out, "used_memory_rss_human", human(rss));
    line(out, "used_memory_peak", peak);
    line(out, "used_memory_peak_human", human(peak));
    line(
        out,
        "used_memory_peak_perc",
        format!("{:.2}%", ratio(used, peak) * 100.0),
    );
    line(out, "used_memory_overhead", o.total);
    line(out, "used_memory_startup", startup);
    line(out, "used_memory_dataset", dataset);
    line(
        out,
        "used_memory_dataset_perc",
        format!("{:.2}%", ratio(dataset, net) * 100.0),
    );
    line(out, "allocator_allocated", a.allocated);
    line(out, "allocator_active", a.active);
    line(out, "allocator_resident", a.resident);
    let sys = total_system_memory();
    line(out, "total_system_memory", sys);
    line(out, "total_system_memory_human", human(sys));
    // The Lua interpreter exists from the first script on (Redis creates
    // it at start-up); functions (FUNCTION LOAD) are not supported.
    let scripts = &srv.scripts;
    let vm = scripts.lua_memory() as u64;
    let eval_overhead = scripts.body_bytes() as u64;
    line(out, "used_memory_lua", vm);
    line(out, "used_memory_vm_eval", vm);
    line(out, "used_memory_lua_human", human(vm));
    line(out, "used_memory_scripts_eval", eval_overhead);
    line(out, "number_of_cached_scripts", scripts.cached());
    for k in [
        "number_of_functions",
        "number_of_libraries",
        "used_memory_vm_functions",
    ] {
        line(out, k, 0);
    }
    line(out, "used_memory_vm_total", vm);
    line(out, "used_memory_vm_total_human", human(vm));
    line(out, "used_memory_functions", 0);
    line(out, "used_memory_scripts", eval_overhead);
    line(out, "used_memory_scripts_human", human(eval_overhead));
    let maxmemory = srv.config.get("maxmemory").parse::<u64>().unwrap_or(0);
    line(out, "maxmemory", maxmemory);
    line(out, "maxmemory_human", human(maxmemory));
    line(out, "maxmemory_policy", srv.config.get("maxmemory-policy"));
    let frag = |o: &mut String, k: &str, a: u64, b: u64| {
        line(o, &format!("{k}_ratio"), format!("{:.2}", ratio(a, b)));
        line(o, &format!("{k}_bytes"), a as i64 - b as i64);
    };
    frag(out, "allocator_frag", a.active, a.allocated);
    frag(out, "allocator_rss", a.resident, a.active);
    frag(out, "rss_overhead", rss, a.resident);
    line(
        out,
        "mem_fragmentation_ratio",
        format!("{:.2}", ratio(rss, used)),
    );
    line(out, "mem_fragmentation_bytes", rss as i64 - used as i64);
    for (k, v) in [
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", o.clients_normal),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
    ] {
        line(out, k, v);
    }
    line(out, "mem_allocator", "jemalloc-5.3.0");
    line(out, "active_defrag_running", 0);
    line(out, "lazyfree_pending_objects", 0);
    line(out, "lazyfreed_objects", 0);
}

/// User and system CPU seconds of `who`, formatted as Redis does.
#[allow(unsafe_code)]
fn rusage(who: libc::c_int) -> (String, String) {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(who, &mut ru) } == 0;
    if !ok {
        return ("0.000000".into(), "0.000000".into());
    }
    let f = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (f(ru.ru_stime), f(ru.ru_utime))
}

pub fn cpu(out: &mut String) {
    let (sys, user) = rusage(libc::RUSAGE_SELF);
    let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
    #[cfg(target_os = "linux")]
    let (tsys, tuser) = rusage(libc::RUSAGE_THREAD);
    #[cfg(not(target_os = "linux"))]
    let (tsys, tuser) = (sys.clone(), user.clone());
    line(out, "used_cpu_sys", sys);
    line(out, "used_cpu_user", user);
    line(out, "used_cpu_sys_children", csys);
    line(out, "used_cpu_user_children", cuser);
    line(out, "used_cpu_sys_main_thread", tsys);
    line(out, "used_cpu_user_main_thread", tuser);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(965728), "943.09K");
        assert_eq!(human(6672384), "6.36M");
        assert_eq!(human(25276510208), "23.54G");
    }
}
