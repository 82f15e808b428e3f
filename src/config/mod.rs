//! Configuration: the directive table, redis.conf parsing, and the live
//! values that CONFIG GET/SET read and change at run time.

pub mod file;
pub mod hidden;
pub mod rewrite;
pub mod spec;
pub mod table;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use parking_lot::RwLock;

use crate::util::glob::glob_match;
pub use file::{load_startup_config, ConfigError};
use spec::Directive;
use table::DIRECTIVES;

/// Every directive, the hidden ones last.
pub fn all() -> impl Iterator<Item = &'static Directive> {
    DIRECTIVES.iter().chain(hidden::HIDDEN)
}

/// Find a directive by name or alias (case-insensitive). Hashed: config
/// reads sit on paths such as RESTORE and every cluster state change, and
/// a scan of the whole table per read showed up in resharding profiles.
pub fn find(name: &str) -> Option<&'static Directive> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static Directive>> =
        std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m = std::collections::HashMap::new();
        // The first directive naming it (by name or alias) wins.
        for d in all() {
            m.entry(d.name).or_insert(d);
            if let Some(a) = d.alias {
                m.entry(a).or_insert(d);
            }
        }
        m
    });
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        index.get(name.to_ascii_lowercase().as_str()).copied()
    } else {
        index.get(name).copied()
    }
}

/// Values read on hot paths, mirrored into atomics whenever they change.
#[derive(Debug, Default)]
pub struct Hot {
    pub proto_max_bulk_len: AtomicI64,
    pub client_query_buffer_limit: AtomicI64,
    pub slowlog_log_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicI64,
    pub maxmemory: AtomicI64,
    pub timeout: AtomicI64,
    pub requirepass_set: AtomicBool,
    pub hz: AtomicI64,
    pub active_expire: AtomicBool,
    pub latency_monitor_threshold: AtomicI64,
    pub latency_tracking: AtomicBool,
    /// Index of maxmemory-policy in its enum (evict::Policy order).
    pub maxmemory_policy: AtomicI64,
    pub maxmemory_samples: AtomicI64,
    pub maxmemory_eviction_tenacity: AtomicI64,
    pub lfu_log_factor: AtomicI64,
    pub lfu_decay_time: AtomicI64,
    pub replica_ignore_maxmemory: AtomicBool,
    /// Replication checks on the command path (dispatch).
    pub min_replicas_to_write: AtomicI64,
    pub replica_read_only: AtomicBool,
    pub replica_serve_stale_data: AtomicBool,
}

/// The server's configuration.
#[derive(Debug)]
pub struct Config {
    values: RwLock<BTreeMap<&'static str, String>>,
    pub hot: Hot,
    /// Path of the config file given at start (CONFIG REWRITE target).
    pub file: Option<std::path::PathBuf>,
    /// `rename-command old new` pairs from the config file (`new` empty
    /// disables the command).
    pub renames: Vec<(String, String)>,
}

impl Config {
    /// Defaults for every directive.
    pub fn defaults() -> Config {
        let values = all().map(|d| (d.name, d.default.to_string())).collect();
        let cfg = Config {
            values: RwLock::new(values),
            hot: Hot::default(),
            file: None,
            renames: Vec::new(),
        };
        cfg.hot.active_expire.store(true, Ordering::Relaxed);
        cfg.refresh_hot();
        cfg
    }

