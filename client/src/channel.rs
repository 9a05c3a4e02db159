//! `Channel`: one topic joined over a socket, as phoenix.js's `Channel`.

use crate::driver::{Shared, State};
use crate::push::Push;
use crate::values::payload_from_js;
use ferrocast_protocol::client::{ChannelId, ClientError, PushId};
use ferrocast_protocol::frame::event;
use js_sys::Function;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A channel object, made by `socket.channel(topic, params)`.
#[wasm_bindgen]
pub struct Channel {
    shared: Rc<Shared>,
    id: ChannelId,
    topic: String,
}

impl Channel {
    pub(crate) fn new(shared: Rc<Shared>, id: ChannelId, topic: String) -> Channel {
        Channel { shared, id, topic }
    }

    pub(crate) fn shared(&self) -> &Rc<Shared> {
        &self.shared
    }

    pub(crate) fn id(&self) -> ChannelId {
        self.id
    }

    /// Runs a push-making call on the machine, with the push's callbacks registered before the machine can report
    /// its outcome (a push refused by a full queue times out at once).
    fn start(&self, op: impl FnOnce(&mut State, u64) -> Result<PushId, ClientError>) -> Result<Push, JsError> {
        let started = self.shared.drive(|state, now| {
            let push = op(state, now)?;
            Ok(state.pushes.get_or_insert_with(push, Rc::default).clone())
        });
        started.map(Push::new).map_err(|error: ClientError| JsError::new(&error.to_string()))
    }
}

#[wasm_bindgen]
impl Channel {
    /// Joins the topic; the returned push reports this and every later (re)join attempt. Throws if called twice.
    pub fn join(&self, timeout: Option<u32>) -> Result<Push, JsError> {
        crate::driver::refresh_channel_params(&self.shared, Some(self.id))?;
        self.start(|state, now| state.machine.join(now, self.id, timeout.map(u64::from)))
    }

    /// Calls `callback(payload, ref, joinRef)` for every `event` on the topic; returns a ref for `off`.
    pub fn on(&self, event: &str, callback: Function) -> u32 {
        let mut state = self.shared.state.borrow_mut();
        let Some(hooks) = state.channels.get_mut(&self.id) else { return 0 };
        let r#ref = hooks.next_binding;
        hooks.next_binding += 1;
        hooks.bindings.push((event.to_owned(), r#ref, callback));
        r#ref
    }

    /// Removes the callbacks for `event`: the one under `ref`, or all of them.
    pub fn off(&self, event: &str, r#ref: Option<u32>) {
        if let Some(hooks) = self.shared.state.borrow_mut().channels.get_mut(&self.id) {
            hooks.bindings.retain(|(bound, bound_ref, _)| !(bound == event && r#ref.is_none_or(|r| r == *bound_ref)));
        }
    }

    /// Calls `callback()` when the channel closes (left, or closed by the server).
    #[wasm_bindgen(js_name = onClose)]
    pub fn on_close(&self, callback: Function) -> u32 {
        self.on(event::CLOSE, callback)
    }

    /// Calls `callback(reason)` when the channel errors (it then rejoins by itself).
    #[wasm_bindgen(js_name = onError)]
    pub fn on_error(&self, callback: Function) -> u32 {
        self.on(event::ERROR, callback)
    }

    /// Calls `callback({topic, offset, epoch})` when a rejoin could not replay every broadcast missed while the
    /// channel was away (the relay's history did not reach back far enough, or it restarted): reload the state
    /// the channel feeds. The channel goes on from the position given. Not called by servers without history.
    #[wasm_bindgen(js_name = onRecoveryFailed)]
    pub fn on_recovery_failed(&self, callback: Function) -> u32 {
        self.on(crate::driver::RECOVERY_FAILED, callback)
    }

    /// Sends `event` with `payload` (JSON, or an `ArrayBuffer` for a binary frame). Waits in the offline queue
    /// while the channel is not joined. Throws before `join()` and after `leave()`.
    pub fn push(&self, event: &str, payload: JsValue, timeout: Option<u32>) -> Result<Push, JsError> {
        let payload = payload_from_js(&payload, &format!("push \"{event}\" to \"{}\"", self.topic))?;
        self.start(|state, now| state.machine.push(now, self.id, event, payload, timeout.map(u64::from)))
    }

    /// Leaves the topic; the returned push gets `"ok"` when the server confirms (or at once when offline).
    pub fn leave(&self, timeout: Option<u32>) -> Result<Push, JsError> {
        self.start(|state, now| state.machine.leave(now, self.id, timeout.map(u64::from)))
    }

    /// `"closed"`, `"errored"`, `"joined"`, `"joining"` or `"leaving"`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.shared.state.borrow().machine.channel_state(self.id).as_str().to_owned()
    }

    /// The channel's topic.
    #[wasm_bindgen(getter)]
    pub fn topic(&self) -> String {
        self.topic.clone()
    }

    /// The ref of the current join, as phoenix.js's `channel.joinRef()`.
    #[wasm_bindgen(js_name = joinRef)]
    pub fn join_ref(&self) -> Option<String> {
        self.shared.state.borrow().machine.channel_join_ref(self.id).map(str::to_owned)
    }
}
