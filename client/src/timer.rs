//! The clock and the one timer a socket uses, through the globals every JavaScript host has.
//!
//! `setTimeout`, `clearTimeout` and `performance.now` are looked up when first called, not when the module loads,
//! so importing the module during server-side rendering touches none of them.

use js_sys::Function;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// Milliseconds on a monotonic clock: the machine's notion of now.
pub(crate) fn now_ms() -> u64 {
    performance_now() as u64
}

/// One pending `setTimeout`, re-armed whenever the machine's next deadline changes.
#[derive(Default)]
pub(crate) struct Timer {
    armed: Option<(u64, JsValue)>,
}

impl Timer {
    /// Makes `handler` run at `at` (machine time), or never when `at` is `None`; a timer already set for the same
    /// time is kept.
    pub(crate) fn arm(&mut self, at: Option<u64>, handler: &Function) {
        if self.armed.as_ref().map(|(armed_at, _)| *armed_at) == at {
            return;
        }
        self.cancel();
        if let Some(at) = at {
            let delay = at.saturating_sub(now_ms());
            self.armed = Some((at, set_timeout(handler, delay as f64)));
        }
    }

    /// Forgets the armed time once the timer has fired, so the next `arm` sets it again.
    pub(crate) fn fired(&mut self) {
        self.armed = None;
    }

    /// Cancels the pending timer, if any.
    pub(crate) fn cancel(&mut self) {
        if let Some((_, handle)) = self.armed.take() {
            clear_timeout(&handle);
        }
    }
}
