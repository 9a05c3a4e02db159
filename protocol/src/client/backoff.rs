//! Delays between reconnect and rejoin attempts.

use crate::rng::Rng;
use std::fmt;

/// How long to wait before attempt number `tries` (counting from 1).
pub enum Backoff {
    /// Exponential backoff with jitter: attempt `n` waits `d · (1 − jitter · r)`, where
    /// `d = min(max_ms, base_ms · 2ⁿ⁻¹)` and `r` is uniform in `[0, 1)`. With `jitter = 1.0` ("full jitter"), a
    /// crowd of clients that lost the same server spreads its reconnects over the whole window instead of
    /// arriving together.
    Jittered {
        /// The first attempt's upper bound.
        base_ms: u64,
        /// The cap on the upper bound.
        max_ms: u64,
        /// How much of the delay is random, from 0.0 (none) to 1.0 (all).
        jitter: f64,
    },
    /// A fixed table, then a constant: phoenix.js's style.
    Schedule {
        /// The delays of the first attempts.
        steps: Vec<u64>,
        /// The delay of every later attempt.
        then_ms: u64,
    },
    /// The application's own function of the attempt number (phoenix.js's `reconnectAfterMs`). It is called
    /// while the machine is being driven, so it must not call back into the socket.
    Custom(Box<dyn Fn(u32) -> u64>),
}

impl Backoff {
    /// Ferrocast's default for reconnects: full jitter from 500 ms, doubling, capped at 10 s.
    pub fn default_reconnect() -> Self {
        Backoff::Jittered { base_ms: 500, max_ms: 10_000, jitter: 1.0 }
    }

    /// phoenix.js's `reconnectAfterMs`: 10, 50, 100, 150, 200, 250, 500, 1000, 2000, then 5000 ms.
    pub fn phoenix_reconnect() -> Self {
        Backoff::Schedule { steps: vec![10, 50, 100, 150, 200, 250, 500, 1_000, 2_000], then_ms: 5_000 }
    }

    /// phoenix.js's `rejoinAfterMs`: 1000, 2000, 5000, then 10000 ms.
    pub fn phoenix_rejoin() -> Self {
        Backoff::Schedule { steps: vec![1_000, 2_000, 5_000], then_ms: 10_000 }
    }

    /// The delay before attempt `tries` (1 for the first).
    pub(crate) fn delay_ms(&self, tries: u32, rng: &mut Rng) -> u64 {
        self.delay_with(tries, rng.next_unit())
    }

    /// The delay before attempt `tries` (1 for the first), `random` (uniform in `[0, 1)`) drawing the jitter: for
    /// a rule that adjusts the backoff before drawing, as [`EventStreamReconnect`](super::EventStreamReconnect)
    /// does with the server's `retry`.
    pub(crate) fn delay_with(&self, tries: u32, random: f64) -> u64 {
        match self {
            Backoff::Jittered { base_ms, max_ms, jitter } => {
                let doublings = tries.saturating_sub(1).min(63);
                // `base_ms · 2ⁿ⁻¹`, saturating: a shift that would push out a set bit saturates (`saturating_mul`
                // brings a 128-bit multiplication into the browser's wasm).
                let ceiling = if doublings <= base_ms.leading_zeros() { base_ms << doublings } else { u64::MAX };
                let ceiling = ceiling.min(*max_ms);
                let jitter = jitter.clamp(0.0, 1.0);
                let factor = 1.0 - jitter * random;
                (ceiling as f64 * factor).round() as u64
            }
            Backoff::Schedule { steps, then_ms } => {
                let index = tries.saturating_sub(1) as usize;
                steps.get(index).copied().unwrap_or(*then_ms)
            }
            Backoff::Custom(delay) => delay(tries),
        }
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backoff::Jittered { base_ms, max_ms, jitter } => f
                .debug_struct("Jittered")
                .field("base_ms", base_ms)
                .field("max_ms", max_ms)
                .field("jitter", jitter)
                .finish(),
            Backoff::Schedule { steps, then_ms } => {
                f.debug_struct("Schedule").field("steps", steps).field("then_ms", then_ms).finish()
            }
            Backoff::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;

    #[test]
    fn jittered_doubles_from_base_up_to_max_and_saturates_instead_of_overflowing() {
        let steady = |base_ms, max_ms| Backoff::Jittered { base_ms, max_ms, jitter: 0.0 };
        let delays: Vec<u64> = (1..=6).map(|tries| steady(500, 10_000).delay_with(tries, 0.5)).collect();
        assert_eq!(delays, [500, 1_000, 2_000, 4_000, 8_000, 10_000]);
        assert_eq!(steady(500, 10_000).delay_with(u32::MAX, 0.5), 10_000, "a huge attempt number is the cap");
        let half = 1 << 63;
        assert_eq!(steady(half, u64::MAX).delay_with(1, 0.0), half);
        assert_eq!(steady(half, u64::MAX).delay_with(2, 0.0), u64::MAX, "past u64::MAX it saturates");
        assert_eq!(steady(3, u64::MAX).delay_with(64, 0.0), u64::MAX);
        assert_eq!(steady(0, 10_000).delay_with(40, 0.0), 0);
        let full = Backoff::Jittered { base_ms: 1_000, max_ms: 10_000, jitter: 1.0 };
        assert_eq!((full.delay_with(2, 0.0), full.delay_with(2, 0.75)), (2_000, 500), "full jitter spreads the wait");
    }
}
