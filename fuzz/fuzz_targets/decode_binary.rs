//! V2 binary frames (kinds 0 to 3, laid out differently per direction) from either side: decoding never panics,
//! the JSON-free decoder the browser build uses agrees with the full one, and what decodes survives a re-encoding.

#![no_main]

use ferrocast_fuzz::round_trip::{SENDERS, check};
use ferrocast_protocol::codec::{decode, decode_binary};
use ferrocast_protocol::{Vsn, WireData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    for sender in SENDERS {
        assert_eq!(decode_binary(sender, input), decode(Vsn::V2, sender, WireData::Binary(input)));
        check(Vsn::V2, sender, WireData::Binary(input));
    }
});
