//! A client's push handled once across relays: its broadcasts made once, and its reply sent once they are.
//!
//! Our client names its socket and sends a push it got no reply for again, with the same ref, after it reconnects
//! (see [`crate::receipts`]). On one relay the receipts answer the second copy. On several relays the second copy
//! may reach another relay, which has no receipt of it: so each broadcast a push makes is named by the socket, the
//! push's ref and its place among the push's broadcasts, and Redis's publish script makes a broadcast of a name it
//! saw lately once (see `cluster/publish.lua`). And the push is answered only once Redis has its broadcasts: a relay
//! killed with a broadcast still queued for Redis has not answered, so the client sends the push again, and the
//! relay that gets it makes the broadcast, once.

use crate::hub::{Hub, Published};
use crate::remote::RemotePush;
use ferrocast_protocol::Payload;

/// How long Redis remembers a push's broadcasts by name: longer than a client takes to reconnect and send its
/// unanswered pushes again, short enough that a busy cluster keeps few names (one small key per broadcast).
pub(crate) const REMEMBERED: std::time::Duration = std::time::Duration::from_secs(120);

/// The broadcasts a push made while its handler ran, with a relay that numbers them upstream.
#[derive(Default)]
pub(crate) struct PushOrigin {
    /// `<socket id>:<push ref>`: with each broadcast's place, its name.
    push: String,
    made: usize,
    pub(crate) published: Vec<Published>,
}

impl PushOrigin {
    pub(crate) fn new(socket_id: &str, push_ref: &str) -> Self {
        PushOrigin { push: format!("{socket_id}:{push_ref}"), made: 0, published: Vec::new() }
    }

    /// Makes the push's next broadcast on `hub`, named by its place.
    pub(crate) fn broadcast(&mut self, hub: &Hub, topic: &str, event: &str, payload: &Payload) {
        self.made += 1;
        let name = format!("{}:{}", self.push, self.made);
        if let Some(published) = hub.broadcast_once(topic, event, payload, &name) {
            self.published.push(published);
        }
    }
}

impl std::fmt::Debug for PushOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushOrigin").field("push", &self.push).field("made", &self.made).finish_non_exhaustive()
    }
}

/// The reply to a push once Redis has taken its broadcasts: the handler's, or an error when one was dropped (the
/// queue for Redis was full), so the client knows the push did not take effect.
pub(crate) async fn reply_once_published(published: Vec<Published>, status: String, response: Payload) -> RemotePush {
    let mut all = true;
    for broadcast in published {
        all &= broadcast.await;
    }
    if all {
        RemotePush { status, response, broadcasts: Vec::new(), disconnect: None }
    } else {
        RemotePush::error(crate::channel::reason("not broadcast: the relay's queue for Redis is full"))
    }
}
