//! Focused codec cases: exact bytes and text for each layout, the extension, and each documented edge.

#![cfg(feature = "json")]

use ferrocast_protocol::codec::{DecodeError, EncodeError, JsonKind, decode, decode_binary, encode};
use ferrocast_protocol::{Encoded, Ext, Frame, Message, Payload, Position, Reply, Sender, Vsn, WireData};

fn message(join_ref: Option<&str>, r#ref: Option<&str>, topic: &str, event: &str, payload: Payload) -> Frame {
    Frame::Message(Message {
        join_ref: join_ref.map(str::to_owned),
        r#ref: r#ref.map(str::to_owned),
        topic: topic.to_owned(),
        event: event.to_owned(),
        payload,
        ext: None,
    })
}

fn reply(join_ref: Option<&str>, r#ref: Option<&str>, topic: &str, status: &str, response: Payload) -> Frame {
    Frame::Reply(Reply {
        join_ref: join_ref.map(str::to_owned),
        r#ref: r#ref.map(str::to_owned),
        topic: topic.to_owned(),
        status: status.to_owned(),
        response,
        ext: None,
    })
}

fn json(text: &str) -> Payload {
    Payload::Json(text.to_owned())
}

fn with_ext(mut frame: Frame, ext: Ext) -> Frame {
    match &mut frame {
        Frame::Message(message) => message.ext = Some(ext),
        Frame::Reply(reply) => reply.ext = Some(ext),
    }
    frame
}

fn position(offset: u64, epoch: &str) -> Option<Position> {
    Some(Position { offset, epoch: epoch.to_owned() })
}

fn hex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex digits")).collect()
}

fn encode_text(vsn: Vsn, sender: Sender, frame: &Frame) -> String {
    match encode(vsn, sender, frame).expect("encodes") {
        Encoded::Text(text) => text,
        Encoded::Binary(bytes) => panic!("expected a text frame, got binary {bytes:?}"),
    }
}

fn encode_binary(sender: Sender, frame: &Frame) -> Vec<u8> {
    match encode(Vsn::V2, sender, frame).expect("encodes") {
        Encoded::Binary(bytes) => bytes,
        Encoded::Text(text) => panic!("expected a binary frame, got text {text}"),
    }
}

fn decode_text(vsn: Vsn, sender: Sender, text: &str) -> Result<Frame, DecodeError> {
    decode(vsn, sender, WireData::Text(text))
}

/// Checks that `frame` encodes to exactly `text` and that `text` decodes to exactly `frame`.
fn assert_text_both_ways(vsn: Vsn, sender: Sender, frame: &Frame, text: &str) {
    assert_eq!(encode_text(vsn, sender, frame), text);
    assert_eq!(&decode_text(vsn, sender, text).expect("decodes"), frame);
}

/// Checks that `frame` encodes to exactly `bytes` and that `bytes` decode to exactly `frame`.
fn assert_binary_both_ways(sender: Sender, frame: &Frame, bytes: &[u8]) {
    assert_eq!(encode_binary(sender, frame), bytes);
    assert_eq!(&decode_binary(sender, bytes).expect("decodes"), frame);
    assert_eq!(&decode(Vsn::V2, sender, WireData::Binary(bytes)).expect("decodes"), frame);
}

const BIN_PAYLOAD: [u8; 4] = [0x01, 0x02, 0x03, 0xff];

#[test]
fn binary_kind_0_from_a_client_matches_phoenix_js() {
    let frame = message(Some("1"), Some("2"), "room:bin", "bin", Payload::Binary(BIN_PAYLOAD.to_vec()));
    assert_binary_both_ways(Sender::Client, &frame, &hex("00010108033132726f6f6d3a62696e62696e010203ff"));
}

#[test]
fn binary_kind_0_from_a_server_has_no_ref() {
    let frame = message(Some("1"), None, "room:bin", "bin_push", Payload::Binary(BIN_PAYLOAD.to_vec()));
    assert_binary_both_ways(Sender::Server, &frame, &hex("0001080831726f6f6d3a62696e62696e5f70757368010203ff"));
}

