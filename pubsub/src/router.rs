//! Which channel serves a topic, and the plugs that run before it.
//!
//! A route is a topic pattern, exact (`lobby`) or ending in a `*` splat (`room:*`), with a channel. Routes can be
//! grouped in scopes by topic prefix; a scope's plugs run before every join and event of its routes, in order, and
//! the first plug that refuses answers the client with its error. The first route that matches a topic wins.
//!
//! Topics can also be handed to a [`Remote`], an application's backend, for their joins, their pushes or both
//! ([`Router::remote_join`], [`Router::remote_push`]): a topic a remote pattern matches is the remote's, whatever
//! the channel routes say; the others keep their channels.

use crate::channel::{Channel, SocketInfo};
use crate::remote::{Remote, RemoteRoute};
use ferrocast_protocol::Payload;
use serde_json::{Map, Value};
use std::sync::Arc;

/// What a plug sees.
#[derive(Debug)]
pub struct PlugContext<'a> {
    /// The whole topic joined or pushed to, not only what the route's `*` matched.
    pub topic: &'a str,
    /// `phx_join` for a join, otherwise the event's name.
    pub event: &'a str,
    /// The join params for a join, otherwise the event's payload.
    pub payload: &'a Payload,
    /// The connection: its connect params and identity, for plugs that authenticate.
    pub socket: &'a SocketInfo,
    /// The join's assigns (empty before the join).
    pub assigns: &'a Map<String, Value>,
}

/// A check that runs before a scope's joins and events: authentication, payload validation, permissions, metrics.
pub trait Plug: Send + Sync + 'static {
    /// `Err` refuses the join or the event with this error response.
    fn call(&self, ctx: &PlugContext<'_>) -> Result<(), Payload>;
}

impl<F> Plug for F
where
    F: Fn(&PlugContext<'_>) -> Result<(), Payload> + Send + Sync + 'static,
{
    fn call(&self, ctx: &PlugContext<'_>) -> Result<(), Payload> {
        self(ctx)
    }
}

/// Whether `topic` matches `pattern` as routes read patterns: exact (`lobby`), or a prefix ending in `*`
/// (`room:*`). For what filters topics outside the router, such as the webhooks' `--webhook-topics`.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    Pattern::parse(pattern).matches(topic).is_some()
}

/// A topic pattern: exact, or a prefix ending in `*`. Routes use them, and so do a token's `topics` and `zones`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    Exact(String),
    Splat(String),
}

impl Pattern {
    pub(crate) fn parse(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(prefix) => Pattern::Splat(prefix.to_owned()),
            None => Pattern::Exact(pattern.to_owned()),
        }
    }

    /// The splat (empty for an exact match) when `topic` matches.
    pub(crate) fn matches<'t>(&self, topic: &'t str) -> Option<&'t str> {
        match self {
            Pattern::Exact(exact) => (exact == topic).then_some(""),
            Pattern::Splat(prefix) => topic.strip_prefix(prefix.as_str()),
        }
    }
}

struct Route {
    pattern: Pattern,
    plugs: Vec<Arc<dyn Plug>>,
    channel: Arc<dyn Channel>,
}

/// The result of routing a topic.
#[derive(Clone)]
pub struct Routed<'r> {
    /// The channel of the first route that matched.
    pub channel: &'r Arc<dyn Channel>,
    /// The plugs to run first.
    pub plugs: &'r [Arc<dyn Plug>],
    /// What the route's `*` matched.
    pub splat: String,
}

/// Channels and plugs are trait objects with nothing to show: a route shows what its `*` matched.
impl std::fmt::Debug for Routed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routed").field("plugs", &self.plugs.len()).field("splat", &self.splat).finish_non_exhaustive()
    }
}

/// The routes of a socket.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    remote_joins: Vec<(Pattern, Arc<dyn Remote>)>,
    remote_pushes: Vec<(Pattern, Arc<dyn Remote>)>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let remote = self.remote_joins.iter().chain(&self.remote_pushes).map(|(pattern, _)| pattern);
        f.debug_list().entries(self.routes.iter().map(|route| &route.pattern).chain(remote)).finish()
    }
}

impl Router {
    /// A router with no routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route with no plugs.
    pub fn channel(mut self, pattern: &str, channel: impl Channel) -> Self {
        self.routes.push(Route { pattern: Pattern::parse(pattern), plugs: Vec::new(), channel: Arc::new(channel) });
        self
    }

    /// Adds the routes built by `build`, each behind `plugs`.
    pub fn scope(mut self, plugs: Vec<Arc<dyn Plug>>, build: impl FnOnce(Router) -> Router) -> Self {
        for mut route in build(Router::new()).routes {
            let mut all = plugs.clone();
            all.append(&mut route.plugs);
            route.plugs = all;
            self.routes.push(route);
        }
        self
    }

    /// Asks `remote` whether a topic matching `pattern` may be joined (the first matching remote pattern wins).
    pub fn remote_join(mut self, pattern: &str, remote: Arc<dyn Remote>) -> Self {
        self.remote_joins.push((Pattern::parse(pattern), remote));
        self
    }

    /// Asks `remote` to answer the pushes on topics matching `pattern`.
    pub fn remote_push(mut self, pattern: &str, remote: Arc<dyn Remote>) -> Self {
        self.remote_pushes.push((Pattern::parse(pattern), remote));
        self
    }

    /// Whether any topic is a remote's.
    pub fn has_remotes(&self) -> bool {
        !self.remote_joins.is_empty() || !self.remote_pushes.is_empty()
    }

    /// The remotes of `topic`, when a remote pattern matches it.
    pub fn remote(&self, topic: &str) -> Option<RemoteRoute> {
        let first = |remotes: &[(Pattern, Arc<dyn Remote>)]| {
            remotes.iter().find(|(pattern, _)| pattern.matches(topic).is_some()).map(|(_, remote)| remote.clone())
        };
        let route = RemoteRoute { join: first(&self.remote_joins), push: first(&self.remote_pushes) };
        (route.join.is_some() || route.push.is_some()).then_some(route)
    }

    /// The first route matching `topic`.
    pub fn route(&self, topic: &str) -> Option<Routed<'_>> {
        self.routes.iter().find_map(|route| {
            let splat = route.pattern.matches(topic)?;
            Some(Routed { channel: &route.channel, plugs: &route.plugs, splat: splat.to_owned() })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{Context, Outcome};

    struct Named;
    impl Channel for Named {
        fn join(&self, _: &mut Context<'_>, _: &Payload) -> Result<Payload, Payload> {
            Ok(Payload::empty())
        }
        fn handle_in(&self, _: &mut Context<'_>, _: &str, _: Payload) -> Outcome {
            Outcome::NoReply
        }
    }

    #[test]
    fn the_first_matching_route_wins_and_gives_its_splat() {
        let deny: Arc<dyn Plug> = Arc::new(|_: &PlugContext<'_>| Err(crate::channel::reason("no")));
        let router = Router::new()
            .channel("lobby", Named)
            .scope(vec![deny], |scope| scope.channel("admin:*", Named))
            .channel("room:*", Named);
        assert_eq!(router.route("room:lobby").unwrap().splat, "lobby");
        assert_eq!(router.route("lobby").unwrap().splat, "");
        assert!(router.route("lobby2").is_none());
        assert_eq!(router.route("admin:1").unwrap().plugs.len(), 1);
        assert!(router.route("room:x").unwrap().plugs.is_empty());
        assert!(router.route("nope:1").is_none());
    }
}
