//! Packing queued text frames into batch messages for the sockets that asked for them.
//!
//! A batch only forms from frames that already wait together in the outbox, so batching never delays a frame: a
//! socket that keeps up gets its frames one by one, and one that falls behind gets fewer, larger messages, which is
//! when the browser's per-message cost matters. Binary frames are never batched and keep their place in the order.

use bytes::Bytes;
use ferrocast_protocol::codec::write_batch;
use ferrocast_pubsub::OutFrame;

/// The most bytes of frames one batch message carries: large enough that the browser's per-message cost vanishes,
/// small enough that one message never holds up a socket's other traffic for long.
pub(crate) const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Packs a socket's queued frames into messages; one per connection writer, reusing its buffers.
#[derive(Debug, Default)]
pub(crate) struct Batcher {
    enabled: bool,
    run: Vec<OutFrame>,
    run_bytes: usize,
    packed: Vec<OutFrame>,
}

impl Batcher {
    /// A batcher that packs when `enabled` (the client asked for batches), and passes frames through otherwise.
    pub(crate) fn new(enabled: bool) -> Self {
        Batcher { enabled, ..Batcher::default() }
    }

    /// Drains `frames` into the messages to send, in order: each run of consecutive text frames becomes one batch
    /// of at most [`MAX_BATCH_BYTES`] (a run of one stays the frame it was, its bytes still shared).
    pub(crate) fn pack<'a>(&'a mut self, frames: &'a mut Vec<OutFrame>) -> std::vec::Drain<'a, OutFrame> {
        if !self.enabled || frames.len() < 2 {
            return frames.drain(..);
        }
        for frame in frames.drain(..) {
            // A message in parts shares them with other sockets' messages: it goes as it is, not copied into a batch.
            let alone = !frame.text || frame.rest.is_some();
            if alone || self.run_bytes + frame.bytes.len() > MAX_BATCH_BYTES {
                self.end_run();
            }
            if !alone {
                self.run_bytes += frame.bytes.len();
                self.run.push(frame);
            } else {
                self.packed.push(frame);
            }
        }
        self.end_run();
        self.packed.drain(..)
    }

    fn end_run(&mut self) {
        match self.run.len() {
            0 => {}
            1 => self.packed.extend(self.run.pop()),
            frames => {
                let mut message = Vec::with_capacity(self.run_bytes + frames + 1);
                write_batch(self.run.iter().map(|frame| &frame.bytes[..]), &mut message);
                self.packed.push(OutFrame::text(Bytes::from(message)));
                self.run.clear();
            }
        }
        self.run_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &str) -> OutFrame {
        OutFrame::text(Bytes::copy_from_slice(body.as_bytes()))
    }

    fn binary(body: &[u8]) -> OutFrame {
        OutFrame { text: false, bytes: Bytes::copy_from_slice(body), rest: None, numbered: None }
    }

    fn packed(batcher: &mut Batcher, mut frames: Vec<OutFrame>) -> Vec<OutFrame> {
        batcher.pack(&mut frames).collect()
    }

    #[test]
    fn runs_of_text_frames_become_one_batch_and_binary_frames_keep_their_place() {
        let mut batcher = Batcher::new(true);
        let frames = vec![text("[1]"), text("[2]"), binary(b"\x00b"), text("[3]"), text("[4]"), text("[5]")];
        let messages = packed(&mut batcher, frames);
        assert_eq!(messages, vec![text("[[1],[2]]"), binary(b"\x00b"), text("[[3],[4],[5]]")]);
        assert_eq!(packed(&mut batcher, vec![text("[6]"), text("[7]")]), vec![text("[[6],[7]]")], "buffers reused");
    }

    #[test]
    fn a_lone_frame_and_a_socket_without_batches_pass_through() {
        assert_eq!(packed(&mut Batcher::new(true), vec![text("[1]")]), vec![text("[1]")]);
        let frames = vec![text("[1]"), text("[2]")];
        assert_eq!(packed(&mut Batcher::new(false), frames.clone()), frames);
    }

    #[test]
    fn a_frame_in_shared_parts_keeps_its_place_unbatched() {
        let parts = vec![Bytes::from_static(b"[\"a\","), Bytes::from_static(b"1]")];
        let in_parts = OutFrame::text_in_parts(parts);
        let frames = vec![text("[1]"), text("[2]"), in_parts.clone(), text("[3]"), text("[4]")];
        let messages = packed(&mut Batcher::new(true), frames);
        assert_eq!(messages, vec![text("[[1],[2]]"), in_parts, text("[[3],[4]]")]);
    }

    #[test]
    fn a_batch_stops_at_its_byte_limit() {
        let big = format!("[\"{}\"]", "x".repeat(MAX_BATCH_BYTES / 2));
        let messages = packed(&mut Batcher::new(true), vec![text(&big), text(&big), text("[1]")]);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], text(&big));
        assert_eq!(messages[1].bytes, format!("[{big},[1]]").as_bytes());
    }
}
