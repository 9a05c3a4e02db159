//! The client's socket, channels and pushes as a poll-style state machine, shared by the browser client, the
//! native test client and the load generator. See [`Socket`] for how to drive it.

mod backoff;
mod channel;
mod event_stream_reconnect;
mod heartbeat;
mod options;
mod output;
mod queue;
mod refs;
mod socket;
mod transport_choice;

pub use backoff::Backoff;
pub use channel::ChannelState;
pub use event_stream_reconnect::{AfterEnd, EventStreamReconnect, LAST_EVENT_ID_PARAM, ReadyState, StreamEnd};
pub use options::{Options, Overflow, QueueOptions};
pub use output::{ChannelId, DropReason, Event, Inbound, Outgoing, Outputs, PushId, Queues, TIMEOUT, Transmit};
pub use socket::{CLOSE_NORMAL, ClientError, ConnectionState, Socket, Stats};
pub use transport_choice::{Switch, Transport, TransportChoice, Transports};
