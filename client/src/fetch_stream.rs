//! One `fetch` of a server-sent event stream, read chunk by chunk through `ferrocast_protocol::sse::Reader`.
//!
//! The browser's `EventSource` cannot send headers (no `Authorization`) and decides by itself when to reconnect, so
//! the client reads event streams with `fetch` and the response body's reader instead. A `FetchStream` is one
//! request and nothing more: it opens, reads and reports to its owner; whether and when to open the next one is the
//! owner's decision.
//!
//! It is driven by four promise callbacks made once per request, not by futures: wasm-bindgen-futures' executor
//! would cost more of the package's size budget than these few lines. The callbacks are owned by JavaScript (freed
//! when collected) and hold only a weak reference, so a promise that settles after the stream was aborted or
//! dropped finds nothing to call and does nothing.

use crate::values::{get, set};
use ferrocast_protocol::sse;
use js_sys::{Function, Object, Promise, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, ReadableStreamDefaultReader, Response};

/// What a stream tells its owner, in this order: `Opened` once, events, then `Ended` once (or `Ended` at once,
/// when it never opened). Nothing follows `Ended` or [`FetchStream::abort`].
pub(crate) enum Report {
    /// The server answered 200 with `text/event-stream`.
    Opened,
    /// One event of the stream.
    Event(sse::Event),
    /// The stream is over.
    Ended(End),
}

/// How a stream ended.
pub(crate) enum End {
    /// The server ended the response body.
    Closed,
    /// The server answered, but not with an event stream: its status (a 200 of another content type keeps 200)
    /// and the response body, which is the relay's error message.
    Refused { status: u16, message: String },
    /// There was no answer, or the connection broke mid-stream: the browser's error message.
    Failed(String),
}

/// One request for an event stream. Dropping it aborts the request.
pub(crate) struct FetchStream {
    inner: Rc<Inner>,
}

/// What the promise callbacks share.
struct Inner {
    controller: AbortController,
    /// The owner's reader: it keeps the last event id and the server's `retry` from one request to the next.
    reader: Rc<RefCell<sse::Reader>>,
    report: Box<dyn Fn(Report)>,
    /// Set by `abort` and once `Ended` is out: promises made before still settle, and must then report nothing.
    stopped: Cell<bool>,
    /// The status of a refusal, kept while its body is read.
    status: Cell<u16>,
    /// The response body's reader, once the response is in.
    body: RefCell<Option<ReadableStreamDefaultReader>>,
    /// The promise callbacks, indexed by [`Step`].
    steps: [Function; 4],
}

/// What a settled promise means.
#[derive(Clone, Copy)]
enum Step {
    /// `fetch` resolved with the response.
    Response = 0,
    /// `read()` resolved with `{done, value}`.
    Chunk = 1,
    /// A refusal's body was read (or could not be).
    RefusalBody = 2,
    /// `fetch` or `read()` rejected: a network failure.
    Failure = 3,
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, looked up when called, as the timer's globals are.
    #[wasm_bindgen(catch, js_name = fetch)]
    pub(crate) fn global_fetch(url: &str, init: &Object) -> Result<Promise, JsValue>;

    /// A promise seen as what has `then(resolved, rejected)`, to be given callbacks that outlive the call
    /// (js-sys's `Promise::then2` only borrows closures).
    pub(crate) type Thenable;
    #[wasm_bindgen(method)]
    pub(crate) fn then(this: &Thenable, resolved: &Function, rejected: &Function);
}

