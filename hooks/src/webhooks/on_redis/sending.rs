//! One endpoint's sender on Redis: while this relay holds the endpoint's lease, it takes a batch (one to send
//! again, else the entries another holder left pending, else new entries gathered for the batch window), hands it
//! to [`deliver`], and then acknowledges its entries or buries it, each in one step.
//!
//! A batch's `webhook-id` is made of the endpoint and its first and last entries. The entries a holder has taken
//! and not acknowledged are exactly its batch (entries it does not want are acknowledged as soon as read), so the
//! next holder takes over the same batch, with the same id.

use super::super::event::{self, now_ms};
use super::super::queue::{Batch, DEAD_KEPT, Queued};
use super::super::sender::{Delivered, deliver};
use super::super::{EndpointState, Shared, kind_of};
use super::{OnRedis, READ_BLOCK, connect, keys};
use crate::webhooks::Kind;
use ferrocast_pubsub::RedisLink;
use ferrocast_pubsub::{JOURNAL, NUMBERED_FIELD, read_numbered};
use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Script, Value};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// How often, besides, the sender looks for batches to send again and entries left pending.
const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// How far apart the reads of a gathering batch's last moments are while nothing comes.
const POLL: Duration = Duration::from_millis(10);

/// How late Redis may end a blocked read that runs out (its server tick at the default `hz 10`), and a little more.
const REDIS_TICK: Duration = Duration::from_millis(110);

static BURY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("bury.lua")));
static FORGET: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("forget.lua")));

/// A batch as the dead letters and the batches sent again keep it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub(crate) id: String,
    pub(crate) events: Vec<Box<RawValue>>,
    pub(crate) reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    pub(crate) at: u64,
}

impl Stored {
    /// A batch going to the dead letters, and why.
    pub(crate) fn of(batch: &Batch, reason: &str, status: Option<u16>, body: Option<String>) -> Self {
        Stored {
            id: batch.id.clone(),
            events: batch
                .events
                .iter()
                .filter_map(|event| RawValue::from_string(event.text.to_string()).ok())
                .collect(),
            reason: reason.to_owned(),
            status,
            body,
            at: now_ms(),
        }
    }
}

/// Where a batch came from, which is where it is taken off once delivered or dead.
pub(crate) enum Source {
    /// The journal: these entries, to acknowledge.
    Journal(Vec<String>),
    /// The head of the endpoint's batches to send again.
    Again,
}

/// One endpoint's sender.
pub(crate) struct Sender {
    on_redis: Arc<OnRedis>,
    shared: Arc<Shared>,
    endpoint: Arc<EndpointState>,
    index: usize,
    /// For the reads that wait for entries.
    reads: RedisLink,
    redis: RedisLink,
    /// How many times this relay had taken the lease when the sender last looked for batches to send again.
    taken: u64,
    /// When it last looked and found none.
    looked: Option<Instant>,
    /// Entries of batches the receiver acknowledged, to acknowledge in Redis with the next read (one round trip
    /// less a batch; a relay that dies first leaves them pending, and the next sender sends them again, same id).
    acks: Vec<String>,
}

impl Sender {
    pub(crate) fn new(
        on_redis: &Arc<OnRedis>,
        shared: &Arc<Shared>,
        endpoint: &Arc<EndpointState>,
        index: usize,
    ) -> redis::RedisResult<Self> {
        Ok(Sender {
            on_redis: Arc::clone(on_redis),
            shared: Arc::clone(shared),
            endpoint: Arc::clone(endpoint),
            index,
            reads: connect(&on_redis.endpoint, true)?,
            redis: on_redis.redis.clone(),
            taken: 0,
            looked: None,
            acks: Vec::new(),
        })
    }

