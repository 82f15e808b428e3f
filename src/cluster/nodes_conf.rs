//! nodes.conf ⇄ [`NodesConf`], in Redis 7.0's exact text format, plus the
//! node-line format `CLUSTER NODES` prints (the same text: Redis generates
//! both with one function; the file leaves out nodes still in handshake and
//! ends with a `vars currentEpoch N lastVoteEpoch M` line).
//!
//! Line format: `<id> <ip>:<port>@<cport>[,<hostname>] <flags> <master-id|->
//! <ping-sent-ms> <pong-recv-ms> <config-epoch> <connected|disconnected>
//! <slot or start-end>... [<slot>->-<id>] [<slot>-<-<id>]`.
//!
//! Parsing follows Redis's loader (case-insensitive flags and vars, unknown
//! vars skipped, blank lines skipped, a missing `@cport` means port+10000) but
//! is stricter where Redis would silently accept garbage through atoi: any
//! malformed field is an error naming the 1-based line, so a corrupt file is
//! never mistaken for an empty cluster. Pure text: no file I/O here.

use super::bus::msg::{Epoch, NodeFlags, NodeId, CLUSTER_SLOTS};

/// Flags in the order Redis prints them (representClusterNodeFlags).
const FLAG_NAMES: [(u16, &str); 8] = [
    (NodeFlags::MYSELF, "myself"),
    (NodeFlags::MASTER, "master"),
    (NodeFlags::SLAVE, "slave"),
    (NodeFlags::PFAIL, "fail?"),
    (NodeFlags::FAIL, "fail"),
    (NodeFlags::HANDSHAKE, "handshake"),
    (NodeFlags::NOADDR, "noaddr"),
    (NodeFlags::NOFAILOVER, "nofailover"),
];

/// Default distance between the client port and the bus port.
const CLUSTER_PORT_INCR: u32 = 10000;

/// The whole nodes.conf file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodesConf {
    /// Node lines in file order (exactly one has the `myself` flag).
    pub nodes: Vec<NodeLine>,
    pub current_epoch: Epoch,
    pub last_vote_epoch: Epoch,
}

impl NodesConf {
    /// The line of the local node.
    pub fn myself(&self) -> Option<&NodeLine> {
        self.nodes.iter().find(|n| n.flags.has(NodeFlags::MYSELF))
    }
}

/// Link state column; Redis writes it but ignores it when loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connected,
    Disconnected,
}

/// Direction of an open (migrating / importing) slot of the local node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenSlotKind {
    /// `[slot->-node]`: this node is migrating the slot to `node`.
    Migrating,
    /// `[slot-<-node]`: this node is importing the slot from `node`.
    Importing,
}

/// An open-slot marker (Redis prints them only on the `myself` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenSlot {
    pub slot: u16,
    pub kind: OpenSlotKind,
    pub node: NodeId,
}

/// One node line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLine {
    pub id: NodeId,
    /// IP text (may be empty for a node without address; IPv6 unbracketed).
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    /// Announced hostname (`,hostname` suffix), `None` when not set.
    pub hostname: Option<String>,
    /// Only the bits Redis prints (MYSELF..NOFAILOVER) are meaningful.
    pub flags: NodeFlags,
    /// The master's id for a replica, `None` printed as `-`.
    pub master: Option<NodeId>,
    /// Unix ms of the pending ping (0 = none).
    pub ping_sent: i64,
    /// Unix ms of the last pong.
    pub pong_recv: i64,
    /// Config epoch (a replica line shows its master's).
    pub config_epoch: Epoch,
    pub link: LinkState,
    /// Served slots as ascending inclusive ranges; a single slot is (s, s).
    pub slots: Vec<(u16, u16)>,
    /// Open slots, printed after the ranges in this order.
    pub open_slots: Vec<OpenSlot>,
}

/// Why a nodes.conf text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodesConfError {
    /// Zero-length input: Redis treats this as "no config yet".
    #[error("empty cluster config")]
    Empty,
    #[error("corrupted cluster config file, line {line}: {reason}")]
    Corrupt { line: usize, reason: String },
    #[error("corrupted cluster config file: no node is flagged myself")]
    NoMyself,
}

fn corrupt(line: usize, reason: impl Into<String>) -> NodesConfError {
    NodesConfError::Corrupt {
        line,
        reason: reason.into(),
    }
}

/// Parses a whole nodes.conf. Requires exactly one `myself` node.
pub fn parse(text: &str) -> Result<NodesConf, NodesConfError> {
    if text.is_empty() {
        return Err(NodesConfError::Empty);
    }
    let mut conf = NodesConf::default();
    for (idx, line) in text.lines().enumerate() {
        let lineno = idx + 1;
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some(first) = fields.first() else {
            continue; // blank lines (Redis pads files with '\n').
        };
        if first.eq_ignore_ascii_case("vars") {
            parse_vars(&fields, lineno, &mut conf)?;
        } else {
            push_node(&mut conf.nodes, parse_fields(&fields, lineno)?, lineno)?;
        }
    }
    if conf.myself().is_none() {
        return Err(NodesConfError::NoMyself);
    }
    Ok(conf)
}

