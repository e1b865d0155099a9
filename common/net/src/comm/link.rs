//! One registered connection at work: a writer task draining its queue into the stream, a reader task
//! forwarding received envelopes as events, and a supervisor that ends both when either stops or the
//! registry tells it to, closes the QUIC connection and reports the end to the registry.
//!
//! A gossip connection owns its QUIC connection (the dialer opens one per gossip stream), so ending the
//! gossip connection closes the QUIC connection, with a [`code`] the remote uses to tell a duplicate being
//! dropped (`REPLACED`) from a real end. A connection that loses to another one to the same peer is drained
//! before it closes, so a simultaneous dial loses no message.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use quinn::{RecvStream, SendStream};
use tokio::sync::{mpsc, oneshot, watch};
use weft_wire::gossip::{ENVELOPE_PAYLOAD_FIELD, Envelope};

use super::Inner;
use super::handshake::hex;
use super::registry::{AfterEnd, Ending, code};
use super::types::{CommEvent, RemotePeer};
use crate::frame::{FrameError, Framed, read_frame, with_bytes_field, write_frame};

/// Everything a registered connection's tasks need.
pub(crate) struct Link {
    pub id: u64,
    pub peer: RemotePeer,
    pub conn: quinn::Connection,
    pub send: SendStream,
    pub recv: RecvStream,
    pub max_frame: usize,
    pub queue: mpsc::Receiver<Envelope>,
    pub end: watch::Receiver<Option<Ending>>,
    /// Resolves once this connection's `Connected` reached the events channel.
    pub ready: oneshot::Receiver<()>,
}

/// Starts the link's tasks.
pub(crate) fn spawn(link: Link, inner: Arc<Inner>) {
    tokio::spawn(supervise(link, inner));
}

async fn supervise(link: Link, inner: Arc<Inner>) {
    let Link {
        id,
        peer,
        conn,
        send,
        recv,
        max_frame,
        queue,
        mut end,
        ready,
    } = link;
    let grace = inner.config.conn_timeout;
    let (stop, stop_rx) = watch::channel(None);
    let mut reader = tokio::spawn(read_loop(
        recv,
        max_frame,
        conn.clone(),
        peer.clone(),
        inner.events.clone(),
        Some(ready),
    ));
    let writing = write_loop(
        send,
        max_frame,
        conn.clone(),
        queue,
        stop_rx,
        grace,
        peer.pki_id.clone(),
    );
    let mut writer = tokio::spawn(writing);
    // A task's JoinHandle panics if polled after it returned its output: each is awaited once.
    let (mut reader_done, mut writer_done) = (false, false);
    let (ending, on_its_own) = tokio::select! {
        r = &mut reader => {
            reader_done = true;
            (r.unwrap_or_else(|e| Ending::new(code::CLOSED, format!("reader failed: {e}"))), true)
        }
        w = &mut writer => {
            writer_done = true;
            (w.unwrap_or_else(|e| Ending::new(code::CLOSED, format!("writer failed: {e}"))), true)
        }
        _ = told(&mut end) => (Ending::new(code::CLOSED, "closed"), false),
    };
    // Told to stop while a task also ended (its queue closed because the registry dropped the entry): the
    // registry's reason and code win, so a remote learns it was replaced.
    let told = end.borrow().clone();
    let (ending, on_its_own) = match told {
        Some(told) => (told, false),
        None => (ending, on_its_own),
    };
    if on_its_own && ending.code == code::CLOSED && conn.close_reason().is_none() {
        // The remote's stream ended first; it closes the QUIC connection right after, with a code saying
        // whether it merely dropped this connection as a duplicate.
        let _ = tokio::time::timeout(grace, conn.closed()).await;
    }
    if ending.code == code::REPLACED && !on_its_own {
        // Replaced by another connection to the same peer: nothing already sent or queued on this one is lost.
        // The registry dropped our queue's sender, so the writer writes out what is queued and finishes; what
        // the remote sent is read until it finishes too (it does the same, or drops this connection as a
        // duplicate, finishing at once).
        if !writer_done && tokio::time::timeout(grace, &mut writer).await.is_ok() {
            writer_done = true;
        }
        if !reader_done {
            let _ = tokio::time::timeout(grace, &mut reader).await;
        }
    }
    reader.abort();
    let _ = stop.send(Some(ending.clone()));
    if !writer_done && tokio::time::timeout(grace * 2, &mut writer).await.is_err() {
        writer.abort();
    }
    let replaced_by_remote = remote_close_code(&conn) == Some(code::REPLACED);
    conn.close(ending.code.into(), ending.reason.as_bytes());
    tracing::debug!(
        target: "comm",
        peer = %hex(&peer.pki_id),
        endpoint = %peer.endpoint,
        reason = %ending.reason,
        "gossip link stopped"
    );
    if !on_its_own {
        return;
    }
    let after = inner.registry.lock().expect("registry lock").ended(
        &peer.pki_id,
        id,
        &ending,
        replaced_by_remote,
    );
    if after == AfterEnd::AwaitSuccessor {
        tokio::time::sleep(grace).await;
        inner
            .registry
            .lock()
            .expect("registry lock")
            .successor_deadline(&peer.pki_id, id);
    }
}

/// Resolves once an ending has been set (or nobody can set one any more).
async fn told(end: &mut watch::Receiver<Option<Ending>>) {
    let _ = end.wait_for(Option::is_some).await;
}

