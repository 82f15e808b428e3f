//! Bytes ⇄ [`Msg`] for the Redis 7.0 cluster bus, plus packet framing.
//!
//! All integers are big-endian (Redis converts with htons/htonl/htonu64).
//! `decode` accepts exactly the packets Redis 7.0's clusterProcessPacket
//! accepts by length (totlen must equal the length the type implies), with a
//! few stricter checks where Redis would read past its buffer or loop on a
//! zero-length extension. It never panics: every read is bounds-checked.
//! No I/O and no locks here; the link task owns the socket.

use bytes::Bytes;

use super::msg::*;

/// Largest frame `next_frame` accepts by default. Redis has no limit beyond
/// u32, but a PUBLISH carries at most two 512 MB bulk strings, so 1 GiB plus
/// the header covers every legitimate packet.
pub const DEFAULT_MAX_FRAME_LEN: u32 = (1 << 30) + HEADER_LEN as u32 + 8;

/// Offset of the union data in the packet; fixed by Redis's static asserts.
const DATA: usize = HEADER_LEN;
/// PUBLISH data: channel_len u32 + message_len u32, then the bulk bytes.
const PUBLISH_FIXED: usize = 8;
/// MODULE data: module_id u64 + len u32 + type u8, then the payload.
const MODULE_FIXED: usize = 13;
/// UPDATE data: configEpoch u64 + nodename + slots.
const UPDATE_LEN: usize = 8 + NAME_LEN + SLOT_BYTES;
/// Size of a ping extension header (length u32, type u16, unused u16).
const EXT_HEADER: usize = 8;

/// Why a packet was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusDecodeError {
    #[error("bad cluster bus signature {0:?}")]
    BadSignature([u8; 4]),
    #[error("cluster bus packet of {0} bytes is shorter than the {HEADER_LEN}-byte header")]
    TooShort(u64),
    #[error("cluster bus packet of {totlen} bytes exceeds the {max}-byte limit")]
    TooLarge { totlen: u32, max: u32 },
    #[error("totlen field says {totlen} bytes but the packet has {actual}")]
    TotlenMismatch { totlen: u32, actual: usize },
    #[error("unsupported cluster bus protocol version {0}")]
    BadVersion(u16),
    #[error("invalid type {msg_type} packet of length {totlen} but expected length {expected}")]
    WrongLength {
        msg_type: u16,
        totlen: u64,
        expected: u64,
    },
    #[error("ping extension of {0} bytes is not a multiple of 8 or shorter than its header")]
    ExtensionPadding(u32),
    #[error("ping extension data exceeds the total packet length")]
    ExtensionOverflow,
    #[error("packet declares {0} extensions without the EXT_DATA flag")]
    ExtensionsWithoutFlag(u16),
    #[error("hostname extension is not NUL-terminated")]
    HostnameNotTerminated,
}

/// State of a read buffer as seen by the framer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet; the buffer must grow to `wanted` bytes in total
    /// (8 while the length is still unknown).
    Incomplete { wanted: usize },
    /// The next `len` bytes are one complete packet: pass them to [`decode`].
    Ready { len: usize },
}

/// Frames the next packet in `buf`, checking the 8-byte prefix the way Redis
/// does before reading the rest: signature "RCmb" and totlen >= 2256. A
/// packet longer than `max_len` is an error (the link should be dropped).
pub fn next_frame(buf: &[u8], max_len: u32) -> Result<Frame, BusDecodeError> {
    let Some(prefix) = buf.get(..8) else {
        return Ok(Frame::Incomplete { wanted: 8 });
    };
    let totlen = check_prefix(prefix, max_len)?;
    let len = totlen as usize;
    Ok(if buf.len() >= len {
        Frame::Ready { len }
    } else {
        Frame::Incomplete { wanted: len }
    })
}

/// Checks signature and length bounds of an 8-byte prefix; returns totlen.
fn check_prefix(prefix: &[u8], max_len: u32) -> Result<u32, BusDecodeError> {
    let mut r = Reader::new(prefix);
    let sig: [u8; 4] = r.array().unwrap_or_default();
    if sig != SIGNATURE {
        return Err(BusDecodeError::BadSignature(sig));
    }
    let totlen = r.u32().unwrap_or(0);
    if (totlen as usize) < HEADER_LEN {
        return Err(BusDecodeError::TooShort(u64::from(totlen)));
    }
    if totlen > max_len {
        return Err(BusDecodeError::TooLarge {
            totlen,
            max: max_len,
        });
    }
    Ok(totlen)
}

