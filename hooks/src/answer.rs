//! What a backend answers, read strictly: an object with exactly one of `result`, `error` and `disconnect`, each of
//! the shape its hook expects (Centrifugo's proxy answers, in Phoenix terms). Anything else is a bad answer with a
//! reason that says what was wrong, for the client's error reply and the log.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A backend's answer, its `result` still to be read as its hook's.
#[derive(Debug)]
pub(crate) enum Answer {
    Result(Value),
    Error { code: Option<i64>, message: String },
    Disconnect { code: u16, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    result: Option<Value>,
    error: Option<ErrorBody>,
    disconnect: Option<DisconnectBody>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct DisconnectBody {
    code: u16,
    #[serde(default)]
    reason: String,
}

/// Reads an answer's body; `Err` says why it is not one.
pub(crate) fn read(body: &[u8]) -> Result<Answer, String> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|error| {
        if serde_json::from_slice::<Value>(body).is_ok() {
            format!("not an answer: {error}")
        } else {
            "not JSON".to_owned()
        }
    })?;
    match envelope {
        Envelope { result: Some(result), error: None, disconnect: None } => Ok(Answer::Result(result)),
        Envelope { result: None, error: Some(ErrorBody { code, message }), disconnect: None } => {
            Ok(Answer::Error { code, message })
        }
        Envelope { result: None, error: None, disconnect: Some(DisconnectBody { code, reason }) } => {
            Ok(Answer::Disconnect { code: sendable_code(code), reason: fit_close_frame(reason) })
        }
        _ => Err("not an answer: expected exactly one of result, error and disconnect".to_owned()),
    }
}

/// A close code a backend asked for, as one a client may receive: 1000 and the application range 3000–4999 as
/// given; anything else (1005 and 1006 cannot be sent, 1001–1015 are the protocol's) as 1008, a policy close.
fn sendable_code(code: u16) -> u16 {
    if code == 1000 || (3000..=4999).contains(&code) { code } else { 1008 }
}

/// A close reason within the 123 bytes a close frame carries, cut at a character boundary.
fn fit_close_frame(mut reason: String) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    reason
}

/// A `result` read as `T`, or why it is not one.
pub(crate) fn result<T: DeserializeOwned>(result: Value) -> Result<T, String> {
    serde_json::from_value(result).map_err(|error| format!("a result of the wrong shape: {error}"))
}

/// The connect hook's `result`.
#[derive(Debug, Deserialize)]
pub(crate) struct ConnectResult {
    pub(crate) user: String,
    pub(crate) expire_at: Option<u64>,
    pub(crate) info: Option<Value>,
    /// Topic patterns the connection may join besides those a join hook decides.
    #[serde(default)]
    pub(crate) topics: Vec<String>,
}

/// The join hook's `result`.
#[derive(Debug, Deserialize)]
pub(crate) struct JoinResult {
    pub(crate) data: Option<Value>,
    pub(crate) presence: Option<Map<String, Value>>,
}

/// The push hook's `result`.
#[derive(Debug, Deserialize)]
pub(crate) struct PushResult {
    pub(crate) reply: Option<Value>,
    pub(crate) broadcast: Option<OneOrMany<BroadcastBody>>,
}

/// One broadcast a push's answer asks for; a binary one carries its payload in base64.
#[derive(Debug, Deserialize)]
pub(crate) struct BroadcastBody {
    pub(crate) event: String,
    #[serde(default)]
    pub(crate) payload: Value,
    #[serde(default)]
    pub(crate) binary: bool,
}

/// An object, or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

/// The refresh hook's `result`.
#[derive(Debug, Deserialize)]
pub(crate) struct RefreshResult {
    pub(crate) expire_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_of_result_error_and_disconnect() {
        assert!(matches!(read(br#"{"result":{"user":"u"}}"#), Ok(Answer::Result(_))));
        assert!(matches!(
            read(br#"{"error":{"code":403,"message":"no"}}"#),
            Ok(Answer::Error { code: Some(403), message }) if message == "no"
        ));
        assert!(matches!(
            read(br#"{"disconnect":{"code":4000,"reason":"bye"}}"#),
            Ok(Answer::Disconnect { code: 4000, .. })
        ));
        // Codes a client may not be sent become 1008; a reason is cut to what a close frame holds.
        let refused_code = read(br#"{"disconnect":{"code":1006,"reason":"x"}}"#);
        assert!(matches!(refused_code, Ok(Answer::Disconnect { code: 1008, .. })));
        let long = format!(r#"{{"disconnect":{{"code":4000,"reason":"{}"}}}}"#, "é".repeat(100));
        let Ok(Answer::Disconnect { reason, .. }) = read(long.as_bytes()) else { panic!("a disconnect") };
        assert_eq!(reason.len(), 122);
        assert_eq!(read(b"<html>").unwrap_err(), "not JSON");
        assert!(read(b"[1,2]").unwrap_err().starts_with("not an answer"));
        assert!(read(br#"{"result":{},"error":{"message":"x"}}"#).unwrap_err().contains("exactly one"));
        assert!(read(br#"{}"#).unwrap_err().contains("exactly one"));
        assert!(read(br#"{"results":{}}"#).unwrap_err().starts_with("not an answer"));
    }

    #[test]
    fn results_are_read_as_their_hooks_and_broadcasts_as_one_or_many() {
        let connect: ConnectResult = result(serde_json::json!({"user": "u1", "expire_at": 5})).unwrap();
        assert_eq!((connect.user.as_str(), connect.expire_at), ("u1", Some(5)));
        assert!(result::<ConnectResult>(serde_json::json!({"expire_at": 5})).unwrap_err().contains("wrong shape"));
        let one: PushResult = result(serde_json::json!({"broadcast": {"event": "e", "payload": 1}})).unwrap();
        assert_eq!(one.broadcast.unwrap().into_vec().len(), 1);
        let two: PushResult = result(serde_json::json!({"broadcast": [{"event": "a"}, {"event": "b"}]})).unwrap();
        assert_eq!(two.broadcast.unwrap().into_vec().len(), 2);
        assert!(result::<PushResult>(serde_json::json!({"broadcast": 3})).is_err());
    }
}
