//! `Presence`: who is on a channel's topic, as phoenix.js's `Presence`, merged by the protocol crate's tracker.
//!
//! Metas stay the JavaScript objects the server sent (the tracker carries them opaquely), so callbacks and `list`
//! see the same objects phoenix.js would hand out.

use crate::values::{call, get, keys, set};
use ferrocast_protocol::presence::{self, Change, Diff, Entry, Meta, PresenceEvent, State};
use js_sys::{Array, Function, Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A channel object (`client/js/channel.js`), or anything with its `on` and `joinRef`.
    #[wasm_bindgen(typescript_type = "Channel")]
    pub type ChannelObject;
    #[wasm_bindgen(method)]
    fn on(this: &ChannelObject, event: &str, callback: &Function) -> JsValue;
    #[wasm_bindgen(method, js_name = joinRef)]
    fn join_ref(this: &ChannelObject) -> Option<String>;
}

/// The presences of one channel: `new Presence(channel)`, then `onJoin`, `onLeave`, `onSync` and `list`.
#[wasm_bindgen]
pub struct Presence {
    inner: Rc<RefCell<Tracker>>,
}

struct Tracker {
    presence: presence::Presence<JsValue>,
    channel: ChannelObject,
    on_join: Option<Function>,
    on_leave: Option<Function>,
    on_sync: Option<Function>,
}

impl Tracker {
    /// The channel's current join: a diff of an earlier one is held until its state arrives.
    fn join_ref(&self) -> Option<String> {
        self.channel.join_ref()
    }
}

#[wasm_bindgen]
impl Presence {
    /// Tracks `channel`'s presence frames; `opts.events` may rename them (`{state, diff}`).
    #[wasm_bindgen(constructor)]
    pub fn new(channel: ChannelObject, opts: JsValue) -> Presence {
        let events = get(&opts, "events");
        let state_event = get(&events, "state").as_string().unwrap_or_else(|| "presence_state".to_owned());
        let diff_event = get(&events, "diff").as_string().unwrap_or_else(|| "presence_diff".to_owned());
        let inner = Rc::new(RefCell::new(Tracker {
            presence: presence::Presence::new(),
            channel: channel.clone().unchecked_into(),
            on_join: None,
            on_leave: None,
            on_sync: None,
        }));
        let on_frame = |handle: fn(&mut Tracker, Option<&str>, &JsValue) -> Vec<PresenceEvent<JsValue>>| {
            let tracker = Rc::downgrade(&inner);
            let closure = Closure::<dyn FnMut(JsValue)>::new(move |payload: JsValue| {
                let Some(tracker) = tracker.upgrade() else { return };
                let join_ref = tracker.borrow().join_ref();
                let events = handle(&mut tracker.borrow_mut(), join_ref.as_deref(), &payload);
                let tracker = tracker.borrow();
                let (on_join, on_leave, on_sync) =
                    (tracker.on_join.clone(), tracker.on_leave.clone(), tracker.on_sync.clone());
                drop(tracker);
                dispatch(events, on_join.as_ref(), on_leave.as_ref(), on_sync.as_ref());
            });
            closure.into_js_value().unchecked_into::<Function>()
        };
        channel.on(
            &state_event,
            &on_frame(|tracker, join_ref, payload| tracker.presence.handle_state(join_ref, state_from_js(payload))),
        );
        channel.on(
            &diff_event,
            &on_frame(|tracker, join_ref, payload| tracker.presence.handle_diff(join_ref, diff_from_js(payload))),
        );
        Presence { inner }
    }

    /// `callback(key, currentPresence, newPresence)` for every join.
    #[wasm_bindgen(js_name = onJoin)]
    pub fn on_join(&self, callback: Function) {
        self.inner.borrow_mut().on_join = Some(callback);
    }

    /// `callback(key, currentPresence, leftPresence)` for every leave.
    #[wasm_bindgen(js_name = onLeave)]
    pub fn on_leave(&self, callback: Function) {
        self.inner.borrow_mut().on_leave = Some(callback);
    }

    /// `callback()` once the state is consistent after a state or diff frame.
    #[wasm_bindgen(js_name = onSync)]
    pub fn on_sync(&self, callback: Function) {
        self.inner.borrow_mut().on_sync = Some(callback);
    }

    /// The presences, in phoenix.js's order: `chooser(key, presence)` for each, or the presences themselves.
    pub fn list(&self, chooser: Option<Function>) -> Array {
        let entries: Vec<(String, JsValue)> =
            self.inner.borrow().presence.list(|key, entry| (key.to_owned(), entry_to_js(entry)));
        choose(entries, chooser.as_ref())
    }

    /// Whether diffs are being held until the next `presence_state` (after a rejoin).
    #[wasm_bindgen(js_name = inPendingSyncState)]
    pub fn in_pending_sync_state(&self) -> bool {
        let tracker = self.inner.borrow();
        tracker.presence.is_pending(tracker.join_ref().as_deref())
    }

