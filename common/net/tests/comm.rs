//! The gossip comm layer over real QUIC on 127.0.0.1: handshake, one connection per PKI-ID, refusals,
//! probe, overflow, disconnection.

mod comm_support;

use std::sync::atomic::Ordering;

use comm_support::*;
use weft_net::{CommConfig, CommError, CommEvent, HandshakeAuth, TransportConfig};
use weft_wire::gossip::Envelope;

fn is_connected(pki: &[u8]) -> impl Fn(&CommEvent) -> bool + '_ {
    move |e| matches!(e, CommEvent::Connected(p) if p.pki_id == pki)
}

fn is_message(text: &'static str) -> impl Fn(&CommEvent) -> bool {
    move |e| matches!(e, CommEvent::Message { env, .. } if env.payload == text.as_bytes())
}

fn is_disconnected(pki: &[u8]) -> impl Fn(&CommEvent) -> bool + '_ {
    move |e| matches!(e, CommEvent::Disconnected { pki_id, .. } if pki_id == pki)
}

#[tokio::test]
async fn two_peers_handshake_and_exchange_messages_both_ways() {
    let net = net();
    let mut a = net.node(0, CommConfig::default(), TransportConfig::default());
    let mut b = net.node(1, CommConfig::default(), TransportConfig::default());

    // Two concurrent connects to one endpoint share one dial.
    let (r1, r2) = tokio::join!(a.comm.connect(&b.addr), a.comm.connect(&b.addr));
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1, r2);
    assert_eq!(r1.pki_id, b.pki_id);
    assert_eq!(r1.org, "Org2MSP");
    assert_eq!(r1.endpoint, b.addr);
    assert!(!r1.inbound);
    assert_eq!(b.accepted.load(Ordering::SeqCst), 1, "one QUIC connection");

    let CommEvent::Connected(seen_by_b) = next_event(&mut b.events).await else {
        panic!("B's first event is Connected");
    };
    assert_eq!(seen_by_b.pki_id, a.pki_id);
    assert_eq!(seen_by_b.org, "Org1MSP");
    assert!(seen_by_b.inbound);
    assert!(matches!(next_event(&mut a.events).await, CommEvent::Connected(p) if p == r1));

    assert!(a.comm.send(&b.pki_id, msg("ping")).is_ok());
    let CommEvent::Message { from, env } = next_event(&mut b.events).await else {
        panic!("B receives the message next");
    };
    assert_eq!((from.pki_id, env), (a.pki_id.clone(), msg("ping")));
    assert!(b.comm.send(&a.pki_id, msg("pong")).is_ok());
    expect_event(&mut a.events, "pong at A", is_message("pong")).await;

    let listed = |n: &Node| {
        n.comm
            .connected()
            .into_iter()
            .map(|p| (p.pki_id, p.org))
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&a), vec![(b.pki_id.clone(), "Org2MSP".to_string())]);
    assert_eq!(listed(&b), vec![(a.pki_id.clone(), "Org1MSP".to_string())]);
    assert_eq!(a.comm.self_pki_id(), a.pki_id);

    // Reconnecting to a connected endpoint reuses the connection.
    assert_eq!(a.comm.connect(&b.addr).await.unwrap(), r1);
    assert_eq!(b.accepted.load(Ordering::SeqCst), 1);
    // Nothing is sent to an unknown peer.
    assert!(a.comm.send(b"nobody", msg("x")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_connects_end_with_one_connection_on_each_side() {
    let net = net();
    for round in 0..10 {
        let mut a = net.node(0, CommConfig::default(), TransportConfig::default());
        let mut b = net.node(1, CommConfig::default(), TransportConfig::default());
        let (ca, cb) = (a.comm.clone(), b.comm.clone());
        let (aa, ba) = (a.addr.clone(), b.addr.clone());
        let ta = tokio::spawn(async move { ca.connect(&ba).await });
        let tb = tokio::spawn(async move { cb.connect(&aa).await });
        let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
        assert_eq!(ra.unwrap().pki_id, b.pki_id, "round {round}");
        assert_eq!(rb.unwrap().pki_id, a.pki_id, "round {round}");

        // Both keep the connection the lower PKI-ID dialled: outbound there, inbound at the other.
        let lower_is_a = a.pki_id < b.pki_id;
        let view = |n: &Node| {
            n.comm
                .connected()
                .into_iter()
                .map(|p| p.inbound)
                .collect::<Vec<_>>()
        };
        eventually(
            "both sides settle on the connection dialled by the lower PKI-ID",
            || (view(&a), view(&b)),
            |s| *s == (vec![!lower_is_a], vec![lower_is_a]),
        )
        .await;

        assert!(a.comm.send(&b.pki_id, msg("a->b")).is_ok());
        assert!(b.comm.send(&a.pki_id, msg("b->a")).is_ok());
        for (node, text) in [(&mut b, "a->b"), (&mut a, "b->a")] {
            let mut before = vec![];
            loop {
                let ev = next_event(&mut node.events).await;
                if is_message(text)(&ev) {
                    break;
                }
                before.push(ev);
            }
            let connected = before
                .iter()
                .filter(|e| matches!(e, CommEvent::Connected(_)))
                .count();
            assert_eq!(connected, 1, "round {round}: one Connected: {before:#?}");
            assert!(
                !before
                    .iter()
                    .any(|e| matches!(e, CommEvent::Disconnected { .. })),
                "round {round}: no Disconnected for the survivor: {before:#?}"
            );
        }
    }
    assert_eq!(panics(), 0, "a task panicked");
}

/// Messages sent while a simultaneous dial is being resolved, on the connection that loses, still arrive: the
/// side that drops a connection reads what was already sent on it, and the side whose connection is replaced
/// writes out what it had queued before closing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_on_the_losing_connection_of_a_simultaneous_dial_arrive() {
    const EACH: usize = 20;
    let net = net();
    for round in 0..100 {
        let mut a = net.node(0, CommConfig::default(), TransportConfig::default());
        let mut b = net.node(1, CommConfig::default(), TransportConfig::default());
        let send_all = |from: &Node, to: Vec<u8>, addr: String, tag: &'static str| {
            let comm = from.comm.clone();
            tokio::spawn(async move {
                comm.connect(&addr).await.expect("connect");
                // Sent at once, while the other side's dial may still replace the connection they go on.
                (0..EACH)
                    .filter(|i| comm.send(&to, msg(&format!("{tag}{i}"))).is_ok())
                    .count()
            })
        };
        let ta = send_all(&a, b.pki_id.clone(), b.addr.clone(), "a");
        let tb = send_all(&b, a.pki_id.clone(), a.addr.clone(), "b");
        let (sent_a, sent_b) = (ta.await.unwrap(), tb.await.unwrap());
        assert_eq!(
            (sent_a, sent_b),
            (EACH, EACH),
            "round {round}: every send was queued"
        );
        for (node, tag) in [(&mut b, "a"), (&mut a, "b")] {
            let mut got = std::collections::BTreeSet::new();
            while got.len() < EACH {
                let ev =
                    tokio::time::timeout(std::time::Duration::from_secs(10), node.events.recv())
                        .await
                        .unwrap_or_else(|_| {
                            panic!("round {round}: only {got:?} of {EACH} from {tag}")
                        })
                        .expect("events");
                if let CommEvent::Message { env, .. } = ev {
                    let text = String::from_utf8(env.payload.to_vec()).unwrap();
                    if let Some(i) = text.strip_prefix(tag) {
                        got.insert(i.parse::<usize>().unwrap());
                    }
                }
            }
        }
    }
    // Losing connections end while being replaced: no link task may panic on the way.
    assert_eq!(panics(), 0, "a task panicked");
}

