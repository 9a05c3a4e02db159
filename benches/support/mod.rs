//! What the criterion benches share: their settings, short enough that `cargo xtask bench` runs all three in about
//! two minutes on two cores, and still overridable from the command line (`-- --measurement-time 5`).

use criterion::Criterion;
use std::time::Duration;

/// Criterion with the benches' settings, then the command line's.
pub(crate) fn criterion() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .configure_from_args()
}
