//! The small object helpers the Rust classes share.

#[cfg(feature = "presence")]
use js_sys::{Object, Reflect};
#[cfg(feature = "presence")]
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// `object[key]`, or `undefined`.
#[cfg(feature = "presence")]
pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[key] = value` on an object this crate made.
#[cfg(feature = "presence")]
pub(crate) fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// `Object.keys(object)` as strings.
#[cfg(feature = "presence")]
pub(crate) fn keys(object: &JsValue) -> Vec<String> {
    match object.dyn_ref::<Object>() {
        Some(object) => Object::keys(object).iter().filter_map(|key| key.as_string()).collect(),
        None => Vec::new(),
    }
}

/// A string, `null` for `None`.
#[cfg(feature = "streams")]
pub(crate) fn opt_str(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// Calls a JavaScript callback; an exception it throws is reported on the console and does not stop the socket.
#[cfg(feature = "presence")]
pub(crate) fn call(callback: &js_sys::Function, args: &[JsValue]) {
    let result = match args {
        [] => callback.call0(&JsValue::NULL),
        [a] => callback.call1(&JsValue::NULL, a),
        [a, b] => callback.call2(&JsValue::NULL, a, b),
        [a, b, c] => callback.call3(&JsValue::NULL, a, b, c),
        _ => callback.apply(&JsValue::NULL, &args.iter().collect::<js_sys::Array>()),
    };
    if let Err(error) = result {
        console_error("ferrocast: a callback threw", &error);
    }
}

#[cfg(feature = "presence")]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str, error: &JsValue);
}
