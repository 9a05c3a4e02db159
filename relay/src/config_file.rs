//! The configuration file (`--config ferrocast.toml`): what is awkward in flags, a list of webhooks above all.
//! Read strictly: an unknown key is an error that names it, so a typo is not silently ignored.
//!
//! ```toml
//! [webhooks]
//! queue = 10000            # and max_age_seconds, vacated_delay_ms, retry_max_ms, as the --webhook-* flags
//!
//! [[webhooks.endpoint]]
//! name = "crm"
//! url = "https://crm.example.com/ferrocast"
//! secret = "whsec_…"
//! events = ["broadcast", "presence.join"]   # every kind when absent
//! topics = ["room:*"]                       # every topic when absent
//! ```
//!
//! A flag given on the command line (or in the environment) wins over the file; endpoints from both are used.

use ferrocast_hooks::webhooks::{Kind, WebhookEndpoint};
use serde::Deserialize;
use std::path::Path;

/// The file's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) webhooks: WebhooksSection,
}

/// `[webhooks]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhooksSection {
    pub(crate) queue: Option<usize>,
    pub(crate) max_age_seconds: Option<u64>,
    pub(crate) vacated_delay_ms: Option<u64>,
    pub(crate) retry_max_ms: Option<u64>,
    #[serde(default)]
    endpoint: Vec<EndpointEntry>,
}

/// `[[webhooks.endpoint]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointEntry {
    name: String,
    url: String,
    secret: String,
    events: Option<Vec<String>>,
    #[serde(default)]
    topics: Vec<String>,
}

impl ConfigFile {
    /// Reads `path`, or says what is wrong with it.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|error| format!("--config {}: {error}", path.display()))?;
        Self::parse(&text).map_err(|error| format!("--config {}: {error}", path.display()))
    }

    fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error| error.to_string())
    }
}

impl WebhooksSection {
    /// The file's endpoints.
    pub(crate) fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, String> {
        self.endpoint
            .iter()
            .map(|entry| {
                let kinds = match &entry.events {
                    None => Kind::ALL.to_vec(),
                    Some(events) => events
                        .iter()
                        .map(|kind| {
                            Kind::parse(kind).ok_or_else(|| format!("webhook {}: {kind:?} is not a kind", entry.name))
                        })
                        .collect::<Result<_, _>>()?,
                };
                Ok(WebhookEndpoint {
                    name: entry.name.clone(),
                    url: entry.url.clone(),
                    secret: entry.secret.clone(),
                    kinds,
                    topics: entry.topics.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_read_from_the_file_and_a_typo_is_named() {
        let file = ConfigFile::parse(
            r#"
            [webhooks]
            queue = 50
            [[webhooks.endpoint]]
            name = "crm"
            url = "http://crm/hook"
            secret = "whsec_AAAA"
            events = ["broadcast", "channel.vacated"]
            topics = ["room:*"]
            [[webhooks.endpoint]]
            name = "audit"
            url = "http://audit/in"
            secret = "whsec_BBBB"
            "#,
        )
        .unwrap();
        assert_eq!(file.webhooks.queue, Some(50));
        let endpoints = file.webhooks.endpoints().unwrap();
        assert_eq!(endpoints[0].kinds, [Kind::Broadcast, Kind::Vacated]);
        assert_eq!(endpoints[0].topics, ["room:*"]);
        assert_eq!(endpoints[1].kinds, Kind::ALL);

        let typo = ConfigFile::parse("[webhooks]\nqueu = 5\n").unwrap_err();
        assert!(typo.contains("unknown field `queu`"), "{typo}");
        let kind =
            ConfigFile::parse("[[webhooks.endpoint]]\nname='a'\nurl='http://a'\nsecret='whsec_A'\nevents=['x']\n")
                .unwrap()
                .webhooks
                .endpoints()
                .unwrap_err();
        assert!(kind.contains("\"x\" is not a kind"), "{kind}");
    }
}
