//! A channel built with `Handlers` behind a scope of plugs, driven through a `Session` without any socket.

mod support;

use ferrocast_protocol::{Payload, Vsn, WireData};
use ferrocast_pubsub::Handlers;
use ferrocast_pubsub::Identity;
use ferrocast_pubsub::{Backend, Hub, Outbox, OutboxLimits, Plug, PlugContext, PresenceHub, Router, Session};
use ferrocast_pubsub::{Outcome, reason};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::sent;

#[tokio::test]
async fn scoped_plugs_run_first_and_event_splats_reach_their_handler() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = seen.clone();
    // TrackMetrics: counts every join and event of the scope.
    let track_metrics: Arc<dyn Plug> = Arc::new(move |_: &PlugContext<'_>| {
        counted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    // EnsureAuthenticated: joins need a `token` connect param.
    let ensure_authenticated: Arc<dyn Plug> = Arc::new(|ctx: &PlugContext<'_>| match ctx.socket.params.get("token") {
        Some(_) => Ok(()),
        None => Err(reason("unauthenticated")),
    });
    let actors = Handlers::new()
        .event("spawn", |ctx, _rest, payload| {
            ctx.broadcast("spawned", &payload);
            Outcome::ok(payload)
        })
        .event("mesh:*", |_ctx, rest, _payload| match rest {
            "coordinator" | "monitor" | "router" => Outcome::ok(Payload::Json(format!(r#"{{"role":"{rest}"}}"#))),
            _ => Outcome::error(reason("no such mesh role")),
        });
    let router =
        Router::new().scope(vec![track_metrics, ensure_authenticated], |scope| scope.channel("bitactor:*", actors));
    let hub = Arc::new(Hub::new());
    let presence = PresenceHub::new(hub.clone(), Duration::from_millis(50));
    let backend = Arc::new(Backend::new(hub, presence, router));

    let anonymous_outbox = Arc::new(Outbox::new(OutboxLimits::default()));
    let mut anonymous =
        Session::new(backend.clone(), HashMap::new(), Vsn::V2, anonymous_outbox.clone(), Identity::Anonymous);
    anonymous.handle(WireData::Text(r#"["1","1","bitactor:1","phx_join",{}]"#)).unwrap();
    assert_eq!(
        sent(&anonymous_outbox).await,
        vec![r#"["1","1","bitactor:1","phx_reply",{"response":{"reason":"unauthenticated"},"status":"error"}]"#]
    );

    let outbox = Arc::new(Outbox::new(OutboxLimits::default()));
    let params = HashMap::from([("token".to_owned(), "t".to_owned())]);
    let mut session = Session::new(backend, params, Vsn::V2, outbox.clone(), Identity::Anonymous);
    for frame in [
        r#"["1","1","bitactor:1","phx_join",{}]"#,
        r#"["1","2","bitactor:1","mesh:router",{}]"#,
        r#"["1","3","bitactor:1","mesh:nobody",{}]"#,
        r#"["1","4","bitactor:1","spawn",{"n":1}]"#,
        r#"["1","5","bitactor:1","teleport",{}]"#,
    ] {
        session.handle(WireData::Text(frame)).unwrap();
    }
    assert_eq!(
        sent(&outbox).await,
        vec![
            r#"["1","1","bitactor:1","phx_reply",{"response":{},"status":"ok"}]"#,
            r#"["1","2","bitactor:1","phx_reply",{"response":{"role":"router"},"status":"ok"}]"#,
            r#"["1","3","bitactor:1","phx_reply",{"response":{"reason":"no such mesh role"},"status":"error"}]"#,
            r#"[null,null,"bitactor:1","spawned",{"n":1}]"#,
            r#"["1","4","bitactor:1","phx_reply",{"response":{"n":1},"status":"ok"}]"#,
            r#"["1","5","bitactor:1","phx_reply",{"response":{"reason":"unknown event"},"status":"error"}]"#,
        ]
    );
    // Two joins and four events went through the scope's first plug.
    assert_eq!(seen.load(Ordering::Relaxed), 6);
}
