//! The scenarios, one file each, and what every one of them hands back: an [`Outcome`].
//!
//! Each scenario is bounded in time and stops by itself. Its outcome is one human line, one JSON object with every
//! figure, and the few headline [`Figure`]s the suite compares across servers.

pub(crate) mod broadcast;
pub(crate) mod cluster;
pub(crate) mod disjoint;
pub(crate) mod echo;
pub(crate) mod fanout;
pub(crate) mod hooks;
pub(crate) mod idle;
pub(crate) mod presence_cluster;
pub(crate) mod ramp;
pub(crate) mod scale;
pub(crate) mod scale_child;
pub(crate) mod sse;
pub(crate) mod storm;
pub(crate) mod suite;
pub(crate) mod webhooks;
pub(crate) mod window;

use serde_json::Value;

/// What a scenario reports.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// One line for people.
    pub human: String,
    /// Every figure, as one JSON object (it includes `"scenario"`).
    pub json: Value,
    /// The figures worth comparing across servers.
    pub figures: Vec<Figure>,
}

/// One headline figure.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    /// What it is, with its unit (`p99 latency (µs)`).
    pub label: &'static str,
    /// Its value, `None` when it could not be measured (no server process to read, say).
    pub value: Option<f64>,
    /// Whether more is better (deliveries/s) or worse (latency, memory).
    pub higher_is_better: bool,
}

impl Figure {
    /// A figure where less is better.
    pub(crate) fn lower(label: &'static str, value: impl Into<Option<f64>>) -> Figure {
        Figure { label, value: value.into(), higher_is_better: false }
    }

    /// A figure where more is better.
    pub(crate) fn higher(label: &'static str, value: impl Into<Option<f64>>) -> Figure {
        Figure { label, value: value.into(), higher_is_better: true }
    }
}

/// Adds `"scenario"` and the fields of `extra` to the JSON object `base`.
pub(crate) fn merge_json(scenario: &str, base: Value, extra: Value) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("scenario".to_owned(), Value::from(scenario));
    for part in [base, extra] {
        if let Value::Object(fields) = part {
            object.extend(fields);
        }
    }
    Value::Object(object)
}
