//! Feeding one replica: snapshot + live write stream.
//!
//! The stream consumer (a `Sink`) is registered while the keyspace gate is
//! held for the fork that takes the snapshot, so the replica receives
//! exactly the writes applied after the snapshot, in order. The stream is
//! RESP multibulk commands with a SELECT whenever the database changes, as
//! Redis sends it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::protocol::{Reply, RespVersion};
use crate::server::propagate::Sink;
use crate::server::Server;

/// The write stream of one replica.
struct ReplicaSink {
    tx: mpsc::UnboundedSender<Bytes>,
    last_db: Mutex<Option<usize>>,
    alive: AtomicBool,
}

fn encode_cmd(out: &mut BytesMut, argv: &[Bytes]) {
    Reply::Array(argv.iter().map(|a| Reply::Bulk(a.clone())).collect())
        .encode(RespVersion::Resp2, out);
}

impl Sink for ReplicaSink {
    fn feed(&self, db: usize, cmds: &[Vec<Bytes>]) {
        let mut out = BytesMut::new();
        let mut last = self.last_db.lock();
        if *last != Some(db) {
            encode_cmd(
                &mut out,
                &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())],
            );
            *last = Some(db);
        }
        for c in cmds {
            encode_cmd(&mut out, c);
        }
        if self.tx.send(out.freeze()).is_err() {
            self.alive.store(false, Ordering::Relaxed);
        }
    }

    fn alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
}

/// Serve a replica that sent SYNC (`psync` false) or PSYNC (answered with
/// +FULLRESYNC). Returns when the replica disconnects or the server stops.
pub async fn serve_replica(
    srv: Arc<Server>,
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    psync: bool,
) {
    if psync {
        let line = format!("+FULLRESYNC {} 0\r\n", srv.run_id);
        if wr.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sink = Arc::new(ReplicaSink {
        tx,
        last_db: Mutex::new(None),
        alive: AtomicBool::new(true),
    });
    let path = std::env::temp_dir().join(format!(
        "shoal-repl-{}-{}.rdb",
        std::process::id(),
        rand::random::<u32>()
    ));
    let pid = {
        let sink = sink.clone();
        let srv2 = srv.clone();
        crate::persistence::save::fork_snapshot(&srv, path.clone(), false, move || {
            srv2.ks.propagator.add_sink(sink);
        })
    };
    let Ok(pid) = pid else {
        tracing::warn!("Can't fork for replica full sync");
        return;
    };
    tracing::info!("Starting BGSAVE for SYNC with target: replica");
    // Newlines keep the replica's link alive while the snapshot is written.
    let mut done = tokio::task::spawn_blocking(move || crate::util::fork::wait_child(pid));
    let ok = loop {
        tokio::select! {
            r = &mut done => break r.unwrap_or(false),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if wr.write_all(b"\n").await.is_err() {
                    break false;
                }
            }
        }
    };
    let payload = if ok { std::fs::read(&path).ok() } else { None };
    let _ = std::fs::remove_file(&path);
    let Some(payload) = payload else {
        sink.alive.store(false, Ordering::Relaxed);
        srv.ks.propagator.prune();
        return;
    };
    let header = format!("${}\r\n", payload.len());
    if wr.write_all(header.as_bytes()).await.is_err() || wr.write_all(&payload).await.is_err() {
        sink.alive.store(false, Ordering::Relaxed);
        srv.ks.propagator.prune();
        return;
    }
    tracing::info!("Synchronization with replica succeeded");
    stream(&srv, &mut rd, &mut wr, &mut rx).await;
    sink.alive.store(false, Ordering::Relaxed);
    srv.ks.propagator.prune();
}

async fn stream(
    srv: &Server,
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    rx: &mut mpsc::UnboundedReceiver<Bytes>,
) {
    let mut scratch = vec![0u8; 4096];
    loop {
        tokio::select! {
            _ = srv.shutdown.cancelled() => return,
            msg = rx.recv() => {
                let Some(m) = msg else { return };
                if wr.write_all(&m).await.is_err() {
                    return;
                }
            }
            // REPLCONF ACKs and the like from the replica are read and ignored.
            r = rd.read(&mut scratch) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}
