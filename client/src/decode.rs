//! Frames from the server, decoded with the browser's `JSON.parse` (text) or the protocol's binary decoder.
//!
//! The rules are the protocol crate's (see `PROTOCOL.md`): V2 frames are arrays of five elements plus Ferrocast's
//! optional extension, V1 frames are objects, a `phx_reply` carries `{status, response}`, and a V1 server's
//! `phx_close` and `phx_error` carry the join ref in `ref` (a V1 server frame has no join ref of its own). Payloads
//! stay JavaScript values. `decoder_parity.rs` checks that the native decoder reads the fuzz corpus alike.

use crate::values::{bytes_of, get, payload_to_js};
use ferrocast_protocol::codec::decode_binary;
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{Ext, Frame, Message, Position, Reply, Sender, Vsn};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

/// A decoded frame, and the message object phoenix.js hands to `onMessage` callbacks when there are any.
pub(crate) struct Decoded {
    pub(crate) frame: Frame<JsValue>,
    pub(crate) message: Option<JsValue>,
}

/// Decodes one WebSocket message's `data` and hands each frame in it to `each`: a string holds one frame, or on V2
/// a batch of them (`[frame, frame, ...]`, which the relay sends to sockets that asked with
/// [`ferrocast_protocol::BATCH_PARAM`]); an `ArrayBuffer` holds one binary frame. The `onMessage` object is built
/// only when `with_message`, so sockets without `onMessage` callbacks pay nothing for it per frame.
pub(crate) fn decode(vsn: Vsn, data: &JsValue, with_message: bool, mut each: impl FnMut(Result<Decoded, String>)) {
    if !data.is_string() {
        return each(match vsn {
            Vsn::V1 => Err("a binary frame on a vsn 1.0.0 socket".to_owned()),
            Vsn::V2 => binary(data, with_message),
        });
    }
    let Ok(value) = parse_json(data) else {
        return each(Err("a text frame that is not JSON".to_owned()));
    };
    match vsn {
        Vsn::V2 if is_batch(&value) => {
            // The frames of a batch mostly share their topic and event: each is copied out of JavaScript once.
            let mut names = Names::default();
            for frame in value.unchecked_ref::<Array>().iter() {
                each(v2_parts(&frame, &mut names).and_then(|parts| parts.into_frame(with_message)));
            }
        }
        Vsn::V2 => each(v2_parts(&value, &mut Names::default()).and_then(|parts| parts.into_frame(with_message))),
        Vsn::V1 => each(v1_parts(&value).and_then(|parts| parts.into_frame(with_message))),
    }
}

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse` on the JavaScript string itself: `js_sys::JSON::parse` takes a `&str`, which would copy the
    /// message into wasm memory as UTF-8 and back out again, twice per message for nothing.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn parse_json(text: &JsValue) -> Result<JsValue, JsValue>;
}

/// A batch is an array whose first element is an array; a frame's first element is its join ref, null or a string.
fn is_batch(value: &JsValue) -> bool {
    Array::is_array(value) && Array::is_array(&value.unchecked_ref::<Array>().get(0))
}

/// The five fields of a frame, before the reply is told apart.
struct Parts {
    join_ref: Option<String>,
    r#ref: Option<String>,
    topic: String,
    event: String,
    payload: JsValue,
    ext: Option<Ext>,
}

/// The last topic, event and epoch read, as JavaScript strings and as Rust ones: comparing two JavaScript strings is
/// one call, where copying one into wasm memory is an allocation and a UTF-8 encoding.
#[derive(Default)]
struct Names {
    topic: Option<(JsValue, String)>,
    event: Option<(JsValue, String)>,
    epoch: Option<(JsValue, String)>,
}

/// `value` as a Rust string, reusing `last` when it is the same JavaScript string.
fn cached_string(value: JsValue, last: &mut Option<(JsValue, String)>, name: &str) -> Result<String, String> {
    if let Some((js, rust)) = last
        && *js == value
    {
        return Ok(rust.clone());
    }
    let rust = string(&value, name)?;
    *last = Some((value, rust.clone()));
    Ok(rust)
}

fn v2_parts(value: &JsValue, names: &mut Names) -> Result<Parts, String> {
    if !Array::is_array(value) {
        return Err("a vsn 2.0.0 text frame that is not an array".to_owned());
    }
    let array: &Array = value.unchecked_ref();
    if !(5..=6).contains(&array.length()) {
        return Err(format!("a frame of {} elements, not 5", array.length()));
    }
    Ok(Parts {
        join_ref: optional_string(&array.get(0), "join_ref")?,
        r#ref: optional_string(&array.get(1), "ref")?,
        topic: cached_string(array.get(2), &mut names.topic, "topic")?,
        event: cached_string(array.get(3), &mut names.event, "event")?,
        payload: array.get(4),
        ext: ext(&array.get(5), &mut names.epoch),
    })
}

fn v1_parts(value: &JsValue) -> Result<Parts, String> {
    if !value.is_object() || Array::is_array(value) {
        return Err("a vsn 1.0.0 frame that is not an object".to_owned());
    }
    let event = string(&get(value, "event"), "event")?;
    let r#ref = optional_string(&get(value, "ref"), "ref")?;
    // A V1 server's wire has no join ref field, so a `join_ref` key is no field at all, as in the native decoder
    // (`ferrocast_protocol::codec`): the same bytes give the same frame on both sides.
    let join_ref = if event == event::CLOSE || event == event::ERROR { r#ref.clone() } else { None };
    Ok(Parts {
        join_ref,
        r#ref,
        topic: string(&get(value, "topic"), "topic")?,
        event,
        payload: get(value, "payload"),
        ext: ext(&get(value, "ext"), &mut None),
    })
}

impl Parts {
    fn into_frame(self, with_message: bool) -> Result<Decoded, String> {
        let message = with_message.then(|| {
            message_object(self.join_ref.as_deref(), self.r#ref.as_deref(), &self.topic, &self.event, &self.payload)
        });
        let Parts { join_ref, r#ref, topic, event, payload, ext } = self;
        let frame = if event == event::REPLY {
            let status = get(&payload, "status").as_string().ok_or("a phx_reply without a string status")?;
            let response = get(&payload, "response");
            Frame::Reply(Reply { join_ref, r#ref, topic, status, response, ext })
        } else {
            Frame::Message(Message { join_ref, r#ref, topic, event, payload, ext })
        };
        Ok(Decoded { frame, message })
    }
}

fn binary(data: &JsValue, with_message: bool) -> Result<Decoded, String> {
    let frame = match decode_binary(Sender::Server, &bytes_of(data)).map_err(|error| error.to_string())? {
        Frame::Message(Message { join_ref, r#ref, topic, event, payload, ext }) => {
            Frame::Message(Message { join_ref, r#ref, topic, event, payload: payload_to_js(&payload), ext })
        }
        Frame::Reply(Reply { join_ref, r#ref, topic, status, response, ext }) => {
            Frame::Reply(Reply { join_ref, r#ref, topic, status, response: payload_to_js(&response), ext })
        }
    };
    let message = with_message.then(|| {
        let payload = match &frame {
            Frame::Message(message) => message.payload.clone(),
            Frame::Reply(reply) => {
                // phoenix.js hands `onMessage` a reply's payload as it travels: `{status, response}`.
                let payload = js_sys::Object::new();
                crate::values::set(&payload, "status", reply.status.as_str());
                crate::values::set(&payload, "response", reply.response.clone());
                payload.into()
            }
        };
        message_object(frame.join_ref(), frame.r#ref(), frame.topic(), frame.event(), &payload)
    });
    Ok(Decoded { frame, message })
}

/// `{join_ref, ref, topic, event, payload}`, as phoenix.js's decoder makes it.
fn message_object(join_ref: Option<&str>, r#ref: Option<&str>, topic: &str, event: &str, payload: &JsValue) -> JsValue {
    use crate::values::{opt_str, set};
    let object = js_sys::Object::new();
    set(&object, "join_ref", opt_str(join_ref));
    set(&object, "ref", opt_str(r#ref));
    set(&object, "topic", topic);
    set(&object, "event", event);
    set(&object, "payload", payload.clone());
    object.into()
}

fn string(value: &JsValue, name: &str) -> Result<String, String> {
    value.as_string().ok_or_else(|| format!("a frame whose {name} is not a string"))
}

fn optional_string(value: &JsValue, name: &str) -> Result<Option<String>, String> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    string(value, name).map(Some)
}

/// Ferrocast's extension object, `{offset, epoch, recovered}`. Anything else (a Phoenix peer's extra element, an
/// object with unknown keys or wrong types, only one of `offset` and `epoch`) is not an extension. Every broadcast
/// with a position carries one, so it is read with one call per field and the epoch is copied out once per batch.
fn ext(value: &JsValue, last_epoch: &mut Option<(JsValue, String)>) -> Option<Ext> {
    if !value.is_object() || Array::is_array(value) {
        return None;
    }
    let fields: &ExtFields = value.unchecked_ref();
    let (offset, epoch, recovered) = (fields.offset(), fields.epoch(), fields.recovered());
    let known = [&offset, &epoch, &recovered].into_iter().filter(|field| !field.is_undefined()).count();
    if Object::keys(fields).length() as usize != known {
        return None;
    }
    let mut ext = Ext::default();
    if !recovered.is_undefined() {
        ext.recovered = Some(recovered.as_bool()?);
    }
    ext.position = match (offset.is_undefined(), epoch.is_undefined()) {
        (true, true) => None,
        (false, false) => {
            let offset = offset.as_f64().filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= 9e15)? as u64;
            let epoch = cached_string(epoch, last_epoch, "epoch").ok()?;
            Some(Position { offset, epoch })
        }
        _ => return None,
    };
    Some(ext)
}

#[wasm_bindgen]
extern "C" {
    /// An extension object's fields, each read with a plain property access (no key string crosses into
    /// JavaScript, no exception handler).
    #[wasm_bindgen(extends = Object)]
    type ExtFields;
    #[wasm_bindgen(method, getter, structural)]
    fn offset(this: &ExtFields) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn epoch(this: &ExtFields) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn recovered(this: &ExtFields) -> JsValue;
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn ext_of(json: &str, last_epoch: &mut Option<(JsValue, String)>) -> Option<Ext> {
        ext(&js_sys::JSON::parse(json).unwrap(), last_epoch)
    }

    #[wasm_bindgen_test]
    fn an_extension_holds_a_position_and_recovered() {
        let ext = ext_of(r#"{"offset":7,"epoch":"e1","recovered":true}"#, &mut None).unwrap();
        assert_eq!(ext.position, Some(Position { offset: 7, epoch: "e1".to_owned() }));
        assert_eq!(ext.recovered, Some(true));
        assert_eq!(ext_of(r#"{"recovered":false}"#, &mut None).unwrap().position, None);
    }

    #[wasm_bindgen_test]
    fn anything_else_is_not_an_extension() {
        for json in [
            r#"{"offset":7,"epoch":"e1","extra":1}"#,
            r#"{"offset":7}"#,
            r#"{"epoch":"e1"}"#,
            r#"{"offset":-1,"epoch":"e1"}"#,
            r#"{"offset":1.5,"epoch":"e1"}"#,
            r#"{"offset":null,"epoch":"e1"}"#,
            r#"{"offset":7,"epoch":7}"#,
            r#"{"recovered":"yes"}"#,
            r#"[7,"e1"]"#,
            r#""e1""#,
            "null",
        ] {
            assert!(ext_of(json, &mut None).is_none(), "{json}");
        }
    }

    #[wasm_bindgen_test]
    fn a_batch_copies_its_epoch_once_and_sees_when_it_changes() {
        let mut last_epoch = None;
        let first = ext_of(r#"{"offset":1,"epoch":"e1"}"#, &mut last_epoch).unwrap();
        let second = ext_of(r#"{"offset":2,"epoch":"e1"}"#, &mut last_epoch).unwrap();
        let third = ext_of(r#"{"offset":1,"epoch":"e2"}"#, &mut last_epoch).unwrap();
        let epochs: Vec<_> = [first, second, third].into_iter().map(|ext| ext.position.unwrap().epoch).collect();
        assert_eq!(epochs, ["e1", "e1", "e2"]);
        assert_eq!(last_epoch.map(|(_, epoch)| epoch).as_deref(), Some("e2"));
    }
}
