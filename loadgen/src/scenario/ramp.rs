//! `fanout --ramp`: the same subscribers and publisher through rising rates, a few seconds each, to find the
//! highest rate the server serves cleanly and the most deliveries a second it reaches.
//!
//! A step is clean when nothing is lost, no subscriber was closed and p99 stays under 50 ms. The ramp stops early
//! once a step loses deliveries, closes a subscriber, passes a p99 of 1 s or answers its HTTP publisher too slowly
//! for the rate to be published: the server is saturated, and higher rates would only pile up queues.

use crate::Result;
use crate::proc_stats::Watched;
use crate::publisher::PublishOver;
use crate::scenario::broadcast::Stage;
use crate::scenario::window::{self, WindowFigures};
use crate::scenario::{Figure, Outcome, merge_json};
use crate::target::Target;
use serde_json::json;
use std::time::Duration;

/// The rates stepped through by default, for a thousand subscribers: from a moderate load, where every broadcast
/// wakes every subscriber for one frame, to past saturation.
pub(crate) const DEFAULT_RATES: [f64; 7] = [50.0, 100.0, 300.0, 1000.0, 1500.0, 2000.0, 3000.0];
/// The p99 under which a step is clean.
pub(crate) const CLEAN_P99: Duration = Duration::from_millis(50);
/// The p99 past which the ramp stops.
const STOP_P99: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Subscribers to connect; fewer when the descriptor limit is lower, which the output notes.
    pub subscribers: usize,
    /// Broadcasts a second, step by step.
    pub rates: Vec<f64>,
    /// How long each step publishes.
    pub step: Duration,
    /// How the publisher publishes.
    pub publish: PublishOver,
}

/// Runs the ramp.
pub(crate) async fn run(target: &Target, options: &Options) -> Result<Outcome> {
    let mut stage = Stage::set_up(target, options.subscribers, false, options.publish).await?;
    let servers = Watched::single(target.server_pid);
    let mut steps: Vec<WindowFigures> = Vec::new();
    let (mut failure, mut stopped_by) = (None, None);
    for &rate in &options.rates {
        let joined = stage.joined();
        let measured = window::measure(
            &stage.publisher,
            &stage.recorder,
            joined,
            &mut stage.sequence,
            rate,
            options.step,
            &servers,
        )
        .await;
        match measured {
            Ok(step) => {
                eprintln!("  ramp {rate:>6} broadcasts/s: {}", step.human());
                let saturated = step.lost > 0
                    || step.closed > 0
                    || step.latency.p99_us >= STOP_P99.as_micros() as u64
                    || step.sent < step.planned;
                if saturated {
                    stopped_by = Some(format!(
                        "stopped at {rate} broadcasts/s: lost {}, closed {}, p99 {}, published {} of {}",
                        step.lost,
                        step.closed,
                        step.p99(),
                        step.sent,
                        step.planned
                    ));
                    steps.push(step);
                    break;
                }
                steps.push(step);
            }
            Err(error) => {
                failure = Some(error.to_string());
                break;
            }
        }
    }
    let setup = stage.json(target);
    let remarks = stage.remarks();
    let joined = stage.joined();
    let _ = stage.tear_down().await;
    if steps.is_empty() {
        return Err(failure.unwrap_or_else(|| "no ramp step ran".to_owned()).into());
    }
    let max_clean_rate = steps.iter().filter(|step| step.clean(CLEAN_P99)).map(|step| step.rate).reduce(f64::max);
    // The step that delivered the most is the saturation point; its CPU cost per delivery is the server's cost
    // when busiest, the figure the targets are set for.
    let busiest = steps.iter().max_by(|a, b| a.deliveries_per_second.total_cmp(&b.deliveries_per_second));
    let saturation = busiest.map_or(0.0, |step| step.deliveries_per_second);
    let cpu_at_saturation = busiest.and_then(|step| step.server_cpu_us_per_delivery);
    let human = format!(
        "ramp: {joined} subscribers, {} steps of {:.1} s: max clean rate (p99 < 50 ms, nothing lost) {}, saturation \
         {saturation:.0} deliveries/s{}{}{}{remarks}",
        steps.len(),
        options.step.as_secs_f64(),
        max_clean_rate.map_or("none".to_owned(), |rate| format!("{rate} broadcasts/s")),
        cpu_at_saturation.map(|us| format!(" at {us:.2} µs of server CPU per delivery")).unwrap_or_default(),
        stopped_by.as_deref().map(|why| format!(" ({why})")).unwrap_or_default(),
        failure.as_deref().map(|error| format!(" (ended by an error: {error})")).unwrap_or_default(),
    );
    let figures = json!({
        "step_seconds": options.step.as_secs_f64(),
        "max_clean_rate": max_clean_rate,
        "max_clean_deliveries_per_s": max_clean_rate.map(|rate| rate * joined as f64),
        "saturation_deliveries_per_s": saturation.round(),
        "saturation_server_cpu_us_per_delivery": cpu_at_saturation,
        "stopped_by": stopped_by,
        "error": failure,
        "steps": steps.iter().map(WindowFigures::json).collect::<Vec<_>>(),
    });
    Ok(Outcome {
        human,
        json: merge_json("ramp", setup, figures),
        figures: vec![
            Figure::higher("max clean rate (broadcasts/s)", max_clean_rate.unwrap_or(0.0)),
            Figure::higher("saturation (deliveries/s)", saturation),
            Figure::lower("server CPU per delivery at saturation (µs)", cpu_at_saturation),
        ],
    })
}