#[tokio::test]
async fn a_handshake_whose_tls_hash_differs_from_the_presented_cert_is_refused() {
    let counters = Counters::default();
    let _recorder = metrics::set_default_local_recorder(&counters);
    let net = net();
    let b = net.node(1, CommConfig::default(), TransportConfig::default());
    let (client, tls) = net.client(0);
    let liar = TestAuth::new("Org1MSP", ORGS);

    // Claims the hash of B's certificate instead of its own.
    let hs = handshake(&liar, sha256(b.tls.leaf()), false);
    let (conn, mut stream) = raw_dial(&client, &b.addr, hs).await;
    let answer = stream.recv::<Envelope>().await;
    assert!(
        !matches!(answer, Ok(Some(_))),
        "no handshake answer: {answer:?}"
    );
    conn.inner.closed().await;
    assert!(b.comm.connected().is_empty());
    assert_eq!(
        counters.get("gossip_comm_handshake_failures_total{reason=tls_cert_hash_mismatch}"),
        1
    );

    // The same peer telling the truth is accepted.
    let hs = handshake(&liar, sha256(tls.leaf()), false);
    let (_conn, mut stream) = raw_dial(&client, &b.addr, hs).await;
    let answer = stream.recv::<Envelope>().await.unwrap().unwrap();
    assert!(!answer.signature.is_empty());
    eventually(
        "B registers the honest dial",
        || b.comm.connected().len(),
        |n| *n == 1,
    )
    .await;
}

