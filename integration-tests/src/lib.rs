//! Harness for tests that run weft's real binaries as processes on loopback.
//!
//! A [`Network`] is Fabric's first-network generated from `deploy/local`'s crypto-config and configtx
//! template into a temp dir, with free ports chosen here. Nodes run as child processes logging to files in
//! that dir; tests drive them with the real `peer` CLI and observe them through their operations endpoints,
//! waiting on conditions with deadlines ([`wait_for`]), never on fixed sleeps.

mod network;
mod ports;
mod wait;

pub use network::{BroadcastSession, Broadcaster, Network, NodeInfo, Options};
pub use ports::free_port;
pub use wait::wait_for;

use std::path::PathBuf;

/// The folder holding the workspace's built binaries (`target/debug` next to the test executable).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WEFT_BIN") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> → target/debug
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf()
}

/// The workspace root (for `deploy/local`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}
