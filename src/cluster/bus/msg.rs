//! Typed model of one Redis 7.0 cluster bus message (`clusterMsg` in Redis
//! 7.0.15's cluster.h): the fixed 2256-byte header followed by a body whose
//! shape depends on the message type.
//!
//! This file only describes values; `codec.rs` turns them into bytes and back.
//! Fields that Redis derives from the body on the wire (signature, totlen,
//! type, gossip count, extension count) are not stored here: the encoder
//! computes them, so a `Msg` can never disagree with its own framing.
//! Reserved / padding bytes *are* kept so that a decoded packet re-encodes
//! to identical bytes.

use bytes::Bytes;

/// Every packet starts with these four bytes ("Redis Cluster message bus").
pub const SIGNATURE: [u8; 4] = *b"RCmb";
/// The only protocol version Redis 7.0 speaks (CLUSTER_PROTO_VER).
pub const PROTO_VER: u16 = 1;
/// Length of the fixed header; also the smallest valid packet (CLUSTERMSG_MIN_LEN).
pub const HEADER_LEN: usize = 2256;
/// Size of one gossip entry (clusterMsgDataGossip).
pub const GOSSIP_LEN: usize = 104;
/// Node names are 40 characters (CLUSTER_NAMELEN).
pub const NAME_LEN: usize = 40;
/// IP fields are NUL-padded buffers of NET_IP_STR_LEN bytes.
pub const IP_LEN: usize = 46;
/// Number of hash slots.
pub const CLUSTER_SLOTS: usize = 16384;
/// Bytes of a slot bitmap (one bit per slot).
pub const SLOT_BYTES: usize = CLUSTER_SLOTS / 8;
/// Bytes reserved in the header after the extension count (`notused1`).
pub const HEADER_RESERVED_LEN: usize = 30;

/// A 40-character node name as carried on the wire (not necessarily valid:
/// use [`NodeId::is_valid`] before trusting one read from a peer).
// `eq` below is byte equality, the relation the derived Hash hashes by.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Copy, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; NAME_LEN]);

/// Word-wise and branch-free, so it inlines: the derived comparison calls
/// memcmp, and scans of the 16384 slot owners (routing snapshot, coverage)
/// spent most of their time in that call. Equal exactly when the bytes
/// are, so it agrees with the derived `Hash` and `Ord`.
impl PartialEq for NodeId {
    #[inline]
    fn eq(&self, other: &NodeId) -> bool {
        let word = |c: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            u64::from_ne_bytes(w)
        };
        self.0
            .chunks_exact(8)
            .zip(other.0.chunks_exact(8))
            .fold(0u64, |acc, (a, b)| acc | (word(a) ^ word(b)))
            == 0
    }
}

impl NodeId {
    /// The all-zero name Redis uses for "no master" in `slaveof`.
    pub const NULL: NodeId = NodeId([0; NAME_LEN]);

    /// Parses a textual node id; `None` unless it is exactly 40 characters of
    /// `[a-z0-9]` (the rule Redis applies to ids in nodes.conf and commands).
    pub fn parse(text: &str) -> Option<NodeId> {
        let bytes: [u8; NAME_LEN] = text.as_bytes().try_into().ok()?;
        let id = NodeId(bytes);
        id.is_valid().then_some(id)
    }

    /// True when every byte is a lowercase letter or a digit.
    pub fn is_valid(&self) -> bool {
        self.0
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }

    /// True for the all-zero name.
    pub fn is_null(&self) -> bool {
        self.0 == [0; NAME_LEN]
    }

    /// The raw 40 bytes.
    pub fn as_bytes(&self) -> &[u8; NAME_LEN] {
        &self.0
    }

    /// The name as text, `None` if it is not valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::fmt::Debug for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NodeId({})",
            String::from_utf8_lossy(&self.0).escape_debug()
        )
    }
}

/// A cluster epoch (currentEpoch, configEpoch, lastVoteEpoch).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Epoch(pub u64);

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A 16384-bit slot bitmap; slot `s` is bit `s % 8` of byte `s / 8`, as in
/// Redis's `myslots` and UPDATE `slots` fields.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SlotBitmap(pub Box<[u8; SLOT_BYTES]>);

impl Default for SlotBitmap {
    fn default() -> Self {
        SlotBitmap(Box::new([0; SLOT_BYTES]))
    }
}

