//! The keeper of one relay's part in the queue on Redis, on a tick of its own:
//! - every tick: the topics whose vacated delay is over are told (`due.lua`), by whichever relay comes first, and
//!   the queue's bound is kept for the endpoints this relay sends for (`bound.rs`);
//! - each second: this relay's liveness, its endpoints' leases, what the API and metrics show, the burial of
//!   relays that died (`bury_relay.lua`), and the journal trimmed of what every endpoint's group has acknowledged;
//! - every ten seconds: the groups of endpoints no relay has been configured with for a minute are removed, so
//!   they do not hold the journal.

use super::bound;
use super::keys;
use super::lease::LEASE;
use super::sending::{create_group, seen, stream_id};
use super::{OnRedis, Snapshot};
use crate::webhooks::{EndpointState, Shared};
use ferrocast_pubsub::JOURNAL;
use ferrocast_pubsub::RedisLink;
use redis::streams::{StreamInfoGroupsReply, StreamPendingReply};
use redis::{AsyncCommands, Script};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(250);

/// The most vacated topics told per tick.
const DUE_PER_TICK: usize = 1_000;

/// How long an endpoint's group outlives the last relay configured with it.
const CONFIGURED_FOR: Duration = Duration::from_secs(60);

static DUE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("due.lua")));
static BURY_RELAY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("bury_relay.lua")));

pub(crate) async fn run(on_redis: Arc<OnRedis>, shared: Arc<Shared>, endpoints: Vec<Arc<EndpointState>>) {
    let mut redis = on_redis.redis.clone();
    for endpoint in &endpoints {
        create_group(&mut redis, &endpoint.name).await;
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for count in 0u64.. {
        tick.tick().await;
        if on_redis.leaving.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let done = async {
            tell_due(&mut redis).await?;
            keep_bound(&on_redis, &shared, &endpoints, &mut redis).await?;
            if count % 4 == 0 {
                each_second(&on_redis, &shared, &endpoints, &mut redis).await?;
                trim(&endpoints, &mut redis, count % 40 == 0).await?;
            }
            redis::RedisResult::Ok(())
        };
        if let Err(error) = done.await {
            tracing::warn!(%error, "the webhooks' keeper could not reach Redis");
        }
    }
}

async fn tell_due(redis: &mut RedisLink) -> redis::RedisResult<()> {
    let _: i64 = DUE
        .key(JOURNAL)
        .key(keys::VACATING)
        .key(keys::VACATED_AT)
        .arg(keys::OCCUPANCY_PREFIX)
        .arg(DUE_PER_TICK)
        .invoke_async(redis)
        .await?;
    Ok(())
}

/// Keeps the bound of the endpoints this relay sends for.
async fn keep_bound(
    on_redis: &OnRedis,
    shared: &Shared,
    endpoints: &[Arc<EndpointState>],
    redis: &mut RedisLink,
) -> redis::RedisResult<()> {
    if !on_redis.leases.iter().any(super::Lease::held) {
        return Ok(());
    }
    let groups: StreamInfoGroupsReply = redis.xinfo_groups(JOURNAL).await?;
    for (index, endpoint) in endpoints.iter().enumerate() {
        let group = groups.groups.iter().find(|group| group.name == endpoint.name);
        if let Some(group) = group.filter(|_| on_redis.leases[index].held()) {
            bound::enforce(redis, shared, endpoint, group).await?;
        }
    }
    Ok(())
}

async fn each_second(
    on_redis: &OnRedis,
    shared: &Shared,
    endpoints: &[Arc<EndpointState>],
    redis: &mut RedisLink,
) -> redis::RedisResult<()> {
    let relay = &*on_redis.relay;
    let ((), added): ((), i64) = redis::pipe()
        .set_options(
            keys::alive(relay),
            1,
            redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(LEASE.as_millis() as u64)),
        )
        .sadd(keys::RELAYS, relay)
        .query_async(redis)
        .await?;
    if added == 1 && on_redis.registered.swap(true, std::sync::atomic::Ordering::Relaxed) {
        on_redis.tell_again();
    }
    for (index, endpoint) in endpoints.iter().enumerate() {
        on_redis.leases[index].keep(redis, &keys::lease(&endpoint.name), relay).await;
    }
    let groups: StreamInfoGroupsReply = redis.xinfo_groups(JOURNAL).await?;
    for (index, endpoint) in endpoints.iter().enumerate() {
        let Some(group) = groups.groups.iter().find(|group| group.name == endpoint.name) else { continue };
        let lag = group.lag.unwrap_or(0);
        let oldest = if group.pending > 0 {
            oldest_pending(redis, &endpoint.name).await?
        } else if lag > 0 {
            let next: redis::streams::StreamRangeReply =
                redis.xrange_count(JOURNAL, format!("({}", group.last_delivered_id), "+", 1).await?;
            next.ids.first().map(|entry| entry.id.clone())
        } else {
            None
        };
        let (sender, forgotten): (Option<String>, Option<u64>) = redis::pipe()
            .get(keys::lease(&endpoint.name))
            .get(keys::forgotten(&endpoint.name))
            .query_async(redis)
            .await?;
        let snapshot = Snapshot {
            forgotten: forgotten.unwrap_or(0),
            queued: lag,
            in_flight: group.pending > 0,
            oldest_queued_ms: oldest.map_or(0, |id| seen(&id).elapsed().as_millis() as u64),
            sender,
        };
        *on_redis.snapshots[index].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = snapshot;
    }
    bury_dead_relays(on_redis, shared, redis).await
}

