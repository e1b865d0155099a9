//! The registered connections: at most one per remote PKI-ID, and the rules that pick it.
//!
//! ```text
//! insert(new) with an existing connection E to the same PKI-ID:
//!   E dead, or E and new dialled by the same side   -> new replaces E (a reconnect)
//!   both live, dialled by different sides            -> keep the one dialled by the lower PKI-ID
//!   (both sides apply the same rule, so a simultaneous dial leaves both holding the same connection)
//! the loser is closed with code REPLACED and no event; the survivor keeps its Connected.
//! nothing sent on the loser is lost: each side writes out what it had queued on it, reads what the other
//! sent until that side finishes, and only then closes it.
//!
//! a registered connection the REMOTE closed with REPLACED (it kept our other one, which we may not have
//! registered yet): unregister silently, wait conn_timeout for the successor; no successor -> Disconnected.
//! ```
//!
//! Every method runs under the comm's registry lock and never waits; lifecycle events are pushed to the
//! ordered [`Control`] queue while the lock is held, so their order is the order of the decisions.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot, watch};
use weft_wire::gossip::Envelope;

use super::events::Control;
use super::handshake::hex;
use super::types::{CommEvent, RemotePeer};

/// QUIC application close codes of gossip connections.
pub(crate) mod code {
    /// Closed on purpose (local `close`, probe done, self connection).
    pub const CLOSED: u32 = 0;
    /// Another connection to the same peer was kept.
    pub const REPLACED: u32 = 1;
    /// The handshake was refused.
    pub const REFUSED: u32 = 2;
    /// The remote sent a malformed or oversized frame.
    pub const PROTOCOL: u32 = 3;
}

/// How a connection ends: the QUIC close code and reason its link closes it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ending {
    pub code: u32,
    pub reason: String,
}

impl Ending {
    pub(crate) fn new(code: u32, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Whether a connection is still up; `quinn::Connection` in production, a flag in unit tests.
pub(crate) trait Liveness {
    fn is_live(&self) -> bool;
}

impl Liveness for quinn::Connection {
    fn is_live(&self) -> bool {
        self.close_reason().is_none()
    }
}

/// One registered connection, as the registry sees it.
pub(crate) struct Entry<C> {
    pub id: u64,
    pub peer: RemotePeer,
    /// PKI-ID of the side that dialled it.
    pub dialled_by: Vec<u8>,
    /// The writer's queue.
    pub tx: mpsc::Sender<Envelope>,
    pub conn: C,
    /// Tells the link to stop, and why.
    pub end: watch::Sender<Option<Ending>>,
}

/// Whether a `new` connection dialled by `new_dialler` should replace an `existing` one dialled by
/// `existing_dialler`, given whether the existing one is still live.
pub(crate) fn keep_new(existing_dialler: &[u8], existing_live: bool, new_dialler: &[u8]) -> bool {
    !existing_live || existing_dialler == new_dialler || new_dialler < existing_dialler
}

/// What the link must do after its connection ended on its own.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterEnd {
    /// Nothing more (reported, or it had already been unregistered).
    Done,
    /// Call [`Registry::successor_deadline`] after `conn_timeout`.
    AwaitSuccessor,
}

pub(crate) struct Registry<C> {
    entries: HashMap<Vec<u8>, Entry<C>>,
    /// PKI-IDs whose connection the remote closed as a duplicate, with that connection's id: their
    /// `Disconnected` is held back until the successor registers or `conn_timeout` passes.
    awaiting_successor: HashMap<Vec<u8>, u64>,
    /// The PKI-ID and org each dialled endpoint answered with last, to detect identity switches.
    dialled: HashMap<String, (Vec<u8>, String)>,
    control: Control,
    next_id: u64,
}

impl<C: Liveness> Registry<C> {
    pub(crate) fn new(control: Control) -> Self {
        Self {
            entries: HashMap::new(),
            awaiting_successor: HashMap::new(),
            dialled: HashMap::new(),
            control,
            next_id: 0,
        }
    }