impl SlotBitmap {
    /// An empty bitmap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `slot` is set (false for slots >= 16384).
    pub fn get(&self, slot: u16) -> bool {
        let slot = usize::from(slot);
        self.0
            .get(slot / 8)
            .is_some_and(|byte| byte & (1 << (slot % 8)) != 0)
    }

    /// Sets or clears `slot`; slots >= 16384 are ignored.
    pub fn set(&mut self, slot: u16, on: bool) {
        let slot = usize::from(slot);
        if let Some(byte) = self.0.get_mut(slot / 8) {
            let bit = 1u8 << (slot % 8);
            if on {
                *byte |= bit;
            } else {
                *byte &= !bit;
            }
        }
    }

    /// Number of slots set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Maximal runs of set slots as inclusive `(start, end)` pairs, ascending.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        let mut start: Option<u16> = None;
        // Whole bytes that cannot start or end a run are skipped: this runs
        // for every node each time nodes.conf or CLUSTER NODES is rendered.
        for (i, &byte) in self.0.iter().enumerate() {
            if (byte == 0 && start.is_none()) || (byte == 0xFF && start.is_some()) {
                continue;
            }
            for bit in 0..8u16 {
                let slot = i as u16 * 8 + bit;
                self.push_edge(byte & (1 << bit) != 0, slot, &mut start, &mut out);
            }
        }
        if let Some(s) = start {
            out.push((s, CLUSTER_SLOTS as u16 - 1));
        }
        out
    }

    fn push_edge(&self, set: bool, slot: u16, start: &mut Option<u16>, out: &mut Vec<(u16, u16)>) {
        match (set, *start) {
            (true, None) => *start = Some(slot),
            (false, Some(s)) => {
                out.push((s, slot - 1));
                *start = None;
            }
            _ => {}
        }
    }

    #[cfg(test)]
    fn ranges_slow(&self) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        let mut start: Option<u16> = None;
        for slot in 0..CLUSTER_SLOTS as u16 {
            match (self.get(slot), start) {
                (true, None) => start = Some(slot),
                (false, Some(s)) => {
                    out.push((s, slot - 1));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push((s, CLUSTER_SLOTS as u16 - 1));
        }
        out
    }

    /// Builds a bitmap from inclusive ranges (slots >= 16384 ignored).
    pub fn from_ranges(ranges: &[(u16, u16)]) -> Self {
        let mut map = Self::new();
        for &(start, end) in ranges {
            for slot in start..=end.min(CLUSTER_SLOTS as u16 - 1) {
                map.set(slot, true);
            }
        }
        map
    }
}

impl std::fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBitmap{:?}", self.ranges())
    }
}

/// A NUL-padded IP buffer (`myip`, gossip `ip`). An all-zero `myip` means
/// "no announced IP: use the address the packet came from".
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpField(pub [u8; IP_LEN]);

impl Default for IpField {
    fn default() -> Self {
        IpField([0; IP_LEN])
    }
}

impl IpField {
    /// Stores `ip`, truncated to 45 bytes so a terminating NUL always fits
    /// (as Redis does with cluster-announce-ip).
    pub fn from_text(ip: &str) -> Self {
        let mut buf = [0u8; IP_LEN];
        let n = ip.len().min(IP_LEN - 1);
        buf[..n].copy_from_slice(&ip.as_bytes()[..n]);
        IpField(buf)
    }

    /// The bytes before the first NUL.
    pub fn as_bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(IP_LEN);
        &self.0[..end]
    }

    /// The address as text (lossy for non-UTF-8 garbage).
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }

    /// True when the first byte is NUL (no address).
    pub fn is_empty(&self) -> bool {
        self.0[0] == 0
    }
}

impl std::fmt::Debug for IpField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IpField({:?})", self.to_text())
    }
}

/// Node flags as sent in the header and in gossip (CLUSTER_NODE_* bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NodeFlags(pub u16);

impl NodeFlags {
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const MIGRATE_TO: u16 = 256;
    pub const NOFAILOVER: u16 = 512;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }
}

/// The three message-flag bytes (`mflags`); only byte 0 has defined bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct MsgFlags(pub [u8; 3]);

