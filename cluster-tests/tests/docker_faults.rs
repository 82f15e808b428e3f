//! Fault tests across containers (issue 8): a Shoal cluster on its own
//! Docker network, a client writing with `WAIT 1` throughout each fault,
//! then checks that no acknowledged write is lost, that every node returns
//! to cluster_state:ok and that `redis-cli --cluster check` is clean.
//!
//! Faults: node loss (docker kill of a master, restart), partition (docker
//! network disconnect of a master), pause (docker pause beyond the node
//! timeout) and a rolling restart of all six containers. A masters-only
//! test checks FAIL detection and rejoin, and needs no replication.
//!
//! Skipped, with the reason printed, when no Docker engine answers, when
//! SHOAL_DOCKER_TESTS=0, or (replica faults) when the build lacks cluster
//! replicas. Each test prints one `FAULT …` line: recovery time and writes.

use std::time::{Duration, Instant};

use cluster_tests::client::key_slot;
use cluster_tests::docker::{self, verify, DockerCluster, Summary, Writer};

/// cluster-node-timeout for every test cluster (ms).
const NODE_TIMEOUT: u64 = 2000;
/// Generous bound for one phase (failover, rejoin, convergence).
const PHASE: Duration = Duration::from_secs(30);
/// Acknowledged writes required before a fault, and after it to show that
/// writing resumed (small: a loaded 2-core machine manages a few per second).
const BEFORE: u64 = 20;
const AFTER: u64 = 10;

