//! Random sequences of inputs: the machine never panics, and every push ends in exactly one reply.

use ferrocast_protocol::client::{ChannelId, Event, Options, Overflow, PushId, QueueOptions, Socket, Transmit};
use ferrocast_protocol::{Frame, Message, Payload, Reply};
use proptest::prelude::*;
use std::collections::HashMap;

const TOPICS: [&str; 2] = ["room:a", "room:b"];

/// One input, with indices resolved against what exists when it is applied.
#[derive(Debug, Clone)]
enum Input {
    Connect,
    Open,
    Close(u16),
    Disconnect,
    Probe,
    NewChannel(usize),
    Join(usize),
    Push(usize, u16),
    Leave(usize),
    /// The server replies to the n-th ref the client sent, with this status.
    ServerReply(usize, bool),
    /// The server sends an event to a topic with one of the recent join refs (or none).
    ServerEvent(usize, Option<usize>, u8),
    Advance(u32),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        Just(Input::Connect),
        Just(Input::Open),
        prop_oneof![Just(1000u16), Just(1001), Just(1006)].prop_map(Input::Close),
        Just(Input::Disconnect),
        Just(Input::Probe),
        (0..2usize).prop_map(Input::NewChannel),
        (0..4usize).prop_map(Input::Join),
        (0..4usize, 0..500u16).prop_map(|(channel, size)| Input::Push(channel, size)),
        (0..4usize).prop_map(Input::Leave),
        (0..64usize, any::<bool>()).prop_map(|(n, ok)| Input::ServerReply(n, ok)),
        (0..2usize, proptest::option::of(0..8usize), 0..3u8).prop_map(|(t, j, e)| Input::ServerEvent(t, j, e)),
        prop_oneof![0..50u32, 0..2_000u32, 0..40_000u32].prop_map(Input::Advance),
    ]
}

/// The (join_ref, ref, topic) of every frame the client sent, parsed back from V2 text.
fn sent_refs(transmit: &Transmit) -> Option<(Option<String>, Option<String>, String)> {
    let Transmit::Send(ferrocast_protocol::Encoded::Text(text)) = transmit else { return None };
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let field = |i: usize| value.get(i).and_then(|v| v.as_str()).map(str::to_owned);
    Some((field(0), field(1), field(2)?))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_push_ends_in_exactly_one_reply(inputs in proptest::collection::vec(input(), 1..120)) {
        let queue = QueueOptions { max_messages: 4, max_bytes: 1_200, ttl_ms: None, overflow: Overflow::DropOldest };
        let mut socket: Socket<Payload> = Socket::new(Options { queue, ..Options::default() }, 1);
        let mut now = 0u64;
        let mut channels: Vec<ChannelId> = Vec::new();
        let mut sent: Vec<(Option<String>, Option<String>, String)> = Vec::new();
        let mut pushes: Vec<PushId> = Vec::new();
        let mut replies: HashMap<PushId, usize> = HashMap::new();

        let drain = |socket: &mut Socket<Payload>, sent: &mut Vec<_>, replies: &mut HashMap<PushId, usize>| {
            while let Some(transmit) = socket.poll_transmit() {
                sent.extend(sent_refs(&transmit));
            }
            while let Some(event) = socket.poll_event() {
                if let Event::Reply { push, .. } = event {
                    *replies.entry(push).or_default() += 1;
                }
            }
        };

        for input in inputs {
            match input {
                Input::Connect => socket.connect(),
                Input::Open => socket.handle_open(now),
                Input::Close(code) => socket.handle_close(now, code, ""),
                Input::Disconnect => socket.disconnect(now, 1000, ""),
                Input::Probe => socket.probe(now),
                Input::NewChannel(topic) => channels.push(socket.channel(TOPICS[topic], Payload::empty())),
                Input::Join(i) => if let Some(&channel) = channels.get(i) { let _ = socket.join(now, channel, None); },
                Input::Push(i, size) => if let Some(&channel) = channels.get(i) {
                    let payload = Payload::Json(format!("\"{}\"", "x".repeat(size as usize)));
                    if let Ok(push) = socket.push(now, channel, "msg", payload, None) { pushes.push(push); }
                },
                Input::Leave(i) => if let Some(&channel) = channels.get(i) { let _ = socket.leave(now, channel, None); },
                Input::ServerReply(n, ok) => if let Some((join_ref, r#ref, topic)) = sent.get(n).cloned() {
                    let status = if ok { "ok" } else { "error" }.to_owned();
                    let reply = Reply { join_ref, r#ref, topic, status, response: Payload::empty(), ext: None };
                    socket.handle_frame(now, Frame::Reply(reply));
                },
                Input::ServerEvent(topic, join_ref, kind) => {
                    let join_ref = join_ref.and_then(|n| sent.get(n)).and_then(|(join_ref, ..)| join_ref.clone());
                    let event = ["phx_close", "phx_error", "new_msg"][kind as usize].to_owned();
                    let message = Message {
                        join_ref, r#ref: None, topic: TOPICS[topic].to_owned(), event,
                        payload: Payload::empty(), ext: None,
                    };
                    socket.handle_frame(now, Frame::Message(message));
                }
                Input::Advance(ms) => {
                    let target = now + u64::from(ms);
                    while let Some(due) = socket.poll_timeout().filter(|&due| due <= target) {
                        prop_assert!(due >= now, "a timeout in the past: {due} < {now}");
                        now = due;
                        socket.handle_timeout(now);
                        drain(&mut socket, &mut sent, &mut replies);
                    }
                    now = target;
                }
            }
            drain(&mut socket, &mut sent, &mut replies);
            for push in &pushes {
                let count = replies.get(push).copied().unwrap_or(0);
                prop_assert!(count <= 1, "{push:?} got {count} replies");
            }
        }

        // Silence from here on: whatever is still waiting must end by its timeout.
        socket.disconnect(now, 1000, "");
        now += 3_600_000;
        socket.handle_timeout(now);
        drain(&mut socket, &mut sent, &mut replies);
        for push in &pushes {
            prop_assert_eq!(replies.get(push).copied().unwrap_or(0), 1, "{:?} did not end in exactly one reply", push);
        }
        prop_assert_eq!(socket.stats(now).queued_pushes, 0);
        prop_assert_eq!(socket.stats(now).awaiting_reply, 0);
    }
}
