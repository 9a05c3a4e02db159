//! A small seeded random number generator, for jitter: the client's reconnect backoff and the reactor's retries.
//!
//! Jitter needs no cryptographic quality, only a spread; and a seed the caller chooses makes a test's delays
//! reproducible. SplitMix64 is a handful of lines and passes BigCrush, so it earns its place over a crate.

/// SplitMix64 (Steele, Lea and Flood, 2014).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose numbers are fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float uniformly distributed in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        // The top 53 bits fill an f64's mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `0..=max`. The modulo's bias is below 2⁻⁴⁰ for any delay a retry could have, far below what
    /// jitter cares about.
    pub fn up_to(&mut self, max: u64) -> u64 {
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
        let (mut first, mut second) = (Rng::new(7), Rng::new(7));
        assert!((0..100).all(|_| first.next_u64() == second.next_u64()));
    }

    #[test]
    fn up_to_stays_within_its_bound_and_reaches_both_ends() {
        let mut rng = Rng::new(1);
        let draws: Vec<u64> = (0..1_000).map(|_| rng.up_to(3)).collect();
        assert!(draws.iter().all(|&draw| draw <= 3));
        assert!(draws.contains(&0) && draws.contains(&3));
        assert_eq!(rng.up_to(0), 0);
    }

    #[test]
    fn units_stay_below_one() {
        let mut rng = Rng::new(3);
        assert!((0..1_000).map(|_| rng.next_unit()).all(|unit| (0.0..1.0).contains(&unit)));
    }
}
