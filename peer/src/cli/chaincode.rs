//! `peer chaincode invoke | query` and `peer lifecycle chaincode commit | querycommitted`.

use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use tracing::Instrument;
use weft_net::Connection;
use weft_wire::common::{ChannelConfig, TxValidationCode};
use weft_wire::peer::ProposalResponse;
use weft_wire::service::{PeerAdminRequest, peer_admin_request, peer_admin_response};

use super::context::ClientContext;
use super::{ChaincodeArgs, ChaincodeCmd, LifecycleArgs, LifecycleChaincodeCmd, PeerFlags};
use crate::{client, proposal};

/// Parses `-c '{"Args":["F","a"]}'` (or `{"function":"F","Args":["a"]}`) into the call's arguments.
pub fn parse_ctor(ctor: &str) -> Result<Vec<Vec<u8>>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ctor {
        #[serde(rename = "Args", alias = "args", default)]
        args: Vec<String>,
        #[serde(rename = "function", alias = "Function")]
        function: Option<String>,
    }
    let c: Ctor = serde_json::from_str(ctor)
        .with_context(|| format!("invalid -c argument {ctor:?}: expected JSON like '{{\"Args\":[\"Function\",\"arg1\"]}}'"))?;
    let args: Vec<Vec<u8>> = c
        .function
        .into_iter()
        .chain(c.args)
        .map(String::into_bytes)
        .collect();
    if args.is_empty() {
        bail!("invalid -c argument {ctor:?}: no function given");
    }
    Ok(args)
}

pub async fn run(args: ChaincodeArgs) -> Result<()> {
    let ctx = ClientContext::new(&args.orderer)?;
    match args.verb {
        ChaincodeCmd::Invoke {
            channel,
            name,
            ctor,
            peers,
        } => {
            let call = parse_ctor(&ctor)?;
            let (payload, code) = invoke(&ctx, &channel, &name, call, &peers).await?;
            report_commit(code)?;
            println!(
                "Chaincode invoke successful. result: status:200 payload:{:?}",
                String::from_utf8_lossy(&payload)
            );
        }
        ChaincodeCmd::Query {
            channel,
            name,
            ctor,
            peers,
        } => {
            let call = parse_ctor(&ctor)?;
            let payload = query(&ctx, &channel, &name, call, &peers).await?;
            println!("{}", String::from_utf8_lossy(&payload));
        }
    }
    Ok(())
}