    /// A fresh connection id.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Registers `new`. `Ok(ready)`: it is now the connection of its PKI-ID and its reader must wait for
    /// `ready` (its `Connected` delivered). `Err(kept)`: an existing live connection wins; the caller closes
    /// `new` with [`code::REPLACED`].
    pub(crate) fn insert(&mut self, new: Entry<C>) -> Result<oneshot::Receiver<()>, RemotePeer> {
        let pki_id = new.peer.pki_id.clone();
        if let Some(old) = self.entries.get(&pki_id) {
            if !keep_new(&old.dialled_by, old.conn.is_live(), &new.dialled_by) {
                return Err(old.peer.clone());
            }
            tracing::debug!(target: "comm", peer = %hex(&pki_id), old = old.id, new = new.id, "connection replaced");
            let _ = old.end.send(Some(Ending::new(
                code::REPLACED,
                "replaced by another connection",
            )));
            self.entries.insert(pki_id, new);
            return Ok(self.control.barrier());
        }
        let ready = if self.awaiting_successor.remove(&pki_id).is_some() {
            self.control.barrier()
        } else {
            self.control.push(CommEvent::Connected(new.peer.clone()))
        };
        self.entries.insert(pki_id, new);
        Ok(ready)
    }

    /// The connection `id` to `pki_id` ended on its own because of `ending`; `replaced_by_remote` if the
    /// remote closed it as a duplicate.
    pub(crate) fn ended(
        &mut self,
        pki_id: &[u8],
        id: u64,
        ending: &Ending,
        replaced_by_remote: bool,
    ) -> AfterEnd {
        if self.entries.get(pki_id).is_none_or(|e| e.id != id) {
            return AfterEnd::Done;
        }
        self.entries.remove(pki_id);
        if replaced_by_remote {
            self.awaiting_successor.insert(pki_id.to_vec(), id);
            return AfterEnd::AwaitSuccessor;
        }
        self.disconnected(pki_id, &ending.reason);
        AfterEnd::Done
    }

    /// `conn_timeout` after the remote replaced connection `id`: report it gone if no successor came.
    pub(crate) fn successor_deadline(&mut self, pki_id: &[u8], id: u64) {
        if self.awaiting_successor.get(pki_id) == Some(&id) {
            self.awaiting_successor.remove(pki_id);
            self.disconnected(
                pki_id,
                "closed by the remote as a duplicate; no replacement came",
            );
        }
    }

    /// Closes the connection to `pki_id`, reporting `Disconnected` now. False if there was none.
    pub(crate) fn close(&mut self, pki_id: &[u8], reason: &str) -> bool {
        let Some(entry) = self.entries.remove(pki_id) else {
            return false;
        };
        let _ = entry.end.send(Some(Ending::new(code::CLOSED, reason)));
        self.disconnected(pki_id, reason);
        true
    }

    fn disconnected(&self, pki_id: &[u8], reason: &str) {
        tracing::info!(target: "comm", peer = %hex(pki_id), reason, "gossip connection ended");
        // Nobody waits for a Disconnected to be delivered.
        drop(self.control.push(CommEvent::Disconnected {
            pki_id: pki_id.to_vec(),
            reason: reason.to_string(),
        }));
    }

    /// The writer queue of the connection to `pki_id`.
    pub(crate) fn sender(&self, pki_id: &[u8]) -> Option<mpsc::Sender<Envelope>> {
        self.entries.get(pki_id).map(|e| e.tx.clone())
    }

    pub(crate) fn peers(&self) -> Vec<RemotePeer> {
        self.entries.values().map(|e| e.peer.clone()).collect()
    }

    /// A live connection we can reuse for `endpoint`: one dialled to it, or one to the PKI-ID it answered
    /// with last time.
    pub(crate) fn by_endpoint(&self, endpoint: &str) -> Option<RemotePeer> {
        let known = self.dialled.get(endpoint).map(|(pki, _)| pki);
        self.entries
            .values()
            .find(|e| {
                e.conn.is_live()
                    && ((!e.peer.inbound && e.peer.endpoint == endpoint)
                        || Some(&e.peer.pki_id) == known)
            })
            .map(|e| e.peer.clone())
    }

