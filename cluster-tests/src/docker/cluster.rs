//! [`DockerCluster`]: N shoal containers on a private /24 in 172.28.0.0/16,
//! one named data volume each, joined by `redis-cli --cluster create` run
//! inside a container, plus the fault verbs (kill, pause, network cut,
//! restart) and the observations (CLUSTER INFO / NODES over TCP from the
//! host, `redis-cli --cluster check` from inside the network).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{docker, docker_ok, image, poll};
use crate::resp::{Conn, Value};

static RUN: AtomicU32 = AtomicU32::new(0);

/// One container.
pub struct Node {
    pub name: String,
    pub ip: String,
    pub volume: String,
}

/// One line of CLUSTER NODES.
#[derive(Debug, Clone)]
pub struct NodeEntry {
    pub id: String,
    pub ip: String,
    pub flags: Vec<String>,
    pub master: String,
    pub slots: Vec<(u16, u16)>,
}

impl NodeEntry {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Containers, volumes and network of one test; removed by name on drop.
pub struct DockerCluster {
    pub prefix: String,
    pub net: String,
    pub nodes: Vec<Node>,
    pub node_timeout_ms: u64,
    pid: String,
    net_created: bool,
}

impl DockerCluster {
    /// Start `n` nodes (cluster-enabled, not yet joined). An `Err` starting
    /// with "SKIP:" means this host cannot run the test at all.
    pub fn start(n: usize, node_timeout_ms: u64) -> Result<DockerCluster, String> {
        let image = image()?;
        let pid = std::process::id();
        let run = RUN.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("shoaltest-{pid}-{run}");
        let mut c = DockerCluster {
            net: format!("{prefix}-net"),
            prefix,
            nodes: Vec::new(),
            node_timeout_ms,
            pid: pid.to_string(),
            net_created: false,
        };
        let third = c.create_network(pid + run * 7)?;
        for i in 0..n {
            let name = format!("{}-{}", c.prefix, i + 1);
            let node = Node {
                ip: format!("172.28.{third}.{}", 11 + i),
                volume: format!("{name}-data"),
                name,
            };
            c.nodes.push(node);
            c.run_node(i, image)?;
        }
        for i in 0..n {
            c.wait_reachable(i)?;
        }
        Ok(c)
    }

    fn create_network(&mut self, seed: u32) -> Result<u32, String> {
        let label = format!("shoaltest.pid={}", self.pid);
        for attempt in 0..40 {
            let third = 100 + (seed + attempt) % 150;
            let subnet = format!("172.28.{third}.0/24");
            let out = docker_ok(&[
                "network", "create", "--subnet", &subnet, "--label", &label, &self.net,
            ]);
            match out {
                Ok(_) => {
                    self.net_created = true;
                    return Ok(third);
                }
                Err(e) if e.contains("overlap") => continue,
                Err(e) => return Err(e),
            }
        }
        Err("no free /24 in 172.28.100-249.0".into())
    }

    fn run_node(&self, i: usize, image: &str) -> Result<(), String> {
        let n = &self.nodes[i];
        let label = format!("shoaltest.pid={}", self.pid);
        docker_ok(&["volume", "create", "--label", &label, &n.volume])?;
        let vol = format!("{}:/data", n.volume);
        let timeout = self.node_timeout_ms.to_string();
        let mut argv = vec!["run", "-d", "--name", &n.name, "--label", &label];
        argv.extend(["--network", &self.net, "--ip", &n.ip, "-v", &vol]);
        argv.extend(["--stop-timeout", "10", image, "shoal-server"]);
        argv.extend([
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            &timeout,
        ]);
        argv.extend(["--cluster-announce-ip", &n.ip]);
        // Redis waits 5 s for more replicas before a diskless full sync;
        // tests have one replica per master and no time to spare.
        argv.extend(["--repl-diskless-sync-delay", "0"]);
        docker_ok(&argv).map(drop)
    }

    fn wait_reachable(&self, i: usize) -> Result<(), String> {
        let inside = poll(Duration::from_secs(20), || {
            (self.cli(i, &["ping"]) == "PONG").then_some(())
        });
        if inside.is_none() {
            return Err(format!(
                "{} never answered PING:\n{}",
                self.nodes[i].name,
                self.logs(i)
            ));
        }
        let outside = poll(Duration::from_secs(5), || {
            self.call(i, &["PING"]).ok().filter(|v| v.text() == "PONG")
        });
        match outside {
            Some(_) => Ok(()),
            None => Err(format!(
                "SKIP: the host cannot reach container address {} (Docker engine not local?)",
                self.nodes[i].ip
            )),
        }
    }

    /// `ip:6379` of every node.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        (0..self.nodes.len()).filter_map(|i| self.addr(i)).collect()
    }

    pub fn addr(&self, i: usize) -> Option<SocketAddr> {
        format!("{}:6379", self.nodes[i].ip).parse().ok()
    }

