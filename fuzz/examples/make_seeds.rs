//! Writes the fuzz targets' seed corpora (`fuzz/seeds/<target>/`) from the Phoenix 1.7.21 wire transcripts.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds [-- TRANSCRIPTS.md]
//! ```
//!
//! The transcripts (`shared/protocol/phoenix-wire-transcripts.md` beside the workspace by default) record every
//! frame a real Phoenix server and phoenix.js exchanged, per connection. From them:
//!
//! - `decode_v1_json`, `decode_v2_json`: the text frames of V1 and V2 connections, one per shape (sender, event,
//!   which refs are set), the frames the server refused as malformed, and each shape again with Ferrocast's
//!   extension added, since no Phoenix frame carries one.
//! - `decode_binary`: the captured binary frames, and every V2 shape re-encoded with its payload as bytes (which
//!   gives broadcast kinds 2 and 3, never captured).
//! - `sse_reader`: each scenario's server frames as the relay's two event streams would carry them, with the three
//!   line ends, a byte order mark and keep-alive comments, under a few cuttings.
//! - `session`: each scenario's client frames in order, per connection, as `session` scripts; again with a shared
//!   socket identity, and for the `zone:*` channel.
//!
//! Every seed directory is emptied first, so running it again gives the same files.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use ferrocast_fuzz::chunks;
use ferrocast_fuzz::script::{Data, Script, Step};
use ferrocast_protocol::codec::{decode, encode};
use ferrocast_protocol::sse::{self, BINARY_EVENT, SESSION_EVENT, SUBSCRIBED_EVENT};
use ferrocast_protocol::{Encoded, Ext, Frame, Payload, Position, Sender, Vsn};

/// Where the transcripts are when no path is given: `shared/` beside the workspace.
const DEFAULT_TRANSCRIPTS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/protocol/phoenix-wire-transcripts.md");

/// The extension added to frames, as a relay would put it on a broadcast or a join reply, or a client on a join.
fn ext(recovered: Option<bool>) -> Ext {
    Ext { position: Some(Position { offset: 42, epoch: "k3f9c2a81d04e-7".to_owned() }), recovered }
}

fn main() {
    let transcripts = std::env::args().nth(1).map_or_else(|| PathBuf::from(DEFAULT_TRANSCRIPTS), PathBuf::from);
    let text = std::fs::read_to_string(&transcripts)
        .unwrap_or_else(|error| panic!("cannot read the transcripts at {}: {error}", transcripts.display()));
    let scenarios = read_transcripts(&text);
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let mut written = BTreeMap::new();
    for (target, files) in [
        ("decode_v1_json", json_seeds(&scenarios, Vsn::V1)),
        ("decode_v2_json", json_seeds(&scenarios, Vsn::V2)),
        ("decode_binary", binary_seeds(&scenarios)),
        ("sse_reader", sse_seeds(&scenarios)),
        ("session", session_seeds(&scenarios)),
    ] {
        let dir = seeds.join(target);
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir).expect("the old seeds can be removed");
        }
        std::fs::create_dir_all(&dir).expect("the seed directory can be created");
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).expect("a seed can be written");
        }
        written.insert(target, files.len());
    }
    for (target, count) in written {
        println!("{target}: {count} seeds");
    }
}

/// One `### ` section of the transcripts: the connections it opened, in order.
#[derive(Debug)]
struct Scenario {
    name: String,
    connections: Vec<Connection>,
}

/// One WebSocket connection of a scenario and what crossed it.
#[derive(Debug)]
struct Connection {
    /// The transcript's label (`A`, `M2`), or `js` for the official client's sections.
    label: String,
    vsn: Vsn,
    messages: Vec<Observed>,
}

/// One message seen on the wire.
#[derive(Debug, Clone)]
struct Observed {
    sender: Sender,
    data: Data<'static>,
}

impl Observed {
    fn decoded(&self, vsn: Vsn) -> Option<Frame> {
        decode(vsn, self.sender, self.data.as_wire()).ok()
    }
}

