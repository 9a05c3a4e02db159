//! The join and push hooks as a [`Remote`]: a session asks, and gets a future of the backend's answer turned into
//! a join (or its refusal) and a push's reply and broadcasts. Every failure becomes an error response with a
//! reason; nothing here panics on what a backend sends.

use crate::Hooks;
use crate::answer::{self, Answer, JoinResult, PushResult};
use crate::bodies::{self, TopicBody};
use crate::call::Failure;
use crate::endpoint::Endpoint;
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
    endpoint: Arc<Endpoint>,
}

impl HookRemote {
    pub(crate) fn new(hooks: &Arc<Hooks>, endpoint: Arc<Endpoint>) -> Arc<Self> {
        Arc::new(HookRemote { hooks: Arc::clone(hooks), endpoint })
    }
}

impl Remote for HookRemote {
    fn join(&self, socket: &SocketInfo, topic: &str, params: &Payload) -> Later<Result<RemoteJoin, Refusal>> {
        let body = bodies::bytes(&TopicBody::join(socket, topic, params));
        let (hooks, endpoint, caller) =
            (Arc::clone(&self.hooks), Arc::clone(&self.endpoint), Arc::clone(&socket.caller));
        Box::pin(async move {
            match hooks.call(Hook::Join, &endpoint, body, &caller.headers).await {
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
        let body = bodies::bytes(&TopicBody::push(socket, topic, event, payload));
        let (hooks, endpoint, caller) =
            (Arc::clone(&self.hooks), Arc::clone(&self.endpoint), Arc::clone(&socket.caller));
        Box::pin(async move {
            match hooks.call(Hook::Push, &endpoint, body, &caller.headers).await {
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
