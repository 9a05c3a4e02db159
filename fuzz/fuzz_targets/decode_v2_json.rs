//! V2 JSON frames (`[join_ref, ref, topic, event, payload]` arrays, with Ferrocast's extension as a sixth
//! element) from either side: decoding never panics, and what decodes survives a re-encoding.

#![no_main]

use ferrocast_fuzz::round_trip::{SENDERS, check};
use ferrocast_protocol::{Vsn, WireData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // A WebSocket text message is valid UTF-8; replacing invalid bytes keeps every input useful.
    let text = String::from_utf8_lossy(input);
    for sender in SENDERS {
        check(Vsn::V2, sender, WireData::Text(&text));
    }
});
