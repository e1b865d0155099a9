//! Free loopback ports for the nodes of a test network.

use std::collections::HashSet;
use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port free for both TCP and UDP on 127.0.0.1, never handed out twice by this process. The OS may
/// still give it to someone else before the node binds it; the window is small and nodes fail loudly.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let mut handed = HANDED_OUT.lock().expect("ports lock");
        if handed.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}
