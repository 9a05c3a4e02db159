//! One endpoint's sender, a task of its own: it gathers a batch (up to the batch size, or the batch window after
//! its first event), sends it, and sends it again until it is acknowledged or too old. One batch at a time, so a
//! receiver gets each topic's events in order. [`run`] takes batches from this relay's memory; the queue on Redis
//! (`on_redis`) takes them from the journal and hands them to the same [`deliver`].
//!
//! - 2xx: acknowledged. 4xx other than 408 and 429: the receiver refuses it, so it goes to the dead letters at once,
//!   with the answer's body kept. Anything else (5xx, 408, 429, a timeout, a refused connection): tried again after a
//!   wait drawn at random under `min(retry_max, 500 ms × 2^attempt)` (full jitter), or after a 429's `Retry-After`,
//!   until the batch has been tried for `max_age`; then it goes to the dead letters.
//! - While the endpoint's breaker is open, nothing is sent: the batch waits for it to let a trial through.

use super::event::now_ms;
use super::queue::{Batch, Dead};
use super::{EndpointState, Shared};
use crate::random_u64;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How a batch's attempt ended.
enum Attempt {
    Acknowledged,
    Refused { status: u16, body: String },
    Retry { why: String, status: Option<u16>, after: Option<Duration> },
}

/// How a batch's delivery ended.
pub(crate) enum Delivered {
    /// A 2xx.
    Acknowledged,
    /// Refused, or too old: for the dead letters.
    Dead { reason: String, status: Option<u16>, body: Option<String> },
    /// `sending` said this relay no longer sends for the endpoint: another one will send the batch.
    Abandoned,
}

/// Sends `endpoint`'s batches from memory for as long as the relay runs.
pub(crate) async fn run(shared: Arc<Shared>, endpoint: Arc<EndpointState>) {
    loop {
        let Some(batch) = next_batch(&shared, &endpoint).await else { continue };
        match deliver(&shared, &endpoint, &batch, &|| true).await {
            Delivered::Acknowledged => endpoint.delivered(&batch),
            Delivered::Dead { reason, status, body } => {
                endpoint.dying(&batch, &reason);
                let forgotten = endpoint.queue().bury(Dead { batch, reason, status, body, at_ms: now_ms() });
                endpoint.forgot(forgotten);
            }
            Delivered::Abandoned => endpoint.queue().again.push_front(batch),
        }
        endpoint.queue().in_flight = false;
    }
}

/// Waits for events, gathers them for the batch window (or until a batch is full), and takes a batch.
async fn next_batch(shared: &Shared, endpoint: &EndpointState) -> Option<Batch> {
    loop {
        let first = {
            let queue = endpoint.queue();
            if !queue.again.is_empty() {
                break;
            }
            queue.waiting.front().map(|event| event.seen)
        };
        match first {
            None => endpoint.wake.notified().await,
            Some(seen) => {
                let full = endpoint.queue().waiting.len() >= shared.settings.batch_max;
                let until = seen + shared.settings.batch_window;
                if full || Instant::now() >= until {
                    break;
                }
                let _ = tokio::time::timeout_at(until.into(), endpoint.wake.notified()).await;
            }
        }
    }
    let mut queue = endpoint.queue();
    let batch = queue.next_batch(shared.settings.batch_max, batch_id)?;
    queue.in_flight = true;
    Some(batch)
}

/// Sends a batch until it is acknowledged or dead, or until `sending` says to stop.
pub(crate) async fn deliver(
    shared: &Shared,
    endpoint: &EndpointState,
    batch: &Batch,
    sending: &(dyn Fn() -> bool + Sync),
) -> Delivered {
    let body = body_of(batch);
    let dead = |reason: String, status, body| Delivered::Dead { reason, status, body };
    // The batch's age counts from its first attempt: a batch sent again from the dead letters gets its time again.
    let oldest = Instant::now();
    let mut attempt: u32 = 0;
    // What the last attempt came to, for the dead letter of a batch that grows too old.
    let (mut last_why, mut last_status) = (String::from("the receiver's breaker was open"), None);
    loop {
        if !sending() {
            return Delivered::Abandoned;
        }
        let Some(permit) = endpoint.endpoint.admit() else {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if oldest.elapsed() > shared.settings.max_age {
                return dead(format!("too old, last: {last_why}"), last_status, None);
            }
            continue;
        };
        let outcome = post(shared, endpoint, &batch.id, &body).await;
        let up = !matches!(&outcome, Attempt::Retry { status: None, .. })
            && !matches!(&outcome, Attempt::Retry { status: Some(status), .. } if *status >= 500);
        endpoint.endpoint.record(permit, up);
        match outcome {
            Attempt::Acknowledged => return Delivered::Acknowledged,
            Attempt::Refused { status, body } => {
                return dead(format!("refused with HTTP {status}"), Some(status), Some(body));
            }
            Attempt::Retry { why, status, after } => {
                if oldest.elapsed() > shared.settings.max_age {
                    return dead(format!("too old, last: {why}"), status, None);
                }
                (last_why, last_status) = (why.clone(), status);
                let wait = after.unwrap_or_else(|| backoff(attempt, shared.settings.retry_max));
                tracing::debug!(endpoint = endpoint.name, id = batch.id, %why, ?wait, "a webhook batch will be sent again");
                attempt = attempt.saturating_add(1);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// One attempt.
async fn post(shared: &Shared, endpoint: &EndpointState, id: &str, body: &[u8]) -> Attempt {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let request = shared
        .http
        .post(endpoint.endpoint.url.clone())
        .timeout(shared.settings.timeout)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", endpoint.key.sign(id, timestamp, body))
        .body(body.to_vec());
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let why = if error.is_timeout() { "timeout".to_owned() } else { error.to_string() };
            return Attempt::Retry { why, status: None, after: None };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Acknowledged;
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    if status.is_client_error() && status != StatusCode::REQUEST_TIMEOUT && status != StatusCode::TOO_MANY_REQUESTS {
        let mut body = response.text().await.unwrap_or_default();
        let mut end = body.len().min(4096);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
        return Attempt::Refused { status: status.as_u16(), body };
    }
    let after = (status == StatusCode::TOO_MANY_REQUESTS).then_some(retry_after).flatten();
    Attempt::Retry { why: format!("HTTP {status}"), status: Some(status.as_u16()), after }
}

/// `{"events": [...]}`, from the events' text.
fn body_of(batch: &Batch) -> Vec<u8> {
    let mut body = String::from("{\"events\":[");
    for (index, event) in batch.events.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(&event.text);
    }
    body.push_str("]}");
    body.into_bytes()
}

/// Full jitter: at random under `min(cap, 500 ms × 2^attempt)`.
fn backoff(attempt: u32, cap: Duration) -> Duration {
    let ceiling = Duration::from_millis(500).saturating_mul(1 << attempt.min(20)).min(cap);
    ceiling.mul_f64((random_u64() % 10_000) as f64 / 10_000.0)
}

/// A new batch id, `msg_` and 128 random bits in hex.
pub(crate) fn batch_id() -> String {
    format!("msg_{:016x}{:016x}", random_u64(), random_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_ceiling_and_cap() {
        for attempt in 0..30 {
            let wait = backoff(attempt, Duration::from_secs(60));
            let ceiling = Duration::from_millis(500).saturating_mul(1 << attempt.min(20)).min(Duration::from_secs(60));
            assert!(wait <= ceiling, "{attempt}: {wait:?}");
        }
        assert_ne!(batch_id(), batch_id());
        assert!(batch_id().starts_with("msg_"));
    }
}
