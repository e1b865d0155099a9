//! The range of a Deliver stream, shared by the orderer's Deliver and the peer's Deliver and DeliverFiltered:
//! a signed `SeekInfo` resolved against the chain's height, then each block number in turn as the chain grows
//! to hold it.

use std::collections::BTreeMap;

use tokio::sync::watch;
use weft_wire::Bytes;
use weft_wire::common::Status;
use weft_wire::orderer::{
    DELIVER_RESPONSE_BLOCK_FIELD, DeliverResponseBytes, SeekInfo, SeekPosition, seek_info,
    seek_position,
};

use crate::frame::{FrameError, Framed};

/// Sends one block of a Deliver stream as its ledger stores it: the rest of the response, then the block,
/// which goes to QUIC as held rather than copied into the frame.
pub async fn send_block(
    stream: &mut Framed,
    block: Bytes,
    trace_context: BTreeMap<String, String>,
) -> Result<(), FrameError> {
    let rest = DeliverResponseBytes {
        r#type: None,
        trace_context,
    };
    stream
        .send_with_bytes(DELIVER_RESPONSE_BLOCK_FIELD, block, &rest)
        .await
}

/// Why a stream ends before its range: the status to send and the reason to log.
pub type Refusal = (Status, String);

/// Where a Deliver stream is in its range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seek {
    next: u64,
    stop: u64,
    fail_if_not_ready: bool,
    done: bool,
}

/// Where a seek position points at `height`; `None` for an absent position.
fn position(p: &Option<SeekPosition>, height: u64) -> Option<u64> {
    match p.as_ref()?.r#type.as_ref()? {
        seek_position::Type::Oldest(_) => Some(0),
        seek_position::Type::Newest(_) => Some(height.saturating_sub(1)),
        seek_position::Type::Specified(s) => Some(s.number),
        seek_position::Type::NextCommit(_) => Some(height),
    }
}

impl Seek {
    /// Resolves `info` at `height` (newest is the last block, next-commit the one after it).
    pub fn resolve(info: &SeekInfo, height: u64) -> Result<Self, Refusal> {
        let bad = |r: String| Err((Status::BadRequest, r));
        let (Some(start), Some(stop)) =
            (position(&info.start, height), position(&info.stop, height))
        else {
            return bad("seek info needs a start and a stop".into());
        };
        if stop < start {
            return bad(format!("stop {stop} is before start {start}"));
        }
        Ok(Self {
            next: start,
            stop,
            fail_if_not_ready: info.behavior == seek_info::SeekBehavior::FailIfNotReady as i32,
            done: false,
        })
    }

    /// The next block number of the range once `height` shows the chain holds it, or `None` when the range is
    /// sent. With FAIL_IF_NOT_READY a block not yet there ends the stream with NOT_FOUND; otherwise this waits
    /// for it, and returns an error if the client goes away meanwhile.
    pub async fn next(
        &mut self,
        height: &mut watch::Receiver<u64>,
        stream: &mut Framed,
    ) -> Result<Result<Option<u64>, Refusal>, FrameError> {
        if self.done {
            return Ok(Ok(None));
        }
        while self.next >= *height.borrow_and_update() {
            if self.fail_if_not_ready {
                return Ok(Err((
                    Status::NotFound,
                    format!("block {} is not yet available", self.next),
                )));
            }
            tokio::select! {
                changed = height.changed() => if changed.is_err() {
                    return Ok(Err((Status::ServiceUnavailable, "channel stopped".into())));
                },
                _ = stream.send.stopped() => return Err(FrameError::Connection("client went away".into())),
            }
        }
        let n = self.next;
        if n == self.stop {
            self.done = true;
        } else {
            self.next += 1;
        }
        Ok(Ok(Some(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_wire::orderer::{SeekNewest, SeekNextCommit, SeekOldest, SeekSpecified};

    fn at(t: seek_position::Type) -> Option<SeekPosition> {
        Some(SeekPosition { r#type: Some(t) })
    }

    #[test]
    fn positions_resolve_against_the_height() {
        let info = |start, stop| SeekInfo {
            start: at(start),
            stop: at(stop),
            behavior: 0,
        };
        let range = |s: Seek| (s.next, s.stop);
        let oldest = || seek_position::Type::Oldest(SeekOldest {});
        let newest = || seek_position::Type::Newest(SeekNewest {});
        let next = || seek_position::Type::NextCommit(SeekNextCommit {});
        let n = |number| seek_position::Type::Specified(SeekSpecified { number });
        assert_eq!(
            range(Seek::resolve(&info(oldest(), newest()), 5).unwrap()),
            (0, 4)
        );
        assert_eq!(
            range(Seek::resolve(&info(next(), n(9)), 5).unwrap()),
            (5, 9)
        );
        assert_eq!(
            range(Seek::resolve(&info(newest(), n(u64::MAX)), 0).unwrap()),
            (0, u64::MAX)
        );
        let (status, reason) = Seek::resolve(&info(n(3), n(2)), 5).unwrap_err();
        assert_eq!(
            (status, reason.as_str()),
            (Status::BadRequest, "stop 2 is before start 3")
        );
        let (status, _) = Seek::resolve(&SeekInfo::default(), 5).unwrap_err();
        assert_eq!(status, Status::BadRequest);
    }
}
