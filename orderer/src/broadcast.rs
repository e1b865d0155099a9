//! Broadcast: accept a signed envelope, check it, and hand it to its channel's chain.

use std::sync::Arc;

use tracing::Instrument;
use weft_crypto::envelope;
use weft_wire::Message;
use weft_wire::common::{Envelope, HeaderType, Status};
use weft_wire::orderer::BroadcastResponse;

use crate::chain::{Ordered, unix_now};
use crate::config_update::{Rejection, Update};
use crate::registry::Registry;

/// Handles one envelope and says what became of it.
pub async fn handle(registry: &Arc<Registry>, env: Envelope) -> BroadcastResponse {
    let (status, info) = match process(registry, env).await {
        Ok(()) => (Status::Success, String::new()),
        Err(r) => (r.status, r.reason),
    };
    BroadcastResponse {
        status: status as i32,
        info,
    }
}

fn reject(status: Status, reason: impl Into<String>) -> Rejection {
    Rejection {
        status,
        reason: reason.into(),
    }
}

async fn process(registry: &Arc<Registry>, env: Envelope) -> Result<(), Rejection> {
    let opened = envelope::open(&env).map_err(|e| reject(Status::BadRequest, e.to_string()))?;
    let channel_id = opened.channel_id().to_string();
    let kind = HeaderType::try_from(opened.header_type()).ok();
    // Checking and queueing the envelope, in its transaction's trace (the block's cut follows separately).
    let span = tracing::info_span!("broadcast", channel = %channel_id, tx_id = %opened.channel_header.tx_id);
    weft_ops::trace::set_parent(&span, &opened.channel_header.trace_context);
    let outcome = async {
        if channel_id.is_empty() {
            return Err(reject(Status::BadRequest, "envelope names no channel"));
        }
        let channel = registry.get(&channel_id);
        match (kind, channel) {
            (Some(HeaderType::ConfigUpdate), None) => {
                let update = Update::decode(&opened)?;
                let sys = registry.get_system().ok_or_else(|| {
                    reject(
                        Status::NotFound,
                        format!("channel {channel_id} does not exist"),
                    )
                })?;
                // The submitter's own signature must hold, whoever it is; the creation policy judges the rest.
                let (ok, rejected) =
                    sys.bundle()
                        .verify_signers(&[opened.signed_data()], unix_now(), None);
                if ok.is_empty() {
                    return Err(reject(
                        Status::Forbidden,
                        format!("bad envelope signature: {}", rejected.join("; ")),
                    ));
                }
                registry.create(update, env).await
            }
            (_, None) => Err(reject(
                Status::NotFound,
                format!("channel {channel_id} does not exist"),
            )),
            (Some(HeaderType::ConfigUpdate), Some(ch)) => {
                opened
                    .authorize(&ch.bundle(), "/Channel/Writers", unix_now())
                    .map_err(|e| reject(Status::Forbidden, e.to_string()))?;
                let update = Update::decode(&opened)?;
                ch.config_update(update, env).await
            }
            (Some(HeaderType::Message | HeaderType::EndorserTransaction), Some(ch)) => {
                let bundle = ch.bundle();
                let max = bundle
                    .config()
                    .orderer
                    .as_ref()
                    .and_then(|o| o.batch_size)
                    .map_or(u32::MAX, |b| b.absolute_max_bytes);
                let raw = env.encode_to_vec();
                if raw.len() > max as usize {
                    return Err(reject(
                        Status::RequestEntityTooLarge,
                        format!(
                            "envelope of {} bytes exceeds AbsoluteMaxBytes {max}",
                            raw.len()
                        ),
                    ));
                }
                opened
                    .authorize(&bundle, "/Channel/Writers", unix_now())
                    .map_err(|e| reject(Status::Forbidden, e.to_string()))?;
                ch.submit(Ordered {
                    env: raw,
                    tx_id: opened.channel_header.tx_id.clone(),
                    trace: opened.channel_header.trace_context.clone(),
                })
                .await
            }
            (Some(HeaderType::Config), _) => Err(reject(
                Status::BadRequest,
                "config transactions are made by the orderer; send a CONFIG_UPDATE",
            )),
            (other, _) => Err(reject(
                Status::BadRequest,
                format!("unsupported header type {other:?}"),
            )),
        }
    }
    .instrument(span)
    .await;
    let status = outcome
        .as_ref()
        .map_or_else(|r| r.status, |()| Status::Success);
    metrics::counter!("broadcast_processed_count", "channel" => channel_id.clone(),
        "type" => kind.map_or("UNKNOWN", |k| k.as_str_name()), "status" => status.as_str_name())
    .increment(1);
    if let Err(r) = &outcome {
        tracing::warn!(target: "orderer", channel = %channel_id, status = ?r.status, reason = %r.reason,
            "broadcast rejected");
    }
    outcome
}