#[test]
fn binary_kind_1_is_a_reply_with_the_status_in_the_header() {
    let frame = reply(Some("1"), Some("2"), "room:bin", "ok", Payload::Binary(BIN_PAYLOAD.to_vec()));
    assert_binary_both_ways(Sender::Server, &frame, &hex("01010108023132726f6f6d3a62696e6f6b010203ff"));
}

#[test]
fn binary_kind_1_with_missing_refs_has_zero_lengths() {
    let frame = reply(None, None, "t", "error", Payload::Binary(vec![9]));
    assert_binary_both_ways(Sender::Server, &frame, b"\x01\x00\x00\x01\x05terror\x09");
}

#[test]
fn binary_kind_2_is_a_broadcast() {
    let frame = message(None, None, "room:bin", "bin_push", Payload::Binary(BIN_PAYLOAD.to_vec()));
    let mut expected = vec![0x02, 8, 8];
    expected.extend_from_slice(b"room:binbin_push");
    expected.extend_from_slice(&BIN_PAYLOAD);
    assert_binary_both_ways(Sender::Server, &frame, &expected);
}

#[test]
fn binary_kind_3_is_a_broadcast_with_its_position() {
    let frame = with_ext(
        message(None, None, "room:a", "new_msg", Payload::Binary(BIN_PAYLOAD.to_vec())),
        Ext { position: position(0x0001_0203_0405_0607, "k3"), recovered: None },
    );
    let mut expected = vec![0x03, 6, 7, 2];
    expected.extend_from_slice(b"room:anew_msgk3");
    expected.extend_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7]);
    expected.extend_from_slice(&BIN_PAYLOAD);
    assert_binary_both_ways(Sender::Server, &frame, &expected);
}

#[test]
fn an_empty_binary_payload_is_kept() {
    let frame = message(None, None, "t", "e", Payload::Binary(Vec::new()));
    assert_binary_both_ways(Sender::Server, &frame, b"\x02\x01\x01te");
}

