//! Refs, as the socket makes them: a counter from 1, sent as its decimal form (phoenix.js's `makeRef()`).
//!
//! The machine keeps its refs as numbers and writes them out only in frames. A server's ref matches one of them only
//! when it is exactly that number's decimal form, so `"01"` or `"+1"` match nothing, as they would not as strings.

use crate::text::{decimal, push_decimal};

/// The text a ref is sent as.
pub(crate) fn text(r#ref: u64) -> String {
    let mut text = String::new();
    push_decimal(&mut text, r#ref);
    text
}

/// The ref a server's text names, if it is one this socket could have made: the decimal form of a number, exactly.
pub(crate) fn parse(text: &str) -> Option<u64> {
    // A decimal form has no leading zero.
    if matches!(text.as_bytes(), [b'0', _, ..]) {
        return None;
    }
    decimal(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_numbers_exact_decimal_form_is_a_ref() {
        assert_eq!(parse("1"), Some(1));
        assert_eq!(parse("18446744073709551615"), Some(u64::MAX));
        for text in ["", "01", "+1", "-1", " 1", "1 ", "1.0", "a", "18446744073709551616"] {
            assert_eq!(parse(text), None, "{text:?}");
        }
        assert_eq!(text(42), "42");
    }
}
