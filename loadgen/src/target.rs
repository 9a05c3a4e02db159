//! The server under test: where it listens, which dialect it speaks, and which process to watch.

use crate::Result;
use crate::dialect::Dialect;
use std::net::SocketAddr;

/// A server the scenarios connect to.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The protocol it speaks.
    pub dialect: Dialect,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `host:port` as given, for URLs and Host headers.
    pub authority: String,
    /// The WebSocket path: the URL's, or the dialect's usual one when the URL has none.
    pub path: String,
    /// Query parameters the URL already had, added to the dialect's own.
    pub extra_query: Option<String>,
    /// Ask a Ferrocast relay for batch messages (`ferrocast_batch=1`).
    pub batch: bool,
    /// The server's process, for CPU and memory figures; without it those figures are left out.
    pub server_pid: Option<u32>,
    /// Where the HTTP publisher POSTs when not to `addr`: a relay's backend API port (`--api-listen`).
    pub api: Option<SocketAddr>,
}

impl Target {
    /// A target from a `ws://host:port/path?query` URL (`http://` is read the same way); an empty path takes the
    /// dialect's usual one.
    pub(crate) async fn from_url(url: &str, dialect: Dialect, batch: bool, server_pid: Option<u32>) -> Result<Target> {
        let rest = ["ws://", "http://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .ok_or_else(|| format!("{url}: only ws:// and http:// URLs are supported (no TLS)"))?;
        let (authority, path_and_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (path, extra_query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (path_and_query, None),
        };
        let path = if path.is_empty() || path == "/" { dialect.default_path() } else { path };
        let addr = tokio::net::lookup_host(authority)
            .await
            .map_err(|error| format!("{authority}: {error}"))?
            .next()
            .ok_or_else(|| format!("{authority}: no address"))?;
        Ok(Target {
            dialect,
            addr,
            authority: authority.to_owned(),
            path: path.to_owned(),
            extra_query,
            batch,
            server_pid,
            api: None,
        })
    }

    /// A target on this machine's `addr` at the dialect's usual path.
    pub(crate) fn local(dialect: Dialect, addr: SocketAddr, server_pid: Option<u32>) -> Target {
        Target {
            dialect,
            addr,
            authority: addr.to_string(),
            path: dialect.default_path().to_owned(),
            extra_query: None,
            batch: false,
            server_pid,
            api: None,
        }
    }

    /// The WebSocket URL, with the dialect's connect query.
    pub(crate) fn ws_url(&self) -> String {
        let mut url = format!("ws://{}{}?{}", self.authority, self.path, self.dialect.query(self.batch));
        if let Some(extra) = &self.extra_query {
            url.push('&');
            url.push_str(extra);
        }
        url
    }

    /// The path and query of a Ferrocast relay's event stream of `topic`.
    pub(crate) fn sse_path(&self, topic: &str) -> String {
        // Topics here are `room:…`; `:` is allowed in a query, so no escaping is needed.
        format!("/sse?topic={topic}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_read_back() {
        let target = Target::from_url("ws://127.0.0.1:4000", Dialect::Phoenix, true, None).await.unwrap();
        assert_eq!(target.ws_url(), "ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0&ferrocast_batch=1");
        let target =
            Target::from_url("http://127.0.0.1:9/socket.io/?token=x", Dialect::Socketio, false, None).await.unwrap();
        assert_eq!(target.ws_url(), "ws://127.0.0.1:9/socket.io/?EIO=4&transport=websocket&token=x");
        assert!(Target::from_url("wss://example.com", Dialect::Phoenix, false, None).await.is_err());
    }
}
