//! Server-sent events (`text/event-stream`): writing fields, and reading a stream as the HTML standard's
//! EventSource does, so the relay, the browser client and the tests share one definition.
//!
//! Ferrocast's streams use the standard fields (`event`, `data`, `id`, `retry`, comments) and one field of their
//! own, `topic`, which names the topic of an event on a stream of several topics. EventSource ignores fields it
//! does not know, so a browser's own `EventSource` reads Ferrocast streams unchanged.

/// The event that starts each topic of a relay's topic stream (`GET /sse`): `{topic, offset, epoch, recovered}`,
/// as a channel join's reply extension says it.
pub const SUBSCRIBED_EVENT: &str = "ferrocast:subscribed";

/// The first event of a relay's socket stream (`GET /socket/sse`): `{"token": …}`, which the client's POSTs carry.
pub const SESSION_EVENT: &str = "ferrocast:session";

/// The event of a socket stream that carries a binary frame, its data the frame in standard base64 (RFC 4648 §4)
/// (every other event's data is a V2 JSON frame). [`sse_socket`](crate::sse_socket) writes and reads them.
pub const BINARY_EVENT: &str = "binary";

/// The id of one stream position: every topic's position, in the order the stream's topics were asked for.
pub mod stream_id {
    use crate::frame::Position;

    /// Writes positions as `offset.epoch` joined by `,`; a topic with no position yet is empty.
    pub fn write<'a>(positions: impl IntoIterator<Item = Option<&'a Position>>) -> String {
        let mut id = String::new();
        for (i, position) in positions.into_iter().enumerate() {
            if i > 0 {
                id.push(',');
            }
            if let Some(Position { offset, epoch }) = position {
                crate::text::push_decimal(&mut id, *offset);
                id.push('.');
                id.push_str(epoch);
            }
        }
        id
    }

    /// Reads an id written by [`write`] for `topics` topics; `None` for an id that does not fit (malformed, or
    /// written for another list of topics).
    pub fn read(id: &str, topics: usize) -> Option<Vec<Option<Position>>> {
        let positions: Vec<Option<Position>> = id
            .split(',')
            .map(|part| {
                if part.is_empty() {
                    return Some(None);
                }
                let (offset, epoch) = part.split_once('.')?;
                let offset = crate::text::decimal(offset)?;
                let valid = !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                valid.then(|| Some(Position { offset, epoch: epoch.to_owned() }))
            })
            .collect::<Option<_>>()?;
        (positions.len() == topics).then_some(positions)
    }
}

/// Appends `name: value` lines to `out`, one line per line of `value`: a `data` value with line breaks becomes
/// several `data` lines, which a reader joins back with `\n`.
pub fn write_field(out: &mut String, name: &str, value: &str) {
    for line in value.split(['\n', '\r']) {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(line);
        out.push('\n');
    }
}

/// Whether a value fits on one field line: an event name or topic with a line break would end its field early.
pub fn is_single_line(value: &str) -> bool {
    !value.contains(['\n', '\r'])
}

/// The media type of an event stream.
pub const MEDIA_TYPE: &str = "text/event-stream";

/// Whether an HTTP answer is an event stream to read, as EventSource decides: status 200 with the
/// `text/event-stream` media type (in any case, with any parameter after it, such as `; charset=utf-8`). Any other
/// answer refuses the request; its status and body say why.
pub fn is_event_stream(status: u16, content_type: &str) -> bool {
    status == 200 && content_type.get(..MEDIA_TYPE.len()).is_some_and(|media| media.eq_ignore_ascii_case(MEDIA_TYPE))
}

/// One event read from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event name; `message` when the stream gave none.
    pub event: String,
    /// The data lines, joined with `\n`.
    pub data: String,
    /// The stream's last event id after this event (ids persist from one event to the next, as in EventSource).
    pub last_event_id: String,
    /// Ferrocast's `topic` field, when present.
    pub topic: Option<String>,
}

/// U+FEFF, which a stream may start with and a reader skips.
const BYTE_ORDER_MARK: &str = "\u{feff}";

/// Reads an event stream in chunks of any size, as EventSource does: lines end with CR, LF or CRLF; a blank line
/// dispatches the event; comments and unknown fields are ignored; an event with no data is not dispatched.
#[derive(Debug, Default)]
pub struct Reader {
    /// The line read so far.
    line: String,
    /// What [`Reader::feed`] holds back: the first bytes of a character the chunk cut, which the next one completes.
    undecoded: Vec<u8>,
    /// The previous chunk ended with CR: a LF starting this one belongs to that line end.
    after_cr: bool,
    /// A line has ended, so a byte order mark can no longer come.
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    topic: Option<String>,
    last_event_id: String,
    retry_ms: Option<u64>,
}

