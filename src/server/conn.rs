//! Hot path: one task per client connection.
//!
//! Read → parse every complete request in the buffer → execute each →
//! append every reply to one output buffer → one write per batch. This
//! batching is what makes pipelining fast. A protocol error sends
//! `-ERR Protocol error: ...` and closes the connection, as Redis does.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::clients::ClientInfo;
use super::dispatch;
use super::session::{ReplyMode, Session};
use super::{PauseKind, Server};
use crate::protocol::{ParseLimits, Reply, RequestParser};
use crate::util::clock;

/// Serve one client until it disconnects, is killed, or the server stops.
pub async fn serve_client(srv: Arc<Server>, stream: TcpStream, info: Arc<ClientInfo>) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let auth_needed = srv.config.hot.requirepass_set.load(Ordering::Relaxed);
    let mut sess = Session::new(info.clone(), !auth_needed);
    let (push_tx, mut push_rx) = mpsc::unbounded_channel::<Bytes>();
    let mut conn = Conn {
        buf: BytesMut::with_capacity(16 * 1024),
        out: BytesMut::with_capacity(16 * 1024),
        parser: RequestParser::new(),
    };
    loop {
        tokio::select! {
            biased;
            _ = info.kill.cancelled() => break,
            _ = srv.shutdown.cancelled() => break,
            Some(msg) = push_rx.recv() => {
                conn.out.extend_from_slice(&msg);
                while let Ok(more) = push_rx.try_recv() {
                    conn.out.extend_from_slice(&more);
                }
            }
            r = rd.read_buf(&mut conn.buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    srv.stats.total_net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    srv.stats.total_reads_processed.fetch_add(1, Ordering::Relaxed);
                    info.last_interaction_ms.store(clock::now_ms(), Ordering::Relaxed);
                    let keep = conn.process(&srv, &mut sess, &push_tx).await;
                    if !flush(&srv, &mut wr, &mut conn.out).await || !keep {
                        break;
                    }
                    continue;
                }
            }
        }
        if !flush(&srv, &mut wr, &mut conn.out).await {
            break;
        }
    }
    let _ = flush(&srv, &mut wr, &mut conn.out).await;
    cleanup(&srv, &mut sess);
}

struct Conn {
    buf: BytesMut,
    out: BytesMut,
    parser: RequestParser,
}

impl Conn {
    /// Execute every complete request in the buffer. Returns false when the
    /// connection must close after the pending output is written.
    async fn process(
        &mut self,
        srv: &Arc<Server>,
        sess: &mut Session,
        push: &mpsc::UnboundedSender<Bytes>,
    ) -> bool {
        // CLIENT LIST's qbuf: Redis trims its query buffer only after the
        // whole batch ran, so every command sees the full batch.
        sess.info.qbuf.store(self.buf.len(), Ordering::Relaxed);
        loop {
            let limits = ParseLimits {
                max_bulk_len: srv.config.hot.proto_max_bulk_len.load(Ordering::Relaxed),
                authenticated: sess.authenticated,
            };
            match self.parser.parse(&mut self.buf, limits) {
                Ok(Some(argv)) => {
                    if argv.is_empty() {
                        continue;
                    }
                    wait_if_paused(srv, &sess.info, &argv).await;
                    if sess.info.kill.is_cancelled() {
                        return false;
                    }
                    let was_monitor = sess.monitor;
                    let reply = dispatch::execute(srv, sess, argv);
                    self.emit(sess, &reply);
                    if sess.monitor && !was_monitor {
                        srv.monitors.add(sess.id, push.clone());
                    }
                    if sess.close_after_reply {
                        return false;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let msg = format!("-ERR Protocol error: {e}\r\n");
                    self.out.extend_from_slice(msg.as_bytes());
                    srv.stats
                        .total_error_replies
                        .fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
        }
        sess.info.qbuf.store(self.buf.len(), Ordering::Relaxed);
        let limit = srv
            .config
            .hot
            .client_query_buffer_limit
            .load(Ordering::Relaxed)
            .max(0) as usize;
        if self.buf.len() > limit {
            tracing::warn!(
                "Closing client that reached max query buffer length: {}",
                sess.info.addr
            );
            srv.stats
                .client_query_buffer_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn emit(&mut self, sess: &mut Session, reply: &Reply) {
        match sess.reply_mode {
            ReplyMode::On => reply.encode(sess.resp, &mut self.out),
            ReplyMode::Off => {}
            ReplyMode::SkipNext => sess.reply_mode = ReplyMode::Skip,
            ReplyMode::Skip => sess.reply_mode = ReplyMode::On,
        }
    }
}

/// CLIENT PAUSE: hold the command until the pause ends or no longer applies.
async fn wait_if_paused(srv: &Arc<Server>, me: &ClientInfo, argv: &[Bytes]) {
    loop {
        let notified = srv.pause_changed.notified();
        let until = {
            let p = srv.pause.lock();
            match *p {
                Some((kind, until)) if until > clock::now_ms() && applies(srv, kind, argv) => until,
                _ => return,
            }
        };
        let wait = until.saturating_sub(clock::now_ms());
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
            _ = srv.shutdown.cancelled() => return,
            // A paused client can still be killed (CLIENT KILL).
            _ = me.kill.cancelled() => return,
        }
    }
}

fn applies(srv: &Server, kind: PauseKind, argv: &[Bytes]) -> bool {
    match kind {
        PauseKind::All => true,
        PauseKind::Write => match dispatch::resolve(srv, argv) {
            Ok(cmd) => cmd.meta.has_flag("write") || cmd.meta.has_flag("may_replicate"),
            Err(_) => false,
        },
    }
}

async fn flush(srv: &Server, wr: &mut tokio::net::tcp::OwnedWriteHalf, out: &mut BytesMut) -> bool {
    if out.is_empty() {
        return true;
    }
    let n = out.len();
    let ok = wr.write_all(out).await.is_ok();
    srv.stats
        .total_writes_processed
        .fetch_add(1, Ordering::Relaxed);
    srv.stats
        .total_net_output_bytes
        .fetch_add(n as u64, Ordering::Relaxed);
    out.clear();
    if out.capacity() > 1024 * 1024 {
        *out = BytesMut::with_capacity(16 * 1024);
    }
    ok
}

fn cleanup(srv: &Server, sess: &mut Session) {
    let watched = std::mem::take(&mut sess.watched);
    srv.ks.watches.unwatch(sess.id, &watched);
    if sess.monitor {
        srv.monitors.remove(sess.id);
    }
    srv.clients.unregister(sess.id);
}