/// Ends a connection that never becomes a link (a probe, or ourselves): [`finish`]es `send`, which carries
/// our handshake answer, then closes with `ending`.
pub(crate) async fn close_gracefully(
    mut send: SendStream,
    conn: &quinn::Connection,
    ending: &Ending,
    grace: Duration,
) {
    finish(&mut send, grace).await;
    conn.close(ending.code.into(), ending.reason.as_bytes());
}

/// Finishes `send` and waits, at most `grace`, until the remote acknowledged everything written on it, so
/// that closing the connection afterwards does not discard it.
async fn finish(send: &mut SendStream, grace: Duration) {
    let _ = send.finish();
    let _ = tokio::time::timeout(grace, send.stopped()).await;
}

/// Ends a connection dropped as a duplicate of `from`'s kept one without losing what the remote sent on it
/// before it learned so: finishes our side and reads (and delivers) the remote's until it finishes too, at
/// most `grace`; then closes with [`code::REPLACED`].
pub(crate) async fn close_duplicate(
    stream: Framed,
    conn: quinn::Connection,
    from: RemotePeer,
    events: mpsc::Sender<CommEvent>,
    grace: Duration,
) {
    let (mut send, recv, max_frame) = stream.into_parts();
    let reading = read_loop(recv, max_frame, conn.clone(), from, events, None);
    let _ = tokio::time::timeout(grace, async {
        tokio::join!(reading, finish(&mut send, grace))
    })
    .await;
    conn.close(code::REPLACED.into(), b"duplicate connection");
}

/// The application code the remote closed `conn` with, if it did.
pub(crate) fn remote_close_code(conn: &quinn::Connection) -> Option<u32> {
    match conn.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(c) => {
            u32::try_from(c.error_code.into_inner()).ok()
        }
        _ => None,
    }
}

/// Why the connection broke, preferring the connection's close reason over the stream error.
fn broken(conn: &quinn::Connection, fallback: impl std::fmt::Display) -> Ending {
    let reason = match conn.close_reason() {
        Some(quinn::ConnectionError::TimedOut) => {
            "idle timeout: no packet from the peer".to_string()
        }
        Some(e) => e.to_string(),
        None => fallback.to_string(),
    };
    Ending::new(code::CLOSED, reason)
}

async fn read_loop(
    mut recv: RecvStream,
    max_frame: usize,
    conn: quinn::Connection,
    from: RemotePeer,
    events: mpsc::Sender<CommEvent>,
    ready: Option<oneshot::Receiver<()>>,
) -> Ending {
    if let Some(ready) = ready {
        let _ = ready.await;
    }
    loop {
        let bytes = match read_frame(&mut recv, max_frame).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return broken(&conn, "stream finished by the peer"),
            Err(FrameError::Connection(e)) => return broken(&conn, e),
            Err(e) => return malformed(&from, e.to_string()),
        };
        let env = match Envelope::decode(bytes) {
            Ok(env) => env,
            Err(e) => return malformed(&from, format!("not a gossip envelope: {e}")),
        };
        metrics::counter!("gossip_comm_messages_received").increment(1);
        let event = CommEvent::Message {
            from: from.clone(),
            env,
        };
        // Waits while the consumer is behind: back-pressure on this stream rather than a drop.
        if events.send(event).await.is_err() {
            return Ending::new(code::CLOSED, "nobody receives gossip events any more");
        }
    }
}

fn malformed(from: &RemotePeer, detail: String) -> Ending {
    tracing::warn!(
        target: "comm",
        peer = %hex(&from.pki_id),
        endpoint = %from.endpoint,
        %detail,
        "malformed gossip frame; closing the connection"
    );
    metrics::counter!("gossip_comm_malformed_frames_total").increment(1);
    Ending::new(code::PROTOCOL, format!("malformed frame: {detail}"))
}

async fn write_loop(
    mut send: SendStream,
    max_frame: usize,
    conn: quinn::Connection,
    mut queue: mpsc::Receiver<Envelope>,
    mut stop: watch::Receiver<Option<Ending>>,
    grace: Duration,
    to: Vec<u8>,
) -> Ending {
    loop {
        let mut env = tokio::select! {
            biased;
            _ = told(&mut stop) => break,
            env = queue.recv() => match env {
                Some(env) => env,
                None => break,
            },
        };
        // The payload (a block, for pushes) goes out as it is held, not copied into the frame.
        let payload = std::mem::take(&mut env.payload);
        let parts = with_bytes_field(ENVELOPE_PAYLOAD_FIELD, payload, &env);
        let written = tokio::select! {
            r = write_frame(&mut send, parts, max_frame) => r,
            _ = told(&mut stop) => {
                // Mid-frame (the remote is not reading): reset, so it never sees a truncated frame.
                let ending = stop.borrow().clone().unwrap_or_else(|| Ending::new(code::CLOSED, "closed"));
                let _ = send.reset(ending.code.into());
                return ending;
            }
        };
        match written {
            Ok(()) => metrics::counter!("gossip_comm_messages_sent").increment(1),
            Err(FrameError::TooLarge { len, max }) => {
                // Our own message is at fault, not the connection: drop it and go on.
                tracing::warn!(target: "comm", peer = %hex(&to), len, max, "gossip envelope too large; dropped");
                metrics::counter!("gossip_comm_oversized_dropped_total").increment(1);
            }
            Err(e) => return broken(&conn, e),
        }
    }
    // Finish so that everything written reaches the remote before the supervisor closes the connection.
    finish(&mut send, grace).await;
    stop.borrow()
        .clone()
        .unwrap_or_else(|| Ending::new(code::CLOSED, "closed"))
}