    /// Current value of a directive (canonical name or alias).
    pub fn get(&self, name: &str) -> String {
        let Some(d) = find(name) else {
            return String::new();
        };
        self.values.read().get(d.name).cloned().unwrap_or_default()
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Set a directive from already-split arguments. Errors carry Redis's
    /// reason text. `startup` allows immutable directives.
    pub fn set(&self, name: &str, args: &[String], startup: bool) -> Result<(), String> {
        let d = find(name).ok_or_else(|| "Unknown option or number of arguments".to_string())?;
        if !d.mutable && !startup {
            return Err("can't set immutable config".into());
        }
        let v = d.normalize(args)?;
        let v = validate_special(d.name, v)?;
        self.values.write().insert(d.name, v);
        self.refresh_hot();
        Ok(())
    }

    /// Directly store a normalized value (used by accumulating directives).
    pub fn store(&self, name: &'static str, value: String) {
        self.values.write().insert(name, value);
        self.refresh_hot();
    }

    /// CONFIG GET: (name, value) pairs for every directive or alias that
    /// matches one of the glob patterns, sorted by name, no duplicates.
    pub fn get_matching(&self, patterns: &[Vec<u8>]) -> Vec<(String, String)> {
        let values = self.values.read();
        let mut out = BTreeMap::new();
        for d in DIRECTIVES {
            for name in std::iter::once(d.name).chain(d.alias) {
                if patterns
                    .iter()
                    .any(|p| glob_match(p, name.as_bytes(), true))
                {
                    out.insert(
                        name.to_string(),
                        values.get(d.name).cloned().unwrap_or_default(),
                    );
                }
            }
        }
        // Hidden directives answer only when asked for by their exact name.
        for d in hidden::HIDDEN {
            if patterns
                .iter()
                .any(|p| p.eq_ignore_ascii_case(d.name.as_bytes()))
            {
                out.insert(
                    d.name.to_string(),
                    values.get(d.name).cloned().unwrap_or_default(),
                );
            }
        }
        out.into_iter().collect()
    }

    /// Every directive's current value by canonical name (CONFIG REWRITE).
    pub fn values(&self) -> std::collections::HashMap<&'static str, String> {
        self.values
            .read()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// All (name, value) pairs whose value differs from the default.
    pub fn non_defaults(&self) -> Vec<(&'static str, String)> {
        let values = self.values.read();
        all()
            .filter_map(|d| {
                let v = values.get(d.name)?;
                (v != d.default).then(|| (d.name, v.clone()))
            })
            .collect()
    }

    fn refresh_hot(&self) {
        let v = self.values.read();
        let num = |n: &str| v.get(n).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        let h = &self.hot;
        h.proto_max_bulk_len
            .store(num("proto-max-bulk-len"), Ordering::Relaxed);
        h.client_query_buffer_limit
            .store(num("client-query-buffer-limit"), Ordering::Relaxed);
        h.slowlog_log_slower_than
            .store(num("slowlog-log-slower-than"), Ordering::Relaxed);
        h.slowlog_max_len
            .store(num("slowlog-max-len"), Ordering::Relaxed);
        h.maxmemory.store(num("maxmemory"), Ordering::Relaxed);
        h.timeout.store(num("timeout"), Ordering::Relaxed);
        h.hz.store(num("hz").clamp(1, 500), Ordering::Relaxed);
        h.latency_monitor_threshold
            .store(num("latency-monitor-threshold"), Ordering::Relaxed);
        h.latency_tracking.store(
            v.get("latency-tracking").is_some_and(|s| s == "yes"),
            Ordering::Relaxed,
        );
        let policy = v
            .get("maxmemory-policy")
            .map_or("noeviction", String::as_str);
        h.maxmemory_policy
            .store(enum_index("maxmemory-policy", policy), Ordering::Relaxed);
        h.maxmemory_samples
            .store(num("maxmemory-samples").max(1), Ordering::Relaxed);
        h.maxmemory_eviction_tenacity
            .store(num("maxmemory-eviction-tenacity"), Ordering::Relaxed);
        h.lfu_log_factor
            .store(num("lfu-log-factor"), Ordering::Relaxed);
        h.lfu_decay_time
            .store(num("lfu-decay-time"), Ordering::Relaxed);
        h.replica_ignore_maxmemory.store(
            v.get("replica-ignore-maxmemory").is_none_or(|s| s == "yes"),
            Ordering::Relaxed,
        );
        h.min_replicas_to_write
            .store(num("min-replicas-to-write"), Ordering::Relaxed);
        let yes = |n: &str| v.get(n).is_some_and(|s| s == "yes");
        h.replica_read_only
            .store(yes("replica-read-only"), Ordering::Relaxed);
        h.replica_serve_stale_data
            .store(yes("replica-serve-stale-data"), Ordering::Relaxed);
        let pass = v.get("requirepass").is_some_and(|p| !p.is_empty());
        h.requirepass_set.store(pass, Ordering::Relaxed);
    }
}

/// Position of `value` among the choices of enum directive `name` (the
/// last choice when unknown).
fn enum_index(name: &str, value: &str) -> i64 {
    match find(name).map(|d| &d.kind) {
        Some(spec::Kind::Enum(choices)) => choices
            .iter()
            .position(|c| c.eq_ignore_ascii_case(value))
            .unwrap_or(choices.len().saturating_sub(1))
            as i64,
        _ => 0,
    }
}

/// Extra validation for free-form directives whose syntax Redis checks.
fn validate_special(name: &str, v: String) -> Result<String, String> {
    match name {
        "save" => {
            let parts: Vec<&str> = v.split_whitespace().collect();
            if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                return Err("Invalid save parameters".into());
            }
            Ok(parts.join(" "))
        }
        "latency-tracking-info-percentiles" => {
            let mut out = Vec::new();
            for p in v.split_whitespace() {
                let f: f64 = p.parse().map_err(|_| {
                    "Invalid latency-tracking-info-percentiles parameters".to_string()
                })?;
                if !(0.0..=100.0).contains(&f) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                // Stored the way Redis prints it: %f without trailing zeros.
                let s = format!("{f:.6}");
                out.push(s.trim_end_matches('0').trim_end_matches('.').to_string());
            }
            Ok(out.join(" "))
        }
        "notify-keyspace-events" => crate::notify::parse_flags(&v)
            .map(crate::notify::flags_to_string)
            .ok_or_else(|| crate::notify::BAD_CLASS.to_string()),
        "dir" => {
            if !v.is_empty() {
                std::env::set_current_dir(&v).map_err(|e| e.to_string())?;
            }
            Ok(std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or(v))
        }
        _ => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// redis.conf.example documents every directive and loads cleanly.
    #[test]
    fn example_covers_every_directive() {
        let text = include_str!("../../redis.conf.example");
        for d in DIRECTIVES {
            let needle = format!("\n{} ", d.name);
            let commented = format!("\n# {} ", d.name);
            assert!(
                text.contains(&needle) || text.contains(&commented),
                "redis.conf.example lacks '{}'",
                d.name
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("redis.conf");
        // Paths in the example must not change the test's process state.
        let body: String = text
            .lines()
            .filter(|l| {
                !l.starts_with("dir ") && !l.starts_with("logfile ") && !l.starts_with("pidfile ")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, body).expect("write");
        let args = vec![path.display().to_string()];
        let (cfg, _) = load_startup_config(&args).expect("example loads");
        assert_eq!(cfg.get("port"), "6379");
    }

    #[test]
    fn config_get_globs_and_aliases() {
        let c = Config::defaults();
        let got = c.get_matching(&[b"maxmemory-p*".to_vec()]);
        assert_eq!(
            got,
            vec![("maxmemory-policy".to_string(), "noeviction".to_string())]
        );
        let got = c.get_matching(&[b"slaveof".to_vec()]);
        assert_eq!(got.len(), 1);
        assert!(c.set("maxmemory", &["2mb".into()], false).is_ok());
        assert_eq!(c.get("maxmemory"), "2097152");
        assert!(c.set("databases", &["4".into()], false).is_err());
    }
}
