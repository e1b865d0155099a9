//! Length-delimited protobuf frames on a QUIC bidirectional stream.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of one protobuf message. A frame
//! longer than the stream's maximum is refused before its body is read, and the stream is reset.

use prost::Message;
use quinn::{RecvStream, SendStream};

/// Why a frame could not be sent or received. The stream is unusable afterwards.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("stream closed in the middle of a frame")]
    Truncated,
    #[error("connection lost: {0}")]
    Connection(String),
}

/// Both halves of a bidirectional stream, speaking frames.
#[derive(Debug)]
pub struct Framed {
    pub send: SendStream,
    pub recv: RecvStream,
    max: usize,
    // Kept to explain a broken stream by its connection's close reason (e.g. the TLS alert of a server that
    // refused this client's certificate after the client considered the handshake done).
    conn: quinn::Connection,
}

impl Framed {
    pub fn new(send: SendStream, recv: RecvStream, max: usize, conn: quinn::Connection) -> Self {
        Self {
            send,
            recv,
            max,
            conn,
        }
    }

    fn explain(&self, e: FrameError) -> FrameError {
        match (e, self.conn.close_reason()) {
            (FrameError::Connection(_), Some(reason)) => FrameError::Connection(reason.to_string()),
            (e, _) => e,
        }
    }

    /// Sends one message.
    pub async fn send<M: Message>(&mut self, msg: &M) -> Result<(), FrameError> {
        let result = write_frame(&mut self.send, msg.encode_to_vec(), self.max).await;
        result.map_err(|e| self.explain(e))
    }

    /// Receives one message, or `None` when the other side finished the stream between frames.
    pub async fn recv<M: Message + Default>(&mut self) -> Result<Option<M>, FrameError> {
        let frame = read_frame(&mut self.recv, self.max).await;
        match frame.map_err(|e| self.explain(e))? {
            None => Ok(None),
            Some(bytes) => M::decode(bytes.as_slice())
                .map(Some)
                .map_err(|e| FrameError::Malformed(e.to_string())),
        }
    }

    /// The largest frame this stream accepts or sends.
    pub fn max_frame(&self) -> usize {
        self.max
    }

    /// The two halves and the frame limit, for a reader and a writer that run as separate tasks (use
    /// [`read_frame`] and [`write_frame`] on them).
    pub fn into_parts(self) -> (SendStream, RecvStream, usize) {
        (self.send, self.recv, self.max)
    }

    /// Finishes the sending half: the other side's `recv` then returns `None`.
    pub fn finish(&mut self) {
        let _ = self.send.finish();
    }
}

/// Writes one frame. The body is handed to QUIC as it is (`write_all(&[u8])` would copy it first: a few
/// hundred KB per block and hop).
pub async fn write_frame(
    send: &mut SendStream,
    body: Vec<u8>,
    max: usize,
) -> Result<(), FrameError> {
    if body.len() > max {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max,
        });
    }
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        len: body.len(),
        max,
    })?;
    let mut chunks = [
        bytes::Bytes::copy_from_slice(&len.to_be_bytes()),
        bytes::Bytes::from(body),
    ];
    send.write_all_chunks(&mut chunks)
        .await
        .map_err(|e| FrameError::Connection(e.to_string()))
}

/// Reads one frame; `None` on a clean end of stream before a length prefix.
pub async fn read_frame(recv: &mut RecvStream, max: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match recv
            .read(&mut len[got..])
            .await
            .map_err(|e| FrameError::Connection(e.to_string()))?
        {
            Some(n) => got += n,
            None if got == 0 => return Ok(None),
            None => return Err(FrameError::Truncated),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        let _ = recv.stop(quinn::VarInt::from_u32(1));
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body).await.map_err(|e| match e {
        quinn::ReadExactError::FinishedEarly(_) => FrameError::Truncated,
        quinn::ReadExactError::ReadError(e) => FrameError::Connection(e.to_string()),
    })?;
    Ok(Some(body))
}