/// Tells what the relays whose liveness lapsed held, each once across relays.
async fn bury_dead_relays(on_redis: &OnRedis, shared: &Shared, redis: &mut RedisLink) -> redis::RedisResult<()> {
    let relays: Vec<String> = redis.smembers(keys::RELAYS).await?;
    for relay in relays.iter().filter(|relay| **relay != *on_redis.relay) {
        let alive: bool = redis.exists(keys::alive(relay)).await?;
        if alive {
            continue;
        }
        let buried: i64 = BURY_RELAY
            .key(JOURNAL)
            .key(keys::RELAYS)
            .key(keys::held(relay))
            .key(keys::members(relay))
            .key(keys::VACATING)
            .key(keys::VACATED_AT)
            .arg(relay)
            .arg(keys::OCCUPANCY_PREFIX)
            .arg(shared.settings.vacated_delay.as_millis() as u64)
            .invoke_async(redis)
            .await?;
        if buried == 1 {
            tracing::info!(relay, "a relay's liveness lapsed: its presence left and its topics are vacated");
        }
    }
    Ok(())
}

/// Trims the journal of what every group acknowledged; with `groups_too`, first marks this relay's endpoints
/// configured and removes the groups of endpoints nobody is configured with any more.
async fn trim(endpoints: &[Arc<EndpointState>], redis: &mut RedisLink, groups_too: bool) -> redis::RedisResult<()> {
    if groups_too {
        mark_configured(endpoints, redis).await?;
    }
    let groups: StreamInfoGroupsReply = redis.xinfo_groups(JOURNAL).await?;
    let mut keep_from: Option<String> = None;
    for group in &groups.groups {
        if groups_too && !redis.exists::<_, bool>(keys::configured(&group.name)).await? {
            let _: i64 = redis.xgroup_destroy(JOURNAL, &group.name).await?;
            tracing::info!(endpoint = group.name, "no relay sends this webhook any more: its journal group is removed");
            continue;
        }
        let pending = if group.pending > 0 { oldest_pending(redis, &group.name).await? } else { None };
        let needed = pending.unwrap_or_else(|| group.last_delivered_id.clone());
        if keep_from.as_ref().is_none_or(|kept| earlier(&needed, kept)) {
            keep_from = Some(needed);
        }
    }
    // Without a limit: the default stops at 10,000 entries a call, less than a busy second brings.
    if let Some(minid) = keep_from {
        let _: i64 = redis::cmd("XTRIM")
            .arg(JOURNAL)
            .arg("MINID")
            .arg("~")
            .arg(minid)
            .arg("LIMIT")
            .arg(0)
            .query_async(redis)
            .await?;
    }
    Ok(())
}

async fn mark_configured(endpoints: &[Arc<EndpointState>], redis: &mut RedisLink) -> redis::RedisResult<()> {
    let mut marks = redis::pipe();
    for endpoint in endpoints {
        marks.set_options(
            keys::configured(&endpoint.name),
            1,
            redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(CONFIGURED_FOR.as_millis() as u64)),
        );
    }
    marks.query_async(redis).await
}

/// The oldest entry a group has taken and not acknowledged.
async fn oldest_pending(redis: &mut RedisLink, group: &str) -> redis::RedisResult<Option<String>> {
    Ok(match redis.xpending::<_, _, StreamPendingReply>(JOURNAL, group).await? {
        StreamPendingReply::Data(data) => Some(data.start_id),
        _ => None,
    })
}

/// Whether stream id `a` comes before `b`.
fn earlier(a: &str, b: &str) -> bool {
    stream_id(a).unwrap_or_default() < stream_id(b).unwrap_or_default()
}
