//! Ordered delivery of connection lifecycle events.
//!
//! `Connected` and `Disconnected` are decided under the registry lock, which cannot be held across an
//! `.await`; they are pushed, in decision order, into an unbounded control queue (bounded in practice by the
//! number of connection changes) that one forwarder task drains into the bounded events channel. A new
//! connection's reader waits until its `Connected` has been delivered before it forwards any message, so a
//! consumer always sees `Connected`, then messages, then `Disconnected`.

use tokio::sync::{mpsc, oneshot};

use super::types::CommEvent;

/// An event to deliver (or none: a barrier), and who waits for it to reach the events channel.
type Item = (Option<CommEvent>, oneshot::Sender<()>);

/// The sending side of the control queue.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    queue: mpsc::UnboundedSender<Item>,
}

impl Control {
    /// A control queue and the receiver a forwarder (or a unit test) drains.
    pub(crate) fn new() -> (Self, mpsc::UnboundedReceiver<Item>) {
        let (queue, rx) = mpsc::unbounded_channel();
        (Self { queue }, rx)
    }

    /// Queues `event`; the returned receiver resolves once it reached the events channel (or was dropped
    /// because nobody listens any more).
    pub(crate) fn push(&self, event: CommEvent) -> oneshot::Receiver<()> {
        let (done, delivered) = oneshot::channel();
        // A closed queue means the forwarder stopped because the consumer is gone: nothing to deliver to.
        let _ = self.queue.send((Some(event), done));
        delivered
    }

    /// Resolves once everything queued before it has been delivered (a replacement connection's reader waits
    /// for its predecessor's `Connected`, so that no message overtakes it).
    pub(crate) fn barrier(&self) -> oneshot::Receiver<()> {
        let (done, delivered) = oneshot::channel();
        let _ = self.queue.send((None, done));
        delivered
    }
}

/// Forwards control events into `events` until the consumer drops its receiver.
pub(crate) async fn forward(
    mut queue: mpsc::UnboundedReceiver<Item>,
    events: mpsc::Sender<CommEvent>,
) {
    while let Some((event, done)) = queue.recv().await {
        if let Some(event) = event
            && events.send(event).await.is_err()
        {
            break;
        }
        let _ = done.send(());
    }
}
