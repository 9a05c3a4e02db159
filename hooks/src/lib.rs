//! `ferrocast-hooks`: the relay asks an application's backend, over HTTP, who may connect and join, and hands it
//! the pushes of the topics it serves, so a team writes its channel logic in any language (a Nuxt app's Nitro
//! routes, Python, Go) instead of Rust. The bodies are Centrifugo's proxy bodies in Phoenix terms (README, "Backend
//! hooks").
//!
//! - `bodies`: what each hook is sent; `answer`: what a backend answers, read strictly; `call`: one call under the
//!   time limit, the breaker and the size limit, signed (`signature`) and counted (`metrics`); `endpoint`: a backend
//!   URL, parsed once, with its circuit breaker (`breaker`).
//! - `connection`: the connect and refresh hooks, which the relay calls around a connection's life.
//! - `remote`: the join and push hooks as a [`ferrocast_pubsub::Remote`], which a session asks and waits for
//!   without blocking; [`Hooks::routes`] hands their topic patterns to the router.
//!
//! This crate is the only one that speaks HTTP to backends; pubsub knows only the `Remote` trait.

mod answer;
mod bodies;
mod breaker;
mod call;
mod connection;
mod endpoint;
mod metrics;
mod remote;
mod signature;
pub mod webhooks;

pub use breaker::{BreakerSettings, State as BreakerState};
pub use connection::{Connect, Connected, NotExtended};
pub use metrics::{Hook, HookMetrics, Outcome};
pub use signature::{SIGNATURE_HEADER, sign};

use endpoint::Endpoint;
use ferrocast_pubsub::Router;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Which hooks a relay calls, and how.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// Asked when a client connects without a token the relay accepts.
    pub connect: Option<String>,
    /// Asked for joins of the topics matching each pattern, first match first.
    pub joins: Vec<(String, String)>,
    /// Asked for the pushes on the topics matching each pattern, first match first.
    pub pushes: Vec<(String, String)>,
    /// Asked before a connection's `expire_at` to extend it.
    pub refresh: Option<String>,
    /// How long a call may take, connecting and reading its answer included. Default 5 s.
    pub timeout: Duration,
    /// Signs every request (see [`sign`]).
    pub secret: Option<String>,
    /// The client's request headers passed on to the backend (lower case); `x-request-id` always is.
    pub headers: Vec<String>,
    /// The largest answer read; a larger one is a bad answer. The relay sets its message limit.
    pub max_answer_bytes: usize,
    /// When a backend's breaker opens and closes.
    pub breaker: BreakerSettings,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            connect: None,
            joins: Vec::new(),
            pushes: Vec::new(),
            refresh: None,
            timeout: Duration::from_secs(5),
            secret: None,
            headers: Vec::new(),
            max_answer_bytes: 1 << 20,
            breaker: BreakerSettings::default(),
        }
    }
}

impl HookSettings {
    /// Whether any hook is configured.
    pub fn any(&self) -> bool {
        self.connect.is_some() || self.refresh.is_some() || !self.joins.is_empty() || !self.pushes.is_empty()
    }
}

/// 64 bits no one can guess, for trace, batch and connection ids and backoff jitter: `RandomState` keys SipHash with
/// the operating system's randomness, so hashing a counter with a fresh state is a keyed pseudo-random function.
pub fn random_u64() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), count)
}

/// Reads `PATTERN=URL`, as `--proxy-join` and `--proxy-push` take it.
pub fn pattern_and_url(text: &str) -> Result<(String, String), String> {
    let (pattern, url) = text.split_once('=').ok_or_else(|| format!("{text:?}: expected PATTERN=URL"))?;
    if pattern.is_empty() {
        return Err(format!("{text:?}: the topic pattern is empty"));
    }
    Ok((pattern.to_owned(), url.to_owned()))
}

