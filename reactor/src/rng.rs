//! A small seeded random number generator for retry jitter.
//!
//! Jitter needs a spread, not cryptographic quality, and a seed the caller chooses makes a test's retry delays
//! reproducible. SplitMix64 fits in a few lines, so it is written here rather than taken from a crate.

/// SplitMix64 (Steele, Lea and Flood, 2014).
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..=max`. The modulo's bias is below 2⁻⁴⁰ for any delay a retry could have, far below what
    /// jitter cares about.
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(span) => self.next_u64() % span,
            None => self.next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let mut first = Rng::new(7);
        let mut second = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(first.next_u64(), second.next_u64());
        }
    }

    #[test]
    fn up_to_stays_within_its_bound_and_reaches_both_ends() {
        let mut rng = Rng::new(1);
        let draws: Vec<u64> = (0..1_000).map(|_| rng.up_to(3)).collect();
        assert!(draws.iter().all(|&draw| draw <= 3));
        assert!(draws.contains(&0) && draws.contains(&3));
        assert_eq!(rng.up_to(0), 0);
    }
}
