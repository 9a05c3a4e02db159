//! Pushes sent again after a lost connection: a relay handles each push of a socket identity once, and answers a
//! resent push with its first reply, on whichever connection it arrives.

mod support;

use ferrocast_relay::Config;
use serde_json::{Value, json};
use support::{Client, TestRelay};

const SID: &str = "k7Qx2m9PzL4vR8tN";

async fn joined(name: &'static str, relay: &TestRelay, query: &str, join_ref: &str) -> Client {
    let mut client = Client::connect(name, &relay.url(query)).await;
    client.send(&json!([join_ref, join_ref, "room:p", "phx_join", { "no_presence": true }, {}]).to_string()).await;
    let reply = client.next_json().await;
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    client
}

/// Pushes `new_msg` with `ref` and returns the reply; the room broadcasts the message to everyone, sender included,
/// before it replies, so a handled push shows as a broadcast first.
async fn push(client: &mut Client, join_ref: &str, push_ref: &str, n: u64) -> (bool, Value) {
    client.send(&json!([join_ref, push_ref, "room:p", "new_msg", { "n": n }]).to_string()).await;
    let mut broadcast_seen = false;
    loop {
        let frame = client.next_json().await;
        match frame[3].as_str() {
            Some("new_msg") => broadcast_seen = true,
            Some("phx_reply") => return (broadcast_seen, frame),
            _ => panic!("{}: unexpected {frame}", client.name),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_resent_by_the_same_socket_identity_is_answered_without_being_handled_again() {
    let relay = TestRelay::start(Config::default()).await;
    let mut watcher = joined("watcher", &relay, "?vsn=2.0.0", "1").await;
    let query = format!("?vsn=2.0.0&ferrocast_sid={SID}");

    let mut first = joined("first", &relay, &query, "1").await;
    let (handled, reply) = push(&mut first, "1", "2", 7).await;
    assert!(handled);
    assert_eq!(reply, json!(["1", "2", "room:p", "phx_reply", { "status": "ok", "response": { "n": 7 } }]));
    assert_eq!(watcher.next_json().await[4], json!({ "n": 7 }));
    first.close().await;

    // The same socket, reconnected: a new join ref, the push sent again with its ref.
    let mut again = joined("again", &relay, &query, "3").await;
    let (handled, reply) = push(&mut again, "3", "2", 7).await;
    assert!(!handled, "the room did not broadcast it a second time");
    assert_eq!(reply, json!(["3", "2", "room:p", "phx_reply", { "status": "ok", "response": { "n": 7 } }]));
    watcher.expect_silence(200).await;

    // A new ref is a new push.
    let (handled, _) = push(&mut again, "3", "4", 8).await;
    assert!(handled);
    assert_eq!(watcher.next_json().await[4], json!({ "n": 8 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_identity_or_with_a_malformed_one_every_push_is_handled_as_phoenix_does() {
    let relay = TestRelay::start(Config::default()).await;
    for query in ["?vsn=2.0.0", "?vsn=2.0.0&ferrocast_sid=short", "?vsn=2.0.0&ferrocast_sid=has%20spaces%20in%20it%21"]
    {
        for name in ["one", "two"] {
            let mut client = joined(name, &relay, query, "1").await;
            let (handled, reply) = push(&mut client, "1", "2", 1).await;
            assert!(handled, "{query}: {reply}");
            client.close().await;
        }
    }
}
