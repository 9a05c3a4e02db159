//! The built-in `zone:*` channel over real sockets: permission bits, resources, and agents entering and leaving.

mod support;

use ferrocast_relay::Config;
use support::{Client, TestRelay};

const V2: &str = "?vsn=2.0.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_events_are_gated_by_permission_bits() {
    let relay = TestRelay::start(Config::default()).await;
    // The watcher may only look; the worker may broadcast (0x04) and modify the zone (0x02).
    let mut watcher = Client::connect("watcher", &relay.url(V2)).await;
    watcher.send(r#"["1","1","zone:z1","phx_join",{"user_id":"watcher"}]"#).await;
    // A joining channel is already subscribed, so its own agent_entered comes before its reply.
    watcher.expect(r#"[null,null,"zone:z1","agent_entered",{"user_id":"watcher"}]"#).await;
    watcher.expect(r#"["1","1","zone:z1","phx_reply",{"response":{"permissions":0},"status":"ok"}]"#).await;
    watcher
        .expect(r#"["1",null,"zone:z1","presence_state",{"watcher":{"metas":[{"online_at":0,"phx_ref":""}]}}]"#)
        .await;

    let mut worker = Client::connect("worker", &relay.url(V2)).await;
    worker.send(r#"["1","1","zone:z1","phx_join",{"user_id":"worker","permissions":6}]"#).await;
    worker.expect_skipping_diffs(r#"[null,null,"zone:z1","agent_entered",{"user_id":"worker"}]"#).await;
    worker
        .expect_skipping_diffs(r#"["1","1","zone:z1","phx_reply",{"response":{"permissions":6},"status":"ok"}]"#)
        .await;
    let both =
        r#"{"watcher":{"metas":[{"online_at":0,"phx_ref":""}]},"worker":{"metas":[{"online_at":0,"phx_ref":""}]}}"#;
    worker.expect_skipping_diffs(&format!(r#"["1",null,"zone:z1","presence_state",{both}]"#)).await;
    watcher.expect_skipping_diffs(r#"[null,null,"zone:z1","agent_entered",{"user_id":"worker"}]"#).await;

    // Without the bit: forbidden, and nothing is broadcast.
    watcher.send(r#"["1","2","zone:z1","agent_move",{"x":1}]"#).await;
    watcher
        .expect_skipping_diffs(
            r#"["1","2","zone:z1","phx_reply",{"response":{"reason":"forbidden"},"status":"error"}]"#,
        )
        .await;
    watcher.send(r#"["1","3","zone:z1","consume_resource",{"resource":"energy","amount":5}]"#).await;
    watcher
        .expect_skipping_diffs(
            r#"["1","3","zone:z1","phx_reply",{"response":{"reason":"forbidden"},"status":"error"}]"#,
        )
        .await;
    worker.send(r#"["1","2","zone:z1","spawn_agent",{"agent_id":"a1"}]"#).await;
    worker
        .expect_skipping_diffs(
            r#"["1","2","zone:z1","phx_reply",{"response":{"reason":"forbidden"},"status":"error"}]"#,
        )
        .await;

    // With it: the event is broadcast to the zone, the worker's own copy before its reply.
    worker.send(r#"["1","3","zone:z1","agent_move",{"x":3,"y":4}]"#).await;
    let moved = r#"[null,null,"zone:z1","agent_move",{"user_id":"worker","x":3,"y":4}]"#;
    watcher.expect_skipping_diffs(moved).await;
    worker.expect_skipping_diffs(moved).await;
    worker.expect_skipping_diffs(r#"["1","3","zone:z1","phx_reply",{"response":{},"status":"ok"}]"#).await;

    worker.send(r#"["1","4","zone:z1","consume_resource",{"resource":"energy","amount":30}]"#).await;
    let changed = r#"[null,null,"zone:z1","resource_changed",{"by":"worker","remaining":70,"resource":"energy"}]"#;
    watcher.expect_skipping_diffs(changed).await;
    worker.expect_skipping_diffs(changed).await;
    worker
        .expect_skipping_diffs(
            r#"["1","4","zone:z1","phx_reply",{"response":{"remaining":70,"resource":"energy"},"status":"ok"}]"#,
        )
        .await;
    worker.send(r#"["1","5","zone:z1","consume_resource",{"resource":"energy","amount":71}]"#).await;
    worker
        .expect_skipping_diffs(
            r#"["1","5","zone:z1","phx_reply",{"response":{"reason":"insufficient"},"status":"error"}]"#,
        )
        .await;

    watcher.send(r#"["1","4","zone:z1","get_zone_state",{}]"#).await;
    watcher
        .expect_skipping_diffs(
            r#"["1","4","zone:z1","phx_reply",{"response":{"agents":["watcher","worker"],"resources":{"energy":70,"matter":100,"water":100},"zone":"z1"},"status":"ok"}]"#,
        )
        .await;

    // The worker's connection ends: the others see its agent leave.
    worker.close().await;
    watcher.expect_skipping_diffs(r#"[null,null,"zone:z1","agent_left",{"user_id":"worker"}]"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_join_needs_a_user_id() {
    let relay = TestRelay::start(Config::default()).await;
    let mut a = Client::connect("A", &relay.url(V2)).await;
    a.send(r#"["1","1","zone:z2","phx_join",{}]"#).await;
    a.expect(r#"["1","1","zone:z2","phx_reply",{"response":{"reason":"user_id required"},"status":"error"}]"#).await;
}
