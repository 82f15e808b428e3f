//! Golden and property tests for the nodes.conf codec.
//!
//! tests/data/nodes_conf/*.conf are nodes.conf files written by real
//! redis-server 7.0.15 nodes (4-node cluster: after meet + addslots, with open
//! slots and a replica, after an automatic failover, after a manual failover
//! with a handshake node pending); *.cluster-nodes.txt are CLUSTER NODES
//! replies captured at the same moments (with fail, handshake, nofailover,
//! open slots and a hostname).

use proptest::prelude::*;
use shoal::cluster::bus::msg::{Epoch, NodeFlags, NodeId};
use shoal::cluster::nodes_conf::*;

fn data_files(suffix: &str) -> Vec<(String, String)> {
    let dir = format!("{}/tests/data/nodes_conf", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("data dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            (p.display().to_string(), text)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn real_files_round_trip_exactly() {
    let files = data_files(".conf");
    assert!(files.len() >= 10);
    for (name, text) in files {
        let conf = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(conf.myself().is_some());
        assert_eq!(render(&conf), text, "{name}");
    }
}

#[test]
fn real_cluster_nodes_replies_round_trip_exactly() {
    let files = data_files(".cluster-nodes.txt");
    assert!(files.len() >= 4);
    for (name, text) in files {
        let nodes = parse_node_lines(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(render_cluster_nodes(&nodes), text, "{name}");
    }
}

#[test]
fn fields_of_a_real_file() {
    let text = data_files("stage2-7801.conf").remove(0).1;
    let conf = parse(&text).expect("parse");
    assert_eq!(conf.current_epoch, Epoch(3));
    assert_eq!(conf.last_vote_epoch, Epoch(0));
    let me = conf.myself().expect("myself");
    assert_eq!(
        me.id.to_string(),
        "ba9221d64a37d4d9ca71c9738886368c119860aa"
    );
    assert_eq!(
        (me.ip.as_str(), me.port, me.cport),
        ("127.0.0.1", 7801, 17811)
    );
    assert_eq!(me.slots, vec![(0, 5460)]);
    let peer = NodeId::parse("f8a40e1d2e115a243356b478957dafd48d9dc249").expect("id");
    assert_eq!(
        me.open_slots,
        vec![
            OpenSlot {
                slot: 100,
                kind: OpenSlotKind::Migrating,
                node: peer
            },
            OpenSlot {
                slot: 6000,
                kind: OpenSlotKind::Importing,
                node: peer
            },
        ]
    );
    let two = conf.nodes.iter().find(|n| n.id == peer).expect("node 2");
    assert_eq!(two.hostname.as_deref(), Some("node-two.example"));
    let replica = conf
        .nodes
        .iter()
        .find(|n| n.flags.has(NodeFlags::SLAVE))
        .expect("replica");
    assert_eq!(replica.master, Some(me.id));
}

#[test]
fn file_leaves_out_handshake_nodes() {
    let text = data_files("stage4-7802.cluster-nodes.txt").remove(0).1;
    let nodes = parse_node_lines(&text).expect("parse");
    assert!(nodes.iter().any(|n| n.flags.has(NodeFlags::HANDSHAKE)));
    let conf = NodesConf {
        nodes,
        current_epoch: Epoch(5),
        last_vote_epoch: Epoch(0),
    };
    let file = render(&conf);
    assert!(!file.contains("handshake"));
    assert!(file.ends_with("vars currentEpoch 5 lastVoteEpoch 0\n"));
}

#[test]
fn redis_loader_leniencies() {
    let id = "ba9221d64a37d4d9ca71c9738886368c119860aa";
    // Old format without @cport, upper-case flags and vars, blank lines,
    // unknown vars, unordered flags, noflags.
    let text = format!(
        "\n{id} 10.0.0.1:7000 MASTER,myself - 0 0 3 connected 1 5-9\n\nVARS currentepoch 7 foo bar LASTVOTEEPOCH 2\n"
    );
    let conf = parse(&text).expect("parse");
    let me = &conf.nodes[0];
    assert_eq!((me.port, me.cport), (7000, 17000));
    assert_eq!(me.flags.0, NodeFlags::MASTER | NodeFlags::MYSELF);
    assert_eq!(me.slots, vec![(1, 1), (5, 9)]);
    assert_eq!(
        (conf.current_epoch, conf.last_vote_epoch),
        (Epoch(7), Epoch(2))
    );
    assert_eq!(
        render(&conf),
        format!("{id} 10.0.0.1:7000@17000 myself,master - 0 0 3 connected 1 5-9\nvars currentEpoch 7 lastVoteEpoch 2\n")
    );
    // IPv6 and a noaddr node without ip.
    let line = format!("{id} ::1:7000@17000 noflags - 0 0 0 disconnected");
    let n = parse_node_line(&line, 1).expect("ipv6");
    assert_eq!((n.ip.as_str(), n.port, n.flags.0), ("::1", 7000, 0));
    assert_eq!(render_node_line(&n), line);
    let line = format!("{id} :0@0 master,fail?,noaddr - 1 2 0 disconnected");
    let n = parse_node_line(&line, 1).expect("noaddr");
    assert_eq!(render_node_line(&n), line);
}

#[test]
fn corrupt_files_name_the_line() {
    let id = "ba9221d64a37d4d9ca71c9738886368c119860aa";
    let good = format!("{id} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-10");
    let cases = [
        format!("{good}\n{id}x 127.0.0.1:7001@17001 master - 0 0 1 connected\n"),
        format!("{good}\nvars currentEpoch\n"),
        format!("{good}\nvars currentEpoch x lastVoteEpoch 0\n"),
        format!("{good}\nabc 127.0.0.1:7001@17001 master - 0 0 1\n"),
        format!(
            "{good}\n{} 127.0.0.1@17001 master - 0 0 1 connected\n",
            "a".repeat(40)
        ),
        format!(
            "{good}\n{} 127.0.0.1:7001@17001 master,bogus - 0 0 1 connected\n",
            "a".repeat(40)
        ),
        format!(
            "{good}\n{} 127.0.0.1:7001@17001 master - 0 0 1 connected 16384\n",
            "a".repeat(40)
        ),
        format!(
            "{good}\n{} 127.0.0.1:7001@17001 master - 0 0 1 connected 9-3\n",
            "a".repeat(40)
        ),
        format!(
            "{good}\n{} 127.0.0.1:7001@17001 master - 0 0 1 connected [5->x]\n",
            "a".repeat(40)
        ),
        format!(
            "{good}\n{} 127.0.0.1:7001@17001 master XYZ 0 0 1 connected\n",
            "a".repeat(40)
        ),
        format!(
            "{good}\n{} 127.0.0.1:7001@17001 master - 0 0 -1 connected\n",
            "a".repeat(40)
        ),
        format!(
            "{good}\n{} 127.0.0.1:7001@17001 master - 0 0 1 maybe\n",
            "a".repeat(40)
        ),
        format!(
            "{good}\n{} 127.0.0.1:7001@17001 myself,master - 0 0 1 connected\n",
            "a".repeat(40)
        ),
        format!("{good}\n{good}\n"),
    ];
    for text in &cases {
        match parse(text) {
            Err(NodesConfError::Corrupt { line: 2, .. }) => {}
            other => panic!("{text:?} gave {other:?}"),
        }
    }
    assert_eq!(parse(""), Err(NodesConfError::Empty));
    assert_eq!(parse("\n\n"), Err(NodesConfError::NoMyself));
    let no_me = format!("{id} 127.0.0.1:7000@17000 master - 0 0 1 connected\n");
    assert_eq!(parse(&no_me), Err(NodesConfError::NoMyself));
}

fn arb_id() -> impl Strategy<Value = NodeId> {
    "[a-z0-9]{40}".prop_map(|s| NodeId::parse(&s).expect("id"))
}

fn arb_ranges() -> impl Strategy<Value = Vec<(u16, u16)>> {
    prop::collection::vec((0u16..16384, 0u16..50), 0..5).prop_map(|v| {
        v.into_iter()
            .map(|(s, n)| (s, s.saturating_add(n).min(16383)))
            .collect()
    })
}

fn arb_open() -> impl Strategy<Value = OpenSlot> {
    (0u16..16384, any::<bool>(), arb_id()).prop_map(|(slot, mig, node)| OpenSlot {
        slot,
        kind: if mig {
            OpenSlotKind::Migrating
        } else {
            OpenSlotKind::Importing
        },
        node,
    })
}

fn arb_line(myself: bool) -> impl Strategy<Value = NodeLine> {
    (
        (arb_id(), "[0-9a-f.:]{0,20}", any::<u16>(), any::<u16>()),
        (
            prop::option::of("[a-z][a-z0-9.-]{0,15}"),
            0u16..1024,
            prop::option::of(arb_id()),
        ),
        (any::<i64>(), any::<i64>(), any::<u64>(), any::<bool>()),
        (arb_ranges(), prop::collection::vec(arb_open(), 0..3)),
    )
        .prop_map(
            move |(
                (id, ip, port, cport),
                (hostname, flags, master),
                (ping, pong, ep, conn),
                (slots, open),
            )| {
                // Only printable flags survive; HANDSHAKE lines are not in files.
                let mut bits = flags
                    & !(NodeFlags::MEET
                        | NodeFlags::MIGRATE_TO
                        | NodeFlags::HANDSHAKE
                        | NodeFlags::MYSELF);
                if myself {
                    bits |= NodeFlags::MYSELF;
                }
                NodeLine {
                    id,
                    ip,
                    port,
                    cport,
                    hostname,
                    flags: NodeFlags(bits),
                    master,
                    ping_sent: ping,
                    pong_recv: pong,
                    config_epoch: Epoch(ep),
                    link: if conn {
                        LinkState::Connected
                    } else {
                        LinkState::Disconnected
                    },
                    slots,
                    open_slots: open,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_parse_round_trip(
        me in arb_line(true),
        others in prop::collection::vec(arb_line(false), 0..4),
        ce in any::<u64>(),
        lv in any::<u64>(),
    ) {
        let mut nodes = vec![me];
        for o in others {
            if nodes.iter().all(|n| n.id != o.id) {
                nodes.push(o);
            }
        }
        let conf = NodesConf { nodes, current_epoch: Epoch(ce), last_vote_epoch: Epoch(lv) };
        let text = render(&conf);
        prop_assert_eq!(parse(&text), Ok(conf));
    }

    #[test]
    fn garbage_never_panics(text in "\\PC{0,300}") {
        let _ = parse(&text);
        let _ = parse_node_lines(&text);
    }

    #[test]
    fn near_valid_garbage_never_panics(
        words in prop::collection::vec(
            prop_oneof![
                Just("ba9221d64a37d4d9ca71c9738886368c119860aa".to_string()),
                Just("vars".to_string()),
                Just("myself,master".to_string()),
                Just("-".to_string()),
                Just("connected".to_string()),
                "[0-9:@,\\[\\]<>.a-z-]{0,12}",
                "\n".prop_map(|s| s.to_string()),
            ],
            0..40,
        )
    ) {
        let text = words.join(" ");
        let _ = parse(&text);
        let _ = parse_node_lines(&text);
    }
}

/// The shipped nodes.conf.example (comments stripped) is a valid file
/// that renders back byte for byte: 3 masters, 3 replicas.
#[test]
fn shipped_example_parses_and_round_trips() {
    let path = format!("{}/nodes.conf.example", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("nodes.conf.example");
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let conf = parse(&body).expect("example parses");
    assert_eq!(render(&conf), body);
    assert_eq!(conf.nodes.len(), 6);
    let replicas = conf
        .nodes
        .iter()
        .filter(|n| n.flags.has(NodeFlags::SLAVE))
        .count();
    assert_eq!(replicas, 3);
    assert_eq!(conf.current_epoch, Epoch(6));
}
