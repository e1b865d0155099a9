//! Test fixtures for the comm layer: certificates, a real-key `HandshakeAuth`, nodes with a stream
//! dispatcher, hand-made handshakes, a cuttable UDP relay, a metrics recorder and condition waits.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::Receiver;
use weft_net::{
    Comm, CommConfig, CommEvent, Connection, Endpoint, Framed, HandshakeAuth, NodeTls,
    TransportConfig, TrustStore,
};
use weft_wire::gossip::gossip_message::{Content, Tag};
use weft_wire::gossip::{ConnEstablish, Envelope, GossipMessage};
use weft_wire::service::Request;
use weft_wire::service::request::Kind;

/// How long any condition in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(5);

pub struct Ca {
    pub der: Vec<u8>,
    key: KeyPair,
    params: CertificateParams,
}

pub fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Ca { der, key, params }
}

/// A TLS leaf valid for `localhost` and 127.0.0.1 (gossip dials `127.0.0.1:port`).
pub fn leaf(ca: &Ca, name: &str) -> NodeTls {
    let sans = vec![name.to_string(), "localhost".into(), "127.0.0.1".into()];
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
        .unwrap();
    NodeTls::from_der(vec![cert.der().to_vec()], key.serialize_der())
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// An identity `org ‖ 0 ‖ P-256 public key`, PKI-ID = its SHA-256, ECDSA signatures; `validate` accepts the
/// orgs in `trusted`.
pub struct TestAuth {
    identity: Vec<u8>,
    key: EcdsaKeyPair,
    trusted: Vec<String>,
    rng: SystemRandom,
}

fn p256() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
}

impl TestAuth {
    pub fn new(org: &str, trusted: &[&str]) -> Self {
        let key = p256();
        let mut identity = org.as_bytes().to_vec();
        identity.push(0);
        identity.extend_from_slice(key.public_key().as_ref());
        Self {
            identity,
            key,
            trusted: trusted.iter().map(|s| s.to_string()).collect(),
            rng: SystemRandom::new(),
        }
    }

    /// Claims the same identity but signs with an unrelated key.
    pub fn signing_with_another_key(mut self) -> Self {
        self.key = p256();
        self
    }
}

impl HandshakeAuth for TestAuth {
    fn pki_id(&self) -> Vec<u8> {
        sha256(&self.identity)
    }
    fn identity(&self) -> Vec<u8> {
        self.identity.clone()
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(&self.rng, msg).unwrap().as_ref().to_vec()
    }
    fn validate(&self, identity: &[u8]) -> Result<(Vec<u8>, String), String> {
        let sep = identity
            .iter()
            .position(|b| *b == 0)
            .ok_or("not an identity")?;
        let org = String::from_utf8_lossy(&identity[..sep]).into_owned();
        if !self.trusted.contains(&org) {
            return Err(format!("unknown MSP {org}"));
        }
        Ok((sha256(identity), org))
    }
    fn verify(&self, identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
        let sep = identity
            .iter()
            .position(|b| *b == 0)
            .ok_or("not an identity")?;
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &identity[sep + 1..])
            .verify(msg, sig)
            .map_err(|_| "bad signature".to_string())
    }
}

/// A handshake built by hand, claiming `tls_cert_hash`.
pub fn handshake(auth: &TestAuth, tls_cert_hash: Vec<u8>, probe: bool) -> Envelope {
    let payload = GossipMessage {
        tag: Tag::Empty.into(),
        content: Some(Content::Conn(ConnEstablish {
            pki_id: auth.pki_id(),
            identity: auth.identity(),
            tls_cert_hash,
            probe,
        })),
        ..Default::default()
    }
    .encode_to_vec();
    Envelope {
        signature: auth.sign(&payload),
        payload: payload.into(),
        secret_envelope: None,
    }
}

/// A gossip envelope carrying `text` (the comm layer does not look inside).
pub fn msg(text: &str) -> Envelope {
    Envelope {
        payload: text.as_bytes().to_vec().into(),
        ..Default::default()
    }
}

