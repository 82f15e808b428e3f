//! Wiring: the shared `Server` state, the listener, the per-connection
//! loop, the checks before a command runs (dispatch) and its execution
//! (call: stats, slowlog, monitors, propagation).

pub mod call;
pub mod clients;
pub mod conn;
pub mod cron;
pub mod dispatch;
pub mod listener;
pub mod monitor;
pub mod propagate;
pub mod session;
pub mod shutdown;
pub mod stats;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::commands::table::CommandTable;
use crate::config::Config;
use crate::info::slowlog::Slowlog;
use crate::keyspace::Keyspace;
use clients::Clients;
use monitor::Monitors;
use propagate::Propagator;
use stats::Stats;

/// How the server should stop (SHUTDOWN options / signals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    Default,
    Save,
    NoSave,
}

/// CLIENT PAUSE state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseKind {
    Write,
    All,
}

/// Everything shared between connections and background tasks.
pub struct Server {
    pub config: Config,
    pub ks: Keyspace,
    pub stats: Arc<Stats>,
    pub clients: Clients,
    pub commands: CommandTable,
    pub slowlog: Slowlog,
    pub latency: crate::info::latency::LatencyMonitor,
    pub monitors: Monitors,
    pub shutdown: CancellationToken,
    pub shutdown_mode: Mutex<Option<ShutdownMode>>,
    pub run_id: String,
    pub started: Instant,
    pub started_ms: u64,
    pub lastsave: AtomicU64,
    pub pause: Mutex<Option<(PauseKind, u64)>>,
    pub pause_changed: tokio::sync::Notify,
    pub executable: String,
    pub tcp_port: AtomicU64,
    /// Cancelled to stop the current accept loops (CONFIG SET port).
    pub listening: Mutex<CancellationToken>,
    pub loading: AtomicBool,
    pub errors: crate::info::errors::ErrorStats,
    pub persist: crate::persistence::SaveState,
    pub aof: crate::persistence::aof::Aof,
    pub pubsub: Arc<crate::pubsub::PubSub>,
    /// Replication state (both roles).
    pub repl: Arc<crate::replication::Replication>,
    /// Present when `cluster-enabled yes`.
    pub cluster: Option<crate::cluster::Cluster>,
    /// Lua scripting (EVAL, SCRIPT).
    pub scripts: crate::scripting::Scripts,
}

impl Server {
    pub fn new(config: Config) -> Arc<Server> {
        let stats = Arc::new(Stats::default());
        let propagator = Arc::new(Propagator::default());
        let databases = config.get_i64("databases").max(1) as usize;
        let pubsub = Arc::new(crate::pubsub::PubSub::default());
        pubsub.set_limits(crate::pubsub::limits_from_config(
            &config.get("client-output-buffer-limit"),
        ));
        let ks = Keyspace::new(databases, propagator, stats.clone(), pubsub.clone());
        if let Some(f) = crate::notify::parse_flags(&config.get("notify-keyspace-events")) {
            ks.notify.set_flags(f);
        }
        let run_id: String = (0..40)
            .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
            .collect();
        let now = crate::util::clock::now_ms();
        let port = config.get_i64("port").max(0) as u64;
        let cluster = config
            .get_bool("cluster-enabled")
            .then(|| crate::cluster::Cluster::new(&config));
        let commands = CommandTable::build_renamed(&config.renames);
        Arc::new(Server {
            config,
            ks,
            stats,
            clients: Clients::default(),
            commands,
            slowlog: Slowlog::default(),
            latency: Default::default(),
            monitors: Monitors::default(),
            shutdown: CancellationToken::new(),
            shutdown_mode: Mutex::new(None),
            run_id,
            started: Instant::now(),
            started_ms: now,
            lastsave: AtomicU64::new(now / 1000),
            pause: Mutex::new(None),
            pause_changed: tokio::sync::Notify::new(),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            tcp_port: AtomicU64::new(port),
            listening: Mutex::new(CancellationToken::new()),
            loading: AtomicBool::new(false),
            errors: Default::default(),
            persist: crate::persistence::SaveState::new(),
            aof: Default::default(),
            pubsub,
            repl: Default::default(),
            cluster,
            scripts: Default::default(),
        })
    }

    /// Ask the server to stop (SHUTDOWN, signals).
    pub fn request_shutdown(&self, mode: ShutdownMode) {
        // Flush and fsync the AOF before any client sees its connection
        // close, as Redis does before exiting. The writer stays attached,
        // so a write acknowledged from now on is still persisted.
        crate::persistence::aof::flush(self);
        *self.shutdown_mode.lock() = Some(mode);
        self.shutdown.cancel();
    }

    pub fn port(&self) -> u16 {
        self.tcp_port.load(Ordering::Relaxed) as u16
    }
}

/// Run the server until shutdown. Returns the process exit code.
pub fn run(config: Config) -> i32 {
    // `io-threads` (Redis's knob, default 1) sets the number of threads
    // that run client connections; CPU-heavy work (snapshots, expiry
    // sweeps) runs on the blocking pool either way.
    let threads = config.get_i64("io-threads").clamp(1, 128) as usize;
    stats::set_one_writer(threads == 1);
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Failed to start the runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(async move {
        let srv = Server::new(config);
        crate::info::resources::record_startup();
        crate::evict::apply_config(&srv.config);
        crate::replication::start(&srv);
        listener::serve(srv).await
    });
    // Everything that must reach disk has; a script that SHUTDOWN NOSAVE
    // interrupted may still spin on a blocking thread: do not wait for it.
    rt.shutdown_background();
    code
}
