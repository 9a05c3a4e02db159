//! The events an endpoint is sent, as JSON text written once and shared by every endpoint that wants them.

use crate::bodies::Carried;
use ferrocast_protocol::Payload;
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// An event's JSON text.
pub(crate) type EventText = Arc<str>;

/// Unix milliseconds now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

#[derive(Serialize)]
struct Numbered<'a> {
    r#type: &'a str,
    topic: &'a str,
    event: &'a str,
    payload: Carried<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary: Option<bool>,
    offset: u64,
    epoch: &'a str,
    at: u64,
}

/// A broadcast (`broadcast`, or `run.<event>` for the workflow engine's), made at `at` (Unix ms).
pub(crate) fn numbered(
    kind: &str,
    topic: &str,
    event: &str,
    payload: &Payload,
    offset: u64,
    epoch: &str,
    at: u64,
) -> EventText {
    let (payload, binary) = Carried::of(payload);
    let event = Numbered { r#type: kind, topic, event, payload, binary, offset, epoch, at };
    serde_json::to_string(&event).unwrap_or_default().into()
}

/// `presence.join` or `presence.leave` of member `key`, with its metas (a JSON array's text).
pub(crate) fn presence(kind: &str, topic: &str, key: &str, metas: &str) -> EventText {
    #[derive(Serialize)]
    struct Presence<'a> {
        r#type: &'a str,
        topic: &'a str,
        key: &'a str,
        metas: &'a RawValue,
        at: u64,
    }
    let Ok(metas) = serde_json::from_str::<&RawValue>(metas) else { return channel(kind, topic, now_ms()) };
    serde_json::to_string(&Presence { r#type: kind, topic, key, metas, at: now_ms() }).unwrap_or_default().into()
}

/// `channel.occupied` or `channel.vacated`, which happened at `at` (Unix milliseconds).
pub(crate) fn channel(kind: &str, topic: &str, at: u64) -> EventText {
    #[derive(Serialize)]
    struct Channel<'a> {
        r#type: &'a str,
        topic: &'a str,
        at: u64,
    }
    serde_json::to_string(&Channel { r#type: kind, topic, at }).unwrap_or_default().into()
}
