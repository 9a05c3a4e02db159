//! The delay before a step is tried again: exponential backoff with full jitter.
//!
//! Full jitter draws the whole delay at random below an exponentially growing ceiling. When many runs fail
//! against the same dependency at once, their retries spread over the window instead of arriving together.

use ferrocast_protocol::rng::Rng;

/// Full-jitter exponential backoff: retry `k` (1 for the first retry) waits a whole number of milliseconds drawn
/// uniformly from `0..=min(cap_ms, base_ms · 2^(k−1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's delay.
    pub base_ms: u64,
    /// The largest ceiling, however many retries came before.
    pub cap_ms: u64,
}

impl Backoff {
    /// The default: ceilings of 100 ms, 200 ms, 400 ms… capped at 30 s.
    pub const DEFAULT: Backoff = Backoff { base_ms: 100, cap_ms: 30_000 };

    /// The largest delay retry `retry` (1 for the first) can have.
    pub fn ceiling_ms(&self, retry: u32) -> u64 {
        let doublings = retry.saturating_sub(1).min(63);
        self.base_ms.saturating_mul(1u64 << doublings).min(self.cap_ms)
    }

    /// The delay before retry `retry` (1 for the first), drawn from `rng`.
    pub(crate) fn delay_ms(&self, retry: u32, rng: &mut Rng) -> u64 {
        rng.up_to(self.ceiling_ms(retry))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use ferrocast_protocol::rng::Rng;

    #[test]
    fn ceilings_double_from_the_base_up_to_the_cap() {
        let backoff = Backoff { base_ms: 100, cap_ms: 1_000 };
        let ceilings: Vec<u64> = (1..=6).map(|retry| backoff.ceiling_ms(retry)).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(backoff.ceiling_ms(u32::MAX), 1_000, "no overflow however many retries");
    }

    #[test]
    fn delays_stay_under_their_ceiling() {
        let backoff = Backoff { base_ms: 50, cap_ms: 400 };
        let mut rng = Rng::new(42);
        for retry in 1..20 {
            for _ in 0..50 {
                assert!(backoff.delay_ms(retry, &mut rng) <= backoff.ceiling_ms(retry));
            }
        }
    }
}
