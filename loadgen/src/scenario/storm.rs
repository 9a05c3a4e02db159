//! `storm`: N connections join one presence topic at once; how many presence frames that costs, and how long
//! until every member sees all N.
//!
//! All connections are opened first, then told to join together. Each member tracks who is present from
//! `presence_state` and `presence_diff` (keys only, read without parsing the metas) and reports once it sees every
//! member. Phoenix itself sends about N² frames here; a relay that coalesces diffs sends a small multiple of N.
//!
//! With the server's pid, its resident memory (VmRSS) is read before connecting, once every member is connected,
//! and a second after the storm settled, with every member still joined: what a member costs once the storm is
//! over, and how much of it the storm left behind on top of an idle connection (transient states and diffs the
//! allocator or a socket's buffers kept). Members send heartbeats as clients do, so a storm that takes longer than
//! the relay's idle timeout (60 s; a 10,000-member storm on a loaded machine) does not lose its first members before
//! the reading; the figures say how many were still connected then.

use crate::Result;
use crate::conn;
use crate::dialect::{Dialect, Incoming};
use crate::json_scan;
use crate::net::{self, BUSY_READ_BUFFER, Ws};
use crate::proc_stats;
use crate::scenario::window::round;
use crate::scenario::{Figure, Outcome, merge_json};
use crate::subscriber::{CONNECT_CONCURRENCY, HEARTBEAT_INTERVAL};
use crate::target::Target;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

/// The topic every member joins, tracked in its presence.
const TOPIC: &str = "room:storm";
/// How long members get to see each other before the storm is called unsettled: a minute, and more for storms so
/// large that their states alone are gigabytes to send and read (10,000 members: N²/2 entries of ~75 bytes).
fn settle_timeout(members: usize) -> Duration {
    Duration::from_secs(60).max(Duration::from_millis(members as u64 * 20))
}
/// How long the server gets after the storm settled before its memory is read, as the idle scenario waits.
const SETTLE: Duration = Duration::from_secs(1);

/// Runs the storm with `requested` members, who stay joined for `hold` after the server's memory was read.
pub(crate) async fn run(target: &Target, requested: usize, hold: Duration) -> Result<Outcome> {
    if target.dialect != Dialect::Phoenix {
        return Err("storm needs presence: a Phoenix-dialect server with presence on room:*".into());
    }
    let capped = net::cap_connections(requested, 0);
    let rss = || target.server_pid.and_then(|pid| proc_stats::rss_kib(pid).ok());
    let rss_before = rss();
    let mut sockets = connect_all(target, capped.count).await?;
    let members = sockets.len();
    let rss_connected = rss();

    let (go, ready_to_go) = watch::channel(false);
    let open = Arc::new(AtomicUsize::new(members));
    let (settled_tx, mut settled) = mpsc::unbounded_channel::<(u64, Instant)>();
    let mut tasks = JoinSet::new();
    for (index, ws) in sockets.drain(..).enumerate() {
        let (go, settled) = (ready_to_go.clone(), settled_tx.clone());
        tasks.spawn(member(ws, index, members, go, settled, open.clone()));
    }
    drop(settled_tx);
    let started = Instant::now();
    go.send(true)?;

    let (mut frames, mut settled_members, mut slowest) = (0u64, 0usize, Duration::ZERO);
    let deadline = tokio::time::Instant::now() + settle_timeout(members);
    while settled_members < members {
        match tokio::time::timeout_at(deadline, settled.recv()).await {
            Ok(Some((member_frames, at))) => {
                frames += member_frames;
                settled_members += 1;
                slowest = slowest.max(at.duration_since(started));
            }
            Ok(None) | Err(_) => break,
        }
    }
    let wall = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let rss_settled = rss();
    let open_at_reading = open.load(Ordering::Relaxed);
    if !hold.is_zero() {
        eprintln!("  storm: server memory read; the members stay joined for {:.0} s", hold.as_secs_f64());
        tokio::time::sleep(hold).await;
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}

    let settle_ms = (settled_members == members).then_some(slowest.as_secs_f64() * 1e3);
    let per_member = frames as f64 / settled_members.max(1) as f64;
    let mut human = format!("storm: {members} members joined {TOPIC} at once: ");
    match settle_ms {
        Some(ms) => human.push_str(&format!(
            "every member saw all {members} after {ms:.0} ms, {frames} presence frames ({per_member:.1} per member)"
        )),
        None => human.push_str(&format!(
            "only {settled_members} saw everyone within {:.0} s ({frames} presence frames by then)",
            wall.as_secs_f64()
        )),
    }
    let per_member_kib = |from: Option<u64>| {
        from.zip(rss_settled).map(|(from, settled)| (settled as f64 - from as f64) / members.max(1) as f64)
    };
    let (kib_per_member, storm_kib_per_member) = (per_member_kib(rss_before), per_member_kib(rss_connected));
    match (kib_per_member, storm_kib_per_member, rss_before, rss_settled) {
        (Some(total), Some(storm), Some(before), Some(settled)) => human.push_str(&format!(
            "; server RSS {:.1} → {:.1} MiB: {total:.2} KiB per member once settled ({storm:.2} KiB of it since they \
             connected)",
            before as f64 / 1024.0,
            settled as f64 / 1024.0
        )),
        _ => human.push_str("; no server RSS (give --server-pid)"),
    }
    if open_at_reading < members {
        human.push_str(&format!(" (only {open_at_reading} members were still connected at the reading)"));
    }
    if let Some(note) = &capped.note {
        human.push_str(&format!(" ({note})"));
    }
    let figures = json!({
        "target": target.ws_url(),
        "members_requested": requested,
        "members": members,
        "settled_members": settled_members,
        "presence_frames": frames,
        "frames_per_member": round(per_member, 2),
        "settle_ms": settle_ms.map(|ms| round(ms, 1)),
        "rss_before_kib": rss_before,
        "rss_connected_kib": rss_connected,
        "rss_settled_kib": rss_settled,
        "connected_at_reading": open_at_reading,
        "kib_per_member": kib_per_member.map(|kib| round(kib, 2)),
        "storm_kib_per_member": storm_kib_per_member.map(|kib| round(kib, 2)),
        "note": capped.note,
    });
    Ok(Outcome {
        human,
        json: merge_json("storm", json!({}), figures),
        figures: vec![
            Figure::lower("presence frames", frames as f64),
            Figure::lower("settle time (ms)", settle_ms),
            Figure::lower("server RSS per member once settled (KiB)", kib_per_member),
        ],
    })
}

