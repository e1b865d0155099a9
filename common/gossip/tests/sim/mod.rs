//! A deterministic in-memory network of gossip cores on virtual time, for the core's tests.
//!
//! Identities are `"<org>|<name>"` strings; a signature is SHA-256(identity ‖ message), so a message "signed"
//! with another identity's bytes fails to verify against the claimed one. Connections are instantaneous;
//! messages take one millisecond. Every envelope delivered to a node is recorded for inspection.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use weft_gossip::core::{Event, Transmit};
use weft_gossip::membership::Connected;
use weft_gossip::{GossipConfig, GossipCore, GossipCrypto, PkiId, SelfInfo};
use weft_wire::gossip::Envelope;

pub struct FakeCrypto {
    pub identity: Vec<u8>,
    /// Signatures verified so far.
    pub verifies: Arc<AtomicUsize>,
}

impl FakeCrypto {
    /// The crypto of `identity`, with a counter of its own.
    pub fn of(identity: Vec<u8>) -> Self {
        Self {
            identity,
            verifies: Arc::default(),
        }
    }
}

pub fn digest(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

impl GossipCrypto for FakeCrypto {
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        digest(&[&self.identity, msg])
    }
    fn validate(&self, identity: &[u8]) -> Result<(PkiId, String), String> {
        let text = std::str::from_utf8(identity).map_err(|e| e.to_string())?;
        let (org, _) = text.split_once('|').ok_or("not an identity")?;
        if org == "UnknownMSP" {
            return Err("certificate not issued by a known CA".into());
        }
        Ok((PkiId(digest(&[identity])), org.to_string()))
    }
    fn verify(&self, identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
        self.verifies.fetch_add(1, Ordering::Relaxed);
        (digest(&[identity, msg]) == sig)
            .then_some(())
            .ok_or_else(|| "signature mismatch".into())
    }
}

pub struct Node {
    pub name: String,
    pub org: String,
    pub endpoint: String,
    pub external: String,
    pub bootstrap: Vec<String>,
    pub core: Option<GossipCore<FakeCrypto>>,
    pub received: Vec<Envelope>,
    pub events: Vec<Event>,
    pub incarnation: u64,
    /// Committed blocks per channel (block data by number), kept across restarts like a ledger.
    pub ledger: BTreeMap<String, Vec<Vec<u8>>>,
    /// Verified blocks waiting for their predecessors.
    pub buffer: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    /// Signatures this node verified, across restarts.
    pub verifies: Arc<AtomicUsize>,
}

impl Node {
    pub fn height(&self, channel: &str) -> u64 {
        self.ledger.get(channel).map_or(0, |l| l.len() as u64)
    }

    /// Verified block: buffer it, commit what is now in order, tell the core the new height.
    pub fn accept(&mut self, now: Instant, channel: &str, seq: u64, data: Vec<u8>) {
        self.buffer
            .entry(channel.to_string())
            .or_default()
            .insert(seq, data);
        let ledger = self.ledger.entry(channel.to_string()).or_default();
        let buffer = self.buffer.get_mut(channel).expect("just inserted");
        while let Some(d) = buffer.remove(&(ledger.len() as u64)) {
            ledger.push(d);
        }
        buffer.retain(|s, _| *s >= ledger.len() as u64);
        let h = ledger.len() as u64;
        if let Some(c) = self.core.as_mut() {
            c.update_height(now, channel, h);
        }
    }
}

impl Node {
    pub fn pki(&self) -> PkiId {
        PkiId(digest(&[self.identity().as_slice()]))
    }
    pub fn identity(&self) -> Vec<u8> {
        format!("{}|{}", self.org, self.name).into_bytes()
    }
    pub fn core(&self) -> &GossipCore<FakeCrypto> {
        self.core.as_ref().expect("node is up")
    }
    pub fn core_mut(&mut self) -> &mut GossipCore<FakeCrypto> {
        self.core.as_mut().expect("node is up")
    }
    pub fn up(&self) -> bool {
        self.core.is_some()
    }
    pub fn verified(&self) -> usize {
        self.verifies.load(Ordering::Relaxed)
    }
}

