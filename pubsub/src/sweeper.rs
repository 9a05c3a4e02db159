//! Periodic clean-up of shared state (expired history, forgotten receipts) for as long as the state lives.

use std::sync::Arc;
use std::time::Duration;

/// Calls `sweep(target)` every `every` until the last `Arc` to `target` is gone, when called within a tokio
/// runtime; without one it does nothing, and callers expire lazily instead. It holds only a weak reference, so it
/// never keeps the state alive.
pub(crate) fn spawn_sweeper<T: Send + Sync + 'static>(target: &Arc<T>, every: Duration, sweep: fn(&T)) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let target = Arc::downgrade(target);
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(target) = target.upgrade() else { return };
            sweep(&target);
        }
    });
}