/// Parses node lines only (e.g. a `CLUSTER NODES` reply); no vars line, no
/// myself requirement.
pub fn parse_node_lines(text: &str) -> Result<Vec<NodeLine>, NodesConfError> {
    let mut nodes = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        push_node(&mut nodes, parse_node_line(line, idx + 1)?, idx + 1)?;
    }
    Ok(nodes)
}

/// Parses one node line; `lineno` only labels errors.
pub fn parse_node_line(line: &str, lineno: usize) -> Result<NodeLine, NodesConfError> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    parse_fields(&fields, lineno)
}

fn push_node(
    nodes: &mut Vec<NodeLine>,
    node: NodeLine,
    lineno: usize,
) -> Result<(), NodesConfError> {
    if nodes.iter().any(|n| n.id == node.id) {
        return Err(corrupt(lineno, format!("duplicate node {}", node.id)));
    }
    if node.flags.has(NodeFlags::MYSELF) && nodes.iter().any(|n| n.flags.has(NodeFlags::MYSELF)) {
        return Err(corrupt(lineno, "second node flagged myself"));
    }
    nodes.push(node);
    Ok(())
}

fn parse_vars(fields: &[&str], lineno: usize, conf: &mut NodesConf) -> Result<(), NodesConfError> {
    if fields.len().is_multiple_of(2) {
        return Err(corrupt(lineno, "vars line needs name/value pairs"));
    }
    for pair in fields.get(1..).unwrap_or_default().chunks_exact(2) {
        let (name, value) = (pair[0], pair[1]);
        let parse_epoch = || {
            value
                .parse::<u64>()
                .map(Epoch)
                .map_err(|_| corrupt(lineno, format!("bad {name} value '{value}'")))
        };
        if name.eq_ignore_ascii_case("currentEpoch") {
            conf.current_epoch = parse_epoch()?;
        } else if name.eq_ignore_ascii_case("lastVoteEpoch") {
            conf.last_vote_epoch = parse_epoch()?;
        }
        // Unknown variables are skipped, as Redis does (with a warning).
    }
    Ok(())
}

fn parse_fields(fields: &[&str], lineno: usize) -> Result<NodeLine, NodesConfError> {
    let [id, addr, flags, master, ping, pong, epoch, link, slot_args @ ..] = fields else {
        return Err(corrupt(
            lineno,
            format!("{} fields, need at least 8", fields.len()),
        ));
    };
    let id = parse_id(id, lineno)?;
    let (ip, port, cport, hostname) = parse_addr(addr, lineno)?;
    let master = match *master {
        "-" => None,
        other => Some(parse_id(other, lineno)?),
    };
    let num = |what: &str, v: &str| {
        v.parse::<i64>()
            .map_err(|_| corrupt(lineno, format!("bad {what} '{v}'")))
    };
    let link = match *link {
        "connected" => LinkState::Connected,
        "disconnected" => LinkState::Disconnected,
        other => return Err(corrupt(lineno, format!("bad link state '{other}'"))),
    };
    let mut node = NodeLine {
        id,
        ip,
        port,
        cport,
        hostname,
        flags: parse_flags(flags, lineno)?,
        master,
        ping_sent: num("ping-sent", ping)?,
        pong_recv: num("pong-recv", pong)?,
        config_epoch: Epoch(
            epoch
                .parse::<u64>()
                .map_err(|_| corrupt(lineno, format!("bad config epoch '{epoch}'")))?,
        ),
        link,
        slots: Vec::new(),
        open_slots: Vec::new(),
    };
    for arg in slot_args {
        if arg.starts_with('[') {
            node.open_slots.push(parse_open_slot(arg, lineno)?);
        } else {
            node.slots.push(parse_range(arg, lineno)?);
        }
    }
    Ok(node)
}

fn parse_id(text: &str, lineno: usize) -> Result<NodeId, NodesConfError> {
    NodeId::parse(text).ok_or_else(|| corrupt(lineno, format!("invalid node id '{text}'")))
}

type Addr = (String, u16, u16, Option<String>);

