//! What `event_stream.rs` (built for headless Chromium) is given: where `cargo xtask test` put the relay and the
//! cutting proxy, and small helpers over JavaScript's globals. The JavaScript browser suite (`client/tests/browser/`)
//! has its own, in `page/support/`.

use js_sys::{ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// An address `cargo xtask test` passed in at build time.
fn configured(value: Option<&'static str>, name: &str) -> &'static str {
    value.unwrap_or_else(|| panic!("{name} is not set: run these tests through `cargo xtask test`"))
}

/// The relay's WebSocket endpoint, directly.
pub fn relay() -> &'static str {
    configured(option_env!("FERROCAST_TEST_RELAY"), "FERROCAST_TEST_RELAY")
}

/// The relay's WebSocket endpoint through the cutting proxy.
pub fn proxied() -> &'static str {
    configured(option_env!("FERROCAST_TEST_PROXY"), "FERROCAST_TEST_PROXY")
}

/// The proxy's control endpoint.
pub fn control() -> &'static str {
    configured(option_env!("FERROCAST_TEST_CONTROL"), "FERROCAST_TEST_CONTROL")
}

pub fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).expect("test JSON")
}

pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let set_timeout: Function = Reflect::get(&js_sys::global(), &"setTimeout".into()).unwrap().unchecked_into();
        set_timeout.call2(&JsValue::NULL, &resolve, &ms.into()).unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Tells the proxy to do something (`cut`, `refuse?ms=…`, `stats`, `relay/PATH`) and returns its JSON answer.
pub async fn proxy(command: &str) -> JsValue {
    proxy_with_body(command, "").await
}

/// As [`proxy`], sending `body`: `relay/PATH` then posts it to the relay (`relay/api/broadcast` publishes).
pub async fn proxy_with_body(command: &str, body: &str) -> JsValue {
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().unchecked_into();
    let init = Object::new();
    Reflect::set(&init, &"method".into(), &"POST".into()).unwrap();
    if !body.is_empty() {
        Reflect::set(&init, &"body".into(), &body.into()).unwrap();
    }
    let url = format!("{}/{command}", control());
    let response = fetch.call2(&JsValue::NULL, &url.into(), &init).unwrap().unchecked_into::<Promise>();
    let response = JsFuture::from(response).await.expect("the proxy answers");
    let body = Reflect::get(&response, &"json".into()).unwrap().unchecked_into::<Function>().call0(&response);
    JsFuture::from(body.unwrap().unchecked_into::<Promise>()).await.unwrap()
}

/// A log of what callbacks saw, as text, shared with the callbacks.
#[derive(Clone, Default)]
pub struct Seen(Rc<RefCell<Vec<String>>>);

impl Seen {
    /// A callback that records `label` and its arguments as JSON (`label data {"event", "topic", "lastEventId"}`
    /// for an `EventStream` event).
    pub fn recorder(&self, label: &str) -> Function {
        let (seen, label) = (self.clone(), label.to_owned());
        let closure = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |a: JsValue, b: JsValue| {
            let mut text = label.clone();
            for value in [a, b].iter().filter(|value| !value.is_undefined()) {
                text.push(' ');
                text.push_str(&describe(value));
            }
            seen.0.borrow_mut().push(text);
        });
        closure.into_js_value().unchecked_into()
    }

    pub fn all(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    /// How many entries are under `label`.
    pub fn count(&self, label: &str) -> usize {
        self.all().iter().filter(|entry| *entry == label || entry.starts_with(&format!("{label} "))).count()
    }

    /// The entries under `label`, without the label.
    pub fn labelled(&self, label: &str) -> Vec<String> {
        let prefix = format!("{label} ");
        self.all().iter().filter_map(|entry| entry.strip_prefix(&prefix).map(str::to_owned)).collect()
    }

    /// The data of the events recorded under `label` (an event's data is JSON with no space in it).
    pub fn data(&self, label: &str) -> Vec<String> {
        self.labelled(label).iter().map(|entry| entry.split(' ').next().unwrap_or_default().to_owned()).collect()
    }

    /// Waits until at least `n` entries are under `label`.
    pub async fn wait_count(&self, label: &str, n: usize) {
        let this = self.clone();
        until(&format!("{n} × {label:?} in {:?}", self.all()), || this.count(label) >= n).await;
    }
}

/// JSON for plain values, `bytes:…` for an ArrayBuffer.
pub fn describe(value: &JsValue) -> String {
    if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        return format!("bytes:{:?}", Uint8Array::new(buffer).to_vec());
    }
    js_sys::JSON::stringify(value).ok().and_then(|text| text.as_string()).unwrap_or_else(|| "?".into())
}

/// Polls `condition` every 10 ms for up to 15 s: an `EventStream` reconnect waits up to the relay's `retry` (2 to
/// 3 s), maybe twice.
pub async fn until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..1500 {
        if condition() {
            return;
        }
        sleep(10).await;
    }
    panic!("timed out waiting for {what}");
}