impl MsgFlags {
    /// Master is paused for a manual failover.
    pub const PAUSED: u8 = 1 << 0;
    /// Vote for this AUTH_REQUEST even though the master is up (manual failover).
    pub const FORCEACK: u8 = 1 << 1;
    /// PING/PONG/MEET carries extensions after the gossip section.
    pub const EXT_DATA: u8 = 1 << 2;

    /// Whether bit `flag` of byte 0 is set.
    pub fn has(self, flag: u8) -> bool {
        self.0[0] & flag != 0
    }

    /// Sets or clears bit `flag` of byte 0.
    pub fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.0[0] |= flag;
        } else {
            self.0[0] &= !flag;
        }
    }
}

/// Message type numbers (CLUSTERMSG_TYPE_*).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u16)]
pub enum MsgType {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Publish = 4,
    FailoverAuthRequest = 5,
    FailoverAuthAck = 6,
    Update = 7,
    MfStart = 8,
    Module = 9,
    PublishShard = 10,
}

impl MsgType {
    /// Number of known types (CLUSTERMSG_TYPE_COUNT), for per-type stats arrays.
    pub const COUNT: usize = 11;

    /// Maps a wire number to a known type.
    pub fn from_u16(n: u16) -> Option<MsgType> {
        use MsgType::*;
        Some(match n {
            0 => Ping,
            1 => Pong,
            2 => Meet,
            3 => Fail,
            4 => Publish,
            5 => FailoverAuthRequest,
            6 => FailoverAuthAck,
            7 => Update,
            8 => MfStart,
            9 => Module,
            10 => PublishShard,
            _ => return None,
        })
    }

    /// The name CLUSTER INFO uses in `cluster_stats_messages_<name>_sent`.
    pub fn stats_name(self) -> &'static str {
        use MsgType::*;
        match self {
            Ping => "ping",
            Pong => "pong",
            Meet => "meet",
            Fail => "fail",
            Publish => "publish",
            FailoverAuthRequest => "auth-req",
            FailoverAuthAck => "auth-ack",
            Update => "update",
            MfStart => "mfstart",
            Module => "module",
            PublishShard => "publishshard",
        }
    }
}

/// The fixed header, minus the fields the codec derives from the body.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Header {
    /// Client port of the sender (TLS port when TLS is on).
    pub port: u16,
    /// The sender's currentEpoch.
    pub current_epoch: Epoch,
    /// The sender's configEpoch (its master's, if the sender is a replica).
    pub config_epoch: Epoch,
    /// Replication offset (master offset, or processed offset on a replica).
    pub offset: u64,
    /// Sender node name.
    pub sender: NodeId,
    /// Slots served by the sender (its master's, if the sender is a replica).
    pub myslots: SlotBitmap,
    /// The sender's master, or [`NodeId::NULL`].
    pub slaveof: NodeId,
    /// Announced IP, or all zero.
    pub myip: IpField,
    /// `notused1`: zero from Redis 7.0, kept verbatim.
    pub reserved: [u8; HEADER_RESERVED_LEN],
    /// Plaintext client port when the main port is TLS, else 0.
    pub pport: u16,
    /// Cluster bus port of the sender.
    pub cport: u16,
    /// Sender node flags.
    pub flags: NodeFlags,
    /// Cluster state as the sender sees it (0 = ok, 1 = fail).
    pub state: u8,
    /// Message flags. The encoder sets EXT_DATA itself when a ping body has
    /// extensions; it never clears a flag that is already set.
    pub mflags: MsgFlags,
}

impl Default for NodeId {
    fn default() -> Self {
        NodeId::NULL
    }
}

/// One gossip entry: what the sender knows about another node.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Gossip {
    pub nodename: NodeId,
    /// Seconds (unix time / 1000, truncated to 32 bits) of the last ping sent.
    pub ping_sent: u32,
    /// Seconds of the last pong received.
    pub pong_received: u32,
    pub ip: IpField,
    pub port: u16,
    pub cport: u16,
    pub flags: NodeFlags,
    pub pport: u16,
    /// `notused1`, zero from Redis; kept verbatim.
    pub reserved: u16,
}

/// Extension types Redis 7.0 defines (only the hostname). Redis 7.2 adds
/// HUMAN_NODENAME=1, FORGOTTEN_NODE=2, SHARDID=3; a 7.0 node ignores them, so
/// they decode as [`PingExt::Unknown`].
pub const EXT_TYPE_HOSTNAME: u16 = 0;

