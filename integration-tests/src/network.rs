//! Fabric's first-network as child processes on free loopback ports: generating it, starting, killing and
//! restarting its nodes. Driving them is in [`cli`] (the peer CLI), [`ops`] (operations endpoints) and
//! [`broadcast`] (orderer load).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::{bin_dir, free_port, repo_root, wait_for};

mod broadcast;
mod cli;
mod ops;

pub use broadcast::{BroadcastSession, Broadcaster};

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

    /// CPU time a running node's process has used so far, all threads, user and system (from `/proc`).
    pub fn cpu_time(&self, name: &str) -> Option<Duration> {
        let pid = self.children.get(name)?.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The fields after the command name, which is in parentheses and may hold spaces: utime and stime
        // are the 12th and 13th, in clock ticks of 1/100 s (USER_HZ, fixed by Linux's ABI).
        let rest = stat.get(stat.rfind(')')? + 2..)?;
        let mut fields = rest.split(' ').skip(11);
        let ticks: u64 =
            fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
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