#[tokio::test]
async fn forged_signatures_and_unknown_identities_are_refused_and_the_acceptor_keeps_serving() {
    let counters = Counters::default();
    let _recorder = metrics::set_default_local_recorder(&counters);
    let net = net();
    let mut b = net.node(1, CommConfig::default(), TransportConfig::default());

    let forger = TestAuth::new("Org1MSP", ORGS).signing_with_another_key();
    let forger = net.node_with(0, forger, CommConfig::default(), TransportConfig::default());
    let err = forger.comm.connect(&b.addr).await.unwrap_err();
    assert!(matches!(err, CommError::Handshake(_)), "{err:?}");
    assert_eq!(
        counters.get("gossip_comm_handshake_failures_total{reason=bad_signature}"),
        1
    );

    let stranger = TestAuth::new("EvilMSP", &["EvilMSP", "Org1MSP", "Org2MSP"]);
    let stranger = net.node_with(
        0,
        stranger,
        CommConfig::default(),
        TransportConfig::default(),
    );
    let err = stranger.comm.connect(&b.addr).await.unwrap_err();
    assert!(matches!(err, CommError::Handshake(_)), "{err:?}");
    assert_eq!(
        counters.get("gossip_comm_handshake_failures_total{reason=identity_rejected}"),
        1
    );

    let a = net.node(0, CommConfig::default(), TransportConfig::default());
    a.comm.connect(&b.addr).await.unwrap();
    let ev = next_event(&mut b.events).await;
    assert!(is_connected(&a.pki_id)(&ev), "{ev:?}");
    assert!(a.comm.send(&b.pki_id, msg("hello")).is_ok());
    expect_event(&mut b.events, "hello at B", is_message("hello")).await;
    let peers: Vec<_> = b.comm.connected().into_iter().map(|p| p.pki_id).collect();
    assert_eq!(peers, vec![a.pki_id.clone()]);
}