/// Decodes exactly one packet; `buf` must be the whole frame (totlen bytes).
pub fn decode(buf: &[u8]) -> Result<Msg, BusDecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(BusDecodeError::TooShort(buf.len() as u64));
    }
    let totlen = check_prefix(buf, u32::MAX)?;
    if totlen as usize != buf.len() {
        return Err(BusDecodeError::TotlenMismatch {
            totlen,
            actual: buf.len(),
        });
    }
    let raw = RawHeader::read(buf).ok_or(BusDecodeError::TooShort(buf.len() as u64))?;
    if raw.ver != PROTO_VER {
        return Err(BusDecodeError::BadVersion(raw.ver));
    }
    let data = buf.get(DATA..).unwrap_or_default();
    let body = decode_body(&raw, data)?;
    Ok(Msg {
        header: raw.header,
        body,
    })
}

/// Header fields plus the ones the body owns (type, count, extensions).
struct RawHeader {
    ver: u16,
    msg_type: u16,
    count: u16,
    extensions: u16,
    header: Header,
}

impl RawHeader {
    fn read(buf: &[u8]) -> Option<RawHeader> {
        let mut r = Reader::new(buf.get(8..HEADER_LEN)?);
        let ver = r.u16()?;
        let port = r.u16()?;
        let msg_type = r.u16()?;
        let count = r.u16()?;
        let current_epoch = Epoch(r.u64()?);
        let config_epoch = Epoch(r.u64()?);
        let offset = r.u64()?;
        let sender = NodeId(r.array()?);
        let myslots = SlotBitmap(Box::new(r.array()?));
        let slaveof = NodeId(r.array()?);
        let myip = IpField(r.array()?);
        let extensions = r.u16()?;
        let reserved = r.array()?;
        let header = Header {
            port,
            current_epoch,
            config_epoch,
            offset,
            sender,
            myslots,
            slaveof,
            myip,
            reserved,
            pport: r.u16()?,
            cport: r.u16()?,
            flags: NodeFlags(r.u16()?),
            state: r.u8()?,
            mflags: MsgFlags(r.array()?),
        };
        Some(RawHeader {
            ver,
            msg_type,
            count,
            extensions,
            header,
        })
    }
}

fn decode_body(raw: &RawHeader, data: &[u8]) -> Result<Body, BusDecodeError> {
    let Some(kind) = MsgType::from_u16(raw.msg_type) else {
        // Redis assumes unknown types are well formed and skips them.
        return Ok(Body::Unknown {
            msg_type: raw.msg_type,
            count: raw.count,
            extensions: raw.extensions,
            payload: Bytes::copy_from_slice(data),
        });
    };
    let wrong = |expected: usize| BusDecodeError::WrongLength {
        msg_type: raw.msg_type,
        totlen: (HEADER_LEN + data.len()) as u64,
        expected: (HEADER_LEN + expected) as u64,
    };
    let exact = |expected: usize| {
        if data.len() == expected {
            Ok(())
        } else {
            Err(wrong(expected))
        }
    };
    let mut r = Reader::new(data);
    Ok(match kind {
        MsgType::Ping => Body::Ping(decode_ping(raw, data)?),
        MsgType::Pong => Body::Pong(decode_ping(raw, data)?),
        MsgType::Meet => Body::Meet(decode_ping(raw, data)?),
        MsgType::Fail => {
            exact(NAME_LEN)?;
            Body::Fail {
                about: NodeId(r.array().ok_or_else(|| wrong(NAME_LEN))?),
            }
        }
        MsgType::Publish | MsgType::PublishShard => {
            let (channel, message) = decode_publish(data).ok_or_else(|| {
                let (c, m) = publish_lens(data);
                wrong(PUBLISH_FIXED.saturating_add(c).saturating_add(m))
            })?;
            if kind == MsgType::Publish {
                Body::Publish { channel, message }
            } else {
                Body::PublishShard { channel, message }
            }
        }
        MsgType::FailoverAuthRequest => exact(0).map(|_| Body::FailoverAuthRequest)?,
        MsgType::FailoverAuthAck => exact(0).map(|_| Body::FailoverAuthAck)?,
        MsgType::MfStart => exact(0).map(|_| Body::MfStart)?,
        MsgType::Update => {
            exact(UPDATE_LEN)?;
            let config_epoch = Epoch(r.u64().ok_or_else(|| wrong(UPDATE_LEN))?);
            let nodename = NodeId(r.array().ok_or_else(|| wrong(UPDATE_LEN))?);
            let slots = SlotBitmap(Box::new(r.array().ok_or_else(|| wrong(UPDATE_LEN))?));
            Body::Update {
                config_epoch,
                nodename,
                slots,
            }
        }
        MsgType::Module => {
            let module_id = r.u64().ok_or_else(|| wrong(MODULE_FIXED))?;
            let len = r.u32().ok_or_else(|| wrong(MODULE_FIXED))? as usize;
            let module_type = r.u8().ok_or_else(|| wrong(MODULE_FIXED))?;
            exact(MODULE_FIXED.saturating_add(len))?;
            Body::Module {
                module_id,
                module_type,
                payload: Bytes::copy_from_slice(r.rest()),
            }
        }
    })
}

