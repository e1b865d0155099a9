//! The `peer` CLI as each org's admin: the environment test-network's setGlobals gives, and byfn's steps,
//! chaincode definitions, invokes and queries built on it.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::{CHANNEL, Network};

impl Network {
    /// The CLI environment of `org`'s admin talking to peer `target` (test-network's setGlobals).
    pub fn cli_env(&self, target: &str) -> Vec<(String, String)> {
        let p = self.peer(target);
        let org = format!("org{}.example.com", p.org);
        let base = self.path(&format!("crypto-config/peerOrganizations/{org}"));
        let admin = base.join(format!("users/Admin@{org}"));
        [
            ("CORE_PEER_LOCALMSPID", format!("Org{}MSP", p.org)),
            ("CORE_PEER_ADDRESS", p.address()),
            (
                "CORE_PEER_MSPCONFIGPATH",
                admin.join("msp").display().to_string(),
            ),
            (
                "CORE_PEER_TLS_ROOTCERT_FILE",
                base.join(format!("peers/{target}/tls/ca.crt"))
                    .display()
                    .to_string(),
            ),
            (
                "CORE_PEER_TLS_CLIENTCERT_FILE",
                admin.join("tls/client.crt").display().to_string(),
            ),
            (
                "CORE_PEER_TLS_CLIENTKEY_FILE",
                admin.join("tls/client.key").display().to_string(),
            ),
            ("CORE_OPERATIONS_LISTENADDRESS", p.ops_address()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The orderer's TLS CA file, for `--cafile`.
    pub fn orderer_ca(&self) -> PathBuf {
        self.path("crypto-config/ordererOrganizations/example.com/orderers/orderer.example.com/msp/tlscacerts/tlsca.example.com-cert.pem")
    }

    /// Runs `peer <args>` as the admin of `target`'s org against `target`, with `extra_env` on top.
    pub fn cli_with(&self, target: &str, args: &[&str], extra_env: &[(&str, String)]) -> Output {
        let mut cmd = Command::new(self.bin.join("peer"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("FABRIC_CFG_PATH");
        for (k, v) in self.cli_env(target) {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().expect("run the peer CLI")
    }

    /// Runs `peer <args>` as the admin of `target`'s org and requires success; returns stdout.
    pub fn cli(&self, target: &str, args: &[&str]) -> String {
        let out = self.cli_with(target, args, &[]);
        assert!(
            out.status.success(),
            "peer {args:?} against {target} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `peer <args>` with `-o <orderer> --tls --cafile <ca>` appended.
    pub fn cli_orderer(&self, target: &str, args: &[&str]) -> String {
        let ca = self.orderer_ca().display().to_string();
        let o = self.orderer.address();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", &o, "--tls", "--cafile", &ca]);
        self.cli(target, &all)
    }

    /// Creates mychannel and joins all four peers (no anchor update yet).
    pub fn create_and_join(&self) {
        let block = self.artifact("mychannel.block");
        self.cli_orderer(
            "peer0.org1.example.com",
            &[
                "channel",
                "create",
                "-c",
                CHANNEL,
                "-f",
                &self.artifact("channel.tx"),
                "--outputBlock",
                &block,
            ],
        );
        for p in &self.peers {
            self.cli(&p.name, &["channel", "join", "-b", &block]);
        }
    }

    /// Updates `org`'s (1 or 2) anchor peers on mychannel as that org's admin.
    pub fn anchor_update(&self, org: u8) {
        let tx = self.artifact(&format!("Org{org}MSPanchors.tx"));
        self.cli_orderer(
            &format!("peer0.org{org}.example.com"),
            &["channel", "update", "-c", CHANNEL, "-f", &tx],
        );
    }

    fn artifact(&self, f: &str) -> String {
        self.path(&format!("channel-artifacts/{f}"))
            .display()
            .to_string()
    }

    /// byfn's steps: create mychannel, join all four peers, update both orgs' anchor peers, and wait until
    /// every peer has committed the three blocks.
    pub fn byfn(&self) {
        self.create_and_join();
        self.anchor_update(1);
        self.anchor_update(2);
        self.wait_all_at(3);
    }

    /// Commits a chaincode definition as Org1's admin, endorsed by both orgs' peer0 (the lifecycle policy
    /// needs a majority of orgs). `policy`: a signature policy, or `None` for Fabric's default.
    pub fn define(&self, name: &str, sequence: u64, policy: Option<&str>) {
        let (p0, p2) = (self.peers[0].address(), self.peers[2].address());
        let seq = sequence.to_string();
        let mut args = vec![
            "lifecycle",
            "chaincode",
            "commit",
            "-C",
            CHANNEL,
            "-n",
            name,
            "-v",
            "1.0",
            "--sequence",
            &seq,
        ];
        if let Some(p) = policy {
            args.extend(["--signature-policy", p]);
        }
        args.extend([
            "--peerAddresses",
            &p0,
            "--peerAddresses",
            &p2,
            "--waitForEvent",
        ]);
        self.cli("peer0.org1.example.com", &args);
    }

    /// Runs `peer chaincode invoke` of `chaincode` as `target`'s org admin, endorsed on `endorsers`, waiting
    /// for the commit.
    pub fn invoke(&self, target: &str, chaincode: &str, endorsers: &[&str], ctor: &str) -> Output {
        self.invoke_with(target, chaincode, endorsers, ctor, &[])
    }

    /// [`Network::invoke`] with extra environment for the CLI (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn invoke_with(
        &self,
        target: &str,
        chaincode: &str,
        endorsers: &[&str],
        ctor: &str,
        env: &[(&str, String)],
    ) -> Output {
        let addrs: Vec<String> = endorsers.iter().map(|e| self.peer(e).address()).collect();
        let mut args = vec![
            "chaincode",
            "invoke",
            "-C",
            CHANNEL,
            "-n",
            chaincode,
            "-c",
            ctor,
            "--waitForEvent",
        ];
        for a in &addrs {
            args.extend(["--peerAddresses", a.as_str()]);
        }
        self.cli_with(target, &args, env)
    }

    /// `peer chaincode query` of `chaincode` on `target`; stdout on success, stderr on failure.
    pub fn query(&self, target: &str, chaincode: &str, ctor: &str) -> Result<String, String> {
        let out = self.cli_with(
            target,
            &[
                "chaincode",
                "query",
                "-C",
                CHANNEL,
                "-n",
                chaincode,
                "-c",
                ctor,
            ],
            &[],
        );
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}