#[tokio::test]
async fn a_malformed_frame_closes_only_that_connection() {
    let counters = Counters::default();
    let _recorder = metrics::set_default_local_recorder(&counters);
    let net = net();
    let mut b = net.node(1, CommConfig::default(), TransportConfig::default());
    let (client, tls) = net.client(0);
    let raw = TestAuth::new("Org1MSP", ORGS);
    let (conn, mut stream) =
        raw_dial(&client, &b.addr, handshake(&raw, sha256(tls.leaf()), false)).await;
    stream.recv::<Envelope>().await.unwrap().unwrap();
    expect_event(
        &mut b.events,
        "raw peer connected",
        is_connected(&raw.pki_id()),
    )
    .await;

    weft_net::frame::write_frame(&mut stream.send, vec![vec![0x0a, 0xff, 0xff].into()], 1024)
        .await
        .unwrap();
    let ev = expect_event(
        &mut b.events,
        "raw peer dropped",
        is_disconnected(&raw.pki_id()),
    )
    .await;
    assert!(format!("{ev:?}").contains("malformed"), "{ev:?}");
    conn.inner.closed().await;
    assert_eq!(counters.get("gossip_comm_malformed_frames_total"), 1);

    let a = net.node(0, CommConfig::default(), TransportConfig::default());
    a.comm.connect(&b.addr).await.unwrap();
    assert!(a.comm.send(&b.pki_id, msg("still here")).is_ok());
    expect_event(
        &mut b.events,
        "message after the bad peer",
        is_message("still here"),
    )
    .await;
}

#[tokio::test]
async fn probe_learns_the_identity_without_registering() {
    let net = net();
    let a = net.node(0, CommConfig::default(), TransportConfig::default());
    let mut b = net.node(1, CommConfig::default(), TransportConfig::default());

    let peer = a.comm.probe(&b.addr).await.unwrap();
    assert_eq!(
        (peer.pki_id.clone(), peer.org.as_str()),
        (b.pki_id.clone(), "Org2MSP")
    );
    assert!(a.comm.connected().is_empty());
    assert!(b.comm.connected().is_empty());

    // Had the probe been registered, B would report it (and its end) before the real connection.
    a.comm.connect(&b.addr).await.unwrap();
    assert!(a.comm.send(&b.pki_id, msg("after probe")).is_ok());
    assert!(is_connected(&a.pki_id)(&next_event(&mut b.events).await));
    assert!(is_message("after probe")(&next_event(&mut b.events).await));

    // Ourselves, e.g. listed among the bootstrap peers.
    assert_eq!(a.comm.probe(&a.addr).await, Err(CommError::SelfConnection));
    assert_eq!(
        a.comm.connect(&a.addr).await,
        Err(CommError::SelfConnection)
    );
    let peers: Vec<_> = a.comm.connected().into_iter().map(|p| p.pki_id).collect();
    assert_eq!(peers, vec![b.pki_id.clone()]);
}

#[tokio::test]
async fn sending_to_a_peer_that_does_not_read_overflows_its_queue() {
    let counters = Counters::default();
    let _recorder = metrics::set_default_local_recorder(&counters);
    let net = net();
    let config = CommConfig {
        send_buff_size: 1,
        ..Default::default()
    };
    let a = net.node(0, config, TransportConfig::default());

    // A mute peer: answers the handshake, then never reads.
    let (mute_ep, mute_tls) = net.bare(1);
    let mute_addr = mute_ep.local_addr().unwrap().to_string();
    let mute_auth = TestAuth::new("Org2MSP", ORGS);
    let mute_pki = mute_auth.pki_id();
    let answer = handshake(&mute_auth, sha256(mute_tls.leaf()), false);
    let (hold, mut held) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let conn = mute_ep.accept().await.unwrap();
        let mut stream = conn.accept_stream().await.unwrap();
        let _: Option<weft_wire::service::Request> = stream.recv().await.unwrap();
        stream.send(&answer).await.unwrap();
        let _ = hold.send((conn, stream));
    });
    assert_eq!(a.comm.connect(&mute_addr).await.unwrap().pki_id, mute_pki);

    let big = Envelope {
        payload: vec![7; 64 * 1024].into(),
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut accepted = 0;
    while a.comm.send(&mute_pki, big.clone()).is_ok() {
        accepted += 1;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue never filled"
        );
        // Let the writer drain into the stream until flow control stops it.
        tokio::task::yield_now().await;
    }
    assert!(accepted > 1, "the writer drained some before blocking");
    assert_eq!(counters.get("gossip_comm_overflow_count"), 1);
    assert!(counters.get("gossip_comm_messages_sent") >= 1);
    assert!(
        held.try_recv().is_ok(),
        "the mute peer still holds the stream"
    );
}

