//! The event-stream reader (`ferrocast_protocol::sse::Reader`), which reads what the relay's `/sse` endpoints send
//! to the browser client: it never panics, reads a stream the same way however the stream is cut into chunks, and
//! gives only events whose fields fit on their lines. A stream that is UTF-8 reads the same as text
//! (`Reader::feed_text`, what the browser client hands it) as it does as bytes.
//!
//! The input is two bytes that choose the cutting, then the stream (see `ferrocast_fuzz::chunks`).

#![no_main]

use ferrocast_fuzz::chunks::Cut;
use ferrocast_protocol::sse::{Event, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some(cut) = Cut::read(input) else { return };
    let mut whole = Reader::new();
    let expected = whole.feed(cut.stream);
    let mut chunked = Reader::new();
    let events: Vec<Event> = cut.chunks.iter().flat_map(|chunk| chunked.feed(chunk)).collect();

    for event in &events {
        assert!(!event.event.is_empty(), "an event with no name is a `message`: {event:?}");
        for field in [&event.event, &event.data, &event.last_event_id] {
            assert!(!field.contains('\r'), "a line end inside a field: {event:?}");
        }
        assert!(!event.event.contains('\n') && !event.last_event_id.contains('\n'), "{event:?}");
        assert!(!event.last_event_id.contains('\0'), "an id with NUL is ignored: {event:?}");
        assert!(event.topic.as_ref().is_none_or(|topic| !topic.contains(['\r', '\n'])), "{event:?}");
    }
    assert_eq!(events, expected, "the cutting changed the events: {:?}", cut.chunks);
    assert_eq!(chunked.last_event_id(), whole.last_event_id());
    assert_eq!(chunked.retry_ms(), whole.retry_ms());

    if let Ok(text) = std::str::from_utf8(cut.stream) {
        // The chunks as the browser's decoder gives them: each cut moved back to the start of its character.
        let mut as_text = Reader::new();
        let (mut events, mut start, mut cut_at) = (Vec::new(), 0, 0);
        for chunk in &cut.chunks {
            cut_at += chunk.len();
            let mut end = cut_at;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            events.extend(as_text.feed_text(&text[start..end]));
            start = end;
        }
        assert_eq!(events, expected, "the stream read as text");
        assert_eq!(as_text.last_event_id(), whole.last_event_id());
    }
});