    /// Sends while this relay holds the lease, for as long as the relay runs.
    pub(crate) async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            let on_redis = Arc::clone(&self.on_redis);
            let lease = &on_redis.leases[self.index];
            if !lease.held() {
                // What was delivered is acknowledged even so, or the next sender would send it again.
                if self.acknowledge().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), lease.taken.notified()).await;
                continue;
            }
            match self.next().await {
                Ok(Some((batch, source))) => {
                    failures = 0;
                    self.send(batch, source).await;
                }
                Ok(None) => failures = 0,
                Err(error) => {
                    if error.code() == Some("NOGROUP") {
                        create_group(&mut self.redis, &self.endpoint.name).await;
                    } else {
                        tracing::warn!(endpoint = self.endpoint.name, %error, "could not read the webhook journal");
                    }
                    tokio::time::sleep(Duration::from_millis(100 << failures.min(4))).await;
                    failures += 1;
                }
            }
        }
    }

    /// The next batch: one to send again, else entries left pending, else new ones gathered for the window. Batches
    /// to send again and pending entries are looked for when the lease is taken, after each one found, and each
    /// [`LOOK_AGAIN`] otherwise: not before every batch, which would cost two round trips each.
    async fn next(&mut self) -> redis::RedisResult<Option<(Batch, Source)>> {
        let taken = self.on_redis.leases[self.index].times_taken();
        if taken != self.taken || self.looked.is_none_or(|at| at.elapsed() >= LOOK_AGAIN) {
            self.taken = taken;
            self.looked = None;
            self.acknowledge().await?;
            if let Some(batch) = self.again().await? {
                return Ok(Some((batch, Source::Again)));
            }
            let mut wanted = Vec::new();
            self.claim(&mut wanted).await?;
            if !wanted.is_empty() {
                return Ok(Some(self.batch_of(wanted)));
            }
            self.looked = Some(Instant::now());
        }
        let mut wanted = Vec::new();
        self.gather(&mut wanted).await?;
        Ok((!wanted.is_empty()).then(|| self.batch_of(wanted)))
    }

    /// Acknowledges in Redis what the receiver acknowledged, if that waits.
    async fn acknowledge(&mut self) -> redis::RedisResult<()> {
        if !self.acks.is_empty() {
            let _: i64 = self.redis.xack(JOURNAL, &self.endpoint.name, &self.acks).await?;
            self.acks.clear();
        }
        Ok(())
    }

    /// The first batch to send again (redelivered dead letters), if any.
    async fn again(&mut self) -> redis::RedisResult<Option<Batch>> {
        let key = keys::again(&self.endpoint.name);
        let Some(text) = self.redis.lindex::<_, Option<String>>(&key, 0).await? else { return Ok(None) };
        match serde_json::from_str::<Stored>(&text) {
            Ok(stored) => {
                let events =
                    stored.events.into_iter().map(|event| Queued { text: event.get().into(), seen: Instant::now() });
                Ok(Some(Batch { id: stored.id, events: events.collect() }))
            }
            // Not ours to read: dropped rather than blocking every batch after it.
            Err(_) => {
                let _: Option<String> = self.redis.lpop(&key, None).await?;
                Ok(None)
            }
        }
    }

    /// Takes over the entries taken and not acknowledged, by a relay that died mid-send or by this one before it
    /// lost the lease: that batch, sent first, with the same id.
    async fn claim(&mut self, wanted: &mut Vec<StreamId>) -> redis::RedisResult<()> {
        let name = &self.endpoint.name;
        let options = StreamAutoClaimOptions::default().count(self.shared.settings.batch_max);
        let claimed: StreamAutoClaimReply =
            self.redis.xautoclaim_options(JOURNAL, name, &*self.on_redis.relay, 0, "0-0", options).await?;
        if !claimed.deleted_ids.is_empty() {
            let _: i64 = self.redis.xack(JOURNAL, name, &claimed.deleted_ids).await?;
        }
        self.keep_wanted(claimed.claimed, wanted).await
    }

    /// Reads new entries until the batch is full or its window (from its first entry) is over. A read waits in
    /// Redis, which hands it new entries at once; but Redis ends a wait that runs out only on its 100 ms tick, so
    /// the window's last [`REDIS_TICK`] is kept here, with reads that do not wait, [`POLL`] apart while nothing
    /// comes.
    async fn gather(&mut self, wanted: &mut Vec<StreamId>) -> redis::RedisResult<()> {
        let batch_max = self.shared.settings.batch_max;
        let mut until: Option<Instant> = None;
        loop {
            let options = StreamReadOptions::default()
                .group(&self.endpoint.name, &*self.on_redis.relay)
                .count(batch_max - wanted.len());
            let wait = match until {
                None => Some(READ_BLOCK),
                Some(until) => {
                    until.checked_duration_since(Instant::now()).and_then(|left| left.checked_sub(REDIS_TICK))
                }
            };
            let options = match wait {
                Some(wait) if !wait.is_zero() => options.block(wait.as_millis().max(1) as usize),
                _ => options,
            };
            let mut pipe = redis::pipe();
            if !self.acks.is_empty() {
                pipe.xack(JOURNAL, &self.endpoint.name, &self.acks).ignore();
            }
            let (read,): (Option<StreamReadReply>,) =
                pipe.xread_options(&[JOURNAL], &[">"], &options).query_async(&mut self.reads).await?;
            self.acks.clear();
            let entries: Vec<StreamId> =
                read.into_iter().flat_map(|reply| reply.keys).flat_map(|key| key.ids).collect();
            let came = !entries.is_empty();
            self.keep_wanted(entries, wanted).await?;
            if wanted.len() >= batch_max {
                return Ok(());
            }
            let until = match (until, wanted.first()) {
                (Some(until), _) => until,
                (None, Some(first)) => *until.insert(seen(&first.id) + self.shared.settings.batch_window),
                (None, None) => return Ok(()),
            };
            let Some(left) = until.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) else {
                return Ok(());
            };
            if !came && left <= REDIS_TICK {
                tokio::time::sleep(left.min(POLL)).await;
            }
        }
    }

    /// Keeps the entries this endpoint wants, acknowledging the others at once.
    async fn keep_wanted(&mut self, entries: Vec<StreamId>, wanted: &mut Vec<StreamId>) -> redis::RedisResult<()> {
        let mut unwanted = Vec::new();
        for entry in entries {
            match wanted_by(&self.endpoint, &entry) {
                true => wanted.push(entry),
                false => unwanted.push(entry.id),
            }
        }
        if !unwanted.is_empty() {
            let _: i64 = self.redis.xack(JOURNAL, &self.endpoint.name, &unwanted).await?;
        }
        Ok(())
    }

    fn batch_of(&self, entries: Vec<StreamId>) -> (Batch, Source) {
        let id = batch_id(&self.endpoint.name, &entries[0].id, &entries[entries.len() - 1].id);
        let events = entries.iter().filter_map(|entry| Some(Queued { text: text_of(entry)?, seen: seen(&entry.id) }));
        let batch = Batch { id, events: events.collect() };
        (batch, Source::Journal(entries.into_iter().map(|entry| entry.id).collect()))
    }

    /// Delivers a batch and takes it off where it came from, while this relay holds the lease; past it, the next
    /// holder sends the batch again, with its id.
    async fn send(&mut self, batch: Batch, source: Source) {
        let on_redis = Arc::clone(&self.on_redis);
        let lease = &on_redis.leases[self.index];
        let outcome = deliver(&self.shared, &self.endpoint, &batch, &|| lease.held()).await;
        let mut attempt = 0u32;
        while lease.held() {
            let settled = match &outcome {
                Delivered::Abandoned => return,
                Delivered::Acknowledged => match &source {
                    Source::Journal(ids) => {
                        self.acks.extend(ids.iter().cloned());
                        self.endpoint.delivered(&batch);
                        return;
                    }
                    Source::Again => self.take_off().await.map(|()| self.endpoint.delivered(&batch)),
                },
                Delivered::Dead { reason, status, body } => {
                    let stored = Stored::of(&batch, reason, *status, body.clone());
                    bury(&mut self.redis, &self.endpoint.name, &stored, &source).await.map(|forgotten| {
                        self.endpoint.dying(&batch, reason);
                        self.endpoint.forgot(forgotten);
                    })
                }
            };
            match settled {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(
                        endpoint = self.endpoint.name,
                        %error,
                        "could not settle a webhook batch in Redis; trying again"
                    );
                    tokio::time::sleep(Duration::from_millis(100 << attempt.min(4))).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Takes a batch sent again off its list.
    async fn take_off(&mut self) -> redis::RedisResult<()> {
        self.redis.lpop(keys::again(&self.endpoint.name), None).await
    }
}

/// Puts a batch in the dead letters and takes it off where it came from; how many events were forgotten.
pub(crate) async fn bury(
    redis: &mut RedisLink,
    name: &str,
    stored: &Stored,
    source: &Source,
) -> redis::RedisResult<usize> {
    let text = serde_json::to_string(stored).unwrap_or_default();
    let mut invocation = BURY.key(keys::dead(name));
    match source {
        Source::Journal(ids) => invocation.key(JOURNAL).arg(text).arg("journal").arg(name).arg(ids),
        Source::Again => invocation.key(keys::again(name)).arg(text).arg("again").arg(name),
    };
    let _: i64 = invocation.invoke_async(redis).await?;
    forget_past_bound(redis, name).await
}

/// Keeps the endpoint's dead letters to their bound ([`DEAD_KEPT`]); how many events were forgotten.
pub(crate) async fn forget_past_bound(redis: &mut RedisLink, name: &str) -> redis::RedisResult<usize> {
    FORGET.key(keys::dead(name)).key(keys::forgotten(name)).arg(DEAD_KEPT).invoke_async(redis).await
}

/// Makes the endpoint's consumer group, which gets what is appended from now on.
pub(crate) async fn create_group(redis: &mut RedisLink, name: &str) {
    let made: redis::RedisResult<Value> =
        redis::cmd("XGROUP").arg("CREATE").arg(JOURNAL).arg(name).arg("$").arg("MKSTREAM").query_async(redis).await;
    if let Err(error) = made
        && error.code() != Some("BUSYGROUP")
    {
        tracing::warn!(endpoint = name, %error, "could not make the webhook journal's consumer group");
    }
}

/// `msg_<endpoint>_<first entry>_<last entry>`: the same whichever relay sends the batch.
pub(crate) fn batch_id(name: &str, first: &str, last: &str) -> String {
    format!("msg_{name}_{first}_{last}")
}

/// A stream entry id's parts, `<Unix ms>-<sequence>`.
pub(crate) fn stream_id(id: &str) -> Option<(u64, u64)> {
    let (ms, sequence) = id.split_once('-')?;
    Some((ms.parse().ok()?, sequence.parse().ok()?))
}

/// When an entry was appended, from its id (`<Unix ms>-<n>`), as an instant of this process.
pub(crate) fn seen(id: &str) -> Instant {
    let at = stream_id(id).map_or_else(now_ms, |(ms, _)| ms);
    let ago = Duration::from_millis(now_ms().saturating_sub(at));
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

/// Whether `endpoint` wants the entry's event (a malformed entry is wanted by none).
pub(crate) fn wanted_by(endpoint: &EndpointState, entry: &StreamId) -> bool {
    entry_kind(entry).is_some_and(|(kind, topic)| endpoint.wants(kind, &topic))
}

/// An entry's kind and topic: a broadcast's (by its topic), or the kind and topic it was appended with.
fn entry_kind(entry: &StreamId) -> Option<(Kind, String)> {
    if let Some(numbered) = entry.get::<Vec<u8>>(NUMBERED_FIELD) {
        let broadcast = read_numbered(&numbered).ok()?;
        return Some((kind_of(&broadcast.topic), broadcast.topic));
    }
    let kind = Kind::parse(&entry.get::<String>("k")?)?;
    Some((kind, entry.get::<String>("t")?))
}

/// An entry's event text: a broadcast's written here, at the time it was appended; any other as appended.
pub(crate) fn text_of(entry: &StreamId) -> Option<event::EventText> {
    if let Some(numbered) = entry.get::<Vec<u8>>(NUMBERED_FIELD) {
        let broadcast = read_numbered(&numbered).ok()?;
        let at = stream_id(&entry.id).map_or_else(now_ms, |(ms, _)| ms);
        let kind = kind_of(&broadcast.topic);
        let name = if kind == Kind::Run { format!("run.{}", broadcast.event) } else { "broadcast".to_owned() };
        let (topic, offset, epoch) = (&broadcast.topic, broadcast.offset, &broadcast.epoch);
        return Some(event::numbered(&name, topic, &broadcast.event, &broadcast.payload, offset, epoch, at));
    }
    entry.get::<String>("e").map(Into::into)
}
