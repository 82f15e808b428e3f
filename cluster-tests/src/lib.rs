//! Harness for multi-process cluster tests (STYLE.md §Tests, layer 6):
//! start shoal-server and redis-server nodes on free 127.0.0.1 ports, join
//! them with `redis-cli --cluster create`, wait for `cluster_state:ok`, and
//! kill every process by PID when its guard drops.
//!
//! Ports stay below 22768 so that the cluster bus port (+10000) is valid.
//! The shoal-server binary is the one `cargo test --workspace` built next
//! to the test executable (`target/<profile>/shoal-server`), or `$SHOAL_SERVER`.
//! [`docker`] runs clusters of containers instead, for faults that need
//! nodes with their own addresses (network cuts, pauses, node loss).

pub mod client;
pub mod docker;
pub mod resp;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use resp::{Conn, Value};

/// Which server a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Shoal,
    Redis,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A port that is free right now, with its bus port (+10000) free too.
/// Each test process starts at its own offset (by PID) so parallel test
/// binaries rarely race; ports stay in 12000..21000.
pub fn free_port() -> u16 {
    let start = (std::process::id() % 450) * 20;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = (12000 + (start + n) % 9000) as u16;
        if TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 10000)).is_ok()
        {
            return p;
        }
    }
}

/// Find an executable on `$PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

/// The shoal-server binary: `$SHOAL_SERVER`, else the one beside the test
/// executable's profile directory (`target/debug/deps/x` → `target/debug`).
pub fn shoal_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SHOAL_SERVER") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    profile.join("shoal-server")
}

/// True when redis-cli and redis-server are installed; tests print
/// SKIPPED and return early otherwise.
pub fn have_redis_tools() -> bool {
    let ok = which("redis-cli").is_some() && which("redis-server").is_some();
    if !ok {
        eprintln!("SKIPPED: redis-cli / redis-server not installed");
    }
    ok
}

/// Poll `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One server process in cluster mode, killed (SIGKILL) on drop.
pub struct Node {
    pub kind: Kind,
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Binary and arguments, to restart the node on the same port and dir.
    bin: PathBuf,
    args: Vec<String>,
}

impl Node {
    /// Start a cluster-enabled node with `node_timeout_ms`, plus `extra`
    /// `--name value` arguments. Retries on another port if the chosen one
    /// was taken between the check and the bind.
    pub fn start(kind: Kind, node_timeout_ms: u64, extra: &[&str]) -> Node {
        let t = node_timeout_ms.to_string();
        let mut args = vec![
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            &t,
        ];
        args.extend_from_slice(extra);
        Node::start_with(kind, &args)
    }

    /// Start a node with cluster mode off (a source for `--cluster import`).
    pub fn standalone(kind: Kind) -> Node {
        Node::start_with(kind, &[])
    }

    fn start_with(kind: Kind, extra: &[&str]) -> Node {
        for _ in 0..5 {
            if let Some(n) = Node::try_start(kind, extra) {
                return n;
            }
        }
        panic!("could not start a {kind:?} node");
    }

