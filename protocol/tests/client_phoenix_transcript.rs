//! Replays the official phoenix.js 1.7.21 session recorded in `shared/protocol/phoenix-wire-transcripts.md`
//! ("official JS client, vsn=2.0.0", heartbeatIntervalMs=1000, rejoinAfterMs=500) through the state machine: the
//! server's frames go in at their recorded times, the application's calls are made at theirs, and every frame the
//! machine sends must be exactly the frame phoenix.js sent, in the same order, by the time phoenix.js sent it.

mod support;

use ferrocast_protocol::client::{Backoff, ChannelId, ChannelState, Options};
use support::Harness;

/// One line of the session.
enum Step {
    /// The client must have sent this frame by now.
    Sent(&'static str),
    /// The server sends this frame now.
    Received(&'static str),
    /// The application acts now.
    App(fn(&mut Session)),
}

struct Session {
    harness: Harness,
    first: Option<ChannelId>,
    second: Option<ChannelId>,
    unknown: Option<ChannelId>,
}

impl Session {
    /// phoenix.js's refs also number its callbacks: this consumes the refs the recorded app spent that way.
    fn spend_refs(&mut self, count: usize) {
        for _ in 0..count {
            self.harness.socket.make_ref();
        }
    }
}

fn recorded_session() -> Vec<(u64, Step)> {
    use Step::*;
    vec![
        (
            14,
            App(|s| {
                s.spend_refs(2);
                let channel = s.harness.channel("room:lobby", r#"{"user_id":"u1"}"#);
                s.harness.join(channel);
                s.first = Some(channel);
            }),
        ),
        (14, Sent(r#"["3","3","room:lobby","phx_join",{"user_id":"u1"}]"#)),
        (17, Received(r#"["3","3","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#)),
        (
            18,
            Received(
                r#"[null,null,"room:lobby","presence_diff",{"joins":{"u1":{"metas":[{"online_at":1795334901,"phx_ref":"GOpPlMGEJflLOAcB"}]}},"leaves":{}}]"#,
            ),
        ),
        (
            18,
            Received(
                r#"["3",null,"room:lobby","presence_state",{"u1":{"metas":[{"online_at":1795334901,"phx_ref":"GOpPlMGEJflLOAcB"}]}}]"#,
            ),
        ),
        (
            227,
            App(|s| {
                let channel = s.first.unwrap();
                s.harness.push(channel, "ping", r#"{"t":1}"#);
            }),
        ),
        (227, Sent(r#"["3","4","room:lobby","ping",{"t":1}]"#)),
        (236, Received(r#"["3","4","room:lobby","phx_reply",{"response":{"t":1},"status":"ok"}]"#)),
        (
            236,
            App(|s| {
                let channel = s.first.unwrap();
                s.harness.push(channel, "new_msg", r#"{"body":"hello"}"#);
            }),
        ),
        (236, Sent(r#"["3","5","room:lobby","new_msg",{"body":"hello"}]"#)),
        (244, Received(r#"[null,null,"room:lobby","new_msg",{"body":"hello"}]"#)),
        (244, Received(r#"["3","5","room:lobby","phx_reply",{"response":{"body":"hello"},"status":"ok"}]"#)),
        (1025, Sent(r#"[null,"6","phoenix","heartbeat",{}]"#)),
        (1026, Received(r#"[null,"6","phoenix","phx_reply",{"response":{},"status":"ok"}]"#)),
        (
            1545,
            App(|s| {
                s.spend_refs(2);
                let channel = s.harness.channel("room:lobby", r#"{"user_id":"u1b"}"#);
                s.harness.join(channel);
                s.second = Some(channel);
            }),
        ),
        (1546, Sent(r#"["3","9","room:lobby","phx_leave",{}]"#)),
        (1547, Sent(r#"["10","10","room:lobby","phx_join",{"user_id":"u1b"}]"#)),
        (1548, Received(r#"["10","10","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#)),
        (1548, Received(r#"["3","3","room:lobby","phx_close",{}]"#)),
        (
            1548,
            App(|s| {
                // The old channel object closed; the new one, which shares its topic, did not.
                assert_eq!(s.harness.socket.channel_state(s.first.unwrap()), ChannelState::Closed);
                assert_eq!(s.harness.socket.channel_state(s.second.unwrap()), ChannelState::Joined);
            }),
        ),
        (
            1548,
            Received(
                r#"[null,null,"room:lobby","presence_diff",{"joins":{"u1b":{"metas":[{"online_at":1795334903,"phx_ref":"GOpPlRyzahFLOAch"}]}},"leaves":{}}]"#,
            ),
        ),
        (
            1548,
            Received(
                r#"["10",null,"room:lobby","presence_state",{"u1b":{"metas":[{"online_at":1795334903,"phx_ref":"GOpPlRyzahFLOAch"}]}}]"#,
            ),
        ),
        (
            1848,
            App(|s| {
                let channel = s.second.unwrap();
                s.harness.push(channel, "crash", "{}");
            }),
        ),
        (1848, Sent(r#"["10","11","room:lobby","crash",{}]"#)),
        (1850, Received(r#"["10","10","room:lobby","phx_error",{}]"#)),
        (1850, App(|s| assert_eq!(s.harness.socket.channel_state(s.second.unwrap()), ChannelState::Errored))),
        (2026, Sent(r#"[null,"12","phoenix","heartbeat",{}]"#)),
        (2027, Received(r#"[null,"12","phoenix","phx_reply",{"response":{},"status":"ok"}]"#)),
        // rejoinAfterMs = 500 after the error at 1850.
        (2351, Sent(r#"["13","13","room:lobby","phx_join",{"user_id":"u1b"}]"#)),
        (2352, Received(r#"["13","13","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#)),
        (
            2352,
            Received(
                r#"[null,null,"room:lobby","presence_diff",{"joins":{"u1b":{"metas":[{"online_at":1795334904,"phx_ref":"GOpPlUyhxOpLOAdB"}]}},"leaves":{}}]"#,
            ),
        ),
        (
            2353,
            Received(
                r#"["13",null,"room:lobby","presence_state",{"u1b":{"metas":[{"online_at":1795334904,"phx_ref":"GOpPlUyhxOpLOAdB"}]}}]"#,
            ),
        ),
        (3028, Sent(r#"[null,"14","phoenix","heartbeat",{}]"#)),
        (3028, Received(r#"[null,"14","phoenix","phx_reply",{"response":{},"status":"ok"}]"#)),
        (
            3049,
            App(|s| {
                s.spend_refs(2);
                let channel = s.harness.channel("nope:1", "{}");
                s.harness.join(channel);
                s.unknown = Some(channel);
            }),
        ),
        (3049, Sent(r#"["17","17","nope:1","phx_join",{}]"#)),
        (
            3051,
            Received(r#"[null,"17","nope:1","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#),
        ),
        (
            3265,
            App(|s| {
                let now = s.harness.now;
                s.harness.socket.leave(now, s.unknown.unwrap(), None).unwrap();
            }),
        ),
        (3265, Sent(r#"["17","18","nope:1","phx_leave",{}]"#)),
        (3265, Received(r#"["17","18","nope:1","phx_reply",{"response":{},"status":"ok"}]"#)),
        (
            3566,
            App(|s| {
                let now = s.harness.now;
                s.harness.socket.leave(now, s.second.unwrap(), None).unwrap();
            }),
        ),
        (3566, Sent(r#"["13","19","room:lobby","phx_leave",{}]"#)),
        (3567, Received(r#"["13","19","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#)),
        (3567, Received(r#"["13","13","room:lobby","phx_close",{}]"#)),
        (3567, App(|s| assert_eq!(s.harness.socket.channel_state(s.second.unwrap()), ChannelState::Closed))),
    ]
}

#[test]
fn the_machine_sends_what_phoenix_js_sent() {
    let options = Options {
        heartbeat_interval_ms: 1_000,
        rejoin: Backoff::Schedule { steps: vec![], then_ms: 500 },
        ..Harness::phoenix_options()
    };
    let mut session = Session { harness: Harness::new(options), first: None, second: None, unknown: None };
    session.harness.now = 25; // The transport opened between the 5 ms connect and the 14 ms join.
    assert!(session.harness.open().is_empty());

    let mut pending_sent = std::collections::VecDeque::new();
    for (at, step) in recorded_session() {
        session.harness.advance(at.saturating_sub(session.harness.now));
        pending_sent.extend(session.harness.sent());
        match step {
            Step::Sent(frame) => {
                let sent = pending_sent.pop_front();
                assert_eq!(sent.as_deref(), Some(frame), "at {at} ms");
            }
            Step::Received(frame) => session.harness.server(frame),
            Step::App(act) => act(&mut session),
        }
    }
    pending_sent.extend(session.harness.sent());
    assert!(pending_sent.is_empty(), "sent more than phoenix.js did: {pending_sent:?}");
}
