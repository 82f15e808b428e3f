//! State-machine scenarios for elections, votes and role changes (no I/O).

use super::*;
use crate::cluster::bus::msg::Epoch;
use crate::cluster::state::Node;

fn nid(c: char) -> NodeId {
    NodeId::parse(&c.to_string().repeat(40)).expect("valid id")
}

fn settings() -> Settings {
    Settings {
        node_timeout: 1000,
        validity_factor: 10,
        repl_ping_period: 10,
        ..Settings::default()
    }
}

/// Masters a, b, c own a third of the slots each (epochs 1, 2, 3); d
/// replicates a. The state is seen from `me`.
fn cluster(me: char) -> ClusterState {
    let mut st = ClusterState::new(nid(me), 7000, 17000);
    for (i, c) in ['a', 'b', 'c', 'd'].into_iter().enumerate() {
        if c != me {
            st.nodes.insert(
                nid(c),
                Node::new(nid(c), "127.0.0.1", 7001 + i as u16, 17001 + i as u16),
            );
        }
        let n = st.nodes.get_mut(&nid(c)).expect("node");
        n.link_connected = true;
        if c == 'd' {
            n.flags.master = false;
            n.flags.replica = true;
            n.master = Some(nid('a'));
        } else {
            n.config_epoch = i as u64 + 1;
        }
    }
    for s in 0..16384u16 {
        let owner = ['a', 'b', 'c'][usize::from(s) * 3 / 16384];
        st.assign(s, Some(nid(owner)));
    }
    st.current_epoch = 3;
    st
}

fn request_from_d(st: &ClusterState, epoch: u64, force: bool) -> Msg {
    let mut h = Header {
        sender: nid('d'),
        current_epoch: Epoch(epoch),
        config_epoch: Epoch(1),
        myslots: st.nodes[&nid('a')].slots.clone(),
        slaveof: nid('a'),
        ..Header::default()
    };
    h.mflags.set(MsgFlags::FORCEACK, force);
    Msg {
        header: h,
        body: Body::FailoverAuthRequest,
    }
}

fn acks(out: &[Action]) -> usize {
    out.iter()
        .filter(|a| matches!(a, Action::Reply(m) if m.body == Body::FailoverAuthAck))
        .count()
}

#[test]
fn a_master_votes_once_per_epoch_and_only_for_a_failed_master() {
    let s = settings();
    let mut st = cluster('b');
    st.current_epoch = 4;
    // Master a is up: no vote without FORCEACK.
    let req = request_from_d(&st, 4, false);
    let out = on_message(&mut st, &s, &req, 10_000);
    assert_eq!(acks(&out), 0);
    st.nodes.get_mut(&nid('a')).expect("a").flags.fail = true;
    let req = request_from_d(&st, 4, false);
    let out = on_message(&mut st, &s, &req, 10_000);
    assert_eq!(acks(&out), 1);
    assert_eq!(st.last_vote_epoch, 4);
    // Same epoch again: refused.
    let req = request_from_d(&st, 4, false);
    let out = on_message(&mut st, &s, &req, 10_100);
    assert_eq!(acks(&out), 0);
    // A newer epoch within 2 × node timeout of the last vote for a: refused.
    st.current_epoch = 5;
    let req = request_from_d(&st, 5, false);
    let out = on_message(&mut st, &s, &req, 11_000);
    assert_eq!(acks(&out), 0);
    let req = request_from_d(&st, 5, false);
    let out = on_message(&mut st, &s, &req, 12_500);
    assert_eq!(acks(&out), 1);
    // A stale request epoch is ignored.
    st.current_epoch = 9;
    let req = request_from_d(&st, 8, true);
    let out = on_message(&mut st, &s, &req, 20_000);
    assert_eq!(acks(&out), 0);
}

#[test]
fn a_claim_older_than_the_slot_owner_gets_no_vote() {
    let s = settings();
    let mut st = cluster('b');
    st.nodes.get_mut(&nid('a')).expect("a").flags.fail = true;
    // Slot 0 already moved to c with epoch 7 (a newer config than a's 1).
    st.nodes.get_mut(&nid('c')).expect("c").config_epoch = 7;
    st.assign(0, Some(nid('c')));
    let mut req = request_from_d(&st, 8, false);
    req.header.myslots.set(0, true);
    let out = on_message(&mut st, &s, &req, 10_000);
    assert_eq!(acks(&out), 0);
}

#[test]
fn a_replica_of_a_failed_master_wins_the_election() {
    let s = settings();
    let mut st = cluster('d');
    st.nodes.get_mut(&nid('a')).expect("a").flags.fail = true;
    let mut now = 100_000;
    let out = cron(&mut st, &s, now);
    assert!(out.iter().all(|a| !matches!(a, Action::Broadcast(_))));
    let delay = st.fo.auth_time - now;
    assert!((500..1000).contains(&delay), "delay {delay}");
    now = st.fo.auth_time;
    let out = cron(&mut st, &s, now);
    let req = out.iter().find_map(|a| match a {
        Action::Broadcast(m) if m.body == Body::FailoverAuthRequest => Some(m.clone()),
        _ => None,
    });
    let req = req.expect("AUTH_REQUEST broadcast");
    assert_eq!(req.header.current_epoch, Epoch(4));
    assert_eq!(req.header.slaveof, nid('a'));
    assert_eq!(st.fo.auth_epoch, 4);
    for voter in ['b', 'c'] {
        let ack = Msg {
            header: Header {
                sender: nid(voter),
                current_epoch: Epoch(4),
                ..Header::default()
            },
            body: Body::FailoverAuthAck,
        };
        on_message(&mut st, &s, &ack, now + 10);
    }
    let me = st.me();
    assert!(me.is_master() && me.master.is_none());
    assert_eq!(me.config_epoch, 4);
    assert_eq!(
        me.slots.count(),
        st.nodes[&nid('a')].slots.count() + me.slots.count()
    );
    assert_eq!(st.owners[0], Some(nid('d')));
    assert_eq!(st.nodes[&nid('a')].slots.count(), 0);
}