/// Start `n` nodes, or None (test skipped) with the reason printed.
fn cluster(n: usize) -> Option<DockerCluster> {
    if let Some(why) = docker::unavailable() {
        eprintln!("SKIPPED: Docker fault tests need a Docker engine: {why}");
        return None;
    }
    match DockerCluster::start(n, NODE_TIMEOUT) {
        Ok(c) => Some(c),
        Err(e) if e.starts_with("SKIP:") => {
            eprintln!("SKIPPED: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A 6-node cluster with one replica per master, or None when this build
/// has no cluster replicas (CLUSTER REPLICATE / ROLE unknown).
fn cluster_with_replicas() -> Option<DockerCluster> {
    // The answer is the same for every test of this binary: probe once.
    static MISSING: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let missing = || MISSING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(why) = missing().clone() {
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let c = cluster(6)?;
    let replicate = c.cli(0, &["CLUSTER", "REPLICATE", &"0".repeat(40)]);
    let role = c.cli(0, &["ROLE"]);
    if replicate.to_lowercase().contains("unknown subcommand") || role.contains("unknown command") {
        let why = format!(
            "this build has no cluster replicas/failover yet \
             (CLUSTER REPLICATE: {replicate:?}, ROLE: {role:?})"
        );
        eprintln!("SKIPPED: {why}");
        *missing() = Some(why);
        return None;
    }
    if let Err(e) = c.create(1) {
        panic!("{e}");
    }
    // Every replica has finished its first sync before writes start.
    let synced = docker::poll(PHASE, || {
        (0..6)
            .filter(|&i| c.me(i).is_some_and(|e| e.has("slave")))
            .all(|i| c.repl_info(i, "master_link_status") == "up")
            .then_some(())
    });
    assert!(synced.is_some(), "replicas never finished their first sync");
    Some(c)
}

fn report(fault: &str, s: &Summary, lost: usize, extra: &str) {
    if std::env::var_os("SHOAL_DOCKER_DEBUG").is_some() {
        for (ms, slot, outcome) in &s.timeline {
            eprintln!("  {fault} +{ms}ms slot {slot}: {outcome:?}");
        }
    }
    eprintln!(
        "FAULT {fault}: longest write outage of one master's slots {:.2}s \
         (without acknowledgement {:.2}s); acknowledged {} lost {lost}, not acknowledged {}, \
         failed {} {:?} of {} attempts{extra}",
        s.refused.as_secs_f64(),
        s.unacked.as_secs_f64(),
        s.acked,
        s.not_acked,
        s.failed,
        s.failures,
        s.attempts
    );
}

/// The slot ranges of each master, before a fault.
fn slot_groups(c: &DockerCluster) -> Vec<Vec<(u16, u16)>> {
    c.masters(0).into_iter().map(|(_, e)| e.slots).collect()
}

/// Pick a master other than node 0 (node 0 stays up to run checks), and
/// its replica.
fn victim(c: &DockerCluster) -> (usize, usize) {
    let m = c
        .masters(0)
        .into_iter()
        .map(|(i, _)| i)
        .find(|&i| i != 0)
        .expect("a master other than node 0");
    let r = c.replica_of(0, m).expect("the victim has a replica");
    (m, r)
}

/// Wait until node `r` is a master serving slots (its own view).
fn wait_promoted(c: &DockerCluster, r: usize) -> Duration {
    let t = Instant::now();
    let ok = docker::poll(PHASE, || {
        c.me(r)
            .filter(|e| e.has("master") && !e.slots.is_empty())
            .map(drop)
    });
    assert!(
        ok.is_some(),
        "replica {} was never promoted",
        c.nodes[r].name
    );
    t.elapsed()
}

/// Wait until node `m` is a replica of node `r` with its link up.
fn wait_replica_of(c: &DockerCluster, m: usize, r: usize) -> Duration {
    let t = Instant::now();
    let rid = c.me(r).map(|e| e.id).unwrap_or_default();
    let ok = docker::poll(PHASE, || {
        let me = c.me(m)?;
        (me.has("slave") && me.master == rid && c.repl_info(m, "master_link_status") == "up")
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "{} never became a synced replica of {}",
        c.nodes[m].name,
        c.nodes[r].name
    );
    t.elapsed()
}

/// Final checks shared by every fault: state ok everywhere, check clean,
/// acknowledged writes all readable. Returns (summary, lost).
fn settle_and_verify(
    c: &DockerCluster,
    writer: Writer,
    t0: Instant,
    groups: &[Vec<(u16, u16)>],
) -> (Summary, usize) {
    if let Err(e) = writer.wait_progress(AFTER, PHASE) {
        panic!("writes did not resume: {e}");
    }
    let all: Vec<usize> = (0..c.nodes.len()).collect();
    c.wait_state_ok(&all, PHASE)
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait_check_clean(0, PHASE)
        .unwrap_or_else(|e| panic!("{e}"));
    let log = writer.stop();
    let summary = log.summary(t0, groups);
    let lost = verify(c.addrs(), &log.acked, PHASE).unwrap_or_else(|e| panic!("{e}"));
    (summary, lost.len())
}

#[test]
fn masters_only_node_loss_is_detected_and_rejoins() {
    let _serial = docker::serial();
    let Some(c) = cluster(3) else { return };
    c.create(0).unwrap_or_else(|e| panic!("{e}"));
    let writer = Writer::spawn(c.addrs(), 0, "mo");
    if let Err(e) = writer.wait_progress(BEFORE, PHASE) {
        panic!("no writes before the fault: {e}");
    }
    let m = 1;
    let victim_slots = c.me(m).map(|e| e.slots).unwrap_or_default();
    let victim_id = c.me(m).map(|e| e.id).unwrap_or_default();
    let groups = slot_groups(&c);
    let t0 = Instant::now();
    c.kill(m).unwrap_or_else(|e| panic!("{e}"));
    // Every survivor flags the dead master FAIL (PFAIL after the node
    // timeout, FAIL once a majority of masters agree) and the cluster stops
    // serving since full coverage is required.
    let flagged = docker::poll(PHASE, || {
        [0, 2]
            .iter()
            .all(|&i| {
                c.cluster_nodes(i)
                    .iter()
                    .any(|e| e.id == victim_id && e.has("fail"))
                    && c.cluster_info(i, "cluster_state") == "fail"
            })
            .then(|| t0.elapsed())
    })
    .expect("the killed master was never flagged FAIL by both survivors");
    c.start_node(m).unwrap_or_else(|e| panic!("{e}"));
    let back = Instant::now();
    c.wait_state_ok(&[0, 1, 2], PHASE)
        .unwrap_or_else(|e| panic!("{e}"));
    let ok_after = back.elapsed();
    let (s, _) = {
        if let Err(e) = writer.wait_progress(AFTER, PHASE) {
            panic!("writes did not resume: {e}");
        }
        c.wait_check_clean(0, PHASE)
            .unwrap_or_else(|e| panic!("{e}"));
        let log = writer.stop();
        // Without replicas or AOF the killed master's keys are gone; every
        // other acknowledged write must still be there.
        let kept: Vec<(String, String)> = log
            .acked
            .iter()
            .filter(|(k, _)| {
                let s = key_slot(k.as_bytes());
                !victim_slots.iter().any(|&(a, b)| (a..=b).contains(&s))
            })
            .cloned()
            .collect();
        let lost = verify(c.addrs(), &kept, PHASE).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            lost.is_empty(),
            "lost {} acknowledged writes: {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        );
        (log.summary(t0, &groups), 0)
    };
    report(
        "masters-only node loss",
        &s,
        0,
        &format!(
            ", FAIL flagged after {:.2}s, cluster_state ok {:.2}s after restart",
            flagged.as_secs_f64(),
            ok_after.as_secs_f64()
        ),
    );
}

#[test]
fn node_loss_promotes_replica_and_old_master_rejoins() {
    let _serial = docker::serial();
    let Some(c) = cluster_with_replicas() else {
        return;
    };
    let writer = Writer::spawn(c.addrs(), 1, "loss");
    if let Err(e) = writer.wait_progress(BEFORE, PHASE) {
        panic!("no acknowledged writes before the fault: {e}");
    }
    let (m, r) = victim(&c);
    let groups = slot_groups(&c);
    let t0 = Instant::now();
    c.kill(m).unwrap_or_else(|e| panic!("{e}"));
    let promoted = wait_promoted(&c, r);
    let survivors: Vec<usize> = (0..6).filter(|&i| i != m).collect();
    c.wait_state_ok(&survivors, PHASE)
        .unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = writer.wait_accepted(AFTER, PHASE) {
        panic!("writes did not resume after failover: {e}");
    }
    c.start_node(m).unwrap_or_else(|e| panic!("{e}"));
    let rejoined = wait_replica_of(&c, m, r);
    let (s, lost) = settle_and_verify(&c, writer, t0, &groups);
    report(
        "node loss (docker kill master)",
        &s,
        lost,
        &format!(
            ", replica promoted after {:.2}s, old master a synced replica {:.2}s after restart",
            promoted.as_secs_f64(),
            rejoined.as_secs_f64()
        ),
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
}

/// A key whose slot node `m` serves.
fn key_on(c: &DockerCluster, m: usize, prefix: &str) -> String {
    let slots = c.me(m).map(|e| e.slots).unwrap_or_default();
    (0..100_000)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| {
            let s = key_slot(k.as_bytes());
            slots.iter().any(|&(a, b)| (a..=b).contains(&s))
        })
        .expect("a key in the victim's slots")
}

#[test]
fn partition_isolated_master_stops_writes_and_rejoins_as_replica() {
    let _serial = docker::serial();
    let Some(c) = cluster_with_replicas() else {
        return;
    };
    let writer = Writer::spawn(c.addrs(), 1, "part");
    if let Err(e) = writer.wait_progress(BEFORE, PHASE) {
        panic!("no acknowledged writes before the fault: {e}");
    }
    let (m, r) = victim(&c);
    let stale = key_on(&c, m, "stale");
    let groups = slot_groups(&c);
    let t0 = Instant::now();
    c.disconnect(m).unwrap_or_else(|e| panic!("{e}"));
    // Inside the minority: right after the cut the old master still takes
    // a write, but WAIT 1 cannot be satisfied, so it is never acknowledged.
    let set = c.cli(m, &["SET", &stale, "lost-on-heal"]);
    let acks = c.cli(m, &["WAIT", "1", "200"]);
    // After the node timeout it sees no majority and refuses writes.
    let refused = docker::poll(PHASE, || {
        c.cli(m, &["SET", &format!("{stale}x"), "y"])
            .starts_with("CLUSTERDOWN")
            .then(|| t0.elapsed())
    })
    .expect("the isolated master kept accepting writes");
    let promoted = wait_promoted(&c, r);
    let majority: Vec<usize> = (0..6).filter(|&i| i != m).collect();
    c.wait_state_ok(&majority, PHASE)
        .unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = writer.wait_accepted(AFTER, PHASE) {
        panic!("writes did not resume on the majority side: {e}");
    }
    c.reconnect(m).unwrap_or_else(|e| panic!("{e}"));
    let rejoined = wait_replica_of(&c, m, r);
    let (s, lost) = settle_and_verify(&c, writer, t0, &groups);
    // The write the minority took is discarded, as Redis documents.
    let after = c
        .call(0, &["CLUSTER", "KEYSLOT", &stale])
        .map(|v| v.text())
        .unwrap_or_default();
    let stale_now = docker::writer::Client::new(c.addrs())
        .call(after.parse().unwrap_or(0), &[b"GET", stale.as_bytes()])
        .map(|(_, v)| v);
    report(
        "partition (network disconnect of a master)",
        &s,
        lost,
        &format!(
            ", minority SET {set:?} WAIT {acks:?}, minority refused writes after {:.2}s, \
             replica promoted after {:.2}s, old master a synced replica {:.2}s after heal",
            refused.as_secs_f64(),
            promoted.as_secs_f64(),
            rejoined.as_secs_f64()
        ),
    );
    assert_eq!(
        acks, "0",
        "a write in the minority must not reach a replica"
    );
    assert_eq!(
        stale_now.ok(),
        Some(cluster_tests::Value::Bulk(None)),
        "minority write survived"
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
}

#[test]
fn pause_beyond_node_timeout_fails_over_and_old_master_rejoins() {
    let _serial = docker::serial();
    let Some(c) = cluster_with_replicas() else {
        return;
    };
    let writer = Writer::spawn(c.addrs(), 1, "pause");
    if let Err(e) = writer.wait_progress(BEFORE, PHASE) {
        panic!("no acknowledged writes before the fault: {e}");
    }
    let (m, r) = victim(&c);
    let groups = slot_groups(&c);
    let t0 = Instant::now();
    c.pause(m).unwrap_or_else(|e| panic!("{e}"));
    let promoted = wait_promoted(&c, r);
    let paused_for = t0.elapsed();
    c.unpause(m).unwrap_or_else(|e| panic!("{e}"));
    let rejoined = wait_replica_of(&c, m, r);
    let (s, lost) = settle_and_verify(&c, writer, t0, &groups);
    report(
        "pause (docker pause master)",
        &s,
        lost,
        &format!(
            ", paused {:.2}s, replica promoted after {:.2}s, old master a synced replica {:.2}s after unpause",
            paused_for.as_secs_f64(),
            promoted.as_secs_f64(),
            rejoined.as_secs_f64()
        ),
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
}

#[test]
fn rolling_restart_of_all_six_keeps_serving() {
    let _serial = docker::serial();
    let Some(c) = cluster_with_replicas() else {
        return;
    };
    let writer = Writer::spawn(c.addrs(), 1, "roll");
    if let Err(e) = writer.wait_progress(BEFORE, PHASE) {
        panic!("no acknowledged writes before the restarts: {e}");
    }
    let groups = slot_groups(&c);
    let t0 = Instant::now();
    let all: Vec<usize> = (0..6).collect();
    for i in 0..6 {
        // A master hands its slots to its replica first (CLUSTER FAILOVER,
        // no write lost), as operators do before restarting it.
        let me = c.me(i).expect("node answers");
        let partner = if me.has("master") {
            // Gossip may not have told the master about its (restarted)
            // replica yet: wait for it rather than read one snapshot.
            let r = docker::poll(PHASE, || c.replica_of(i, i)).expect("master has a replica");
            let reply = c.call(r, &["CLUSTER", "FAILOVER"]).map(|v| v.text());
            assert_eq!(
                reply.ok().as_deref(),
                Some("OK"),
                "CLUSTER FAILOVER on {}",
                c.nodes[r].name
            );
            wait_promoted(&c, r);
            wait_replica_of(&c, i, r);
            r
        } else {
            c.index_of_id(&me.master).expect("replica's master")
        };
        c.restart(i).unwrap_or_else(|e| panic!("{e}"));
        wait_replica_of(&c, i, partner);
        c.wait_state_ok(&all, PHASE)
            .unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) = writer.wait_progress(AFTER, PHASE) {
            panic!("writes stalled after restarting {}: {e}", c.nodes[i].name);
        }
    }
    let (s, lost) = settle_and_verify(&c, writer, t0, &groups);
    report(
        "rolling restart (6 containers, failover before each master)",
        &s,
        lost,
        "",
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
}