    /// Merges `newState` into `currentState` as phoenix.js does; returns the new state.
    #[wasm_bindgen(js_name = syncState)]
    pub fn sync_state(
        current: JsValue,
        new_state: JsValue,
        on_join: Option<Function>,
        on_leave: Option<Function>,
    ) -> Object {
        let mut state = state_from_js(&current);
        let changes = presence::sync_state(&mut state, state_from_js(&new_state));
        dispatch(changes.into_iter().map(PresenceEvent::Change).collect(), on_join.as_ref(), on_leave.as_ref(), None);
        state_to_js(&state, Object::new())
    }

    /// Applies `diff` to `state` in place, as phoenix.js does; returns `state`.
    #[wasm_bindgen(js_name = syncDiff)]
    pub fn sync_diff(state: JsValue, diff: JsValue, on_join: Option<Function>, on_leave: Option<Function>) -> Object {
        let mut merged = state_from_js(&state);
        let changes = presence::sync_diff(&mut merged, diff_from_js(&diff));
        dispatch(changes.into_iter().map(PresenceEvent::Change).collect(), on_join.as_ref(), on_leave.as_ref(), None);
        let target: Object = state.dyn_into().unwrap_or_default();
        for key in keys(&target) {
            if !merged.contains_key(&key) {
                let _ = Reflect::delete_property(&target, &key.into());
            }
        }
        state_to_js(&merged, target)
    }
}

fn choose(entries: Vec<(String, JsValue)>, chooser: Option<&Function>) -> Array {
    entries
        .into_iter()
        .map(|(key, presence)| match chooser {
            Some(chooser) => chooser.call2(&JsValue::NULL, &key.into(), &presence).unwrap_or(JsValue::UNDEFINED),
            None => presence,
        })
        .collect()
}

fn dispatch(
    events: Vec<PresenceEvent<JsValue>>,
    on_join: Option<&Function>,
    on_leave: Option<&Function>,
    on_sync: Option<&Function>,
) {
    for event in events {
        match event {
            PresenceEvent::Change(Change::Join { key, current, joined }) => {
                if let Some(on_join) = on_join {
                    let current = current.as_ref().map_or(JsValue::UNDEFINED, entry_to_js);
                    call(on_join, &[key.into(), current, entry_to_js(&joined)]);
                }
            }
            PresenceEvent::Change(Change::Leave { key, current, left }) => {
                if let Some(on_leave) = on_leave {
                    call(on_leave, &[key.into(), entry_to_js(&current), entry_to_js(&left)]);
                }
            }
            PresenceEvent::Sync => {
                if let Some(on_sync) = on_sync {
                    call(on_sync, &[]);
                }
            }
        }
    }
}

/// `{key: {metas: [...], ...}}` to a state. Metas without a string `phx_ref` get an empty one, as phoenix.js
/// would compare `undefined`.
fn state_from_js(value: &JsValue) -> State<JsValue> {
    entries_from_js(value).into_iter().collect()
}

fn diff_from_js(value: &JsValue) -> Diff<JsValue> {
    Diff { joins: entries_from_js(&get(value, "joins")), leaves: entries_from_js(&get(value, "leaves")) }
}

/// The keys of a presence object with their entries, in the object's key order.
fn entries_from_js(value: &JsValue) -> Vec<(String, Entry<JsValue>)> {
    keys(value)
        .into_iter()
        .map(|key| {
            let entry = entry_from_js(&get(value, &key));
            (key, entry)
        })
        .collect()
}

fn entry_from_js(value: &JsValue) -> Entry<JsValue> {
    let metas = get(value, "metas");
    let metas = if Array::is_array(&metas) { metas.unchecked_into::<Array>().to_vec() } else { Vec::new() };
    let metas =
        metas.into_iter().map(|meta| Meta::new(get(&meta, "phx_ref").as_string().unwrap_or_default(), meta)).collect();
    let entry = Entry::new(metas);
    // The whole object rides as the extra fields when it has any besides `metas`; `entry_to_js` puts the current
    // metas back in their place.
    if keys(value).iter().any(|key| key != "metas") { entry.with_extra(value.clone()) } else { entry }
}

fn entry_to_js(entry: &Entry<JsValue>) -> JsValue {
    let metas: Array = entry.metas.iter().map(|meta| meta.value.clone()).collect();
    let object = Object::new();
    if let Some(extra) = &entry.extra {
        for key in keys(extra) {
            if key != "metas" {
                set(&object, &key, get(extra, &key));
            } else {
                set(&object, "metas", metas.clone());
            }
        }
    }
    set(&object, "metas", metas);
    object.into()
}

fn state_to_js(state: &State<JsValue>, into: Object) -> Object {
    for (key, entry) in state.iter() {
        set(&into, key, entry_to_js(entry));
    }
    into
}
