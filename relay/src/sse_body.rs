//! The body of a `text/event-stream` response, written by a connection's task: the topic streams' and the
//! event-stream sockets'. The response goes back to the client at once; the connection sends its chunks into it,
//! one waiting at most, so a reader that does not read holds the connection's writes back, as a full socket does.

use crate::driver::Gone;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

/// Where a connection writes its event stream's chunks.
pub(crate) struct EventStreamBody {
    chunks: mpsc::Sender<Bytes>,
}

/// A `text/event-stream` response that starts with `first`, and the body its connection writes the rest to.
pub(crate) fn response(first: Bytes) -> (EventStreamBody, Response) {
    let (sender, receiver) = mpsc::channel(1);
    // The channel is new and holds one: the first chunk always fits.
    let _ = sender.try_send(first);
    let body = Body::from_stream(futures_util::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), receiver))
    }));
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
        // Tells nginx not to buffer the stream.
        (header::HeaderName::from_static("x-accel-buffering"), "no"),
    ];
    (EventStreamBody { chunks: sender }, (headers, body).into_response())
}

impl EventStreamBody {
    /// Sends a chunk once the client has taken the one before; `Err` once the client is gone.
    pub(crate) async fn send(&self, chunk: Bytes) -> Result<(), Gone> {
        self.chunks.send(chunk).await.map_err(|_| Gone)
    }

    /// Completes when the client is gone (the response was dropped), so a connection that writes nothing for a
    /// while still ends with its client.
    pub(crate) async fn gone(&self) {
        self.chunks.closed().await;
    }
}
