//! Which endpoints the webhooks go to, with what, and how patiently: read from the `--webhook*` flags.

use std::time::Duration;

/// What an endpoint is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every broadcast on its topics.
    Broadcast,
    /// A topic's first subscriber on this relay.
    Occupied,
    /// A topic's last subscriber left, and nobody came back within the delay.
    Vacated,
    /// The workflow engine's run and step events (broadcasts on `reactor:*`, but `reactor:runs`).
    Run,
    /// A member joined a topic's presence.
    PresenceJoin,
    /// A member left a topic's presence.
    PresenceLeave,
}

impl Kind {
    /// Every kind: what an endpoint gets when it names none.
    pub const ALL: [Kind; 6] =
        [Kind::Broadcast, Kind::Occupied, Kind::Vacated, Kind::Run, Kind::PresenceJoin, Kind::PresenceLeave];

    /// The kind named `text`, as flags and the configuration file name them.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "broadcast" => Some(Kind::Broadcast),
            "channel.occupied" => Some(Kind::Occupied),
            "channel.vacated" => Some(Kind::Vacated),
            "run.*" => Some(Kind::Run),
            "presence.join" => Some(Kind::PresenceJoin),
            "presence.leave" => Some(Kind::PresenceLeave),
            _ => None,
        }
    }
}

/// The kind of a broadcast on `topic`: the workflow engine's run and step events (`reactor:*`) are `run.*`, its
/// summary topic `reactor:runs` and every other topic's are broadcasts.
pub fn kind_of(topic: &str) -> Kind {
    match topic.strip_prefix("reactor:") {
        Some(run) if run != "runs" => Kind::Run,
        _ => Kind::Broadcast,
    }
}

/// One endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its name, in flags, the API and metrics.
    pub name: String,
    /// Where batches are POSTed.
    pub url: String,
    /// The Standard Webhooks secret, `whsec_<base64>`.
    pub secret: String,
    /// What it is sent (all kinds when none was given).
    pub kinds: Vec<Kind>,
    /// The topic patterns it is sent events of (every topic when none was given).
    pub topics: Vec<String>,
}

/// Every endpoint, and the limits they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Events that may wait per endpoint; past it the oldest go to the dead letters. Default 10,000.
    pub queue: usize,
    /// How long a batch is retried before it goes to the dead letters. Default 24 h.
    pub max_age: Duration,
    /// How long after its last subscriber left a topic is told vacated, if nobody came back. Default 5 s.
    pub vacated_delay: Duration,
    /// The longest wait between two attempts (full jitter under it). Default 60 s.
    pub retry_max: Duration,
    /// How long one attempt may take. Default 10 s.
    pub timeout: Duration,
    /// The longest a batch gathers events. Default 250 ms.
    pub batch_window: Duration,
    /// The most events in a batch. Default 100.
    pub batch_max: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            endpoints: Vec::new(),
            queue: 10_000,
            max_age: Duration::from_secs(24 * 3600),
            vacated_delay: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            batch_window: Duration::from_millis(250),
            batch_max: 100,
        }
    }
}

impl WebhookSettings {
    /// The endpoints of `--webhook NAME=URL`, `--webhook-secret NAME=whsec_…`, `--webhook-events NAME=KIND,…` and
    /// `--webhook-topics NAME=PATTERN,…`, or what is wrong with them.
    pub fn endpoints_from_flags(
        webhooks: &[String],
        secrets: &[String],
        events: &[String],
        topics: &[String],
    ) -> Result<Vec<Endpoint>, String> {
        let mut endpoints: Vec<Endpoint> = Vec::new();
        for text in webhooks {
            let (name, url) = named("--webhook", text)?;
            if endpoints.iter().any(|endpoint| endpoint.name == name) {
                return Err(format!("--webhook {text}: {name} is named twice"));
            }
            let endpoint = Endpoint { name, url, secret: String::new(), kinds: Kind::ALL.to_vec(), topics: vec![] };
            endpoints.push(endpoint);
        }
        let find = |flag: &str, text: &str| -> Result<(usize, String), String> {
            let (name, value) = named(flag, text)?;
            let index = endpoints
                .iter()
                .position(|endpoint| endpoint.name == name)
                .ok_or_else(|| format!("{flag} {text}: no --webhook is named {name}"))?;
            Ok((index, value))
        };
        let mut found = Vec::new();
        for text in secrets {
            found.push(("secret", find("--webhook-secret", text)?));
        }
        for text in events {
            found.push(("events", find("--webhook-events", text)?));
        }
        for text in topics {
            found.push(("topics", find("--webhook-topics", text)?));
        }
        for (what, (index, value)) in found {
            let endpoint = &mut endpoints[index];
            match what {
                "secret" => endpoint.secret = value,
                "events" => {
                    endpoint.kinds = value
                        .split(',')
                        .map(|kind| Kind::parse(kind.trim()).ok_or_else(|| unknown_kind(&endpoint.name, kind)))
                        .collect::<Result<_, _>>()?;
                }
                _ => endpoint.topics = value.split(',').map(|pattern| pattern.trim().to_owned()).collect(),
            }
        }
        Self::check(&endpoints)?;
        Ok(endpoints)
    }

