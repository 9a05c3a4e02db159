//! The send time and sequence number every published payload carries, and the generator's clock they are read on.
//!
//! A payload is `{"t":<ns since the generator started>,"s":<seq>,"p":"xxx…"}`, padded to a fixed size. Publisher and
//! subscribers live in one process, so one monotonic clock serves both ends and a latency is a subtraction. The
//! stamps come first in the payload so a receiver finds them with a substring search instead of a JSON parse.

use crate::json_scan::number_after;
use std::sync::OnceLock;
use std::time::Instant;

/// The bytes a published payload is padded to, about the size of a small chat message.
pub(crate) const PAYLOAD_BYTES: usize = 100;

static START: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the generator's clock started (the first call).
pub(crate) fn now_ns() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// What a receiver reads back from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// When the payload was sent, in [`now_ns`] time.
    pub sent_ns: u64,
    /// The publisher's sequence number.
    pub seq: u64,
}

/// A payload stamped now with `seq`, padded to [`PAYLOAD_BYTES`].
pub(crate) fn payload(seq: u64) -> String {
    let mut text = format!(r#"{{"t":{},"s":{seq},"p":""#, now_ns());
    let padding = PAYLOAD_BYTES.saturating_sub(text.len() + 2);
    text.extend(std::iter::repeat_n('x', padding));
    text.push_str("\"}");
    text
}

/// The stamps of a payload, when it has them.
pub(crate) fn read(payload: &str) -> Option<Stamp> {
    Some(Stamp { sent_ns: number_after(payload, r#""t":"#)?, seq: number_after(payload, r#""s":"#)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_reads_back_its_stamps_and_has_its_size() {
        let before = now_ns();
        let text = payload(4242);
        let stamp = read(&text).unwrap();
        assert_eq!(text.len(), PAYLOAD_BYTES);
        assert_eq!(stamp.seq, 4242);
        assert!(stamp.sent_ns >= before && stamp.sent_ns <= now_ns());
        serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");
    }

    #[test]
    fn stamps_are_found_inside_frames_and_missing_ones_are_none() {
        let frame = r#"[null,null,"room:bench","new_msg",{"t":1500,"s":9,"p":"xx"}]"#;
        assert_eq!(read(frame), Some(Stamp { sent_ns: 1500, seq: 9 }));
        assert_eq!(read(r#"{"s":9}"#), None);
        assert_eq!(read(r#"{"t":"soon","s":9}"#), None);
    }
}