pub async fn run_lifecycle(args: LifecycleArgs) -> Result<()> {
    let ctx = ClientContext::new(&args.orderer)?;
    let super::LifecycleCmd::Chaincode(verb) = args.verb;
    match verb {
        LifecycleChaincodeCmd::Commit {
            channel,
            name,
            version,
            sequence,
            signature_policy,
            channel_config_policy,
            peers,
        } => {
            let policy = signature_policy
                .or(channel_config_policy)
                .unwrap_or_default();
            let call = [
                "CommitChaincodeDefinition",
                &name,
                &version,
                &sequence.to_string(),
                &policy,
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
            let (_, code) = invoke(&ctx, &channel, weft_chaincode::LIFECYCLE, call, &peers).await?;
            report_commit(code)?;
            println!("Chaincode definition committed on channel '{channel}'");
        }
        LifecycleChaincodeCmd::Querycommitted {
            channel,
            name,
            peers,
        } => {
            let call = vec![
                b"QueryChaincodeDefinition".to_vec(),
                name.clone().into_bytes(),
            ];
            let payload = query(&ctx, &channel, weft_chaincode::LIFECYCLE, call, &peers).await?;
            let def: serde_json::Value =
                serde_json::from_slice(&payload).context("unexpected definition format")?;
            println!(
                "Committed chaincode definition for chaincode '{name}' on channel '{channel}':"
            );
            println!(
                "Version: {}, Sequence: {}, Endorsement Policy: {}",
                def["version"].as_str().unwrap_or(""),
                def["sequence"],
                def["endorsement_policy"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

fn report_commit(code: Option<i32>) -> Result<()> {
    match code.map(TxValidationCode::try_from) {
        None | Some(Ok(TxValidationCode::Valid)) => Ok(()),
        Some(Ok(c)) => bail!("transaction invalidated with status ({})", c.as_str_name()),
        Some(Err(_)) => bail!("transaction invalidated with an unknown status"),
    }
}

fn targets(ctx: &ClientContext, peers: &PeerFlags) -> Result<Vec<String>> {
    for f in &peers.tls_root_cert_files {
        let data =
            std::fs::read(f).with_context(|| format!("--tlsRootCertFiles {}", f.display()))?;
        ctx.trust
            .extend(weft_crypto::pem::blocks(&data, "CERTIFICATE").map_err(anyhow::Error::msg)?);
    }
    Ok(if peers.peer_addresses.is_empty() {
        vec![ctx.config.config.peer.address.clone()]
    } else {
        peers.peer_addresses.clone()
    })
}

/// Asks our own peer (CORE_PEER_ADDRESS, whose TLS root we trust) for the channel config, to learn the other
/// orgs' TLS roots and the orderers.
async fn channel_config(ctx: &ClientContext, peer: &str, channel: &str) -> Result<ChannelConfig> {
    let conn = ctx.peer_at(peer).await?;
    let req = PeerAdminRequest {
        op: Some(peer_admin_request::Op::ChannelConfig(channel.to_string())),
    };
    let resp = client::peer_admin(&conn, &ctx.signer, req)
        .await
        .with_context(|| format!("channel config from {peer}"))?;
    match resp.result {
        Some(peer_admin_response::Result::Config(c)) => Ok(c),
        _ => bail!("{peer} returned no channel config"),
    }
}

async fn endorse_all(
    conns: &[(String, Connection)],
    built: &proposal::Built,
) -> Result<Vec<ProposalResponse>> {
    let mut out = Vec::with_capacity(conns.len());
    for (p, conn) in conns {
        out.push(
            client::endorse(conn, built.signed.clone())
                .await
                .with_context(|| format!("endorsement from {p}"))?,
        );
    }
    Ok(out)
}

async fn query(
    ctx: &ClientContext,
    channel: &str,
    name: &str,
    call: Vec<Vec<u8>>,
    peers: &PeerFlags,
) -> Result<Vec<u8>> {
    let targets = targets(ctx, peers)?;
    let built = proposal::build(
        &ctx.signer,
        channel,
        name,
        call,
        SystemTime::now(),
        Default::default(),
    );
    let conn = ctx.peer_at(&targets[0]).await?;
    let resp = client::endorse(&conn, built.signed.clone()).await?;
    Ok(proposal::payload_of(&resp)?)
}

/// Endorses on every target, orders the transaction, and with `--waitForEvent` waits for its commit event from
/// every target; returns the chaincode's payload and, when waited for, the validation code (not VALID if any
/// peer said otherwise).
async fn invoke(
    ctx: &ClientContext,
    channel: &str,
    name: &str,
    call: Vec<Vec<u8>>,
    peers: &PeerFlags,
) -> Result<(Vec<u8>, Option<i32>)> {
    let targets = targets(ctx, peers)?;
    let own = ctx.config.config.peer.address.clone();
    let config = channel_config(ctx, &own, channel).await?;
    ctx.trust
        .extend(weft_crypto::bundle::all_orgs(&config).flat_map(|o| o.tls_root_certs.clone()));
    // Connections first, outside the transaction's span: quinn runs each connection's driver in the span
    // current when it is opened, which would then stay open (and unexported) as long as the connection.
    let mut endorsers = Vec::with_capacity(targets.len());
    for t in &targets {
        endorsers.push((t.clone(), ctx.peer_at(t).await?));
    }
    let orderer = if ctx.has_orderer() {
        ctx.orderer().await?
    } else {
        let addr = config
            .orderer_addresses
            .first()
            .context("the channel config lists no orderer; give -o")?;
        ctx.endpoint
            .connect_host(addr, None)
            .await
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("connecting to orderer {addr}"))?
    };
    // The root of the transaction's trace: endorsement, ordering, and every peer's commit of its block.
    let span = tracing::info_span!(
        "chaincode_invoke",
        channel,
        chaincode = name,
        tx_id = tracing::field::Empty
    );
    let built = proposal::build(
        &ctx.signer,
        channel,
        name,
        call,
        SystemTime::now(),
        weft_ops::trace::inject(&span),
    );
    span.record("tx_id", built.tx_id.as_str());
    let (payload, events) = async {
        let responses = endorse_all(&endorsers, &built).await?;
        let payload = proposal::payload_of(&responses[0])?;
        let env = proposal::assemble(&ctx.signer, &built, &responses)?;
        // With --waitForEvent, every endorsing peer's commit events (as Fabric's CLI waits for each of
        // --peerAddresses), started before the transaction goes to the orderer: a peer that refuses them
        // (not a reader of the channel) is reported before anything is submitted.
        let mut events = Vec::new();
        if peers.wait_for_event {
            for (p, conn) in &endorsers {
                let seek = client::seek_envelope(
                    &ctx.signer,
                    channel,
                    client::newest(),
                    client::at(u64::MAX),
                    true,
                );
                let mut stream = client::deliver_filtered(conn, seek)
                    .await
                    .with_context(|| format!("commit events from {p}"))?;
                // The newest block comes at once: the stream is accepted, and starts before our transaction.
                client::next_filtered(&mut stream)
                    .await
                    .with_context(|| format!("commit events from {p}"))?;
                events.push((p.clone(), stream));
            }
        }
        client::broadcast(&orderer, env)
            .await
            .context("the orderer refused the transaction")?;
        anyhow::Ok((payload, events))
    }
    .instrument(span)
    .await?;
    if events.is_empty() {
        return Ok((payload, None));
    }
    let deadline = tokio::time::Instant::now() + peers.wait_for_event_timeout;
    let mut code = TxValidationCode::Valid as i32;
    for (p, mut stream) in events {
        let (block, c) =
            tokio::time::timeout_at(deadline, client::commit_of(&mut stream, &built.tx_id))
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "timed out waiting for txid {} on {p} ({:?}, --waitForEventTimeout)",
                        built.tx_id,
                        peers.wait_for_event_timeout
                    )
                })?
                .with_context(|| format!("waiting for the commit of {} on {p}", built.tx_id))?;
        stream.finish();
        tracing::info!(target: "chaincodeCmd", tx_id = %built.tx_id, block, "txid [{}] committed with status ({}) at {p}",
            built.tx_id, TxValidationCode::try_from(c).map_or("UNKNOWN", |c| c.as_str_name()));
        if c != TxValidationCode::Valid as i32 {
            code = c;
        }
    }
    Ok((payload, Some(code)))
}

#[cfg(test)]
mod tests {
    use super::parse_ctor;

    #[test]
    fn ctor_forms_and_errors() {
        assert_eq!(
            parse_ctor(r#"{"Args":["ReadAsset","a1"]}"#).unwrap(),
            vec![b"ReadAsset".to_vec(), b"a1".to_vec()]
        );
        assert_eq!(
            parse_ctor(r#"{"function":"Get","Args":["k"]}"#).unwrap(),
            vec![b"Get".to_vec(), b"k".to_vec()]
        );
        for bad in [
            r#"{"Args":["a""#,
            "not json",
            r#"{"Args":[]}"#,
            r#"{"Argz":["x"]}"#,
        ] {
            let err = parse_ctor(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid -c argument"), "{bad}: {err}");
        }
    }
}
