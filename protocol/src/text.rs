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
        number = number.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(number)
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
    }
}
