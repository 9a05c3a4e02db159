//! A token's claims, and the identity a connection carries once its token is checked.

use crate::router::Pattern;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a token says about its bearer. Unknown claims are ignored; `sub` and `exp` are required.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// The user: presence tracks the connection under it.
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Topic patterns the user may join: exact (`room:lobby`) or a prefix ending in `*` (`room:*`).
    #[serde(default)]
    pub topics: Vec<String>,
    /// Permission bits per zone pattern (`{"zone:*": 4, "zone:home": 15}`); a zone gets the bits of every
    /// pattern that matches it.
    #[serde(default)]
    pub zones: BTreeMap<String, u64>,
    /// May publish through the HTTP API (`POST /api/broadcast`).
    #[serde(default)]
    pub publish: bool,
}

/// Who is on a connection.
#[derive(Debug, Clone)]
pub enum Identity {
    /// Dev mode (no secret or key configured): anyone may do anything, and channels take the user id and zone
    /// permissions from the join params, as the demo does.
    Anonymous,
    /// A user whose token was checked.
    User(Arc<Claims>),
}

impl Identity {
    /// The user id from the token, if there is one.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::User(claims) => Some(&claims.sub),
        }
    }

    /// Whether the connection may join `topic`.
    pub fn may_join(&self, topic: &str) -> bool {
        match self {
            Identity::Anonymous => true,
            Identity::User(claims) => {
                claims.topics.iter().any(|pattern| Pattern::parse(pattern).matches(topic).is_some())
            }
        }
    }

    /// The permission bits the token grants on the zone `topic`; `None` in dev mode, where the join params say.
    pub fn zone_permissions(&self, topic: &str) -> Option<u64> {
        match self {
            Identity::Anonymous => None,
            Identity::User(claims) => Some(
                claims
                    .zones
                    .iter()
                    .filter(|(pattern, _)| Pattern::parse(pattern).matches(topic).is_some())
                    .fold(0, |bits, (_, granted)| bits | granted),
            ),
        }
    }

    /// Whether the bearer may publish through the HTTP API.
    pub fn may_publish(&self) -> bool {
        match self {
            Identity::Anonymous => true,
            Identity::User(claims) => claims.publish,
        }
    }

    /// Whether the bearer may read `topic`'s history and presence from outside a channel (the HTTP API): what a
    /// join would show it, or anything, for a backend that may publish.
    pub fn may_read(&self, topic: &str) -> bool {
        self.may_publish() || self.may_join(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: &str) -> Identity {
        Identity::User(Arc::new(serde_json::from_str(json).unwrap()))
    }

    #[test]
    fn topics_are_exact_or_prefix_patterns() {
        let identity = user(r#"{"sub":"u1","exp":1,"topics":["room:lobby","zone:*"]}"#);
        assert!(identity.may_join("room:lobby"));
        assert!(!identity.may_join("room:lobby2"));
        assert!(identity.may_join("zone:home"));
        assert!(!identity.may_join("room:other"));
        assert!(!user(r#"{"sub":"u1","exp":1}"#).may_join("room:lobby"));
        assert!(Identity::Anonymous.may_join("anything"));
    }

    #[test]
    fn a_topic_is_read_by_who_may_join_it_or_publish() {
        let member = user(r#"{"sub":"u1","exp":1,"topics":["room:lobby"]}"#);
        assert!(member.may_read("room:lobby"));
        assert!(!member.may_read("room:other"));
        let backend = user(r#"{"sub":"backend","exp":1,"publish":true}"#);
        assert!(backend.may_read("room:other"));
        assert!(Identity::Anonymous.may_read("anything"));
    }

    #[test]
    fn a_zone_gets_the_bits_of_every_matching_pattern() {
        let identity = user(r#"{"sub":"u1","exp":1,"zones":{"zone:*":4,"zone:home":3}}"#);
        assert_eq!(identity.zone_permissions("zone:home"), Some(7));
        assert_eq!(identity.zone_permissions("zone:away"), Some(4));
        assert_eq!(identity.zone_permissions("room:x"), Some(0));
        assert_eq!(Identity::Anonymous.zone_permissions("zone:home"), None);
    }

    #[test]
    fn publishing_needs_the_claim() {
        assert!(user(r#"{"sub":"u1","exp":1,"publish":true}"#).may_publish());
        assert!(!user(r#"{"sub":"u1","exp":1}"#).may_publish());
    }

    #[test]
    fn sub_and_exp_are_required() {
        assert!(serde_json::from_str::<Claims>(r#"{"exp":1}"#).is_err());
        assert!(serde_json::from_str::<Claims>(r#"{"sub":"u1"}"#).is_err());
        assert!(serde_json::from_str::<Claims>(r#"{"sub":"u1","exp":1,"topics":"room:*"}"#).is_err());
    }
}
