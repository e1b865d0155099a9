//! Fabric's first-network as child processes on free loopback ports.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::{bin_dir, free_port, repo_root, wait_for};

/// The channel every test network creates.
pub const CHANNEL: &str = "mychannel";

/// A node of the network.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Fabric name, e.g. `peer0.org1.example.com`.
    pub name: String,
    /// 0 for the orderer, 1 or 2 for peers.
    pub org: u8,
    /// `peer0` / `peer1` (peers only).
    pub peer: String,
    pub port: u16,
    pub ops: u16,
}

impl NodeInfo {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn ops_address(&self) -> String {
        format!("127.0.0.1:{}", self.ops)
    }
}

/// How to generate a network.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Orderer addresses written to the channel config before the real orderer's (e.g. a rogue orderer).
    pub extra_orderer_addresses_first: Vec<String>,
    /// Start peers without `CORE_PEER_GOSSIP_BOOTSTRAP` (by default each peer bootstraps from its org's other peer).
    pub no_bootstrap: bool,
    /// Peers started without `CORE_PEER_GOSSIP_EXTERNALENDPOINT` (invisible to the other org).
    pub no_external_endpoint: Vec<String>,
    /// Extra environment for every peer (e.g. gossip timers).
    pub peer_env: Vec<(String, String)>,
    /// Extra environment for one peer: (peer name, variable, value).
    pub peer_env_for: Vec<(String, String, String)>,
    /// Extra environment for every node, the orderer too (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub node_env: Vec<(String, String)>,
    /// Operations endpoints over TLS (each node's TLS certificate; client certificates from Org1's TLS CA).
    /// The harness then probes them as Org1's admin.
    pub ops_tls: bool,
}

