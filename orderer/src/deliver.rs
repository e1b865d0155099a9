//! Deliver: stream a channel's blocks per a signed SeekInfo.

use std::sync::Arc;

use tracing::Instrument;
use weft_crypto::envelope;
use weft_ledger::BlockStore;
use weft_net::seek::{self, Refusal, Seek};
use weft_net::{FrameError, Framed};
use weft_wire::common::{Envelope, Status};
use weft_wire::orderer::{DeliverResponse, deliver_response};

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

async fn serve(
    registry: &Arc<Registry>,
    env: Envelope,
    stream: &mut Framed,
) -> Result<Result<(), Refusal>, FrameError> {
    let (opened, seek) = match envelope::open_seek(&env) {
        Ok(o) => o,
        Err(e) => return Ok(Err((Status::BadRequest, e.to_string()))),
    };
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
    let mut height_rx = channel.view.height.clone();
    let mut seek = match Seek::resolve(&seek, *height_rx.borrow()) {
        Ok(s) => s,
        Err(refusal) => return Ok(Err(refusal)),
    };
    tracing::debug!(target: "orderer", channel = %channel.id, ?seek, "deliver started");
    let _registered = Registered::new(&channel, requester.clone());
    loop {
        let next = match seek.next(&mut height_rx, stream).await? {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(Ok(())),
            Err(refusal) => return Ok(Err(refusal)),
        };
        // Sent as the ledger stores it (see DeliverResponseBytes), from memory for the newest blocks.
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
        let trace = weft_ops::trace::inject(&span);
        seek::send_block(stream, block, trace)
            .instrument(span)
            .await?;
        metrics::counter!("deliver_blocks_sent", "channel" => channel.id.clone()).increment(1);
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
