//! `room:*`: chat with presence, answering exactly as the reference channel of the Phoenix transcripts does, so
//! the same client code and the same test scripts work against Phoenix and against Ferrocast.
//!
//! - join: refused for `room:forbidden` (`unauthorized`); otherwise `ok {}`, and unless the params say
//!   `"no_presence": true`, presence is tracked under the token's `sub` or, in dev mode, the param `user_id`
//!   (meta `online_at`, Unix seconds) and `presence_state` is pushed after the reply.
//! - `new_msg` broadcasts `new_msg` with the payload to the topic, then replies `ok` with it.
//! - `ping` replies `ok` with the payload (binary stays binary); `err` replies `error` with it; `reply_atom`
//!   replies `ok {}`; `noreply` sends nothing; `bin` pushes `bin_push` with the payload, then replies `ok` with it.
//! - `stop` closes the channel; `stop_reply` replies `ok` with the payload, then closes it; `crash` errors it.

use ferrocast_protocol::Payload;
use ferrocast_pubsub::{Channel, Context, Outcome, reason};
use serde_json::{Map, Value};

/// The `room:*` channel.
#[derive(Debug, Default, Clone, Copy)]
pub struct Room;

impl Channel for Room {
    fn join(&self, ctx: &mut Context<'_>, params: &Payload) -> Result<Payload, Payload> {
        if ctx.topic == "room:forbidden" {
            return Err(reason("unauthorized"));
        }
        let params = json_object(params);
        let no_presence = params.get("no_presence").and_then(Value::as_bool).unwrap_or(false);
        if !no_presence {
            let user_id = match (ctx.socket.identity.user_id(), params.get("user_id")) {
                (Some(user_id), _) => user_id.to_owned(),
                (None, Some(Value::String(user_id))) => user_id.clone(),
                (None, Some(other)) => other.to_string(),
                (None, None) => format!("anonymous-{}", ctx.socket.conn.map_or(0, |conn| conn.0)),
            };
            track_online(ctx, &user_id);
            ctx.push_presence_state();
        }
        Ok(Payload::empty())
    }

    fn handle_in(&self, ctx: &mut Context<'_>, event: &str, payload: Payload) -> Outcome {
        match event {
            "new_msg" => {
                ctx.broadcast("new_msg", &payload);
                Outcome::ok(payload)
            }
            "ping" => Outcome::ok(payload),
            "err" => Outcome::error(payload),
            "reply_atom" => Outcome::ok(Payload::empty()),
            "noreply" => Outcome::NoReply,
            "bin" => {
                ctx.push("bin_push", payload.clone());
                Outcome::ok(payload)
            }
            "stop" => Outcome::Stop(None),
            "stop_reply" => Outcome::Stop(Some(("ok".to_owned(), payload))),
            "crash" => Outcome::Crash,
            _ => Outcome::error(reason("unknown event")),
        }
    }
}

/// Tracks `key` with the meta `online_at`, as Phoenix's presence examples do.
pub(crate) fn track_online(ctx: &Context<'_>, key: &str) {
    let online_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let mut meta = Map::new();
    meta.insert("online_at".to_owned(), Value::from(online_at));
    ctx.track(key, meta);
}

/// A JSON payload's object, or an empty one for anything else (binary params, arrays, invalid text).
pub(crate) fn json_object(payload: &Payload) -> Map<String, Value> {
    match payload {
        Payload::Json(text) => match serde_json::from_str(text) {
            Ok(Value::Object(object)) => object,
            _ => Map::new(),
        },
        Payload::Binary(_) => Map::new(),
    }
}
