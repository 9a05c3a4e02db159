//! Broadcasts as they travel through Redis, in a form the publish script can pass on without parsing.
//!
//! A broadcast is `j` or `b` (a JSON or a binary payload), then the topic and the event, each as its length in
//! decimal, `:` and its bytes, then the payload: `j7:room:lo7:new_msg{"body":"hi"}`. It is stored as is in the
//! topic's stream, and published as `<offset> <epoch> <broadcast>`. Whatever comes from Redis is checked: a
//! malformed message is an error, never a panic.

use ferrocast_protocol::Payload;

/// A broadcast read back from Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broadcast {
    pub(crate) topic: String,
    pub(crate) event: String,
    pub(crate) payload: Payload,
}

/// A broadcast as every relay receives it: numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Published {
    pub(crate) offset: u64,
    pub(crate) epoch: String,
    pub(crate) broadcast: Broadcast,
}

/// A message from Redis that is not a broadcast of this form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed broadcast from Redis: {0}")]
pub(crate) struct Malformed(&'static str);

/// The broadcast's bytes for the publish script.
pub(crate) fn encode(topic: &str, event: &str, payload: &Payload) -> Vec<u8> {
    let (kind, bytes) = match payload {
        Payload::Json(text) => (b'j', text.as_bytes()),
        Payload::Binary(bytes) => (b'b', bytes.as_slice()),
    };
    let mut out = Vec::with_capacity(topic.len() + event.len() + bytes.len() + 12);
    out.push(kind);
    for part in [topic, event] {
        out.extend_from_slice(part.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(bytes);
    out
}

/// A broadcast as [`encode`] made it.
pub(crate) fn decode(bytes: &[u8]) -> Result<Broadcast, Malformed> {
    let (&kind, rest) = bytes.split_first().ok_or(Malformed("empty"))?;
    let (topic, rest) = length_prefixed(rest)?;
    let (event, payload) = length_prefixed(rest)?;
    let payload = match kind {
        b'j' => {
            Payload::Json(String::from_utf8(payload.to_vec()).map_err(|_| Malformed("a JSON payload not in UTF-8"))?)
        }
        b'b' => Payload::Binary(payload.to_vec()),
        _ => return Err(Malformed("unknown payload kind")),
    };
    Ok(Broadcast { topic, event, payload })
}

/// A message of the broadcasts channel: `<offset> <epoch> <broadcast>`.
pub(crate) fn decode_published(bytes: &[u8]) -> Result<Published, Malformed> {
    let (offset, rest) = split_at_space(bytes)?;
    let offset = parse_offset(offset)?;
    let (epoch, rest) = split_at_space(rest)?;
    let epoch = std::str::from_utf8(epoch).map_err(|_| Malformed("an epoch not in UTF-8"))?.to_owned();
    Ok(Published { offset, epoch, broadcast: decode(rest)? })
}

/// The offset of a stream entry's id, `<offset>-0`.
pub(crate) fn offset_of_entry(id: &str) -> Result<u64, Malformed> {
    let offset = id.strip_suffix("-0").ok_or(Malformed("a stream entry id not of the form <offset>-0"))?;
    parse_offset(offset.as_bytes())
}

fn parse_offset(digits: &[u8]) -> Result<u64, Malformed> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|digits| digits.parse::<u64>().ok())
        .filter(|offset| *offset > 0)
        .ok_or(Malformed("an offset that is not a positive number"))
}

fn split_at_space(bytes: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let space = bytes.iter().position(|byte| *byte == b' ').ok_or(Malformed("missing a field"))?;
    Ok((&bytes[..space], &bytes[space + 1..]))
}

fn length_prefixed(bytes: &[u8]) -> Result<(String, &[u8]), Malformed> {
    let colon = bytes.iter().take(21).position(|byte| *byte == b':').ok_or(Malformed("missing a length"))?;
    let length: usize = std::str::from_utf8(&bytes[..colon])
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or(Malformed("a length that is not a number"))?;
    let rest = &bytes[colon + 1..];
    if rest.len() < length {
        return Err(Malformed("shorter than its length says"));
    }
    let text = std::str::from_utf8(&rest[..length]).map_err(|_| Malformed("a name not in UTF-8"))?;
    Ok((text.to_owned(), &rest[length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_come_back_as_they_went() {
        let json = Payload::Json(r#"{"body":"1 2:3"}"#.to_owned());
        let encoded = encode("room:lobby", "new msg", &json);
        assert_eq!(encoded, br#"j10:room:lobby7:new msg{"body":"1 2:3"}"#);
        let broadcast = decode(&encoded).unwrap();
        assert_eq!((broadcast.topic.as_str(), broadcast.event.as_str()), ("room:lobby", "new msg"));
        assert_eq!(broadcast.payload, json);
        let binary = Payload::Binary(vec![0, 255, b' ', b':']);
        assert_eq!(decode(&encode("t", "", &binary)).unwrap().payload, binary);

        let mut published = b"42 ab-3 ".to_vec();
        published.extend_from_slice(&encoded);
        let published = decode_published(&published).unwrap();
        assert_eq!((published.offset, published.epoch.as_str()), (42, "ab-3"));
        assert_eq!(offset_of_entry("42-0"), Ok(42));
    }

    #[test]
    fn anything_else_is_an_error() {
        for bad in [
            &b""[..],
            b"x1:t1:e{}",
            b"j",
            b"j5:abc",
            b"j99999999999999999999999:t",
            b"j1:t",
            b"j1:\xff1:e{}",
            b"j1:t1:e\xff",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        for bad in [&b"0 e j1:t1:e{}"[..], b"x e j1:t1:e{}", b"1 j1:t1:e{}", b"-1 e j1:t1:e{}", b"1"] {
            assert!(decode_published(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(offset_of_entry("7-1").is_err());
        assert!(offset_of_entry("x-0").is_err());
    }
}
