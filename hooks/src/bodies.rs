//! What the relay sends each hook, serialized straight from the connection's and the frame's own data: a client's
//! JSON payload goes into the body as the text it came in, checked but not parsed into a tree and written again.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ferrocast_protocol::Payload;
use ferrocast_pubsub::{Caller, SocketInfo};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};

/// A client's payload in a body: JSON as it came, bytes in base64 (with `"binary": true` beside it).
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Carried<'a> {
    Json(&'a RawValue),
    Base64(String),
    Null,
}

impl<'a> Carried<'a> {
    /// The payload as carried, and the `binary` flag beside it.
    pub(crate) fn of(payload: &'a Payload) -> (Self, Option<bool>) {
        match payload {
            // A frame's JSON was valid when it was decoded; should it not be, the backend gets null, not garbage.
            Payload::Json(text) => (serde_json::from_str(text).map_or(Carried::Null, Carried::Json), None),
            Payload::Binary(bytes) => (Carried::Base64(BASE64_STANDARD.encode(bytes)), Some(true)),
        }
    }
}

/// `connect`.
#[derive(Serialize)]
pub(crate) struct ConnectBody<'a> {
    client: &'a str,
    transport: &'a str,
    protocol: &'a str,
    params: &'a HashMap<String, String>,
    headers: BTreeMap<&'a str, &'a str>,
}

impl<'a> ConnectBody<'a> {
    pub(crate) fn new(caller: &'a Caller, params: &'a HashMap<String, String>) -> Self {
        let headers = caller.headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        ConnectBody { client: &caller.client, transport: caller.transport, protocol: caller.protocol, params, headers }
    }
}

/// `join` and `push`: the connection, the topic, and the join's params or the push's event and payload.
#[derive(Serialize)]
pub(crate) struct TopicBody<'a> {
    client: &'a str,
    transport: &'a str,
    protocol: &'a str,
    user: &'a str,
    topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<Carried<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Carried<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    info: Option<&'a Value>,
}

impl<'a> TopicBody<'a> {
    fn new(socket: &'a SocketInfo, topic: &'a str) -> Self {
        let caller = &socket.caller;
        TopicBody {
            client: &caller.client,
            transport: caller.transport,
            protocol: caller.protocol,
            user: socket.identity.user_id().unwrap_or_default(),
            topic,
            event: None,
            params: None,
            payload: None,
            binary: None,
            info: caller.info.as_ref(),
        }
    }

    pub(crate) fn join(socket: &'a SocketInfo, topic: &'a str, params: &'a Payload) -> Self {
        let (params, binary) = Carried::of(params);
        TopicBody { params: Some(params), binary, ..TopicBody::new(socket, topic) }
    }

    pub(crate) fn push(socket: &'a SocketInfo, topic: &'a str, event: &'a str, payload: &'a Payload) -> Self {
        let (payload, binary) = Carried::of(payload);
        TopicBody { event: Some(event), payload: Some(payload), binary, ..TopicBody::new(socket, topic) }
    }
}

/// `refresh`.
#[derive(Serialize)]
pub(crate) struct RefreshBody<'a> {
    client: &'a str,
    transport: &'a str,
    protocol: &'a str,
    user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    info: Option<&'a Value>,
}

impl<'a> RefreshBody<'a> {
    pub(crate) fn new(caller: &'a Caller, user: &'a str) -> Self {
        RefreshBody {
            client: &caller.client,
            transport: caller.transport,
            protocol: caller.protocol,
            user,
            info: caller.info.as_ref(),
        }
    }
}

/// A body's bytes.
pub(crate) fn bytes(body: &impl Serialize) -> Vec<u8> {
    // Serializing these structs cannot fail: their maps have string keys and their values are JSON already.
    serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_pubsub::Identity;
    use std::sync::Arc;

    fn socket() -> SocketInfo {
        let caller = Caller {
            client: "c1".into(),
            transport: "websocket",
            protocol: "2.0.0",
            headers: vec![],
            info: Some(serde_json::json!({"name": "ada"})),
        };
        SocketInfo { conn: None, params: HashMap::new(), identity: Identity::Anonymous, caller: Arc::new(caller) }
    }

    #[test]
    fn a_json_payload_is_carried_as_it_came_and_a_binary_one_in_base64() {
        let socket = socket();
        let json = Payload::Json(r#"{"n": [1, 2]}"#.to_owned());
        let body: Value = serde_json::from_slice(&bytes(&TopicBody::push(&socket, "app:1", "say", &json))).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"client": "c1", "transport": "websocket", "protocol": "2.0.0", "user": "",
                "topic": "app:1", "event": "say", "payload": {"n": [1, 2]}, "info": {"name": "ada"}})
        );
        let binary = Payload::Binary(vec![1, 2, 255]);
        let body: Value = serde_json::from_slice(&bytes(&TopicBody::join(&socket, "app:1", &binary))).unwrap();
        assert_eq!((&body["params"], &body["binary"]), (&serde_json::json!("AQL/"), &serde_json::json!(true)));
    }
}
