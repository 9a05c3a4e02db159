//! Writing JSON string literals without serde_json.
//!
//! The browser build has no serde_json, and the relay encodes on its hot path, so strings are escaped by hand. The
//! output is byte for byte what `serde_json::to_string` produces (a property test checks it): `"` and `\` are
//! escaped, control characters below 0x20 use the short forms `\b \t \n \f \r` where JSON has them and `\u00XX`
//! otherwise, and everything else, including non-ASCII, is copied as UTF-8.

/// How a byte is written inside a JSON string literal.
enum Escape {
    /// The byte is copied as is.
    Verbatim,
    /// A two-character escape, such as `\n`.
    Short(u8),
    /// A six-character escape, `\u00XX`.
    Unicode,
}

/// How `byte` must be escaped. Bytes of multi-byte UTF-8 sequences are all 0x80 or above, so they are verbatim.
fn escape_of(byte: u8) -> Escape {
    match byte {
        b'"' => Escape::Short(b'"'),
        b'\\' => Escape::Short(b'\\'),
        0x08 => Escape::Short(b'b'),
        b'\t' => Escape::Short(b't'),
        b'\n' => Escape::Short(b'n'),
        0x0C => Escape::Short(b'f'),
        b'\r' => Escape::Short(b'r'),
        0x00..=0x1F => Escape::Unicode,
        _ => Escape::Verbatim,
    }
}

/// The length in bytes of `text` written as a JSON string literal, quotes included.
pub(crate) fn quoted_len(text: &str) -> usize {
    let escaped: usize = text
        .bytes()
        .map(|byte| match escape_of(byte) {
            Escape::Verbatim => 1,
            Escape::Short(_) => 2,
            Escape::Unicode => 6,
        })
        .sum();
    escaped + 2
}

/// Appends `text` to `out` as a JSON string literal, quotes included.
///
/// Runs of verbatim bytes are copied as whole slices, which keeps the common case (nothing to escape) to one copy.
pub(crate) fn write_quoted(out: &mut String, text: &str) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut verbatim_from = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = escape_of(byte);
        if matches!(escape, Escape::Verbatim) {
            continue;
        }
        // Escaped bytes are ASCII, so `index` is a character boundary and the slice cannot fail.
        out.push_str(text.get(verbatim_from..index).unwrap_or_default());
        verbatim_from = index + 1;
        out.push('\\');
        match escape {
            Escape::Short(letter) => out.push(char::from(letter)),
            Escape::Unicode => {
                out.push_str("u00");
                out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
                out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0F)]));
            }
            Escape::Verbatim => {}
        }
    }
    out.push_str(text.get(verbatim_from..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::{quoted_len, write_quoted};
    use proptest::prelude::*;

    fn quoted(text: &str) -> String {
        let mut out = String::new();
        write_quoted(&mut out, text);
        out
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted("\u{8}\t\n\u{c}\r"), r#""\b\t\n\f\r""#);
        assert_eq!(quoted("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(quoted("héllo ☃ 🦀"), "\"héllo ☃ 🦀\"");
    }

    proptest! {
        #[test]
        fn matches_serde_json(text in any::<String>()) {
            let expected = serde_json::to_string(&text).expect("a string always serializes");
            prop_assert_eq!(quoted(&text), expected.clone());
            prop_assert_eq!(quoted_len(&text), expected.len());
        }

        #[test]
        fn matches_serde_json_on_escape_heavy_text(text in "[\"\\\\\\x00-\\x1f\\x7f a-é☃🦀]{0,40}") {
            let expected = serde_json::to_string(&text).expect("a string always serializes");
            prop_assert_eq!(quoted(&text), expected.clone());
            prop_assert_eq!(quoted_len(&text), expected.len());
        }
    }
}
