//! A tiny blocking HTTP/1.1 client over `std::net::TcpStream`, optionally with TLS, for `peer node status`-style
//! probes and for tests that poll admin endpoints. No redirects, no keep-alive; the response is read until it
//! is complete (by `Content-Length`, chunked encoding, or the server closing) and capped at [`MAX_RESPONSE`].

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Largest response accepted, headers included; bigger ones fail with `InvalidData`.
pub const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// TLS for an operations service that has it on: the CAs its certificate chains to and, for `/logspec` and
/// `/metrics`, a client certificate.
#[derive(Debug, Clone)]
pub struct Tls(Arc<ClientConfig>);

impl Tls {
    pub fn new(
        roots: Vec<CertificateDer<'static>>,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> io::Result<Self> {
        let mut store = rustls::RootCertStore::empty();
        for c in roots {
            store.add(c).map_err(|e| invalid(&e.to_string()))?;
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| invalid(&e.to_string()))?
                .with_root_certificates(store);
        let config = match identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| invalid(&e.to_string()))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Self(Arc::new(config)))
    }
}

/// GETs `path` from `addr` (`host:port`, optionally prefixed with `http://`) and returns the status code and the
/// body. `timeout` bounds the whole exchange.
pub fn get(addr: &str, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    request("GET", addr, path, None, timeout, None)
}

/// [`get`] over TLS when `tls` is given (the host part of `addr` is the name the certificate must carry).
pub fn get_with(
    addr: &str,
    path: &str,
    timeout: Duration,
    tls: Option<&Tls>,
) -> io::Result<(u16, String)> {
    request("GET", addr, path, None, timeout, tls)
}

/// PUTs a JSON `body` to `path` on `addr`; returns the status code and the response body.
pub fn put_json(
    addr: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    request("PUT", addr, path, Some(body), timeout, None)
}

/// A plain or TLS connection.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn request(
    method: &str,
    addr: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
    tls: Option<&Tls>,
) -> io::Result<(u16, String)> {
    let deadline = Instant::now() + timeout;
    let host = addr
        .strip_prefix("http://")
        .or_else(|| addr.strip_prefix("https://"))
        .unwrap_or(addr)
        .trim_end_matches('/');
    let tcp = connect(host, timeout)?;
    tcp.set_write_timeout(Some(timeout))?;
    let mut stream = match tls {
        None => Conn::Plain(tcp),
        Some(Tls(config)) => {
            let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
            let name = ServerName::try_from(name.trim_start_matches('[').trim_end_matches(']'))
                .map_err(|e| invalid(&format!("{name}: {e}")))?
                .to_owned();
            let conn =
                ClientConnection::new(config.clone(), name).map_err(|e| invalid(&e.to_string()))?;
            Conn::Tls(Box::new(StreamOwned::new(conn, tcp)))
        }
    };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let content = body.map_or(String::new(), |b| {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        )
    });
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: weft-ops\r\nAccept: */*\r\n{content}Connection: close\r\n\r\n{}",
        body.unwrap_or("")
    );
    stream.write_all(request.as_bytes())?;
    stream.flush()?;

    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let remaining = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{method} {host}{path}: timed out"),
                )
            })?;
        stream.tcp().set_read_timeout(Some(remaining))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A TLS server that closes without close_notify after a complete response.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && tls.is_some() => 0,
            Err(e) => return Err(e),
        };
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Err(invalid("response too large"));
        }
        if let Some(response) = parse_response(&buf, n == 0)? {
            return Ok(response);
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-response",
            ));
        }
    }
}

fn connect(host: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last_error = None;
    for addr in host.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"))))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// The status and body if `buf` holds a complete response; `None` if more bytes are needed. `eof` says the
/// server has closed, which completes a response that has neither a length nor chunked encoding.
fn parse_response(buf: &[u8], eof: bool) -> io::Result<Option<(u16, String)>> {
    let Some(head_len) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head =
        std::str::from_utf8(&buf[..head_len]).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("malformed status line"))?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| invalid("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = &buf[head_len + 4..];
    let body = if status == 204 || status == 304 {
        Some(Vec::new())
    } else if chunked {
        dechunk(body)?
    } else if let Some(len) = content_length {
        (body.len() >= len).then(|| body[..len].to_vec())
    } else {
        eof.then(|| body.to_vec())
    };
    match body {
        Some(body) => {
            let text =
                String::from_utf8(body).map_err(|_| invalid("response body is not UTF-8"))?;
            Ok(Some((status, text)))
        }
        None => Ok(None),
    }
}

/// Decodes a chunked body; `None` until the terminating zero-size chunk and the blank line after any trailers.
fn dechunk(mut data: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let size_line =
            std::str::from_utf8(&data[..line_end]).map_err(|_| invalid("bad chunk size"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid("bad chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers, if any, end with a blank line.
            loop {
                let Some(end) = find(data, b"\r\n") else {
                    return Ok(None);
                };
                if end == 0 {
                    return Ok(Some(out));
                }
                data = &data[end + 2..];
            }
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&data[..size]);
        if &data[size..size + 2] != b"\r\n" {
            return Err(invalid("chunk not followed by CRLF"));
        }
        data = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_lengths_chunks_and_partial_input() {
        let fixed = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(
            parse_response(fixed, false).expect("ok"),
            Some((200, "hello".into()))
        );
        assert_eq!(
            parse_response(&fixed[..fixed.len() - 1], false).expect("ok"),
            None
        );

        let chunked = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(
            parse_response(chunked, false).expect("ok"),
            Some((503, "abcde".into()))
        );
        assert_eq!(
            parse_response(&chunked[..chunked.len() - 2], false).expect("ok"),
            None
        );

        let until_close = b"HTTP/1.0 200 OK\r\n\r\nbody";
        assert_eq!(parse_response(until_close, false).expect("ok"), None);
        assert_eq!(
            parse_response(until_close, true).expect("ok"),
            Some((200, "body".into()))
        );

        assert!(parse_response(b"garbage\r\n\r\n", true).is_err());
    }

    #[test]
    fn reads_a_chunked_response_from_a_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                conn.read_exact(&mut byte).expect("read request");
                request.push(byte[0]);
            }
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nweft\r\n0\r\n\r\n",
            )
            .expect("write");
            String::from_utf8(request).expect("utf8 request")
        });
        let got = get(&format!("http://{addr}"), "status", Duration::from_secs(10)).expect("get");
        assert_eq!(got, (200, "weft".into()));
        let request = server.join().expect("server thread");
        assert!(request.starts_with("GET /status HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("Connection: close\r\n"), "{request}");
    }

    #[test]
    fn connection_refused_is_an_error() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        // The listener is dropped here, so nothing listens on the port any more.
        assert!(get(&addr.to_string(), "/healthz", Duration::from_secs(5)).is_err());
    }
}
