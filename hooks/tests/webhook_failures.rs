//! A receiver that never answers and one that is not there: each batch is tried again (the time limit and the
//! refused connection are failures to retry, not refusals), and once too old it goes to the dead letters with the
//! last failure as its reason.

use ferrocast_hooks::webhooks::{Kind, WebhookEndpoint, WebhookSettings, Webhooks};
use ferrocast_protocol::Payload;
use ferrocast_pubsub::Tap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

fn settings(url: String) -> WebhookSettings {
    WebhookSettings {
        endpoints: vec![WebhookEndpoint {
            name: "down".to_owned(),
            url,
            secret: "whsec_c2VjcmV0c2VjcmV0".to_owned(),
            kinds: vec![Kind::Broadcast],
            topics: vec![],
        }],
        timeout: Duration::from_millis(200),
        retry_max: Duration::from_millis(100),
        max_age: Duration::from_millis(1500),
        batch_window: Duration::from_millis(10),
        ..WebhookSettings::default()
    }
}

/// Waits for the endpoint's first dead letter; its reason.
async fn dead_reason(webhooks: &Webhooks) -> String {
    for _ in 0..100 {
        if let Some(dead) = webhooks.dead("down").await.unwrap().unwrap().first() {
            assert_eq!(dead.events.len(), 1);
            assert!(dead.status.is_none(), "no answer, so no status");
            return dead.reason.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no dead letter within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_is_retried_past_each_time_limit_then_the_batch_is_dead() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::Relaxed);
            held.push(stream); // read nothing, answer nothing
        }
    });
    let webhooks = Webhooks::start(settings(url), None).unwrap();
    webhooks.broadcast("room:a", "n", &Payload::Json("{}".to_owned()), 1, "e");
    let reason = dead_reason(&webhooks).await;
    assert!(reason.starts_with("too old, last: timeout"), "{reason}");
    assert!(connections.load(Ordering::Relaxed) >= 2, "tried once only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_not_there_is_retried_then_the_batch_is_dead() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let webhooks = Webhooks::start(settings(format!("http://127.0.0.1:{port}/hook")), None).unwrap();
    webhooks.broadcast("room:a", "n", &Payload::Json("{}".to_owned()), 1, "e");
    let reason = dead_reason(&webhooks).await;
    assert!(reason.starts_with("too old, last: ") && !reason.contains("timeout"), "{reason}");
    assert_eq!(webhooks.list()[0].breaker, "open", "every attempt failed: the breaker opened");
}
