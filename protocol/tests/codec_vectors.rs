//! Every frame a real Phoenix 1.7.21 server and phoenix.js 1.7.21 exchanged (see `vectors/phoenix-1.7.21.txt`)
//! decodes, re-encodes to the same frame, and the malformed ones the server rejected are rejected here too.

#![cfg(feature = "json")]

use ferrocast_protocol::codec::{DecodeError, JsonKind, decode, encode};
use ferrocast_protocol::{Encoded, Frame, Sender, Vsn, WireData};
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/phoenix-1.7.21.txt");

/// The transcripts the vectors were extracted from, when this checkout has them.
const TRANSCRIPTS_PATH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/protocol/phoenix-wire-transcripts.md");

/// One line of the vectors file.
struct Vector<'a> {
    line: &'a str,
    malformed: bool,
    sender: Sender,
    vsn: Vsn,
    data: Data<'a>,
}

/// A vector's WebSocket message.
enum Data<'a> {
    Text(&'a str),
    Binary(Vec<u8>),
}

impl Data<'_> {
    fn as_wire(&self) -> WireData<'_> {
        match self {
            Data::Text(text) => WireData::Text(text),
            Data::Binary(bytes) => WireData::Binary(bytes),
        }
    }
}

fn parse_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd-length hex: {hex}");
    (0..hex.len()).step_by(2).map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex digits")).collect()
}

fn vectors() -> Vec<Vector<'static>> {
    VECTORS
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (malformed, rest) = match line.strip_prefix("malformed ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (sender, rest) = rest.split_once(' ').expect("a sender");
            let (vsn, frame) = rest.split_once(' ').expect("a serializer");
            let sender = match sender {
                "client" => Sender::Client,
                "server" => Sender::Server,
                other => panic!("unknown sender {other:?} in {line}"),
            };
            let vsn = match vsn {
                "v1" => Vsn::V1,
                "v2" => Vsn::V2,
                other => panic!("unknown serializer {other:?} in {line}"),
            };
            let data = match frame.strip_prefix("hex ") {
                Some(hex) => Data::Binary(parse_hex(hex)),
                None => Data::Text(frame),
            };
            Vector { line, malformed, sender, vsn, data }
        })
        .collect()
}

