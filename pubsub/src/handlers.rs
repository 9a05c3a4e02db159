//! A channel built from closures, with events routed by name or by a `*` splat.
//!
//! ```
//! use ferrocast_pubsub::{Outcome, reason};
//! use ferrocast_pubsub::Handlers;
//! use ferrocast_pubsub::Router;
//!
//! let actors = Handlers::new()
//!     .on_join(|_ctx, _params| Ok(ferrocast_protocol::Payload::empty()))
//!     .event("spawn", |ctx, _rest, payload| {
//!         ctx.broadcast("spawned", &payload);
//!         Outcome::ok(payload)
//!     })
//!     // "mesh:router", "mesh:monitor", … reach this handler with `rest` = "router", "monitor", …
//!     .event("mesh:*", |_ctx, rest, _payload| match rest {
//!         "coordinator" | "monitor" | "router" => Outcome::NoReply,
//!         _ => Outcome::error(reason("no such mesh role")),
//!     });
//! let router = Router::new().channel("bitactor:*", actors);
//! # let _ = router;
//! ```

use crate::channel::{Channel, Context, Outcome, reason};
use ferrocast_protocol::Payload;

type JoinHandler = Box<dyn Fn(&mut Context<'_>, &Payload) -> Result<Payload, Payload> + Send + Sync>;
type EventHandler = Box<dyn Fn(&mut Context<'_>, &str, Payload) -> Outcome + Send + Sync>;
type LeaveHandler = Box<dyn Fn(&mut Context<'_>) + Send + Sync>;

/// A channel made of a join handler, event handlers and a leave handler.
///
/// Event patterns are exact names (`spawn`) or end in `*` (`mesh:*`); the first pattern that matches, in the order
/// they were added, handles the event and receives what the `*` matched (empty for an exact name). An event no
/// pattern matches is answered with the error `{"reason": "unknown event"}`.
#[derive(Default)]
pub struct Handlers {
    join: Option<JoinHandler>,
    events: Vec<(String, EventHandler)>,
    leave: Option<LeaveHandler>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers").field("events", &self.events.iter().map(|(p, _)| p).collect::<Vec<_>>()).finish()
    }
}

impl Handlers {
    /// A channel that accepts every join and knows no event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides joins (the default accepts them with `{}`).
    pub fn on_join(
        mut self,
        join: impl Fn(&mut Context<'_>, &Payload) -> Result<Payload, Payload> + Send + Sync + 'static,
    ) -> Self {
        self.join = Some(Box::new(join));
        self
    }

    /// Handles the events matching `pattern`.
    pub fn event(
        mut self,
        pattern: &str,
        handle: impl Fn(&mut Context<'_>, &str, Payload) -> Outcome + Send + Sync + 'static,
    ) -> Self {
        self.events.push((pattern.to_owned(), Box::new(handle)));
        self
    }

    /// Runs when a joined channel ends.
    pub fn on_leave(mut self, leave: impl Fn(&mut Context<'_>) + Send + Sync + 'static) -> Self {
        self.leave = Some(Box::new(leave));
        self
    }
}

/// What `pattern`'s `*` matched in `event`, or `None` when it does not match.
fn matches<'e>(pattern: &str, event: &'e str) -> Option<&'e str> {
    match pattern.strip_suffix('*') {
        Some(prefix) => event.strip_prefix(prefix),
        None => (pattern == event).then_some(""),
    }
}

impl Channel for Handlers {
    fn join(&self, ctx: &mut Context<'_>, params: &Payload) -> Result<Payload, Payload> {
        match &self.join {
            Some(join) => join(ctx, params),
            None => Ok(Payload::empty()),
        }
    }

    fn handle_in(&self, ctx: &mut Context<'_>, event: &str, payload: Payload) -> Outcome {
        for (pattern, handle) in &self.events {
            if let Some(rest) = matches(pattern, event) {
                return handle(ctx, rest, payload);
            }
        }
        Outcome::error(reason("unknown event"))
    }

    fn leave(&self, ctx: &mut Context<'_>) {
        if let Some(leave) = &self.leave {
            leave(ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_names_and_hand_a_splat_its_rest() {
        assert_eq!(matches("spawn", "spawn"), Some(""));
        assert_eq!(matches("spawn", "spawned"), None);
        assert_eq!(matches("mesh:*", "mesh:router"), Some("router"));
        assert_eq!(matches("mesh:*", "mesh:"), Some(""));
        assert_eq!(matches("mesh:*", "mesh"), None);
        assert_eq!(matches("*", "anything"), Some("anything"));
    }
}
