//! Numbers and strings written and read by hand rather than through `core::fmt`, `str::parse` or the general
//! `concat`, whose machinery would be most of what these small jobs cost the browser client's wasm (README, Size).

/// Appends `number` in decimal.
pub(crate) fn push_decimal(out: &mut String, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&digit| char::from(digit)));
}

/// The number `digits` writes in decimal: ASCII digits only (no sign, no space), at least one, and no more than a
/// `u64` holds.
pub(crate) fn decimal(digits: &str) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut number: u64 = 0;
    for &byte in digits.as_bytes() {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        // Compared before it is multiplied: `checked_mul` brings a 128-bit multiplication into the browser's wasm.
        if number > (u64::MAX - u64::from(digit)) / 10 {
            return None;
        }
        number = number * 10 + u64::from(digit);
    }
    Some(number)
}

/// `text` split at its first `separator`, an ASCII character, as `str::split_once` with a `char` splits it. Looked
/// for byte by byte: a `char` pattern brings the standard library's pattern searchers into the browser's wasm.
pub(crate) fn split_once_at(text: &str, separator: u8) -> Option<(&str, &str)> {
    debug_assert!(separator.is_ascii(), "a byte of a multi-byte character is no place to split");
    let at = text.bytes().position(|byte| byte == separator)?;
    Some((&text[..at], &text[at + 1..]))
}

/// `text` up to its first `separator` (an ASCII character), or the whole of it when there is none.
pub(crate) fn before(text: &str, separator: u8) -> &str {
    split_once_at(text, separator).map_or(text, |(before, _)| before)
}

/// The parts one after another, as `[..].concat()` gives them.
pub(crate) fn joined(parts: &[&str]) -> String {
    let mut text = String::new();
    for part in parts {
        text.push_str(part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_trip_and_nothing_else_reads_as_one() {
        for number in [0, 7, 10, 4_294_967_295, u64::MAX] {
            let mut text = String::new();
            push_decimal(&mut text, number);
            assert_eq!(text, number.to_string());
            assert_eq!(decimal(&text), Some(number));
        }
        assert_eq!(decimal("007"), Some(7), "leading zeros are digits");
        for text in ["", "+1", "-1", " 1", "1 ", "1.0", "a", "١", "18446744073709551616"] {
            assert_eq!(decimal(text), None, "{text:?}");
        }
        assert_eq!(joined(&["a", "", "bc"]), "abc");
        assert_eq!(split_once_at("a=b=c", b'='), Some(("a", "b=c")));
        assert_eq!(split_once_at("é:ü", b':'), Some(("é", "ü")));
        assert_eq!((split_once_at("abc", b'='), before("abc", b'='), before("a#b", b'#')), (None, "abc", "a"));
    }
}
