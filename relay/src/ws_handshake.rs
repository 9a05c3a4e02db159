//! The WebSocket handshake (RFC 6455 over HTTP/1.1), done here rather than by axum's extractor so that each
//! connection's task owns the raw stream under its WebSocket: after closing a socket for bad input it reads and
//! drops what the client still sends (see `ws::close_for_bad_input`), which axum's `WebSocket` cannot give back.
//! The request's checks and the accept key are tungstenite's.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::create_response_with_body;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// An accepted connection: the WebSocket over the stream hyper hands over after the 101.
pub(crate) type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// The subprotocol the relay speaks. phoenix.js 1.8 and our client offer it beside `base64url.bearer.phx.<token>`,
/// and a browser fails the handshake unless the server picks one of those it offered.
const SUBPROTOCOL: &str = "phoenix";

/// Answers a WebSocket upgrade with 101 and runs `connection` on the socket once hyper hands the stream over, or
/// answers 400 with what is wrong with the request (no `Upgrade: websocket`, no valid key, an old version...).
pub(crate) fn accept<F, Fut>(mut request: Request, config: WebSocketConfig, connection: F) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut response = match create_response_with_body(&request, Body::empty) {
        Ok(response) => response,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, format!("not a WebSocket upgrade: {error}\n")).into_response();
        }
    };
    if offers_subprotocol(&request) {
        response.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));
    }
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config));
                connection(socket.await).await;
            }
            // The client went away between the 101 and the switch: there is no socket to serve.
            Err(error) => tracing::debug!(%error, "a WebSocket upgrade did not complete"),
        }
    });
    response
}

/// Whether the client offered [`SUBPROTOCOL`] among its `Sec-WebSocket-Protocol` values.
fn offers_subprotocol(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|offered| offered.trim() == SUBPROTOCOL)
}
