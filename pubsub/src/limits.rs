//! What one connection may ask of the relay: how many channels it may join, and how many frames a second it may
//! send before its pushes are refused with `rate_limited` and, if it keeps on, it is closed.
//!
//! The rate is a token bucket per connection, which also tells a client that backs off when refused from one that
//! keeps sending. Time is passed in, so the limits are tested without waiting.

use std::time::{Duration, Instant};

/// The limits every session of a backend applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Channels one connection may have joined at once; a join past it gets `too many channels`. Default 100.
    pub max_channels: usize,
    /// Frames a second a connection may send on average. Default 1,000.
    pub frames_per_second: u32,
    /// Frames a connection may send at once above the average. Default 2,000: our client's offline queue (up to
    /// 1,000 pushes) goes out at once after a reconnect, with its rejoins, and must not be refused for it.
    pub burst: u32,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits { max_channels: 100, frames_per_second: 1_000, burst: 2_000 }
    }
}

/// How long refusals are counted before the count starts again.
const ABUSE_WINDOW: Duration = Duration::from_secs(10);

/// What the rate limiter says of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the rate.
    Allowed,
    /// Over the rate: refuse this frame.
    Refused,
    /// Refused more than a burst's worth of frames within ten seconds: close the connection.
    Abusive,
}

/// A token bucket of `burst` frames refilled at `frames_per_second`, and a count of the frames it refused lately.
/// A client that backs off when refused keeps its connection; one that keeps sending at any rate above the limit
/// is refused a burst's worth within the window and closed.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
    refused: u32,
    window_start: Instant,
}

impl RateLimiter {
    /// A full bucket, as of `now`.
    pub(crate) fn new(limits: &SessionLimits, now: Instant) -> Self {
        let burst = f64::from(limits.burst.max(1));
        RateLimiter {
            rate: f64::from(limits.frames_per_second.max(1)),
            burst,
            tokens: burst,
            refilled_at: now,
            refused: 0,
            window_start: now,
        }
    }

    /// Takes one frame's token at `now`.
    pub(crate) fn take(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allowed;
        }
        if now.saturating_duration_since(self.window_start) > ABUSE_WINDOW {
            self.window_start = now;
            self.refused = 0;
        }
        self.refused += 1;
        if f64::from(self.refused) > self.burst { Verdict::Abusive } else { Verdict::Refused }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(frames_per_second: u32, burst: u32, now: Instant) -> RateLimiter {
        RateLimiter::new(&SessionLimits { max_channels: 1, frames_per_second, burst }, now)
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let start = Instant::now();
        let mut limiter = limiter(10, 5, start);
        assert!((0..5).all(|_| limiter.take(start) == Verdict::Allowed));
        assert_eq!(limiter.take(start), Verdict::Refused);
        // 100 ms later one frame's token is back, and only one.
        let later = start + Duration::from_millis(100);
        assert_eq!(limiter.take(later), Verdict::Allowed);
        assert_eq!(limiter.take(later), Verdict::Refused);
        // A quiet second refills the bucket, never past the burst.
        let much_later = later + Duration::from_secs(10);
        assert_eq!((0..6).filter(|_| limiter.take(much_later) == Verdict::Allowed).count(), 5);
    }

    #[test]
    fn refused_more_than_a_burst_within_the_window_is_abuse() {
        let start = Instant::now();
        let mut limiter = limiter(10, 3, start);
        let verdicts: Vec<_> = (0..7).map(|_| limiter.take(start)).collect();
        assert_eq!(verdicts[..3], [Verdict::Allowed; 3]);
        assert_eq!(verdicts[3..6], [Verdict::Refused; 3]);
        assert_eq!(verdicts[6], Verdict::Abusive);
    }

    #[test]
    fn refusals_spread_over_windows_are_not_abuse() {
        let start = Instant::now();
        let mut limiter = limiter(1, 2, start);
        let mut now = start;
        for _ in 0..20 {
            // Three frames every eleven seconds: one over the burst each time, forgiven by the next window.
            let verdicts: Vec<_> = (0..3).map(|_| limiter.take(now)).collect();
            assert!(!verdicts.contains(&Verdict::Abusive), "{verdicts:?}");
            now += Duration::from_secs(11);
        }
    }
}
