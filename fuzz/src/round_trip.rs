//! The decoders' property: whatever decodes can be sent again, reads back as the same frame (less what the wire
//! format has no room for), and from then on encodes to the same bytes.
//!
//! The codec's property tests (`protocol/tests/codec_props.rs`) state this over generated inputs; the fuzz targets
//! check it over the inputs libFuzzer steers towards new code paths. Two inputs it found where the plain "decodes
//! to the same frame" does not hold are allowed for here, and described in `fuzz/README.md` ("Findings").

use ferrocast_protocol::codec::{EncodeError, decode, encode};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{Frame, Sender, Vsn, WireData};

/// Both directions, since a decoder reads a client's frame and a server's differently.
pub const SENDERS: [Sender; 2] = [Sender::Client, Sender::Server];

/// Decodes `data` as sent by `sender` on a `vsn` socket; when that succeeds, checks that the frame encodes, that
/// the encoding decodes to the frame as the wire carries it, and that encoding that gives the same bytes. Panics
/// (which libFuzzer reports as a crash) when one does not hold.
pub fn check(vsn: Vsn, sender: Sender, data: WireData<'_>) {
    let Ok(frame) = decode(vsn, sender, data) else { return };
    let encoded = match encode(vsn, sender, &frame) {
        Ok(encoded) => encoded,
        // Finding 2: a server's binary push or broadcast may be named `phx_reply`; it decodes as a message, which
        // the encoder refuses to write because in JSON it would read back as a reply.
        Err(EncodeError::ReplyEventInServerMessage) if matches!(data, WireData::Binary(_)) => return,
        Err(error) => panic!("{vsn:?} {sender:?}: decoded {frame:?}, which does not encode: {error}"),
    };
    let again = decode(vsn, sender, encoded.as_wire()).unwrap_or_else(|error| {
        panic!("{vsn:?} {sender:?}: re-encoded {frame:?} as {encoded:?}, which does not decode: {error}")
    });
    assert_eq!(again, as_carried(vsn, sender, frame), "{vsn:?} {sender:?}: {encoded:?} decodes to another frame");
    let encoded_again = encode(vsn, sender, &again).expect("a frame read back from an encoding encodes");
    assert_eq!(encoded_again, encoded, "{vsn:?} {sender:?}: {again:?} encodes differently the second time");
}

/// `frame` as it reads back after being encoded: V1 server frames have no join ref field, so a join ref decoded
/// from one (finding 1: the decoder reads a `join_ref` key a V1 server never sends) is not written, and
/// `phx_close` and `phx_error` take theirs from `ref` again.
fn as_carried(vsn: Vsn, sender: Sender, mut frame: Frame) -> Frame {
    if (vsn, sender) != (Vsn::V1, Sender::Server) {
        return frame;
    }
    match &mut frame {
        Frame::Message(message) if message.event == event::CLOSE || message.event == event::ERROR => {
            message.join_ref = message.r#ref.clone();
        }
        Frame::Message(message) => message.join_ref = None,
        Frame::Reply(reply) => reply.join_ref = None,
    }
    frame
}
