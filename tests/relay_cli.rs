//! The relay binary's start-up refusals: dev mode (no secret or key) is for loopback unless `--dev` says otherwise.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::relay_process;

/// Runs the relay with `args`; `Ok` once it says it serves (and it is stopped), `Err` with its output if it exits.
fn start(args: &[&str]) -> Result<(), String> {
    let mut relay = Command::new(relay_process::binary())
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the relay");
    let stdout = BufReader::new(relay.stdout.take().expect("stdout"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut output = String::new();
    for line in stdout.lines() {
        let line = line.expect("read the relay's output");
        output.push_str(&line);
        output.push('\n');
        if line.contains("ferrocast-relay serving") {
            let _ = relay.kill();
            let _ = relay.wait();
            return Ok(());
        }
        assert!(Instant::now() < deadline, "the relay neither served nor exited:\n{output}");
    }
    let status = relay.wait().expect("wait");
    assert!(!status.success(), "the relay exited successfully without serving:\n{output}");
    Err(output)
}

#[test]
fn dev_mode_refuses_a_public_address_unless_asked() {
    let refused = start(&["--listen", "0.0.0.0:0"]).expect_err("dev mode on 0.0.0.0");
    assert!(refused.contains("refusing to listen on 0.0.0.0:0 in dev mode"), "{refused}");
    start(&["--listen", "0.0.0.0:0", "--dev"]).expect("--dev allows it");
    start(&["--listen", "0.0.0.0:0", "--jwt-secret", "s3cret"]).expect("a secret is not dev mode");
    start(&["--listen", "127.0.0.1:0"]).expect("loopback in dev mode");
    let refused = start(&["--listen", "127.0.0.1:0", "--api-listen", "0.0.0.0:0"]).expect_err("a public API port");
    assert!(refused.contains("refusing to listen on 0.0.0.0:0 in dev mode"), "{refused}");
    start(&["--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"]).expect("a loopback API port in dev mode");
}

#[test]
fn a_bad_key_or_origin_pattern_stops_the_relay_with_a_message() {
    let key = std::env::temp_dir().join(format!("ferrocast-not-a-key-{}.pem", std::process::id()));
    std::fs::write(&key, "not a key").unwrap();
    let refused = start(&["--listen", "127.0.0.1:0", "--jwt-public-key", key.to_str().unwrap()]).unwrap_err();
    assert!(refused.contains("not an RSA or EC public key"), "{refused}");
    let _ = std::fs::remove_file(key);
    let refused = start(&["--listen", "127.0.0.1:0", "--allow-origin", "example.com"]).unwrap_err();
    assert!(refused.contains("--allow-origin"), "{refused}");
}

#[test]
fn a_pubsub_that_is_not_memory_or_redis_stops_the_relay_with_a_message() {
    let refused = start(&["--listen", "127.0.0.1:0", "--pubsub", "nats://127.0.0.1:4222"]).unwrap_err();
    let expected = "--pubsub nats://127.0.0.1:4222: expected memory, redis://host:port, rediss://host:port, \
                    redis+sentinel://host:port[,host:port…]/MASTER or redis+cluster://host:port[,host:port…]";
    assert!(refused.contains(expected), "{refused}");
    let refused = start(&["--listen", "127.0.0.1:0", "--pubsub", "redis://127.0.0.1:port"]).unwrap_err();
    assert!(refused.contains("--pubsub redis://127.0.0.1:port: "), "{refused}");
    let tls = ["--listen", "127.0.0.1:0", "--pubsub", "rediss://127.0.0.1:6380", "--redis-ca", "/nonexistent/ca.pem"];
    let refused = start(&tls).unwrap_err();
    assert!(refused.contains("--redis-ca /nonexistent/ca.pem: "), "{refused}");
}

#[test]
fn a_bad_sentinel_url_or_sentinels_that_name_no_master_stop_the_relay_with_a_message() {
    let pubsub = |url: &str| start(&["--listen", "127.0.0.1:0", "--pubsub", url]).unwrap_err();
    let refused = pubsub("redis+sentinel://127.0.0.1:26379");
    assert!(refused.contains("--pubsub redis+sentinel://127.0.0.1:26379: ") && refused.contains("no master name"));
    let refused = pubsub("redis+sentinel://127.0.0.1:port/mymaster");
    assert!(refused.contains("\"port\" is not a port"), "{refused}");
    // Nobody listens on these ports: the relay says so rather than wait.
    let (one, two) = (support::free_port(), support::free_port());
    let refused = pubsub(&format!("redis+sentinel://127.0.0.1:{one},127.0.0.1:{two}/mymaster"));
    assert!(refused.contains(&format!("asking the sentinels 127.0.0.1:{one},127.0.0.1:{two} for \"mymaster\"")));
    // A sentinel that knows no master of that name.
    let redis = support::redis::Redis::start();
    let sentinel = support::redis::Sentinel::start(redis.port, "mymaster");
    let refused = pubsub(&format!("redis+sentinel://127.0.0.1:{}/nosuchmaster", sentinel.port));
    assert!(refused.contains("names a master \"nosuchmaster\""), "{refused}");
}

#[test]
fn a_bad_cluster_url_nodes_that_do_not_answer_or_webhooks_on_a_cluster_stop_the_relay_with_a_message() {
    let pubsub = |args: &[&str]| {
        let mut all = vec!["--listen", "127.0.0.1:0", "--pubsub"];
        all.extend_from_slice(args);
        start(&all).unwrap_err()
    };
    let refused = pubsub(&["redis+cluster://127.0.0.1:port"]);
    assert!(
        refused.contains("--pubsub redis+cluster://127.0.0.1:port: ") && refused.contains("\"port\" is not a port")
    );
    let refused = pubsub(&["redis+cluster://127.0.0.1:7000/1"]);
    assert!(refused.contains("a Redis Cluster has one database"), "{refused}");
    let refused = pubsub(&["redis+cluster://"]);
    assert!(refused.contains("no node"), "{refused}");
    // The journal the webhooks' queue on Redis reads cannot be written on a cluster: refused before anything is
    // asked of the nodes.
    let webhook = ["--webhook", "app=http://127.0.0.1:9/hook", "--webhook-secret", "app=whsec_AAAA"];
    let refused = pubsub(&[&["redis+cluster://127.0.0.1:7000"][..], &webhook].concat());
    assert!(refused.contains("no journal on a Redis Cluster"), "{refused}");
    // Nobody listens there: the relay says so rather than wait.
    let port = support::free_port();
    let refused = pubsub(&[&format!("redis+cluster://127.0.0.1:{port}")]);
    assert!(refused.contains(&format!("--pubsub redis+cluster://127.0.0.1:{port}: ")), "{refused}");
    // A Redis that is no cluster.
    let redis = support::redis::Redis::start();
    let refused = pubsub(&[&format!("redis+cluster://127.0.0.1:{}", redis.port)]);
    assert!(refused.contains(&format!("--pubsub redis+cluster://127.0.0.1:{}: ", redis.port)), "{refused}");
}

#[test]
fn a_bad_hook_flag_stops_the_relay_with_a_message() {
    let refused = start(&["--listen", "127.0.0.1:0", "--proxy-join", "http://backend/join"]).unwrap_err();
    assert!(refused.contains("--proxy-join \"http://backend/join\": expected PATTERN=URL"), "{refused}");
    let refused = start(&["--listen", "127.0.0.1:0", "--proxy-push", "app:*=ftp://backend/push"]).unwrap_err();
    assert!(refused.contains("\"ftp://backend/push\" is not an http:// or https:// URL"), "{refused}");
    let refused =
        start(&["--listen", "127.0.0.1:0", "--proxy-connect", "http://b/c", "--proxy-timeout", "0"]).unwrap_err();
    assert!(refused.contains("--proxy-timeout 0: expected seconds"), "{refused}");
    let hooks = ["--proxy-join", "app:*=http://127.0.0.1:9/join", "--proxy-push", "app:*=http://127.0.0.1:9/push"];
    start(&[&["--listen", "127.0.0.1:0"], &hooks[..], &["--proxy-header", "Cookie"]].concat()).expect("hooks start");
}

#[test]
fn a_bad_webhook_flag_or_configuration_file_stops_the_relay_with_a_message() {
    let refused = start(&["--listen", "127.0.0.1:0", "--webhook", "crm=http://127.0.0.1:9/hook"]).unwrap_err();
    assert!(refused.contains("every webhook needs its Standard Webhooks secret"), "{refused}");
    let flags = ["--webhook", "crm=http://127.0.0.1:9/hook", "--webhook-secret", "crm=whsec_AAAA"];
    let refused = start(&[&["--listen", "127.0.0.1:0"], &flags[..], &["--webhook-events", "crm=nope"]].concat());
    assert!(refused.unwrap_err().contains("\"nope\" is not a kind"));
    let odd = ["--webhook", "crm/x=http://127.0.0.1:9/hook", "--webhook-secret", "crm/x=whsec_AAAA"];
    let refused = start(&[&["--listen", "127.0.0.1:0"], &odd[..]].concat()).unwrap_err();
    assert!(refused.contains("a name is 1 to 64 letters, digits"), "{refused}");
    let file = std::env::temp_dir().join(format!("ferrocast-config-{}.toml", std::process::id()));
    std::fs::write(&file, "[webhooks]\nqueu = 5\n").unwrap();
    let refused = start(&["--listen", "127.0.0.1:0", "--config", file.to_str().unwrap()]).unwrap_err();
    assert!(refused.contains("unknown field `queu`"), "{refused}");
    let entry = "[[webhooks.endpoint]]\nname = 'crm'\nurl = 'http://127.0.0.1:9/hook'\nsecret = 'whsec_AAAA'\n";
    std::fs::write(&file, entry).unwrap();
    start(&["--listen", "127.0.0.1:0", "--config", file.to_str().unwrap()]).expect("a webhook from the file");
    let refused = start(&[&["--listen", "127.0.0.1:0", "--config", file.to_str().unwrap()], &flags[..]].concat());
    assert!(refused.unwrap_err().contains("webhook crm: the name is given twice"));
    let _ = std::fs::remove_file(file);
    start(&[&["--listen", "127.0.0.1:0"], &flags[..]].concat()).expect("a webhook from flags");
}
