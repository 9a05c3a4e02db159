//! The client state machine against a scripted server, in simulated time: exact frames and events.

mod support;

use ferrocast_protocol::client::{
    Backoff, ChannelState, ClientError, ConnectionState, DropReason, Event, Options, Overflow, QueueOptions, TIMEOUT,
};
use ferrocast_protocol::{Payload, Position, Vsn};
use support::{Harness, Wire, json, reply, text};

const LOBBY_JOIN: &str = r#"["1","1","room:lobby","phx_join",{"user_id":"u1"}]"#;
const LOBBY_JOINED: &str = r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#;

/// An open socket with `room:lobby` joined with join ref "1".
fn joined(options: Options) -> (Harness, ferrocast_protocol::client::ChannelId) {
    let mut h = Harness::new(options);
    h.open();
    let lobby = h.channel("room:lobby", r#"{"user_id":"u1"}"#);
    h.join(lobby);
    assert_eq!(h.sent(), vec![LOBBY_JOIN]);
    h.server(LOBBY_JOINED);
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Joined);
    h.events();
    (h, lobby)
}

// ----- Joins, pushes and replies -----

#[test]
fn a_join_reply_and_a_push_reply_reach_their_pushes() {
    let mut h = Harness::new(Harness::phoenix_options());
    assert_eq!(h.open(), vec![]);
    let lobby = h.channel("room:lobby", r#"{"user_id":"u1"}"#);
    let join = h.join(lobby);
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Joining);
    assert_eq!(h.sent(), vec![LOBBY_JOIN]);
    h.server(LOBBY_JOINED);
    assert_eq!(h.events(), vec![Event::Open, reply(join, lobby, "ok", Some("{}"))]);

    let ping = h.push(lobby, "ping", r#"{"t":1}"#);
    assert_eq!(h.sent(), vec![r#"["1","2","room:lobby","ping",{"t":1}]"#]);
    h.server(r#"["1","2","room:lobby","phx_reply",{"response":{"t":1},"status":"ok"}]"#);
    h.server(r#"["1",null,"room:lobby","presence_state",{}]"#);
    assert_eq!(
        h.events(),
        vec![
            reply(ping, lobby, "ok", Some(r#"{"t":1}"#)),
            Event::Message {
                channel: lobby,
                event: "presence_state".into(),
                payload: json("{}"),
                r#ref: None,
                join_ref: Some("1".into()),
            },
        ]
    );
}

#[test]
fn the_api_refuses_misuse_with_errors_that_say_what_was_wrong() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    let err = h.socket.join(h.now, lobby, None).unwrap_err();
    assert_eq!(err, ClientError::AlreadyJoined("room:lobby".into()));
    assert!(err.to_string().contains("twice"));

    let fresh = h.channel("room:other", "{}");
    let err = h.socket.push(h.now, fresh, "x", json("{}"), None).unwrap_err();
    assert!(matches!(err, ClientError::NotJoined { .. }));
    assert!(err.to_string().contains("before joining"));

    let mut v1 = Harness::new(Options { vsn: Vsn::V1, ..Harness::phoenix_options() });
    let channel = v1.channel("room:bin", "{}");
    v1.join(channel);
    let err = v1.socket.push(0, channel, "bin", Payload::Binary(vec![1]), None).unwrap_err();
    assert!(err.to_string().contains("binary payloads need vsn 2.0.0"), "{err}");
}

#[test]
fn a_push_without_a_reply_times_out_at_its_deadline_and_a_late_reply_is_ignored() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    let push = h.push(lobby, "noreply", "{}");
    h.sent();
    h.advance(9_999);
    assert_eq!(h.events(), vec![]);
    h.advance(1);
    assert_eq!(h.events(), vec![reply(push, lobby, TIMEOUT, None)]);
    h.server(r#"["1","2","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    assert_eq!(h.events(), vec![]);
}

#[test]
fn a_binary_push_goes_out_as_a_binary_frame() {
    let mut h = Harness::new(Harness::phoenix_options());
    h.open();
    let channel = h.channel("room:bin", r#"{"no_presence":true}"#);
    h.join(channel);
    h.sent();
    h.server(r#"["1","1","room:bin","phx_reply",{"response":{},"status":"ok"}]"#);
    h.socket.push(h.now, channel, "bin", Payload::Binary(vec![1, 2, 3, 0xff]), None).unwrap();
    // The frame phoenix.js sent in the transcripts' v2_binary run, byte for byte.
    assert_eq!(h.wire(), vec![Wire::Hex("00010108033132726f6f6d3a62696e62696e010203ff".into())]);
}

// ----- Heartbeats -----

#[test]
fn heartbeats_follow_replies_and_a_missing_reply_closes_and_reconnects() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    h.advance(29_999);
    assert_eq!(h.sent(), Vec::<String>::new());
    h.advance(1);
    assert_eq!(h.sent(), vec![r#"[null,"2","phoenix","heartbeat",{}]"#]);
    h.advance(10);
    h.server(r#"[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]"#);
    assert_eq!(h.socket.stats(h.now).last_heartbeat_rtt_ms, Some(10));
    assert_eq!(h.events(), vec![], "a heartbeat reply is not the application's business");

    // The next heartbeat is scheduled from the reply, not from the previous heartbeat.
    h.advance(29_999);
    assert_eq!(h.sent(), Vec::<String>::new());
    h.advance(1);
    assert_eq!(h.sent(), vec![r#"[null,"3","phoenix","heartbeat",{}]"#]);

    // No reply within the interval: close, error the channel, and reconnect with phoenix.js's first delay.
    h.advance(29_999);
    assert_eq!(h.wire(), vec![]);
    h.advance(1);
    assert_eq!(h.wire(), vec![Wire::Close(1000, "heartbeat timeout".into())]);
    assert_eq!(
        h.events(),
        vec![
            Event::HeartbeatTimeout,
            Event::ChannelError { channel: lobby, reason: None },
            Event::Close { code: 1000, reason: "heartbeat timeout".into(), clean: false },
            Event::ReconnectScheduled { attempt: 1, delay_ms: 10 },
        ]
    );
    assert_eq!(h.socket.connection_state(), ConnectionState::Closed);
    h.advance(10);
    assert_eq!(h.wire(), vec![Wire::Connect]);
    h.socket.handle_open(h.now);
    assert_eq!(h.sent(), vec![r#"["4","4","room:lobby","phx_join",{"user_id":"u1"}]"#]);
}

#[test]
fn a_heartbeat_timeout_shorter_than_the_interval_detects_a_dead_link_sooner() {
    let options = Options { heartbeat_timeout_ms: Some(2_000), ..Harness::phoenix_options() };
    let (mut h, _) = joined(options);
    h.advance(30_000);
    assert_eq!(h.sent().len(), 1);
    h.advance(1_999);
    assert_eq!(h.wire(), vec![]);
    h.advance(1);
    assert_eq!(h.wire(), vec![Wire::Close(1000, "heartbeat timeout".into())]);
}

#[test]
fn a_probe_sends_a_heartbeat_now_and_expects_the_answer_within_the_probe_timeout() {
    let (mut h, _) = joined(Harness::phoenix_options());
    h.advance(100);
    h.socket.probe(h.now);
    assert_eq!(h.sent(), vec![r#"[null,"2","phoenix","heartbeat",{}]"#]);
    h.advance(4_999);
    assert_eq!(h.wire(), vec![]);
    h.advance(1);
    assert_eq!(h.wire(), vec![Wire::Close(1000, "heartbeat timeout".into())]);
}

#[test]
fn an_answered_probe_keeps_the_connection() {
    let (mut h, _) = joined(Harness::phoenix_options());
    h.socket.probe(h.now);
    h.sent();
    h.advance(20);
    h.server(r#"[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]"#);
    h.advance(10_000);
    assert_eq!(h.wire(), vec![]);
    assert!(h.socket.is_connected());
}

#[test]
fn a_probe_while_waiting_to_reconnect_reconnects_at_once() {
    let mut h = Harness::new(Options::default());
    h.open();
    h.advance(1);
    h.socket.handle_close(h.now, 1006, "");
    assert!(h.socket.stats(h.now).next_retry_in_ms.is_some());
    assert_eq!(h.wire(), vec![]);
    h.socket.probe(h.now);
    assert_eq!(h.wire(), vec![Wire::Connect]);
    assert_eq!(h.socket.stats(h.now).next_retry_in_ms, None);
}

// ----- Reconnects -----

/// Fails `attempts` connects in a row; returns each scheduled delay.
fn failed_connect_delays(h: &mut Harness, attempts: usize) -> Vec<u64> {
    let mut delays = Vec::new();
    h.socket.connect();
    assert_eq!(h.wire(), vec![Wire::Connect]);
    for _ in 0..attempts {
        h.socket.handle_close(h.now, 1006, "");
        let delay = h
            .events()
            .into_iter()
            .find_map(|event| match event {
                Event::ReconnectScheduled { delay_ms, .. } => Some(delay_ms),
                _ => None,
            })
            .expect("a reconnect is scheduled");
        delays.push(delay);
        h.advance(delay);
        assert_eq!(h.wire(), vec![Wire::Connect]);
    }
    delays
}

#[test]
fn phoenix_reconnect_schedule_is_followed_exactly_and_resets_on_open() {
    let mut h = Harness::new(Harness::phoenix_options());
    let delays = failed_connect_delays(&mut h, 11);
    assert_eq!(delays, vec![10, 50, 100, 150, 200, 250, 500, 1_000, 2_000, 5_000, 5_000]);
    h.socket.handle_open(h.now);
    h.socket.handle_close(h.now, 1006, "");
    assert!(h.events().contains(&Event::ReconnectScheduled { attempt: 1, delay_ms: 10 }));
}

#[test]
fn default_backoff_is_full_jitter_within_exponential_bounds() {
    let mut first_delays = Vec::new();
    for seed in 0..200 {
        let mut h = Harness::new(Options::default());
        h.socket = ferrocast_protocol::client::Socket::new(Options::default(), seed);
        let delays = failed_connect_delays(&mut h, 8);
        for (attempt, delay) in delays.iter().enumerate() {
            let bound = (500u64 << attempt).min(10_000);
            assert!(*delay <= bound, "seed {seed} attempt {}: {delay} > {bound}", attempt + 1);
        }
        first_delays.push(delays[0]);
    }
    // Full jitter spreads a crowd over the whole first window.
    let (min, max) = (first_delays.iter().min().unwrap(), first_delays.iter().max().unwrap());
    assert!(*min < 50 && *max > 450, "first delays span {min}..{max}");
    let mean = first_delays.iter().sum::<u64>() as f64 / first_delays.len() as f64;
    assert!((200.0..300.0).contains(&mean), "mean first delay {mean}");
}

#[test]
fn jitter_is_deterministic_under_a_seed_and_can_be_turned_off() {
    let run = |seed| {
        let mut h = Harness::new(Options::default());
        h.socket = ferrocast_protocol::client::Socket::new(Options::default(), seed);
        failed_connect_delays(&mut h, 6)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));

    let no_jitter =
        Options { reconnect: Backoff::Jittered { base_ms: 500, max_ms: 10_000, jitter: 0.0 }, ..Options::default() };
    let mut h = Harness::new(no_jitter);
    assert_eq!(failed_connect_delays(&mut h, 7), vec![500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
}

#[test]
fn a_custom_reconnect_function_gets_the_attempt_number() {
    let options =
        Options { reconnect: Backoff::Custom(Box::new(|tries| u64::from(tries) * 100)), ..Options::default() };
    let mut h = Harness::new(options);
    assert_eq!(failed_connect_delays(&mut h, 3), vec![100, 200, 300]);
}

#[test]
fn a_server_close_with_1000_does_not_reconnect_but_other_codes_do() {
    let (mut h, _) = joined(Harness::phoenix_options());
    h.socket.handle_close(h.now, 1000, "bye");
    assert!(!h.events().iter().any(|event| matches!(event, Event::ReconnectScheduled { .. })));
    h.advance(60_000);
    assert_eq!(h.wire(), vec![]);

    let (mut h, _) = joined(Harness::phoenix_options());
    h.socket.handle_close(h.now, 1001, "going away");
    assert!(h.events().contains(&Event::ReconnectScheduled { attempt: 1, delay_ms: 10 }));
}

#[test]
fn disconnect_is_clean_and_connect_rejoins() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    h.socket.disconnect(h.now, 1000, "done");
    assert_eq!(h.wire(), vec![Wire::Close(1000, "done".into())]);
    assert_eq!(
        h.events(),
        vec![
            Event::ChannelError { channel: lobby, reason: None },
            Event::Close { code: 1000, reason: "done".into(), clean: true },
        ]
    );
    h.advance(60_000);
    assert_eq!(h.wire(), vec![]);
    assert_eq!(h.open(), vec![text(r#"["2","2","room:lobby","phx_join",{"user_id":"u1"}]"#)]);
}

// ----- Channel errors, rejoins and stale frames -----

#[test]
fn phx_error_errors_the_channel_and_it_rejoins_on_the_rejoin_schedule() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    let join = h.socket.channel_join_push(lobby).unwrap();
    h.server(r#"["1","1","room:lobby","phx_error",{}]"#);
    assert_eq!(h.events(), vec![Event::ChannelError { channel: lobby, reason: Some(json("{}")) }]);
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Errored);
    h.advance(999);
    assert_eq!(h.sent(), Vec::<String>::new());
    h.advance(1);
    assert_eq!(h.sent(), vec![r#"["2","2","room:lobby","phx_join",{"user_id":"u1"}]"#]);

    // A refused rejoin waits longer: 2000 ms.
    h.server(r#"["2","2","room:lobby","phx_reply",{"response":{"reason":"busy"},"status":"error"}]"#);
    assert_eq!(h.events(), vec![reply(join, lobby, "error", Some(r#"{"reason":"busy"}"#))]);
    h.advance(1_999);
    assert_eq!(h.sent(), Vec::<String>::new());
    h.advance(1);
    assert_eq!(h.sent(), vec![r#"["3","3","room:lobby","phx_join",{"user_id":"u1"}]"#]);
    h.server(r#"["3","3","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Joined);
    assert_eq!(h.events(), vec![reply(join, lobby, "ok", Some("{}"))]);
}

#[test]
fn frames_with_a_stale_join_ref_are_ignored() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    h.server(r#"["1","1","room:lobby","phx_error",{}]"#);
    h.advance(1_000);
    assert_eq!(h.sent(), vec![r#"["2","2","room:lobby","phx_join",{"user_id":"u1"}]"#]);
    h.server(r#"["2","2","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    h.events();

    h.server(r#"["1","1","room:lobby","phx_close",{}]"#);
    h.server(r#"["1",null,"room:lobby","presence_state",{}]"#);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Joined);

    h.server(r#"[null,null,"room:lobby","new_msg",{"body":"for everyone"}]"#);
    h.server(r#"["2",null,"room:lobby","presence_state",{}]"#);
    let delivered: Vec<_> = h
        .events()
        .into_iter()
        .map(|event| match event {
            Event::Message { event, .. } => event,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(delivered, vec!["new_msg", "presence_state"]);
}

#[test]
fn a_join_timeout_leaves_then_rejoins_and_ignores_the_late_reply() {
    let mut h = Harness::new(Harness::phoenix_options());
    h.open();
    h.events();
    let lobby = h.channel("room:lobby", r#"{"user_id":"u1"}"#);
    let join = h.join(lobby);
    assert_eq!(h.sent(), vec![LOBBY_JOIN]);
    h.advance(9_999);
    assert_eq!(h.events(), vec![]);
    h.advance(1);
    assert_eq!(h.events(), vec![reply(join, lobby, TIMEOUT, None)]);
    assert_eq!(h.sent(), vec![r#"["1","2","room:lobby","phx_leave",{}]"#]);
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Errored);
    assert_eq!(h.socket.channel_join_ref(lobby), None);

    h.advance(1_000);
    assert_eq!(h.sent(), vec![r#"["3","3","room:lobby","phx_join",{"user_id":"u1"}]"#]);
    h.server(LOBBY_JOINED);
    assert_eq!(h.events(), vec![], "the reply to the abandoned join is not for the new one");
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Joining);
}

#[test]
fn a_second_channel_for_a_joined_topic_leaves_the_first() {
    let (mut h, first) = joined(Harness::phoenix_options());
    let second = h.channel("room:lobby", r#"{"user_id":"u1b"}"#);
    h.join(second);
    assert_eq!(
        h.sent(),
        vec![r#"["1","2","room:lobby","phx_leave",{}]"#, r#"["3","3","room:lobby","phx_join",{"user_id":"u1b"}]"#]
    );
    assert_eq!(h.socket.channel_state(first), ChannelState::Leaving);
    h.server(r#"["3","3","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    h.server(r#"["1","1","room:lobby","phx_close",{}]"#);
    let events = h.events();
    assert!(matches!(&events[1], Event::Reply { channel, status, .. } if *channel == first && status == "ok"));
    assert_eq!(events[2], Event::ChannelClose { channel: first });
    assert_eq!(events.len(), 3);
    assert_eq!(h.socket.channel_state(first), ChannelState::Closed);
    assert_eq!(h.socket.channel_state(second), ChannelState::Joined);
}

#[test]
fn phx_close_closes_the_channel_for_good() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    h.server(r#"["1","1","room:lobby","phx_close",{}]"#);
    assert_eq!(h.events(), vec![Event::ChannelClose { channel: lobby }]);
    // Long enough for any rejoin; the unanswered heartbeats close the connection meanwhile.
    h.advance(60_000);
    assert!(!h.wire().iter().any(|wire| matches!(wire, Wire::Text(frame) if frame.contains("phx_join"))));
    assert_eq!(h.socket.push(h.now, lobby, "x", json("{}"), None), Err(ClientError::UnknownChannel));
}

#[test]
fn v1_tells_an_old_channels_close_from_the_new_ones() {
    // phoenix.js cannot (V1 frames carry no join ref) and closes the new channel; the V1 codec reads the join ref
    // of phx_close from its ref, so only the old channel closes here.
    let mut h = Harness::new(Options { vsn: Vsn::V1, ..Harness::phoenix_options() });
    h.open();
    let first = h.channel("room:lobby", r#"{"user_id":"u1"}"#);
    h.join(first);
    assert_eq!(
        h.sent(),
        vec![r#"{"topic":"room:lobby","event":"phx_join","payload":{"user_id":"u1"},"ref":"1","join_ref":"1"}"#]
    );
    h.server(r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"room:lobby"}"#);
    let second = h.channel("room:lobby", r#"{"user_id":"u1b"}"#);
    h.join(second);
    h.sent();
    h.server(r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"3","topic":"room:lobby"}"#);
    h.server(r#"{"event":"phx_close","payload":{},"ref":"1","topic":"room:lobby"}"#);
    assert_eq!(h.socket.channel_state(first), ChannelState::Closed);
    assert_eq!(h.socket.channel_state(second), ChannelState::Joined);
    h.advance(30_000);
    assert_eq!(h.sent(), vec![r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"4"}"#]);
}

// ----- Leaving -----

#[test]
fn leave_closes_on_the_servers_reply() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    let leave = h.socket.leave(h.now, lobby, None).unwrap();
    assert_eq!(h.sent(), vec![r#"["1","2","room:lobby","phx_leave",{}]"#]);
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Leaving);
    h.server(r#"["1","2","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    h.server(r#"["1","1","room:lobby","phx_close",{}]"#);
    assert_eq!(h.events(), vec![reply(leave, lobby, "ok", Some("{}")), Event::ChannelClose { channel: lobby }]);
}

#[test]
fn leave_times_out_into_a_close() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    let leave = h.socket.leave(h.now, lobby, Some(500)).unwrap();
    h.sent();
    h.advance(500);
    assert_eq!(h.events(), vec![reply(leave, lobby, TIMEOUT, None), Event::ChannelClose { channel: lobby }]);
}

#[test]
fn leave_while_offline_closes_at_once_and_drops_waiting_pushes() {
    let mut h = Harness::new(Harness::phoenix_options());
    let lobby = h.channel("room:lobby", "{}");
    h.join(lobby);
    let push = h.push(lobby, "new_msg", "{}");
    let leave = h.socket.leave(h.now, lobby, None).unwrap();
    assert_eq!(h.wire(), vec![]);
    assert_eq!(
        h.events(),
        vec![
            Event::Reply { push: leave, channel: lobby, status: "ok".into(), response: None },
            Event::ChannelClose { channel: lobby },
            Event::Dropped { push, channel: lobby, event: "new_msg".into(), reason: DropReason::ChannelClosed },
            reply(push, lobby, TIMEOUT, None),
        ]
    );
}

#[test]
fn a_leave_in_progress_completes_when_the_connection_drops() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    let leave = h.socket.leave(h.now, lobby, None).unwrap();
    h.socket.handle_close(h.now, 1006, "");
    let events = h.events();
    assert_eq!(events[0], Event::Reply { push: leave, channel: lobby, status: "ok".into(), response: None });
    assert_eq!(events[1], Event::ChannelClose { channel: lobby });
    h.advance(10);
    h.wire();
    h.socket.handle_open(h.now);
    assert_eq!(h.wire(), vec![], "a left channel does not rejoin");
}

// ----- The offline queue -----

#[test]
fn pushes_made_while_disconnected_go_out_in_order_after_the_rejoin() {
    let (mut h, lobby) = joined(Harness::phoenix_options());
    h.socket.handle_close(h.now, 1006, "");
    h.events();
    let early: Vec<_> = (1..=3).map(|n| h.push(lobby, "new_msg", &format!(r#"{{"n":{n}}}"#))).collect();
    assert_eq!(h.wire(), vec![]);
    assert_eq!(h.socket.stats(h.now).queued_pushes, 3);

    h.advance(10);
    assert_eq!(h.wire(), vec![Wire::Connect]);
    h.socket.handle_open(h.now);
    assert_eq!(h.sent(), vec![r#"["2","2","room:lobby","phx_join",{"user_id":"u1"}]"#]);
    let while_joining = h.push(lobby, "new_msg", r#"{"n":4}"#);
    assert_eq!(h.sent(), Vec::<String>::new(), "nothing goes out before the join is confirmed");

    h.server(r#"["2","2","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    assert_eq!(
        h.sent(),
        vec![
            r#"["2","3","room:lobby","new_msg",{"n":1}]"#,
            r#"["2","4","room:lobby","new_msg",{"n":2}]"#,
            r#"["2","5","room:lobby","new_msg",{"n":3}]"#,
            r#"["2","6","room:lobby","new_msg",{"n":4}]"#,
        ]
    );
    assert_eq!(h.socket.stats(h.now).queued_pushes, 0);
    h.events();
    for (n, push) in early.iter().chain([&while_joining]).enumerate() {
        h.server(&format!(r#"["2","{}","room:lobby","phx_reply",{{"response":{{}},"status":"ok"}}]"#, n + 3));
        assert_eq!(h.events(), vec![reply(*push, lobby, "ok", Some("{}"))]);
    }
}

#[test]
fn queued_pushes_survive_several_failed_reconnects() {
    let options = Options {
        queue: QueueOptions { ttl_ms: Some(60_000), ..QueueOptions::default() },
        ..Harness::phoenix_options()
    };
    let (mut h, lobby) = joined(options);
    h.socket.handle_close(h.now, 1006, "");
    h.push(lobby, "new_msg", r#"{"n":1}"#);
    for delay in [10, 50, 100] {
        h.advance(delay);
        assert_eq!(h.wire(), vec![Wire::Connect]);
        h.socket.handle_close(h.now, 1006, "");
    }
    h.advance(150);
    h.wire();
    h.socket.handle_open(h.now);
    h.sent();
    h.server(r#"["2","2","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    assert_eq!(h.sent(), vec![r#"["2","3","room:lobby","new_msg",{"n":1}]"#]);
}

fn offline_with_queue(queue: QueueOptions) -> (Harness, ferrocast_protocol::client::ChannelId) {
    let mut h = Harness::new(Options { queue, ..Harness::phoenix_options() });
    let lobby = h.channel("room:lobby", "{}");
    h.join(lobby);
    (h, lobby)
}

#[test]
fn a_full_queue_rejects_the_new_push_and_says_so() {
    let (mut h, lobby) = offline_with_queue(QueueOptions { max_messages: 2, ..QueueOptions::default() });
    h.push(lobby, "m", "1");
    h.push(lobby, "m", "2");
    let third = h.push(lobby, "m", "3");
    assert_eq!(
        h.events(),
        vec![
            Event::Dropped { push: third, channel: lobby, event: "m".into(), reason: DropReason::QueueFull },
            reply(third, lobby, TIMEOUT, None),
        ]
    );
    assert_eq!(h.socket.stats(h.now).queued_pushes, 2);
}

#[test]
fn drop_oldest_makes_room_and_reports_each_push_it_drops() {
    let queue = QueueOptions { max_messages: 2, overflow: Overflow::DropOldest, ..QueueOptions::default() };
    let (mut h, lobby) = offline_with_queue(queue);
    let first = h.push(lobby, "m", "1");
    h.push(lobby, "m", "2");
    h.push(lobby, "m", "3");
    assert_eq!(
        h.events(),
        vec![
            Event::Dropped { push: first, channel: lobby, event: "m".into(), reason: DropReason::QueueFull },
            reply(first, lobby, TIMEOUT, None),
        ]
    );
    assert_eq!(h.open(), vec![text(r#"["1","1","room:lobby","phx_join",{}]"#)]);
    h.server(r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    assert_eq!(h.sent(), vec![r#"["1","2","room:lobby","m",2]"#, r#"["1","3","room:lobby","m",3]"#]);
}

#[test]
fn the_byte_limit_counts_event_and_payload() {
    // "m" + "123456789" = 10 bytes each.
    let (mut h, lobby) = offline_with_queue(QueueOptions { max_bytes: 25, ..QueueOptions::default() });
    h.push(lobby, "m", "123456789");
    h.push(lobby, "m", "123456789");
    assert_eq!(h.socket.stats(h.now).queued_bytes, 20);
    let third = h.push(lobby, "m", "123456789");
    assert!(h.events().contains(&Event::Dropped {
        push: third,
        channel: lobby,
        event: "m".into(),
        reason: DropReason::QueueFull
    }));
    let small = h.push(lobby, "m", "1234");
    assert_eq!(h.events(), vec![], "a push that fits still gets in");
    assert_eq!(h.socket.stats(h.now).queued_bytes, 25);
    let _ = small;
}

#[test]
fn a_queued_push_expires_after_its_time_to_live() {
    let (mut h, lobby) = offline_with_queue(QueueOptions { ttl_ms: Some(5_000), ..QueueOptions::default() });
    let push = h.push(lobby, "m", "1");
    h.advance(4_999);
    assert_eq!(h.events(), vec![]);
    h.advance(1);
    assert_eq!(
        h.events(),
        vec![
            Event::Dropped { push, channel: lobby, event: "m".into(), reason: DropReason::Expired },
            reply(push, lobby, TIMEOUT, None),
        ]
    );
    assert_eq!(h.socket.stats(h.now).queued_pushes, 0);
}

#[test]
fn without_a_ttl_a_queued_push_lives_as_long_as_its_timeout_as_in_phoenix_js() {
    let (mut h, lobby) = offline_with_queue(QueueOptions::default());
    let push = h.socket.push(h.now, lobby, "m", json("1"), Some(3_000)).unwrap();
    h.advance(2_999);
    assert_eq!(h.events(), vec![]);
    h.advance(1);
    assert!(h.events().contains(&reply(push, lobby, TIMEOUT, None)));
}

// ----- Recovery positions (Ferrocast's extension) -----

#[test]
fn the_last_position_is_offered_on_rejoin_and_an_incomplete_recovery_is_reported() {
    let mut h = Harness::new(Options { reconnect: Backoff::phoenix_reconnect(), ..Options::default() });
    h.open();
    let lobby = h.channel("room:lobby", "{}");
    let join = h.join(lobby);
    assert_eq!(h.sent(), vec![r#"["1","1","room:lobby","phx_join",{},{}]"#]);
    h.server(r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":4,"epoch":"e1","recovered":true}]"#);
    assert_eq!(h.socket.channel_position(lobby), Some(&Position { offset: 4, epoch: "e1".into() }));
    h.server(r#"[null,null,"room:lobby","new_msg",{"n":5},{"offset":5,"epoch":"e1"}]"#);
    assert_eq!(h.socket.channel_position(lobby), Some(&Position { offset: 5, epoch: "e1".into() }));
    h.events();

    h.socket.handle_close(h.now, 1006, "");
    h.advance(10);
    h.wire();
    h.socket.handle_open(h.now);
    assert_eq!(h.sent(), vec![r#"["2","2","room:lobby","phx_join",{},{"offset":5,"epoch":"e1"}]"#]);
    h.events();
    h.server(r#"["2","2","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":9,"epoch":"e2","recovered":false}]"#);
    let position = Position { offset: 9, epoch: "e2".into() };
    assert_eq!(
        h.events(),
        vec![
            Event::RecoveryIncomplete { channel: lobby, position: Some(position.clone()) },
            reply(join, lobby, "ok", Some("{}")),
        ]
    );
    assert_eq!(h.socket.channel_position(lobby), Some(&position));
}

#[test]
fn a_relay_that_lost_broadcasts_errors_the_channel_and_its_rejoin_offers_the_last_position() {
    // What a Ferrocast relay on Redis sends a positioned channel when broadcasts were lost for good.
    let mut h = Harness::new(Options::default());
    h.open();
    let lobby = h.channel("room:lobby", "{}");
    h.join(lobby);
    h.sent();
    h.server(r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":4,"epoch":"e1","recovered":null}]"#);
    h.server(r#"[null,null,"room:lobby","new_msg",{"n":5},{"offset":5,"epoch":"e1"}]"#);
    h.events();

    h.server(r#"["1","1","room:lobby","phx_error",{"reason":"missed broadcasts"}]"#);
    let reason = Some(json(r#"{"reason":"missed broadcasts"}"#));
    assert_eq!(h.events(), vec![Event::ChannelError { channel: lobby, reason }]);
    h.advance(1_000);
    assert_eq!(h.sent(), vec![r#"["2","2","room:lobby","phx_join",{},{"offset":5,"epoch":"e1"}]"#]);
    h.server(r#"["2","2","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":9,"epoch":"e1","recovered":false}]"#);
    let position = Position { offset: 9, epoch: "e1".into() };
    let events = h.events();
    assert_eq!(events[0], Event::RecoveryIncomplete { channel: lobby, position: Some(position.clone()) });
    assert_eq!(h.socket.channel_state(lobby), ChannelState::Joined);
    assert_eq!(h.socket.channel_position(lobby), Some(&position));
}

#[test]
fn with_recovery_off_joins_are_exactly_phoenix_js_frames() {
    let mut h = Harness::new(Harness::phoenix_options());
    h.open();
    let lobby = h.channel("room:lobby", "{}");
    h.join(lobby);
    assert_eq!(h.wire(), vec![text(r#"["1","1","room:lobby","phx_join",{}]"#)]);
}

// ----- Pushes sent again after a lost connection -----

#[test]
fn an_unacknowledged_push_is_sent_again_with_its_ref_when_the_server_deduplicates() {
    let mut h = Harness::new(Options { reconnect: Backoff::phoenix_reconnect(), ..Options::default() });
    h.open();
    let lobby = h.channel("room:lobby", "{}");
    h.join(lobby);
    h.wire();
    h.server(r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":0,"epoch":"e1"}]"#);
    let acked = h.push(lobby, "n", r#"{"n":1}"#);
    let lost = h.push(lobby, "n", r#"{"n":2}"#);
    assert_eq!(h.sent(), vec![r#"["1","2","room:lobby","n",{"n":1}]"#, r#"["1","3","room:lobby","n",{"n":2}]"#]);
    h.server(r#"["1","2","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    h.events();

    h.socket.handle_close(h.now, 1006, "");
    let offline = h.push(lobby, "n", r#"{"n":3}"#);
    assert_eq!(h.socket.stats(h.now).queued_pushes, 2, "the unacknowledged push waits with the one pushed offline");
    h.advance(10);
    h.wire();
    h.socket.handle_open(h.now);
    assert_eq!(h.sent(), vec![r#"["4","4","room:lobby","phx_join",{},{"offset":0,"epoch":"e1"}]"#]);
    h.server(r#"["4","4","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":0,"epoch":"e1","recovered":true}]"#);
    // The lost push goes first, with the ref it had; the one pushed offline gets a new ref.
    assert_eq!(h.sent(), vec![r#"["4","3","room:lobby","n",{"n":2}]"#, r#"["4","5","room:lobby","n",{"n":3}]"#]);
    h.events();
    h.server(r#"["4","3","room:lobby","phx_reply",{"response":{"seen":2},"status":"ok"}]"#);
    h.server(r#"["4","5","room:lobby","phx_reply",{"response":{"seen":3},"status":"ok"}]"#);
    assert_eq!(
        h.events(),
        vec![reply(lost, lobby, "ok", Some(r#"{"seen":2}"#)), reply(offline, lobby, "ok", Some(r#"{"seen":3}"#))]
    );
    assert_ne!(acked, lost);
}

#[test]
fn each_channel_sends_its_unacknowledged_pushes_again_in_the_order_they_were_made() {
    // A push queued before its channel joined is older than a push another channel sent meanwhile, but is sent
    // after it: the order sent and the order made differ across channels, never within one.
    let mut h = Harness::new(Options { reconnect: Backoff::phoenix_reconnect(), ..Options::default() });
    h.open();
    let lobby = h.channel("room:lobby", "{}");
    let chat = h.channel("room:chat", "{}");
    h.join(lobby);
    h.join(chat);
    h.server(r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":0,"epoch":"e1"}]"#);
    h.push(chat, "c", r#"{"n":1}"#);
    h.push(lobby, "l", r#"{"n":1}"#);
    h.server(r#"["2","2","room:chat","phx_reply",{"response":{},"status":"ok"},{"offset":0,"epoch":"e1"}]"#);
    h.push(lobby, "l", r#"{"n":2}"#);
    h.push(chat, "c", r#"{"n":2}"#);
    assert_eq!(
        h.sent()[2..],
        [
            r#"["1","3","room:lobby","l",{"n":1}]"#,
            r#"["2","4","room:chat","c",{"n":1}]"#,
            r#"["1","5","room:lobby","l",{"n":2}]"#,
            r#"["2","6","room:chat","c",{"n":2}]"#,
        ]
    );
    h.events();

    h.socket.handle_close(h.now, 1006, "");
    assert_eq!(h.socket.stats(h.now).queued_pushes, 4);
    h.advance(10);
    h.wire();
    h.socket.handle_open(h.now);
    h.sent();
    h.server(
        r#"["8","8","room:chat","phx_reply",{"response":{},"status":"ok"},{"offset":0,"epoch":"e1","recovered":true}]"#,
    );
    assert_eq!(h.sent(), [r#"["8","4","room:chat","c",{"n":1}]"#, r#"["8","6","room:chat","c",{"n":2}]"#]);
    h.server(r#"["7","7","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":0,"epoch":"e1","recovered":true}]"#);
    assert_eq!(h.sent(), [r#"["7","3","room:lobby","l",{"n":1}]"#, r#"["7","5","room:lobby","l",{"n":2}]"#]);
}

#[test]
fn a_resent_push_keeps_its_first_reply_deadline() {
    let mut h = Harness::new(Options { reconnect: Backoff::phoenix_reconnect(), ..Options::default() });
    h.open();
    let lobby = h.channel("room:lobby", "{}");
    h.join(lobby);
    h.server(r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":0,"epoch":"e1"}]"#);
    let push = h.socket.push(h.now, lobby, "n", json("{}"), Some(1_000)).expect("push");
    h.wire();
    h.events();
    h.advance(600);
    h.socket.handle_close(h.now, 1006, "");
    h.advance(10);
    h.wire();
    h.socket.handle_open(h.now);
    h.server(r#"["3","3","room:lobby","phx_reply",{"response":{},"status":"ok"},{"offset":0,"epoch":"e1","recovered":true}]"#);
    assert!(h.sent().contains(&r#"["3","2","room:lobby","n",{}]"#.to_owned()));
    h.events();
    h.advance(389);
    assert_eq!(h.events(), vec![]);
    h.advance(1);
    assert_eq!(h.events(), vec![reply(push, lobby, TIMEOUT, None)], "one timeout, 1 000 ms after the first send");
}

#[test]
fn without_the_extension_an_unacknowledged_push_is_not_sent_again_as_with_phoenix_js() {
    let mut h = Harness::new(Options { reconnect: Backoff::phoenix_reconnect(), ..Options::default() });
    h.open();
    let lobby = h.channel("room:lobby", "{}");
    h.join(lobby);
    // A Phoenix server ignores the extension and answers without one: it may have handled the push already.
    h.server(r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    let push = h.push(lobby, "n", "{}");
    h.wire();
    h.socket.handle_close(h.now, 1006, "");
    h.advance(10);
    h.wire();
    h.socket.handle_open(h.now);
    assert_eq!(h.sent(), vec![r#"["3","3","room:lobby","phx_join",{},{}]"#]);
    h.server(r#"["3","3","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#);
    assert_eq!(h.sent(), Vec::<String>::new());
    h.events();
    h.advance(10_000);
    assert_eq!(h.events(), vec![reply(push, lobby, TIMEOUT, None)]);
}
