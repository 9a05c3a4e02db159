//! Micro-benchmarks of the wire codecs: encoding and decoding one frame with each serializer.
//!
//! Every serializer gets the frames it carries in real traffic: on V1 JSON and V2 JSON a broadcast with a
//! ~100-byte JSON payload, a join reply and a client's join; on V2 binary (binary payloads only) a client's push
//! and a broadcast, each with 100 bytes. Throughput is in frames; each frame's size on the wire is printed before
//! the measurements, so frames/s converts to bytes/s.
//!
//! Run with `cargo bench --bench codec` (about 50 s).

mod support;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use ferrocast_protocol::codec::{decode, encode};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{Frame, Message, Payload, Reply, Sender, Vsn};

/// A chat message of about 100 bytes, the typical broadcast payload.
const CHAT_MESSAGE: &str =
    r#"{"id":"0f8c2a7e","user":"ada","body":"The quick brown fox jumps over the lazy dog","sent_at":1732300000123}"#;

const TOPIC: &str = "room:lobby";

/// A frame to measure, with the serializer that carries it and who sends it.
struct Case {
    codec: &'static str,
    name: &'static str,
    vsn: Vsn,
    sender: Sender,
    frame: Frame,
}

fn main() {
    let mut criterion = support::criterion();
    let cases = cases();
    for case in &cases {
        check_round_trip(case);
    }
    bench_encode(&mut criterion, &cases);
    bench_decode(&mut criterion, &cases);
    criterion.final_summary();
}

fn cases() -> Vec<Case> {
    let binary_payload = Payload::Binary((0..100u8).map(|byte| byte.wrapping_mul(37)).collect());
    let mut cases = Vec::new();
    for (codec, vsn) in [("v1_json", Vsn::V1), ("v2_json", Vsn::V2)] {
        let json_payload = Payload::Json(CHAT_MESSAGE.to_owned());
        cases.push(Case { codec, name: "broadcast", vsn, sender: Sender::Server, frame: broadcast(json_payload) });
        cases.push(Case { codec, name: "reply", vsn, sender: Sender::Server, frame: join_reply() });
        cases.push(Case { codec, name: "join", vsn, sender: Sender::Client, frame: join() });
    }
    cases.push(Case {
        codec: "v2_binary",
        name: "push",
        vsn: Vsn::V2,
        sender: Sender::Client,
        frame: client_push(binary_payload.clone()),
    });
    cases.push(Case {
        codec: "v2_binary",
        name: "broadcast",
        vsn: Vsn::V2,
        sender: Sender::Server,
        frame: broadcast(binary_payload),
    });
    cases
}

fn broadcast(payload: Payload) -> Frame {
    Frame::Message(Message {
        join_ref: None,
        r#ref: None,
        topic: TOPIC.to_owned(),
        event: "new_msg".to_owned(),
        payload,
        ext: None,
    })
}

/// The server's `ok` to a join, with a small response as channels usually give.
fn join_reply() -> Frame {
    Frame::Reply(Reply {
        join_ref: Some("3".to_owned()),
        r#ref: Some("3".to_owned()),
        topic: TOPIC.to_owned(),
        status: "ok".to_owned(),
        response: Payload::Json(r#"{"user_id":"ada","joined_at":1732300000000}"#.to_owned()),
        ext: None,
    })
}

/// A client's `phx_join` with join parameters.
fn join() -> Frame {
    Frame::Message(Message {
        join_ref: Some("3".to_owned()),
        r#ref: Some("3".to_owned()),
        topic: TOPIC.to_owned(),
        event: event::JOIN.to_owned(),
        payload: Payload::Json(r#"{"token":"SFMyNTY.g2gDbQAAAAZ1c2VyOjE","last_seen":42}"#.to_owned()),
        ext: None,
    })
}

fn client_push(payload: Payload) -> Frame {
    Frame::Message(Message {
        join_ref: Some("3".to_owned()),
        r#ref: Some("17".to_owned()),
        topic: TOPIC.to_owned(),
        event: "upload_chunk".to_owned(),
        payload,
        ext: None,
    })
}

/// Measuring a codec that fails or garbles the frame would be meaningless, so each case must decode and encode
/// back to the same bytes. (Not to the same frame: V1 has no place for a server frame's join ref.)
fn check_round_trip(case: &Case) {
    let encoded = encode(case.vsn, case.sender, &case.frame).expect("the case encodes");
    let decoded = decode(case.vsn, case.sender, encoded.as_wire()).expect("the case decodes");
    let encoded_again = encode(case.vsn, case.sender, &decoded).expect("the decoded case encodes");
    assert_eq!(encoded_again, encoded, "{} {} round-trips", case.codec, case.name);
    println!("codec: {} {} is {} bytes on the wire", case.codec, case.name, wire_len(&encoded));
}

fn wire_len(encoded: &ferrocast_protocol::Encoded) -> usize {
    match encoded {
        ferrocast_protocol::Encoded::Text(text) => text.len(),
        ferrocast_protocol::Encoded::Binary(bytes) => bytes.len(),
    }
}

fn bench_encode(criterion: &mut Criterion, cases: &[Case]) {
    let mut group = criterion.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    for case in cases {
        group.bench_with_input(BenchmarkId::new(case.codec, case.name), case, |bencher, case| {
            bencher.iter(|| encode(case.vsn, case.sender, black_box(&case.frame)).expect("encodes"));
        });
    }
    group.finish();
}

fn bench_decode(criterion: &mut Criterion, cases: &[Case]) {
    let mut group = criterion.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    for case in cases {
        let encoded = encode(case.vsn, case.sender, &case.frame).expect("encodes");
        group.bench_with_input(BenchmarkId::new(case.codec, case.name), &encoded, |bencher, encoded| {
            bencher.iter(|| decode(case.vsn, case.sender, black_box(encoded.as_wire())).expect("decodes"));
        });
    }
    group.finish();
}
