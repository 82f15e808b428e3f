//! A small cluster-aware client, as real client libraries behave: a slot
//! → node cache filled from MOVED replies, a one-shot `ASKING` + retry on
//! ASK, and a bounded retry on TRYAGAIN / CLUSTERDOWN during changes.
//! Used to read and write continuously while slots move.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use crate::resp::{Conn, Value};

/// Redis's key hash slot: CRC16/XMODEM of the key (or its `{hash tag}`).
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|s| {
            let rest = &key[s + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&e| e > 0)
                .map(|e| &rest[..e])
        })
        .unwrap_or(key);
    crc16(tagged) & 16383
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Counts of redirections seen, for assertions.
#[derive(Debug, Default, Clone, Copy)]
pub struct Redirects {
    pub moved: u64,
    pub ask: u64,
    /// TRYAGAIN or CLUSTERDOWN replies retried.
    pub tryagain: u64,
}

/// Cluster client over blocking connections.
pub struct ClusterClient {
    slots: HashMap<u16, u16>,
    conns: HashMap<u16, Conn>,
    seed: u16,
    pub seen: Redirects,
}

impl ClusterClient {
    pub fn new(seed_port: u16) -> ClusterClient {
        ClusterClient {
            slots: HashMap::new(),
            conns: HashMap::new(),
            seed: seed_port,
            seen: Redirects::default(),
        }
    }

    fn conn(&mut self, port: u16) -> io::Result<&mut Conn> {
        match self.conns.entry(port) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => Ok(e.insert(Conn::connect(port)?)),
        }
    }

    fn send(&mut self, port: u16, argv: &[&[u8]], asking: bool) -> io::Result<Value> {
        let res = (|| {
            let c = self.conn(port)?;
            if asking {
                c.call(&["ASKING"])?;
            }
            c.call(argv)
        })();
        if res.is_err() {
            self.conns.remove(&port);
        }
        res
    }

    /// Run a command whose first argument after the name is the key,
    /// following redirections.
    pub fn call(&mut self, argv: &[&[u8]]) -> io::Result<Value> {
        let slot = argv.get(1).map_or(0, |k| key_slot(k));
        let mut port = *self.slots.get(&slot).unwrap_or(&self.seed);
        let mut asking = false;
        let mut hops = Vec::new();
        // Redirections are followed at most 16 times; TRYAGAIN and
        // CLUSTERDOWN (transient while slots move or a node is starved)
        // are retried for up to ~5 s, as client libraries do.
        let (mut redirects, mut waits) = (0, 0);
        while redirects < 16 && waits < 100 {
            let v = self.send(port, argv, asking)?;
            asking = false;
            let Value::Error(e) = &v else { return Ok(v) };
            hops.push(format!("{port}: {e}"));
            let mut words = e.split(' ');
            match words.next() {
                Some("MOVED") => {
                    redirects += 1;
                    self.seen.moved += 1;
                    port = target_port(words.nth(1))?;
                    self.slots.insert(slot, port);
                }
                Some("ASK") => {
                    redirects += 1;
                    self.seen.ask += 1;
                    port = target_port(words.nth(1))?;
                    asking = true;
                }
                Some("TRYAGAIN") | Some("CLUSTERDOWN") => {
                    waits += 1;
                    self.seen.tryagain += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return Ok(v),
            }
        }
        hops.dedup();
        Err(io::Error::other(format!("too many redirections: {hops:?}")))
    }
}

fn target_port(addr: Option<&str>) -> io::Result<u16> {
    addr.and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| io::Error::other("bad redirection address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(key_slot(b"{}x"), crc16(b"{}x") & 16383);
    }
}
