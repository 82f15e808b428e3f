//! The client side of the fault tests: a cluster-aware client over
//! container addresses (slot map from CLUSTER SLOTS, MOVED followed, map
//! refreshed after errors), and a [`Writer`] thread that writes unique keys
//! with `SET` + `WAIT <n> 1000` during a fault. A write counts as
//! *acknowledged* only when WAIT reports enough replicas; afterwards
//! [`verify`] reads every acknowledged key back. Each attempt is logged with
//! its time, so the time to recover from a fault can be read off the log.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::client::key_slot;
use crate::resp::{Conn, Value};

/// Slot → master cache over a set of seed addresses.
pub struct Client {
    slots: Vec<Option<SocketAddr>>,
    conns: HashMap<SocketAddr, Conn>,
    seeds: Vec<SocketAddr>,
    refreshed: Option<Instant>,
}

impl Client {
    pub fn new(seeds: Vec<SocketAddr>) -> Client {
        Client {
            slots: vec![None; 16384],
            conns: HashMap::new(),
            seeds,
            refreshed: None,
        }
    }

    fn conn(&mut self, addr: SocketAddr) -> io::Result<&mut Conn> {
        match self.conns.entry(addr) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => Ok(e.insert(Conn::open(
                addr,
                Duration::from_millis(300),
                Duration::from_millis(1500),
            )?)),
        }
    }

    /// One command on one node's connection (dropped after an I/O error).
    pub fn call_on(&mut self, addr: SocketAddr, argv: &[&[u8]]) -> io::Result<Value> {
        let res = self.conn(addr).and_then(|c| c.call(argv));
        if res.is_err() {
            self.conns.remove(&addr);
        }
        res
    }

    /// Reload the slot map from the first seed that answers CLUSTER SLOTS
    /// (at most every 100 ms, so a dead cluster does not spin).
    fn refresh(&mut self) {
        if self
            .refreshed
            .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.refreshed = Some(Instant::now());
        for seed in self.seeds.clone() {
            let Ok(v) = self.call_on(seed, &[b"CLUSTER", b"SLOTS"]) else {
                continue;
            };
            let mut any = false;
            for range in v.items() {
                let r = range.items();
                let (Some(Value::Int(a)), Some(Value::Int(b)), Some(m)) =
                    (r.first(), r.get(1), r.get(2))
                else {
                    continue;
                };
                let (Some(ip), Some(Value::Int(port))) = (m.items().first(), m.items().get(1))
                else {
                    continue;
                };
                let Ok(addr) = format!("{}:{port}", ip.text()).parse::<SocketAddr>() else {
                    continue;
                };
                for s in (*a).max(0)..=(*b).min(16383) {
                    self.slots[s as usize] = Some(addr);
                }
                any = true;
            }
            if any {
                return;
            }
        }
    }

    /// Send a keyed command to the owner of `slot`, following MOVED.
    /// Returns the node that answered and its reply.
    pub fn call(&mut self, slot: u16, argv: &[&[u8]]) -> io::Result<(SocketAddr, Value)> {
        let idx = usize::from(slot & 16383);
        for _ in 0..5 {
            if self.slots[idx].is_none() {
                self.refresh();
            }
            let addr = self.slots[idx].or_else(|| self.seeds.first().copied());
            let addr = addr.ok_or_else(|| io::Error::other("no seeds"))?;
            let v = match self.call_on(addr, argv) {
                Ok(v) => v,
                Err(e) => {
                    // The node is gone or unreachable: forget every slot it
                    // served, as cluster clients do, and re-learn the map.
                    for s in self.slots.iter_mut().filter(|s| **s == Some(addr)) {
                        *s = None;
                    }
                    return Err(e);
                }
            };
            if let Value::Error(e) = &v {
                if let Some(to) = e.strip_prefix("MOVED ").and_then(|r| r.split(' ').nth(1)) {
                    self.slots[idx] = to.parse().ok();
                    continue;
                }
                // A node that lost its slots or the cluster: re-learn the map.
                self.slots[idx] = None;
            }
            return Ok((addr, v));
        }
        Err(io::Error::other("too many redirections"))
    }
}

/// What happened to one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// SET succeeded and WAIT counted enough replicas.
    Acked,
    /// SET succeeded but WAIT timed out short of the replicas asked for.
    NotAcked,
    /// Error reply (its first word) or I/O failure ("io").
    Failed(String),
}

pub struct Attempt {
    pub at: Instant,
    pub slot: u16,
    pub outcome: Outcome,
}