/// channel_len and message_len as declared (0 when absent).
fn publish_lens(data: &[u8]) -> (usize, usize) {
    let mut r = Reader::new(data);
    let c = r.u32().unwrap_or(0) as usize;
    let m = r.u32().unwrap_or(0) as usize;
    (c, m)
}

fn decode_publish(data: &[u8]) -> Option<(Bytes, Bytes)> {
    let mut r = Reader::new(data);
    let c = r.u32()? as usize;
    let m = r.u32()? as usize;
    let channel = r.take(c)?;
    let message = r.take(m)?;
    if !r.rest().is_empty() {
        return None;
    }
    Some((
        Bytes::copy_from_slice(channel),
        Bytes::copy_from_slice(message),
    ))
}

fn decode_ping(raw: &RawHeader, data: &[u8]) -> Result<PingBody, BusDecodeError> {
    let gossip_len = usize::from(raw.count) * GOSSIP_LEN;
    let Some((gossip_bytes, mut ext_bytes)) = data.split_at_checked(gossip_len) else {
        return Err(BusDecodeError::WrongLength {
            msg_type: raw.msg_type,
            totlen: (HEADER_LEN + data.len()) as u64,
            expected: (HEADER_LEN + gossip_len) as u64,
        });
    };
    let gossip = gossip_bytes
        .chunks_exact(GOSSIP_LEN)
        .filter_map(decode_gossip)
        .collect();
    let mut extensions = Vec::new();
    if raw.header.mflags.has(MsgFlags::EXT_DATA) {
        for _ in 0..raw.extensions {
            let (ext, rest) = decode_ext(ext_bytes)?;
            extensions.push(ext);
            ext_bytes = rest;
        }
    } else if raw.extensions != 0 {
        // Redis would walk extensions it never length-checked; refuse.
        return Err(BusDecodeError::ExtensionsWithoutFlag(raw.extensions));
    }
    if !ext_bytes.is_empty() {
        return Err(BusDecodeError::WrongLength {
            msg_type: raw.msg_type,
            totlen: (HEADER_LEN + data.len()) as u64,
            expected: (HEADER_LEN + data.len() - ext_bytes.len()) as u64,
        });
    }
    Ok(PingBody { gossip, extensions })
}

fn decode_gossip(chunk: &[u8]) -> Option<Gossip> {
    let mut r = Reader::new(chunk);
    Some(Gossip {
        nodename: NodeId(r.array()?),
        ping_sent: r.u32()?,
        pong_received: r.u32()?,
        ip: IpField(r.array()?),
        port: r.u16()?,
        cport: r.u16()?,
        flags: NodeFlags(r.u16()?),
        pport: r.u16()?,
        reserved: r.u16()?,
    })
}

/// Decodes one extension at the start of `buf`; returns it and what follows.
fn decode_ext(buf: &[u8]) -> Result<(PingExt, &[u8]), BusDecodeError> {
    let mut r = Reader::new(buf);
    let len = r.u32().ok_or(BusDecodeError::ExtensionOverflow)?;
    let ext_type = r.u16().ok_or(BusDecodeError::ExtensionOverflow)?;
    let len_usize = len as usize;
    if !len_usize.is_multiple_of(8) || len_usize < EXT_HEADER {
        return Err(BusDecodeError::ExtensionPadding(len));
    }
    let (ext, rest) = buf
        .split_at_checked(len_usize)
        .ok_or(BusDecodeError::ExtensionOverflow)?;
    let payload = ext.get(EXT_HEADER..).unwrap_or_default();
    let ext = if ext_type == EXT_TYPE_HOSTNAME {
        let end = payload
            .iter()
            .position(|&b| b == 0)
            .ok_or(BusDecodeError::HostnameNotTerminated)?;
        PingExt::Hostname(Bytes::copy_from_slice(
            payload.get(..end).unwrap_or_default(),
        ))
    } else {
        PingExt::Unknown {
            ext_type,
            data: Bytes::copy_from_slice(payload),
        }
    };
    Ok((ext, rest))
}