impl Options {
    /// Dynamic leader election (`useLeaderElection`, not `orgLeader`) with timers short enough for tests.
    pub fn elected() -> Self {
        let gossip = [
            ("USELEADERELECTION", "true"),
            ("ORGLEADER", "false"),
            ("ELECTION_STARTUPGRACEPERIOD", "2s"),
            ("ELECTION_MEMBERSHIPSAMPLEINTERVAL", "200ms"),
            ("ELECTION_LEADERALIVETHRESHOLD", "2s"),
            ("ELECTION_LEADERELECTIONDURATION", "500ms"),
        ];
        Self {
            peer_env: gossip
                .iter()
                .map(|(k, v)| (format!("CORE_PEER_GOSSIP_{k}"), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }
}

/// A generated network and its running processes; every process is killed on drop.
pub struct Network {
    pub dir: TempDir,
    pub options: Options,
    pub orderer: NodeInfo,
    pub peers: Vec<NodeInfo>,
    children: HashMap<String, Child>,
    bin: PathBuf,
}

fn run(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

impl Network {
    /// Generates crypto material and channel artifacts for the first-network in a temp dir.
    pub fn generate(options: Options) -> Result<Self> {
        let bin = bin_dir();
        for b in ["peer", "orderer", "configtxgen", "weft-ca"] {
            if !bin.join(b).exists() {
                bail!(
                    "{} is missing: build the workspace's binaries first (cargo build --workspace)",
                    bin.join(b).display()
                );
            }
        }
        let dir = tempfile::Builder::new().prefix("weft-net-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("logs"))?;
        let node = |name: &str, org: u8, peer: &str| NodeInfo {
            name: name.into(),
            org,
            peer: peer.into(),
            port: free_port(),
            ops: free_port(),
        };
        let orderer = node("orderer.example.com", 0, "");
        let peers = vec![
            node("peer0.org1.example.com", 1, "peer0"),
            node("peer1.org1.example.com", 1, "peer1"),
            node("peer0.org2.example.com", 2, "peer0"),
            node("peer1.org2.example.com", 2, "peer1"),
        ];
        let local = repo_root().join("deploy/local");
        run(Command::new(bin.join("weft-ca"))
            .args(["cryptogen", "generate"])
            .arg(format!(
                "--config={}",
                local.join("crypto-config.yaml").display()
            ))
            .arg(format!(
                "--output={}",
                dir.path().join("crypto-config").display()
            )))?;
        let mut tmpl = std::fs::read_to_string(local.join("configtx.yaml.tmpl"))?;
        for extra in options.extra_orderer_addresses_first.iter().rev() {
            tmpl = tmpl.replacen(
                "    Addresses:\n",
                &format!("    Addresses:\n        - {extra}\n"),
                1,
            );
        }
        let configtx = tmpl
            .replace("@ORDERER_ADDRESS@", &orderer.address())
            .replace("@ORG1_ANCHOR_HOST@", "127.0.0.1")
            .replace("@ORG1_ANCHOR_PORT@", &peers[0].port.to_string())
            .replace("@ORG2_ANCHOR_HOST@", "127.0.0.1")
            .replace("@ORG2_ANCHOR_PORT@", &peers[2].port.to_string())
            .replace("@BATCH_TIMEOUT@", "2s");
        std::fs::write(dir.path().join("configtx.yaml"), configtx)?;
        let net = Self {
            dir,
            orderer,
            peers,
            children: HashMap::new(),
            bin,
            options,
        };
        let configtxgen = |args: &[&str]| {
            run(Command::new(net.bin.join("configtxgen"))
                .arg("-configPath")
                .arg(net.dir.path())
                .args(args))
        };
        let art = |f: &str| {
            net.path(&format!("channel-artifacts/{f}"))
                .display()
                .to_string()
        };
        std::fs::create_dir_all(net.path("channel-artifacts"))?;
        configtxgen(&[
            "-profile",
            "TwoOrgsOrdererGenesis",
            "-channelID",
            "system-channel",
            "-outputBlock",
            &art("genesis.block"),
        ])?;
        configtxgen(&[
            "-profile",
            "TwoOrgsChannel",
            "-channelID",
            CHANNEL,
            "-outputCreateChannelTx",
            &art("channel.tx"),
        ])?;
        for org in ["Org1MSP", "Org2MSP"] {
            let out = art(&format!("{org}anchors.tx"));
            configtxgen(&[
                "-profile",
                "TwoOrgsChannel",
                "-channelID",
                CHANNEL,
                "-outputAnchorPeersUpdate",
                &out,
                "-asOrg",
                org,
            ])?;
        }
        Ok(net)
    }

    /// A path inside the network's folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn peer(&self, name: &str) -> &NodeInfo {
        self.peers
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no peer {name}"))
    }

    fn node(&self, name: &str) -> &NodeInfo {
        if name == self.orderer.name {
            &self.orderer
        } else {
            self.peer(name)
        }
    }

    fn spawn(&mut self, name: &str, mut cmd: Command) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(&format!("logs/{name}.log")))?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .env("FABRIC_LOGGING_SPEC", "info")
            .envs(self.options.node_env.iter().map(|(k, v)| (k, v)));
        cmd.env_remove("FABRIC_CFG_PATH");
        let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        self.children.insert(name.to_string(), child);
        let ops = self.node(name).ops_address();
        let name_owned = name.to_string();
        wait_for(&format!("{name} /healthz"), Duration::from_secs(30), || {
            if let Some(status) = self
                .children
                .get_mut(&name_owned)
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{name_owned} exited with {status}:\n{}",
                    self.log(&name_owned)
                );
            }
            match self.ops_get(&ops, "/healthz") {
                Ok((200, _)) => Ok(()),
                Ok((code, body)) => Err(format!("{code} {body}")),
                Err(e) => Err(e.to_string()),
            }
        });
        Ok(())
    }

    /// Starts (or restarts) the orderer and waits until it is healthy.
    pub fn start_orderer(&mut self) -> Result<()> {
        let dir = self
            .path("crypto-config/ordererOrganizations/example.com/orderers/orderer.example.com");
        let o = self.orderer.clone();
        let mut cmd = Command::new(self.bin.join("orderer"));
        cmd.env("ORDERER_GENERAL_LISTENADDRESS", "127.0.0.1")
            .env("ORDERER_GENERAL_LISTENPORT", o.port.to_string())
            .env("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP")
            .env("ORDERER_GENERAL_LOCALMSPDIR", dir.join("msp"))
            .env("ORDERER_GENERAL_TLS_PRIVATEKEY", dir.join("tls/server.key"))
            .env(
                "ORDERER_GENERAL_TLS_CERTIFICATE",
                dir.join("tls/server.crt"),
            )
            .env(
                "ORDERER_GENERAL_TLS_ROOTCAS",
                format!("[{}]", dir.join("tls/ca.crt").display()),
            )
            .env(
                "ORDERER_GENERAL_BOOTSTRAPFILE",
                self.path("channel-artifacts/genesis.block"),
            )
            .env(
                "ORDERER_FILELEDGER_LOCATION",
                self.path("orderer.example.com"),
            )
            .env("ORDERER_OPERATIONS_LISTENADDRESS", o.ops_address());
        if self.options.ops_tls {
            cmd.env("ORDERER_OPERATIONS_TLS_ENABLED", "true")
                .env(
                    "ORDERER_OPERATIONS_TLS_CERTIFICATE",
                    dir.join("tls/server.crt"),
                )
                .env(
                    "ORDERER_OPERATIONS_TLS_PRIVATEKEY",
                    dir.join("tls/server.key"),
                )
                .env(
                    "ORDERER_OPERATIONS_TLS_CLIENTROOTCAS",
                    format!("[{}]", self.org1_tls_ca().display()),
                );
        }
        self.spawn(&o.name, cmd)
    }

