//! One QUIC endpoint per process: it accepts connections and dials others, always with mutual TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls_pki_types::CertificateDer;

use crate::frame::Framed;
use crate::tls::{NodeTls, TlsError};
use crate::trust::TrustStore;

/// Limits and timers of every connection.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The largest frame accepted or sent.
    pub max_frame: usize,
    /// Keep-alive ping period: with no traffic, a ping every `keep_alive` keeps the idle timer from firing.
    pub keep_alive: Duration,
    /// A connection with no packet from the other side for this long is closed. QUIC gets no reset when the
    /// other process dies, so this bounds how long a dead peer's connection lingers.
    pub idle_timeout: Duration,
    /// Streams the other side may have open at once on a connection (back-pressure beyond that).
    pub max_streams: u32,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            max_frame: 100 * 1024 * 1024,
            keep_alive: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(5),
            max_streams: 256,
        }
    }
}

/// The UDP receive buffer asked of the kernel (it caps the request at `net.core.rmem_max`). A block of a few
/// hundred KB arrives as a burst of datagrams; the default buffer (about 200 KB) overflows under such bursts
/// and every datagram dropped there is a loss QUIC must detect and resend.
const UDP_RECV_BUFFER: usize = 8 << 20;

/// The largest UDP payload sent or accepted, and the bound of MTU discovery. Datagrams start at 1,200 bytes and
/// grow to what the path carries: about 1,470 on Ethernet, this bound on loopback (MTU 64 KiB), where a 300 KB
/// block then takes 47 datagrams instead of 205, each with its own encryption, header protection and
/// acknowledgement. Not larger: quinn hands the kernel up to 10 datagrams in one segmentation-offload send,
/// which must stay within 64 KiB (beyond it the send fails, the datagrams count as lost, and after a few such
/// losses discovery falls back to 1,200 bytes).
const MAX_UDP_PAYLOAD: u16 = 6_500;

impl TransportConfig {
    fn quinn(&self) -> Arc<quinn::TransportConfig> {
        let mut t = quinn::TransportConfig::default();
        let mut mtu = quinn::MtuDiscoveryConfig::default();
        mtu.upper_bound(MAX_UDP_PAYLOAD);
        t.mtu_discovery_config(Some(mtu));
        t.keep_alive_interval(Some(self.keep_alive));
        t.max_idle_timeout(Some(
            self.idle_timeout
                .try_into()
                .expect("idle timeout fits QUIC's range"),
        ));
        t.max_concurrent_bidi_streams(self.max_streams.into());
        t.max_concurrent_uni_streams(0u32.into());
        Arc::new(t)
    }
}

/// A QUIC endpoint bound to a UDP address.
#[derive(Debug, Clone)]
pub struct Endpoint {
    inner: quinn::Endpoint,
    config: TransportConfig,
    client: quinn::ClientConfig,
}

/// An authenticated connection; the remote's TLS certificate chain is available.
#[derive(Debug, Clone)]
pub struct Connection {
    pub inner: quinn::Connection,
    max_frame: usize,
}

