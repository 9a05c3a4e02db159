//! The decoders' property: whatever decodes can be sent again, reads back as the same frame, and from then on
//! encodes to the same bytes.
//!
//! The codec's property tests (`protocol/tests/codec_props.rs`) state this over generated inputs; the fuzz targets
//! check it over the inputs libFuzzer steers towards new code paths. The inputs it found where this did not hold
//! are in `fuzz/README.md` ("Findings"), fixed in the codec, and kept as regressions.

use ferrocast_protocol::codec::{decode, encode};
use ferrocast_protocol::{Sender, Vsn, WireData};

/// Both directions, since a decoder reads a client's frame and a server's differently.
pub const SENDERS: [Sender; 2] = [Sender::Client, Sender::Server];

/// Decodes `data` as sent by `sender` on a `vsn` socket; when that succeeds, checks that the frame encodes, that
/// the encoding decodes to the frame as the wire carries it, and that encoding that gives the same bytes. Panics
/// (which libFuzzer reports as a crash) when one does not hold.
pub fn check(vsn: Vsn, sender: Sender, data: WireData<'_>) {
    let Ok(frame) = decode(vsn, sender, data) else { return };
    let encoded = encode(vsn, sender, &frame)
        .unwrap_or_else(|error| panic!("{vsn:?} {sender:?}: decoded {frame:?}, which does not encode: {error}"));
    let again = decode(vsn, sender, encoded.as_wire()).unwrap_or_else(|error| {
        panic!("{vsn:?} {sender:?}: re-encoded {frame:?} as {encoded:?}, which does not decode: {error}")
    });
    assert_eq!(again, frame, "{vsn:?} {sender:?}: {encoded:?} decodes to another frame");
    let encoded_again = encode(vsn, sender, &again).expect("a frame read back from an encoding encodes");
    assert_eq!(encoded_again, encoded, "{vsn:?} {sender:?}: {again:?} encodes differently the second time");
}
