//! Property tests: decoding never panics on any input, and any representable frame survives encode then decode.

#![cfg(feature = "json")]

use ferrocast_protocol::codec::{EncodeError, decode, decode_binary, encode};
use ferrocast_protocol::{Ext, Frame, Message, Payload, Position, Reply, Sender, Vsn, WireData};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

const SENDERS: [Sender; 2] = [Sender::Client, Sender::Server];
const VSNS: [Vsn; 2] = [Vsn::V1, Vsn::V2];

/// Decodes `data` every way there is and checks that a successful decode re-encodes to the same frame.
fn decode_every_way(data: WireData<'_>) {
    for vsn in VSNS {
        for sender in SENDERS {
            if let Ok(frame) = decode(vsn, sender, data) {
                let encoded = encode(vsn, sender, &frame).expect("a decoded frame encodes");
                let again = decode(vsn, sender, encoded.as_wire()).expect("its encoding decodes");
                assert_eq!(again, frame);
            }
        }
    }
    if let WireData::Binary(bytes) = data {
        for sender in SENDERS {
            let _ = decode_binary(sender, bytes);
        }
    }
}

/// The inputs the fuzzers found where a decoded frame did not survive being sent again (fuzz/README.md, findings 1
/// and 2): a V1 server frame with a `join_ref` key, and a server's binary push named `phx_reply`.
#[test]
fn the_fuzzers_findings_decode_to_frames_that_are_sent_again_unchanged() {
    decode_every_way(WireData::Text(r#"{"event":"ping","payload":{},"ref":"4","topic":"t","join_ref":"3"}"#));
    decode_every_way(WireData::Binary(b"\x00\x01\x01\x091tphx_reply{}"));
}

/// Text with the characters that need escaping, non-ASCII, and words the protocol gives meaning to.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[\"\\\\\\x00-\\x1f\\x7f a-z0-9:é☃🦀]{0,12}",
        1 => any::<String>(),
        1 => prop::sample::select(vec!["phx_reply", "phx_close", "phx_error", "phx_join", "ok", "error", ""]).prop_map(str::to_owned),
    ]
}

/// Object keys, often ones the decoders look for.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "topic",
            "event",
            "payload",
            "ref",
            "join_ref",
            "ext",
            "response",
            "status",
            "offset",
            "epoch",
            "recovered",
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((key(), inner), 0..6).prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn ext() -> impl Strategy<Value = Ext> {
    (proptest::option::of((0..=Position::MAX_OFFSET, text())), proptest::option::of(any::<bool>())).prop_map(
        |(position, recovered)| Ext { position: position.map(|(offset, epoch)| Position { offset, epoch }), recovered },
    )
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        json_value().prop_map(|value| Payload::Json(value.to_string())),
        vec(any::<u8>(), 0..16).prop_map(Payload::Binary),
    ]
}

/// Any frame, representable or not: which ones each serializer accepts is part of what is tested.
fn frame() -> impl Strategy<Value = Frame> {
    let refs = || (proptest::option::of(text()), proptest::option::of(text()));
    let message = (refs(), text(), text(), payload(), proptest::option::of(ext())).prop_map(
        |((join_ref, r#ref), topic, event, payload, ext)| {
            Frame::Message(Message { join_ref, r#ref, topic, event, payload, ext })
        },
    );
    let reply = (refs(), text(), text(), payload(), proptest::option::of(ext())).prop_map(
        |((join_ref, r#ref), topic, status, response, ext)| {
            Frame::Reply(Reply { join_ref, r#ref, topic, status, response, ext })
        },
    );
    prop_oneof![message, reply]
}

/// Whether `sender` can send `frame` with the serializer `vsn`, written from the protocol description.
fn representable(vsn: Vsn, sender: Sender, frame: &Frame) -> bool {
    match (sender, frame) {
        (Sender::Client, Frame::Reply(_)) => return false,
        (Sender::Server, Frame::Message(message)) if message.event == "phx_reply" => return false,
        _ => {}
    }
    let Payload::Binary(_) = frame.payload() else {
        return true;
    };
    if vsn == Vsn::V1 {
        return false;
    }
    let ext = frame.ext();
    match (sender, frame) {
        (Sender::Client, _) | (Sender::Server, Frame::Reply(_)) => ext.is_none(),
        (Sender::Server, Frame::Message(message)) => {
            message.r#ref.is_none()
                && match (&message.join_ref, ext) {
                    (_, None) => true,
                    (Some(_), Some(_)) => false,
                    (None, Some(ext)) => ext.position.is_some() && ext.recovered.is_none(),
                }
        }
    }
}

/// What decoding `frame` after encoding it gives back: the frame itself, less what the wire format cannot say.
fn as_read_back(vsn: Vsn, sender: Sender, frame: &Frame) -> Frame {
    let mut frame = frame.clone();
    let is_binary = matches!(frame.payload(), Payload::Binary(_));
    let (join_ref, r#ref, event) = match &mut frame {
        Frame::Message(message) => (&mut message.join_ref, &mut message.r#ref, Some(message.event.as_str())),
        Frame::Reply(reply) => (&mut reply.join_ref, &mut reply.r#ref, None),
    };
    if vsn == Vsn::V1 && sender == Sender::Server {
        // V1 servers write no join ref; phx_close and phx_error recover it from ref.
        *join_ref = match event {
            Some("phx_close" | "phx_error") => r#ref.clone(),
            _ => None,
        };
    }
    if is_binary {
        // Binary frames write a missing ref as length 0, so an empty one reads back as missing.
        join_ref.take_if(|join_ref| join_ref.is_empty());
        r#ref.take_if(|r#ref| r#ref.is_empty());
    }
    frame
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
        decode_every_way(WireData::Binary(&bytes));
        decode_every_way(WireData::Text(&String::from_utf8_lossy(&bytes)));
    }

    #[test]
    fn binary_looking_bytes_never_panic(kind in 0u8..5, lengths in vec(0u8..12, 0..5), rest in vec(any::<u8>(), 0..40)) {
        let mut bytes = vec![kind];
        bytes.extend(lengths);
        bytes.extend(rest);
        decode_every_way(WireData::Binary(&bytes));
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        decode_every_way(WireData::Text(&value.to_string()));
    }

    #[test]
    fn arbitrary_frame_shaped_arrays_never_panic(
        elements in vec(prop_oneof![
            3 => text().prop_map(Value::String),
            1 => Just(Value::Null),
            2 => json_value(),
            1 => (key(), json_value(), key(), json_value())
                .prop_map(|(k1, v1, k2, v2)| serde_json::json!({ k1: v1, k2: v2 })),
        ], 4..=7),
    ) {
        decode_every_way(WireData::Text(&Value::Array(elements).to_string()));
    }

    #[test]
    fn representable_frames_round_trip(frame in frame()) {
        for vsn in VSNS {
            for sender in SENDERS {
                match encode(vsn, sender, &frame) {
                    Ok(encoded) => {
                        prop_assert!(representable(vsn, sender, &frame), "{vsn:?} {sender:?} encoded {frame:?}");
                        let decoded = decode(vsn, sender, encoded.as_wire());
                        prop_assert_eq!(decoded, Ok(as_read_back(vsn, sender, &frame)), "{:?} {:?} {:?}", vsn, sender, encoded);
                    }
                    Err(error) => {
                        prop_assert!(!representable(vsn, sender, &frame), "{vsn:?} {sender:?} refused {frame:?}: {error}");
                        prop_assert!(!matches!(error, EncodeError::FieldTooLong { .. }), "{error}");
                    }
                }
            }
        }
    }
}
