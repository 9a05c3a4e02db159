//! One call of a hook: the POST, with its signature, trace context and forwarded headers, under the time limit and
//! the backend's circuit breaker, its answer read within the size limit, and its outcome counted.

use crate::answer::{self, Answer};
use crate::endpoint::Endpoint;
use crate::metrics::{Hook, Outcome};
use crate::signature::{SIGNATURE_HEADER, sign};
use crate::{Hooks, random_u64};
use serde_json::json;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Why a call has no answer: what the client is told (the reason) and the log says (the detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer within the time limit: `backend_timeout`.
    Timeout,
    /// Refused connection, a 5xx, or the breaker open: `backend_unavailable`.
    Unavailable(String),
    /// Not JSON, the wrong shape, too large, another status: `backend_bad_answer`.
    BadAnswer(String),
}

impl Failure {
    /// The reason a client's error reply carries.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Failure::Timeout => "backend_timeout",
            Failure::Unavailable(_) => "backend_unavailable",
            Failure::BadAnswer(_) => "backend_bad_answer",
        }
    }

    /// The error response a client gets: `{"reason": …}`, and what was wrong with a bad answer.
    pub(crate) fn response(&self) -> serde_json::Value {
        match self {
            Failure::BadAnswer(detail) => json!({ "reason": self.reason(), "detail": detail }),
            _ => json!({ "reason": self.reason() }),
        }
    }

    fn outcome(&self) -> Outcome {
        match self {
            Failure::Timeout => Outcome::Timeout,
            Failure::Unavailable(_) => Outcome::Unavailable,
            Failure::BadAnswer(_) => Outcome::BadAnswer,
        }
    }
}

impl Hooks {
    /// Calls `hook` at `endpoint` with `body`, forwarding `headers`.
    pub(crate) async fn call(
        &self,
        hook: Hook,
        endpoint: &Endpoint,
        body: Vec<u8>,
        headers: &[(String, String)],
    ) -> Result<Answer, Failure> {
        let url = endpoint.url.as_str();
        let Some(permit) = endpoint.admit() else {
            self.metrics.count(hook, Outcome::BreakerOpen, None);
            tracing::debug!(hook = hook.name(), url, "a hook call failed at once: the backend's breaker is open");
            return Err(Failure::Unavailable("circuit breaker open".to_owned()));
        };
        let started = Instant::now();
        let answered = self.post(hook, endpoint, body, headers).await;
        let took = started.elapsed();
        let failed = answered.as_ref().err();
        // The breaker counts a backend that is down or too slow; one that answers (a refusal, a 4xx, an answer it
        // got wrong) is up, and one user's odd request must not cut everyone off.
        let down = matches!(failed, Some(Failure::Timeout | Failure::Unavailable(_)));
        endpoint.record(permit, !down);
        let outcome = match &answered {
            Ok(Answer::Result(_)) => Outcome::Ok,
            Ok(Answer::Error { .. }) => Outcome::Refused,
            Ok(Answer::Disconnect { .. }) => Outcome::Disconnect,
            Err(failure) => failure.outcome(),
        };
        self.metrics.count(hook, outcome, Some(took));
        if let Some(failure) = failed {
            tracing::warn!(hook = hook.name(), url, ?failure, took_ms = took.as_millis() as u64, "a hook call failed");
        }
        answered
    }

    async fn post(
        &self,
        hook: Hook,
        endpoint: &Endpoint,
        body: Vec<u8>,
        headers: &[(String, String)],
    ) -> Result<Answer, Failure> {
        let mut request = self
            .http
            .post(endpoint.url.clone())
            .timeout(self.settings.timeout)
            .header("content-type", "application/json")
            .header("x-ferrocast-hook", hook.name())
            .header("traceparent", traceparent());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(secret) = &self.settings.secret {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
            request = request.header(SIGNATURE_HEADER, sign(secret.as_bytes(), now, &body));
        }
        let mut response = request.body(body).send().await.map_err(sent_failure)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(Failure::Unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(Failure::BadAnswer(format!("HTTP {status}")));
        }
        let limit = self.settings.max_answer_bytes;
        if response.content_length().is_some_and(|length| length > limit as u64) {
            return Err(Failure::BadAnswer(format!("an answer over {limit} bytes")));
        }
        let mut read = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(sent_failure)? {
            if read.len() + chunk.len() > limit {
                return Err(Failure::BadAnswer(format!("an answer over {limit} bytes")));
            }
            read.extend_from_slice(&chunk);
        }
        answer::read(&read).map_err(Failure::BadAnswer)
    }
}

/// What a request that got no answer failed of.
fn sent_failure(error: reqwest::Error) -> Failure {
    if error.is_timeout() { Failure::Timeout } else { Failure::Unavailable(error.to_string()) }
}

/// A W3C `traceparent` for a new trace: version 00, random trace and span ids, sampled.
fn traceparent() -> String {
    format!("00-{:016x}{:016x}-{:016x}-01", random_u64(), random_u64(), random_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_has_the_w3c_shape_and_differs_each_time() {
        let (one, two) = (traceparent(), traceparent());
        let parts: Vec<&str> = one.split('-').collect();
        assert_eq!(parts.iter().map(|part| part.len()).collect::<Vec<_>>(), [2, 32, 16, 2]);
        assert!(one.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_ne!(one, two);
    }
}
