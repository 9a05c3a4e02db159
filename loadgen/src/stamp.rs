//! The send time and sequence number every published payload carries, and the generator's clock they are read on.
//!
//! A payload is `{"t":<ns since the generator started>,"s":<seq>,"p":"xxx…"}`, padded to a fixed size. Publisher and
//! subscribers live in one process, so one monotonic clock serves both ends and a latency is a subtraction. The
//! stamps come first in the payload so a receiver finds them with a substring search instead of a JSON parse.
//!
//! When subscribers run in other processes (`scale`), each child starts its clock at the parent's origin
//! ([`start_clock_at`], from [`clock_origin_unix_ns`]): both read the system clock once, so their clocks agree to
//! within the microseconds those two readings take, and a latency is still a subtraction.

use crate::json_scan::number_after;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The bytes a published payload is padded to, about the size of a small chat message.
pub(crate) const PAYLOAD_BYTES: usize = 100;

static START: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the generator's clock started (the first call).
pub(crate) fn now_ns() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// The system time (ns since the Unix epoch) at which this process's clock reads 0, for [`start_clock_at`] in
/// another process.
pub(crate) fn clock_origin_unix_ns() -> u64 {
    let since_origin = now_ns();
    unix_ns().saturating_sub(since_origin)
}

/// Starts this process's clock at `origin_unix_ns` (another process's [`clock_origin_unix_ns`]), so stamps from
/// both read on one clock; call it before anything reads the clock. Returns false if the clock had already started.
pub(crate) fn start_clock_at(origin_unix_ns: u64) -> bool {
    let elapsed = Duration::from_nanos(unix_ns().saturating_sub(origin_unix_ns));
    let now = Instant::now();
    START.set(now.checked_sub(elapsed).unwrap_or(now)).is_ok()
}

fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos() as u64)
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
    fn the_origin_reads_back_on_the_system_clock() {
        let before = now_ns();
        let since_origin = unix_ns() - clock_origin_unix_ns();
        // The two clocks are read a few nanoseconds apart: allow a millisecond either way.
        assert!(since_origin + 1_000_000 >= before && since_origin <= now_ns() + 1_000_000);
        assert!(!start_clock_at(clock_origin_unix_ns()), "the clock had started");
    }

    #[test]
    fn stamps_are_found_inside_frames_and_missing_ones_are_none() {
        let frame = r#"[null,null,"room:bench","new_msg",{"t":1500,"s":9,"p":"xx"}]"#;
        assert_eq!(read(frame), Some(Stamp { sent_ns: 1500, seq: 9 }));
        assert_eq!(read(r#"{"s":9}"#), None);
        assert_eq!(read(r#"{"t":"soon","s":9}"#), None);
    }
}