/// Fast keep-alive and idle timeout, so a dead peer is noticed within half a second.
pub fn fast_transport() -> TransportConfig {
    TransportConfig {
        keep_alive: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(500),
        ..Default::default()
    }
}

/// Which comm an endpoint's dispatcher hands gossip streams to, swappable to change a node's identity.
pub type Route = Arc<Mutex<Option<Comm>>>;

/// A process: one endpoint, its dispatcher, and a comm layer.
pub struct Node {
    pub comm: Comm,
    pub events: Receiver<CommEvent>,
    pub endpoint: Endpoint,
    pub addr: String,
    pub pki_id: Vec<u8>,
    pub tls: NodeTls,
    pub route: Route,
    /// QUIC connections the dispatcher accepted.
    pub accepted: Arc<AtomicUsize>,
}

pub struct Net {
    pub cas: Vec<Ca>,
    pub trust: TrustStore,
}

/// Panics anywhere in this test process since the first [`net`]. A task of the comm layer that panics is
/// gone without an error anyone awaits (its connection is left half torn down), so tests check this count.
static PANICS: AtomicUsize = AtomicUsize::new(0);

pub fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// Two orgs, each with a TLS CA, trusting each other.
pub fn net() -> Net {
    static COUNT_PANICS: std::sync::Once = std::sync::Once::new();
    COUNT_PANICS.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            report(info);
        }));
    });
    let cas = vec![ca("tlsca.org1"), ca("tlsca.org2")];
    let trust = TrustStore::new(cas.iter().map(|c| c.der.clone()).collect());
    Net { cas, trust }
}

pub const ORGS: &[&str] = &["Org1MSP", "Org2MSP"];

impl Net {
    pub fn node(&self, org: usize, config: CommConfig, transport: TransportConfig) -> Node {
        let auth = TestAuth::new(ORGS[org], ORGS);
        self.node_with(org, auth, config, transport)
    }

    pub fn node_with(
        &self,
        org: usize,
        auth: TestAuth,
        config: CommConfig,
        transport: TransportConfig,
    ) -> Node {
        let tls = leaf(&self.cas[org], "peer");
        let endpoint =
            Endpoint::bind("127.0.0.1:0".parse().unwrap(), &tls, &self.trust, transport).unwrap();
        let pki_id = auth.pki_id();
        let (comm, events) = Comm::new(
            endpoint.clone(),
            tls.leaf().to_vec(),
            Arc::new(auth),
            config,
        );
        let route: Route = Arc::new(Mutex::new(Some(comm.clone())));
        let accepted = Arc::new(AtomicUsize::new(0));
        serve(endpoint.clone(), route.clone(), accepted.clone());
        Node {
            addr: endpoint.local_addr().unwrap().to_string(),
            comm,
            events,
            endpoint,
            pki_id,
            tls,
            route,
            accepted,
        }
    }

    /// A server endpoint of org `org` with no dispatcher, for hand-made acceptors.
    pub fn bare(&self, org: usize) -> (Endpoint, NodeTls) {
        let tls = leaf(&self.cas[org], "bare");
        let ep = Endpoint::bind(
            "127.0.0.1:0".parse().unwrap(),
            &tls,
            &self.trust,
            TransportConfig::default(),
        )
        .unwrap();
        (ep, tls)
    }

    /// A client endpoint of org `org` for hand-made handshakes.
    pub fn client(&self, org: usize) -> (Endpoint, NodeTls) {
        let tls = leaf(&self.cas[org], "raw");
        let ep = Endpoint::client(&tls, &self.trust, TransportConfig::default()).unwrap();
        (ep, tls)
    }
}

