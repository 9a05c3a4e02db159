//! One measured window of a broadcast scenario: publish at a rate for a while, wait for the deliveries, and turn
//! what the subscribers recorded into figures. Shared by `fanout`, each step of `fanout --ramp`, and `sse`.

use crate::Result;
use crate::latency::{Summary, format_us};
use crate::proc_stats::{CpuWindow, Watched};
use crate::publisher::Publisher;
use crate::recorder::Recorder;
use serde_json::{Value, json};
use std::time::Duration;

/// How long deliveries may trail the last publish before the missing ones count as lost.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// The figures of one window.
#[derive(Debug, Clone)]
pub(crate) struct WindowFigures {
    /// Broadcasts a second asked for.
    pub rate: f64,
    /// How long publishing lasted (over HTTP, until the last POST was answered).
    pub seconds: f64,
    /// Subscribers that were expected to receive every broadcast.
    pub subscribers: usize,
    /// Broadcasts published in the window.
    pub sent: u64,
    /// Broadcasts the window was to publish: more than `sent` when the publisher could not keep up.
    pub planned: u64,
    /// Deliveries expected: `sent × subscribers`.
    pub expected: u64,
    /// Deliveries received in time.
    pub received: u64,
    /// `expected − received`.
    pub lost: u64,
    /// Deliveries a second, from the first publish to the last delivery.
    pub deliveries_per_second: f64,
    /// Frames per WebSocket message (above 1 when the server batches).
    pub frames_per_message: f64,
    /// Publish-to-receive latency.
    pub latency: Summary,
    /// Over HTTP, each POST's time from request to complete answer.
    pub post: Option<Summary>,
    /// Subscribers closed by the end of the window (since the scenario started).
    pub closed: usize,
    /// Server CPU time per delivery, in µs (all the watched server processes together).
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Server CPU use over the window, in percent of one core (all the watched server processes together).
    pub server_cpu_percent: Option<f64>,
    /// Each watched server process's CPU use, in percent of one core, when there are several (two relays and
    /// their Redis, say); empty for one.
    pub server_cpu_percent_each: Vec<(String, Option<f64>)>,
    /// The generator's own CPU use, in percent of one core: near 200 % means it, not the server, was the limit.
    pub generator_cpu_percent: Option<f64>,
}

/// Where a window's sequence numbers start, and where the next one's will.
pub(crate) struct Sequence(pub u64);

/// Publishes at `rate` for `duration`, waits up to [`GRACE`] for every subscriber to have everything, and measures;
/// the server CPU figures are those of `servers` together.
pub(crate) async fn measure(
    publisher: &Publisher,
    recorder: &Recorder,
    subscribers: usize,
    sequence: &mut Sequence,
    rate: f64,
    duration: Duration,
    servers: &[Watched],
) -> Result<WindowFigures> {
    recorder.open_window(sequence.0);
    let server_cpu: Vec<CpuWindow> = servers.iter().map(|server| CpuWindow::start(Some(server.pid))).collect();
    let generator_cpu = CpuWindow::start(Some(std::process::id()));
    let published = publisher.publish(sequence.0, rate, duration).await?;
    sequence.0 += published.sent;
    let expected = published.sent * subscribers as u64;
    let deadline = tokio::time::Instant::now() + GRACE;
    while recorder.received() < expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let each_seconds: Vec<Option<f64>> = server_cpu.iter().map(CpuWindow::seconds).collect();
    // None when there is no server to watch, or one of them could not be read: a partial sum would mislead.
    let server_seconds = match each_seconds.is_empty() {
        true => None,
        false => each_seconds.iter().copied().sum::<Option<f64>>(),
    };
    let generator_seconds = generator_cpu.seconds();
    let window = recorder.close_window();
    let wall = window.last_receive_ns.max(published.finished_ns).saturating_sub(published.started_ns) as f64 / 1e9;
    let measured_wall = (crate::stamp::now_ns().saturating_sub(published.started_ns)) as f64 / 1e9;
    Ok(WindowFigures {
        rate,
        seconds: (published.finished_ns - published.started_ns) as f64 / 1e9,
        subscribers,
        sent: published.sent,
        planned: published.planned,
        expected,
        received: window.received,
        lost: expected.saturating_sub(window.received),
        deliveries_per_second: if wall > 0.0 { window.received as f64 / wall } else { 0.0 },
        frames_per_message: if window.messages > 0 { window.received as f64 / window.messages as f64 } else { 0.0 },
        latency: Summary::of(&window.latency),
        post: published.answers,
        closed: recorder.closed(),
        server_cpu_us_per_delivery: server_seconds
            .filter(|_| window.received > 0)
            .map(|seconds| seconds * 1e6 / window.received as f64),
        server_cpu_percent: server_seconds.map(|seconds| seconds * 100.0 / measured_wall),
        server_cpu_percent_each: match servers.len() {
            0 | 1 => Vec::new(),
            _ => servers
                .iter()
                .zip(&each_seconds)
                .map(|(server, seconds)| (server.name.clone(), seconds.map(|seconds| seconds * 100.0 / measured_wall)))
                .collect(),
        },
        generator_cpu_percent: generator_seconds.map(|seconds| seconds * 100.0 / measured_wall),
    })
}

