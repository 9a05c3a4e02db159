//! A circuit breaker per backend URL: while a backend fails, its calls fail at once with `backend_unavailable`
//! instead of each waiting for the time limit and piling up.
//!
//! - **Closed**: calls go through; their outcomes are counted in one-second buckets over the last
//!   [`BreakerSettings::window`]. It opens when at least [`BreakerSettings::min_calls`] calls in the window failed at
//!   a rate of [`BreakerSettings::error_rate`] or more.
//! - **Open** for [`BreakerSettings::open_for`]: no call goes through.
//! - **Half open**: [`BreakerSettings::trial_calls`] calls go through, the rest fail at once. When they are all
//!   back, it closes if [`BreakerSettings::close_rate`] of them succeeded, and opens again otherwise.
//!
//! Time is passed in, so the whole cycle is tested without waiting.

use std::time::{Duration, Instant};

/// When a breaker opens and closes. The defaults are the seed figures: open at 5 % errors over 10 s with at least
/// 20 calls, stay open 30 s, then let 5 calls through and close when 80 % of them succeed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSettings {
    /// How far back the error rate looks.
    pub window: Duration,
    /// Calls the window must hold before it may open.
    pub min_calls: u32,
    /// The error rate, 0 to 1, that opens it.
    pub error_rate: f64,
    /// How long it stays open.
    pub open_for: Duration,
    /// Calls let through when half open.
    pub trial_calls: u32,
    /// The success rate of the trial calls, 0 to 1, that closes it.
    pub close_rate: f64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            window: Duration::from_secs(10),
            min_calls: 20,
            error_rate: 0.05,
            open_for: Duration::from_secs(30),
            trial_calls: 5,
            close_rate: 0.8,
        }
    }
}

/// A breaker's state, as the metrics show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls go through.
    Closed,
    /// Calls fail at once.
    Open,
    /// A few trial calls go through.
    HalfOpen,
}

impl State {
    /// The gauge value: 0 closed, 1 open, 2 half open.
    pub fn gauge(self) -> u8 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        }
    }
}

/// Calls and failures in one second of the window.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    second: u64,
    calls: u32,
    failures: u32,
}

#[derive(Debug)]
enum Phase {
    Closed { buckets: Vec<Bucket> },
    Open { until: Instant },
    HalfOpen { let_through: u32, succeeded: u32, failed: u32 },
}

/// One backend's breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    settings: BreakerSettings,
    /// The instant seconds are counted from.
    epoch: Instant,
    phase: Phase,
}

/// A call the breaker let through: report its outcome with [`Breaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Permit {
    trial: bool,
}

impl Breaker {
    /// A closed breaker.
    pub(crate) fn new(settings: BreakerSettings, now: Instant) -> Self {
        Breaker { settings, epoch: now, phase: Phase::Closed { buckets: Vec::new() } }
    }

    /// The state at `now`.
    pub(crate) fn state(&mut self, now: Instant) -> State {
        self.reopen_if_due(now);
        match self.phase {
            Phase::Closed { .. } => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
        }
    }

