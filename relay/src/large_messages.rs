//! Large WebSocket messages, written from their shared bytes instead of through tungstenite's write buffer.
//!
//! tungstenite copies every message it sends into one write buffer per socket, and that buffer keeps its capacity
//! for the life of the connection. A socket that was sent one large message kept that much memory for as long as it
//! stayed open: after 1,000 members joined one presence topic at once, each kept the largest `presence_state` or
//! coalesced `presence_diff` it had been sent (up to 75 KB), 50 KiB a member in all; after 10,000, 400 KiB a member.
//! Here each large message is one frame header followed by the message's own bytes, several messages to one
//! vectored write, so nothing a socket keeps grows with the messages it was sent, and their bytes are not copied.

use bytes::Bytes;
use std::io::{self, IoSlice};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// Messages longer than this are written here. Shorter ones gather in tungstenite's buffer, which then holds a few
/// KiB at most beside its 16 KiB of gathering, and so stays what an idle socket holds: a storm's members are sent
/// little else than their replies below it.
pub(crate) const LARGE_MESSAGE: usize = 1024;

/// The most messages one vectored write carries: two slices each, well below the system's limit (`IOV_MAX`, 1024
/// on Linux), and few enough that the run kept between writes stays small.
pub(crate) const MAX_RUN: usize = 64;

/// The most slices one vectored write is given (`IOV_MAX` is 1024 on Linux): a message in parts (a shared
/// `presence_state`: ~90 parts at 10,000 members) takes a slice per part.
const MAX_SLICES: usize = 512;

/// One message to write: text or binary, and its bytes, in one part or several written one after the other.
#[derive(Debug)]
pub(crate) struct LargeMessage {
    pub text: bool,
    pub bytes: Bytes,
    /// The parts after `bytes` (none for a message in one part).
    pub rest: Vec<Bytes>,
}

impl LargeMessage {
    fn parts(&self) -> impl Iterator<Item = &Bytes> {
        std::iter::once(&self.bytes).chain(&self.rest)
    }

    /// The slices its write takes: its header and its parts.
    pub(crate) fn slices(&self) -> usize {
        2 + self.rest.len()
    }
}

/// Writes `messages` in order, each as one unfragmented, unmasked frame (a server's), in as few writes as the
/// stream takes. Whatever tungstenite buffered must have been flushed first, so the frames stay in order.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(stream: &mut W, messages: &[LargeMessage]) -> io::Result<()> {
    let mut headers = Vec::with_capacity(messages.len() * 10);
    let mut ends = Vec::with_capacity(messages.len());
    for message in messages {
        let data = if message.text { Data::Text } else { Data::Binary };
        let header = FrameHeader { is_final: true, opcode: OpCode::Data(data), ..FrameHeader::default() };
        let len: usize = message.parts().map(Bytes::len).sum();
        header.format(len as u64, &mut headers).map_err(io::Error::other)?;
        ends.push(headers.len());
    }
    let mut slices = Vec::with_capacity(messages.iter().map(LargeMessage::slices).sum());
    let mut start = 0;
    for (message, end) in messages.iter().zip(ends) {
        slices.push(IoSlice::new(&headers[start..end]));
        slices.extend(message.parts().filter(|part| !part.is_empty()).map(|part| IoSlice::new(part)));
        start = end;
    }
    let mut remaining = &mut slices[..];
    while !remaining.is_empty() {
        let at_most = remaining.len().min(MAX_SLICES);
        let written = stream.write_vectored(&remaining[..at_most]).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut remaining, written);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A stream that takes at most `per_write` bytes a call, as a full socket buffer does.
    struct Trickle {
        written: Vec<u8>,
        per_write: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let taken = buf.len().min(self.per_write);
            self.written.extend_from_slice(&buf[..taken]);
            Poll::Ready(Ok(taken))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn messages_come_out_as_frames_tungstenite_reads_back_in_order() {
        let big = "x".repeat(70_000);
        let parts: Vec<Bytes> = (0..1000).map(|n| Bytes::from(format!(",{n}"))).chain([Bytes::from("]")]).collect();
        let in_parts = format!("[0{}]", (0..1000).map(|n| format!(",{n}")).collect::<String>());
        let messages = [
            LargeMessage { text: true, bytes: Bytes::from(big.clone()), rest: Vec::new() },
            LargeMessage { text: false, bytes: Bytes::from(vec![7u8; 300]), rest: Vec::new() },
            LargeMessage { text: true, bytes: Bytes::from_static(b"[0"), rest: parts },
            LargeMessage { text: true, bytes: Bytes::from_static(b"[1]"), rest: Vec::new() },
        ];
        let mut stream = Trickle { written: Vec::new(), per_write: 4000 };
        write_all(&mut stream, &messages).await.unwrap();

        let mut read = tokio_tungstenite::tungstenite::protocol::WebSocket::from_raw_socket(
            io::Cursor::new(stream.written),
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        );
        use tokio_tungstenite::tungstenite::Message;
        assert_eq!(read.read().unwrap(), Message::text(big));
        assert_eq!(read.read().unwrap(), Message::binary(vec![7u8; 300]));
        assert_eq!(read.read().unwrap(), Message::text(in_parts), "a message in parts is one message");
        assert_eq!(read.read().unwrap(), Message::text("[1]"));
    }
}
