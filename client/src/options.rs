//! Reading the `EventStream` constructor's options (`Socket`'s are read in JavaScript, `client/js/options.js`).
//!
//! Option objects hold functions (`headers`), which a serde deserializer cannot carry, so they are read field by
//! field. A misspelt or mistyped option throws an `Error` that names it.

use crate::values::get;
use ferrocast_protocol::client::Backoff;
use wasm_bindgen::JsError;
use wasm_bindgen::prelude::*;

/// `{baseMs, maxMs, jitter}` of a `class` (`Socket`, `EventStream`) option object: exponential backoff with
/// jitter.
pub(crate) fn jittered(backoff: &JsValue, class: &'static str) -> Result<Backoff, JsError> {
    let Backoff::Jittered { base_ms, max_ms, jitter } = Backoff::default_reconnect() else { unreachable!() };
    let field = Field::nested(backoff, class, "backoff", &["baseMs", "maxMs", "jitter"])?;
    let jitter = match field.number("jitter")? {
        None => jitter,
        Some(value) if (0.0..=1.0).contains(&value) => value,
        Some(_) => return Err(field.wrong("jitter", "between 0 and 1")),
    };
    Ok(Backoff::Jittered {
        base_ms: field.ms("baseMs")?.unwrap_or(base_ms),
        max_ms: field.ms("maxMs")?.unwrap_or(max_ms),
        jitter,
    })
}

/// Typed reads of one options object of a class (`Socket`, `EventStream`), with errors that name the option.
pub(crate) struct Field {
    object: JsValue,
    class: &'static str,
    /// The name of a nested object (`backoff`), or `None` for the options themselves.
    name: Option<&'static str>,
}

impl Field {
    /// The options object given to `class`'s constructor, which may hold only the `known` keys.
    pub(crate) fn top(object: &JsValue, class: &'static str, known: &[&str]) -> Result<Field, JsError> {
        if !object.is_object() || object.is_function() {
            return Err(JsError::new(&format!("{class} options must be an object")));
        }
        if let Some(key) = crate::values::keys(object).into_iter().find(|key| !known.contains(&key.as_str())) {
            return Err(JsError::new(&format!("unknown {class} option `{key}`")));
        }
        Ok(Field { object: object.clone(), class, name: None })
    }

    /// The object option `name`, which may hold only the `known` keys (any key when `known` is empty).
    pub(crate) fn nested(
        object: &JsValue,
        class: &'static str,
        name: &'static str,
        known: &[&str],
    ) -> Result<Field, JsError> {
        if !object.is_object() || object.is_function() {
            return Err(JsError::new(&format!("{class} option `{name}` must be an object")));
        }
        let unknown =
            crate::values::keys(object).into_iter().find(|key| !known.is_empty() && !known.contains(&key.as_str()));
        if let Some(key) = unknown {
            let expected = known.join(", ");
            return Err(JsError::new(&format!("unknown {class} option `{name}.{key}`: expected {expected}")));
        }
        Ok(Field { object: object.clone(), class, name: Some(name) })
    }

    pub(crate) fn value(&self, key: &str) -> Option<JsValue> {
        let value = get(&self.object, key);
        (!value.is_undefined() && !value.is_null()).then_some(value)
    }

    pub(crate) fn wrong(&self, key: &str, expected: &str) -> JsError {
        let option = self.name.map_or_else(|| key.to_owned(), |name| format!("{name}.{key}"));
        JsError::new(&format!("{} option `{option}` must be {expected}", self.class))
    }

    fn number(&self, key: &str) -> Result<Option<f64>, JsError> {
        match self.value(key) {
            None => Ok(None),
            Some(value) => {
                value.as_f64().filter(|n| n.is_finite()).map(Some).ok_or_else(|| self.wrong(key, "a number"))
            }
        }
    }

    /// A non-negative whole number (milliseconds, counts, bytes).
    fn ms(&self, key: &str) -> Result<Option<u64>, JsError> {
        match self.number(key)? {
            None => Ok(None),
            Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
            Some(_) => Err(self.wrong(key, "a whole number, 0 or more")),
        }
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, JsError> {
        self.value(key).map(|value| value.as_string().ok_or_else(|| self.wrong(key, "a string"))).transpose()
    }
}