/// The peer's stream dispatcher, reduced to gossip: the first frame of each stream is a `Request`.
fn serve(endpoint: Endpoint, route: Route, accepted: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        while let Some(conn) = endpoint.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let route = route.clone();
            tokio::spawn(async move {
                while let Some(mut stream) = conn.accept_stream().await {
                    let first = tokio::time::timeout(DEADLINE, stream.recv::<Request>()).await;
                    let Ok(Ok(Some(Request {
                        kind: Some(Kind::Gossip(env)),
                    }))) = first
                    else {
                        continue;
                    };
                    let comm = route.lock().unwrap().clone();
                    if let Some(comm) = comm {
                        comm.accept_stream(conn.clone(), env, stream);
                    }
                }
            });
        }
    });
}

/// Dials `addr` from `client` and sends `hs` as a gossip stream's first frame.
pub async fn raw_dial(client: &Endpoint, addr: &str, hs: Envelope) -> (Connection, Framed) {
    let conn = client
        .connect(addr.parse().unwrap(), "localhost")
        .await
        .unwrap();
    let mut stream = conn.open().await.unwrap();
    let first = Request {
        kind: Some(Kind::Gossip(hs)),
    };
    stream.send(&first).await.unwrap();
    (conn, stream)
}

/// Waits for the first event matching `want`, skipping others; fails with what it saw.
pub async fn expect_event(
    events: &mut Receiver<CommEvent>,
    what: &str,
    want: impl Fn(&CommEvent) -> bool,
) -> CommEvent {
    let mut seen = vec![];
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(ev) = events.recv().await {
            if want(&ev) {
                return Some(ev);
            }
            seen.push(ev);
        }
        None
    })
    .await;
    match found {
        Ok(Some(ev)) => ev,
        _ => panic!("no {what} within {DEADLINE:?}; saw {seen:#?}"),
    }
}

/// The next event, whatever it is.
pub async fn next_event(events: &mut Receiver<CommEvent>) -> CommEvent {
    tokio::time::timeout(DEADLINE, events.recv())
        .await
        .expect("an event within the deadline")
        .expect("events channel open")
}

/// Polls `cond` until it holds or the deadline passes, then fails showing `state()`.
pub async fn eventually<S: std::fmt::Debug>(
    what: &str,
    mut state: impl FnMut() -> S,
    cond: impl Fn(&S) -> bool,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let s = state();
        if cond(&s) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {DEADLINE:?}; last state: {s:#?}"
        );
        tick.tick().await;
    }
}

/// A UDP relay in front of `target` that can be cut, losing every packet both ways from then on.
pub struct Relay {
    pub addr: String,
    cut: Arc<AtomicBool>,
}

impl Relay {
    pub async fn start(target: &str) -> Relay {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        back.connect(target).await.unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let addr = front.local_addr().unwrap().to_string();
        let is_cut = cut.clone();
        tokio::spawn(async move {
            let (mut a, mut b) = ([0u8; 65536], [0u8; 65536]);
            let mut client: Option<SocketAddr> = None;
            loop {
                tokio::select! {
                    r = front.recv_from(&mut a) => {
                        let Ok((n, from)) = r else { return };
                        client = Some(from);
                        if !is_cut.load(Ordering::SeqCst) {
                            let _ = back.send(&a[..n]).await;
                        }
                    }
                    r = back.recv(&mut b) => {
                        let Ok(n) = r else { return };
                        if let (Some(to), false) = (client, is_cut.load(Ordering::SeqCst)) {
                            let _ = front.send_to(&b[..n], to).await;
                        }
                    }
                }
            }
        });
        Relay { addr, cut }
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

/// Counters recorded on this thread (tests run on tokio's current-thread runtime, so every task's
/// metrics land here), keyed `name` or `name{label=value,...}`.
#[derive(Default)]
pub struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Counters {
    pub fn get(&self, key: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |c| c.load(Ordering::SeqCst))
    }
}

impl metrics::Recorder for Counters {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_string()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        let counter = self.0.lock().unwrap().entry(name).or_default().clone();
        metrics::Counter::from_arc(counter)
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}