impl WindowFigures {
    /// Every figure, as JSON.
    pub(crate) fn json(&self) -> Value {
        let mut json = json!({
            "rate": self.rate,
            "seconds": round(self.seconds, 3),
            "subscribers": self.subscribers,
            "sent": self.sent,
            "planned": self.planned,
            "expected": self.expected,
            "received": self.received,
            "lost": self.lost,
            "deliveries_per_s": self.deliveries_per_second.round(),
            "frames_per_message": round(self.frames_per_message, 2),
            "latency": self.latency.json(),
            "closed": self.closed,
            "server_cpu_us_per_delivery": self.server_cpu_us_per_delivery.map(|us| round(us, 3)),
            "server_cpu_percent": self.server_cpu_percent.map(|percent| round(percent, 1)),
            "generator_cpu_percent": self.generator_cpu_percent.map(|percent| round(percent, 1)),
        });
        if let Some(post) = &self.post {
            json["post_latency"] = post.json();
        }
        if !self.server_cpu_percent_each.is_empty() {
            let each: serde_json::Map<String, Value> = self
                .server_cpu_percent_each
                .iter()
                .map(|(name, percent)| (name.clone(), json!(percent.map(|percent| round(percent, 1)))))
                .collect();
            json["server_cpu_percent_each"] = Value::Object(each);
        }
        json
    }

    /// One line of the window's main figures.
    pub(crate) fn human(&self) -> String {
        let mut line = format!(
            "{:.0} deliveries/s, latency {}, lost {} of {}, closed {}",
            self.deliveries_per_second,
            self.latency.human(),
            self.lost,
            self.expected,
            self.closed
        );
        if let Some(post) = &self.post {
            let of_planned = if self.sent < self.planned { format!(" of {}", self.planned) } else { String::new() };
            line.push_str(&format!(
                ", POSTs answered in p50 {} p99 {} ({:.2} s for {}{of_planned})",
                format_us(post.p50_us),
                format_us(post.p99_us),
                self.seconds,
                self.sent
            ));
        }
        if let Some(us) = self.server_cpu_us_per_delivery {
            line.push_str(&format!(", server CPU {us:.2} µs/delivery"));
        }
        if let Some(percent) = self.server_cpu_percent {
            line.push_str(&format!(" ({percent:.0} % of a core"));
            let each: Vec<String> = self
                .server_cpu_percent_each
                .iter()
                .map(|(name, percent)| match percent {
                    Some(percent) => format!("{name} {percent:.0} %"),
                    None => format!("{name} ?"),
                })
                .collect();
            if !each.is_empty() {
                line.push_str(&format!(": {}", each.join(", ")));
            }
            line.push(')');
        }
        if let Some(percent) = self.generator_cpu_percent {
            line.push_str(&format!(", generator {percent:.0} %"));
        }
        if self.frames_per_message > 1.05 {
            line.push_str(&format!(", {:.1} frames/message", self.frames_per_message));
        }
        line
    }

    /// Whether the window was clean: everything planned published, nothing lost, nobody closed, p99 under
    /// `p99_limit`.
    pub(crate) fn clean(&self, p99_limit: Duration) -> bool {
        self.sent == self.planned
            && self.lost == 0
            && self.closed == 0
            && u128::from(self.latency.p99_us) < p99_limit.as_micros()
    }

    /// `p99 4.2 ms` and so on, for tables.
    pub(crate) fn p99(&self) -> String {
        format_us(self.latency.p99_us)
    }
}

/// `value` rounded to `digits` decimals, for JSON that reads well.
pub(crate) fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}