    /// Starts (or restarts) a peer and waits until it is healthy.
    pub fn start_peer(&mut self, name: &str) -> Result<()> {
        let p = self.peer(name).clone();
        let org = format!("org{}.example.com", p.org);
        let dir = self.path(&format!(
            "crypto-config/peerOrganizations/{org}/peers/{name}"
        ));
        let other = self
            .peers
            .iter()
            .find(|q| q.org == p.org && q.name != p.name)
            .expect("two peers per org");
        let mut cmd = Command::new(self.bin.join("peer"));
        cmd.args(["node", "start"])
            .env("CORE_PEER_ID", name)
            .env("CORE_PEER_LISTENADDRESS", p.address())
            .env("CORE_PEER_ADDRESS", p.address())
            .env("CORE_PEER_LOCALMSPID", format!("Org{}MSP", p.org))
            .env("CORE_PEER_MSPCONFIGPATH", dir.join("msp"))
            .env("CORE_PEER_TLS_CERT_FILE", dir.join("tls/server.crt"))
            .env("CORE_PEER_TLS_KEY_FILE", dir.join("tls/server.key"))
            .env("CORE_PEER_TLS_ROOTCERT_FILE", dir.join("tls/ca.crt"))
            .env("CORE_PEER_FILESYSTEMPATH", self.path(name))
            .env("CORE_OPERATIONS_LISTENADDRESS", p.ops_address());
        if self.options.ops_tls {
            cmd.envs(self.ops_tls_env(&dir));
        }
        if !self.options.no_bootstrap {
            cmd.env("CORE_PEER_GOSSIP_BOOTSTRAP", other.address());
        }
        if !self.options.no_external_endpoint.iter().any(|n| n == name) {
            cmd.env("CORE_PEER_GOSSIP_EXTERNALENDPOINT", p.address());
        }
        for (k, v) in &self.options.peer_env {
            cmd.env(k, v);
        }
        for (_, k, v) in self
            .options
            .peer_env_for
            .iter()
            .filter(|(p, _, _)| p == name)
        {
            cmd.env(k, v);
        }
        self.spawn(name, cmd)
    }

    /// Starts the orderer and all four peers.
    pub fn start_all(&mut self) -> Result<()> {
        self.start_orderer()?;
        for name in self
            .peers
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
        {
            self.start_peer(&name)?;
        }
        Ok(())
    }

