//! Base64 (RFC 4648): the standard alphabet with padding, in which the relay's event-stream socket carries binary
//! frames both ways, and the URL alphabet without padding, in which phoenix.js puts a token in a WebSocket
//! subprotocol.
//!
//! A few lines here rather than a crate: the browser build links this crate, and the `base64` crate would be new to
//! it for two small functions.

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `bytes` in standard base64 with `=` padding (RFC 4648 §4).
pub fn encode(bytes: &[u8]) -> String {
    let mut out = encode_with(bytes, STANDARD);
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// `bytes` in base64url without padding (RFC 4648 §5), which is a valid HTTP token.
pub fn encode_url_unpadded(bytes: &[u8]) -> String {
    encode_with(bytes, URL_SAFE)
}

fn encode_with(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, byte)| n | u32::from(*byte) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Standard base64 with `=` padding back to bytes; `None` for anything else: a length that is not a multiple of 4,
/// a character outside the alphabet (line breaks included), padding anywhere but at the end, or unused low bits that
/// are not zero. Being strict, a frame has one spelling only, as the encoder writes it.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let padding = text.iter().rev().take(2).take_while(|&&byte| byte == b'=').count();
    let digits = &text[..text.len() - padding];
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            n |= u32::from(value_of(byte)?) << (18 - 6 * i);
        }
        // A chunk of k digits holds k - 1 whole bytes (all 3 when k = 4); the low bits beyond them must be zero.
        let whole = chunk.len() - 1;
        if whole == 0 || n & (0xff_ffff >> (8 * whole)) != 0 {
            return None;
        }
        out.extend((0..whole).map(|i| (n >> (16 - 8 * i)) as u8));
    }
    Some(out)
}

fn value_of(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, encode_url_unpadded};

    /// RFC 4648 §10's test vectors.
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn the_rfc_vectors_encode_and_decode() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded.as_bytes()).as_deref(), Some(plain.as_bytes()), "{encoded}");
        }
    }

    #[test]
    fn every_byte_and_length_goes_there_and_back() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let encoded = encode(&bytes[..len]);
            assert_eq!(decode(encoded.as_bytes()).as_deref(), Some(&bytes[..len]), "{len}");
        }
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn only_the_encoders_spelling_decodes() {
        for text in ["Zg", "Zg=", "Zh==", "Zm9=", "Z===", "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm-_", "=Zg=", "Zm=v"] {
            assert_eq!(decode(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn the_url_alphabet_has_no_padding() {
        assert_eq!(encode_url_unpadded(b""), "");
        assert_eq!(encode_url_unpadded(b"f"), "Zg");
        assert_eq!(encode_url_unpadded(b"fo"), "Zm8");
        assert_eq!(encode_url_unpadded(b"foo"), "Zm9v");
        assert_eq!(encode_url_unpadded(b"foob"), "Zm9vYg");
        assert_eq!(encode_url_unpadded(&[0xfb, 0xff]), "-_8");
    }
}