#[test]
fn the_vectors_cover_every_kind_of_frame() {
    let vectors = vectors();
    let count = |predicate: &dyn Fn(&Vector<'_>) -> bool| vectors.iter().filter(|vector| predicate(vector)).count();
    assert!(count(&|v| !v.malformed && v.vsn == Vsn::V1 && v.sender == Sender::Client) >= 10);
    assert!(count(&|v| !v.malformed && v.vsn == Vsn::V1 && v.sender == Sender::Server) >= 10);
    assert!(count(&|v| !v.malformed && v.vsn == Vsn::V2 && v.sender == Sender::Client) >= 30);
    assert!(count(&|v| !v.malformed && v.vsn == Vsn::V2 && v.sender == Sender::Server) >= 50);
    assert_eq!(count(&|v| matches!(v.data, Data::Binary(_))), 5);
    assert_eq!(count(&|v| v.malformed), 3);
}

#[test]
fn every_vector_decodes_and_reencodes_to_the_same_frame() {
    let mut frames_with_extra_elements = 0;
    for vector in vectors().iter().filter(|vector| !vector.malformed) {
        let line = vector.line;
        let frame = decode(vector.vsn, vector.sender, vector.data.as_wire())
            .unwrap_or_else(|error| panic!("{line}\ndoes not decode: {error}"));
        let encoded = encode(vector.vsn, vector.sender, &frame)
            .unwrap_or_else(|error| panic!("{line}\ndecoded to {frame:?}\nwhich does not encode: {error}"));
        match (&vector.data, &encoded) {
            (Data::Binary(original), Encoded::Binary(reencoded)) => {
                assert_eq!(original, reencoded, "{line}\nre-encodes to different bytes");
            }
            (Data::Text(original), Encoded::Text(reencoded)) => {
                let mut original: Value = serde_json::from_str(original).expect("vectors are JSON");
                let reencoded: Value = serde_json::from_str(reencoded)
                    .unwrap_or_else(|error| panic!("{line}\nre-encodes to invalid JSON {reencoded}: {error}"));
                // Phoenix ignores array elements after the payload, and so does decoding unless the sixth is an
                // extension object. The vectors have one such frame; it comes back without its extra element.
                if let Value::Array(elements) = &mut original
                    && elements.len() > 5
                {
                    frames_with_extra_elements += 1;
                    assert_eq!(elements[5], Value::String("extra".to_owned()));
                    elements.truncate(5);
                }
                assert_eq!(original, reencoded, "{line}\nre-encodes to a different frame");
            }
            _ => panic!("{line}\nre-encodes as a different kind of WebSocket message: {encoded:?}"),
        }
        let decoded_again = decode(vector.vsn, vector.sender, encoded.as_wire())
            .unwrap_or_else(|error| panic!("{line}\nits re-encoding does not decode: {error}"));
        assert_eq!(frame, decoded_again, "{line}\nits re-encoding decodes to a different frame");
    }
    assert_eq!(frames_with_extra_elements, 1);
}

#[test]
fn server_replies_decode_as_replies_and_everything_else_as_messages() {
    for vector in vectors().iter().filter(|vector| !vector.malformed) {
        let frame = decode(vector.vsn, vector.sender, vector.data.as_wire()).expect("vectors decode");
        let is_reply = matches!(frame, Frame::Reply(_));
        let is_server_reply = vector.sender == Sender::Server
            && (vector.line.contains("\"phx_reply\"") || matches!(&vector.data, Data::Binary(bytes) if bytes[0] == 1));
        assert_eq!(is_reply, is_server_reply, "{}", vector.line);
    }
}

#[test]
fn malformed_vectors_fail_with_the_right_error() {
    let malformed: Vec<_> = vectors().into_iter().filter(|vector| vector.malformed).collect();
    assert_eq!(malformed.len(), 3);
    for vector in malformed {
        let Data::Text(text) = vector.data else { panic!("malformed vectors are text") };
        let error = decode(vector.vsn, vector.sender, vector.data.as_wire())
            .expect_err(&format!("{} decoded, but Phoenix rejects it", vector.line));
        match text {
            "not json" => assert!(matches!(error, DecodeError::InvalidJson(_)), "{error:?}"),
            r#"["1","1","room:x","phx_join"]"# => {
                assert_eq!(error, DecodeError::TooFewElements { found: 4 })
            }
            r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}"# => {
                assert_eq!(error, DecodeError::NotAnArray { found: JsonKind::Object });
            }
            other => panic!("no expected error for malformed vector {other}"),
        }
    }
}

/// The frames of a transcripts file: who sent each, and its text or `hex ...` for binary frames.
fn transcript_frames(transcripts: &str) -> Vec<(&'static str, String)> {
    let mut frames = Vec::new();
    let mut in_code_block = false;
    for line in transcripts.lines() {
        if line.starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        if !in_code_block {
            continue;
        }
        for (arrow, sender) in [(" -> ", "client"), (" <- ", "server")] {
            let Some((who, frame)) = line.split_once(arrow) else {
                continue;
            };
            // Frame lines start with a timestamp (`[+   14ms]`) or a connection name (`A`, `M2`); commentary does not.
            let is_timestamp = who
                .strip_prefix("[+")
                .and_then(|who| who.strip_suffix("ms]"))
                .is_some_and(|millis| millis.trim_start().chars().all(|c| c.is_ascii_digit()));
            let is_connection_name =
                !who.is_empty() && who.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !(is_timestamp || is_connection_name) {
                continue;
            }
            let frame = match frame.strip_prefix("BINARY[") {
                Some(binary) => {
                    let hex = binary.split_once("hex=").expect("binary lines have hex=").1;
                    format!("hex {}", hex.split_whitespace().next().expect("hex digits"))
                }
                None => frame.to_owned(),
            };
            frames.push((sender, frame));
        }
    }
    frames
}

#[test]
fn the_vectors_hold_every_frame_of_the_transcripts() {
    let Ok(transcripts) = std::fs::read_to_string(TRANSCRIPTS_PATH) else {
        println!("note: {TRANSCRIPTS_PATH} is not in this checkout; skipping the completeness check");
        return;
    };
    let frames = transcript_frames(&transcripts);
    assert!(frames.len() > 190, "only {} frames found in the transcripts", frames.len());
    let vectors = vectors();
    for (sender, frame) in frames {
        let present = vectors.iter().any(|vector| {
            let (vector_sender, vector_frame) =
                vector.line.trim_start_matches("malformed ").split_once(' ').expect("a sender");
            let vector_frame = vector_frame.split_once(' ').expect("a serializer").1;
            vector_sender == sender && vector_frame == frame
        });
        assert!(present, "the vectors lack {sender} frame {frame}");
    }
}
