//! `fanout`: N subscribers on one topic, one publisher at R broadcasts a second for S seconds; deliveries a
//! second, publish-to-receive latency, losses and the server's CPU per delivery.

use crate::Result;
use crate::proc_stats::Watched;
use crate::publisher::PublishOver;
use crate::scenario::broadcast::Stage;
use crate::scenario::window::{self, WindowFigures};
use crate::scenario::{Figure, Outcome, merge_json};
use crate::target::Target;
use serde_json::json;
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Subscribers to connect; fewer when the descriptor limit is lower, which the output notes.
    pub subscribers: usize,
    /// Broadcasts a second.
    pub rate: f64,
    /// How long to publish.
    pub duration: Duration,
    /// Subscribe with event streams (`GET /sse`) instead of WebSockets.
    pub event_streams: bool,
    /// How the publisher publishes.
    pub publish: PublishOver,
}

/// Runs one fanout window.
pub(crate) async fn run(target: &Target, options: Options) -> Result<Outcome> {
    let servers = Watched::single(target.server_pid);
    run_across(std::slice::from_ref(target), target, &servers, options).await
}

/// Runs one fanout window with the subscribers dealt over `subscriber_targets` in turn and the publisher on
/// `publisher_target` (servers sharing their topics, such as relays on one Redis), counting the CPU of every one of
/// `servers` as the server's.
pub(crate) async fn run_across(
    subscriber_targets: &[Target],
    publisher_target: &Target,
    servers: &[Watched],
    options: Options,
) -> Result<Outcome> {
    let mut stage = Stage::set_up_across(
        subscriber_targets,
        publisher_target,
        options.subscribers,
        options.event_streams,
        options.publish,
    )
    .await?;
    let measured = window::measure(
        &stage.publisher,
        &stage.recorder,
        stage.joined(),
        &mut stage.sequence,
        options.rate,
        options.duration,
        servers,
    )
    .await;
    let mut setup = stage.json(publisher_target);
    if subscriber_targets.len() > 1 {
        let urls: Vec<String> = subscriber_targets.iter().map(Target::ws_url).collect();
        setup["subscriber_targets"] = json!(urls);
    }
    let remarks = stage.remarks();
    let joined = stage.joined();
    stage.tear_down().await?;
    let figures = measured?;
    let scenario = if options.event_streams { "sse" } else { "fanout" };
    let across = match subscriber_targets.len() {
        1 => String::new(),
        servers => format!(" over {servers} servers"),
    };
    Ok(Outcome {
        human: format!(
            "{scenario}: {joined} subscribers{across} × {} broadcasts/s for {:.0} s: {}{remarks}",
            options.rate,
            options.duration.as_secs_f64(),
            figures.human()
        ),
        json: merge_json(scenario, setup, figures.json()),
        figures: headline(&figures),
    })
}

/// The figures the suite compares for a broadcast window.
pub(crate) fn headline(figures: &WindowFigures) -> Vec<Figure> {
    vec![
        Figure::higher("deliveries/s", figures.deliveries_per_second),
        Figure::lower("p50 latency (µs)", figures.latency.p50_us as f64),
        Figure::lower("p99 latency (µs)", figures.latency.p99_us as f64),
        Figure::lower("p999 latency (µs)", figures.latency.p999_us as f64),
        Figure::lower("lost", figures.lost as f64),
        Figure::lower("server CPU per delivery (µs)", figures.server_cpu_us_per_delivery),
        Figure::lower("POST p50 (µs)", figures.post.map(|post| post.p50_us as f64)),
        Figure::lower("POST p99 (µs)", figures.post.map(|post| post.p99_us as f64)),
    ]
}
