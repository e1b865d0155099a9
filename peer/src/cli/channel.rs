//! `peer channel create | join | update | fetch | getinfo | list`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use base64::Engine;
use weft_crypto::{Signer, envelope};
use weft_wire::Message;
use weft_wire::common::{
    Block, ConfigSignature, ConfigUpdateEnvelope, Envelope, HeaderType, SignatureHeader,
};
use weft_wire::service::{ListChannels, PeerAdminRequest, peer_admin_request, peer_admin_response};

use super::context::ClientContext;
use super::{ChannelArgs, ChannelCmd};
use crate::client;

pub async fn run(args: ChannelArgs) -> Result<()> {
    let ctx = ClientContext::new(&args.orderer)?;
    match args.verb {
        ChannelCmd::Create {
            channel,
            file,
            output_block,
            timeout,
        } => {
            let env = signed_config_update(&ctx.signer, &channel, &file)?;
            let conn = ctx.orderer().await?;
            client::broadcast(&conn, env)
                .await
                .context("channel creation refused")?;
            let block = wait_for_block(&ctx, &conn, &channel, 0, timeout).await?;
            let out = output_block.unwrap_or_else(|| PathBuf::from(format!("{channel}.block")));
            write_block(&out, &block)?;
            println!("Received block: 0");
        }
        ChannelCmd::Join { blockpath } => {
            let raw = std::fs::read(&blockpath)
                .with_context(|| format!("reading {}", blockpath.display()))?;
            let block: Block = weft_wire::decode("block", &raw)
                .with_context(|| blockpath.display().to_string())?;
            let conn = ctx.peer().await?;
            let req = PeerAdminRequest {
                op: Some(peer_admin_request::Op::JoinChannel(block)),
            };
            client::peer_admin(&conn, &ctx.signer, req)
                .await
                .context("join refused")?;
            println!("Successfully submitted proposal to join channel");
        }
        ChannelCmd::Update { channel, file } => {
            let env = signed_config_update(&ctx.signer, &channel, &file)?;
            let conn = ctx.orderer().await?;
            client::broadcast(&conn, env)
                .await
                .context("channel update refused")?;
            println!("Successfully submitted channel update");
        }
        ChannelCmd::Fetch {
            which,
            output,
            channel,
        } => {
            let conn = ctx.orderer().await?;
            let pos = match which.as_str() {
                "newest" | "config" => client::newest(),
                "oldest" => client::oldest(),
                n => client::at(n.parse().with_context(|| {
                    format!("{n:?} is not newest, oldest, config or a block number")
                })?),
            };
            let mut block = client::fetch(&conn, &ctx.signer, &channel, pos).await?;
            if which == "config" {
                let index = weft_crypto::block::last_config_index(&block)
                    .context("block names no last config")?;
                block = client::fetch(&conn, &ctx.signer, &channel, client::at(index)).await?;
            }
            let number = block.header.as_ref().map_or(0, |h| h.number);
            let out = output.unwrap_or_else(|| PathBuf::from(format!("{channel}_{which}.block")));
            write_block(&out, &block)?;
            println!("Received block: {number}");
        }
        ChannelCmd::Getinfo { channel } => {
            let conn = ctx.peer().await?;
            let req = PeerAdminRequest {
                op: Some(peer_admin_request::Op::ChannelInfo(channel)),
            };
            let resp = client::peer_admin(&conn, &ctx.signer, req).await?;
            let Some(peer_admin_response::Result::Info(info)) = resp.result else {
                bail!("the peer returned no chain info");
            };
            println!("Blockchain info: {}", blockchain_info_json(&info));
        }
        ChannelCmd::List => {
            let conn = ctx.peer().await?;
            let req = PeerAdminRequest {
                op: Some(peer_admin_request::Op::ListChannels(ListChannels {})),
            };
            let resp = client::peer_admin(&conn, &ctx.signer, req).await?;
            let Some(peer_admin_response::Result::Channels(list)) = resp.result else {
                bail!("the peer returned no channel list");
            };
            println!("Channels peers has joined: ");
            for c in list.channels {
                println!("{c}");
            }
        }
    }
    Ok(())
}

fn write_block(path: &Path, block: &Block) -> Result<()> {
    std::fs::write(path, block.encode_to_vec())
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a config update transaction (as configtxgen writes it), adds this identity's config signature, and
/// wraps it in an envelope signed by the same identity, as `peer channel create | update` do.
pub fn signed_config_update(signer: &Signer, channel: &str, file: &Path) -> Result<Envelope> {
    let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let env: Envelope = weft_wire::decode("config update transaction", &raw)
        .with_context(|| file.display().to_string())?;
    let opened = envelope::open(&env).with_context(|| file.display().to_string())?;
    if opened.header_type() != HeaderType::ConfigUpdate as i32 {
        bail!("{} is not a config update transaction", file.display());
    }
    if opened.channel_id() != channel {
        bail!(
            "{} is for channel {:?}, not {channel:?} (-c)",
            file.display(),
            opened.channel_id()
        );
    }
    let mut update: ConfigUpdateEnvelope =
        weft_wire::decode("config update envelope", &opened.data)
            .with_context(|| file.display().to_string())?;
    let sig_header = SignatureHeader {
        creator: signer.serialized().to_vec(),
        nonce: signer.nonce(),
    }
    .encode_to_vec();
    let signature = signer.sign(&[sig_header.as_slice(), &update.config_update].concat());
    update.signatures.push(ConfigSignature {
        signature_header: sig_header,
        signature,
    });
    Ok(envelope::create(
        signer,
        HeaderType::ConfigUpdate,
        channel,
        update.encode_to_vec(),
        SystemTime::now(),
    )
    .0)
}

/// Waits up to `timeout` for block `number` with a `BLOCK_UNTIL_READY` Deliver: the orderer
/// holds the stream open until the block is cut, so there is nothing to poll.
async fn wait_for_block(
    ctx: &ClientContext,
    conn: &weft_net::Connection,
    channel: &str,
    number: u64,
    timeout: std::time::Duration,
) -> Result<Block> {
    let at = client::at(number);
    let fetch = async {
        let mut stream = client::deliver(
            conn,
            client::seek_envelope(&ctx.signer, channel, at, at, true),
        )
        .await?;
        client::next_block(&mut stream)
            .await?
            .ok_or(client::ClientError::NoAnswer)
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .with_context(|| format!("block {number} of {channel} not ready within {timeout:?}"))?
        .with_context(|| format!("fetching block {number} of {channel}"))
}

/// Fabric's `getinfo` JSON: height first, hashes in base64.
pub fn blockchain_info_json(info: &weft_wire::service::BlockchainInfo) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Info {
        height: u64,
        current_block_hash: String,
        previous_block_hash: String,
    }
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    serde_json::to_string(&Info {
        height: info.height,
        current_block_hash: b64(&info.current_block_hash),
        previous_block_hash: b64(&info.previous_block_hash),
    })
    .expect("plain struct serialises")
}