impl Endpoint {
    /// Binds `addr` and serves as well as dials. `addr` may have port 0.
    pub fn bind(
        addr: SocketAddr,
        tls: &NodeTls,
        trust: &TrustStore,
        config: TransportConfig,
    ) -> Result<Self, TlsError> {
        let server = QuicServerConfig::try_from(tls.server_config(trust)?)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server));
        server.transport_config(config.quinn());
        let inner = endpoint(addr, Some(server))
            .map_err(|e| TlsError::Config(format!("cannot bind UDP {addr}: {e}")))?;
        let client = client_config(tls, trust, &config)?;
        Ok(Self {
            inner,
            config,
            client,
        })
    }

    /// An endpoint that only dials (a CLI), on an ephemeral loopback or wildcard port.
    pub fn client(
        tls: &NodeTls,
        trust: &TrustStore,
        config: TransportConfig,
    ) -> Result<Self, TlsError> {
        let bind: SocketAddr = "0.0.0.0:0".parse().expect("valid address");
        let inner =
            endpoint(bind, None).map_err(|e| TlsError::Config(format!("cannot bind UDP: {e}")))?;
        let client = client_config(tls, trust, &config)?;
        Ok(Self {
            inner,
            config,
            client,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Dials `addr`, verifying that the server's certificate is valid for `server_name` and issued by a trusted CA.
    pub async fn connect(&self, addr: SocketAddr, server_name: &str) -> Result<Connection, String> {
        let connecting = self
            .inner
            .connect_with(self.client.clone(), addr, server_name)
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let inner = connecting
            .await
            .map_err(|e| format!("connection to {server_name} ({addr}) failed: {e}"))?;
        Ok(Connection {
            inner,
            max_frame: self.config.max_frame,
        })
    }

    /// Resolves `host:port` and dials it, using `host` (or `server_name_override`) as the TLS name.
    pub async fn connect_host(
        &self,
        endpoint: &str,
        server_name_override: Option<&str>,
    ) -> Result<Connection, String> {
        let (host, _) = endpoint
            .rsplit_once(':')
            .ok_or_else(|| format!("endpoint {endpoint:?} is not host:port"))?;
        let addr = tokio::net::lookup_host(endpoint)
            .await
            .map_err(|e| format!("cannot resolve {endpoint}: {e}"))?
            .next()
            .ok_or_else(|| format!("{endpoint} resolves to no address"))?;
        let name =
            server_name_override.unwrap_or(host.trim_start_matches('[').trim_end_matches(']'));
        self.connect(addr, name).await
    }

    /// The next incoming connection that completes its handshake. Failed handshakes (unknown CA, expired
    /// certificate, no client certificate) are logged and skipped. `None` once the endpoint is closed.
    pub async fn accept(&self) -> Option<Connection> {
        loop {
            let incoming = self.inner.accept().await?;
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(inner) => {
                    return Some(Connection {
                        inner,
                        max_frame: self.config.max_frame,
                    });
                }
                Err(e) => {
                    tracing::warn!(target: "comm", %remote, error = %e, "refused connection: TLS handshake failed");
                    metrics::counter!("comm_connections_refused_total").increment(1);
                }
            }
        }
    }

    /// Closes every connection and stops accepting.
    pub fn close(&self) {
        self.inner.close(0u32.into(), b"shutdown");
    }
}

/// A quinn endpoint on [`udp_socket`]`(addr)`.
fn endpoint(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
) -> std::io::Result<quinn::Endpoint> {
    let mut config = quinn::EndpointConfig::default();
    config
        .max_udp_payload_size(MAX_UDP_PAYLOAD)
        .expect("a payload size within QUIC's bounds");
    quinn::Endpoint::new(
        config,
        server,
        udp_socket(addr)?,
        Arc::new(quinn::TokioRuntime),
    )
}

/// A UDP socket bound to `addr` with a receive buffer of [`UDP_RECV_BUFFER`], or as much of it as the kernel
/// allows.
fn udp_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(UDP_RECV_BUFFER) {
        tracing::warn!(target: "comm", error = %e, "cannot enlarge the UDP receive buffer");
    }
    // Linux grants at most net.core.rmem_max and reports twice what it grants (its bookkeeping included).
    let got = socket.recv_buffer_size().unwrap_or(0);
    if got < UDP_RECV_BUFFER {
        tracing::info!(target: "comm", asked = UDP_RECV_BUFFER, got,
            "UDP receive buffer smaller than asked; raise net.core.rmem_max for fewer losses under bursts");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn client_config(
    tls: &NodeTls,
    trust: &TrustStore,
    config: &TransportConfig,
) -> Result<quinn::ClientConfig, TlsError> {
    let crypto = QuicClientConfig::try_from(tls.client_config(trust)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    client.transport_config(config.quinn());
    Ok(client)
}

impl Connection {
    pub fn remote_address(&self) -> SocketAddr {
        self.inner.remote_address()
    }

    /// The DER of the remote's leaf TLS certificate.
    pub fn peer_cert(&self) -> Option<Vec<u8>> {
        let any = self.inner.peer_identity()?;
        let chain = any.downcast::<Vec<CertificateDer<'static>>>().ok()?;
        chain.first().map(|c| c.to_vec())
    }

    /// Opens a stream.
    pub async fn open(&self) -> Result<Framed, String> {
        let (send, recv) = self
            .inner
            .open_bi()
            .await
            .map_err(|e| format!("cannot open stream: {e}"))?;
        Ok(Framed::new(send, recv, self.max_frame, self.inner.clone()))
    }

    /// The next stream the other side opens, or `None` when the connection is closed.
    pub async fn accept_stream(&self) -> Option<Framed> {
        let (send, recv) = self.inner.accept_bi().await.ok()?;
        Some(Framed::new(send, recv, self.max_frame, self.inner.clone()))
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<String> {
        self.inner.close_reason().map(|e| e.to_string())
    }

    pub fn close(&self, reason: &str) {
        self.inner.close(0u32.into(), reason.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_udp_receive_buffer_is_as_large_as_the_kernel_allows() {
        let socket = udp_socket("127.0.0.1:0".parse().unwrap()).unwrap();
        let got = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Reported doubled; the default (net.core.rmem_default, about 200 KB) is what a plain bind gets.
        assert!(
            got >= 2 * max.min(UDP_RECV_BUFFER),
            "got {got}, kernel allows {max}"
        );
    }
}