/// Everything the writer did.
pub struct WriterLog {
    pub acked: Vec<(String, String)>,
    pub attempts: Vec<Attempt>,
}

/// Counts and recovery time relative to a fault at `t0`.
#[derive(Debug)]
pub struct Summary {
    pub attempts: usize,
    pub acked: usize,
    pub not_acked: usize,
    pub failed: usize,
    /// Longest outage of one master's slots: from the first refused or
    /// failed write to the next accepted one (acknowledged or not).
    pub refused: Duration,
    /// The same, counting unacknowledged writes as failures: after a
    /// failover the new master has no replica until the old one rejoins,
    /// so this includes the rejoin.
    pub unacked: Duration,
    /// Failures by kind (error prefix, "io", "WAIT").
    pub failures: BTreeMap<String, usize>,
    /// Every attempt after `t0` that was not acknowledged: (ms since `t0`,
    /// slot, outcome). Printed when SHOAL_DOCKER_DEBUG is set.
    pub timeline: Vec<(u128, u16, Outcome)>,
}

impl WriterLog {
    /// Counts since the start, outages since `t0`. `groups` are the slot
    /// ranges each master served before the fault: an outage is measured
    /// within one group (keys of other masters keep succeeding meanwhile),
    /// and the longest over all groups is reported.
    pub fn summary(&self, t0: Instant, groups: &[Vec<(u16, u16)>]) -> Summary {
        let after: Vec<&Attempt> = self.attempts.iter().filter(|a| a.at >= t0).collect();
        let longest = |bad: &dyn Fn(&Outcome) -> bool| {
            groups
                .iter()
                .map(|g| {
                    let mine = after.iter().filter(|a| in_ranges(g, a.slot));
                    longest_streak(mine, bad)
                })
                .max()
                .unwrap_or_default()
        };
        let mut failures = BTreeMap::new();
        for a in &self.attempts {
            if let Outcome::Failed(kind) = &a.outcome {
                *failures.entry(kind.clone()).or_insert(0) += 1;
            }
        }
        Summary {
            refused: longest(&|o| matches!(o, Outcome::Failed(_))),
            unacked: longest(&|o| *o != Outcome::Acked),
            failures,
            timeline: after
                .iter()
                .filter(|a| a.outcome != Outcome::Acked)
                .map(|a| {
                    (
                        a.at.duration_since(t0).as_millis(),
                        a.slot,
                        a.outcome.clone(),
                    )
                })
                .collect(),
            attempts: self.attempts.len(),
            acked: self.acked.len(),
            not_acked: self
                .attempts
                .iter()
                .filter(|a| a.outcome == Outcome::NotAcked)
                .count(),
            failed: self
                .attempts
                .iter()
                .filter(|a| matches!(a.outcome, Outcome::Failed(_)))
                .count(),
        }
    }
}

/// Whether `slot` falls in one of `ranges`.
pub fn in_ranges(ranges: &[(u16, u16)], slot: u16) -> bool {
    ranges.iter().any(|&(a, b)| (a..=b).contains(&slot))
}

/// Longest span from the first bad attempt of a run to the next good one
/// (a run still open at the end counts up to its last attempt).
fn longest_streak<'a>(
    attempts: impl Iterator<Item = &'a &'a Attempt>,
    bad: &dyn Fn(&Outcome) -> bool,
) -> Duration {
    let mut best = Duration::ZERO;
    let mut open: Option<Instant> = None;
    for a in attempts {
        match (bad(&a.outcome), open) {
            (true, None) => open = Some(a.at),
            (true, Some(start)) => best = best.max(a.at.duration_since(start)),
            (false, Some(start)) => {
                best = best.max(a.at.duration_since(start));
                open = None;
            }
            (false, None) => {}
        }
    }
    best
}

/// A background writer; [`Writer::stop`] joins it and returns its log.
pub struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    /// Writes the cluster took (acknowledged or not).
    accepted: Arc<AtomicU64>,
    /// The latest outcome that was not an acknowledgement, for messages.
    last_bad: Arc<Mutex<String>>,
    handle: Option<JoinHandle<WriterLog>>,
}

