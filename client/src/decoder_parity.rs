//! The browser decoder (`decode.rs`, on the values `JSON.parse` makes) and the native one
//! (`ferrocast_protocol::codec`, on serde_json) give the same frame, or both an error, for the same bytes. The corpus
//! is every input the decoders' fuzz targets start from: `fuzz/seeds/` (frames Phoenix and phoenix.js exchanged,
//! with and without Ferrocast's extension, and the messages Phoenix refused) and `fuzz/regressions/`. Every input is
//! decoded as a server's, the only frames the browser decodes.
//!
//! The native decoder needs the protocol's `json` feature, which the client's dev-dependency turns on: for test
//! builds only, so the shipped client stays without serde_json.

use crate::decode::decode;
use ferrocast_protocol::codec;
use ferrocast_protocol::{Ext, Frame, Payload, Sender, Vsn, WireData};
use js_sys::{ArrayBuffer, JSON, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// How a fuzz target takes its input.
#[derive(Debug, Clone, Copy)]
enum Input {
    /// A text message on a `vsn=1.0.0` socket (`decode_v1_json`).
    V1Text,
    /// A text message on a `vsn=2.0.0` socket (`decode_v2_json`).
    V2Text,
    /// A binary message, on a `vsn=2.0.0` socket (`decode_binary`).
    Binary,
}

/// One input of the corpus: how it is read, its path under `fuzz/`, its bytes.
type Seed = (Input, &'static str, &'static [u8]);

macro_rules! seed {
    ($input:ident, $path:literal) => {
        (Input::$input, $path, include_bytes!(concat!("../../fuzz/", $path)))
    };
}

/// The corpus. The native test below checks that it names every file of the directories.
const CORPUS: &[Seed] = &[
    seed!(V1Text, "seeds/decode_v1_json/client-crash-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-heartbeat-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-malformed-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-malformed-2.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-malformed-3.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-new_msg-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-phx_join-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-phx_join-2.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-phx_join-ext-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-phx_join-ext-2.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-phx_leave-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/client-ping-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-new_msg-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-new_msg-ext-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-phx_close-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-phx_close-2.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-phx_close-ext-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-phx_close-ext-2.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-phx_error-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-phx_error-ext-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-presence_diff-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-presence_diff-ext-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-presence_state-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-presence_state-ext-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-reply_error-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-reply_error-ext-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-reply_ok-1.json"),
    seed!(V1Text, "seeds/decode_v1_json/server-reply_ok-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-crash-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-err-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-foo-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-heartbeat-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-heartbeat-2.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-malformed-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-malformed-2.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-malformed-3.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-new_msg-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-noreply-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-phx_join-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-phx_join-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-phx_leave-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-ping-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-ping-2.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-ping-3.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-ping-4.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-reply_atom-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-stop-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/client-stop_reply-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-new_msg-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-new_msg-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-phx_close-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-phx_close-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-phx_error-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-phx_error-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-presence_diff-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-presence_diff-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-presence_state-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-presence_state-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_error-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_error-2.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_error-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_error-ext-2.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_ok-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_ok-2.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_ok-3.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_ok-4.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_ok-ext-1.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_ok-ext-2.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_ok-ext-3.json"),
    seed!(V2Text, "seeds/decode_v2_json/server-reply_ok-ext-4.json"),
    seed!(Binary, "seeds/decode_binary/client-bin-captured-1.bin"),
    seed!(Binary, "seeds/decode_binary/client-heartbeat-1.bin"),
    seed!(Binary, "seeds/decode_binary/client-ping-1.bin"),
    seed!(Binary, "seeds/decode_binary/client-ping-captured-1.bin"),
    seed!(Binary, "seeds/decode_binary/server-bin_push-captured-1.bin"),
    seed!(Binary, "seeds/decode_binary/server-presence_diff-1.bin"),
    seed!(Binary, "seeds/decode_binary/server-presence_diff-ext-1.bin"),
    seed!(Binary, "seeds/decode_binary/server-reply_ok-1.bin"),
    seed!(Binary, "seeds/decode_binary/server-reply_ok-2.bin"),
    seed!(Binary, "seeds/decode_binary/server-reply_ok-captured-1.bin"),
    seed!(V1Text, "regressions/decode_v1_json/server-frame-with-join-ref.json"),
    seed!(Binary, "regressions/decode_binary/server-push-named-phx_reply.bin"),
];

/// A decoded frame in a form both decoders' results compare in: payloads as `JSON.stringify` writes what
/// `JSON.parse` made of them, binary ones as their bytes.
#[derive(Debug, PartialEq)]
struct Read {
    /// `Some(status)` for a reply, whose payload is then its response.
    reply: Option<String>,
    join_ref: Option<String>,
    r#ref: Option<String>,
    topic: String,
    event: String,
    payload: Compared,
    ext: Option<Ext>,
}

/// A payload as compared.
#[derive(Debug, PartialEq)]
enum Compared {
    /// `JSON.stringify` of the value (`None`: undefined, which JSON cannot write).
    Json(Option<String>),
    Bytes(Vec<u8>),
}

impl Read {
    fn of<P>(frame: Frame<P>, payload: impl Fn(P) -> Compared) -> Read {
        match frame {
            Frame::Message(message) => Read {
                reply: None,
                join_ref: message.join_ref,
                r#ref: message.r#ref,
                topic: message.topic,
                event: message.event,
                payload: payload(message.payload),
                ext: message.ext,
            },
            Frame::Reply(reply) => Read {
                reply: Some(reply.status),
                join_ref: reply.join_ref,
                r#ref: reply.r#ref,
                topic: reply.topic,
                event: ferrocast_protocol::frame::event::REPLY.to_owned(),
                payload: payload(reply.response),
                ext: reply.ext,
            },
        }
    }
}

fn stringified(value: &JsValue) -> Compared {
    if value.is_instance_of::<ArrayBuffer>() {
        return Compared::Bytes(Uint8Array::new(value).to_vec());
    }
    Compared::Json(JSON::stringify(value).ok().and_then(|text| text.as_string()))
}

fn native_payload(payload: Payload) -> Compared {
    match payload {
        Payload::Json(text) => stringified(&JSON::parse(&text).expect("the native decoder keeps valid JSON")),
        Payload::Binary(bytes) => Compared::Bytes(bytes),
    }
}

/// What the native decoder makes of `bytes`: `None` for an error.
fn native(input: Input, bytes: &[u8]) -> Option<Read> {
    let text = String::from_utf8_lossy(bytes);
    let decoded = match input {
        Input::V1Text => codec::decode(Vsn::V1, Sender::Server, WireData::Text(&text)),
        Input::V2Text => codec::decode(Vsn::V2, Sender::Server, WireData::Text(&text)),
        Input::Binary => codec::decode(Vsn::V2, Sender::Server, WireData::Binary(bytes)),
    };
    decoded.ok().map(|frame| Read::of(frame, native_payload))
}

/// What the browser decoder makes of `bytes`, received as a WebSocket message: `None` for an error.
fn browser(input: Input, bytes: &[u8]) -> Option<Read> {
    let (vsn, data) = match input {
        Input::V1Text => (Vsn::V1, JsValue::from_str(&String::from_utf8_lossy(bytes))),
        Input::V2Text => (Vsn::V2, JsValue::from_str(&String::from_utf8_lossy(bytes))),
        Input::Binary => (Vsn::V2, Uint8Array::from(bytes).buffer().into()),
    };
    let mut results = Vec::new();
    decode(vsn, &data, false, |result| {
        results.push(result.map(|decoded| Read::of(decoded.frame, |p| stringified(&p))))
    });
    assert_eq!(results.len(), 1, "one message, one frame (no batch in the corpus)");
    results.pop().and_then(Result::ok)
}

#[wasm_bindgen_test]
fn the_browser_and_the_native_decoder_read_the_fuzz_corpus_alike() {
    let mut differences = Vec::new();
    for &(input, path, bytes) in CORPUS {
        let (native, browser) = (native(input, bytes), browser(input, bytes));
        if native != browser {
            differences.push(format!("{path}:\n  native:  {native:?}\n  browser: {browser:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} inputs differ:\n{}",
        differences.len(),
        CORPUS.len(),
        differences.join("\n")
    );
    let frames = CORPUS.iter().filter(|(input, _, bytes)| native(*input, bytes).is_some()).count();
    assert!(
        frames > CORPUS.len() / 2,
        "most of the corpus decodes ({frames} of {}), so frames are compared",
        CORPUS.len()
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_corpus_names_every_decoder_seed_and_regression() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut on_disk = Vec::new();
    for dir in ["seeds", "regressions"] {
        for target in ["decode_v1_json", "decode_v2_json", "decode_binary"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else { continue };
            for entry in entries {
                on_disk.push(format!(
                    "{dir}/{target}/{}",
                    entry.expect("a directory entry").file_name().to_string_lossy()
                ));
            }
        }
    }
    let mut listed: Vec<String> = CORPUS.iter().map(|(_, path, _)| (*path).to_owned()).collect();
    on_disk.sort();
    listed.sort();
    assert_eq!(listed, on_disk, "CORPUS lists the files of fuzz/{{seeds,regressions}}/decode_*");
}