/// One PING/PONG/MEET extension (8-byte header: length u32, type u16, pad u16;
/// total length always a multiple of 8).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PingExt {
    /// The announced hostname (cluster-announce-hostname), without NUL.
    Hostname(Bytes),
    /// Any other type, kept verbatim (data excludes the 8-byte ext header and
    /// includes padding, so its length is a multiple of 8 when decoded).
    Unknown { ext_type: u16, data: Bytes },
}

/// The body shared by PING, PONG and MEET.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PingBody {
    pub gossip: Vec<Gossip>,
    pub extensions: Vec<PingExt>,
}

/// The union part of the message, one variant per type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Body {
    Ping(PingBody),
    Pong(PingBody),
    Meet(PingBody),
    /// The named node is failing (FAIL).
    Fail {
        about: NodeId,
    },
    /// Pub/Sub propagation (PUBLISH).
    Publish {
        channel: Bytes,
        message: Bytes,
    },
    /// Shard Pub/Sub propagation (PUBLISHSHARD).
    PublishShard {
        channel: Bytes,
        message: Bytes,
    },
    FailoverAuthRequest,
    FailoverAuthAck,
    /// Another node's slot configuration (UPDATE).
    Update {
        config_epoch: Epoch,
        nodename: NodeId,
        slots: SlotBitmap,
    },
    /// Manual failover start (MFSTART).
    MfStart,
    /// Module message: module id (8 raw bytes, read big-endian), type, payload.
    Module {
        module_id: u64,
        module_type: u8,
        payload: Bytes,
    },
    /// A type Redis 7.0 does not know; Redis accepts it as well formed and
    /// ignores it. `count` and `extensions` are the raw header fields.
    Unknown {
        msg_type: u16,
        count: u16,
        extensions: u16,
        payload: Bytes,
    },
}

impl Body {
    /// The wire type number of this body.
    pub fn type_id(&self) -> u16 {
        match self {
            Body::Unknown { msg_type, .. } => *msg_type,
            known => known.msg_type().map_or(u16::MAX, |t| t as u16),
        }
    }

    /// The known message type, `None` for [`Body::Unknown`].
    pub fn msg_type(&self) -> Option<MsgType> {
        Some(match self {
            Body::Ping(_) => MsgType::Ping,
            Body::Pong(_) => MsgType::Pong,
            Body::Meet(_) => MsgType::Meet,
            Body::Fail { .. } => MsgType::Fail,
            Body::Publish { .. } => MsgType::Publish,
            Body::PublishShard { .. } => MsgType::PublishShard,
            Body::FailoverAuthRequest => MsgType::FailoverAuthRequest,
            Body::FailoverAuthAck => MsgType::FailoverAuthAck,
            Body::Update { .. } => MsgType::Update,
            Body::MfStart => MsgType::MfStart,
            Body::Module { .. } => MsgType::Module,
            Body::Unknown { .. } => return None,
        })
    }

    /// The gossip/extension body of PING, PONG and MEET.
    pub fn ping(&self) -> Option<&PingBody> {
        match self {
            Body::Ping(p) | Body::Pong(p) | Body::Meet(p) => Some(p),
            _ => None,
        }
    }
}

/// A complete cluster bus message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Msg {
    pub header: Header,
    pub body: Body,
}

impl Msg {
    /// The hostname extension of a PING/PONG/MEET, if present.
    pub fn hostname(&self) -> Option<&Bytes> {
        self.body.ping()?.extensions.iter().find_map(|e| match e {
            PingExt::Hostname(h) => Some(h),
            PingExt::Unknown { .. } => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_a_bit_by_bit_scan() {
        let mut patterns = vec![
            SlotBitmap::new(),
            SlotBitmap::from_ranges(&[(0, 16383)]),
            SlotBitmap::from_ranges(&[(0, 0), (7, 8), (16, 23), (5461, 10922), (16383, 16383)]),
        ];
        for seed in 0..20u32 {
            let mut m = SlotBitmap::new();
            for slot in 0..CLUSTER_SLOTS as u16 {
                let r = (u32::from(slot) / (1 + seed * 3)).wrapping_mul(2_654_435_761) >> 29;
                m.set(slot, r % 2 == 0);
            }
            patterns.push(m);
        }
        for m in patterns {
            assert_eq!(m.ranges(), m.ranges_slow());
        }
    }
}
