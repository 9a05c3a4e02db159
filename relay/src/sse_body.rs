//! The body of a `text/event-stream` response, written by its connection's driver: the topic streams' and the
//! event-stream sockets'. The driver runs inside the body, polled by hyper's task as it asks for the next chunk, so
//! a stream costs one task, as a WebSocket does: no hand-over between tasks per batch, and a reader that does not
//! read holds the driver back, as a full socket does. When the client goes away, hyper drops the body and the
//! driver with it, which undoes the connection as its end would (see [`crate::driver::run`]).

use crate::driver::Gone;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ferrocast_pubsub::CloseReason;
use futures_util::Stream;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

/// The chunk the driver wrote, until the body hands it to hyper. One at a time: the driver waits for it to go.
type Slot = Arc<Mutex<Option<Bytes>>>;

/// Where a connection writes its event stream's chunks.
pub(crate) struct EventStreamBody {
    slot: Slot,
}

/// A `text/event-stream` response that starts with `first`, then what the connection `driver` makes (given the
/// body to write to) writes, until it ends.
pub(crate) fn response<F>(first: Bytes, driver: impl FnOnce(EventStreamBody) -> F) -> Response
where
    F: Future<Output = ()> + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Some(first)));
    let driver = driver(EventStreamBody { slot: slot.clone() });
    let body = Body::from_stream(Chunks { slot, driver: Some(Box::pin(driver)) });
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
        // Tells nginx not to buffer the stream.
        (header::HeaderName::from_static("x-accel-buffering"), "no"),
    ];
    (headers, body).into_response()
}

impl EventStreamBody {
    /// Hands `chunk` to the response, and returns once hyper has taken it and asks for more. Never `Err`: a client
    /// that went away drops the driver instead; the signature is the transports'.
    pub(crate) async fn send(&self, chunk: Bytes) -> Result<(), Gone> {
        *lock(&self.slot) = Some(chunk);
        // The first poll returns Pending with the chunk in the slot, and the body, which polled it, returns the
        // chunk at once (so no waker is needed); hyper polls the body, and so this, again when it wants the next.
        let mut handed = false;
        std::future::poll_fn(|_| if std::mem::replace(&mut handed, true) { Poll::Ready(()) } else { Poll::Pending })
            .await;
        Ok(())
    }

    /// Ends the stream with why, as a comment (`: closed 1013 slow consumer`): event streams have no close frame,
    /// and a comment is what an EventSource skips.
    pub(crate) async fn close(&self, reason: &CloseReason) {
        // A backend's reason could hold a line break, which would end the comment early.
        let said = reason.reason.replace(['\r', '\n'], " ");
        let _ = self.send(Bytes::from(format!(": closed {} {said}\n\n", reason.code))).await;
    }
}

/// The response body: the slot's chunk if there is one, else the driver polled until it writes one or ends.
struct Chunks<F> {
    slot: Slot,
    driver: Option<Pin<Box<F>>>,
}

impl<F: Future<Output = ()>> Stream for Chunks<F> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(chunk) = lock(&this.slot).take() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        if let Some(driver) = &mut this.driver
            && driver.as_mut().poll(cx).is_ready()
        {
            this.driver = None;
        }
        match lock(&this.slot).take() {
            Some(chunk) => Poll::Ready(Some(Ok(chunk))),
            None if this.driver.is_none() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Option<Bytes>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}
