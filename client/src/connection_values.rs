//! The values each connection attempt opens with: the `params` and `authToken` options, given as values or as
//! functions, which may be async.
//!
//! The functions are called on every attempt, so a token that expires is fetched afresh for the reconnect. When
//! either returns a promise the attempt waits for both; the caller is told later and decides then whether the
//! attempt still matters. A function that throws, a promise that rejects and a value of the wrong type all fail
//! the attempt with an error for `onError`, as a refused connection does.
//!
//! Promises are awaited with `then` callbacks, not futures: wasm-bindgen-futures' executor would cost more of the
//! package's size budget than these few lines (as in `fetch_stream.rs`).

use crate::fetch_stream::Thenable;
use crate::values::get;
use js_sys::{Array, Function, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// What one connection attempt opens with.
pub(crate) struct ConnectionValues {
    /// The query params: an object, or `undefined` for none.
    pub(crate) params: JsValue,
    /// The token for the subprotocol, if any.
    pub(crate) auth_token: Option<String>,
}

/// The outcome of gathering: the values, or what to hand `onError` (the thrown value, the rejection reason, or an
/// `Error` saying which value was unusable).
pub(crate) type Gathered = Result<ConnectionValues, JsValue>;

/// Evaluates the `params` and `authToken` options for one attempt. Returns the outcome at once when neither gave a
/// promise; otherwise returns `None` and calls `later` once both have settled (or one has rejected).
pub(crate) fn gather(
    params: &JsValue,
    auth_token: &JsValue,
    later: impl Fn(Gathered) + Clone + 'static,
) -> Option<Gathered> {
    let (params, auth_token) = match call_if_function(params).and_then(|p| Ok((p, call_if_function(auth_token)?))) {
        Ok(values) => values,
        Err(thrown) => return Some(Err(thrown)),
    };
    if !is_thenable(&params) && !is_thenable(&auth_token) {
        return Some(usable(params, auth_token));
    }
    // One of the two callbacks runs, once.
    let (settled, rejected) = (callback(later.clone(), true), callback(later, false));
    Promise::all(&Array::of2(&params, &auth_token)).unchecked_ref::<Thenable>().then(&settled, &rejected);
    None
}

/// The option's value, or what its function returned (the application's code: the socket's state is released).
pub(crate) fn call_if_function(option: &JsValue) -> Result<JsValue, JsValue> {
    match option.dyn_ref::<Function>() {
        Some(function) => function.call0(&JsValue::NULL),
        None => Ok(option.clone()),
    }
}

/// A promise, or anything `await` would wait for.
pub(crate) fn is_thenable(value: &JsValue) -> bool {
    value.is_object() && get(value, "then").is_function()
}

/// Checks the settled values: `params` an object, `authToken` a string; `undefined` or `null` means none.
fn usable(params: JsValue, auth_token: JsValue) -> Gathered {
    let none = |value: &JsValue| value.is_undefined() || value.is_null();
    if !(params.is_object() || none(&params)) {
        return Err(JsError::new("Socket option `params` must give an object (or nothing)").into());
    }
    if !(auth_token.is_string() || none(&auth_token)) {
        return Err(JsError::new("Socket option `authToken` must give a string (or nothing)").into());
    }
    Ok(ConnectionValues { params, auth_token: auth_token.as_string() })
}

/// The function a promise calls when it settles (`fulfilled`, with both values) or rejects (with the reason), freed
/// when JavaScript lets go of it. One closure type serves both, as each type costs the package its own glue.
fn callback(later: impl Fn(Gathered) + 'static, fulfilled: bool) -> Function {
    Closure::<dyn FnMut(JsValue)>::new(move |outcome: JsValue| {
        later(if fulfilled {
            let values: &Array = outcome.unchecked_ref();
            usable(values.get(0), values.get(1))
        } else {
            Err(outcome)
        })
    })
    .into_js_value()
    .unchecked_into()
}
