//! The JavaScript encoder (`client/js/encode.js`, which lays out the frames the machine decides to send) writes the
//! same bytes as the native one (`ferrocast_protocol::codec::encode`) for every frame a client sends: V1 and V2
//! JSON and V2 binary pushes, with and without refs, with strings JSON must escape (quotes, backslashes, control
//! characters, non-ASCII, the longest field a binary frame holds), and a join's extension, empty or with the
//! largest offset. Node runs the JavaScript side (`client/tests/support/encode-corpus.mjs`).

#![cfg(not(target_arch = "wasm32"))]

#[path = "support/node.rs"]
mod node;

use ferrocast_protocol::codec;
use ferrocast_protocol::{Encoded, Ext, Frame, Message, Payload, Position, Sender, Vsn};
use serde_json::{Value, json};

/// Names as applications write them, and as they try an encoder.
fn names() -> Vec<String> {
    vec![
        "room:lobby".to_owned(),
        String::new(),
        "quote \" backslash \\ slash / newline \n tab \t".to_owned(),
        "control \u{1} \u{8} \u{c} \r \u{1f} delete \u{7f}".to_owned(),
        "é ü 中文 😀 separators \u{2028} \u{2029}".to_owned(),
        "x".repeat(255),
    ]
}

fn payloads(vsn: Vsn) -> Vec<Payload> {
    let mut payloads = vec![
        Payload::Json("{}".to_owned()),
        Payload::Json(r#"{"body":"hi \"there\"","n":[1,2.5,null,true]}"#.to_owned()),
    ];
    if vsn == Vsn::V2 {
        payloads.push(Payload::Binary(Vec::new()));
        payloads.push(Payload::Binary((0..=255).collect()));
    }
    payloads
}

fn exts() -> Vec<Option<Ext>> {
    let position = |offset, epoch: &str| Some(Position { offset, epoch: epoch.to_owned() });
    vec![
        None,
        Some(Ext { position: None, recovered: None }),
        Some(Ext { position: position(0, "epoch-1"), recovered: None }),
        Some(Ext { position: position(Position::MAX_OFFSET, "an \"epoch\" é"), recovered: None }),
    ]
}

/// Every combination a client sends that its serializer can encode, with the native encoder's bytes.
fn corpus() -> Vec<(Value, Value)> {
    let mut corpus = Vec::new();
    for vsn in [Vsn::V1, Vsn::V2] {
        for (join_ref, r#ref) in [(None, None), (Some("1"), Some("1")), (Some("12"), Some("345")), (None, Some("7"))] {
            for name in names() {
                for payload in payloads(vsn) {
                    for ext in exts() {
                        let message = Message {
                            join_ref: join_ref.map(str::to_owned),
                            r#ref: r#ref.map(str::to_owned),
                            topic: name.clone(),
                            event: ["event ", &name].concat(),
                            payload: payload.clone(),
                            ext: ext.clone(),
                        };
                        let Ok(encoded) = codec::encode(vsn, Sender::Client, &Frame::Message(message.clone())) else {
                            continue;
                        };
                        corpus.push((javascript_input(vsn, message), expected(encoded)));
                    }
                }
            }
        }
    }
    corpus
}

fn javascript_input(vsn: Vsn, message: Message) -> Value {
    let payload = match message.payload {
        Payload::Json(text) => json!({"json": text}),
        Payload::Binary(bytes) => json!({"bytes": bytes}),
    };
    let ext = message.ext.map(|ext| match ext.position {
        Some(position) => json!({"offset": position.offset, "epoch": position.epoch}),
        None => json!({}),
    });
    json!({
        "v1": vsn == Vsn::V1,
        "joinRef": message.join_ref,
        "ref": message.r#ref,
        "topic": message.topic,
        "event": message.event,
        "payload": payload,
        "ext": ext,
    })
}

fn expected(encoded: Encoded) -> Value {
    match encoded {
        Encoded::Text(text) => json!({"text": text}),
        Encoded::Binary(bytes) => json!({"bytes": bytes}),
    }
}

#[test]
fn the_javascript_and_the_native_encoder_write_a_clients_frames_alike() {
    let corpus = corpus();
    let binary = corpus.iter().filter(|(_, expected)| expected.get("bytes").is_some()).count();
    assert!(corpus.len() > 300 && binary >= 40, "the corpus has text and binary frames ({binary} of {})", corpus.len());
    let input: Vec<&Value> = corpus.iter().map(|(input, _)| input).collect();
    let results = node::answers("encode-corpus.mjs", &input);
    let differences: Vec<String> = corpus
        .iter()
        .zip(&results)
        .filter(|((_, expected), javascript)| expected != *javascript)
        .map(|((input, expected), javascript)| {
            format!("{input}:\n  native:     {expected}\n  javascript: {javascript}")
        })
        .collect();
    assert!(
        differences.is_empty(),
        "{} of {} frames differ:\n{}",
        differences.len(),
        corpus.len(),
        differences.join("\n")
    );
}