    /// Records that `endpoint` answered as `pki_id` of `org`. A different PKI-ID than last time is an
    /// identity switch: refused if the org differs, else the old PKI-ID's connection is closed.
    pub(crate) fn dialled(
        &mut self,
        endpoint: &str,
        pki_id: &[u8],
        org: &str,
    ) -> Result<(), String> {
        if let Some((old_pki, old_org)) = self.dialled.get(endpoint).cloned()
            && old_pki != pki_id
        {
            if old_org != org {
                return Err(format!(
                    "authentication failure: {endpoint} was a peer of {old_org}, now claims to be one of {org}"
                ));
            }
            tracing::info!(
                target: "comm",
                endpoint,
                old = %hex(&old_pki),
                new = %hex(pki_id),
                "peer changed its PKI-ID"
            );
            self.close(&old_pki, "the peer switched identity");
        }
        self.dialled
            .insert(endpoint.to_string(), (pki_id.to_vec(), org.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[derive(Clone, Default)]
    struct Fake(Arc<AtomicBool>);

    impl Liveness for Fake {
        fn is_live(&self) -> bool {
            !self.0.load(Ordering::SeqCst)
        }
    }

    impl Fake {
        fn kill(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    type Events = mpsc::UnboundedReceiver<(Option<CommEvent>, oneshot::Sender<()>)>;

    fn registry() -> (Registry<Fake>, Events) {
        let (control, rx) = Control::new();
        (Registry::new(control), rx)
    }

    struct Made {
        entry: Entry<Fake>,
        conn: Fake,
        end: watch::Receiver<Option<Ending>>,
    }

    fn entry(reg: &mut Registry<Fake>, remote: &[u8], dialled_by: &[u8]) -> Made {
        let (tx, _rx) = mpsc::channel(1);
        let (end, end_rx) = watch::channel(None);
        let conn = Fake::default();
        let id = reg.next_id();
        let entry = Entry {
            id,
            peer: RemotePeer {
                pki_id: remote.to_vec(),
                org: "Org1MSP".into(),
                identity: vec![],
                endpoint: format!("ep-{id}"),
                inbound: dialled_by == remote,
            },
            dialled_by: dialled_by.to_vec(),
            tx,
            conn: conn.clone(),
            end,
        };
        Made {
            entry,
            conn,
            end: end_rx,
        }
    }

    fn drain(rx: &mut Events) -> Vec<String> {
        let mut out = vec![];
        while let Ok((ev, _)) = rx.try_recv() {
            // Barriers carry no event.
            let Some(ev) = ev else { continue };
            out.push(match ev {
                CommEvent::Connected(p) => format!("connected {:?}", p.pki_id),
                CommEvent::Disconnected { pki_id, .. } => format!("disconnected {pki_id:?}"),
                CommEvent::Message { .. } => "message".into(),
            });
        }
        out
    }

    #[test]
    fn the_connection_dialled_by_the_lower_id_wins_in_either_order() {
        let (a, b) = (&[1u8][..], &[2u8][..]);
        assert!(keep_new(b, true, a));
        assert!(!keep_new(a, true, b));
        // Seen from B (remote = a): its own dial (by b) and A's dial (by a), in both orders.
        for ours_first in [true, false] {
            let (mut reg, mut rx) = registry();
            let ours = entry(&mut reg, a, b);
            let theirs = entry(&mut reg, a, a);
            let (first, second) = if ours_first {
                (ours, theirs)
            } else {
                (theirs, ours)
            };
            let (first_id, second_id) = (first.entry.id, second.entry.id);
            assert!(reg.insert(first.entry).is_ok());
            let second_kept = reg.insert(second.entry).is_ok();
            let survivor = reg.entries[a].dialled_by.clone();
            assert_eq!(
                survivor, a,
                "the connection dialled by the lower PKI-ID survives"
            );
            assert_eq!(second_kept, ours_first);
            if ours_first {
                assert_eq!(
                    first.end.borrow().as_ref().map(|e| e.code),
                    Some(code::REPLACED)
                );
                // The replaced link ending afterwards reports nothing.
                let gone = Ending::new(code::REPLACED, "x");
                assert_eq!(reg.ended(a, first_id, &gone, false), AfterEnd::Done);
            } else {
                assert!(
                    second.end.borrow().is_none(),
                    "the loser was never registered"
                );
                let _ = second_id;
            }
            assert_eq!(drain(&mut rx), vec!["connected [1]"]);
        }
    }

    #[test]
    fn a_dead_or_same_side_connection_is_replaced_by_the_new_one() {
        let (mut reg, mut rx) = registry();
        let old = entry(&mut reg, &[1], &[1]);
        assert!(reg.insert(old.entry).is_ok());
        // The remote reconnects: same dialler, newer wins even though the old one looks live.
        let newer = entry(&mut reg, &[1], &[1]);
        let newer_id = newer.entry.id;
        assert!(reg.insert(newer.entry).is_ok());
        assert!(old.end.borrow().is_some());
        assert_eq!(reg.entries[&[1u8][..]].id, newer_id);
        // A dead connection loses to anything, even one dialled by the higher PKI-ID.
        newer.conn.kill();
        let ours = entry(&mut reg, &[1], &[9]);
        assert!(reg.insert(ours.entry).is_ok());
        assert_eq!(drain(&mut rx), vec!["connected [1]"]);
    }

    #[test]
    fn close_and_end_report_disconnected_exactly_once() {
        let (mut reg, mut rx) = registry();
        let c = entry(&mut reg, &[1], &[1]);
        let id = c.entry.id;
        assert!(reg.insert(c.entry).is_ok());
        assert!(reg.close(&[1], "closed locally"));
        assert!(!reg.close(&[1], "again"));
        let ending = Ending::new(code::CLOSED, "closed locally");
        assert_eq!(reg.ended(&[1], id, &ending, false), AfterEnd::Done);
        assert_eq!(drain(&mut rx), vec!["connected [1]", "disconnected [1]"]);

        let c = entry(&mut reg, &[2], &[2]);
        let id = c.entry.id;
        assert!(reg.insert(c.entry).is_ok());
        let ending = Ending::new(code::CLOSED, "timed out");
        assert_eq!(reg.ended(&[2], id, &ending, false), AfterEnd::Done);
        assert_eq!(reg.ended(&[2], id, &ending, false), AfterEnd::Done);
        assert_eq!(drain(&mut rx), vec!["connected [2]", "disconnected [2]"]);
        assert!(reg.peers().is_empty());
    }

    #[test]
    fn a_remote_replacement_waits_for_its_successor() {
        let (mut reg, mut rx) = registry();
        let ending = Ending::new(code::REPLACED, "closed by peer");
        // The successor arrives in time: no event at all beyond the first Connected.
        let c = entry(&mut reg, &[1], &[9]);
        let id = c.entry.id;
        assert!(reg.insert(c.entry).is_ok());
        assert_eq!(reg.ended(&[1], id, &ending, true), AfterEnd::AwaitSuccessor);
        assert!(reg.peers().is_empty());
        let successor = entry(&mut reg, &[1], &[1]);
        assert!(reg.insert(successor.entry).is_ok());
        reg.successor_deadline(&[1], id);
        assert_eq!(drain(&mut rx), vec!["connected [1]"]);
        // No successor: Disconnected at the deadline.
        let c = entry(&mut reg, &[2], &[9]);
        let id = c.entry.id;
        assert!(reg.insert(c.entry).is_ok());
        assert_eq!(reg.ended(&[2], id, &ending, true), AfterEnd::AwaitSuccessor);
        reg.successor_deadline(&[2], id);
        assert_eq!(drain(&mut rx), vec!["connected [2]", "disconnected [2]"]);
    }

    #[test]
    fn identity_switch_within_an_org_closes_the_old_and_across_orgs_is_refused() {
        let (mut reg, mut rx) = registry();
        let c = entry(&mut reg, &[1], &[9]);
        assert!(reg.insert(c.entry).is_ok());
        reg.dialled("p:1", &[1], "Org1MSP").unwrap();
        assert_eq!(reg.by_endpoint("p:1").map(|p| p.pki_id), Some(vec![1]));
        reg.dialled("p:1", &[3], "Org1MSP").unwrap();
        assert!(reg.by_endpoint("p:1").is_none());
        let err = reg.dialled("p:1", &[4], "Org2MSP").unwrap_err();
        assert!(err.contains("authentication failure"), "{err}");
        assert_eq!(drain(&mut rx), vec!["connected [1]", "disconnected [1]"]);
    }
}
