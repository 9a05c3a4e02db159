//! The join and push hooks as a [`Remote`]: a session asks, and gets a future of the backend's answer turned into
//! a join (or its refusal) and a push's reply and broadcasts. Every failure becomes an error response with a
//! reason; nothing here panics on what a backend sends.

use crate::Hooks;
use crate::answer::{self, Answer, JoinResult, PushResult};
use crate::call::Failure;
use crate::metrics::Hook;
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ferrocast_protocol::Payload;
use ferrocast_pubsub::{Answer as Later, CloseReason, Refusal, Remote, RemoteJoin, RemotePush, SocketInfo};
use serde_json::{Value, json};
use std::sync::Arc;

/// One backend URL's join or push hook.
#[derive(Debug)]
pub(crate) struct HookRemote {
    hooks: Arc<Hooks>,
    url: String,
}

impl HookRemote {
    pub(crate) fn new(hooks: &Arc<Hooks>, url: &str) -> Arc<Self> {
        Arc::new(HookRemote { hooks: Arc::clone(hooks), url: url.to_owned() })
    }
}

impl Remote for HookRemote {
    fn join(&self, socket: &SocketInfo, topic: &str, params: &Payload) -> Later<Result<RemoteJoin, Refusal>> {
        let mut body = common(socket, topic);
        put_payload(&mut body, "params", params);
        let (hooks, url, headers) = (Arc::clone(&self.hooks), self.url.clone(), socket.caller.headers.clone());
        Box::pin(async move {
            match hooks.call(Hook::Join, &url, body, &headers).await {
                Ok(Answer::Result(result)) => match answer::result::<JoinResult>(result) {
                    Ok(JoinResult { data, presence }) => {
                        let response = json_payload(&data.unwrap_or_else(|| json!({})));
                        Ok(RemoteJoin { response, presence })
                    }
                    Err(detail) => Err(Refusal::Error(json_payload(&Failure::BadAnswer(detail).response()))),
                },
                Ok(Answer::Disconnect { code, reason }) => Err(Refusal::Disconnect(closed(code, reason))),
                Ok(answer) => Err(Refusal::Error(refusal(answer))),
                Err(failure) => Err(Refusal::Error(json_payload(&failure.response()))),
            }
        })
    }

    fn push(&self, socket: &SocketInfo, topic: &str, event: &str, payload: &Payload) -> Later<RemotePush> {
        let mut body = common(socket, topic);
        body["event"] = Value::String(event.to_owned());
        put_payload(&mut body, "payload", payload);
        let (hooks, url, headers) = (Arc::clone(&self.hooks), self.url.clone(), socket.caller.headers.clone());
        Box::pin(async move {
            match hooks.call(Hook::Push, &url, body, &headers).await {
                Ok(Answer::Result(result)) => match answer::result::<PushResult>(result).and_then(pushed) {
                    Ok(pushed) => pushed,
                    Err(detail) => RemotePush::error(json_payload(&Failure::BadAnswer(detail).response())),
                },
                Ok(Answer::Disconnect { code, reason }) => RemotePush::disconnect(closed(code, reason)),
                Ok(answer) => RemotePush::error(refusal(answer)),
                Err(failure) => RemotePush::error(json_payload(&failure.response())),
            }
        })
    }
}

/// The fields every join and push body has.
fn common(socket: &SocketInfo, topic: &str) -> Value {
    let caller = &socket.caller;
    let mut body = json!({
        "client": caller.client,
        "transport": caller.transport,
        "protocol": caller.protocol,
        "user": socket.identity.user_id().unwrap_or_default(),
        "topic": topic,
    });
    if let Some(info) = &caller.info {
        body["info"] = info.clone();
    }
    body
}

/// A client's payload in a body: JSON as it is, bytes in base64 with `"binary": true`.
fn put_payload(body: &mut Value, field: &str, payload: &Payload) {
    match payload {
        Payload::Json(text) => body[field] = serde_json::from_str(text).unwrap_or(Value::Null),
        Payload::Binary(bytes) => {
            body[field] = Value::String(BASE64_STANDARD.encode(bytes));
            body["binary"] = Value::Bool(true);
        }
    }
}

/// A push's `result` as its reply and broadcasts.
fn pushed(result: PushResult) -> Result<RemotePush, String> {
    let mut broadcasts = Vec::new();
    for broadcast in result.broadcast.map(answer::OneOrMany::into_vec).unwrap_or_default() {
        let payload = if broadcast.binary {
            let text = broadcast.payload.as_str().ok_or("a binary broadcast's payload is not a base64 string")?;
            Payload::Binary(BASE64_STANDARD.decode(text).map_err(|_| "a binary broadcast's payload is not base64")?)
        } else {
            json_payload(&broadcast.payload)
        };
        broadcasts.push((broadcast.event, payload));
    }
    let response = json_payload(&result.reply.unwrap_or_else(|| json!({})));
    Ok(RemotePush { status: "ok".to_owned(), response, broadcasts, disconnect: None })
}

/// An `error` answer as the client's error response, `{"reason": message, "code": code}`.
fn refusal(answer: Answer) -> Payload {
    let response = match answer {
        Answer::Error { code, message } => json!({ "reason": message, "code": code }),
        Answer::Disconnect { .. } | Answer::Result(_) => json!({ "reason": "backend_bad_answer" }),
    };
    json_payload(&response)
}

/// A `disconnect` answer as the close it asks for.
fn closed(code: u16, reason: String) -> CloseReason {
    CloseReason { code, reason: reason.into() }
}

fn json_payload(value: &Value) -> Payload {
    Payload::Json(value.to_string())
}
