//! `fanout` across relays that share one Redis (`--pubsub redis://…`): the subscribers dealt over the relays in
//! turn, the publisher on the last relay, measured as the single-relay fanout is. Every broadcast then goes from the
//! publisher's relay through Redis (its publish script numbers and stores it, then PUBLISHes it) to every relay,
//! each of which delivers it to its own subscribers.
//!
//! The server CPU figures are those of every relay and the Redis together, the cost of the whole deployment; the
//! JSON has each process's share. After the window each relay's link counters (`ferrocast_redis_*` in
//! `GET /metrics`) are read: any disconnect, retry, drop, gap or broadcast a relay did not receive is named in the
//! output, since none should happen on loopback.

use crate::Result;
use crate::proc_stats::Watched;
use crate::scenario::{Outcome, fanout};
use crate::servers::{Redis, Server, http_get};
use crate::target::Target;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Counters that stay at zero on a healthy link.
const TROUBLE_COUNTERS: [&str; 6] = [
    "ferrocast_redis_disconnects_total",
    "ferrocast_redis_publish_retries_total",
    "ferrocast_redis_dropped_total",
    "ferrocast_redis_refilled_total",
    "ferrocast_redis_lost_total",
    "ferrocast_redis_malformed_total",
];

/// Runs one fanout window across `relays` (at least two), which share `redis`.
pub(crate) async fn run(relays: &[Server], redis: &Redis, options: fanout::Options) -> Result<Outcome> {
    let [.., publisher_relay] = relays else { return Err("no relay to publish on".into()) };
    if relays.len() < 2 {
        return Err("fanout across relays needs two relays or more".into());
    }
    let names: Vec<String> = ('A'..='Z').take(relays.len()).map(|letter| format!("relay {letter}")).collect();
    let targets: Vec<Target> = relays.iter().map(Server::target).collect();
    let mut servers: Vec<Watched> = relays
        .iter()
        .zip(&names)
        .filter_map(|(relay, name)| relay.pid().map(|pid| Watched { name: name.clone(), pid }))
        .collect();
    servers.extend(redis.pid().map(|pid| Watched { name: "redis".to_owned(), pid }));
    let mut outcome = fanout::run_across(&targets, &publisher_relay.target(), &servers, options).await?;

    let sent = outcome.json["sent"].as_u64().unwrap_or(0);
    let mut links = Map::new();
    let mut troubles = Vec::new();
    for (relay, name) in relays.iter().zip(&names) {
        let scraped = tokio::time::timeout(Duration::from_secs(5), http_get(relay.addr, "/metrics")).await;
        let counters = match scraped {
            Ok(Ok((200, body))) => link_counters(&body),
            Ok(Ok((status, _))) => {
                troubles.push(format!("{name}: /metrics answered {status}"));
                continue;
            }
            Ok(Err(error)) => {
                troubles.push(format!("{name}: /metrics: {error}"));
                continue;
            }
            Err(_) => {
                troubles.push(format!("{name}: /metrics did not answer within 5 s"));
                continue;
            }
        };
        troubles.extend(link_troubles(name, &counters, sent));
        links.insert(
            name.clone(),
            Value::Object(counters.into_iter().map(|(key, value)| (key, json!(value))).collect()),
        );
    }
    outcome.json["relays"] = json!(relays.len());
    outcome.json["publisher_on"] = json!(names.last());
    outcome.json["redis_link"] = Value::Object(links);
    outcome.json["redis_link_troubles"] = json!(troubles);
    if !troubles.is_empty() {
        outcome.human.push_str(&format!(" (Redis link: {})", troubles.join("; ")));
    }
    Ok(outcome)
}

/// The `ferrocast_redis_*` and `ferrocast_cluster_*` samples of a Prometheus text page, by name.
pub(crate) fn link_counters(page: &str) -> Vec<(String, u64)> {
    page.lines()
        .filter(|line| line.starts_with("ferrocast_redis_") || line.starts_with("ferrocast_cluster_"))
        .filter_map(|line| {
            let (name, value) = line.split_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// What is wrong with a relay's link after a window of `sent` broadcasts: counters that should be zero and are
/// not, fewer broadcasts received from Redis than were sent, or no link at all.
pub(crate) fn link_troubles(name: &str, counters: &[(String, u64)], sent: u64) -> Vec<String> {
    let get = |wanted: &str| counter(counters, wanted);
    let mut troubles = link_faults(name, counters);
    match get("ferrocast_redis_received_total") {
        None => troubles.push(format!("{name}: no ferrocast_redis_received_total in /metrics")),
        Some(received) if received < sent => {
            troubles.push(format!("{name}: received {received} broadcasts from Redis of {sent} sent"));
        }
        Some(_) => {}
    }
    troubles
}

/// The value of `wanted` among `counters`.
pub(crate) fn counter(counters: &[(String, u64)], wanted: &str) -> Option<u64> {
    counters.iter().find(|(counter, _)| counter == wanted).map(|(_, value)| *value)
}

/// What is wrong with a relay's link whatever it received: counters that should be zero and are not, or no link.
pub(crate) fn link_faults(name: &str, counters: &[(String, u64)]) -> Vec<String> {
    let mut faults: Vec<String> = TROUBLE_COUNTERS
        .iter()
        .filter_map(|&wanted| {
            counter(counters, wanted).filter(|&value| value > 0).map(|value| format!("{name}: {wanted} {value}"))
        })
        .collect();
    if counter(counters, "ferrocast_redis_connected") == Some(0) {
        faults.push(format!("{name}: not connected to Redis after the window"));
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_counters_are_read_and_judged() {
        let page = "# HELP ferrocast_redis_connected x\n# TYPE ferrocast_redis_connected gauge\n\
                    ferrocast_redis_connected 1\nferrocast_redis_received_total 300\nferrocast_redis_dropped_total 0\n\
                    ferrocast_redis_lost_total 2\nferrocast_cluster_peers 1\nferrocast_connections 7\n";
        let counters = link_counters(page);
        assert_eq!(counters.len(), 5, "{counters:?}");
        assert_eq!(link_troubles("relay A", &counters, 300), ["relay A: ferrocast_redis_lost_total 2"]);
        let troubles = link_troubles("relay B", &counters, 301);
        assert!(troubles.iter().any(|trouble| trouble.contains("received 300 broadcasts from Redis of 301")));
        assert!(!link_troubles("relay C", &[], 1).is_empty(), "a page without the link's counters is a trouble");
    }
}