/// Why the hooks cannot start.
#[derive(Debug, thiserror::Error)]
pub enum HooksError {
    /// A hook's URL is not an `http` or `https` URL.
    #[error("{0:?} is not an http:// or https:// URL")]
    Url(String),
    /// The HTTP client could not be built.
    #[error("the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The configured hooks, their HTTP client, breakers and metrics; one per relay.
#[derive(Debug)]
pub struct Hooks {
    settings: HookSettings,
    http: reqwest::Client,
    /// Every URL configured, by its text as given.
    endpoints: BTreeMap<String, Arc<Endpoint>>,
    /// The calls' counters, for the relay's `/metrics`.
    pub metrics: HookMetrics,
}

impl Hooks {
    /// The hooks of `settings`; fails for a URL that is not http(s).
    pub fn new(mut settings: HookSettings) -> Result<Arc<Self>, HooksError> {
        let urls = settings.connect.iter().chain(&settings.refresh).chain(settings.joins.iter().map(|(_, url)| url));
        let mut endpoints = BTreeMap::new();
        for url in urls.chain(settings.pushes.iter().map(|(_, url)| url)) {
            let endpoint = Endpoint::parse(url, settings.breaker).ok_or_else(|| HooksError::Url(url.clone()))?;
            endpoints.entry(url.clone()).or_insert_with(|| Arc::new(endpoint));
        }
        for header in &mut settings.headers {
            header.make_ascii_lowercase();
        }
        if !settings.headers.iter().any(|header| header == "x-request-id") {
            settings.headers.push("x-request-id".to_owned());
        }
        // Backends are few and near: keep their connections open, and never follow a redirect elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()?;
        Ok(Arc::new(Hooks { settings, http, endpoints, metrics: HookMetrics::default() }))
    }

    /// The settings in force.
    pub fn settings(&self) -> &HookSettings {
        &self.settings
    }

    /// `router` with the join and push hooks' topics handed to them.
    pub fn routes(self: &Arc<Self>, mut router: Router) -> Router {
        for (pattern, url) in &self.settings.joins {
            router = router.remote_join(pattern, remote::HookRemote::new(self, self.endpoint(url)));
        }
        for (pattern, url) in &self.settings.pushes {
            router = router.remote_push(pattern, remote::HookRemote::new(self, self.endpoint(url)));
        }
        router
    }

    /// The endpoint of a configured URL.
    pub(crate) fn endpoint(&self, url: &str) -> Arc<Endpoint> {
        Arc::clone(&self.endpoints[url])
    }

    /// The join hooks' topic patterns: a connection the connect hook let in may join these (their hook decides).
    pub fn join_patterns(&self) -> impl Iterator<Item = &str> {
        self.settings.joins.iter().map(|(pattern, _)| pattern.as_str())
    }

    /// Of a request's headers, those the allow list passes on, by their lower-case names.
    pub fn forwarded<'h>(&self, headers: impl IntoIterator<Item = (&'h str, &'h str)>) -> Vec<(String, String)> {
        headers
            .into_iter()
            .filter(|(name, _)| self.settings.headers.iter().any(|allowed| allowed.eq_ignore_ascii_case(name)))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect()
    }

    /// Appends the hooks' metrics to a Prometheus text exposition.
    pub fn render_metrics(&self, out: &mut String) {
        let breakers: Vec<(String, u8)> =
            self.endpoints.iter().map(|(url, endpoint)| (url.clone(), endpoint.state().gauge())).collect();
        self.metrics.render(out, &breakers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_urls_are_read_and_checked() {
        assert_eq!(pattern_and_url("app:*=http://x/join").unwrap(), ("app:*".to_owned(), "http://x/join".to_owned()));
        assert!(pattern_and_url("app:*").is_err());
        assert!(pattern_and_url("=http://x").is_err());
        let bad = HookSettings { joins: vec![("app:*".into(), "ftp://x".into())], ..HookSettings::default() };
        assert!(matches!(Hooks::new(bad), Err(HooksError::Url(_))));
    }

    #[test]
    fn only_allowed_headers_are_forwarded() {
        let settings = HookSettings { headers: vec!["Cookie".into()], ..HookSettings::default() };
        let hooks = Hooks::new(settings).unwrap();
        let forwarded =
            hooks.forwarded([("Cookie", "session=a"), ("Authorization", "Bearer x"), ("X-Request-Id", "r1")]);
        assert_eq!(
            forwarded,
            [("cookie".to_owned(), "session=a".to_owned()), ("x-request-id".to_owned(), "r1".to_owned())]
        );
    }
}