    /// One command from the host to node `i`, with short timeouts.
    pub fn call(&self, i: usize, argv: &[&str]) -> std::io::Result<Value> {
        let addr = self
            .addr(i)
            .ok_or_else(|| std::io::Error::other("bad node address"))?;
        let mut c = Conn::open(addr, Duration::from_millis(300), Duration::from_secs(2))?;
        c.call(argv)
    }

    /// `redis-cli ARGS` inside node `i`'s container (its own loopback),
    /// trimmed stdout; "" when the container cannot run it.
    pub fn cli(&self, i: usize, args: &[&str]) -> String {
        let mut argv = vec!["exec", self.nodes[i].name.as_str(), "redis-cli"];
        argv.extend_from_slice(args);
        let out = docker(&argv);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Join all nodes with redis-cli --cluster create (run in node 0), then
    /// wait until every node reports cluster_state:ok and knows all others.
    pub fn create(&self, replicas: u32) -> Result<String, String> {
        let mut argv: Vec<String> = [
            "exec",
            &self.nodes[0].name,
            "redis-cli",
            "--cluster",
            "create",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend(self.nodes.iter().map(|n| format!("{}:6379", n.ip)));
        argv.extend([
            "--cluster-replicas".into(),
            replicas.to_string(),
            "--cluster-yes".into(),
        ]);
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = docker(&refs);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // redis-cli's own check right after the join can catch a node that
        // has not heard of every peer yet on a loaded machine; what counts
        // is that the cluster converges.
        let fail = |why: String| {
            format!(
                "cluster create did not converge: {why}\nredis-cli said:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        };
        if !text.contains(">>> Sending CLUSTER MEET messages") {
            return Err(fail("redis-cli did not get to CLUSTER MEET".into()));
        }
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        self.wait_state_ok(&all, Duration::from_secs(30))
            .map_err(fail)?;
        let n = self.nodes.len();
        // Roles too: a node learns by gossip that a peer became a replica,
        // and tests pick their victims from node 0's view right away.
        let replicas_total = n * replicas as usize / (replicas as usize + 1);
        let synced = poll(Duration::from_secs(30), || {
            all.iter()
                .all(|&i| {
                    let nodes = self.cluster_nodes(i);
                    nodes.len() == n
                        && nodes.iter().filter(|e| e.has("slave")).count() == replicas_total
                        && nodes
                            .iter()
                            .all(|e| !e.has("handshake") && !e.has("fail?") && !e.has("fail"))
                })
                .then_some(())
        });
        synced.ok_or_else(|| fail("nodes never agreed on membership".into()))?;
        self.wait_check_clean(0, Duration::from_secs(30))
            .map_err(fail)?;
        Ok(text)
    }

    /// A field of CLUSTER INFO on node `i` ("" when unreachable).
    pub fn cluster_info(&self, i: usize, field: &str) -> String {
        let text = self
            .call(i, &["CLUSTER", "INFO"])
            .map(|v| v.text())
            .unwrap_or_default();
        field_of(&text, field)
    }

    /// A field of INFO replication on node `i` ("" when unreachable).
    pub fn repl_info(&self, i: usize, field: &str) -> String {
        let text = self
            .call(i, &["INFO", "replication"])
            .map(|v| v.text())
            .unwrap_or_default();
        field_of(&text, field)
    }

    /// CLUSTER NODES as seen by node `i` (empty when unreachable).
    pub fn cluster_nodes(&self, i: usize) -> Vec<NodeEntry> {
        let text = self
            .call(i, &["CLUSTER", "NODES"])
            .map(|v| v.text())
            .unwrap_or_default();
        text.lines().filter_map(parse_node_line).collect()
    }

    /// Node `i`'s own entry in its CLUSTER NODES.
    pub fn me(&self, i: usize) -> Option<NodeEntry> {
        self.cluster_nodes(i).into_iter().find(|e| e.has("myself"))
    }

    /// Index of the node with this id.
    pub fn index_of_id(&self, id: &str) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| self.me(i).is_some_and(|e| e.id == id))
    }

    /// Index of the node with this IP.
    pub fn index_of_ip(&self, ip: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.ip == ip)
    }

    /// Masters that serve slots, as node `from` sees them: (index, entry).
    pub fn masters(&self, from: usize) -> Vec<(usize, NodeEntry)> {
        self.cluster_nodes(from)
            .into_iter()
            .filter(|e| e.has("master") && !e.slots.is_empty())
            .filter_map(|e| self.index_of_ip(&e.ip).map(|i| (i, e)))
            .collect()
    }

    /// The replica of master `m` (by node `from`'s view).
    pub fn replica_of(&self, from: usize, m: usize) -> Option<usize> {
        let id = self.me(m)?.id;
        self.cluster_nodes(from)
            .into_iter()
            .find(|e| e.has("slave") && e.master == id)
            .and_then(|e| self.index_of_ip(&e.ip))
    }

    /// Wait until each node of `which` reports cluster_state:ok.
    pub fn wait_state_ok(&self, which: &[usize], timeout: Duration) -> Result<Duration, String> {
        let t0 = Instant::now();
        poll(timeout, || {
            which
                .iter()
                .all(|&i| self.cluster_info(i, "cluster_state") == "ok")
                .then_some(())
        })
        .map(|()| t0.elapsed())
        .ok_or_else(|| {
            let states: Vec<String> = which
                .iter()
                .map(|&i| {
                    format!(
                        "{}={}",
                        self.nodes[i].name,
                        self.cluster_info(i, "cluster_state")
                    )
                })
                .collect();
            format!("cluster_state never ok: {states:?}")
        })
    }

    /// `redis-cli --cluster check` from node `i`: Ok(output) when clean.
    pub fn check(&self, i: usize) -> Result<String, String> {
        let target = format!("{}:6379", self.nodes[i].ip);
        let out = docker(&[
            "exec",
            &self.nodes[i].name,
            "redis-cli",
            "--cluster",
            "check",
            &target,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let clean = out.status.success()
            && text.contains("[OK] All nodes agree about slots configuration.")
            && text.contains("[OK] All 16384 slots covered.")
            && !text.contains("[ERR]")
            && !text.contains("[WARNING]");
        if clean {
            Ok(text)
        } else {
            Err(text)
        }
    }

    /// Poll [`DockerCluster::check`] until clean.
    pub fn wait_check_clean(&self, i: usize, timeout: Duration) -> Result<String, String> {
        let mut last = String::new();
        poll(timeout, || match self.check(i) {
            Ok(t) => Some(t),
            Err(t) => {
                last = t;
                None
            }
        })
        .ok_or_else(|| format!("redis-cli --cluster check never clean:\n{last}"))
    }

    fn verb(&self, verb: &str, i: usize) -> Result<(), String> {
        docker_ok(&[verb, &self.nodes[i].name]).map(drop)
    }

    /// SIGKILL the container (no shutdown, no save).
    pub fn kill(&self, i: usize) -> Result<(), String> {
        self.verb("kill", i)
    }

    /// Start a stopped container and wait until it answers PING.
    pub fn start_node(&self, i: usize) -> Result<(), String> {
        self.verb("start", i)?;
        self.wait_reachable(i)
    }

    /// SIGTERM, wait for exit (10 s at most), start, wait for PING.
    pub fn restart(&self, i: usize) -> Result<(), String> {
        docker_ok(&["restart", "-t", "10", &self.nodes[i].name])?;
        self.wait_reachable(i)
    }

    /// Freeze every process of the container (SIGSTOP-like, cgroup freezer).
    /// The cgroup freezer can fail transiently on a loaded host ("unable
    /// to freeze"): retry a few times.
    pub fn pause(&self, i: usize) -> Result<(), String> {
        let mut last = Ok(());
        for _ in 0..5 {
            last = self.verb("pause", i);
            if last.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        last
    }

    pub fn unpause(&self, i: usize) -> Result<(), String> {
        self.verb("unpause", i)
    }

    /// Cut the container off the network (it keeps running, unreachable).
    pub fn disconnect(&self, i: usize) -> Result<(), String> {
        docker_ok(&["network", "disconnect", &self.net, &self.nodes[i].name]).map(drop)
    }

    /// Reconnect the container with its old address.
    pub fn reconnect(&self, i: usize) -> Result<(), String> {
        let n = &self.nodes[i];
        docker_ok(&["network", "connect", "--ip", &n.ip, &self.net, &n.name]).map(drop)
    }

    /// The last lines of a node's log, for failure messages.
    pub fn logs(&self, i: usize) -> String {
        let out = docker(&["logs", "--tail", "40", &self.nodes[i].name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for DockerCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for i in 0..self.nodes.len() {
                eprintln!(
                    "---- {} log tail ----\n{}",
                    self.nodes[i].name,
                    self.logs(i)
                );
            }
        }
        for n in &self.nodes {
            let _ = docker(&["rm", "-f", "-v", &n.name]);
            let _ = docker(&["volume", "rm", &n.volume]);
        }
        if self.net_created {
            let _ = docker(&["network", "rm", &self.net]);
        }
    }
}

fn field_of(text: &str, field: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// Parse `id ip:port@bus flags master ping pong epoch link slots...`.
fn parse_node_line(line: &str) -> Option<NodeEntry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 {
        return None;
    }
    let ip = f[1].split(':').next()?.to_string();
    let slots = f[8..]
        .iter()
        .filter(|s| !s.starts_with('['))
        .filter_map(|s| match s.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => s.parse().ok().map(|x| (x, x)),
        })
        .collect();
    Some(NodeEntry {
        id: f[0].to_string(),
        ip,
        flags: f[2].split(',').map(str::to_string).collect(),
        master: f[3].to_string(),
        slots,
    })
}
