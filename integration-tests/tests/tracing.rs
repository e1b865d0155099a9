//! One block is one trace. With OTLP export on, the orderer, the four peers and the CLI send their spans to a
//! receiver inside this test (the real OTLP/gRPC protocol, as Jaeger would receive them). One invoke's trace
//! must hold the endorsements, the orderer's cut, each org leader's receipt from the orderer, every gossip hop
//! and every peer's commit, with parent links along the path the block actually took — the path each peer's
//! provenance record (`GET /channels/mychannel/blocks/{n}`) reports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
use weft_integration_tests::{Network, Options, wait_for};

const P0O1: &str = "peer0.org1.example.com";
const P1O1: &str = "peer1.org1.example.com";
const P0O2: &str = "peer0.org2.example.com";
const P1O2: &str = "peer1.org2.example.com";
const ALL: [&str; 4] = [P0O1, P1O1, P0O2, P1O2];

/// One received span, flattened.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    trace: String,
    id: String,
    parent: String,
    attrs: BTreeMap<String, String>,
}

impl Span {
    fn attr(&self, key: &str) -> &str {
        self.attrs.get(key).map_or("", String::as_str)
    }
}

/// The OTLP trace service: keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

fn text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .map(text)
                .unwrap_or_default();
            for s in rs.scope_spans.into_iter().flat_map(|ss| ss.spans) {
                spans.push(Span {
                    service: service.clone(),
                    name: s.name,
                    trace: hex(&s.trace_id),
                    id: hex(&s.span_id),
                    parent: hex(&s.parent_span_id),
                    attrs: s
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv)))
                        .collect(),
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn elected_with_export(endpoint: &str) -> Options {
    Options {
        node_env: export_env(endpoint)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ..Options::elected()
    }
}

fn export_env(endpoint: &str) -> [(&'static str, String); 2] {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_string()),
        // Export each batch after 100 ms instead of 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ]
}

fn leaders(net: &Network) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for p in ALL {
        if net.ops_json(p, "/channels/mychannel")?["leader"] == true {
            out.insert(p.to_string());
        }
    }
    let orgs: BTreeSet<bool> = out.iter().map(|p| p.contains("org1")).collect();
    if out.len() == 2 && orgs.len() == 2 {
        Ok(out)
    } else {
        Err(format!("leaders: {out:?}"))
    }
}

#[test]
fn one_invoke_is_one_trace_along_the_path_the_block_took() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let receiver = Receiver::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let mut net = Network::generate(elected_with_export(&endpoint)).unwrap();
    net.start_all().unwrap();
    net.byfn();
    net.define("basic", 1, None);
    let leaders = wait_for("one leader per org", Duration::from_secs(30), || {
        leaders(&net)
    });

    let ctor = r#"{"Args":["CreateAsset","traced","blue","5","Tom","100"]}"#;
    let out = net.invoke_with(P0O1, "basic", &[P0O1, P0O2], ctor, &export_env(&endpoint));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "invoke failed: {stderr}");
    let tx_id = stderr
        .split("txid [")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_else(|| panic!("no txid in {stderr}"))
        .to_string();
    let number = net
        .ops_json(P0O1, &format!("/channels/mychannel/transactions/{tx_id}"))
        .unwrap()["block"]
        .as_u64()
        .unwrap();
    let block = number.to_string();

    // Every peer commits the block, and every span of its trace reaches the receiver.
    let spans = wait_for("the block's trace", Duration::from_secs(30), || {
        let all = receiver.0.lock().unwrap().clone();
        let root = all
            .iter()
            .find(|s| s.name == "chaincode_invoke" && s.attr("tx_id") == tx_id)
            .ok_or("no chaincode_invoke span yet")?
            .trace
            .clone();
        let trace: Vec<Span> = all.into_iter().filter(|s| s.trace == root).collect();
        let on = |name: &str, service: &str| {
            trace.iter().any(|s| {
                s.name == name
                    && s.service == service
                    && (name == "endorse" || s.attr("block") == block)
            })
        };
        let mut missing = Vec::new();
        for p in ALL {
            for name in ["receive_block", "commit_block"] {
                if !on(name, p) {
                    missing.push(format!("{name} on {p}"));
                }
            }
        }
        for p in [P0O1, P0O2] {
            if !on("endorse", p) {
                missing.push(format!("endorse on {p}"));
            }
        }
        if !on("cut_block", "orderer") {
            missing.push("cut_block on the orderer".into());
        }
        if missing.is_empty() {
            Ok(trace)
        } else {
            Err(format!("missing {missing:?}"))
        }
    });

    let by_id: BTreeMap<&str, &Span> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    // The tree, printed when the test fails (or with --nocapture).
    fn print(spans: &[Span], parent: &str, depth: usize) {
        for s in spans.iter().filter(|s| s.parent == parent) {
            eprintln!(
                "{:indent$}{} on {} {:?}",
                "",
                s.name,
                s.service,
                s.attrs.get("source"),
                indent = depth * 2
            );
            print(spans, &s.id, depth + 1);
        }
    }
    print(&spans, "", 0);
    let parent_of = |s: &Span| -> &Span {
        by_id
            .get(s.parent.as_str())
            .unwrap_or_else(|| panic!("the parent of {s:?} is not in the trace"))
    };
    let one = |name: &str, service: &str| -> &Span {
        let found: Vec<&Span> = spans
            .iter()
            .filter(|s| s.name == name && s.service == service && s.attr("block") == block)
            .collect();
        assert_eq!(found.len(), 1, "{name} on {service}: {found:?}");
        found[0]
    };
    let root = spans.iter().find(|s| s.name == "chaincode_invoke").unwrap();
    assert_eq!(root.service, "peer-cli");
    assert!(root.parent.is_empty(), "the invoke is the trace's root");
    for s in spans.iter().filter(|s| s.name == "endorse") {
        assert_eq!(parent_of(s).id, root.id, "endorsement on {}", s.service);
    }
    let cut = one("cut_block", "orderer");
    assert_eq!(
        parent_of(cut).id,
        root.id,
        "the cut continues the transaction"
    );

    let endpoint_of: BTreeMap<String, &str> =
        ALL.iter().map(|p| (net.peer(p).address(), *p)).collect();
    let mut from_orderer = BTreeSet::new();
    for p in ALL {
        let provenance = net
            .ops_json(p, &format!("/channels/mychannel/blocks/{number}"))
            .unwrap();
        let receive = one("receive_block", p);
        let parent = parent_of(receive);
        match provenance["source"].as_str().unwrap() {
            "orderer" => {
                assert_eq!(parent.name, "deliver_block", "{p} got it from the orderer");
                assert_eq!(parent.service, "orderer");
                assert_eq!(
                    parent.attr("to"),
                    p,
                    "the orderer's span names its deliverer"
                );
                assert_eq!(parent_of(parent).id, cut.id);
                from_orderer.insert(p.to_string());
            }
            source => {
                let sender = endpoint_of[provenance["from"].as_str().unwrap()];
                assert_eq!(parent.name, "receive_block", "{p} got it by {source}");
                assert_eq!(
                    parent.service, sender,
                    "{p}'s hop comes from the peer its provenance names"
                );
                assert_eq!(receive.attr("source"), source);
            }
        }
        let commit = one("commit_block", p);
        assert_eq!(
            parent_of(commit).id,
            receive.id,
            "{p} commits what it received"
        );
    }
    assert_eq!(
        from_orderer, leaders,
        "the orderer delivers to each org's leader only"
    );
}
