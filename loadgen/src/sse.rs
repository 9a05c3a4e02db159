//! The server-sent events dialect: a Ferrocast relay's `GET /sse?topic=…`, read as EventSource reads it.
//!
//! HTTP/1.1 and its chunked body are hyper's; the event stream is ferrocast-protocol's [`Reader`], the parser the
//! relay's own tests use, so the generator reads events exactly as a browser would. One TCP connection per stream,
//! from a spread of loopback source addresses like the WebSocket connections.

use crate::Result;
use crate::net;
use crate::target::Target;
use bytes::Bytes;
use ferrocast_protocol::sse::{Event, Reader};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{ACCEPT, HOST};
use hyper::{Request, client::conn::http1};
use hyper_util::rt::TokioIo;

pub(crate) use ferrocast_protocol::sse::SUBSCRIBED_EVENT;

/// One open event stream.
pub(crate) struct EventStream {
    body: Incoming,
    reader: Reader,
}

/// Opens the `index`th event stream of `topic` on `target`.
pub(crate) async fn open(target: &Target, index: usize, topic: &str) -> Result<EventStream> {
    let stream = net::tcp_connect(target.addr, net::source_address(target.addr, index)).await?;
    let (mut sender, connection) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
    // The connection task ends when the response body is dropped or the server closes.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::get(target.sse_path(topic))
        .header(HOST, &target.authority)
        .header(ACCEPT, "text/event-stream")
        .body(Empty::new())?;
    let response = sender.send_request(request).await?;
    if !response.status().is_success() {
        return Err(format!("GET {}: {}", target.sse_path(topic), response.status()).into());
    }
    Ok(EventStream { body: response.into_body(), reader: Reader::new() })
}

impl EventStream {
    /// The events completed by the next chunk of the body (often none, for a keep-alive), or `None` once the
    /// stream has ended.
    pub(crate) async fn next_events(&mut self) -> Result<Option<Vec<Event>>> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(error)) => return Err(error.into()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(self.reader.feed(&data)));
                    }
                }
            }
        }
    }
}
