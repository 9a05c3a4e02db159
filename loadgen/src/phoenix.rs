//! The Phoenix Channels V2 JSON dialect: the frames the generator sends and a cheap reading of the ones it gets.
//!
//! Sent frames go through ferrocast-protocol's V2 encoder, so they are what any Phoenix client would send. Received
//! frames are only walked to their header fields and payload slice ([`json_scan`]), never parsed, since subscribers
//! read them by the hundred thousand a second. A Ferrocast relay asked for batches (`ferrocast_batch=1`) may send
//! several frames in one message, `[[…],[…]]`; [`for_each_frame`] hands each one over as if it had come alone.

use crate::json_scan::{self, string_content};
use ferrocast_protocol::codec::{self, is_batch};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{Encoded, Frame, Message, Payload, Sender, Vsn};

/// The join ref of the one channel each generator connection joins.
pub(crate) const JOIN_REF: &str = "1";

/// A received frame's fields: strings without their quotes (still escaped), the payload as JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    /// The join ref, `None` for `null`.
    pub join_ref: Option<&'a str>,
    /// The ref, `None` for `null`.
    pub r#ref: Option<&'a str>,
    pub topic: &'a str,
    pub event: &'a str,
    /// The payload, verbatim.
    pub payload: &'a str,
}

/// Reads a frame's header; `None` for anything that is not a V2 JSON frame.
pub(crate) fn parse(frame: &str) -> Option<Header<'_>> {
    let mut elements = json_scan::elements(frame)?;
    let join_ref = nullable_string(elements.next()?)?;
    let r#ref = nullable_string(elements.next()?)?;
    let topic = string_content(elements.next()?)?;
    let event = string_content(elements.next()?)?;
    let payload = elements.next()?;
    Some(Header { join_ref, r#ref, topic, event, payload })
}

/// Calls `each` with every frame of a message: the frames of a batch in order, or the message itself.
pub(crate) fn for_each_frame<'a>(message: &'a str, mut each: impl FnMut(&'a str)) {
    if is_batch(message.as_bytes()) {
        json_scan::elements(message).into_iter().flatten().for_each(each);
    } else {
        each(message);
    }
}

/// Whether a `phx_reply` payload says `"status":"ok"`.
pub(crate) fn reply_is_ok(payload: &str) -> bool {
    json_scan::field(payload, "status").and_then(string_content) == Some("ok")
}

/// The response of a `phx_reply` payload.
pub(crate) fn reply_response(payload: &str) -> Option<&str> {
    json_scan::field(payload, "response")
}

/// `phx_join` on `topic` with the join params `params` (a JSON object).
pub(crate) fn join(topic: &str, params: &str) -> String {
    push(topic, event::JOIN, params.to_owned(), JOIN_REF)
}

/// A push of `event` with `payload` on the joined `topic`, with the ref `push_ref`.
pub(crate) fn push(topic: &str, event: &str, payload: String, push_ref: &str) -> String {
    encode(Message {
        join_ref: Some(JOIN_REF.to_owned()),
        r#ref: Some(push_ref.to_owned()),
        topic: topic.to_owned(),
        event: event.to_owned(),
        payload: Payload::Json(payload),
        ext: None,
    })
}

/// A heartbeat with the ref `heartbeat_ref`.
pub(crate) fn heartbeat(heartbeat_ref: &str) -> String {
    encode(Message {
        join_ref: None,
        r#ref: Some(heartbeat_ref.to_owned()),
        topic: event::PHOENIX_TOPIC.to_owned(),
        event: event::HEARTBEAT.to_owned(),
        payload: Payload::empty(),
        ext: None,
    })
}

fn encode(message: Message) -> String {
    match codec::encode(Vsn::V2, Sender::Client, &Frame::Message(message)) {
        Ok(Encoded::Text(text)) => text,
        // A client message with a JSON payload is always V2 text; anything else is a bug here.
        other => unreachable!("a client JSON message encodes as text, got {other:?}"),
    }
}

/// `null` as `Some(None)`, a string as its content, anything else `None`.
fn nullable_string(token: &str) -> Option<Option<&str>> {
    if token == "null" { Some(None) } else { string_content(token).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broadcast_and_a_reply_read_back() {
        let broadcast = r#"[null,null,"room:bench","new_msg",{"t":1,"s":2}]"#;
        let header = parse(broadcast).unwrap();
        assert_eq!(
            header,
            Header { join_ref: None, r#ref: None, topic: "room:bench", event: "new_msg", payload: r#"{"t":1,"s":2}"# }
        );
        let reply = r#"["1","17","room:echo","phx_reply",{"response":{"t":5},"status":"ok"}]"#;
        let header = parse(reply).unwrap();
        assert_eq!((header.join_ref, header.r#ref, header.event), (Some("1"), Some("17"), "phx_reply"));
        assert!(reply_is_ok(header.payload));
        assert_eq!(reply_response(header.payload), Some(r#"{"t":5}"#));
        assert!(!reply_is_ok(r#"{"response":{"reason":"unauthorized"},"status":"error"}"#));
        assert_eq!(parse(r#"{"event":"x"}"#), None);
        assert_eq!(parse(r#"[null,null,"t"]"#), None);
    }

    #[test]
    fn a_batch_splits_into_its_frames_and_a_frame_stays_whole() {
        let batch = r#"[[null,null,"room:a","new_msg",{"t":1,"s":1}], ["1","3","room:a","phx_reply",{"status":"ok","response":{}}]]"#;
        let mut frames = Vec::new();
        for_each_frame(batch, |frame| frames.push(parse(frame).unwrap().event));
        assert_eq!(frames, ["new_msg", "phx_reply"]);

        let single = r#"[null,null,"room:a","new_msg",{"s":"[["}]"#;
        let mut frames = Vec::new();
        for_each_frame(single, |frame| frames.push(frame));
        assert_eq!(frames, [single]);
    }

    #[test]
    fn sent_frames_are_v2_json() {
        assert_eq!(
            join("room:bench", r#"{"no_presence":true}"#),
            r#"["1","1","room:bench","phx_join",{"no_presence":true}]"#
        );
        assert_eq!(push("room:echo", "ping", r#"{"t":1}"#.to_owned(), "9"), r#"["1","9","room:echo","ping",{"t":1}]"#);
        assert_eq!(heartbeat("4"), r#"[null,"4","phoenix","heartbeat",{}]"#);
    }
}
