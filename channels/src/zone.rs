//! `zone:*`: a shared space where agents move, interact and consume the zone's resources, with presence.
//!
//! Each join carries permission bits, and every event that changes the zone checks its bit; an event without it
//! is answered with the error `{"reason": "forbidden"}`. The bits come from the token's `zones` claim and the agent
//! is the token's `sub`; in dev mode (no token), from the join params `permissions` (an integer) and `user_id`.
//!
//! | event | needs | does |
//! | --- | --- | --- |
//! | join | — | tracks presence, pushes `presence_state`, broadcasts `agent_entered {user_id}`, replies `{permissions}` |
//! | `get_zone_state` | — | replies `{zone, resources, agents}` |
//! | `spawn_agent` | `SPAWN_AGENTS` | broadcasts `agent_entered {agent_id, spawned_by}` |
//! | `consume_resource` `{resource, amount}` | `MODIFY_ZONE` | takes from the zone's stock and broadcasts `resource_changed {resource, remaining, by}`; `insufficient` when there is not enough |
//! | `agent_move`, `agent_interact` | `BROADCAST_EVENTS` | broadcasts the event with the payload and `user_id` |
//! | `environment_tick` | `ADMIN_ZONE` | broadcasts `environment_tick` with the payload |
//! | leave, or the connection ends | — | broadcasts `agent_left {user_id}` |
//!
//! A zone starts with 100 of each of `energy`, `matter` and `water`; stocks live as long as the relay.

use super::room::{json_object, track_online};
use ferrocast_protocol::Payload;
use ferrocast_pubsub::{Channel, Context, Outcome, reason};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

/// May spawn agents.
pub const SPAWN_AGENTS: u64 = 0x01;
/// May change the zone's resources.
pub const MODIFY_ZONE: u64 = 0x02;
/// May broadcast agent events.
pub const BROADCAST_EVENTS: u64 = 0x04;
/// May run the zone (environment ticks).
pub const ADMIN_ZONE: u64 = 0x08;

const STARTING_STOCK: [(&str, i64); 3] = [("energy", 100), ("matter", 100), ("water", 100)];

/// The `zone:*` channel, holding each zone's resource stocks.
#[derive(Debug, Default)]
pub struct Zone {
    stocks: Mutex<HashMap<String, BTreeMap<String, i64>>>,
}

impl Zone {
    fn with_stock<T>(&self, zone: &str, use_stock: impl FnOnce(&mut BTreeMap<String, i64>) -> T) -> T {
        // A use reads a stock or sets one of its entries, so a panic cannot leave a stock half-changed: a poisoned
        // lock is still used rather than failing every later event of every zone.
        let mut stocks = self.stocks.lock().unwrap_or_else(PoisonError::into_inner);
        let stock = stocks
            .entry(zone.to_owned())
            .or_insert_with(|| STARTING_STOCK.iter().map(|(name, amount)| ((*name).to_owned(), *amount)).collect());
        use_stock(stock)
    }
}

fn user_id(ctx: &Context<'_>) -> String {
    ctx.assigns.get("user_id").and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn permitted(ctx: &Context<'_>, bit: u64) -> bool {
    ctx.assigns.get("permissions").and_then(Value::as_u64).unwrap_or(0) & bit != 0
}

/// The payload's object with `key: value` added.
fn with_field(payload: &Payload, key: &str, value: Value) -> Payload {
    let mut object = json_object(payload);
    object.insert(key.to_owned(), value);
    Payload::Json(Value::Object(object).to_string())
}

impl Channel for Zone {
    fn join(&self, ctx: &mut Context<'_>, params: &Payload) -> Result<Payload, Payload> {
        // A token's user and zone bits win; in dev mode (no token) the join params say who and what.
        let params = json_object(params);
        let user_id = match (ctx.socket.identity.user_id(), params.get("user_id")) {
            (Some(user_id), _) => user_id.to_owned(),
            (None, Some(Value::String(user_id))) if !user_id.is_empty() => user_id.clone(),
            _ => return Err(reason("user_id required")),
        };
        let permissions = match ctx.socket.identity.zone_permissions(ctx.topic) {
            Some(granted) => granted,
            None => params.get("permissions").and_then(Value::as_u64).unwrap_or(0),
        } & 0x0f;
        ctx.assigns.insert("user_id".to_owned(), Value::String(user_id.clone()));
        ctx.assigns.insert("permissions".to_owned(), Value::from(permissions));
        track_online(ctx, &user_id);
        ctx.push_presence_state();
        ctx.broadcast("agent_entered", &Payload::Json(json!({ "user_id": user_id }).to_string()));
        Ok(Payload::Json(json!({ "permissions": permissions }).to_string()))
    }

    fn handle_in(&self, ctx: &mut Context<'_>, event: &str, payload: Payload) -> Outcome {
        let needs = match event {
            "get_zone_state" => 0,
            "spawn_agent" => SPAWN_AGENTS,
            "consume_resource" => MODIFY_ZONE,
            "agent_move" | "agent_interact" => BROADCAST_EVENTS,
            "environment_tick" => ADMIN_ZONE,
            _ => return Outcome::error(reason("unknown event")),
        };
        if needs != 0 && !permitted(ctx, needs) {
            return Outcome::error(reason("forbidden"));
        }
        let user_id = user_id(ctx);
        match event {
            "get_zone_state" => {
                let resources = self.with_stock(ctx.splat, |stock| json!(stock));
                let agents = ctx.presence_members();
                Outcome::ok(Payload::Json(
                    json!({ "zone": ctx.splat, "resources": resources, "agents": agents }).to_string(),
                ))
            }
            "spawn_agent" => {
                let agent_id = json_object(&payload).get("agent_id").cloned().unwrap_or(Value::Null);
                let entered = json!({ "agent_id": agent_id, "spawned_by": user_id });
                ctx.broadcast("agent_entered", &Payload::Json(entered.to_string()));
                Outcome::ok(Payload::empty())
            }
            "consume_resource" => {
                let request = json_object(&payload);
                let (Some(resource), Some(amount)) = (
                    request.get("resource").and_then(Value::as_str),
                    request.get("amount").and_then(Value::as_i64).filter(|amount| *amount > 0),
                ) else {
                    return Outcome::error(reason("expected {resource: string, amount: positive integer}"));
                };
                let remaining = self.with_stock(ctx.splat, |stock| {
                    let left = stock.get(resource).copied().unwrap_or(0) - amount;
                    (left >= 0).then(|| {
                        stock.insert(resource.to_owned(), left);
                        left
                    })
                });
                let Some(remaining) = remaining else { return Outcome::error(reason("insufficient")) };
                let changed = json!({ "resource": resource, "remaining": remaining, "by": user_id });
                ctx.broadcast("resource_changed", &Payload::Json(changed.to_string()));
                Outcome::ok(Payload::Json(json!({ "resource": resource, "remaining": remaining }).to_string()))
            }
            "agent_move" | "agent_interact" => {
                ctx.broadcast(event, &with_field(&payload, "user_id", Value::String(user_id)));
                Outcome::ok(Payload::empty())
            }
            _ => {
                ctx.broadcast("environment_tick", &payload);
                Outcome::ok(Payload::empty())
            }
        }
    }

    fn leave(&self, ctx: &mut Context<'_>) {
        let left = json!({ "user_id": user_id(ctx) });
        ctx.broadcast("agent_left", &Payload::Json(left.to_string()));
    }
}
