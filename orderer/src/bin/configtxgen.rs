//! `configtxgen`: writes genesis blocks, channel creation and anchor peer update transactions from
//! configtx.yaml, with Fabric's flags (`-profile`, `-channelID`, `-outputBlock`, `-outputCreateChannelTx`,
//! `-outputAnchorPeersUpdate`, `-asOrg`, `-configPath`).

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use clap::Parser;
use weft_orderer::configtx;
use weft_wire::Message;

#[derive(Parser)]
#[command(
    name = "configtxgen",
    version,
    about = "Generate channel configuration artifacts from configtx.yaml"
)]
struct Cli {
    /// The profile from configtx.yaml to use.
    #[arg(long = "profile")]
    profile: Option<String>,
    /// The channel ID to use in the configtx.
    #[arg(long = "channelID")]
    channel_id: Option<String>,
    /// Write the genesis block to this file.
    #[arg(long = "outputBlock")]
    output_block: Option<PathBuf>,
    /// Write a channel creation transaction to this file.
    #[arg(long = "outputCreateChannelTx")]
    output_create_channel_tx: Option<PathBuf>,
    /// Write an anchor peer update (for -asOrg) to this file.
    #[arg(long = "outputAnchorPeersUpdate")]
    output_anchor_peers_update: Option<PathBuf>,
    /// The organization (name or MSP ID) for -outputAnchorPeersUpdate.
    #[arg(long = "asOrg")]
    as_org: Option<String>,
    /// The folder holding configtx.yaml (default: FABRIC_CFG_PATH, then the current folder).
    #[arg(long = "configPath")]
    config_path: Option<PathBuf>,
}

/// Go's flag package accepts `-flag` as well as `--flag`; clap wants the double dash for long names.
fn go_style_args() -> Vec<String> {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.starts_with('-') && !a.starts_with("--") && a.len() > 2 {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

fn main() -> Result<()> {
    let cli = Cli::parse_from(go_style_args());
    let profile = cli.profile.context("-profile is required")?;
    let dir = cli
        .config_path
        .or_else(|| std::env::var_os("FABRIC_CFG_PATH").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let tx = configtx::load(&dir)?;
    let now = SystemTime::now();
    let mut wrote = false;
    if let Some(out) = &cli.output_block {
        let channel = cli
            .channel_id
            .clone()
            .unwrap_or_else(|| "system-channel".into());
        let config = configtx::genesis_config(&tx, &profile, &channel)?;
        let block = configtx::genesis_block(config, now);
        std::fs::write(out, block.encode_to_vec())
            .with_context(|| format!("writing {}", out.display()))?;
        println!(
            "Generating genesis block for channel {channel} -> {}",
            out.display()
        );
        wrote = true;
    }
    if let Some(out) = &cli.output_create_channel_tx {
        let channel = cli
            .channel_id
            .clone()
            .context("-channelID is required with -outputCreateChannelTx")?;
        let env = configtx::channel_create_tx(&tx, &profile, &channel, now)?;
        std::fs::write(out, env.encode_to_vec())
            .with_context(|| format!("writing {}", out.display()))?;
        println!(
            "Generating new channel configtx for {channel} -> {}",
            out.display()
        );
        wrote = true;
    }
    if let Some(out) = &cli.output_anchor_peers_update {
        let channel = cli
            .channel_id
            .clone()
            .context("-channelID is required with -outputAnchorPeersUpdate")?;
        let org = cli
            .as_org
            .clone()
            .context("-asOrg is required with -outputAnchorPeersUpdate")?;
        let env = configtx::anchor_peers_update(&tx, &profile, &channel, &org, now)?;
        std::fs::write(out, env.encode_to_vec())
            .with_context(|| format!("writing {}", out.display()))?;
        println!(
            "Generating anchor peer update for {org} on {channel} -> {}",
            out.display()
        );
        wrote = true;
    }
    if !wrote {
        bail!(
            "nothing to do: give -outputBlock, -outputCreateChannelTx or -outputAnchorPeersUpdate"
        );
    }
    Ok(())
}