pub struct Sim {
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub config: GossipConfig,
    conns: BTreeSet<(usize, usize)>,
    /// Pairs that cannot reach each other (no packets, no disconnect notice).
    pub cut: BTreeSet<(usize, usize)>,
    /// Extra latency from one node to another (a slow link), on top of the 1 ms every message takes.
    pub delay: BTreeMap<(usize, usize), Duration>,
    inflight: VecDeque<(Instant, usize, usize, Envelope)>,
    seed: u64,
}

impl Sim {
    pub fn new(config: GossipConfig) -> Self {
        Self {
            now: Instant::now(),
            nodes: Vec::new(),
            config,
            conns: BTreeSet::new(),
            cut: BTreeSet::new(),
            delay: BTreeMap::new(),
            inflight: VecDeque::new(),
            seed: 7,
        }
    }

    /// Adds a node (not started). `external` empty: invisible to other orgs.
    pub fn add(
        &mut self,
        name: &str,
        org: &str,
        endpoint: &str,
        external: &str,
        bootstrap: &[&str],
    ) -> usize {
        self.nodes.push(Node {
            name: name.into(),
            org: org.into(),
            endpoint: endpoint.into(),
            external: external.into(),
            bootstrap: bootstrap.iter().map(|s| s.to_string()).collect(),
            core: None,
            received: Vec::new(),
            events: Vec::new(),
            incarnation: 1,
            ledger: BTreeMap::new(),
            buffer: BTreeMap::new(),
            verifies: Arc::default(),
        });
        self.nodes.len() - 1
    }

    pub fn start(&mut self, i: usize) {
        self.seed += 1;
        let n = &mut self.nodes[i];
        n.incarnation += 1;
        let me = SelfInfo {
            pki_id: n.pki(),
            identity: n.identity(),
            org: n.org.clone(),
            internal_endpoint: n.endpoint.clone(),
            external_endpoint: n.external.clone(),
            incarnation: n.incarnation,
        };
        let crypto = FakeCrypto {
            identity: n.identity(),
            verifies: n.verifies.clone(),
        };
        n.core = Some(GossipCore::new(
            me,
            self.config.clone(),
            crypto,
            &n.bootstrap,
            self.seed,
            self.now,
        ));
        self.pump();
    }

    /// Adds `n` Org1 peers (not started), each bootstrapping from peer0 (peer0 from peer1).
    pub fn add_org1(&mut self, n: usize) -> Vec<usize> {
        (0..n)
            .map(|i| {
                let ep = format!("p{i}o1:7051");
                let boot = if i == 0 {
                    "p1o1:7051".to_string()
                } else {
                    "p0o1:7051".to_string()
                };
                self.add(
                    &format!("peer{i}.org1"),
                    "Org1MSP",
                    &ep,
                    &ep,
                    &[boot.as_str()],
                )
            })
            .collect()
    }

