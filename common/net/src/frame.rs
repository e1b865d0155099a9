//! Length-delimited protobuf frames on a QUIC bidirectional stream.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of one protobuf message. A frame
//! longer than the stream's maximum is refused before its body is read, and the stream is reset.

use bytes::{Bytes, BytesMut};
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
        let result = write_frame(&mut self.send, vec![msg.encode_to_vec().into()], self.max).await;
        result.map_err(|e| self.explain(e))
    }

    /// Sends `rest` with its bytes field number `field` set to `value`, without copying `value` (see
    /// [`with_bytes_field`]).
    pub async fn send_with_bytes<M: Message>(
        &mut self,
        field: u32,
        value: Bytes,
        rest: &M,
    ) -> Result<(), FrameError> {
        let result = write_frame(
            &mut self.send,
            with_bytes_field(field, value, rest),
            self.max,
        )
        .await;
        result.map_err(|e| self.explain(e))
    }

    /// Receives one message, or `None` when the other side finished the stream between frames.
    pub async fn recv<M: Message + Default>(&mut self) -> Result<Option<M>, FrameError> {
        let frame = read_frame(&mut self.recv, self.max).await;
        match frame.map_err(|e| self.explain(e))? {
            None => Ok(None),
            Some(bytes) => M::decode(bytes)
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

/// The encoding of `rest` with its bytes field number `field` set to `value`, as parts to write one after
/// the other: `value` is referenced, not copied. Protobuf decodes concatenated encodings as one message, the
/// fields of both, so the field need not come in its numbered place; `rest` must leave it empty.
pub fn with_bytes_field<M: Message>(field: u32, value: Bytes, rest: &M) -> Vec<Bytes> {
    let mut head = Vec::with_capacity(16);
    prost::encoding::encode_key(field, prost::encoding::WireType::LengthDelimited, &mut head);
    prost::encoding::encode_varint(value.len() as u64, &mut head);
    vec![head.into(), value, rest.encode_to_vec().into()]
}

/// Writes one frame of `parts`, concatenated. The parts are handed to QUIC as they are (`write_all(&[u8])`
/// would copy them first: a few hundred KB per block and hop).
pub async fn write_frame(
    send: &mut SendStream,
    parts: Vec<Bytes>,
    max: usize,
) -> Result<(), FrameError> {
    let len: usize = parts.iter().map(Bytes::len).sum();
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let prefix = u32::try_from(len).map_err(|_| FrameError::TooLarge { len, max })?;
    let mut chunks = Vec::with_capacity(parts.len() + 1);
    chunks.push(Bytes::copy_from_slice(&prefix.to_be_bytes()));
    chunks.extend(parts);
    send.write_all_chunks(&mut chunks)
        .await
        .map_err(|e| FrameError::Connection(e.to_string()))
}

/// Reads one frame; `None` on a clean end of stream before a length prefix.
pub async fn read_frame(recv: &mut RecvStream, max: usize) -> Result<Option<Bytes>, FrameError> {
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
    // A frame that came in one chunk is shared as it is; one in several is gathered into a buffer, with no
    // zeroing first. Messages decoded from the frame share it.
    let mut body = BytesMut::new();
    while body.len() < len {
        let chunk = recv
            .read_chunk(len - body.len(), true)
            .await
            .map_err(|e| FrameError::Connection(e.to_string()))?
            .ok_or(FrameError::Truncated)?
            .bytes;
        if chunk.len() == len {
            return Ok(Some(chunk));
        }
        body.reserve(len - body.len());
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_wire::gossip::{ENVELOPE_PAYLOAD_FIELD, Envelope, SecretEnvelope};
    use weft_wire::orderer::{
        DELIVER_RESPONSE_BLOCK_FIELD, DeliverResponseBytes, deliver_response_bytes,
    };

    fn joined(parts: Vec<Bytes>) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn a_bytes_field_sent_apart_decodes_as_the_whole_message() {
        let payload = Bytes::from(vec![7u8; 300 * 1024]);
        let env = Envelope {
            payload: payload.clone(),
            signature: b"sig".to_vec(),
            secret_envelope: Some(SecretEnvelope {
                payload: b"secret".to_vec(),
                signature: b"s2".to_vec(),
            }),
        };
        let rest = Envelope {
            payload: Bytes::new(),
            ..env.clone()
        };
        let parts = with_bytes_field(ENVELOPE_PAYLOAD_FIELD, payload.clone(), &rest);
        // Referenced, not copied.
        assert_eq!(parts[1].as_ptr(), payload.as_ptr());
        assert_eq!(joined(parts), env.encode_to_vec());

        // A oneof member that is not the first field, and an empty value.
        let block = Bytes::from_static(b"a block");
        let rest = DeliverResponseBytes {
            r#type: None,
            trace_context: [("traceparent".to_string(), "00-ab".to_string())].into(),
        };
        let parts = with_bytes_field(DELIVER_RESPONSE_BLOCK_FIELD, block.clone(), &rest);
        let back = DeliverResponseBytes::decode(joined(parts).as_slice()).unwrap();
        assert_eq!(
            back.r#type,
            Some(deliver_response_bytes::Type::Block(block))
        );
        assert_eq!(back.trace_context, rest.trace_context);
        let empty = Envelope::decode(
            joined(with_bytes_field(
                ENVELOPE_PAYLOAD_FIELD,
                Bytes::new(),
                &Envelope::default(),
            ))
            .as_slice(),
        );
        assert_eq!(empty.unwrap(), Envelope::default());
    }
}
