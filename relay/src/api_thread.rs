//! The HTTP API on an address and a thread of its own (`--api-listen`): a backend's requests never wait for a
//! turn behind the connections' tasks.
//!
//! On the main port, a POST arrives while the runtime's workers are busy writing the last broadcast to a thousand
//! subscribers, and its connection's task is run after theirs. Here it has a single-threaded runtime that runs
//! nothing else. Measured with a sequential publisher at 300 broadcasts/s to 1000 subscribers: POST p50 322 µs
//! and p99 6.1 ms on the main port, 87 µs and 3.7 ms on this one. The rest of the p99 is the machine's: both cores
//! were busy with the relay and the load generator (BENCHMARKS.md, issue 23).
//!
//! It serves what backends call, with the same handlers and checks as the main port: publishing, history,
//! presence, health and metrics. Not the sockets, event streams or workflow runs, whose work belongs on the
//! main runtime.

use crate::state::Relay;
use axum::Router;
use axum::serve::ListenerExt;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The API thread, serving until [`ApiThread::stop`].
#[derive(Debug)]
pub(crate) struct ApiThread {
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl ApiThread {
    /// Serves `routes` on `listener` from a new thread.
    pub(crate) fn start(
        listener: std::net::TcpListener,
        routes: Router<Arc<Relay>>,
        relay: Arc<Relay>,
    ) -> std::io::Result<ApiThread> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = routes.with_state(relay);
        let thread = std::thread::Builder::new().name("ferrocast-api".to_owned()).spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(crate::set_nodelay);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
            })
        })?;
        Ok(ApiThread { stop, thread })
    }

    /// Stops taking connections, lets the requests under way finish, and waits for the thread.
    pub(crate) async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(std::io::Error::other)?
            .map_err(|_| std::io::Error::other("the API thread panicked"))?
    }
}
