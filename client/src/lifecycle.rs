//! Page events: check the connection when the page comes back, and close it while the page is hidden in the
//! back/forward cache.
//!
//! - `visibilitychange` to visible and `online`: probe at once. A connection that died while the tab slept is found
//!   within the probe timeout instead of the heartbeat interval, and a socket waiting out its backoff reconnects
//!   now.
//! - `pagehide`: close cleanly (1000), so the server drops the channels and presences now rather than at a
//!   timeout, and the page stays eligible for the back/forward cache; `pageshow` reconnects and rejoins.
//!
//! Listeners are added on the first `connect()`, only where the host has a `document` (not in Node or a worker).

use crate::driver::Shared;
use crate::values::get;
use ferrocast_protocol::client::CLOSE_NORMAL;
use std::rc::Weak;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

/// One listener: where, for which event, and the closure JavaScript calls.
type Listener = (EventTarget, &'static str, Closure<dyn FnMut(JsValue)>);

/// The listeners of one socket, removed when it is dropped.
pub(crate) struct Lifecycle {
    listeners: Vec<Listener>,
}

impl Lifecycle {
    /// Listens to the page's events, if there is a page.
    pub(crate) fn listen(shared: &Weak<Shared>) -> Option<Lifecycle> {
        let global = js_sys::global();
        let document = get(&global, "document");
        if !document.is_object() || !get(&global, "addEventListener").is_function() {
            return None;
        }
        let window: EventTarget = global.unchecked_into();
        let document: EventTarget = document.unchecked_into();
        let mut lifecycle = Lifecycle { listeners: Vec::new() };
        lifecycle.add(&document, "visibilitychange", shared, |shared| {
            let visible = get(&get(&js_sys::global(), "document"), "visibilityState").as_string();
            if visible.as_deref() == Some("visible") {
                shared.drive(|state, now| state.machine.probe(now));
            }
        });
        lifecycle.add(&window, "online", shared, |shared| shared.drive(|state, now| state.machine.probe(now)));
        lifecycle.add(&window, "pagehide", shared, |shared| {
            shared.drive(|state, now| {
                if state.wanted {
                    state.suspended = true;
                    state.machine.disconnect(now, CLOSE_NORMAL, "page hidden");
                }
            });
        });
        lifecycle.add(&window, "pageshow", shared, |shared| {
            shared.drive(|state, _| {
                if std::mem::take(&mut state.suspended) && state.wanted {
                    state.machine.connect();
                }
            });
        });
        Some(lifecycle)
    }

    fn add(&mut self, target: &EventTarget, event: &'static str, shared: &Weak<Shared>, act: fn(&std::rc::Rc<Shared>)) {
        let shared = shared.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            if let Some(shared) = shared.upgrade() {
                act(&shared);
            }
        });
        let _ = target.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        self.listeners.push((target.clone(), event, listener));
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        for (target, event, listener) in &self.listeners {
            let _ = target.remove_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        }
    }
}
