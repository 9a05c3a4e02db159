//! Batch messages: several V2 JSON text frames in one WebSocket message, for clients that ask for them.
//!
//! A browser spends about as much on each WebSocket message as on decoding its JSON, and Chromium delivers only
//! ~24,000 messages a second; a burst of broadcasts to one socket therefore travels as one message, `[f1,f2,...]`,
//! decoded with one `JSON.parse`. A batch is told apart from a frame by its first element: an array, where a
//! frame's first element (the join ref) is `null` or a string. Only clients that send [`BATCH_PARAM`] get
//! batches, so phoenix.js never sees one.
//!
//! [`BATCH_PARAM`]: crate::BATCH_PARAM

/// Writes the text frames `frames` (each a complete V2 JSON frame) as one batch message into `out`.
pub fn write_batch<'a>(frames: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (n, frame) in frames.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(frame);
    }
    out.push(b']');
}

/// Whether a V2 text message is a batch rather than a single frame: it opens an array whose first element is an
/// array. Looks at the first two non-blank bytes only, so it costs nothing per frame.
pub fn is_batch(text: &[u8]) -> bool {
    let mut bytes = text.iter().copied().filter(|b| !b.is_ascii_whitespace());
    bytes.next() == Some(b'[') && bytes.next() == Some(b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_an_array_of_the_frames_verbatim() {
        let frames: [&[u8]; 2] = [br#"[null,null,"t","a",{}]"#, br#"["1","2","t","phx_reply",{}]"#];
        let mut out = Vec::new();
        write_batch(frames, &mut out);
        assert_eq!(out, br#"[[null,null,"t","a",{}],["1","2","t","phx_reply",{}]]"#);
        assert!(is_batch(&out));
    }

    #[test]
    fn frames_are_not_batches() {
        assert!(!is_batch(br#"[null,null,"t","a",{}]"#));
        assert!(!is_batch(br#"["1","1","t","phx_join",[]]"#));
        assert!(!is_batch(br#"{"topic":"t"}"#));
        assert!(is_batch(b" [ [null]]"));
    }
}
