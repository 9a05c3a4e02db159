//! The hooks' metrics, in Prometheus's text format for the relay's `GET /metrics`:
//! `ferrocast_proxy_requests_total{hook,outcome}`, `ferrocast_proxy_request_seconds{hook}` (a histogram of every
//! call that went out) and `ferrocast_proxy_breaker_state{backend}` (0 closed, 1 open, 2 half open).
//! Every update is an atomic add.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which hook a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Who may connect.
    Connect,
    /// Who may join a topic.
    Join,
    /// The answer to a client push.
    Push,
    /// A connection's life extended.
    Refresh,
}

impl Hook {
    const ALL: [Hook; 4] = [Hook::Connect, Hook::Join, Hook::Push, Hook::Refresh];

    /// Its name in bodies, headers and labels.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Connect => "connect",
            Hook::Join => "join",
            Hook::Push => "push",
            Hook::Refresh => "refresh",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A `result`.
    Ok,
    /// An `error` answer: the backend refused.
    Refused,
    /// A `disconnect` answer.
    Disconnect,
    /// No answer within `--proxy-timeout`.
    Timeout,
    /// No connection, or a 5xx.
    Unavailable,
    /// Not sent: the backend's breaker is open.
    BreakerOpen,
    /// Not JSON, the wrong shape, too large, or another HTTP status.
    BadAnswer,
}

impl Outcome {
    const ALL: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::Refused,
        Outcome::Disconnect,
        Outcome::Timeout,
        Outcome::Unavailable,
        Outcome::BreakerOpen,
        Outcome::BadAnswer,
    ];

    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Disconnect => "disconnect",
            Outcome::Timeout => "timeout",
            Outcome::Unavailable => "unavailable",
            Outcome::BreakerOpen => "breaker_open",
            Outcome::BadAnswer => "bad_answer",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A latency histogram.
#[derive(Debug, Default)]
pub(crate) struct Latency {
    /// Observations at or under each bound (not cumulative; summed when rendered), and one past the last.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Latency {
    pub(crate) fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The histogram's lines, `name` with `labels` (`hook="join"`).
    pub(crate) fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (index, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[index].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// Every hook's counters.
#[derive(Debug, Default)]
pub struct HookMetrics {
    requests: [[AtomicU64; Outcome::ALL.len()]; Hook::ALL.len()],
    latency: [Latency; Hook::ALL.len()],
}

impl HookMetrics {
    /// Counts a call of `hook` that ended in `outcome`; `took` is `None` for one that never went out.
    pub fn count(&self, hook: Hook, outcome: Outcome, took: Option<Duration>) {
        self.requests[hook as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(took) = took {
            self.latency[hook as usize].observe(took);
        }
    }

    /// How many calls of `hook` ended in `outcome`.
    pub fn requests(&self, hook: Hook, outcome: Outcome) -> u64 {
        self.requests[hook as usize][outcome as usize].load(Ordering::Relaxed)
    }

    /// Appends the counters and histograms, and `breakers` (each backend URL with its state's gauge value).
    pub fn render(&self, out: &mut String, breakers: &[(String, u8)]) {
        let _ = writeln!(
            out,
            "# HELP ferrocast_proxy_requests_total Calls to the backend hooks, by hook and outcome.\n\
             # TYPE ferrocast_proxy_requests_total counter"
        );
        for hook in Hook::ALL {
            for outcome in Outcome::ALL {
                let value = self.requests(hook, outcome);
                let (hook, outcome) = (hook.name(), outcome.name());
                let _ =
                    writeln!(out, "ferrocast_proxy_requests_total{{hook=\"{hook}\",outcome=\"{outcome}\"}} {value}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP ferrocast_proxy_request_seconds How long the backend took to answer each hook call.\n\
             # TYPE ferrocast_proxy_request_seconds histogram"
        );
        for hook in Hook::ALL {
            let labels = format!("hook=\"{}\"", hook.name());
            self.latency[hook as usize].render(out, "ferrocast_proxy_request_seconds", &labels);
        }
        let _ = writeln!(
            out,
            "# HELP ferrocast_proxy_breaker_state Each backend URL's circuit breaker: 0 closed, 1 open, 2 half open.\n\
             # TYPE ferrocast_proxy_breaker_state gauge"
        );
        for (backend, state) in breakers {
            let backend = backend.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(out, "ferrocast_proxy_breaker_state{{backend=\"{backend}\"}} {state}");
        }
    }
}