/// Reads the code blocks of the transcripts: `[+ 14ms] -> frame` lines of the official client, `A -> frame` lines
/// of the raw scripts, `** open`/`** connected` lines that start a connection (its `vsn` from the URL), and
/// `BINARY[n] hex=…` for binary messages. Commentary and application lines are skipped.
fn read_transcripts(text: &str) -> Vec<Scenario> {
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            scenarios.push(Scenario { name: name.trim().to_owned(), connections: Vec::new() });
            continue;
        }
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let Some(scenario) = scenarios.last_mut().filter(|_| in_code) else { continue };
        let (label, rest) = match line.strip_prefix("[+") {
            Some(timed) => ("js", timed.split_once("] ").map_or("", |(_, rest)| rest.trim_start())),
            None => line.split_once(' ').unwrap_or((line, "")),
        };
        if let Some(event) = rest.strip_prefix("** ") {
            if let Some(url) = event.strip_prefix("connected ").or_else(|| event.strip_prefix("open ")) {
                let vsn = if url.contains("vsn=2.0.0") { Vsn::V2 } else { Vsn::V1 };
                scenario.connections.push(Connection { label: label.to_owned(), vsn, messages: Vec::new() });
            }
            continue;
        }
        let (sender, frame) = match (rest.strip_prefix("-> "), rest.strip_prefix("<- ")) {
            (Some(frame), _) => (Sender::Client, frame),
            (_, Some(frame)) => (Sender::Server, frame),
            _ => continue,
        };
        let data = match frame.split_once(" hex=") {
            Some((kind, hex)) if kind.starts_with("BINARY[") => {
                Data::Binary(parse_hex(hex.split_whitespace().next().unwrap_or_default()).into())
            }
            _ => Data::Text(frame.to_owned().into()),
        };
        let connection = scenario
            .connections
            .iter_mut()
            .rev()
            .find(|connection| connection.label == label)
            .unwrap_or_else(|| panic!("a frame of {label} before its connection opened: {line}"));
        connection.messages.push(Observed { sender, data });
    }
    scenarios.retain(|scenario| !scenario.connections.is_empty());
    scenarios
}

fn parse_hex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2).map(|at| u8::from_str_radix(&hex[2 * at..2 * at + 2], 16).expect("hex digits")).collect()
}

/// What distinguishes frames for a decoder: who sent it, its event (a reply's status), which refs it has, whether it
/// has an extension and its payload's first character. Frames of one shape differ only in values.
fn shape(sender: Sender, frame: &Frame) -> String {
    let event = match frame {
        Frame::Reply(reply) => format!("phx_reply-{}", reply.status),
        Frame::Message(message) => message.event.clone(),
    };
    let first = match frame.payload() {
        Payload::Json(text) => text.chars().next().unwrap_or(' '),
        Payload::Binary(_) => 'b',
    };
    let side = side(sender);
    let refs = (frame.join_ref().is_some(), frame.r#ref().is_some(), frame.ext().is_some());
    format!("{side} {event} {refs:?} {first}")
}

fn side(sender: Sender) -> &'static str {
    match sender {
        Sender::Client => "client",
        Sender::Server => "server",
    }
}

/// A file name for a frame: `<sender>-<event>`, then a number that keeps names apart, then the extension.
fn file_name(
    sender: Sender,
    frame: Option<&Frame>,
    suffix: &str,
    seen: &mut HashSet<String>,
    extension: &str,
) -> String {
    let event = frame.map_or_else(
        || "malformed".to_owned(),
        |frame| match frame {
            Frame::Reply(reply) => format!("reply-{}", reply.status),
            Frame::Message(message) => message.event.clone(),
        },
    );
    let safe: String = event.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    let stem = format!("{}-{safe}{suffix}", side(sender));
    (1..).map(|n| format!("{stem}-{n}.{extension}")).find(|name| seen.insert(name.clone())).expect("a free name")
}

/// Every frame of the connections speaking `vsn`, decoded, one per shape, in transcript order; and the messages of
/// those connections that do not decode (the ones the server refused).
fn frames_by_shape(scenarios: &[Scenario], vsn: Vsn) -> (Vec<(Sender, Frame, Observed)>, Vec<Observed>) {
    let mut shapes = HashSet::new();
    let mut frames = Vec::new();
    let mut malformed = Vec::new();
    let connections = scenarios.iter().flat_map(|scenario| &scenario.connections);
    for connection in connections.filter(|connection| connection.vsn == vsn) {
        for observed in &connection.messages {
            match observed.decoded(vsn) {
                Some(frame) => {
                    if shapes.insert(shape(observed.sender, &frame)) {
                        frames.push((observed.sender, frame, observed.clone()));
                    }
                }
                None => malformed.push(observed.clone()),
            }
        }
    }
    (frames, malformed)
}

