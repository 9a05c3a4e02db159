//! The JavaScript decoder (`client/js/decode.js`, on the values `JSON.parse` makes) and the native one
//! (`ferrocast_protocol::codec`, on serde_json) give the same frame, or both an error, for the same bytes. The corpus
//! is every input the decoders' fuzz targets start from: `fuzz/seeds/` (frames Phoenix and phoenix.js exchanged,
//! with and without Ferrocast's extension, and the messages Phoenix refused) and `fuzz/regressions/`, each decoded
//! as a server's, the only frames the client decodes. Node runs the JavaScript side
//! (`client/tests/support/decode-corpus.mjs`), binary frames included: both sides read the same bytes.

#![cfg(not(target_arch = "wasm32"))]

#[path = "support/node.rs"]
mod node;

use ferrocast_protocol::codec;
use ferrocast_protocol::{Frame, Payload, Sender, Vsn, WireData};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The fuzz targets whose inputs are frames from a server, and how each is received.
const TARGETS: [(&str, Option<Vsn>); 3] =
    [("decode_v1_json", Some(Vsn::V1)), ("decode_v2_json", Some(Vsn::V2)), ("decode_binary", None)];

fn corpus() -> Vec<(PathBuf, Option<Vsn>, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut inputs = Vec::new();
    for dir in ["seeds", "regressions"] {
        for (target, vsn) in TARGETS {
            let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else { continue };
            for entry in entries {
                let path = entry.expect("a directory entry").path();
                let bytes = std::fs::read(&path).expect("a corpus file");
                inputs.push((path, vsn, bytes));
            }
        }
    }
    inputs.sort_by(|a, b| a.0.cmp(&b.0));
    let binary: Vec<_> = inputs.iter().filter(|(_, vsn, _)| vsn.is_none()).cloned().collect();
    for (path, _, bytes) in binary {
        inputs.extend(binary_variants(&bytes).map(|(what, bytes)| (path.with_extension(what), None, bytes)));
    }
    inputs
}

/// Inputs made from one binary frame, for the edges both decoders must agree on: every truncation of it, each
/// kind byte, each header length set past the end, and each byte turned into one that cannot be in UTF-8.
fn binary_variants(frame: &[u8]) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    let truncated = (0..frame.len()).map(|len| (format!("first-{len}"), frame[..len].to_vec()));
    let kinds = (0..=5u8).map(|kind| (format!("kind-{kind}"), [&[kind], &frame[1.min(frame.len())..]].concat()));
    let set = |at: usize, byte: u8| {
        let mut bytes = frame.to_vec();
        bytes[at] = byte;
        bytes
    };
    let long = (1..frame.len().min(5)).map(move |at| (format!("long-{at}"), set(at, 255)));
    let not_utf8 = (1..frame.len()).map(move |at| (format!("not-utf8-{at}"), set(at, 0xff)));
    truncated.chain(kinds).chain(long).chain(not_utf8)
}

/// A frame as both sides write it for comparison.
fn read<P>(frame: Frame<P>, payload: impl Fn(P) -> Value) -> Value {
    let (reply, join_ref, r#ref, topic, event, payload, ext) = match frame {
        Frame::Message(m) => (None, m.join_ref, m.r#ref, m.topic, m.event, payload(m.payload), m.ext),
        Frame::Reply(r) => {
            (Some(r.status), r.join_ref, r.r#ref, r.topic, "phx_reply".to_owned(), payload(r.response), r.ext)
        }
    };
    let ext = ext.map(|ext| {
        json!({
            "position": ext.position.map(|p| json!({"offset": p.offset, "epoch": p.epoch})),
            "recovered": ext.recovered,
        })
    });
    json!({"reply": reply, "join_ref": join_ref, "ref": r#ref, "topic": topic, "event": event, "payload": payload, "ext": ext})
}

fn native_payload(payload: Payload) -> Value {
    match payload {
        // As `JSON.stringify` writes what `JSON.parse` made of it: compared as values, so spacing does not count.
        Payload::Json(text) => json!({"json": serde_json::from_str::<Value>(&text).expect("the decoder keeps JSON")}),
        Payload::Binary(bytes) => json!({"bytes": bytes}),
    }
}

/// The native decoder's frames for one input (one each: the corpus has no batches), or that it refused it.
fn native(vsn: Option<Vsn>, bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    let decoded = match vsn {
        Some(vsn) => codec::decode(vsn, Sender::Server, WireData::Text(&text)),
        None => codec::decode(Vsn::V2, Sender::Server, WireData::Binary(bytes)),
    };
    match decoded {
        Ok(frame) => json!([read(frame, native_payload)]),
        Err(_) => json!(["refused"]),
    }
}

/// What Node is given for one input, as a WebSocket message's data: text, or bytes.
fn javascript_input(vsn: Option<Vsn>, bytes: &[u8]) -> Value {
    match vsn {
        Some(vsn) => json!({"vsn": if vsn == Vsn::V1 { 1 } else { 2 }, "text": String::from_utf8_lossy(bytes)}),
        None => json!({"binary": bytes}),
    }
}

/// The JavaScript decoder's reading, made comparable: a refusal's reason does not count, only that it refused;
/// a JSON payload is compared as the value it writes.
fn javascript_output(frames: &Value) -> Value {
    let frames = frames.as_array().expect("an array of frames per input");
    Value::Array(
        frames
            .iter()
            .map(|frame| {
                if frame.get("refused").is_some() {
                    return json!("refused");
                }
                let mut frame = frame.clone();
                if let Some(text) = frame["payload"]["json"].as_str() {
                    frame["payload"]["json"] = serde_json::from_str(text).expect("JSON.stringify writes JSON");
                }
                if let Some(recovered) = frame["ext"].get("recovered").cloned()
                    && recovered.is_null()
                {
                    frame["ext"]["recovered"] = Value::Null;
                }
                frame
            })
            .collect(),
    )
}

#[test]
fn the_javascript_and_the_native_decoder_read_the_fuzz_corpus_alike() {
    let corpus = corpus();
    assert!(corpus.len() > 50, "the corpus is there ({} inputs)", corpus.len());
    let input: Vec<Value> = corpus.iter().map(|(_, vsn, bytes)| javascript_input(*vsn, bytes)).collect();
    let input: Vec<&Value> = input.iter().collect();
    let results = node::answers("decode-corpus.mjs", &input);
    let mut differences = Vec::new();
    for ((path, vsn, bytes), javascript) in corpus.iter().zip(&results) {
        let (native, javascript) = (native(*vsn, bytes), javascript_output(javascript));
        if native != javascript {
            differences.push(format!("{}:\n  native:     {native}\n  javascript: {javascript}", path.display()));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} inputs differ:\n{}",
        differences.len(),
        corpus.len(),
        differences.join("\n")
    );
    let frames = results.iter().filter(|frames| frames[0].get("refused").is_none()).count();
    assert!(
        frames > corpus.len() / 2,
        "most of the corpus decodes ({frames} of {}), so frames are compared",
        corpus.len()
    );
}
