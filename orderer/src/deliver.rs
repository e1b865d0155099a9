//! Deliver: stream a channel's blocks per a signed SeekInfo.

use std::sync::Arc;

use tracing::Instrument;
use weft_crypto::envelope;
use weft_ledger::BlockStore;
use weft_net::{FrameError, Framed};
use weft_wire::common::{Envelope, HeaderType, Status};
use weft_wire::orderer::{
    DeliverResponse, DeliverResponseBytes, SeekInfo, SeekPosition, deliver_response,
    deliver_response_bytes, seek_info, seek_position,
};

use crate::chain::unix_now;
use crate::registry::Registry;

fn status(s: Status) -> DeliverResponse {
    DeliverResponse {
        r#type: Some(deliver_response::Type::Status(s as i32)),
        trace_context: Default::default(),
    }
}

/// Serves one Deliver request on `stream`, ending with a status unless the client goes away first.
pub async fn handle(
    registry: &Arc<Registry>,
    env: Envelope,
    stream: &mut Framed,
) -> Result<(), FrameError> {
    match serve(registry, env, stream).await? {
        Ok(()) => stream.send(&status(Status::Success)).await,
        Err((s, reason)) => {
            tracing::warn!(target: "orderer", status = ?s, %reason, "deliver request refused");
            stream.send(&status(s)).await
        }
    }
}

type Refusal = (Status, String);

/// Where a seek position points, given the current height; `None` for an absent position.
fn position(p: &Option<SeekPosition>, height: u64) -> Option<u64> {
    match p.as_ref()?.r#type.as_ref()? {
        seek_position::Type::Oldest(_) => Some(0),
        seek_position::Type::Newest(_) => Some(height.saturating_sub(1)),
        seek_position::Type::Specified(s) => Some(s.number),
        seek_position::Type::NextCommit(_) => Some(height),
    }
}

async fn serve(
    registry: &Arc<Registry>,
    env: Envelope,
    stream: &mut Framed,
) -> Result<Result<(), Refusal>, FrameError> {
    let bad = |r: String| Err((Status::BadRequest, r));
    let opened = match envelope::open(&env) {
        Ok(o) => o,
        Err(e) => return Ok(bad(e.to_string())),
    };
    if opened.header_type() != HeaderType::DeliverSeekInfo as i32 {
        return Ok(bad("deliver needs a DELIVER_SEEK_INFO envelope".into()));
    }
    let Some(channel) = registry.get(opened.channel_id()) else {
        return Ok(Err((
            Status::NotFound,
            format!("channel {} does not exist", opened.channel_id()),
        )));
    };
    let requester = weft_crypto::Identity::from_serialized(opened.creator())
        .map(|i| i.common_name)
        .unwrap_or_default();
    if let Err(e) = opened.authorize(&channel.bundle(), "/Channel/Readers", unix_now()) {
        return Ok(Err((Status::Forbidden, e.to_string())));
    }
    let seek: SeekInfo = match weft_wire::decode("seek info", &opened.data) {
        Ok(s) => s,
        Err(e) => return Ok(bad(e.to_string())),
    };
    let mut height_rx = channel.view.height.clone();
    let height = *height_rx.borrow();
    let (Some(start), Some(stop)) = (position(&seek.start, height), position(&seek.stop, height))
    else {
        return Ok(bad("seek info needs a start and a stop".into()));
    };
    if stop < start {
        return Ok(bad(format!("stop {stop} is before start {start}")));
    }
    let fail_if_not_ready = seek.behavior == seek_info::SeekBehavior::FailIfNotReady as i32;
    tracing::debug!(target: "orderer", channel = %channel.id, start, stop, "deliver started");
    let _registered = Registered::new(&channel, requester.clone());
    let mut next = start;
    loop {
        while next >= *height_rx.borrow_and_update() {
            if fail_if_not_ready {
                return Ok(Err((
                    Status::NotFound,
                    format!("block {next} is not yet available"),
                )));
            }
            // Wait for the next block, but notice a client that goes away meanwhile.
            tokio::select! {
                changed = height_rx.changed() => if changed.is_err() {
                    return Ok(Err((Status::ServiceUnavailable, "channel stopped".into())));
                },
                _ = stream.send.stopped() => return Err(FrameError::Connection("client went away".into())),
            }
        }
        // Sent as the ledger stores it (see DeliverResponseBytes).
        let block = match channel.ledger.block_bytes(next) {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Ok(Err((
                    Status::InternalServerError,
                    format!("block {next} missing from ledger"),
                )));
            }
            Err(e) => return Ok(Err((Status::InternalServerError, e.to_string()))),
        };
        // One span per block and stream: the hop from the cut to this deliverer (an org's leader).
        let span = tracing::info_span!("deliver_block", channel = %channel.id, block = next as i64, to = %requester);
        if let Some(cut) = channel.cuts.get(next) {
            weft_ops::trace::set_parent(&span, &cut.trace);
        }
        let response = DeliverResponseBytes {
            r#type: Some(deliver_response_bytes::Type::Block(block)),
            trace_context: weft_ops::trace::inject(&span),
        };
        stream.send(&response).instrument(span).await?;
        metrics::counter!("deliver_blocks_sent", "channel" => channel.id.clone()).increment(1);
        if next == stop {
            return Ok(Ok(()));
        }
        next += 1;
    }
}

/// An open Deliver stream in the channel's view, removed when the stream ends however it ends.
struct Registered<'a> {
    channel: &'a crate::registry::Channel,
    id: u64,
}

impl<'a> Registered<'a> {
    fn new(channel: &'a crate::registry::Channel, requester: String) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        channel
            .deliverers
            .lock()
            .expect("deliverers lock")
            .insert(id, requester);
        Self { channel, id }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.channel
            .deliverers
            .lock()
            .expect("deliverers lock")
            .remove(&self.id);
    }
}
