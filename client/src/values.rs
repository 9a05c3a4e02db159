//! Conversions between JavaScript values and the protocol's types, and the small object helpers the classes share.

use ferrocast_protocol::Payload;
use js_sys::{ArrayBuffer, JSON, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsError};

/// An outgoing payload: an `ArrayBuffer` (or a typed array) goes out as a binary frame, anything else as JSON.
/// `undefined` means `{}`, as phoenix.js's default payload.
pub(crate) fn payload_from_js(value: &JsValue, what: &str) -> Result<Payload, JsError> {
    if value.is_undefined() {
        return Ok(Payload::empty());
    }
    if value.is_instance_of::<ArrayBuffer>() || ArrayBuffer::is_view(value) {
        return Ok(Payload::Binary(bytes_of(value)));
    }
    match JSON::stringify(value).ok().and_then(|text| text.as_string()) {
        Some(text) => Ok(Payload::Json(text)),
        None => {
            Err(JsError::new(&format!("{what}: the payload cannot be sent as JSON (a function, a symbol, a cycle?)")))
        }
    }
}

/// The bytes of an `ArrayBuffer` or of a typed array's view.
pub(crate) fn bytes_of(value: &JsValue) -> Vec<u8> {
    if let Some(view) = value.dyn_ref::<Uint8Array>() {
        return view.to_vec();
    }
    if ArrayBuffer::is_view(value) {
        let buffer: ArrayBuffer = get(value, "buffer").unchecked_into();
        let offset = get(value, "byteOffset").as_f64().unwrap_or(0.0) as u32;
        let length = get(value, "byteLength").as_f64().unwrap_or(0.0) as u32;
        return Uint8Array::new_with_byte_offset_and_length(&buffer, offset, length).to_vec();
    }
    Uint8Array::new(value).to_vec()
}

/// A payload the machine carries to the application: JSON is parsed, bytes become an `ArrayBuffer` of their own.
pub(crate) fn payload_to_js(payload: &Payload) -> JsValue {
    match payload {
        Payload::Json(text) => JSON::parse(text).unwrap_or(JsValue::UNDEFINED),
        Payload::Binary(bytes) => Uint8Array::from(bytes.as_slice()).buffer().into(),
    }
}

/// `object[key]`, or `undefined`.
pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[key] = value` on an object this crate made.
pub(crate) fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// `Object.keys(object)` as strings.
pub(crate) fn keys(object: &JsValue) -> Vec<String> {
    match object.dyn_ref::<Object>() {
        Some(object) => Object::keys(object).iter().filter_map(|key| key.as_string()).collect(),
        None => Vec::new(),
    }
}

/// A string, `null` for `None`.
pub(crate) fn opt_str(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// A number, `null` for `None`.
pub(crate) fn opt_number(value: Option<u64>) -> JsValue {
    value.map_or(JsValue::NULL, |value| JsValue::from_f64(value as f64))
}

/// Calls a JavaScript callback; an exception it throws is reported on the console and does not stop the socket.
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

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str, error: &JsValue);
}
