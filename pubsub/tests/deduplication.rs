//! Sessions of one socket identity handle each push once, and the identity stays out of the channel's params.

mod support;

use ferrocast_protocol::{Vsn, WireData};
use ferrocast_pubsub::Handlers;
use ferrocast_pubsub::Identity;
use ferrocast_pubsub::Outcome;
use ferrocast_pubsub::{Backend, Hub, Outbox, OutboxLimits, Plug, PlugContext, PresenceHub, Router, Session};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::sent;

#[tokio::test]
async fn two_connections_of_one_socket_handle_a_push_once_and_both_get_its_reply() {
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    let params_seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = params_seen.clone();
    let record_params: Arc<dyn Plug> = Arc::new(move |ctx: &PlugContext<'_>| {
        let mut keys: Vec<String> = ctx.socket.params.keys().cloned().collect();
        keys.sort();
        recorder.lock().unwrap().push(keys);
        Ok(())
    });
    let counting = Handlers::new().event("add", move |_ctx, _rest, payload| {
        counter.fetch_add(1, Ordering::Relaxed);
        Outcome::ok(payload)
    });
    let router = Router::new().scope(vec![record_params], |scope| scope.channel("count:*", counting));
    let hub = Arc::new(Hub::new());
    let presence = PresenceHub::new(hub.clone(), Duration::from_millis(50));
    let backend = Arc::new(Backend::new(hub, presence, router));
    let params = || {
        HashMap::from([
            ("token".to_owned(), "t".to_owned()),
            ("ferrocast_sid".to_owned(), "abcdefgh12345678".to_owned()),
        ])
    };

    let first_outbox = Arc::new(Outbox::new(OutboxLimits::default()));
    let mut first = Session::new(backend.clone(), params(), Vsn::V2, first_outbox.clone(), Identity::Anonymous);
    first.handle(WireData::Text(r#"["1","1","count:a","phx_join",{}]"#)).unwrap();
    first.handle(WireData::Text(r#"["1","2","count:a","add",{"n":1}]"#)).unwrap();
    let second_outbox = Arc::new(Outbox::new(OutboxLimits::default()));
    let mut second = Session::new(backend.clone(), params(), Vsn::V2, second_outbox.clone(), Identity::Anonymous);
    second.handle(WireData::Text(r#"["3","3","count:a","phx_join",{}]"#)).unwrap();
    second.handle(WireData::Text(r#"["3","2","count:a","add",{"n":1}]"#)).unwrap();
    // The first connection's copy, read late (it was still in its buffer): not handled again either.
    first.handle(WireData::Text(r#"["1","2","count:a","add",{"n":1}]"#)).unwrap();

    assert_eq!(handled.load(Ordering::Relaxed), 1);
    let reply =
        |join_ref: &str| format!(r#"["{join_ref}","2","count:a","phx_reply",{{"response":{{"n":1}},"status":"ok"}}]"#);
    assert_eq!(sent(&first_outbox).await[1..], [reply("1"), reply("1")]);
    assert_eq!(sent(&second_outbox).await[1..], [reply("3")]);
    for keys in params_seen.lock().unwrap().iter() {
        assert_eq!(keys, &["token".to_owned()], "the identity is the protocol's, not the application's");
    }
}