#[test]
fn binary_replies_and_broadcasts_with_json_payloads_go_as_text() {
    let frame = reply(Some("1"), Some("2"), "t", "ok", json("{}"));
    assert_eq!(
        encode_text(Vsn::V2, Sender::Server, &frame),
        r#"["1","2","t","phx_reply",{"response":{},"status":"ok"}]"#
    );
    let frame = message(None, None, "t", "e", json("[1]"));
    assert_eq!(encode_text(Vsn::V2, Sender::Server, &frame), r#"[null,null,"t","e",[1]]"#);
}

#[test]
fn binary_frames_only_a_server_sends_are_refused_from_a_client() {
    for kind in [1u8, 2, 3] {
        let bytes = [kind, 1, 1, 1, 1, b'a', b'b', b'c', b'd'];
        assert_eq!(decode_binary(Sender::Client, &bytes), Err(DecodeError::BinaryKindFromClient(kind)));
    }
    assert_eq!(decode_binary(Sender::Server, &[4, 0, 0]), Err(DecodeError::UnknownBinaryKind(4)));
    assert_eq!(decode_binary(Sender::Server, &[]), Err(DecodeError::EmptyBinaryFrame));
}

#[test]
fn a_server_message_named_phx_reply_is_refused_in_binary_as_it_is_by_the_encoder() {
    // Replies are kind 1; a push (0), broadcast (2) or positioned broadcast (3) of that name could not be sent on.
    let push = b"\x00\x01\x01\x091tphx_reply{}".as_slice();
    let broadcast = b"\x02\x01\x09tphx_reply{}".as_slice();
    let positioned = b"\x03\x01\x09\x01tphx_replye\x00\x00\x00\x00\x00\x00\x00\x07{}".as_slice();
    for bytes in [push, broadcast, positioned] {
        assert_eq!(decode_binary(Sender::Server, bytes), Err(DecodeError::ReplyEventInBinaryMessage(bytes[0])));
    }
    // From a client, `phx_reply` is an ordinary event name, as in JSON.
    let from_client = b"\x00\x01\x01\x01\x0912tphx_reply{}";
    assert_eq!(
        decode_binary(Sender::Client, from_client),
        Ok(message(Some("1"), Some("2"), "t", "phx_reply", Payload::Binary(b"{}".to_vec())))
    );
}

#[test]
fn truncated_binary_frames_say_which_field_is_cut() {
    let error = decode_binary(Sender::Client, b"\x00\x01\x01\x08\x0312roo").expect_err("truncated");
    assert_eq!(error, DecodeError::Truncated { field: "topic", len: 8, remaining: 3 });
    assert_eq!(error.to_string(), "binary frame truncated: header says topic is 8 bytes, 3 remain");
    let error = decode_binary(Sender::Server, b"\x01\x01\x01").expect_err("truncated");
    assert_eq!(error, DecodeError::TruncatedHeader { kind: 1, needed: 4, remaining: 2 });
    let error = decode_binary(Sender::Server, b"\x03\x01\x01\x01tek\x00\x00\x00").expect_err("truncated");
    assert_eq!(error, DecodeError::Truncated { field: "offset", len: 8, remaining: 3 });
}

#[test]
fn a_binary_position_past_what_a_javascript_number_holds_is_refused() {
    let at_most = b"\x03\x01\x01\x01tek\x00\x1f\xff\xff\xff\xff\xff\xff{}";
    let frame = decode_binary(Sender::Server, at_most).expect("2^53 - 1 is an offset");
    let Frame::Message(message) = frame else { panic!("a broadcast") };
    assert_eq!(message.ext.and_then(|ext| ext.position).map(|p| p.offset), Some(Position::MAX_OFFSET));
    let past = b"\x03\x01\x01\x01tek\x00\x20\x00\x00\x00\x00\x00\x00{}";
    let error = decode_binary(Sender::Server, past).expect_err("2^53 is past it");
    assert_eq!(error, DecodeError::OffsetTooLarge(1 << 53));
}

#[test]
fn binary_text_fields_must_be_utf8() {
    let error = decode_binary(Sender::Server, b"\x02\x01\x01\xffe").expect_err("not UTF-8");
    assert_eq!(error, DecodeError::NotUtf8("topic"));
    let error = decode_binary(Sender::Server, b"\x01\x00\x00\x01\x02t\xc3\x28").expect_err("not UTF-8");
    assert_eq!(error, DecodeError::NotUtf8("status"));
}

#[test]
fn binary_header_fields_over_255_bytes_cannot_be_encoded() {
    let long_topic = "t".repeat(256);
    let frame = message(None, Some("1"), &long_topic, "e", Payload::Binary(vec![1]));
    assert_eq!(encode(Vsn::V2, Sender::Client, &frame), Err(EncodeError::FieldTooLong { field: "topic", len: 256 }));
    let frame = message(None, Some("1"), &"t".repeat(255), "e", Payload::Binary(vec![1]));
    assert!(encode(Vsn::V2, Sender::Client, &frame).is_ok());
    let frame = with_ext(
        message(None, None, "t", "e", Payload::Binary(vec![1])),
        Ext { position: position(1, &"e".repeat(300)), recovered: None },
    );
    assert_eq!(encode(Vsn::V2, Sender::Server, &frame), Err(EncodeError::FieldTooLong { field: "epoch", len: 300 }));
    // Text frames have no such limit.
    let frame = message(None, Some("1"), &long_topic, "e", json("{}"));
    assert_eq!(decode_text(Vsn::V2, Sender::Client, &encode_text(Vsn::V2, Sender::Client, &frame)), Ok(frame));
}

#[test]
fn binary_frames_refuse_what_their_header_cannot_hold() {
    let push = |ext| with_ext(message(Some("1"), None, "t", "e", Payload::Binary(vec![1])), ext);
    let positioned = Ext { position: position(1, "k"), recovered: None };
    assert!(matches!(
        encode(Vsn::V2, Sender::Server, &push(positioned.clone())),
        Err(EncodeError::ExtInBinaryFrame(_))
    ));
    assert!(matches!(
        encode(Vsn::V2, Sender::Client, &push(positioned.clone())),
        Err(EncodeError::ExtInBinaryFrame(_))
    ));
    let broadcast = |ext| with_ext(message(None, None, "t", "e", Payload::Binary(vec![1])), ext);
    let recovered = Ext { position: position(1, "k"), recovered: Some(true) };
    assert!(matches!(encode(Vsn::V2, Sender::Server, &broadcast(recovered)), Err(EncodeError::ExtInBinaryFrame(_))));
    assert!(matches!(
        encode(Vsn::V2, Sender::Server, &broadcast(Ext::default())),
        Err(EncodeError::ExtInBinaryFrame(_))
    ));
    let binary_reply = with_ext(reply(None, None, "t", "ok", Payload::Binary(vec![1])), positioned);
    assert!(matches!(encode(Vsn::V2, Sender::Server, &binary_reply), Err(EncodeError::ExtInBinaryFrame(_))));
    let server_message_with_ref = message(Some("1"), Some("2"), "t", "e", Payload::Binary(vec![1]));
    assert_eq!(encode(Vsn::V2, Sender::Server, &server_message_with_ref), Err(EncodeError::RefInBinaryServerMessage));
}

#[test]
fn v1_has_no_binary_frames() {
    let frame = message(None, Some("1"), "t", "e", Payload::Binary(vec![1]));
    assert_eq!(encode(Vsn::V1, Sender::Client, &frame), Err(EncodeError::BinaryPayloadOnV1));
    assert_eq!(decode(Vsn::V1, Sender::Server, WireData::Binary(b"\x02\x01\x01te")), Err(DecodeError::BinaryOnV1));
}

#[test]
fn ext_rides_as_the_sixth_element_in_v2() {
    let join = with_ext(
        message(Some("1"), Some("1"), "room:a", "phx_join", json("{}")),
        Ext { position: position(43, "k3"), recovered: None },
    );
    assert_text_both_ways(
        Vsn::V2,
        Sender::Client,
        &join,
        r#"["1","1","room:a","phx_join",{},{"offset":43,"epoch":"k3"}]"#,
    );
    let join_reply = with_ext(
        reply(Some("1"), Some("1"), "room:a", "ok", json("{}")),
        Ext { position: position(43, "k3"), recovered: Some(true) },
    );
    let text =
        r#"["1","1","room:a","phx_reply",{"response":{},"status":"ok"},{"offset":43,"epoch":"k3","recovered":true}]"#;
    assert_text_both_ways(Vsn::V2, Sender::Server, &join_reply, text);
    let only_recovered =
        with_ext(reply(Some("1"), Some("1"), "t", "ok", json("{}")), Ext { position: None, recovered: Some(false) });
    assert_text_both_ways(
        Vsn::V2,
        Sender::Server,
        &only_recovered,
        r#"["1","1","t","phx_reply",{"response":{},"status":"ok"},{"recovered":false}]"#,
    );
    let empty = with_ext(message(None, None, "t", "e", json("{}")), Ext::default());
    assert_text_both_ways(Vsn::V2, Sender::Server, &empty, r#"[null,null,"t","e",{},{}]"#);
}

#[test]
fn ext_rides_as_an_ext_key_in_v1() {
    let join = with_ext(
        message(Some("1"), Some("1"), "room:a", "phx_join", json("{}")),
        Ext { position: position(43, "k3"), recovered: None },
    );
    let text = r#"{"topic":"room:a","event":"phx_join","payload":{},"ref":"1","join_ref":"1","ext":{"offset":43,"epoch":"k3"}}"#;
    assert_text_both_ways(Vsn::V1, Sender::Client, &join, text);
    let join_reply = with_ext(
        reply(None, Some("1"), "room:a", "ok", json("{}")),
        Ext { position: position(43, "k3"), recovered: Some(true) },
    );
    let text = r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"room:a","ext":{"offset":43,"epoch":"k3","recovered":true}}"#;
    assert_text_both_ways(Vsn::V1, Sender::Server, &join_reply, text);
    let broadcast = with_ext(message(None, None, "t", "e", json("{}")), Ext::default());
    assert_text_both_ways(
        Vsn::V1,
        Sender::Server,
        &broadcast,
        r#"{"event":"e","payload":{},"ref":null,"topic":"t","ext":{}}"#,
    );
}

#[test]
fn only_a_valid_extension_object_in_sixth_place_is_read() {
    let plain = message(Some("1"), Some("8"), "room:r", "ping", json(r#"{"x":4}"#));
    for sixth in [
        r#""extra""#,
        "null",
        "[1,2]",
        r#"{"offset":1}"#,
        r#"{"epoch":"k"}"#,
        r#"{"offset":-1,"epoch":"k"}"#,
        r#"{"offset":1.5,"epoch":"k"}"#,
        r#"{"offset":1,"epoch":2}"#,
        r#"{"recovered":"yes"}"#,
        r#"{"recovered":true,"recovered":true}"#,
        r#"{"offset":1,"epoch":"k","other":0}"#,
        // Past 2^53 - 1, which a browser could not hand back exactly.
        r#"{"offset":9007199254740992,"epoch":"k"}"#,
        r#"{"offset":18446744073709551615,"epoch":"k"}"#,
    ] {
        let text = format!(r#"["1","8","room:r","ping",{{"x":4}},{sixth},"seventh"]"#);
        assert_eq!(decode_text(Vsn::V2, Sender::Client, &text), Ok(plain.clone()), "{text}");
    }
    let text = r#"["1","8","room:r","ping",{"x":4},{"epoch":"k","offset":9007199254740991},"seventh",{"offset":1,"epoch":"x"}]"#;
    let expected = with_ext(plain, Ext { position: position(Position::MAX_OFFSET, "k"), recovered: None });
    assert_eq!(decode_text(Vsn::V2, Sender::Client, text), Ok(expected));
}

#[test]
fn v1_server_close_and_error_take_their_join_ref_from_ref() {
    let close = r#"{"event":"phx_close","payload":{},"ref":"3","topic":"room:lobby"}"#;
    assert_text_both_ways(
        Vsn::V1,
        Sender::Server,
        &message(Some("3"), Some("3"), "room:lobby", "phx_close", json("{}")),
        close,
    );
    let error = r#"{"event":"phx_error","payload":{},"ref":null,"topic":"room:v1b"}"#;
    assert_text_both_ways(Vsn::V1, Sender::Server, &message(None, None, "room:v1b", "phx_error", json("{}")), error);
    // Other server events keep no join ref, and a client's phx_close is taken as written.
    let push = r#"{"event":"presence_state","payload":{},"ref":"3","topic":"t"}"#;
    assert_eq!(
        decode_text(Vsn::V1, Sender::Server, push),
        Ok(message(None, Some("3"), "t", "presence_state", json("{}")))
    );
    // A `join_ref` key from a V1 server is no field of its wire, and is ignored like any unknown key.
    for text in [
        r#"{"event":"ping","payload":{},"ref":"4","topic":"t","join_ref":"3"}"#,
        r#"{"event":"ping","payload":{},"ref":"4","topic":"t","join_ref":7}"#,
    ] {
        assert_eq!(decode_text(Vsn::V1, Sender::Server, text), Ok(message(None, Some("4"), "t", "ping", json("{}"))));
    }
    let client_close = r#"{"topic":"t","event":"phx_close","payload":{},"ref":"3"}"#;
    assert_eq!(
        decode_text(Vsn::V1, Sender::Client, client_close),
        Ok(message(None, Some("3"), "t", "phx_close", json("{}")))
    );
}

#[test]
fn v1_writes_join_ref_only_for_clients_that_have_one() {
    let heartbeat = message(None, Some("6"), "phoenix", "heartbeat", json("{}"));
    assert_text_both_ways(
        Vsn::V1,
        Sender::Client,
        &heartbeat,
        r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"6"}"#,
    );
    let push = message(Some("3"), None, "room:lobby", "presence_state", json("{}"));
    assert_eq!(
        encode_text(Vsn::V1, Sender::Server, &push),
        r#"{"event":"presence_state","payload":{},"ref":null,"topic":"room:lobby"}"#
    );
}

#[test]
fn v1_decoding_checks_fields_and_ignores_unknown_keys() {
    let text = r#"{"payload":[1],"zzz":{"a":[]},"join_ref":null,"event":"e","topic":"t"}"#;
    assert_eq!(decode_text(Vsn::V1, Sender::Client, text), Ok(message(None, None, "t", "e", json("[1]"))));
    let missing = decode_text(Vsn::V1, Sender::Client, r#"{"topic":"t","event":"e"}"#);
    assert_eq!(missing, Err(DecodeError::MissingField("payload")));
    let wrong = decode_text(Vsn::V1, Sender::Client, r#"{"topic":"t","event":"e","payload":{},"join_ref":1}"#);
    assert_eq!(
        wrong,
        Err(DecodeError::WrongType { field: "join_ref", expected: "a string or null", found: JsonKind::Number })
    );
    let duplicate = decode_text(Vsn::V1, Sender::Client, r#"{"topic":"t","topic":"u","event":"e","payload":{}}"#);
    assert_eq!(duplicate, Err(DecodeError::DuplicateField("topic")));
    assert_eq!(decode_text(Vsn::V1, Sender::Client, "[]"), Err(DecodeError::NotAnObject { found: JsonKind::Array }));
}

#[test]
fn v1_reply_payloads_are_read_whatever_the_key_order() {
    let text = r#"{"payload":{"status":"ok","response":{"a":1}},"topic":"t","ref":"2","event":"phx_reply"}"#;
    assert_eq!(decode_text(Vsn::V1, Sender::Server, text), Ok(reply(None, Some("2"), "t", "ok", json(r#"{"a":1}"#))));
    let text = r#"{"payload":"nope","topic":"t","ref":"2","event":"phx_reply"}"#;
    assert_eq!(
        decode_text(Vsn::V1, Sender::Server, text),
        Err(DecodeError::ReplyPayloadNotAnObject { found: JsonKind::String })
    );
}

#[test]
fn phx_reply_is_a_reply_from_a_server_and_an_event_from_a_client() {
    let text = r#"["1","2","room:r","phx_reply",{"response":{"a":1},"status":"ok"}]"#;
    assert_eq!(
        decode_text(Vsn::V2, Sender::Server, text),
        Ok(reply(Some("1"), Some("2"), "room:r", "ok", json(r#"{"a":1}"#)))
    );
    let as_event = message(Some("1"), Some("2"), "room:r", "phx_reply", json(r#"{"response":{"a":1},"status":"ok"}"#));
    assert_eq!(decode_text(Vsn::V2, Sender::Client, text), Ok(as_event.clone()));
    assert_eq!(encode_text(Vsn::V2, Sender::Client, &as_event), text);
    assert_eq!(encode(Vsn::V2, Sender::Server, &as_event), Err(EncodeError::ReplyEventInServerMessage));
    let server_reply = reply(Some("1"), Some("2"), "room:r", "ok", json("{}"));
    for vsn in [Vsn::V1, Vsn::V2] {
        assert_eq!(encode(vsn, Sender::Client, &server_reply), Err(EncodeError::ReplyFromClient));
    }
    let binary_reply = reply(Some("1"), Some("2"), "room:r", "ok", Payload::Binary(vec![1]));
    assert_eq!(encode(Vsn::V2, Sender::Client, &binary_reply), Err(EncodeError::ReplyFromClient));
}

#[test]
fn a_server_reply_payload_must_be_an_object_with_status_and_response() {
    let decode_reply =
        |payload: &str| decode_text(Vsn::V2, Sender::Server, &format!(r#"["1","2","t","phx_reply",{payload}]"#));
    assert_eq!(
        decode_reply(r#""just-a-string""#),
        Err(DecodeError::ReplyPayloadNotAnObject { found: JsonKind::String })
    );
    assert_eq!(decode_reply("[1]"), Err(DecodeError::ReplyPayloadNotAnObject { found: JsonKind::Array }));
    assert_eq!(decode_reply(r#"{"response":{}}"#), Err(DecodeError::MissingField("status")));
    assert_eq!(decode_reply(r#"{"status":"ok"}"#), Err(DecodeError::MissingField("response")));
    let wrong_status = decode_reply(r#"{"response":{},"status":1}"#);
    assert_eq!(
        wrong_status,
        Err(DecodeError::WrongType { field: "status", expected: "a string", found: JsonKind::Number })
    );
    assert_eq!(
        decode_reply(r#"{"status":"ok","response":null,"extra":1}"#),
        Ok(reply(Some("1"), Some("2"), "t", "ok", json("null")))
    );
}

#[test]
fn v2_text_errors_name_what_is_wrong() {
    let error = decode_text(Vsn::V2, Sender::Client, r#"["1","1","room:x","phx_join"]"#).expect_err("4 elements");
    assert_eq!(error.to_string(), "expected a JSON array of at least 5 elements, got 4");
    let error = decode_text(Vsn::V2, Sender::Client, r#"[1,"1","t","e",{}]"#).expect_err("numeric join_ref");
    assert_eq!(error.to_string(), "join_ref must be a string or null, got a number");
    let error = decode_text(Vsn::V2, Sender::Client, r#"["1","1",null,"e",{}]"#).expect_err("null topic");
    assert_eq!(error, DecodeError::WrongType { field: "topic", expected: "a string", found: JsonKind::Null });
    let error = decode_text(Vsn::V2, Sender::Client, r#"["1","1","t",{},{}]"#).expect_err("object event");
    assert_eq!(error, DecodeError::WrongType { field: "event", expected: "a string", found: JsonKind::Object });
    assert_eq!(decode_text(Vsn::V2, Sender::Client, "[]"), Err(DecodeError::TooFewElements { found: 0 }));
    assert_eq!(decode_text(Vsn::V2, Sender::Client, "\"x\""), Err(DecodeError::NotAnArray { found: JsonKind::String }));
    assert!(matches!(
        decode_text(Vsn::V2, Sender::Client, r#"[null,null,"t","e",{}] x"#),
        Err(DecodeError::InvalidJson(_))
    ));
    assert!(matches!(
        decode_text(Vsn::V2, Sender::Client, r#"[null,null,"t","e",{]"#),
        Err(DecodeError::InvalidJson(_))
    ));
}

#[test]
fn payloads_are_kept_as_the_exact_text_received() {
    let text = "[ null , \"1\" , \"t\\n\" , \"\\u0065\" ,  { \"b\" : 1.50 ,\"a\":[1, 2e3]}  , {} ]";
    let expected =
        with_ext(message(None, Some("1"), "t\n", "e", json("{ \"b\" : 1.50 ,\"a\":[1, 2e3]}")), Ext::default());
    assert_eq!(decode_text(Vsn::V2, Sender::Client, text), Ok(expected));
}

#[test]
fn strings_are_escaped_as_json_requires() {
    let frame = message(Some("q\"b\\"), None, "tab\there", "nul\u{0}☃", json("{}"));
    let text = encode_text(Vsn::V2, Sender::Client, &frame);
    assert_eq!(text, "[\"q\\\"b\\\\\",null,\"tab\\there\",\"nul\\u0000☃\",{}]");
    assert_eq!(decode_text(Vsn::V2, Sender::Client, &text), Ok(frame));
}
