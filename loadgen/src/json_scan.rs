//! Just enough of JSON's structure to find things in a frame without parsing it.
//!
//! The generator reads hundreds of thousands of frames a second on the same two cores as the server it measures,
//! so it never builds a JSON tree for a frame: it walks the text to the element or key it wants and borrows that
//! slice. Values are skipped by their brackets and strings (escapes included), which is all a walk needs; the text
//! is trusted to be the valid JSON a server sent, and anything else simply yields nothing.

/// The elements of a JSON array, as slices of its text, in order.
pub(crate) struct Elements<'a> {
    text: &'a str,
    pos: usize,
    done: bool,
}

/// The elements of the array `text` (leading whitespace allowed), or `None` when `text` is not an array.
pub(crate) fn elements(text: &str) -> Option<Elements<'_>> {
    let start = skip_whitespace(text.as_bytes(), 0);
    (text.as_bytes().get(start) == Some(&b'[')).then_some(Elements { text, pos: start + 1, done: false })
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let bytes = self.text.as_bytes();
        let start = skip_whitespace(bytes, self.pos);
        let end = match bytes.get(start) {
            Some(b']') | None => None,
            Some(_) => value_end(bytes, start),
        };
        let Some(end) = end else {
            self.done = true;
            return None;
        };
        let after = skip_whitespace(bytes, end);
        match bytes.get(after) {
            Some(b',') => self.pos = after + 1,
            _ => self.done = true,
        }
        Some(&self.text[start..end])
    }
}

/// The entries of the JSON object `text` as (key, value) slices; keys without their quotes and left escaped.
pub(crate) fn entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let bytes = text.as_bytes();
    let start = skip_whitespace(bytes, 0);
    let mut pos = if bytes.get(start) == Some(&b'{') { Some(start + 1) } else { None };
    std::iter::from_fn(move || {
        let key_start = skip_whitespace(bytes, pos?);
        if bytes.get(key_start) != Some(&b'"') {
            pos = None;
            return None;
        }
        let key_end = string_end(bytes, key_start)?;
        let colon = skip_whitespace(bytes, key_end);
        if bytes.get(colon) != Some(&b':') {
            pos = None;
            return None;
        }
        let value_start = skip_whitespace(bytes, colon + 1);
        let Some(value_end) = value_end(bytes, value_start) else {
            pos = None;
            return None;
        };
        let after = skip_whitespace(bytes, value_end);
        pos = (bytes.get(after) == Some(&b',')).then_some(after + 1);
        Some((&text[key_start + 1..key_end - 1], &text[value_start..value_end]))
    })
}

/// The value of the top-level key `key` of the object `text`.
pub(crate) fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    entries(text).find(|(name, _)| *name == key).map(|(_, value)| value)
}

/// The unsigned integer that follows the first occurrence of `"key":` in `text`, wherever it is.
///
/// A plain substring search, not a walk: the caller knows the key appears once, ahead of any string that could
/// contain it (the generator's own payloads put their stamps first).
pub(crate) fn number_after(text: &str, quoted_key_colon: &str) -> Option<u64> {
    let at = text.find(quoted_key_colon)? + quoted_key_colon.len();
    let digits = &text.as_bytes()[skip_whitespace(text.as_bytes(), at)..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 19 {
        return None;
    }
    digits[..len].iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// The text of a JSON string token without its quotes (escapes left as they are), or `None` for any other token.
pub(crate) fn string_content(token: &str) -> Option<&str> {
    token.strip_prefix('"')?.strip_suffix('"')
}

/// Where the value starting at `start` ends (exclusive); `None` when it is cut short.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match *bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'[' | b'{' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        // A number, true, false or null: up to the next delimiter.
        _ => {
            let len = bytes[start..]
                .iter()
                .position(|&b| matches!(b, b',' | b']' | b'}' | b':') || b.is_ascii_whitespace())
                .unwrap_or(bytes.len() - start);
            (len > 0).then_some(start + len)
        }
    }
}

/// Where the string whose opening quote is at `start` ends (after its closing quote).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_whitespace(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_whole_values_whatever_they_hold() {
        let text = r#"[null, "a,]\"b", {"k":[1,{"x":"}"}]}, 12.5e3 ,true,[]]"#;
        let found: Vec<&str> = elements(text).unwrap().collect();
        assert_eq!(found, ["null", r#""a,]\"b""#, r#"{"k":[1,{"x":"}"}]}"#, "12.5e3", "true", "[]"]);
        assert_eq!(elements("[]").unwrap().count(), 0);
        assert!(elements(r#"{"a":1}"#).is_none());
    }

    #[test]
    fn a_cut_array_yields_what_is_whole() {
        let found: Vec<&str> = elements(r#"[1,"two",{"three":"#).unwrap().collect();
        assert_eq!(found, ["1", r#""two""#]);
    }

    #[test]
    fn entries_and_fields() {
        let text = r#"{"response":{"t":1},"status":"ok", "n" : 3}"#;
        let found: Vec<(&str, &str)> = entries(text).collect();
        assert_eq!(found, [("response", r#"{"t":1}"#), ("status", r#""ok""#), ("n", "3")]);
        assert_eq!(field(text, "status").and_then(string_content), Some("ok"));
        assert_eq!(field(text, "missing"), None);
        assert_eq!(entries("{}").count(), 0);
        assert_eq!(entries("[1]").count(), 0);
    }

    #[test]
    fn numbers_after_keys() {
        assert_eq!(number_after(r#"{"t":123456789,"s":7}"#, r#""s":"#), Some(7));
        assert_eq!(number_after(r#"{"t": 42}"#, r#""t":"#), Some(42));
        assert_eq!(number_after(r#"{"t":-1}"#, r#""t":"#), None);
        assert_eq!(number_after(r#"{"t":99999999999999999999}"#, r#""t":"#), None);
        assert_eq!(number_after(r#"{"u":1}"#, r#""t":"#), None);
    }
}