impl Reader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last event id seen, to resume from.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the stream asked for with `retry:`, if any.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Starts over for a new connection: a partial line or event is dropped; the last event id and retry stay.
    pub fn restart(&mut self) {
        let (last_event_id, retry_ms) = (std::mem::take(&mut self.last_event_id), self.retry_ms);
        *self = Reader { last_event_id, retry_ms, ..Reader::default() };
    }

    /// Reads a chunk; returns the events it completed. Bytes that are not UTF-8 read as U+FFFD, as the UTF-8
    /// decoder EventSource reads with makes them; a character cut between chunks reads whole.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        let held = std::mem::take(&mut self.undecoded);
        let bytes =
            if held.is_empty() { std::borrow::Cow::Borrowed(chunk) } else { [held, chunk.to_vec()].concat().into() };
        let mut text = String::with_capacity(bytes.len());
        let mut pieces = bytes.utf8_chunks().peekable();
        while let Some(piece) = pieces.next() {
            text.push_str(piece.valid());
            let invalid = piece.invalid();
            // At the chunk's end, the first bytes of a character the next chunk completes are held back.
            let cut = pieces.peek().is_none() && std::str::from_utf8(invalid).is_err_and(|e| e.error_len().is_none());
            if cut {
                self.undecoded = invalid.to_vec();
            } else if !invalid.is_empty() {
                text.push(char::REPLACEMENT_CHARACTER);
            }
        }
        self.feed_text(&text)
    }

    /// Reads a chunk of a stream someone else decoded from UTF-8, a browser's `TextDecoder` in its streaming mode,
    /// say (which holds back a character cut between chunks until it is whole); returns the events it completed,
    /// the same as [`Reader::feed`] with the stream's bytes. The browser's wasm then carries no decoder of its own.
    pub fn feed_text(&mut self, chunk: &str) -> Vec<Event> {
        let mut events = Vec::new();
        self.feed_text_into(chunk, &mut |event| events.push(event));
        events
    }

    /// [`Reader::feed_text`], each event handed to `sink` as it completes instead of collected: the browser's
    /// machines write each one out at once, and their wasm has no list of events to grow and take apart.
    pub fn feed_text_into(&mut self, chunk: &str, sink: &mut dyn FnMut(Event)) {
        let mut rest = chunk;
        // Lines end at ASCII bytes, so what lies between two line ends is whole characters: the text is cut as
        // it is, never checked as UTF-8 again.
        while let Some(end) = rest.bytes().position(|byte| byte == b'\n' || byte == b'\r') {
            let cr = rest.as_bytes().get(end) == Some(&b'\r');
            let line = rest.get(..end).unwrap_or_default();
            rest = rest.get(end + 1..).unwrap_or_default();
            // The LF of a CRLF, whose CR ended the line already (in this chunk or the previous one).
            if std::mem::replace(&mut self.after_cr, cr) && !cr && end == 0 {
                continue;
            }
            self.line.push_str(line);
            let line = std::mem::take(&mut self.line);
            // A byte order mark may start the stream. It is looked for in the whole first line, not the first
            // chunk, which may end inside it.
            let first = !std::mem::replace(&mut self.started, true);
            let line = if first { line.strip_prefix(BYTE_ORDER_MARK).unwrap_or(&line) } else { &line };
            if let Some(event) = self.line_ended(line) {
                sink(event);
            }
        }
        if !rest.is_empty() {
            self.after_cr = false;
            self.line.push_str(rest);
        }
    }

    fn line_ended(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            return self.dispatch();
        }
        // `&str` patterns, not `char` ones, here and in `sse_socket`: a `char` pattern is encoded as UTF-8 when it
        // runs, code the browser's wasm would carry for these alone.
        if line.starts_with(":") {
            return None;
        }
        let (name, value) = match crate::text::split_once_at(line, b':') {
            Some((name, value)) => (name, value.strip_prefix(" ").unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // Byte by byte: a `char` pattern brings the standard library's `memchr` into the browser's wasm.
            "id" if !value.bytes().any(|byte| byte == 0) => self.last_event_id = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = crate::text::decimal(value);
            }
            "topic" => self.topic = Some(value.to_owned()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let event = std::mem::take(&mut self.event);
        let topic = self.topic.take();
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(Event {
            event: if event.is_empty() { "message".to_owned() } else { event },
            data: std::mem::take(&mut self.data),
            last_event_id: self.last_event_id.clone(),
            topic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Position;

    fn read_all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut reader = Reader::new();
        chunks.iter().flat_map(|chunk| reader.feed(chunk)).collect()
    }

    fn event(name: &str, data: &str, id: &str, topic: Option<&str>) -> Event {
        Event { event: name.into(), data: data.into(), last_event_id: id.into(), topic: topic.map(Into::into) }
    }

    #[test]
    fn written_fields_read_back_whatever_the_chunking() {
        let mut stream = String::from(": hello\nretry: 1500\n\n");
        write_field(&mut stream, "topic", "room:a");
        write_field(&mut stream, "event", "new_msg");
        write_field(&mut stream, "data", "{\n  \"n\": 1\r\n}");
        write_field(&mut stream, "id", "1.e1");
        stream.push('\n');
        stream.push_str("data: plain\n\n");
        let expected = vec![
            event("new_msg", "{\n  \"n\": 1\n\n}", "1.e1", Some("room:a")),
            event("message", "plain", "1.e1", None),
        ];
        let bytes = stream.as_bytes();
        assert_eq!(read_all(&[bytes]), expected);
        for split in 1..bytes.len() {
            assert_eq!(read_all(&[&bytes[..split], &bytes[split..]]), expected, "split at {split}");
        }
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(read_all(&one_by_one), expected);
    }

    #[test]
    fn text_decoded_elsewhere_reads_as_its_bytes_do() {
        let stream = "\u{feff}event: é\ndata: ü€😀\r\ndata: b\rid: 7\n\n: ok\ndata: x\n\n";
        let expected = read_all(&[stream.as_bytes()]);
        assert_eq!(expected, [event("é", "ü€😀\nb", "7", None), event("message", "x", "7", None)]);
        let chars: Vec<(usize, char)> = stream.char_indices().collect();
        for &(split, _) in &chars[1..] {
            let mut reader = Reader::new();
            let mut events = reader.feed_text(&stream[..split]);
            events.extend(reader.feed_text(&stream[split..]));
            assert_eq!(events, expected, "split at {split}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_read_as_replacements_however_cut() {
        // A cut character, a stray continuation byte, a lead byte whose sequence a line end breaks.
        let stream: &[u8] = b"data: \xe2\x82\xac \x80 \xf0\x9f\n\n";
        let expected = [event("message", "\u{20ac} \u{fffd} \u{fffd}", "", None)];
        assert_eq!(read_all(&[stream]), expected);
        for split in 1..stream.len() {
            assert_eq!(read_all(&[&stream[..split], &stream[split..]]), expected, "split at {split}");
        }
        let one_by_one: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(read_all(&one_by_one), expected);
    }

    #[test]
    fn a_bom_cut_across_chunks_is_skipped_too() {
        let mut reader = Reader::new();
        let mut events = reader.feed(&[0xef]);
        events.extend(reader.feed(&[0xbb]));
        events.extend(reader.feed(b"\xbfdata: x\n\n"));
        assert_eq!(events.iter().map(|event| event.data.as_str()).collect::<Vec<_>>(), ["x"]);
        // Only at the start of the stream: later, it is part of a line.
        assert!(reader.feed("\u{feff}data: y\n\n".as_bytes()).is_empty());
    }

    #[test]
    fn line_ends_may_be_cr_lf_or_crlf_and_a_bom_is_skipped() {
        let stream = "\u{feff}data: a\r\rdata: b\r\n\r\ndata:c\n\n";
        let events = read_all(&[stream.as_bytes()]);
        let data: Vec<&str> = events.iter().map(|event| event.data.as_str()).collect();
        assert_eq!(data, ["a", "b", "c"]);
        // A CR at the end of one chunk and the LF at the start of the next make one line end.
        assert_eq!(read_all(&[b"data: x\r", b"\n\r", b"\n"]).len(), 1);
    }

    #[test]
    fn events_without_data_are_not_dispatched_but_their_id_stays() {
        let mut reader = Reader::new();
        assert!(reader.feed(b"id: 7\nevent: nothing\n\n").is_empty());
        assert_eq!(reader.last_event_id(), "7");
        assert_eq!(reader.feed(b"data: x\n\n"), vec![event("message", "x", "7", None)]);
        assert!(reader.feed(b"retry: soon\nretry: 2500\n\n").is_empty());
        assert_eq!(reader.retry_ms(), Some(2500));
        reader.feed(b"data: half");
        reader.restart();
        assert_eq!(reader.feed(b"\n\ndata: y\n\n"), vec![event("message", "y", "7", None)]);
    }

    #[test]
    fn only_a_200_with_the_event_stream_media_type_is_a_stream() {
        assert!(is_event_stream(200, "text/event-stream"));
        assert!(is_event_stream(200, "Text/Event-Stream; charset=utf-8"));
        for (status, content_type) in [
            (200, "text/html"),
            (200, ""),
            (200, "text/event"),
            (204, "text/event-stream"),
            (404, "text/event-stream"),
            (503, "text/event-stream"),
        ] {
            assert!(!is_event_stream(status, content_type), "{status} {content_type}");
        }
        // A multi-byte character where the media type would end is no media type, and no panic.
        assert!(!is_event_stream(200, "text/event-strea\u{e9}"));
    }

    #[test]
    fn a_stream_id_holds_every_topics_position() {
        let positions = vec![Some(Position { offset: 5, epoch: "k3-1".into() }), None];
        let id = stream_id::write(positions.iter().map(Option::as_ref));
        assert_eq!(id, "5.k3-1,");
        assert_eq!(stream_id::read(&id, 2), Some(positions));
        assert_eq!(stream_id::read(&id, 3), None, "written for other topics");
        assert_eq!(stream_id::read("x.k3,", 2), None);
        assert_eq!(stream_id::read("5.k3\n,", 2), None);
        assert_eq!(stream_id::read("", 1), Some(vec![None]));
    }
}