#[test]
fn no_failover_flag_and_stale_data_block_the_election() {
    let mut s = settings();
    s.replica_no_failover = true;
    let mut st = cluster('d');
    st.nodes.get_mut(&nid('a')).expect("a").flags.fail = true;
    cron(&mut st, &s, 100_000);
    assert_eq!(st.fo.auth_time, 0);
    assert!(st.me().flags.nofailover);
    s.replica_no_failover = false;
    // Down for 1 s + 10 × 1 s + 10 s ping period, plus node timeout: too old.
    st.fo.link_down_since = Some(100_000 - 22_000);
    cron(&mut st, &s, 100_000);
    assert_eq!(st.fo.auth_time, 0);
    st.fo.link_down_since = Some(100_000 - 3_000);
    cron(&mut st, &s, 100_000);
    assert_ne!(st.fo.auth_time, 0);
}

#[test]
fn manual_failover_checks_and_takeover() {
    let s = settings();
    let mut st = cluster('b');
    assert_eq!(
        manual_failover(&mut st, &s, Mode::Default, 0).err(),
        Some("ERR You should send CLUSTER FAILOVER to a replica")
    );
    let mut st = cluster('d');
    st.nodes.get_mut(&nid('a')).expect("a").flags.fail = true;
    assert_eq!(
        manual_failover(&mut st, &s, Mode::Default, 0).err(),
        Some("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
    );
    manual_failover(&mut st, &s, Mode::Takeover, 0).expect("takeover");
    assert!(st.me().is_master());
    assert_eq!(st.me().config_epoch, 4);
    assert_eq!(st.owners[0], Some(nid('d')));
}

#[test]
fn manual_failover_waits_for_the_paused_offset() {
    let s = settings();
    let mut st = cluster('d');
    let out = manual_failover(&mut st, &s, Mode::Default, 1_000).expect("mf");
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Send(id, m) if *id == nid('a') && m.body == Body::MfStart)));
    st.me_mut().repl_offset = 90;
    let mut h = Header {
        sender: nid('a'),
        offset: 100,
        ..Header::default()
    };
    h.mflags.set(MsgFlags::PAUSED, true);
    let ping = Msg {
        header: h,
        body: Body::Ping(Default::default()),
    };
    on_message(&mut st, &s, &ping, 1_100);
    assert_eq!(st.fo.mf_master_offset, 100);
    cron(&mut st, &s, 1_200);
    assert!(!st.fo.mf_can_start);
    st.me_mut().repl_offset = 100;
    let out = cron(&mut st, &s, 1_300);
    assert!(st.fo.mf_can_start);
    // No election delay: the request goes out at once with FORCEACK.
    let req = out.iter().find_map(|a| match a {
        Action::Broadcast(m) if m.body == Body::FailoverAuthRequest => Some(m),
        _ => None,
    });
    assert!(req.is_some_and(|m| m.header.mflags.has(MsgFlags::FORCEACK)));
    // Timeout: the manual failover is abandoned after 5 s.
    cron(&mut st, &s, 1_000 + MF_TIMEOUT + 1);
    assert_eq!(st.fo.mf_end, 0);
}

#[test]
fn a_master_receiving_mfstart_pauses_writes_and_pings_paused() {
    let s = settings();
    let mut st = cluster('a');
    let m = Msg {
        header: Header {
            sender: nid('d'),
            slaveof: nid('a'),
            ..Header::default()
        },
        body: Body::MfStart,
    };
    let out = on_message(&mut st, &s, &m, 5_000);
    assert!(out.iter().any(|a| matches!(a, Action::PauseWrites(15_000))));
    let ping = out.iter().find_map(|a| match a {
        Action::Send(id, m) if *id == nid('d') => Some(m),
        _ => None,
    });
    assert!(ping.is_some_and(|m| m.header.mflags.has(MsgFlags::PAUSED)));
    let out = cron(&mut st, &s, 5_000 + MF_TIMEOUT + 1);
    assert!(out.iter().any(|a| matches!(a, Action::Unpause)));
}

#[test]
fn set_master_makes_a_replica() {
    let mut st = cluster('b');
    st.assign(5, None);
    st.migrating.insert(1, nid('a'));
    let mut out = Vec::new();
    set_master(&mut st, nid('c'), &mut out);
    let me = st.me();
    assert!(me.flags.replica && !me.flags.master);
    assert_eq!(me.master, Some(nid('c')));
    assert!(st.migrating.is_empty());
    assert!(st
        .nodes_text(0)
        .contains("myself,slave cccccccccccccccccccccccccccccccccccccccc"));
}
