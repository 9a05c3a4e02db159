//! The queue's bound on Redis: past `--webhook-queue` entries waiting for an endpoint (its group's lag), the
//! oldest of them and a tenth of the bound more, so a full queue makes room in steps, go to its dead letters as
//! batches, counted, in the step that moves the group past them (`bound.lua`). Nothing is taken by a sender first,
//! so an entry is either sent or dead, never both; entries a sender took in the meantime are left to it.

use super::keys;
use super::sending::{forget_past_bound, text_of, wanted_by};
use crate::webhooks::{EndpointState, Shared, event::now_ms};
use ferrocast_pubsub::JOURNAL;
use ferrocast_pubsub::RedisLink;
use redis::streams::{StreamInfoGroup, StreamRangeReply};
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;

/// The most entries read and moved in one step.
const STEP: usize = 5_000;

static BOUND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("bound.lua")));

/// Brings what waits for `endpoint` down under the bound, if it is over.
pub(crate) async fn enforce(
    redis: &mut RedisLink,
    shared: &Shared,
    endpoint: &EndpointState,
    group: &StreamInfoGroup,
) -> redis::RedisResult<()> {
    let limit = shared.settings.queue;
    let Some(lag) = group.lag.filter(|lag| *lag > limit) else { return Ok(()) };
    let mut left = lag - limit + limit.div_ceil(10);
    let mut from = group.last_delivered_id.clone();
    while left > 0 {
        let range: StreamRangeReply = redis.xrange_count(JOURNAL, format!("({from}"), "+", left.min(STEP)).await?;
        let Some(last) = range.ids.last() else { return Ok(()) };
        from = last.id.clone();
        let mut invocation = BOUND.key(JOURNAL);
        invocation.key(keys::dead(&endpoint.name)).arg(&endpoint.name).arg(shared.settings.batch_max).arg(now_ms());
        for entry in &range.ids {
            let text = text_of(entry).filter(|_| wanted_by(endpoint, entry));
            invocation.arg(&entry.id).arg(text.as_deref().unwrap_or(""));
        }
        let dead: usize = invocation.invoke_async(redis).await?;
        if dead > 0 {
            let forgotten = forget_past_bound(redis, &endpoint.name).await?;
            endpoint.died(dead);
            endpoint.forgot(forgotten);
            endpoint.warn_at_most_each_second(|| {
                tracing::warn!(endpoint = endpoint.name, "a webhook queue is full: its oldest events are dead letters");
            });
        }
        left = left.saturating_sub(range.ids.len());
    }
    Ok(())
}
