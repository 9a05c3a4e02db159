//! The stage of the broadcast scenarios (`fanout`, its ramp, `sse`): subscribers joined to one topic and a
//! publisher on it, set up once and measured in one or more windows.

use crate::Result;
use crate::net::{self, BUSY_READ_BUFFER};
use crate::publisher::{PublishOver, Publisher};
use crate::recorder::Recorder;
use crate::scenario::window::Sequence;
use crate::subscriber::{self, Plan, Subscribers, Topics};
use crate::target::Target;
use serde_json::{Value, json};
use std::sync::Arc;

/// The topic every broadcast scenario publishes on.
pub(crate) const TOPIC: &str = "room:bench";

/// Subscribers and a publisher, ready for windows.
pub(crate) struct Stage {
    /// What the subscribers record into.
    pub recorder: Arc<Recorder>,
    /// The subscribers, joined to [`TOPIC`] before the publisher connects.
    pub subscribers: Subscribers,
    /// The publisher, on [`TOPIC`] too.
    pub publisher: Publisher,
    /// How the publisher publishes.
    pub publish: PublishOver,
    /// The next window's first sequence number.
    pub sequence: Sequence,
    requested: usize,
    note: Option<String>,
    event_streams: bool,
}

impl Stage {
    /// Connects `requested` subscribers (capped by the descriptor limit), WebSockets or event streams, then the
    /// publisher.
    pub(crate) async fn set_up(
        target: &Target,
        requested: usize,
        event_streams: bool,
        publish: PublishOver,
    ) -> Result<Stage> {
        Stage::set_up_across(std::slice::from_ref(target), target, requested, event_streams, publish).await
    }

    /// [`Stage::set_up`] with the subscribers dealt over `subscriber_targets` in turn and the publisher on
    /// `publisher_target`: servers that share their topics, such as relays on one Redis.
    pub(crate) async fn set_up_across(
        subscriber_targets: &[Target],
        publisher_target: &Target,
        requested: usize,
        event_streams: bool,
        publish: PublishOver,
    ) -> Result<Stage> {
        let capped = net::cap_connections(requested, 1);
        let plan = Plan {
            event_streams,
            count: capped.count,
            topic: TOPIC.to_owned(),
            topics: Topics::One,
            presence: false,
            read_buffer: BUSY_READ_BUFFER,
        };
        let recorder = Arc::new(Recorder::default());
        let subscribers = subscriber::start_across(subscriber_targets, &plan, recorder.clone()).await;
        if subscribers.joined == 0 {
            return Err(format!("no subscriber joined: {}", subscribers.first_error.as_deref().unwrap_or("?")).into());
        }
        let publisher = Publisher::start(publish, publisher_target, capped.count, TOPIC).await?;
        Ok(Stage {
            recorder,
            subscribers,
            publisher,
            publish,
            sequence: Sequence(0),
            requested,
            note: capped.note,
            event_streams,
        })
    }

    /// Subscribers that joined: each should receive every broadcast.
    pub(crate) fn joined(&self) -> usize {
        self.subscribers.joined
    }

    /// The set-up's figures, as JSON.
    pub(crate) fn json(&self, target: &Target) -> Value {
        json!({
            "target": target.ws_url(),
            "dialect": format!("{:?}", target.dialect).to_lowercase(),
            "batch": target.batch,
            "transport": if self.event_streams { "sse" } else { "websocket" },
            "publish_over": format!("{:?}", self.publish).to_lowercase(),
            "subscribers_requested": self.requested,
            "subscribers": self.subscribers.joined,
            "join_failures": self.subscribers.failed,
            "first_join_error": self.subscribers.first_error,
            "note": self.note,
        })
    }

    /// Words for the output about subscribers that failed and the descriptor cap, if any.
    pub(crate) fn remarks(&self) -> String {
        let mut remarks = String::new();
        if self.subscribers.failed > 0 {
            remarks.push_str(&format!(
                " ({} subscribers failed to join: {})",
                self.subscribers.failed,
                self.subscribers.first_error.as_deref().unwrap_or("?")
            ));
        }
        if let Some(note) = &self.note {
            remarks.push_str(&format!(" ({note})"));
        }
        remarks
    }

    /// Closes the publisher and every subscriber.
    pub(crate) async fn tear_down(self) -> Result<()> {
        let publisher = self.publisher.stop().await;
        self.subscribers.stop().await;
        publisher
    }
}
