//! The operations service over TLS on real processes: every node serves HTTPS with its TLS certificate,
//! `peer node status` speaks it (as a container health check would), `/healthz` is open to any TLS client, and
//! `/logspec` and `/metrics` need a client certificate from the configured client root CA.

use std::process::Command;
use std::time::Duration;

use weft_integration_tests::{Network, Options};
use weft_ops::admin::http_get;

const P0O1: &str = "peer0.org1.example.com";

#[test]
fn operations_over_tls_gate_logspec_and_metrics_on_a_client_certificate() {
    let mut net = Network::generate(Options {
        ops_tls: true,
        ..Default::default()
    })
    .unwrap();
    // The harness waits for every node's /healthz over TLS.
    net.start_all().unwrap();
    net.create_and_join();
    assert_eq!(net.chain(P0O1).unwrap().0, 1, "admin probes over TLS work");

    let t = Duration::from_secs(5);
    let (anonymous, admin) = (net.ops_client(false), net.ops_client(true));
    for name in ["orderer.example.com", P0O1] {
        let ops = if name == P0O1 {
            net.peer(P0O1).ops_address()
        } else {
            net.orderer.ops_address()
        };
        let get =
            |tls: &http_get::Tls, path| http_get::get_with(&ops, path, t, Some(tls)).unwrap().0;
        assert_eq!(get(&anonymous, "/healthz"), 200, "{name}");
        assert_eq!(get(&anonymous, "/version"), 200, "{name}");
        assert_eq!(get(&anonymous, "/logspec"), 401, "{name}");
        assert_eq!(get(&anonymous, "/metrics"), 401, "{name}");
        assert_eq!(get(&admin, "/logspec"), 200, "{name}");
        let (code, metrics) = http_get::get_with(&ops, "/metrics", t, Some(&admin)).unwrap();
        assert_eq!(code, 200);
        assert!(
            metrics.contains("ledger_blockchain_height"),
            "{name}: {metrics}"
        );
        assert!(
            http_get::get(&ops, "/healthz", t).is_err(),
            "{name}: plain HTTP is refused"
        );
    }

    // `peer node status` with the node's own settings: HTTPS, trusting its TLS root.
    let dir =
        net.path("crypto-config/peerOrganizations/org1.example.com/peers/peer0.org1.example.com");
    let status = |tls: bool| {
        let mut cmd = Command::new(weft_integration_tests::bin_dir().join("peer"));
        cmd.args(["node", "status"])
            .env_remove("FABRIC_CFG_PATH")
            .envs(net.cli_env(P0O1));
        if tls {
            cmd.envs(net.ops_tls_env(&dir));
        }
        cmd.output().unwrap()
    };
    let out = status(true);
    assert!(
        out.status.success(),
        "peer node status over TLS: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"status\":\"OK\""));
    assert!(
        !status(false).status.success(),
        "plain HTTP to a TLS endpoint fails the probe"
    );
}
