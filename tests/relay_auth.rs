//! Tokens, topic and zone permissions, and origins, against a relay over real sockets.
//!
//! The relay here checks HS256 tokens signed with `SECRET`; each test signs the claims it needs.

#[path = "support/sse.rs"]
mod sse;
mod support;

use base64::Engine;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;
use ferrocast_pubsub::TokenVerifier;
use ferrocast_relay::{AllowedOrigins, Config};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use sse::SseStream;
use std::sync::Arc;
use support::{Client, TestRelay, http, upgrade};

const SECRET: &[u8] = b"a secret shared with the application's backend";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn token(claims: Value) -> String {
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn user(topics: &[&str]) -> String {
    token(json!({"sub": "ada", "exp": now() + 600, "topics": topics}))
}

async fn relay_with_tokens(origins: &[&str]) -> TestRelay {
    let origins: Vec<String> = origins.iter().map(|origin| (*origin).to_owned()).collect();
    TestRelay::start(Config {
        tokens: Some(Arc::new(TokenVerifier::hs256(SECRET))),
        origins: AllowedOrigins::new(&origins, false).unwrap(),
        ..Config::default()
    })
    .await
}

#[tokio::test]
async fn expired_forged_malformed_and_missing_tokens_are_refused_at_the_upgrade_with_their_reason() {
    let relay = relay_with_tokens(&[]).await;
    let expired = token(json!({"sub": "ada", "exp": now() - 3600, "topics": ["room:*"]}));
    let forged = jsonwebtoken::encode(
        &Header::default(),
        &json!({"sub": "ada", "exp": now() + 600, "topics": ["room:*"]}),
        &EncodingKey::from_secret(b"not the secret"),
    )
    .unwrap();
    let cases = [
        (format!("?vsn=2.0.0&token={expired}"), 403, "token expired"),
        (format!("?vsn=2.0.0&token={forged}"), 403, "invalid token signature"),
        ("?vsn=2.0.0&token=not-a-jwt".to_owned(), 403, "malformed token"),
        ("?vsn=2.0.0".to_owned(), 401, "missing token"),
    ];
    for (query, status, reason) in cases {
        let refused = upgrade(&relay.url(&query), &[]).await.err().expect("refused");
        assert_eq!(refused.0, status, "{query}: {refused:?}");
        assert!(refused.1.contains(reason), "{query}: {refused:?}");
    }
    let (_, metrics) = http(&relay, "GET", "/metrics", "").await;
    assert!(metrics.contains("ferrocast_refused_tokens_total 4"), "{metrics}");
}

#[tokio::test]
async fn a_join_outside_the_tokens_topics_is_unauthorized() {
    let relay = relay_with_tokens(&[]).await;
    let url = relay.url(&format!("?vsn=2.0.0&token={}", user(&["room:lobby", "chat:*"])));
    let mut client = upgrade(&url, &[]).await.expect("a valid token opens a socket");
    client.send(r#"["1","1","room:lobby","phx_join",{"no_presence":true}]"#).await;
    client.expect(r#"["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]"#).await;
    client.send(r#"["2","2","room:other","phx_join",{}]"#).await;
    client
        .expect(r#"["2","2","room:other","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#)
        .await;
    // The refusal leaves the joined channel working.
    client.send(r#"["1","3","room:lobby","ping",{"still":"here"}]"#).await;
    client.expect(r#"["1","3","room:lobby","phx_reply",{"status":"ok","response":{"still":"here"}}]"#).await;
}

#[tokio::test]
async fn phoenix_js_auth_token_subprotocol_is_read() {
    let relay = relay_with_tokens(&[]).await;
    let encoded = BASE64_URL_SAFE_NO_PAD.encode(user(&["room:*"]));
    let protocols = format!("phoenix, base64url.bearer.phx.{encoded}");
    let mut client = upgrade(&relay.url("?vsn=2.0.0"), &[("sec-websocket-protocol", protocols)]).await.expect("opens");
    client.send(r#"["1","1","room:a","phx_join",{"no_presence":true}]"#).await;
    client.expect(r#"["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"#).await;
}

#[tokio::test]
async fn presence_uses_the_tokens_user_not_the_join_params() {
    let relay = relay_with_tokens(&[]).await;
    let mut client = upgrade(&relay.url(&format!("?vsn=2.0.0&token={}", user(&["room:*"]))), &[]).await.unwrap();
    client.send(r#"["1","1","room:who","phx_join",{"user_id":"someone else"}]"#).await;
    client.expect(r#"["1","1","room:who","phx_reply",{"status":"ok","response":{}}]"#).await;
    client
        .expect(r#"["1",null,"room:who","presence_state",{"ada":{"metas":[{"online_at":"TIME","phx_ref":"REF"}]}}]"#)
        .await;
}

#[tokio::test]
async fn a_zone_event_without_its_bit_is_forbidden() {
    let relay = relay_with_tokens(&[]).await;
    // Bit 4 (broadcast events) on every zone, bit 2 (modify) on zone:home only; the join params cannot add bits.
    let claims =
        json!({"sub": "ada", "exp": now() + 600, "topics": ["zone:*"], "zones": {"zone:*": 4, "zone:home": 2}});
    let url = relay.url(&format!("?vsn=2.0.0&token={}", token(claims)));
    let mut client = upgrade(&url, &[]).await.unwrap();
    client.send(r#"["1","1","zone:away","phx_join",{"permissions":15}]"#).await;
    let reply = next_reply(&mut client).await;
    assert_eq!(reply[4]["response"]["permissions"], 4, "{reply}");
    client.send(r#"["1","2","zone:away","consume_resource",{"resource":"water","amount":1}]"#).await;
    let refused = next_reply(&mut client).await;
    assert_eq!(refused[4], json!({"status": "error", "response": {"reason": "forbidden"}}), "{refused}");
    client.send(r#"["3","3","zone:home","phx_join",{}]"#).await;
    let reply = next_reply(&mut client).await;
    assert_eq!(reply[4]["response"]["permissions"], 6, "{reply}");
    client.send(r#"["3","4","zone:home","consume_resource",{"resource":"water","amount":1}]"#).await;
    assert_eq!(next_reply(&mut client).await[4]["status"], "ok");
}

/// The next reply, skipping the broadcasts a zone sends around it.
async fn next_reply(client: &mut Client) -> Value {
    loop {
        let frame = client.next_json().await;
        if frame[3] == "phx_reply" {
            return frame;
        }
    }
}

#[tokio::test]
async fn the_http_api_needs_a_bearer_token_that_may_publish() {
    let relay = relay_with_tokens(&[]).await;
    let body = r#"{"topic":"room:a","event":"e","payload":{}}"#;
    let (status, answer) = http(&relay, "POST", "/api/broadcast", body).await;
    assert_eq!((status, answer.contains("missing token")), (401, true), "{answer}");
    let reader = user(&["room:*"]);
    let (status, answer) =
        support::http_with(&relay, "POST", "/api/broadcast", &[&format!("authorization: Bearer {reader}")], body).await;
    assert_eq!((status, answer.contains("publishing")), (403, true), "{answer}");
    let publisher = token(json!({"sub": "backend", "exp": now() + 600, "publish": true}));
    let (status, answer) =
        support::http_with(&relay, "POST", "/api/broadcast", &[&format!("authorization: Bearer {publisher}")], body)
            .await;
    assert_eq!(status, 200, "{answer}");
    // Presence is for a token that may join the topic.
    let (status, _) =
        support::http_with(&relay, "GET", "/api/presence/room:a", &[&format!("authorization: Bearer {reader}")], "")
            .await;
    assert_eq!(status, 200);
    let (status, _) =
        support::http_with(&relay, "GET", "/api/presence/zone:a", &[&format!("authorization: Bearer {reader}")], "")
            .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn event_streams_take_a_bearer_token_and_only_its_topics() {
    let relay = relay_with_tokens(&[]).await;
    let bearer = format!("authorization: Bearer {}", user(&["room:*"]));
    let refused = SseStream::open(relay.addr, "/sse?topic=room:a", &[]).await.err().expect("no token");
    assert_eq!(refused.status, 401, "{}", refused.body);
    let refused = SseStream::open(relay.addr, "/sse?topic=zone:a", &[&bearer]).await.err().expect("topic");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("unauthorized"), "{}", refused.body);
    assert!(SseStream::open(relay.addr, "/sse?topic=room:a", &[&bearer]).await.is_ok());
}

#[tokio::test]
async fn pages_from_other_origins_are_refused_unless_allowed() {
    let relay = relay_with_tokens(&["https://app.example.com"]).await;
    let url = relay.url(&format!("?vsn=2.0.0&token={}", user(&["room:*"])));
    let refused = upgrade(&url, &[("origin", "https://evil.example".to_owned())]).await.err().expect("refused");
    assert_eq!(refused.0, 403);
    assert!(refused.1.contains("origin https://evil.example not allowed"), "{refused:?}");
    assert!(upgrade(&url, &[("origin", "https://app.example.com".to_owned())]).await.is_ok());
    // The relay's own pages, and programs that send no Origin, pass.
    assert!(upgrade(&url, &[("origin", format!("http://{}", relay.addr))]).await.is_ok());
    assert!(upgrade(&url, &[]).await.is_ok());
    // A stream's CORS answer names only allowed origins.
    let bearer = format!("authorization: Bearer {}", user(&["room:*"]));
    let stream =
        SseStream::open(relay.addr, "/sse?topic=room:a", &[&bearer, "origin: https://app.example.com"]).await.unwrap();
    assert!(
        stream.head.to_ascii_lowercase().contains("access-control-allow-origin: https://app.example.com"),
        "{}",
        stream.head
    );
    let refused = SseStream::open(relay.addr, "/sse?topic=room:a", &[&bearer, "origin: https://evil.example"])
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 403);
}
