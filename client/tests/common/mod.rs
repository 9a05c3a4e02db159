//! What the headless-Chromium test files share: where `cargo xtask test` put the relay and the cutting proxy, and
//! small helpers over JavaScript's globals.

#![allow(dead_code)]

use js_sys::{Function, Promise, Reflect};
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
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().unchecked_into();
    let init = json(r#"{"method":"POST"}"#);
    let url = format!("{}/{command}", control());
    let response = fetch.call2(&JsValue::NULL, &url.into(), &init).unwrap().unchecked_into::<Promise>();
    let response = JsFuture::from(response).await.expect("the proxy answers");
    let body = Reflect::get(&response, &"json".into()).unwrap().unchecked_into::<Function>().call0(&response);
    JsFuture::from(body.unwrap().unchecked_into::<Promise>()).await.unwrap()
}
