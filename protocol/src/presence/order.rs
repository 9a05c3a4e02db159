//! JavaScript's property order, which decides the order of phoenix.js's callbacks and of `Presence.list`.
//!
//! A JavaScript object lists its integer-like keys (array indices) first, in ascending numeric order, and then its
//! other keys in the order they were first added. phoenix.js walks every presence map with
//! `Object.getOwnPropertyNames`, so matching it means ordering keys the same way.

use super::keys::OrderedMap;

/// The largest array index: ECMAScript array indices stop one short of `2^32 - 1`.
const MAX_ARRAY_INDEX: u64 = 4_294_967_294;

/// Whether `key` is an array index, a key that a JavaScript object lists before all others.
///
/// That is the canonical decimal form (no sign, no leading zero unless the key is `"0"`) of an integer from `0`
/// to `4294967294`. So `"10"` is one, while `"01"`, `"-1"`, `"1.5"` and `"4294967295"` are not.
pub fn is_array_index(key: &str) -> bool {
    array_index(key).is_some()
}

/// The numeric value of an array index, or `None` for any other key.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    // At most ten digits, checked above: no overflow, and no parser linked into the browser build for it.
    let value = bytes.iter().fold(0_u64, |value, digit| value * 10 + u64::from(digit - b'0'));
    if value <= MAX_ARRAY_INDEX { u32::try_from(value).ok() } else { None }
}

/// Turns a list of key-value pairs into the sequence a JavaScript object built from it would list.
///
/// A repeated key keeps its first position and its last value, as repeated assignments (or repeated keys in JSON
/// text) do in JavaScript. The map orders the keys as it takes them (`keys.rs`), so pairs already in that order, as
/// a parsed object's are, come out as they went in.
pub(crate) fn as_js_object<T>(pairs: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut object = OrderedMap::default();
    for (key, value) in pairs {
        object.insert(key, value);
    }
    object.into_vec()
}
