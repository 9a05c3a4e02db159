//! Latency histograms (HDR, microseconds) and their summary figures.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// The longest latency a histogram holds exactly; longer ones are counted at this value.
const MAX_US: u64 = 60_000_000;

/// An empty histogram of 1 µs to 60 s at three significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

/// Records a latency given in nanoseconds (at least 1 µs: the histogram's floor).
pub(crate) fn record_ns(histogram: &mut Histogram<u64>, nanoseconds: u64) {
    histogram.saturating_record((nanoseconds / 1000).max(1));
}

/// The percentiles a report shows, in microseconds, each named by its quantile (`p999` is the 99.9th), with the
/// largest and the mean.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Summary {
    /// Latencies recorded; when 0, every other figure is 0 too.
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

impl Summary {
    /// The summary of `histogram`.
    pub(crate) fn of(histogram: &Histogram<u64>) -> Summary {
        if histogram.is_empty() {
            return Summary::default();
        }
        Summary {
            count: histogram.len(),
            p50_us: histogram.value_at_quantile(0.50),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
            mean_us: histogram.mean(),
        }
    }

    /// The figures as a JSON object.
    pub(crate) fn json(&self) -> Value {
        json!({
            "count": self.count,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "p999_us": self.p999_us,
            "max_us": self.max_us,
            "mean_us": (self.mean_us * 10.0).round() / 10.0,
        })
    }

    /// `p50 … p99 … p999 … max …`, in readable units.
    pub(crate) fn human(&self) -> String {
        format!(
            "p50 {} p99 {} p999 {} max {}",
            format_us(self.p50_us),
            format_us(self.p99_us),
            format_us(self.p999_us),
            format_us(self.max_us)
        )
    }
}

/// A duration in microseconds as µs, ms or s, whichever reads best.
pub(crate) fn format_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_in_microseconds() {
        let mut histogram = histogram();
        for us in 1..=1000u64 {
            record_ns(&mut histogram, us * 1000);
        }
        record_ns(&mut histogram, 10);
        let summary = Summary::of(&histogram);
        assert_eq!(summary.count, 1001);
        assert_eq!(summary.p50_us, 500);
        assert_eq!(summary.max_us, 1000);
        assert_eq!(Summary::of(&super::histogram()), Summary::default());
        assert_eq!(format_us(999), "999 µs");
        assert_eq!(format_us(1500), "1.5 ms");
        assert_eq!(format_us(2_500_000), "2.50 s");
    }
}