    /// SIGKILLs a node.
    pub fn kill(&mut self, name: &str) {
        if let Some(mut c) = self.children.remove(name) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

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

    /// Org1's TLS CA: the client root CA of every operations endpoint when `ops_tls` is on.
    pub fn org1_tls_ca(&self) -> PathBuf {
        self.path("crypto-config/peerOrganizations/org1.example.com/tlsca/tlsca.org1.example.com-cert.pem")
    }

    /// A peer's `CORE_OPERATIONS_TLS_*` settings (its TLS pair, Org1's TLS CA for clients); `dir` is the
    /// peer's crypto folder.
    pub fn ops_tls_env(&self, dir: &std::path::Path) -> Vec<(String, String)> {
        [
            ("CORE_OPERATIONS_TLS_ENABLED", "true".to_string()),
            (
                "CORE_OPERATIONS_TLS_CERT_FILE",
                dir.join("tls/server.crt").display().to_string(),
            ),
            (
                "CORE_OPERATIONS_TLS_KEY_FILE",
                dir.join("tls/server.key").display().to_string(),
            ),
            (
                "CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES",
                format!("[{}]", self.org1_tls_ca().display()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// A TLS client for the operations endpoints trusting every org's TLS CA, as Org1's admin or anonymous.
    pub fn ops_client(&self, as_admin: bool) -> weft_ops::admin::http_get::Tls {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let cas = [
            "ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem",
            "peerOrganizations/org1.example.com/tlsca/tlsca.org1.example.com-cert.pem",
            "peerOrganizations/org2.example.com/tlsca/tlsca.org2.example.com-cert.pem",
        ];
        let roots = cas
            .iter()
            .map(|c| {
                CertificateDer::from_pem_file(self.path(&format!("crypto-config/{c}"))).unwrap()
            })
            .collect();
        let admin = self.path(
            "crypto-config/peerOrganizations/org1.example.com/users/Admin@org1.example.com/tls",
        );
        let identity = as_admin.then(|| {
            (
                vec![CertificateDer::from_pem_file(admin.join("client.crt")).unwrap()],
                PrivateKeyDer::from_pem_file(admin.join("client.key")).unwrap(),
            )
        });
        weft_ops::admin::http_get::Tls::new(roots, identity).unwrap()
    }

    /// `GET path` on an operations endpoint; over TLS as Org1's admin when `ops_tls` is on.
    fn ops_get(&self, addr: &str, path: &str) -> std::io::Result<(u16, String)> {
        let tls = self.options.ops_tls.then(|| self.ops_client(true));
        weft_ops::admin::http_get::get_with(addr, path, Duration::from_secs(5), tls.as_ref())
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

    /// The names of the peers `name` sees alive (`GET /gossip/membership`), or its dead ones.
    pub fn gossip_view(
        &self,
        name: &str,
        dead: bool,
    ) -> Result<std::collections::BTreeSet<String>, String> {
        let v = self.ops_json(name, "/gossip/membership")?;
        let list = v[if dead { "dead" } else { "alive" }]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(list
            .iter()
            .filter_map(|m| self.name_of(m["endpoint"].as_str()?))
            .collect())
    }

    /// The names in `name`'s view of mychannel (`GET /channels/mychannel/members`), itself included.
    pub fn channel_view(&self, name: &str) -> Result<std::collections::BTreeSet<String>, String> {
        let v = self.ops_json(name, &format!("/channels/{CHANNEL}/members"))?;
        let list = v.as_array().cloned().unwrap_or_default();
        Ok(list
            .iter()
            .filter_map(|m| self.name_of(m["endpoint"].as_str()?))
            .collect())
    }

    fn name_of(&self, endpoint: &str) -> Option<String> {
        self.peers
            .iter()
            .find(|p| p.address() == endpoint)
            .map(|p| p.name.clone())
    }

    /// byfn's steps: create mychannel, join all four peers, update both orgs' anchor peers, and wait until
    /// every peer has committed the three blocks.
    pub fn byfn(&self) {
        let art = |f: &str| {
            self.path(&format!("channel-artifacts/{f}"))
                .display()
                .to_string()
        };
        let block = art("mychannel.block");
        self.cli_orderer(
            "peer0.org1.example.com",
            &[
                "channel",
                "create",
                "-c",
                CHANNEL,
                "-f",
                &art("channel.tx"),
                "--outputBlock",
                &block,
            ],
        );
        for p in &self.peers {
            self.cli(&p.name, &["channel", "join", "-b", &block]);
        }
        self.cli_orderer(
            "peer0.org1.example.com",
            &[
                "channel",
                "update",
                "-c",
                CHANNEL,
                "-f",
                &art("Org1MSPanchors.tx"),
            ],
        );
        self.cli_orderer(
            "peer0.org2.example.com",
            &[
                "channel",
                "update",
                "-c",
                CHANNEL,
                "-f",
                &art("Org2MSPanchors.tx"),
            ],
        );
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

    /// Broadcasts `n` MESSAGE transactions of `size` bytes to the orderer as Org1's admin, over `tasks`
    /// concurrent streams of one connection; returns when all are accepted.
    pub fn broadcast_messages(&self, n: usize, size: usize, tasks: usize) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(self.broadcaster().send(n, size, tasks, None));
    }

    /// A client that broadcasts MESSAGE transactions as Org1's admin.
    pub fn broadcaster(&self) -> Broadcaster {
        let crypto = self.path("crypto-config");
        let admin = crypto.join("peerOrganizations/org1.example.com/users/Admin@org1.example.com");
        let signer = weft_crypto::LocalMsp::load(&admin.join("msp"), "Org1MSP")
            .expect("admin MSP")
            .signer;
        let ca = crypto
            .join("ordererOrganizations/example.com/msp/tlscacerts/tlsca.example.com-cert.pem");
        let roots =
            weft_crypto::pem::blocks(&std::fs::read(ca).expect("orderer CA"), "CERTIFICATE")
                .expect("PEM");
        let tls =
            weft_net::NodeTls::load(&admin.join("tls/client.crt"), &admin.join("tls/client.key"))
                .expect("TLS");
        Broadcaster {
            signer: std::sync::Arc::new(signer),
            tls,
            roots,
            orderer: self.orderer.address(),
        }
    }

    /// `GET path` on a node's operations endpoint, parsed as JSON.
    pub fn ops_json(&self, name: &str, path: &str) -> Result<serde_json::Value, String> {
        let (code, body) = self
            .ops_get(&self.node(name).ops_address(), path)
            .map_err(|e| e.to_string())?;
        if code != 200 {
            return Err(format!("{code}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))
    }

    /// `GET /metrics` on a node.
    pub fn metrics(&self, name: &str) -> String {
        self.ops_get(&self.node(name).ops_address(), "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// A peer's (height, current block hash) on mychannel, from `GET /channels`.
    pub fn chain(&self, name: &str) -> Result<(u64, String), String> {
        let v = self.ops_json(name, "/channels")?;
        let ch = v["channels"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == CHANNEL))
            .ok_or_else(|| format!("{name} has not joined {CHANNEL}: {v}"))?;
        Ok((
            ch["height"].as_u64().unwrap_or(0),
            ch["current_block_hash"].as_str().unwrap_or("").to_string(),
        ))
    }

    /// Waits until every running peer is at `height` with the same current block hash; returns the hash.
    pub fn wait_all_at(&self, height: u64) -> String {
        let names: Vec<String> = self
            .peers
            .iter()
            .filter(|p| self.children.contains_key(&p.name))
            .map(|p| p.name.clone())
            .collect();
        wait_for(
            &format!("all peers at height {height} with one hash"),
            Duration::from_secs(60),
            || {
                let chains: Vec<(u64, String)> = names
                    .iter()
                    .map(|n| self.chain(n))
                    .collect::<Result<_, _>>()?;
                if chains.iter().all(|c| c.0 == height && c.1 == chains[0].1) {
                    Ok(chains[0].1.clone())
                } else {
                    Err(format!("{names:?} → {chains:?}"))
                }
            },
        )
    }

    /// A node's log so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("logs/{name}.log"))).unwrap_or_default()
    }

    /// The artifacts folder.
    pub fn artifacts(&self) -> PathBuf {
        self.path("channel-artifacts")
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for (_, mut c) in self.children.drain() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            // Keep the folder for post-mortem and say where it is.
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            eprintln!("test network kept at {}", dir.keep().display());
        }
    }
}

/// Sends MESSAGE transactions to the orderer (load for tests and benchmarks).
pub struct Broadcaster {
    signer: std::sync::Arc<weft_crypto::Signer>,
    tls: weft_net::NodeTls,
    roots: Vec<Vec<u8>>,
    orderer: String,
}

impl Broadcaster {
    /// Sends `n` messages of `size` bytes over `tasks` concurrent streams, stopping early when `stop` turns
    /// true. Must run inside a tokio runtime.
    pub async fn send(
        &self,
        n: usize,
        size: usize,
        tasks: usize,
        stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) {
        let trust = weft_net::TrustStore::new(self.roots.clone());
        let ep =
            weft_net::Endpoint::client(&self.tls, &trust, weft_net::TransportConfig::default())
                .expect("endpoint");
        let conn = ep
            .connect_host(&self.orderer, None)
            .await
            .expect("orderer connection");
        let mut handles = Vec::new();
        for t in 0..tasks {
            let (conn, signer, stop) = (conn.clone(), self.signer.clone(), stop.clone());
            handles.push(tokio::spawn(async move {
                for i in (t..n).step_by(tasks) {
                    if stop
                        .as_ref()
                        .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
                    {
                        return;
                    }
                    let mut data = format!("message {i} ").into_bytes();
                    data.resize(size.max(data.len()), b'.');
                    let kind = weft_wire::common::HeaderType::Message;
                    let (env, _) = weft_crypto::envelope::create(
                        &signer,
                        kind,
                        CHANNEL,
                        data,
                        std::time::SystemTime::now(),
                    );
                    weft_peer::client::broadcast(&conn, env)
                        .await
                        .expect("broadcast accepted");
                }
            }));
        }
        for h in handles {
            h.await.expect("broadcaster task");
        }
    }
}