    /// Whether a broadcast on `topic` must go into the journal of the queue on Redis: an endpoint wants it.
    pub fn journals(&self, topic: &str) -> bool {
        let kind = kind_of(topic);
        self.endpoints.iter().any(|endpoint| {
            endpoint.kinds.contains(&kind)
                && (endpoint.topics.is_empty()
                    || endpoint.topics.iter().any(|pattern| ferrocast_pubsub::topic_matches(pattern, topic)))
        })
    }

    /// Refuses endpoints without a secret, names given twice, and names that could not stand in a URL path, a
    /// metric's label, a Redis key and a `webhook-id` as they are.
    pub fn check(endpoints: &[Endpoint]) -> Result<(), String> {
        for (index, endpoint) in endpoints.iter().enumerate() {
            let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
            if endpoint.name.len() > 64 || !endpoint.name.chars().all(plain) {
                return Err(format!("webhook {:?}: a name is 1 to 64 letters, digits, '_', '-' or '.'", endpoint.name));
            }
            if endpoints[..index].iter().any(|earlier| earlier.name == endpoint.name) {
                return Err(format!("webhook {}: the name is given twice", endpoint.name));
            }
            if !endpoint.secret.starts_with("whsec_") {
                return Err(format!(
                    "--webhook-secret {}=whsec_…: every webhook needs its Standard Webhooks secret",
                    endpoint.name
                ));
            }
        }
        Ok(())
    }
}

fn named(flag: &str, text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{flag} {text:?}: expected NAME=VALUE")),
    }
}

fn unknown_kind(name: &str, kind: &str) -> String {
    format!(
        "--webhook-events {name}=…: {kind:?} is not a kind (broadcast, channel.occupied, channel.vacated, run.*, \
         presence.join, presence.leave)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|text| text.to_string()).collect()
    }

    #[test]
    fn endpoints_are_read_from_their_flags() {
        let endpoints = WebhookSettings::endpoints_from_flags(
            &strings(&["crm=http://crm/hook", "audit=https://audit/in"]),
            &strings(&["crm=whsec_AAAA", "audit=whsec_BBBB"]),
            &strings(&["crm=broadcast,channel.vacated"]),
            &strings(&["crm=room:*,lobby"]),
        )
        .unwrap();
        assert_eq!(endpoints[0].kinds, [Kind::Broadcast, Kind::Vacated]);
        assert_eq!(endpoints[0].topics, ["room:*", "lobby"]);
        assert_eq!(endpoints[1].kinds, Kind::ALL);
        assert!(endpoints[1].topics.is_empty());
    }

    #[test]
    fn a_missing_secret_an_unknown_name_or_kind_is_refused_with_the_flag() {
        let hooks = strings(&["crm=http://crm/hook"]);
        let refused = WebhookSettings::endpoints_from_flags(&hooks, &[], &[], &[]).unwrap_err();
        assert!(refused.contains("needs its Standard Webhooks secret"), "{refused}");
        let secret = strings(&["crm=whsec_AAAA"]);
        let refused = WebhookSettings::endpoints_from_flags(&hooks, &secret, &strings(&["crm=nope"]), &[]).unwrap_err();
        assert!(refused.contains("\"nope\" is not a kind"), "{refused}");
        let refused = WebhookSettings::endpoints_from_flags(&hooks, &strings(&["erp=whsec_A"]), &[], &[]).unwrap_err();
        assert!(refused.contains("no --webhook is named erp"), "{refused}");
        assert!(WebhookSettings::endpoints_from_flags(&strings(&["crm"]), &[], &[], &[]).is_err());
    }
}
