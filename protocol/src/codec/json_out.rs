//! Building JSON text with its exact size known up front.
//!
//! Each layout (V1 object, V2 array, ext object, reply payload) is written once against [`JsonOut`] and run twice:
//! first into a [`LengthCounter`] to learn the size, then into a `String` allocated with exactly that capacity. That
//! keeps the relay's encoding to one allocation per frame without a second, hand-kept size formula to drift.

use super::json_string::{quoted_len, write_quoted};
use crate::text::push_decimal;

/// Where JSON text goes: a `String`, or a counter of how long it would be.
pub(crate) trait JsonOut {
    /// Appends text that is already JSON (punctuation, keys, or a payload that is valid JSON by contract).
    fn raw(&mut self, json: &str);
    /// Appends `text` as a JSON string literal.
    fn string(&mut self, text: &str);
    /// Appends an unsigned integer.
    fn number(&mut self, number: u64);

    /// Appends `text` as a string literal, or `null` when there is none (refs are either).
    fn optional_string(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.string(text),
            None => self.raw("null"),
        }
    }
}

/// Counts the bytes a layout would write.
#[derive(Default)]
pub(crate) struct LengthCounter(usize);

impl JsonOut for LengthCounter {
    fn raw(&mut self, json: &str) {
        self.0 += json.len();
    }

    fn string(&mut self, text: &str) {
        self.0 += quoted_len(text);
    }

    fn number(&mut self, number: u64) {
        self.0 += number.checked_ilog10().map_or(1, |log| log as usize + 1);
    }
}

impl JsonOut for String {
    fn raw(&mut self, json: &str) {
        self.push_str(json);
    }

    fn string(&mut self, text: &str) {
        write_quoted(self, text);
    }

    fn number(&mut self, number: u64) {
        push_decimal(self, number);
    }
}

/// Runs `layout` once to measure it and once to write it into a string of exactly that size.
pub(crate) fn render(layout: impl Fn(&mut dyn JsonOut)) -> String {
    let mut counter = LengthCounter::default();
    layout(&mut counter);
    let mut text = String::with_capacity(counter.0);
    layout(&mut text);
    debug_assert_eq!(text.len(), counter.0, "the measured and the written JSON differ in length");
    text
}