impl FetchStream {
    /// `fetch(url, {headers, signal})`, read into `reader` (restarted first: a partial event of an earlier request
    /// is dropped, its last id and retry stay). Fails only where `fetch` or `AbortController` does not exist.
    pub(crate) fn open(
        url: &str,
        headers: &JsValue,
        reader: Rc<RefCell<sse::Reader>>,
        report: impl Fn(Report) + 'static,
    ) -> Result<FetchStream, JsValue> {
        let controller = AbortController::new()?;
        let init = Object::new();
        set(&init, "headers", headers.clone());
        set(&init, "signal", controller.signal());
        // A stream is never the same twice; a cache could only hand back a stale one.
        set(&init, "cache", "no-store");
        let response = global_fetch(url, &init)?;
        reader.borrow_mut().restart();
        let inner = Rc::new_cyclic(|weak| Inner {
            controller,
            reader,
            report: Box::new(report),
            stopped: Cell::new(false),
            status: Cell::new(0),
            body: RefCell::new(None),
            steps: [Step::Response, Step::Chunk, Step::RefusalBody, Step::Failure]
                .map(|step| step_callback(weak.clone(), step)),
        });
        inner.then(&response, Step::Response, Step::Failure);
        Ok(FetchStream { inner })
    }

    /// Stops the request: no report follows, even from promises already settling.
    pub(crate) fn abort(&self) {
        self.inner.stopped.set(true);
        self.inner.controller.abort();
    }
}

impl Drop for FetchStream {
    fn drop(&mut self) {
        self.abort();
    }
}

fn step_callback(inner: Weak<Inner>, step: Step) -> Function {
    Closure::<dyn FnMut(JsValue)>::new(move |value: JsValue| {
        if let Some(inner) = inner.upgrade().filter(|inner| !inner.stopped.get()) {
            inner.settled(step, value);
        }
    })
    .into_js_value()
    .unchecked_into()
}

impl Inner {
    fn then(&self, promise: &Promise, resolved: Step, rejected: Step) {
        promise.unchecked_ref::<Thenable>().then(&self.steps[resolved as usize], &self.steps[rejected as usize]);
    }

    /// Reports the end, once; nothing is reported after it.
    fn end(&self, end: End) {
        self.stopped.set(true);
        (self.report)(Report::Ended(end));
    }

    fn read_next(&self) {
        if let Some(body) = self.body.borrow().as_ref() {
            self.then(&body.read(), Step::Chunk, Step::Failure);
        }
    }

    fn settled(&self, step: Step, value: JsValue) {
        match step {
            Step::Response => {
                let response: Response = value.unchecked_into();
                let status = response.status();
                let content_type = response.headers().get("content-type").ok().flatten().unwrap_or_default();
                // The media type, with any parameter after it (`; charset=utf-8`).
                if status == 200 && content_type.to_ascii_lowercase().starts_with("text/event-stream") {
                    let Some(body) = response.body() else { return self.end(End::Failed("no response body".into())) };
                    *self.body.borrow_mut() = Some(body.get_reader().unchecked_into());
                    (self.report)(Report::Opened);
                    if !self.stopped.get() {
                        self.read_next();
                    }
                    return;
                }
                self.status.set(status);
                match response.text() {
                    // The body is the server's reason; one that cannot be read leaves the status to speak.
                    Ok(text) => self.then(&text, Step::RefusalBody, Step::RefusalBody),
                    Err(_) => self.end(End::Refused { status, message: String::new() }),
                }
            }
            Step::Chunk => {
                if get(&value, "done").is_truthy() {
                    return self.end(End::Closed);
                }
                let chunk = get(&value, "value").unchecked_into::<Uint8Array>().to_vec();
                // The reader is released before the events go out: their owner may read it (the last id) meanwhile.
                let events = self.reader.borrow_mut().feed(&chunk);
                for event in events {
                    if self.stopped.get() {
                        return;
                    }
                    (self.report)(Report::Event(event));
                }
                if !self.stopped.get() {
                    self.read_next();
                }
            }
            Step::RefusalBody => {
                let message = value.as_string().unwrap_or_default().trim_end_matches('\n').to_owned();
                self.end(End::Refused { status: self.status.get(), message });
            }
            Step::Failure => {
                let message = get(&value, "message").as_string().unwrap_or_else(|| "network error".into());
                self.end(End::Failed(message));
            }
        }
    }
}

/// A promise, or anything `await` would wait for.
pub(crate) fn is_thenable(value: &JsValue) -> bool {
    value.is_object() && get(value, "then").is_function()
}
