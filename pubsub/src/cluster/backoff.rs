//! How long to wait before reconnecting to Redis: exponential with full jitter, so relays that lost Redis at the
//! same moment do not all come back in the same instant.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

const FIRST: Duration = Duration::from_millis(100);
const MOST: Duration = Duration::from_secs(2);

/// The wait before attempt `attempt` (0 for the first retry): a random time up to 100 ms × 2^attempt, at most 2 s.
pub(crate) fn delay(attempt: u32) -> Duration {
    let ceiling = FIRST.saturating_mul(1 << attempt.min(16)).min(MOST);
    // The standard library seeds every `RandomState` from the operating system's randomness.
    let random = RandomState::new().hash_one(attempt) as f64 / u64::MAX as f64;
    ceiling.mul_f64(random.max(0.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_stays_under_its_ceiling() {
        for attempt in 0..40 {
            let ceiling = FIRST.saturating_mul(1 << attempt.min(16)).min(MOST);
            let wait = delay(attempt);
            assert!(wait <= ceiling && wait >= ceiling / 10, "attempt {attempt}: {wait:?}");
        }
        let waits: std::collections::HashSet<_> = (0..20).map(|_| delay(10)).collect();
        assert!(waits.len() > 10, "jittered");
    }
}