#[tokio::test]
async fn close_reports_disconnected_on_both_sides_and_a_reconnect_works() {
    let net = net();
    let mut a = net.node(0, CommConfig::default(), TransportConfig::default());
    let mut b = net.node(1, CommConfig::default(), TransportConfig::default());
    a.comm.connect(&b.addr).await.unwrap();
    expect_event(&mut b.events, "B connected", is_connected(&a.pki_id)).await;

    a.comm.close(&b.pki_id);
    assert!(a.comm.connected().is_empty());
    expect_event(
        &mut a.events,
        "A's Disconnected",
        is_disconnected(&b.pki_id),
    )
    .await;
    expect_event(
        &mut b.events,
        "B's Disconnected",
        is_disconnected(&a.pki_id),
    )
    .await;
    assert!(b.comm.connected().is_empty());

    a.comm.connect(&b.addr).await.unwrap();
    expect_event(&mut b.events, "B reconnected", is_connected(&a.pki_id)).await;
    assert!(a.comm.send(&b.pki_id, msg("again")).is_ok());
    expect_event(
        &mut b.events,
        "message after reconnect",
        is_message("again"),
    )
    .await;

    // Shutting B's endpoint down reaches A at once.
    b.endpoint.close();
    expect_event(
        &mut a.events,
        "A notices B's shutdown",
        is_disconnected(&b.pki_id),
    )
    .await;
    assert!(a.comm.connected().is_empty());
}

#[tokio::test]
async fn a_silent_peer_is_reported_disconnected_within_the_idle_timeout() {
    let net = net();
    let mut a = net.node(0, CommConfig::default(), fast_transport());
    let mut b = net.node(1, CommConfig::default(), fast_transport());
    let relay = Relay::start(&b.addr).await;
    a.comm.connect(&relay.addr).await.unwrap();
    expect_event(&mut b.events, "B connected", is_connected(&a.pki_id)).await;

    // Every packet lost from now on: no close frame reaches either side.
    relay.cut();
    let started = tokio::time::Instant::now();
    let ev = expect_event(
        &mut b.events,
        "B's Disconnected",
        is_disconnected(&a.pki_id),
    )
    .await;
    assert!(format!("{ev:?}").contains("idle timeout"), "{ev:?}");
    expect_event(
        &mut a.events,
        "A's Disconnected",
        is_disconnected(&b.pki_id),
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(a.comm.connected().is_empty() && b.comm.connected().is_empty());
}

#[tokio::test]
async fn a_changed_identity_at_a_known_endpoint_is_accepted_only_within_the_same_org() {
    let net = net();
    let mut a = net.node(0, CommConfig::default(), TransportConfig::default());
    let b = net.node(1, CommConfig::default(), TransportConfig::default());
    a.comm.connect(&b.addr).await.unwrap();
    a.comm.close(&b.pki_id);
    expect_event(&mut a.events, "A closed", is_disconnected(&b.pki_id)).await;

    // Same endpoint and TLS certificate, another identity: first from another org, then from Org2.
    let swap = |org: &str| {
        let auth = TestAuth::new(org, ORGS);
        let pki = auth.pki_id();
        let (comm, events) = weft_net::Comm::new(
            b.endpoint.clone(),
            b.tls.leaf().to_vec(),
            std::sync::Arc::new(auth),
            CommConfig::default(),
        );
        *b.route.lock().unwrap() = Some(comm);
        (pki, events)
    };
    let _other_org = swap("Org1MSP");
    let err = a.comm.connect(&b.addr).await.unwrap_err();
    assert!(
        matches!(&err, CommError::Handshake(e) if e.contains("authentication failure")),
        "{err:?}"
    );
    let (renewed, _events) = swap("Org2MSP");
    assert_eq!(a.comm.connect(&b.addr).await.unwrap().pki_id, renewed);
}