impl Writer {
    /// Write `<tag>:<n>` = `v<n>` for n = 1, 2, … about every 4 ms. With
    /// `replicas` > 0 each SET is followed by `WAIT replicas 500`.
    pub fn spawn(seeds: Vec<SocketAddr>, replicas: i64, tag: &str) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let accepted2 = accepted.clone();
        let last_bad = Arc::new(Mutex::new(String::new()));
        let (stop2, acked2, tag) = (stop.clone(), acked.clone(), tag.to_string());
        let last_bad2 = last_bad.clone();
        let handle = std::thread::spawn(move || {
            let mut client = Client::new(seeds);
            let mut log = WriterLog {
                acked: Vec::new(),
                attempts: Vec::new(),
            };
            let mut n = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                n += 1;
                let (key, val) = (format!("{tag}:{n}"), format!("v{n}"));
                let slot = key_slot(key.as_bytes());
                let at = Instant::now();
                let outcome = write_one(&mut client, slot, &key, &val, replicas);
                if !matches!(outcome, Outcome::Failed(_)) {
                    accepted2.fetch_add(1, Ordering::Relaxed);
                }
                if outcome == Outcome::Acked {
                    log.acked.push((key, val));
                    acked2.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(4));
                } else {
                    if let Ok(mut l) = last_bad2.lock() {
                        *l = format!("{key} (slot {slot}): {outcome:?}");
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                log.attempts.push(Attempt { at, slot, outcome });
            }
            log
        });
        Writer {
            stop,
            acked,
            accepted,
            last_bad,
            handle: Some(handle),
        }
    }

    /// Acknowledged writes so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Wait until `more` further writes are acknowledged (bounded); the
    /// error tells how far it got and the last failure.
    pub fn wait_progress(&self, more: u64, timeout: Duration) -> Result<(), String> {
        self.wait_count(&self.acked, "acknowledged", more, timeout)
    }

    /// Wait until `more` further writes are accepted, acknowledged or not
    /// (right after a failover the new master has no replica to ack).
    pub fn wait_accepted(&self, more: u64, timeout: Duration) -> Result<(), String> {
        self.wait_count(&self.accepted, "accepted", more, timeout)
    }

    fn wait_count(
        &self,
        c: &AtomicU64,
        what: &str,
        more: u64,
        timeout: Duration,
    ) -> Result<(), String> {
        let start = c.load(Ordering::Relaxed);
        let target = start + more;
        let reached = super::poll(timeout, || {
            (c.load(Ordering::Relaxed) >= target).then_some(())
        });
        reached.ok_or_else(|| {
            let last = self.last_bad.lock().map(|l| l.clone()).unwrap_or_default();
            format!(
                "{} of {more} writes {what} in {timeout:?}; last failure: {last}",
                c.load(Ordering::Relaxed) - start
            )
        })
    }

    pub fn stop(mut self) -> WriterLog {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(log)) => log,
            _ => panic!("writer thread panicked"),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn write_one(client: &mut Client, slot: u16, key: &str, val: &str, replicas: i64) -> Outcome {
    let set: [&[u8]; 3] = [b"SET", key.as_bytes(), val.as_bytes()];
    let addr = match client.call(slot, &set) {
        Ok((addr, Value::Status(s))) if s == "OK" => addr,
        Ok((addr, Value::Error(e))) => {
            let kind = e.split(' ').next().unwrap_or("ERR");
            return Outcome::Failed(format!("{kind} from {}", addr.ip()));
        }
        Ok((_, other)) => return Outcome::Failed(format!("{other:?}")),
        Err(_) => return Outcome::Failed("io".into()),
    };
    if replicas == 0 {
        return Outcome::Acked;
    }
    let n = replicas.to_string();
    match client.call_on(addr, &[b"WAIT", n.as_bytes(), b"500"]) {
        Ok(Value::Int(k)) if k >= replicas => Outcome::Acked,
        Ok(Value::Int(_)) => Outcome::NotAcked,
        Ok(other) => Outcome::Failed(format!("WAIT {}", other.text())),
        Err(_) => Outcome::Failed("io".into()),
    }
}

/// Read back every acknowledged write; returns the keys that are missing or
/// hold another value. Errors (cluster still settling) are retried for up
/// to `timeout` in all.
pub fn verify(
    seeds: Vec<SocketAddr>,
    acked: &[(String, String)],
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + timeout;
    let mut client = Client::new(seeds);
    let mut lost = Vec::new();
    for (key, val) in acked {
        let slot = key_slot(key.as_bytes());
        loop {
            match client.call(slot, &[b"GET", key.as_bytes()]) {
                Ok((_, Value::Bulk(Some(v)))) if v == val.as_bytes() => break,
                Ok((_, Value::Bulk(_))) => {
                    lost.push(key.clone());
                    break;
                }
                other if Instant::now() >= deadline => {
                    return Err(format!("cannot read {key} back: {other:?}"));
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    Ok(lost)
}
