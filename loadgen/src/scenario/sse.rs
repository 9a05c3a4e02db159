//! `sse`: the fanout scenario with event-stream subscribers (`GET /sse?topic=room:bench`). Ferrocast relays only:
//! event streams are not part of the Phoenix protocol.

use crate::Result;
use crate::dialect::Dialect;
use crate::publisher::PublishOver;
use crate::scenario::{Outcome, fanout};
use crate::target::Target;
use std::time::Duration;

/// Runs one event-stream fanout window.
pub(crate) async fn run(
    target: &Target,
    subscribers: usize,
    rate: f64,
    duration: Duration,
    publish: PublishOver,
) -> Result<Outcome> {
    if target.dialect != Dialect::Phoenix {
        return Err("sse needs a Ferrocast relay (phoenix dialect)".into());
    }
    fanout::run(target, fanout::Options { subscribers, rate, duration, event_streams: true, publish }).await
}