/// `ip:port[@cport][,hostname]`.
fn parse_addr(text: &str, lineno: usize) -> Result<Addr, NodesConfError> {
    let (addr, hostname) = match text.split_once(',') {
        Some((a, h)) => (a, Some(h.to_string())),
        None => (text, None),
    };
    let (ip, ports) = addr
        .rsplit_once(':')
        .ok_or_else(|| corrupt(lineno, format!("address '{text}' has no port")))?;
    let bad = || corrupt(lineno, format!("bad port in address '{text}'"));
    let (port, cport) = match ports.split_once('@') {
        Some((p, c)) => (
            p.parse::<u16>().map_err(|_| bad())?,
            c.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            let c = u16::try_from(u32::from(p) + CLUSTER_PORT_INCR).map_err(|_| bad())?;
            (p, c)
        }
    };
    Ok((
        ip.to_string(),
        port,
        cport,
        hostname.filter(|h| !h.is_empty()),
    ))
}

fn parse_flags(text: &str, lineno: usize) -> Result<NodeFlags, NodesConfError> {
    let mut bits = 0u16;
    for name in text.split(',') {
        if name.eq_ignore_ascii_case("noflags") {
            continue;
        }
        let (bit, _) = FLAG_NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| corrupt(lineno, format!("unknown node flag '{name}'")))?;
        bits |= bit;
    }
    Ok(NodeFlags(bits))
}

fn parse_slot(text: &str, lineno: usize) -> Result<u16, NodesConfError> {
    text.parse::<u16>()
        .ok()
        .filter(|s| usize::from(*s) < CLUSTER_SLOTS)
        .ok_or_else(|| corrupt(lineno, format!("bad slot '{text}'")))
}

fn parse_range(text: &str, lineno: usize) -> Result<(u16, u16), NodesConfError> {
    let (start, end) = match text.split_once('-') {
        Some((a, b)) => (parse_slot(a, lineno)?, parse_slot(b, lineno)?),
        None => {
            let s = parse_slot(text, lineno)?;
            (s, s)
        }
    };
    if start > end {
        return Err(corrupt(lineno, format!("empty slot range '{text}'")));
    }
    Ok((start, end))
}

/// `[slot->-id]` or `[slot-<-id]`.
fn parse_open_slot(text: &str, lineno: usize) -> Result<OpenSlot, NodesConfError> {
    let bad = || corrupt(lineno, format!("bad open slot '{text}'"));
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(bad)?;
    let (slot, kind, node) = if let Some((s, n)) = inner.split_once("->-") {
        (s, OpenSlotKind::Migrating, n)
    } else if let Some((s, n)) = inner.split_once("-<-") {
        (s, OpenSlotKind::Importing, n)
    } else {
        return Err(bad());
    };
    Ok(OpenSlot {
        slot: parse_slot(slot, lineno)?,
        kind,
        node: parse_id(node, lineno)?,
    })
}

/// Renders the file: every node except those in handshake (as Redis's
/// clusterSaveConfig), then the vars line. Each line ends with '\n'.
pub fn render(conf: &NodesConf) -> String {
    let mut out = String::new();
    for node in conf
        .nodes
        .iter()
        .filter(|n| !n.flags.has(NodeFlags::HANDSHAKE))
    {
        out.push_str(&render_node_line(node));
        out.push('\n');
    }
    out.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        conf.current_epoch, conf.last_vote_epoch
    ));
    out
}

/// Renders a `CLUSTER NODES` reply body: every node (handshake included),
/// one line each, each ending with '\n', no vars line.
pub fn render_cluster_nodes(nodes: &[NodeLine]) -> String {
    let mut out = String::new();
    for node in nodes {
        out.push_str(&render_node_line(node));
        out.push('\n');
    }
    out
}

/// Renders one node line without the trailing newline.
pub fn render_node_line(n: &NodeLine) -> String {
    let mut s = format!("{} {}:{}@{}", n.id, n.ip, n.port, n.cport);
    if let Some(h) = n.hostname.as_deref().filter(|h| !h.is_empty()) {
        s.push(',');
        s.push_str(h);
    }
    s.push(' ');
    s.push_str(&render_flags(n.flags));
    s.push(' ');
    match &n.master {
        Some(m) => s.push_str(&m.to_string()),
        None => s.push('-'),
    }
    let link = match n.link {
        LinkState::Connected => "connected",
        LinkState::Disconnected => "disconnected",
    };
    s.push_str(&format!(
        " {} {} {} {}",
        n.ping_sent, n.pong_recv, n.config_epoch, link
    ));
    for &(start, end) in &n.slots {
        if start == end {
            s.push_str(&format!(" {start}"));
        } else {
            s.push_str(&format!(" {start}-{end}"));
        }
    }
    for o in &n.open_slots {
        let arrow = match o.kind {
            OpenSlotKind::Migrating => "->-",
            OpenSlotKind::Importing => "-<-",
        };
        s.push_str(&format!(" [{}{}{}]", o.slot, arrow, o.node));
    }
    s
}

/// Comma-separated flag names in Redis's order, or `noflags`.
pub fn render_flags(flags: NodeFlags) -> String {
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(bit, _)| flags.has(*bit))
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "noflags".to_string()
    } else {
        names.join(",")
    }
}