    fn try_start(kind: Kind, extra: &[&str]) -> Option<Node> {
        let bin = match kind {
            Kind::Shoal => shoal_bin(),
            Kind::Redis => which("redis-server")?,
        };
        assert!(
            bin.is_file(),
            "{} not found: build it (cargo build) or set SHOAL_SERVER",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path().display().to_string();
        // An (empty) config file makes CONFIG REWRITE work, which
        // `redis-cli --cluster set-timeout` needs.
        let conf = dir.path().join("node.conf");
        std::fs::write(&conf, "# cluster-tests node\n").ok()?;
        let conf = conf.display().to_string();
        let mut args: Vec<String> = [
            conf.as_str(),
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &d,
            "--logfile",
            "server.log",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut node = Node {
            kind,
            port,
            child: None,
            dir,
            bin,
            args,
        };
        node.spawn().then_some(node)
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new(&self.bin)
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(c) => self.child = Some(c),
            Err(_) => return false,
        }
        self.wait_ready()
    }

    /// Start a killed node again on the same port, with its files
    /// (nodes.conf, RDB) as it left them.
    pub fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "could not restart the node on {}", self.port);
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if let Ok(mut c) = Conn::connect(self.port) {
                if c.call(&["PING"]).is_ok_and(|v| v.text() == "PONG") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn conn(&self) -> Conn {
        match Conn::connect(self.port) {
            Ok(c) => c,
            Err(e) => panic!("connect to {}: {e}", self.port),
        }
    }

    /// Run one command on a fresh connection.
    pub fn cmd<A: AsRef<[u8]>>(&self, argv: &[A]) -> Value {
        self.conn().cmd(argv)
    }

    pub fn id(&self) -> String {
        self.cmd(&["CLUSTER", "MYID"]).text()
    }

    /// One `field:value` of CLUSTER INFO.
    pub fn info_field(&self, field: &str) -> String {
        let text = Conn::connect(self.port)
            .and_then(|mut c| c.call(&["CLUSTER", "INFO"]))
            .map(|v| v.text())
            .unwrap_or_default();
        let prefix = format!("{field}:");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    }

    /// CLUSTER NODES as lines.
    pub fn nodes(&self) -> Vec<String> {
        self.cmd(&["CLUSTER", "NODES"])
            .text()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// SIGKILL the process now (no cleanup, like a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server's log file (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run `redis-cli` with `args`, bounded in time by redis-cli itself.
pub fn redis_cli(args: &[&str]) -> Output {
    let bin = which("redis-cli").unwrap_or_else(|| PathBuf::from("redis-cli"));
    match Command::new(bin).args(args).stdin(Stdio::null()).output() {
        Ok(o) => o,
        Err(e) => panic!("redis-cli: {e}"),
    }
}

/// stdout + stderr of a finished command, for assertions and messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A set of nodes joined into one cluster.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub node_timeout_ms: u64,
}

impl Cluster {
    /// Start nodes of the given kinds (node timeout `node_timeout_ms`) and
    /// join them with `redis-cli --cluster create … --cluster-replicas
    /// replicas --cluster-yes`; wait until every node reports
    /// `cluster_state:ok` and knows every other node.
    pub fn create(kinds: &[Kind], replicas: usize, node_timeout_ms: u64) -> Cluster {
        let nodes: Vec<Node> = kinds
            .iter()
            .map(|k| Node::start(*k, node_timeout_ms, &[]))
            .collect();
        let cluster = Cluster {
            nodes,
            node_timeout_ms,
        };
        let addrs: Vec<String> = cluster.nodes.iter().map(Node::addr).collect();
        let r = replicas.to_string();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", &r, "--cluster-yes"]);
        let out = redis_cli(&args);
        let text = output_text(&out);
        assert!(
            text.contains("[OK] All 16384 slots covered."),
            "redis-cli --cluster create failed:\n{text}"
        );
        cluster.wait_stable(Duration::from_secs(20));
        cluster
    }

    /// Start `n` Shoal nodes joined as masters.
    pub fn shoal(n: usize, node_timeout_ms: u64) -> Cluster {
        Cluster::create(&vec![Kind::Shoal; n], 0, node_timeout_ms)
    }

    /// Wait until every node says `cluster_state:ok` and knows all nodes.
    pub fn wait_stable(&self, timeout: Duration) {
        let n = self.nodes.len().to_string();
        let ok = wait_until(timeout, || {
            self.nodes.iter().all(|node| {
                node.info_field("cluster_state") == "ok"
                    && node.info_field("cluster_known_nodes") == n
            })
        });
        assert!(ok, "cluster did not become stable:\n{}", self.describe());
    }

    /// Wait until `redis-cli --cluster check` passes from the first node
    /// (every node agrees on the slot configuration, no open slots).
    pub fn wait_check_ok(&self, timeout: Duration) -> String {
        let mut last = String::new();
        let ok = wait_until(timeout, || {
            last = self.cli_text(&["check", &self.nodes[0].addr()]);
            check_passed(&last)
        });
        assert!(ok, "--cluster check did not pass:\n{last}");
        last
    }

    /// `redis-cli --cluster <args…>`, returning stdout + stderr.
    pub fn cli_text(&self, args: &[&str]) -> String {
        let mut a = vec!["--cluster"];
        a.extend_from_slice(args);
        output_text(&redis_cli(&a))
    }

    /// The node at `port`, if it is in this cluster.
    pub fn by_port(&self, port: u16) -> Option<&Node> {
        self.nodes.iter().find(|n| n.port == port)
    }

    /// Add a node that was started by the caller.
    pub fn push(&mut self, node: Node) {
        self.nodes.push(node);
    }

    /// Every node's view, for assertion messages.
    pub fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let view = Conn::connect(n.port)
                    .and_then(|mut c| c.call(&["CLUSTER", "NODES"]))
                    .map(|v| v.text())
                    .unwrap_or_else(|e| format!("<{e}>"));
                format!("--- {:?} {}:\n{view}", n.kind, n.port)
            })
            .collect()
    }
}

/// Whether the text of `redis-cli --cluster check` reports no problem.
pub fn check_passed(text: &str) -> bool {
    text.contains("[OK] All nodes agree about slots configuration.")
        && text.contains("[OK] All 16384 slots covered.")
        && !text.contains("[WARNING]")
        && !text.contains("[ERR]")
}