    /// Whether a call may go out at `now`.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<Permit> {
        self.reopen_if_due(now);
        match &mut self.phase {
            Phase::Closed { .. } => Some(Permit { trial: false }),
            Phase::Open { .. } => None,
            Phase::HalfOpen { let_through, .. } => {
                if *let_through == 0 {
                    return None;
                }
                *let_through -= 1;
                Some(Permit { trial: true })
            }
        }
    }

    /// Counts a call's outcome. A call admitted before the breaker opened counts in no window.
    pub(crate) fn record(&mut self, permit: Permit, succeeded: bool, now: Instant) {
        let settings = self.settings;
        let second = now.saturating_duration_since(self.epoch).as_secs();
        match &mut self.phase {
            Phase::Closed { buckets } if !permit.trial => {
                let window = settings.window.as_secs().max(1);
                buckets.retain(|bucket| bucket.second + window > second);
                if buckets.last().is_none_or(|bucket| bucket.second != second) {
                    buckets.push(Bucket { second, ..Bucket::default() });
                }
                if let Some(bucket) = buckets.last_mut() {
                    bucket.calls += 1;
                    bucket.failures += u32::from(!succeeded);
                }
                let calls: u32 = buckets.iter().map(|bucket| bucket.calls).sum();
                let failures: u32 = buckets.iter().map(|bucket| bucket.failures).sum();
                if calls >= settings.min_calls && f64::from(failures) >= settings.error_rate * f64::from(calls) {
                    self.phase = Phase::Open { until: now + settings.open_for };
                }
            }
            Phase::HalfOpen { let_through, succeeded: ok, failed } if permit.trial => {
                if succeeded {
                    *ok += 1;
                } else {
                    *failed += 1;
                }
                let answered = *ok + *failed;
                if *let_through == 0 && answered >= settings.trial_calls {
                    self.phase = if f64::from(*ok) >= settings.close_rate * f64::from(answered) {
                        Phase::Closed { buckets: Vec::new() }
                    } else {
                        Phase::Open { until: now + settings.open_for }
                    };
                }
            }
            _ => {}
        }
    }

    fn reopen_if_due(&mut self, now: Instant) {
        if let Phase::Open { until } = self.phase
            && now >= until
        {
            self.phase = Phase::HalfOpen { let_through: self.settings.trial_calls, succeeded: 0, failed: 0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(breaker: &mut Breaker, now: Instant, count: u32, succeed: bool) {
        for _ in 0..count {
            let permit = breaker.admit(now).expect("closed");
            breaker.record(permit, succeed, now);
        }
    }

    #[test]
    fn it_opens_at_the_error_rate_only_with_enough_calls() {
        let start = Instant::now();
        let mut breaker = Breaker::new(BreakerSettings::default(), start);
        // 19 failures are under the 20 calls a window needs.
        calls(&mut breaker, start, 19, false);
        assert_eq!(breaker.state(start), State::Closed);
        calls(&mut breaker, start, 1, false);
        assert_eq!(breaker.state(start), State::Open);
        assert_eq!(breaker.admit(start), None);
    }

    #[test]
    fn a_low_error_rate_keeps_it_closed_and_old_calls_leave_the_window() {
        let start = Instant::now();
        let mut breaker = Breaker::new(BreakerSettings::default(), start);
        // 1 failure in 100 is 1 %, under 5 %.
        calls(&mut breaker, start, 99, true);
        calls(&mut breaker, start, 1, false);
        assert_eq!(breaker.state(start), State::Closed);
        // 11 s later those calls are out of the window: 19 failures alone are too few calls to open it, the 20th opens.
        let later = start + Duration::from_secs(11);
        calls(&mut breaker, later, 19, false);
        assert_eq!(breaker.state(later), State::Closed);
        calls(&mut breaker, later, 1, false);
        assert_eq!(breaker.state(later), State::Open);
    }

    #[test]
    fn after_its_open_time_trial_calls_close_or_reopen_it() {
        let start = Instant::now();
        let settings = BreakerSettings::default();
        let mut breaker = Breaker::new(settings, start);
        calls(&mut breaker, start, 20, false);
        let half = start + settings.open_for;
        assert_eq!(breaker.state(half), State::HalfOpen);
        // Five trials go through, the sixth fails at once; one failure in five is 80 % success: closed.
        let permits: Vec<Permit> = (0..5).map(|_| breaker.admit(half).expect("a trial")).collect();
        assert_eq!(breaker.admit(half), None);
        for (index, permit) in permits.into_iter().enumerate() {
            breaker.record(permit, index != 0, half);
        }
        assert_eq!(breaker.state(half), State::Closed);

        // Open again, and two failed trials of five reopen it.
        calls(&mut breaker, half, 20, false);
        let half = half + settings.open_for;
        let permits: Vec<Permit> = (0..5).map(|_| breaker.admit(half).expect("a trial")).collect();
        for (index, permit) in permits.into_iter().enumerate() {
            breaker.record(permit, index >= 2, half);
        }
        assert_eq!(breaker.state(half), State::Open);
    }

    #[test]
    fn a_call_from_before_it_opened_changes_nothing() {
        let start = Instant::now();
        let mut breaker = Breaker::new(BreakerSettings::default(), start);
        let early = breaker.admit(start).expect("closed");
        calls(&mut breaker, start, 20, false);
        breaker.record(early, true, start);
        assert_eq!(breaker.state(start), State::Open);
    }
}