/// Serializes a message exactly as Redis 7.0 lays it out. Counts, type,
/// totlen and the EXT_DATA flag are derived from the body. Callers must keep
/// messages within u32 / u16 limits (at most 65535 gossip entries and
/// extensions); hostnames must not contain NUL.
pub fn encode(msg: &Msg) -> Vec<u8> {
    let mut body = Vec::new();
    let (count, extensions) = encode_body(&msg.body, &mut body);
    let mut mflags = msg.header.mflags;
    if msg.body.ping().is_some_and(|p| !p.extensions.is_empty()) {
        mflags.set(MsgFlags::EXT_DATA, true);
    }
    let totlen = u32::try_from(HEADER_LEN + body.len()).unwrap_or(u32::MAX);
    let h = &msg.header;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&SIGNATURE);
    out.extend_from_slice(&totlen.to_be_bytes());
    for v in [PROTO_VER, h.port, msg.body.type_id(), count] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    for v in [h.current_epoch.0, h.config_epoch.0, h.offset] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&h.sender.0);
    out.extend_from_slice(&h.myslots.0[..]);
    out.extend_from_slice(&h.slaveof.0);
    out.extend_from_slice(&h.myip.0);
    out.extend_from_slice(&extensions.to_be_bytes());
    out.extend_from_slice(&h.reserved);
    for v in [h.pport, h.cport, h.flags.0] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.push(h.state);
    out.extend_from_slice(&mflags.0);
    out.extend_from_slice(&body);
    out
}

/// Appends the union data; returns the header's (count, extensions) fields.
fn encode_body(body: &Body, out: &mut Vec<u8>) -> (u16, u16) {
    match body {
        Body::Ping(p) | Body::Pong(p) | Body::Meet(p) => {
            p.gossip.iter().for_each(|g| encode_gossip(g, out));
            p.extensions.iter().for_each(|e| encode_ext(e, out));
            (clamp16(p.gossip.len()), clamp16(p.extensions.len()))
        }
        Body::Fail { about } => {
            out.extend_from_slice(&about.0);
            (0, 0)
        }
        Body::Publish { channel, message } | Body::PublishShard { channel, message } => {
            out.extend_from_slice(&clamp32(channel.len()).to_be_bytes());
            out.extend_from_slice(&clamp32(message.len()).to_be_bytes());
            out.extend_from_slice(channel);
            out.extend_from_slice(message);
            (0, 0)
        }
        Body::FailoverAuthRequest | Body::FailoverAuthAck | Body::MfStart => (0, 0),
        Body::Update {
            config_epoch,
            nodename,
            slots,
        } => {
            out.extend_from_slice(&config_epoch.0.to_be_bytes());
            out.extend_from_slice(&nodename.0);
            out.extend_from_slice(&slots.0[..]);
            (0, 0)
        }
        Body::Module {
            module_id,
            module_type,
            payload,
        } => {
            out.extend_from_slice(&module_id.to_be_bytes());
            out.extend_from_slice(&clamp32(payload.len()).to_be_bytes());
            out.push(*module_type);
            out.extend_from_slice(payload);
            (0, 0)
        }
        Body::Unknown {
            count,
            extensions,
            payload,
            ..
        } => {
            out.extend_from_slice(payload);
            (*count, *extensions)
        }
    }
}

fn encode_gossip(g: &Gossip, out: &mut Vec<u8>) {
    out.extend_from_slice(&g.nodename.0);
    out.extend_from_slice(&g.ping_sent.to_be_bytes());
    out.extend_from_slice(&g.pong_received.to_be_bytes());
    out.extend_from_slice(&g.ip.0);
    for v in [g.port, g.cport, g.flags.0, g.pport, g.reserved] {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Writes one extension, zero-padding its data to a multiple of 8 bytes
/// (a hostname also gets its terminating NUL inside that padding).
fn encode_ext(ext: &PingExt, out: &mut Vec<u8>) {
    let (ext_type, data, min_len) = match ext {
        PingExt::Hostname(h) => (EXT_TYPE_HOSTNAME, h, h.len() + 1),
        PingExt::Unknown { ext_type, data } => (*ext_type, data, data.len()),
    };
    let padded = min_len.div_ceil(8) * 8;
    out.extend_from_slice(&clamp32(EXT_HEADER + padded).to_be_bytes());
    out.extend_from_slice(&ext_type.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(data);
    out.resize(out.len() + (padded - data.len()), 0);
}

fn clamp16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn clamp32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Bounds-checked big-endian cursor over a byte slice.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.buf.split_at_checked(n)?;
        self.buf = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    fn rest(&self) -> &'a [u8] {
        self.buf
    }
}
