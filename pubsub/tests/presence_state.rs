//! A large topic's `presence_state`, pushed with `Context::push_presence_state`: the same text as Phoenix's, queued
//! in parts the joiners of a storm share.

use ferrocast_protocol::{Payload, Vsn, WireData};
use ferrocast_pubsub::{Backend, Hub, Identity, OutFrame, Outbox, OutboxLimits, PresenceHub, Router, Session};
use ferrocast_pubsub::{Channel, Context, Outcome};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Tracks each joiner under the join's `user_id` and pushes the state, as the relay's `room:*` does.
struct Room;

impl Channel for Room {
    fn join(&self, ctx: &mut Context<'_>, params: &Payload) -> Result<Payload, Payload> {
        let Payload::Json(params) = params else { return Err(Payload::empty()) };
        let params: Value = serde_json::from_str(params).unwrap();
        let mut meta = Map::new();
        meta.insert("online_at".to_owned(), Value::from(1));
        ctx.track(params["user_id"].as_str().unwrap(), meta);
        ctx.push_presence_state();
        Ok(Payload::empty())
    }

    fn handle_in(&self, _ctx: &mut Context<'_>, _event: &str, _payload: Payload) -> Outcome {
        Outcome::NoReply
    }
}

/// The frames queued for `outbox` so far.
async fn queued(outbox: &Outbox) -> Vec<OutFrame> {
    let mut batch = Vec::new();
    outbox.next_batch(&mut batch).await.unwrap();
    batch
}

#[tokio::test]
async fn a_storms_states_are_phoenix_text_in_parts_the_joiners_share() {
    const MEMBERS: usize = 400;
    let hub = Arc::new(Hub::new());
    let presence = PresenceHub::new(hub.clone(), Duration::from_secs(60));
    let backend = Arc::new(Backend::new(hub, presence.clone(), Router::new().channel("room:*", Room)));
    let mut states = Vec::new();
    let mut sessions = Vec::new();
    for n in 0..MEMBERS {
        let vsn = if n % 2 == 0 { Vsn::V2 } else { Vsn::V1 };
        let outbox = Arc::new(Outbox::new(OutboxLimits::default()));
        let mut session = Session::new(backend.clone(), HashMap::new(), vsn, outbox.clone(), Identity::Anonymous);
        let join = match vsn {
            Vsn::V2 => format!(r#"["{n}","1","room:storm","phx_join",{{"user_id":"u{n}"}}]"#),
            Vsn::V1 => format!(
                r#"{{"topic":"room:storm","event":"phx_join","payload":{{"user_id":"u{n}"}},"ref":"1","join_ref":"{n}"}}"#
            ),
        };
        session.handle(WireData::Text(&join)).unwrap();
        let frames = queued(&outbox).await;
        assert_eq!(frames.len(), 2, "the reply, then the state");
        let state = frames[1].clone();
        let expected = match vsn {
            Vsn::V2 => format!(r#"["{n}",null,"room:storm","presence_state",{}]"#, presence.state("room:storm")),
            Vsn::V1 => format!(
                r#"{{"event":"presence_state","payload":{},"ref":null,"topic":"room:storm"}}"#,
                presence.state("room:storm")
            ),
        };
        assert_eq!(String::from_utf8(state.contiguous().to_vec()).unwrap(), expected, "member {n}");
        assert_eq!(state.len(), expected.len());
        states.push(state);
        sessions.push(session);
    }
    // The last state is tens of KB: in parts, the sealed ones the very bytes the earlier joiners were queued.
    let (last, before) = (&states[MEMBERS - 1], &states[MEMBERS - 2]);
    assert!(last.rest.as_ref().is_some_and(|rest| rest.len() > 3), "in parts");
    let shared: Vec<*const u8> = last.parts().skip(1).map(|part| part.as_ptr()).collect();
    let sealed = before.parts().count() - 3;
    assert!(sealed > 1);
    for part in before.parts().skip(1).take(sealed) {
        assert!(shared.contains(&part.as_ptr()), "a sealed chunk is shared, not copied");
    }
}