/// Opens `count` connections, a bounded number at a time; fails if any fails (a storm of fewer members than asked
/// would measure something else).
pub(crate) async fn connect_all(target: &Target, count: usize) -> Result<Vec<Ws>> {
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut opening = JoinSet::new();
    for index in 0..count {
        let (target, permits) = (target.clone(), permits.clone());
        opening.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore never closed");
            conn::open(&target, index, BUSY_READ_BUFFER).await
        });
    }
    let mut sockets = Vec::with_capacity(count);
    while let Some(opened) = opening.join_next().await {
        sockets.push(opened??);
    }
    Ok(sockets)
}

/// One member: join on the signal, track presence until every member is seen, report, then keep the connection
/// (and the membership) until the storm ends.
async fn member(
    ws: Ws,
    index: usize,
    members: usize,
    mut go: watch::Receiver<bool>,
    settled: mpsc::UnboundedSender<(u64, Instant)>,
    open: Arc<AtomicUsize>,
) {
    follow(ws, index, members, &mut go, settled).await;
    open.fetch_sub(1, Ordering::Relaxed);
}

/// A member's life until its connection ends.
async fn follow(
    mut ws: Ws,
    index: usize,
    members: usize,
    go: &mut watch::Receiver<bool>,
    settled: mpsc::UnboundedSender<(u64, Instant)>,
) {
    if go.wait_for(|go| *go).await.is_err() {
        return;
    }
    let join = Dialect::Phoenix.join(TOPIC, Some(&format!("u{index}")));
    if ws.send(Message::text(join)).await.is_err() {
        return;
    }
    let mut present = Presence::new(members);
    let mut frames = 0u64;
    let mut reported = false;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    let mut next_id = crate::dialect::JOIN_ID + 1;
    loop {
        let message = tokio::select! {
            next = ws.next() => match next {
                Some(Ok(message)) => message,
                _ => return,
            },
            _ = heartbeat.tick() => {
                let beat = Dialect::Phoenix.heartbeat(next_id).unwrap_or_default();
                next_id += 1;
                if ws.send(Message::text(beat)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let Message::Text(text) = message else { continue };
        Dialect::Phoenix.for_each(&text, |incoming| {
            if let Incoming::Push { event, payload } = incoming {
                match event {
                    "presence_state" => {
                        frames += 1;
                        present.state(payload);
                    }
                    "presence_diff" => {
                        frames += 1;
                        present.diff(payload);
                    }
                    _ => {}
                }
            }
        });
        if !reported && present.count == members {
            reported = true;
            let _ = settled.send((frames, Instant::now()));
        }
    }
}

/// Who a member sees, by member number (`u{n}` keys).
struct Presence {
    seen: Vec<bool>,
    count: usize,
}

impl Presence {
    fn new(members: usize) -> Presence {
        Presence { seen: vec![false; members], count: 0 }
    }

    fn state(&mut self, payload: &str) {
        for (key, _) in json_scan::entries(payload) {
            self.set(key, true);
        }
    }

    fn diff(&mut self, payload: &str) {
        for (field, present) in [("joins", true), ("leaves", false)] {
            for (key, _) in json_scan::field(payload, field).into_iter().flat_map(json_scan::entries) {
                self.set(key, present);
            }
        }
    }

    fn set(&mut self, key: &str, present: bool) {
        let Some(slot) = key.strip_prefix('u').and_then(|n| n.parse::<usize>().ok()).and_then(|n| self.seen.get_mut(n))
        else {
            return;
        };
        if *slot != present {
            *slot = present;
            if present {
                self.count += 1;
            } else {
                self.count -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_follows_state_and_diffs() {
        let mut presence = Presence::new(3);
        presence.state(r#"{"u0":{"metas":[{"online_at":1,"phx_ref":"a"}]},"u1":{"metas":[]}}"#);
        assert_eq!(presence.count, 2);
        presence.diff(r#"{"joins":{"u2":{"metas":[]},"stranger":{}},"leaves":{"u0":{"metas":[]}}}"#);
        assert_eq!(presence.count, 2);
        assert!(!presence.seen[0] && presence.seen[2]);
    }
}