/// The frame with Ferrocast's extension, as each side would send it: a client on a join, a server on a reply (with
/// `recovered`) or a message.
fn with_ext(sender: Sender, frame: &Frame) -> Option<Frame> {
    let mut frame = frame.clone();
    match (&mut frame, sender) {
        (Frame::Message(message), Sender::Client) if message.event == "phx_join" => message.ext = Some(ext(None)),
        (Frame::Message(message), Sender::Server) => message.ext = Some(ext(None)),
        (Frame::Reply(reply), Sender::Server) => reply.ext = Some(ext(Some(true))),
        _ => return None,
    }
    Some(frame)
}

/// Seeds for a JSON decoder: the text frames of `vsn` connections, their extension variants, and every malformed
/// text message of the transcripts (whatever the connection, since a decoder must refuse them all).
fn json_seeds(scenarios: &[Scenario], vsn: Vsn) -> Vec<(String, Vec<u8>)> {
    let (frames, _) = frames_by_shape(scenarios, vsn);
    let (_, mut malformed) = frames_by_shape(scenarios, Vsn::V1);
    malformed.extend(frames_by_shape(scenarios, Vsn::V2).1);
    let mut seen = HashSet::new();
    let mut seeds = Vec::new();
    for (sender, frame, observed) in &frames {
        let Data::Text(text) = &observed.data else { continue };
        seeds.push((file_name(*sender, Some(frame), "", &mut seen, "json"), text.as_bytes().to_vec()));
        if let Some(Ok(Encoded::Text(text))) = with_ext(*sender, frame).map(|frame| encode(vsn, *sender, &frame)) {
            seeds.push((file_name(*sender, Some(frame), "-ext", &mut seen, "json"), text.into_bytes()));
        }
    }
    for observed in malformed {
        if let Data::Text(text) = &observed.data {
            seeds.push((file_name(observed.sender, None, "", &mut seen, "json"), text.as_bytes().to_vec()));
        }
    }
    seeds
}