    /// Kills a node: its connections drop and the other sides are told.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].core = None;
        let gone: Vec<(usize, usize)> = self
            .conns
            .iter()
            .filter(|(a, b)| *a == i || *b == i)
            .copied()
            .collect();
        for (a, b) in gone {
            self.conns.remove(&(a, b));
            let other = if a == i { b } else { a };
            let pki = self.nodes[i].pki();
            if let Some(c) = self.nodes[other].core.as_mut() {
                c.handle_disconnected(self.now, &pki);
            }
        }
        self.inflight.retain(|(_, f, t, _)| *f != i && *t != i);
        self.pump();
    }

    /// Freezes a node silently: nothing reaches it or leaves it, and nobody is told.
    pub fn isolate(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                self.cut.insert((i.min(j), i.max(j)));
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    fn blocked(&self, a: usize, b: usize) -> bool {
        self.cut.contains(&(a.min(b), a.max(b)))
    }

    fn by_endpoint(&self, endpoint: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.up() && (n.endpoint == endpoint || n.external == endpoint))
    }

    fn by_pki(&self, pki: &PkiId) -> Option<usize> {
        self.nodes.iter().position(|n| n.up() && &n.pki() == pki)
    }

    fn connect(&mut self, a: usize, b: usize, endpoint: &str) -> bool {
        if a == b || self.blocked(a, b) || !self.nodes[b].up() {
            return false;
        }
        let key = (a.min(b), a.max(b));
        if self.conns.insert(key) {
            let (na, nb) = (&self.nodes[a], &self.nodes[b]);
            let to_a = Connected {
                pki: nb.pki(),
                org: nb.org.clone(),
                identity: nb.identity(),
                dialled: Some(endpoint.into()),
            };
            let to_b = Connected {
                pki: na.pki(),
                org: na.org.clone(),
                identity: na.identity(),
                dialled: None,
            };
            let now = self.now;
            self.nodes[a].core_mut().handle_connected(now, to_a);
            self.nodes[b].core_mut().handle_connected(now, to_b);
        } else {
            let nb = &self.nodes[b];
            let to_a = Connected {
                pki: nb.pki(),
                org: nb.org.clone(),
                identity: nb.identity(),
                dialled: Some(endpoint.into()),
            };
            let now = self.now;
            self.nodes[a].core_mut().handle_connected(now, to_a);
        }
        true
    }

    /// Drains every node's outputs until quiet (messages in flight excepted).
    pub fn pump(&mut self) {
        loop {
            let mut progress = false;
            for i in 0..self.nodes.len() {
                while let Some(ev) = self.nodes[i].core.as_mut().and_then(|c| c.poll_event()) {
                    progress |= self.on_event(i, &ev);
                    self.nodes[i].events.push(ev);
                }
                while let Some(t) = self.nodes[i].core.as_mut().and_then(|c| c.poll_transmit()) {
                    progress = true;
                    match t {
                        Transmit::Connect { endpoint } => {
                            let target = self.by_endpoint(&endpoint);
                            let ok = target.is_some_and(|j| self.connect(i, j, &endpoint));
                            if !ok {
                                let now = self.now;
                                self.nodes[i].core_mut().handle_connect_failed(
                                    now,
                                    &endpoint,
                                    "connection refused",
                                );
                            }
                        }
                        Transmit::Send { to, endpoint, env } => {
                            let Some(j) = self.by_pki(&to) else { continue };
                            let key = (i.min(j), i.max(j));
                            if !self.conns.contains(&key)
                                && (endpoint.is_empty() || !self.connect(i, j, &endpoint))
                            {
                                continue;
                            }
                            if !self.blocked(i, j) {
                                let slow = self.delay.get(&(i, j)).copied().unwrap_or_default();
                                self.inflight.push_back((
                                    self.now + Duration::from_millis(1) + slow,
                                    i,
                                    j,
                                    env,
                                ));
                            }
                        }
                        Transmit::Close { to } => {
                            if let Some(j) = self.by_pki(&to)
                                && self.conns.remove(&(i.min(j), i.max(j)))
                            {
                                let (pi, now) = (self.nodes[i].pki(), self.now);
                                self.nodes[j].core_mut().handle_disconnected(now, &pi);
                            }
                        }
                    }
                }
            }
            if !progress {
                return;
            }
        }
    }

    /// Plays the driver's part for block events: verification (data starting with "tampered" fails), commit in
    /// order, and answering state requests from the ledger. Returns whether the core got new input.
    fn on_event(&mut self, i: usize, ev: &Event) -> bool {
        let now = self.now;
        let node = &mut self.nodes[i];
        match ev {
            Event::BlockReceived {
                channel,
                seq,
                data,
                from,
                source,
                ..
            } => {
                let trace = Sim::trace_of(&node.name);
                let core = node.core.as_mut().expect("up");
                if data.starts_with(b"tampered") {
                    core.block_rejected(channel, *seq);
                } else {
                    let from = Some(from.clone());
                    core.block_verified(now, channel, *seq, data.clone(), from, *source, trace);
                    node.accept(now, channel, *seq, data.to_vec());
                }
                true
            }
            Event::StateRequest {
                channel,
                to,
                nonce,
                start,
                end,
            } => {
                let ledger = node.ledger.get(channel).cloned().unwrap_or_default();
                let blocks = (*start..=*end)
                    .filter_map(|n| {
                        ledger
                            .get(n as usize)
                            .map(|d| (n, d.clone().into(), Sim::trace_of(&node.name)))
                    })
                    .collect();
                node.core
                    .as_mut()
                    .expect("up")
                    .answer_state_request(channel, to, *nonce, blocks);
                true
            }
            _ => false,
        }
    }

    /// The trace context a node attaches to the blocks it sends: it names the node, so that tests can check
    /// that each copy carries its sender's context.
    pub fn trace_of(name: &str) -> weft_gossip::blocks::TraceContext {
        [("sender".to_string(), name.to_string())].into()
    }

    /// The orderer delivers block `seq` to node `i` (a leader): commit it and push it.
    pub fn deliver(&mut self, i: usize, channel: &str, seq: u64, data: &[u8]) {
        let now = self.now;
        let node = &mut self.nodes[i];
        node.accept(now, channel, seq, data.to_vec());
        let trace = Sim::trace_of(&node.name);
        node.core_mut()
            .block_from_orderer(now, channel, seq, data.to_vec().into(), trace);
        self.pump();
    }

    /// Advances virtual time to `until`, delivering messages and firing timers in order.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            self.pump();
            let next_msg = self.inflight.iter().map(|m| m.0).min();
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|n| n.core.as_ref()?.poll_timeout())
                .min();
            let next = [next_msg, next_timer].into_iter().flatten().min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let due: Vec<_> = {
                        let (due, rest): (Vec<_>, Vec<_>) =
                            self.inflight.drain(..).partition(|m| m.0 <= self.now);
                        self.inflight = rest.into();
                        due
                    };
                    for (_, from, to, env) in due {
                        let pki = self.nodes[from].pki();
                        let now = self.now;
                        let node = &mut self.nodes[to];
                        if let Some(c) = node.core.as_mut() {
                            node.received.push(env.clone());
                            c.handle_message(now, &pki, env);
                        }
                    }
                    for n in &mut self.nodes {
                        if let Some(c) = n.core.as_mut()
                            && c.poll_timeout().is_some_and(|t| t <= self.now)
                        {
                            c.handle_timeout(self.now);
                        }
                    }
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }

    /// Names of the alive members node `i` sees.
    pub fn sees(&self, i: usize) -> BTreeSet<String> {
        let names: BTreeMap<PkiId, String> = self
            .nodes
            .iter()
            .map(|n| (n.pki(), n.name.clone()))
            .collect();
        self.nodes[i]
            .core()
            .membership(self.now)
            .alive
            .iter()
            .map(|m| names[&m.pki_id].clone())
            .collect()
    }

    /// Names of the dead members node `i` knows.
    pub fn dead(&self, i: usize) -> BTreeSet<String> {
        let names: BTreeMap<PkiId, String> = self
            .nodes
            .iter()
            .map(|n| (n.pki(), n.name.clone()))
            .collect();
        self.nodes[i]
            .core()
            .membership(self.now)
            .dead
            .iter()
            .map(|m| names[&m.pki_id].clone())
            .collect()
    }

    pub fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Delivers `env` to node `to` as if sent by node `from` over their connection.
    /// The StateInfo envelopes about `of` that node `at` received, directly or relayed, oldest first.
    pub fn state_infos(
        &self,
        at: usize,
        of: &PkiId,
    ) -> Vec<(Envelope, weft_wire::gossip::StateInfo)> {
        self.nodes[at]
            .received
            .iter()
            .filter_map(|e| match weft_gossip::message::open(e).ok()?.content? {
                weft_wire::gossip::gossip_message::Content::StateInfo(si) if si.pki_id == of.0 => {
                    Some((e.clone(), si))
                }
                _ => None,
            })
            .collect()
    }

    pub fn inject(&mut self, from: usize, to: usize, env: Envelope) {
        let pki = self.nodes[from].pki();
        let now = self.now;
        self.nodes[to].core_mut().handle_message(now, &pki, env);
        self.pump();
    }
}