/// Seeds for the binary decoder: the captured binary frames, then the V2 frames with their payloads as bytes, plain
/// and with the extension, and server messages also as broadcasts (kinds 2 and 3, never captured); one per layout
/// (sender, kind, which refs are set), since the header's values do not steer the decoder.
fn binary_seeds(scenarios: &[Scenario]) -> Vec<(String, Vec<u8>)> {
    let (frames, _) = frames_by_shape(scenarios, Vsn::V2);
    let mut seen = HashSet::new();
    let mut layouts = HashSet::new();
    let mut seeds = Vec::new();
    for (sender, frame, observed) in &frames {
        if let Data::Binary(bytes) = &observed.data {
            layouts.insert(layout(*sender, frame, bytes));
            seeds.push((file_name(*sender, Some(frame), "-captured", &mut seen, "bin"), bytes.to_vec()));
        }
    }
    for (sender, frame, _) in &frames {
        let as_bytes = with_binary_payload(frame);
        let mut variants = vec![(*sender, Some(as_bytes.clone()), ""), (*sender, with_ext(*sender, &as_bytes), "-ext")];
        if let (Sender::Server, Frame::Message(message)) = (sender, &as_bytes) {
            let broadcast = ferrocast_protocol::Message { join_ref: None, r#ref: None, ..message.clone() };
            let broadcast = Frame::Message(broadcast);
            variants.push((Sender::Server, with_ext(Sender::Server, &broadcast), "-broadcast-ext"));
            variants.push((Sender::Server, Some(broadcast), "-broadcast"));
        }
        for (sender, variant, suffix) in variants {
            let Some(variant) = variant else { continue };
            let Ok(Encoded::Binary(bytes)) = encode(Vsn::V2, sender, &variant) else { continue };
            if layouts.insert(layout(sender, &variant, &bytes)) {
                seeds.push((file_name(sender, Some(&variant), suffix, &mut seen, "bin"), bytes));
            }
        }
    }
    seeds
}

/// What distinguishes binary frames for the decoder: the sender, the kind byte and which refs are set.
fn layout(sender: Sender, frame: &Frame, bytes: &[u8]) -> (&'static str, u8, bool, bool) {
    (side(sender), bytes[0], frame.join_ref().is_some(), frame.r#ref().is_some())
}

/// The frame with its JSON payload's text as a binary payload.
fn with_binary_payload(frame: &Frame) -> Frame {
    let mut frame = frame.clone();
    let payload = match &mut frame {
        Frame::Message(message) => &mut message.payload,
        Frame::Reply(reply) => &mut reply.response,
    };
    if let Payload::Json(text) = payload {
        *payload = Payload::Binary(std::mem::take(text).into_bytes());
    }
    frame
}

/// Line ends a stream may use; the relay writes `\n`, others may not.
const LINE_ENDS: [&str; 3] = ["\n", "\r\n", "\r"];

/// A scenario's name as a file name: `v2_happy` stays, `official JS client phoenix@1.7.21, vsn=1.0.0` becomes
/// `official-js-client-phoenix-1-7-21-vsn-1-0-0`.
fn slug(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let words = lower.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').filter(|word| !word.is_empty());
    words.collect::<Vec<_>>().join("-")
}

/// Seeds for the event-stream reader: per scenario, its server frames as the topic stream (`GET /sse`) and the
/// socket stream (`GET /socket/sse`) would carry them, each with one line end and cutting.
fn sse_seeds(scenarios: &[Scenario]) -> Vec<(String, Vec<u8>)> {
    // (largest chunk, seed): one byte at a time, small random chunks, large random chunks.
    const CUTTINGS: [(usize, u8); 3] = [(1, 0), (7, 11), (256, 97)];
    let mut seeds = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        let line_end = LINE_ENDS[index % LINE_ENDS.len()];
        let with_bom = index % 4 == 3;
        let (largest, seed) = CUTTINGS[index % CUTTINGS.len()];
        let name = slug(&scenario.name);
        for (kind, stream) in [("topics", topic_stream(scenario)), ("socket", socket_stream(scenario))] {
            let Some(stream) = stream else { continue };
            let mut stream = stream.replace('\n', line_end);
            if with_bom {
                stream.insert(0, '\u{feff}');
            }
            seeds.push((format!("{kind}-{name}.sse"), chunks::input(largest, seed, stream.as_bytes())));
        }
    }
    seeds
}

/// The scenario's broadcasts as a topic stream sends them: `retry`, each topic's `ferrocast:subscribed`, then
/// events with `topic`, `event`, `data` and the `id` that holds every topic's position; `None` without broadcasts.
fn topic_stream(scenario: &Scenario) -> Option<String> {
    let broadcasts: Vec<(String, String, String)> = server_frames(scenario)
        .filter_map(|(_, frame)| match frame {
            Frame::Message(message) if message.join_ref.is_none() && message.r#ref.is_none() => {
                let Payload::Json(data) = message.payload else { return None };
                Some((message.topic, message.event, data))
            }
            _ => None,
        })
        .collect();
    let mut topics: Vec<&str> = Vec::new();
    for (topic, _, _) in &broadcasts {
        if !topics.contains(&topic.as_str()) {
            topics.push(topic);
        }
    }
    if topics.is_empty() {
        return None;
    }
    let mut stream = String::from("retry: 2713\n\n");
    for topic in &topics {
        sse::write_field(&mut stream, "topic", topic);
        sse::write_field(&mut stream, "event", SUBSCRIBED_EVENT);
        let data = format!(r#"{{"topic":"{topic}","offset":0,"epoch":"k3f9c2a81d04e-7","recovered":true}}"#);
        sse::write_field(&mut stream, "data", &data);
        stream.push('\n');
    }
    let mut offsets = vec![0u64; topics.len()];
    for (count, (topic, event, data)) in broadcasts.iter().enumerate() {
        let at = topics.iter().position(|known| known == topic).expect("listed above");
        offsets[at] += 1;
        let positions: Vec<Position> =
            offsets.iter().map(|&offset| Position { offset, epoch: "k3f9c2a81d04e-7".to_owned() }).collect();
        sse::write_field(&mut stream, "topic", topic);
        sse::write_field(&mut stream, "event", event);
        sse::write_field(&mut stream, "data", data);
        sse::write_field(&mut stream, "id", &sse::stream_id::write(positions.iter().map(Some)));
        stream.push('\n');
        if count % 3 == 2 {
            stream.push_str(": keep-alive\n\n");
        }
    }
    Some(stream)
}

/// The scenario's server frames as a socket stream sends them: `retry`, the session event, then each frame as a V2
/// frame in `data`, binary ones as `binary` events in base64; `None` when no connection speaks V2.
fn socket_stream(scenario: &Scenario) -> Option<String> {
    let mut frames = server_frames(scenario).filter(|(vsn, _)| *vsn == Vsn::V2).peekable();
    frames.peek()?;
    let mut stream = String::from("retry: 2250\n\n");
    sse::write_field(&mut stream, "event", SESSION_EVENT);
    sse::write_field(&mut stream, "data", r#"{"token":"pWc3kq0Zb9y1xR7e"}"#);
    stream.push('\n');
    for (_, frame) in frames {
        match encode(Vsn::V2, Sender::Server, &frame) {
            Ok(Encoded::Text(text)) => sse::write_field(&mut stream, "data", &text),
            Ok(Encoded::Binary(bytes)) => {
                sse::write_field(&mut stream, "event", BINARY_EVENT);
                sse::write_field(&mut stream, "data", &base64(&bytes));
            }
            Err(_) => continue,
        }
        stream.push('\n');
    }
    Some(stream)
}

/// Every server frame of the scenario that decodes, with its connection's serializer.
fn server_frames(scenario: &Scenario) -> impl Iterator<Item = (Vsn, Frame)> + '_ {
    scenario.connections.iter().flat_map(|connection| {
        connection
            .messages
            .iter()
            .filter(|observed| observed.sender == Sender::Server)
            .filter_map(|observed| Some((connection.vsn, observed.decoded(connection.vsn)?)))
    })
}

/// Standard base64 with padding (RFC 4648 §4), as the relay writes binary frames in socket streams.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let padded = [group[0], group.get(1).copied().unwrap_or(0), group.get(2).copied().unwrap_or(0)];
        let bits = u32::from_be_bytes([0, padded[0], padded[1], padded[2]]);
        for index in 0..4 {
            if index <= group.len() {
                out.push(char::from(ALPHABET[(bits >> (18 - 6 * index)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Seeds for the session: per scenario, the client messages of up to two connections in the order they were sent
/// (connections beyond two get scripts of their own), plain and with a shared socket identity; and the same for
/// the `zone:*` channel, with every permission, where the scenario joins `room:*` topics.
fn session_seeds(scenarios: &[Scenario]) -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for scenario in scenarios {
        let name = slug(&scenario.name);
        let groups: Vec<&[Connection]> = if scenario.connections.len() <= 2 {
            vec![&scenario.connections]
        } else {
            scenario.connections.chunks(1).collect()
        };
        for (group_index, group) in groups.into_iter().enumerate() {
            let script = script_of(group);
            if script.steps.is_empty() {
                continue;
            }
            let stem = format!("{name}-{}", group_index + 1);
            let shared = Script { same_socket_id: true, ..script.clone() };
            seeds.push((format!("{stem}.script"), script.to_bytes()));
            seeds.push((format!("{stem}-same-socket.script"), shared.to_bytes()));
            if let Some(zone) = in_zones(&script) {
                seeds.push((format!("{stem}-zone.script"), zone.to_bytes()));
            }
        }
    }
    seeds
}

/// The client messages of `connections` (one or two), in transcript order within each connection, the second
/// connection's interleaved after the first's in turn, which is close to the order the raw scripts sent them.
fn script_of(connections: &[Connection]) -> Script<'static> {
    let vsn = |index: usize| connections.get(index).map_or(Vsn::V2, |connection| connection.vsn);
    let mut queues: Vec<_> = connections
        .iter()
        .map(|connection| connection.messages.iter().filter(|observed| observed.sender == Sender::Client))
        .collect();
    let mut steps = Vec::new();
    loop {
        let mut any = false;
        for (connection, queue) in queues.iter_mut().enumerate() {
            if let Some(observed) = queue.next() {
                steps.push(Step { connection, reconnect: false, message: observed.data.clone() });
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    Script { vsns: [vsn(0), vsn(1)], same_socket_id: false, steps }
}

/// The script with its `room:` topics in `zone:` and every zone permission on its joins; `None` when it joins no
/// room.
fn in_zones(script: &Script<'static>) -> Option<Script<'static>> {
    let mut any_room = false;
    let steps = script
        .steps
        .iter()
        .map(|step| {
            let message = match &step.message {
                Data::Text(text) if text.contains("room:") => {
                    any_room = true;
                    let zoned = text.replace("room:", "zone:");
                    Data::Text(zoned.replace(r#""user_id":"#, r#""permissions":15,"user_id":"#).into())
                }
                other => other.clone(),
            };
            Step { message, ..step.clone() }
        })
        .collect();
    any_room.then(|| Script { steps, ..script.clone() })
}
