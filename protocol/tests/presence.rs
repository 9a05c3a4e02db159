//! Tests for the presence module: one per behaviour of phoenix.js's `Presence`, a differential run against the
//! cases that `presence-oracle/oracle.mjs` recorded from the real phoenix.js 1.7.21, and properties.

#![cfg(feature = "json")]

use std::collections::BTreeSet;

use ferrocast_protocol::presence::{
    Change, Diff, Entry, Meta, Presence, PresenceError, PresenceEvent, State, is_array_index, sync_diff, sync_state,
};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---- Helpers ---------------------------------------------------------------------------------------------------

fn meta(phx_ref: &str) -> Meta<Value> {
    Meta::new(phx_ref, json!({ "phx_ref": phx_ref }))
}

fn entry(refs: &[&str]) -> Entry<Value> {
    Entry::new(refs.iter().map(|r| meta(r)).collect())
}

fn state(items: &[(&str, &[&str])]) -> State<Value> {
    items.iter().map(|(key, refs)| (*key, entry(refs))).collect()
}

fn side(items: &[(&str, &[&str])]) -> Vec<(String, Entry<Value>)> {
    items.iter().map(|(key, refs)| (key.to_string(), entry(refs))).collect()
}

fn diff(joins: &[(&str, &[&str])], leaves: &[(&str, &[&str])]) -> Diff<Value> {
    Diff { joins: side(joins), leaves: side(leaves) }
}

fn refs<V>(entry: &Entry<V>) -> Vec<&str> {
    entry.metas.iter().map(|m| m.phx_ref.as_str()).collect()
}

fn keys<V>(state: &State<V>) -> Vec<&str> {
    state.list(|key, _| key)
}

/// The changes of a tracker's events, checking that exactly one `Sync` ends them.
fn changes(events: Vec<PresenceEvent<Value>>) -> Vec<Change<Value>> {
    assert_eq!(events.last(), Some(&PresenceEvent::Sync), "events must end with Sync");
    let count = events.len();
    events
        .into_iter()
        .take(count - 1)
        .map(|event| match event {
            PresenceEvent::Change(change) => change,
            PresenceEvent::Sync => panic!("Sync before the end of the events"),
        })
        .collect()
}

/// A compact view of a change: kind, key, current refs (or None), and the joined or left refs.
type Summary<'a> = (&'static str, &'a str, Option<Vec<&'a str>>, Vec<&'a str>);

fn summary(change: &Change<Value>) -> Summary<'_> {
    match change {
        Change::Join { key, current, joined } => ("join", key, current.as_ref().map(refs), refs(joined)),
        Change::Leave { key, current, left } => ("leave", key, Some(refs(current)), refs(left)),
    }
}

fn summaries(changes: &[Change<Value>]) -> Vec<Summary<'_>> {
    changes.iter().map(summary).collect()
}

// ---- syncDiff --------------------------------------------------------------------------------------------------

#[test]
fn join_of_a_new_key() {
    let mut s = State::new();
    let changes = sync_diff(&mut s, diff(&[("alice", &["a1"])], &[]));
    assert_eq!(summaries(&changes), vec![("join", "alice", None, vec!["a1"])]);
    assert_eq!(refs(s.get("alice").unwrap()), vec!["a1"]);
    assert_eq!(s.len(), 1);
}

#[test]
fn second_meta_for_an_existing_key_keeps_current_metas_first() {
    let mut s = state(&[("alice", &["a1", "a2"])]);
    let changes = sync_diff(&mut s, diff(&[("alice", &["a3"])], &[]));
    assert_eq!(summaries(&changes), vec![("join", "alice", Some(vec!["a1", "a2"]), vec!["a3"])]);
    assert_eq!(refs(s.get("alice").unwrap()), vec!["a1", "a2", "a3"]);
}

#[test]
fn joining_a_present_ref_replaces_it_at_the_end() {
    let mut s = state(&[("alice", &["a1", "a2", "a3"])]);
    sync_diff(&mut s, diff(&[("alice", &["a1"])], &[]));
    assert_eq!(refs(s.get("alice").unwrap()), vec!["a2", "a3", "a1"]);
}

#[test]
fn leave_of_one_of_two_metas_reports_the_remaining_entry() {
    let mut s = state(&[("alice", &["a1", "a2"])]);
    let changes = sync_diff(&mut s, diff(&[], &[("alice", &["a1"])]));
    assert_eq!(summaries(&changes), vec![("leave", "alice", Some(vec!["a2"]), vec!["a1"])]);
    assert_eq!(refs(s.get("alice").unwrap()), vec!["a2"]);
}

#[test]
fn leave_of_the_last_meta_deletes_the_key() {
    let mut s = state(&[("alice", &["a1"]), ("bob", &["b1"])]);
    let changes = sync_diff(&mut s, diff(&[], &[("alice", &["a1"])]));
    assert_eq!(summaries(&changes), vec![("leave", "alice", Some(vec![]), vec!["a1"])]);
    assert!(s.get("alice").is_none());
    assert_eq!(keys(&s), vec!["bob"]);
}

#[test]
fn leave_for_an_unknown_key_reports_nothing() {
    let mut s = state(&[("alice", &["a1"])]);
    let changes = sync_diff(&mut s, diff(&[], &[("carol", &["c1"])]));
    assert!(changes.is_empty());
    assert_eq!(s, state(&[("alice", &["a1"])]));
}

#[test]
fn joins_are_applied_before_leaves() {
    let mut s = state(&[("a", &["1", "2"])]);
    let changes = sync_diff(&mut s, diff(&[("a", &["3"])], &[("a", &["1", "3"])]));
    assert_eq!(
        summaries(&changes),
        vec![("join", "a", Some(vec!["1", "2"]), vec!["3"]), ("leave", "a", Some(vec!["2"]), vec!["1", "3"]),]
    );
}

#[test]
fn many_keys_leaving_at_once_keep_the_others_in_order() {
    let mut s: State<Value> = (0..40).map(|i| (format!("k{i}"), entry(&["r"]))).collect();
    let leaves: Vec<(String, Entry<Value>)> =
        (0..40).filter(|i| i % 3 != 0).map(|i| (format!("k{i}"), entry(&["r"]))).collect();
    let changes = sync_diff(&mut s, Diff { joins: vec![], leaves });
    assert_eq!(changes.len(), 26);
    let expected: Vec<String> = (0..40).filter(|i| i % 3 == 0).map(|i| format!("k{i}")).collect();
    assert_eq!(keys(&s), expected);
}

// ---- syncState -------------------------------------------------------------------------------------------------

#[test]
fn sync_state_with_keys_added_removed_and_changed() {
    let mut s = state(&[("a", &["1"]), ("b", &["2"]), ("c", &["3", "4"])]);
    let new = state(&[("b", &["2"]), ("c", &["4", "5"]), ("d", &["6"])]);
    let changes = sync_state(&mut s, new);
    assert_eq!(
        summaries(&changes),
        vec![
            ("join", "c", Some(vec!["3", "4"]), vec!["5"]),
            ("join", "d", None, vec!["6"]),
            ("leave", "a", Some(vec![]), vec!["1"]),
            ("leave", "c", Some(vec!["4", "5"]), vec!["3"]),
        ]
    );
    assert_eq!(keys(&s), vec!["b", "c", "d"]);
    assert_eq!(refs(s.get("c").unwrap()), vec!["4", "5"]);
}

#[test]
fn sync_state_joins_use_new_extra_and_leaves_use_current_extra() {
    let mut s = State::new();
    s.insert("u", entry(&["1", "2"]).with_extra(json!({ "name": "old" })));
    let mut new = State::new();
    new.insert("u", entry(&["2", "3"]).with_extra(json!({ "name": "new" })));
    let changes = sync_state(&mut s, new);
    let Change::Join { joined, .. } = &changes[0] else { panic!("expected a join first") };
    assert_eq!(joined.extra, Some(json!({ "name": "new" })));
    let Change::Leave { current, left, .. } = &changes[1] else { panic!("expected a leave second") };
    assert_eq!(left.extra, Some(json!({ "name": "old" })));
    assert_eq!(current.extra, Some(json!({ "name": "new" })));
    assert_eq!(s.get("u").unwrap().extra, Some(json!({ "name": "new" })));
}

#[test]
fn extra_fields_survive_parsing_syncing_and_serializing() {
    let mut presence = Presence::new();
    let initial = State::from_json(
        r#"{"u1":{"metas":[{"phx_ref":"a1","online_at":5}],"user":{"name":"Ann"}},"u2":{"metas":[{"phx_ref":"b1"}]}}"#,
    )
    .unwrap();
    presence.handle_state(Some("1"), initial);
    assert_eq!(presence.state().get("u1").unwrap().extra, Some(json!({ "user": { "name": "Ann" } })));
    assert_eq!(presence.state().get("u2").unwrap().extra, None);
    let leave = Diff::from_json(r#"{"joins":{},"leaves":{"u1":{"metas":[{"phx_ref":"zz"}],"gone":true}}}"#).unwrap();
    presence.handle_diff(Some("1"), leave);
    assert_eq!(
        presence.state().get("u1").unwrap().to_json_value(),
        json!({ "user": { "name": "Ann" }, "metas": [{ "phx_ref": "a1", "online_at": 5 }] })
    );
}

// ---- The tracker -----------------------------------------------------------------------------------------------

#[test]
fn diffs_before_the_first_state_are_held_and_applied_after_it_in_order() {
    let mut presence = Presence::new();
    assert!(presence.handle_diff(Some("1"), diff(&[("bob", &["b1"])], &[])).is_empty());
    assert!(presence.handle_diff(Some("1"), diff(&[("alice", &["a2"])], &[("bob", &["b1"])])).is_empty());
    assert_eq!(presence.pending_diffs(), 2);
    assert!(presence.state().is_empty());

    let events = changes(presence.handle_state(Some("1"), state(&[("alice", &["a1"])])));
    assert_eq!(
        summaries(&events),
        vec![
            ("join", "alice", None, vec!["a1"]),
            ("join", "bob", None, vec!["b1"]),
            ("join", "alice", Some(vec!["a1"]), vec!["a2"]),
            ("leave", "bob", Some(vec![]), vec!["b1"]),
        ]
    );
    assert_eq!(presence.pending_diffs(), 0);
    assert_eq!(keys(presence.state()), vec!["alice"]);

    let events = changes(presence.handle_diff(Some("1"), diff(&[("carol", &["c1"])], &[])));
    assert_eq!(summaries(&events), vec![("join", "carol", None, vec!["c1"])]);
}

#[test]
fn after_a_rejoin_diffs_are_held_and_the_fresh_state_is_rediffed() {
    let mut presence = Presence::new();
    presence.handle_state(Some("1"), state(&[("alice", &["a1"]), ("bob", &["b1"])]));
    assert!(!presence.is_pending(Some("1")));
    assert!(presence.is_pending(Some("2")));

    // The channel rejoined with join ref 2: the state the diff applies to has not arrived yet.
    assert!(presence.handle_diff(Some("2"), diff(&[("dave", &["d1"])], &[])).is_empty());
    assert_eq!(keys(presence.state()), vec!["alice", "bob"]);

    // Alice left while the channel was away and erin came: the fresh state says so.
    let events = changes(presence.handle_state(Some("2"), state(&[("bob", &["b1"]), ("erin", &["e1"])])));
    assert_eq!(
        summaries(&events),
        vec![
            ("join", "erin", None, vec!["e1"]),
            ("leave", "alice", Some(vec![]), vec!["a1"]),
            ("join", "dave", None, vec!["d1"]),
        ]
    );
    assert_eq!(presence.join_ref(), Some("2"));
    assert_eq!(keys(presence.state()), vec!["bob", "erin", "dave"]);
}

#[test]
fn no_or_empty_join_ref_keeps_diffs_held() {
    let mut presence = Presence::new();
    presence.handle_state(None, state(&[("a", &["1"])]));
    let held = presence.handle_diff(None, diff(&[("b", &["2"])], &[]));
    assert!(held.is_empty());

    // The next state flushes the held diff, but an empty join ref is as good as none for later diffs.
    let events = changes(presence.handle_state(Some(""), state(&[("a", &["1"])])));
    assert_eq!(summaries(&events), vec![("join", "b", None, vec!["2"])]);
    let held = presence.handle_diff(Some(""), diff(&[("c", &["3"])], &[]));
    assert!(held.is_empty());

    let fresh = state(&[("a", &["1"]), ("b", &["2"])]);
    let events = changes(presence.handle_state(Some("1"), fresh));
    assert_eq!(summaries(&events), vec![("join", "c", None, vec!["3"])]);
    assert!(!presence.is_pending(Some("1")));
}

#[test]
fn the_tracker_works_with_any_value_type() {
    let mut presence: Presence<&str> = Presence::new();
    let mut initial = State::new();
    initial.insert("alice", Entry::new(vec![Meta::new("a1", "phone")]).with_extra("Alice"));
    presence.handle_state(Some("1"), initial);
    let events = presence.handle_diff(
        Some("1"),
        Diff { joins: vec![("alice".into(), Entry::new(vec![Meta::new("a2", "laptop")]))], leaves: vec![] },
    );
    assert_eq!(events.len(), 2);
    let devices = presence.list(|key, entry| (key.to_owned(), entry.metas.iter().map(|m| m.value).collect::<Vec<_>>()));
    assert_eq!(devices, vec![("alice".to_owned(), vec!["phone", "laptop"])]);
    assert_eq!(presence.state().get("alice").unwrap().extra, None, "the joined entry's (absent) extra replaces it");
}

#[test]
fn keys_naming_object_prototype_members_are_ordinary_keys() {
    // phoenix.js looks keys up on a plain object, so `constructor` or `toString` find Object.prototype's members
    // and it throws; here they are keys like any other.
    let mut s = State::new();
    let changes = sync_diff(&mut s, diff(&[("constructor", &["1"]), ("__proto__", &["2"])], &[]));
    assert_eq!(changes.len(), 2);
    assert_eq!(keys(&s), vec!["constructor", "__proto__"]);
}

// ---- Ordering --------------------------------------------------------------------------------------------------

#[test]
fn list_puts_integer_like_keys_first_in_numeric_order() {
    let s = state(&[("10", &["1"]), ("2", &["2"]), ("a", &["3"]), ("01", &["4"])]);
    assert_eq!(keys(&s), vec!["2", "10", "a", "01"]);
    let visited: Vec<&str> = s.iter().map(|(key, _)| key).collect();
    assert_eq!(visited, vec!["2", "10", "a", "01"], "the map keeps the order it lists");
    let entries = s.list(|_, entry| entry.clone());
    assert_eq!(refs(&entries[0]), vec!["2"]);
}

#[test]
fn array_indices_are_canonical_and_below_two_to_the_32_minus_one() {
    for key in ["0", "1", "10", "4294967294"] {
        assert!(is_array_index(key), "{key}");
    }
    for key in ["", "01", "00", "-1", "1.5", "+1", " 1", "4294967295", "99999999999", "a"] {
        assert!(!is_array_index(key), "{key}");
    }
}

#[test]
fn diff_keys_are_processed_in_javascript_order_and_repeats_count_once() {
    let mut s = State::new();
    let joins = vec![
        ("b".to_owned(), entry(&["1"])),
        ("10".to_owned(), entry(&["2"])),
        ("2".to_owned(), entry(&["3"])),
        ("b".to_owned(), entry(&["4"])),
    ];
    let changes = sync_diff(&mut s, Diff { joins, leaves: vec![] });
    assert_eq!(
        summaries(&changes),
        vec![("join", "2", None, vec!["3"]), ("join", "10", None, vec!["2"]), ("join", "b", None, vec!["4"])]
    );
}

// ---- Parsing ---------------------------------------------------------------------------------------------------

#[test]
fn parsing_keeps_text_order_and_javascript_repeat_rules() {
    let s = State::from_json(
        r#"{"z":{"metas":[{"phx_ref":"1"}]},"a":{"metas":[{"phx_ref":"2"}]},"z":{"metas":[{"phx_ref":"3"}]}}"#,
    )
    .unwrap();
    assert_eq!(keys(&s), vec!["z", "a"]);
    assert_eq!(refs(s.get("z").unwrap()), vec!["3"]);
    let d = Diff::from_json(r#"{"leaves":{"x":{"metas":[]}},"joins":{"q":{"metas":[{"phx_ref":"9"}]}},"other":[1]}"#)
        .unwrap();
    assert_eq!(d.joins.len(), 1);
    assert_eq!(d.leaves[0].0, "x");
}

#[test]
fn malformed_payloads_are_typed_errors_with_messages() {
    let missing_ref = State::from_json(r#"{"a":{"metas":[{"phx_ref":"1"},{"x":1}]}}"#).unwrap_err();
    assert!(matches!(&missing_ref, PresenceError::MissingPhxRef { key, index: 1 } if key == "a"));
    assert_eq!(missing_ref.to_string(), "meta 1 of presence key \"a\" has no string `phx_ref`");

    let numeric_ref = State::from_json(r#"{"a":{"metas":[{"phx_ref":1}]}}"#).unwrap_err();
    assert!(matches!(numeric_ref, PresenceError::MissingPhxRef { index: 0, .. }));

    assert!(matches!(State::from_json(r#"{"a":{}}"#), Err(PresenceError::MissingMetas { .. })));
    assert!(matches!(State::from_json(r#"{"a":{"metas":{}}}"#), Err(PresenceError::MissingMetas { .. })));
    assert!(matches!(State::from_json(r#"{"a":[]}"#), Err(PresenceError::EntryNotObject { .. })));
    assert!(matches!(State::from_json(r#"{"a":{"metas":[3]}}"#), Err(PresenceError::MetaNotObject { .. })));
    assert!(matches!(State::from_json("[]"), Err(PresenceError::NotAnObject { what: "state" })));
    assert!(matches!(State::from_json("{"), Err(PresenceError::Json(_))));
    assert!(matches!(Diff::from_json(r#"{"joins":{}}"#), Err(PresenceError::MissingField { field: "leaves" })));
    assert!(matches!(
        Diff::from_json(r#"{"joins":[],"leaves":{}}"#),
        Err(PresenceError::NotAnObject { what: "joins" })
    ));
    assert!(matches!(Diff::from_json("7"), Err(PresenceError::NotAnObject { what: "diff" })));
}

// ---- Scale -----------------------------------------------------------------------------------------------------

#[test]
fn ten_thousand_members_sync_in_linear_time() {
    let members = |tag: &str| -> State<Value> {
        (0..10_000).map(|i| (format!("user:{i}"), entry(&[&format!("{tag}{i}")]))).collect()
    };
    let started = std::time::Instant::now();
    let mut s = State::new();
    assert_eq!(sync_state(&mut s, members("a")).len(), 10_000);
    // Every member reconnected: each key both loses its old meta and gains a new one.
    assert_eq!(sync_state(&mut s, members("b")).len(), 20_000);
    // Everyone left.
    assert_eq!(sync_state(&mut s, State::new()).len(), 10_000);
    assert!(s.is_empty());

    // One key with 10,000 metas, half of them replaced.
    let many = |range: std::ops::Range<i32>| -> State<Value> {
        let refs: Vec<String> = range.map(|i| format!("r{i}")).collect();
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        std::iter::once(("crowd", entry(&refs))).collect()
    };
    sync_state(&mut s, many(0..10_000));
    let changes = sync_state(&mut s, many(5_000..15_000));
    assert_eq!(changes.len(), 2);
    assert_eq!(s.get("crowd").unwrap().metas.len(), 10_000);
    // Linear merging takes well under a second here even in a debug build; the loose bound only catches a gross
    // regression without making the test flaky on a slow machine.
    assert!(started.elapsed().as_secs() < 60, "took {:?}", started.elapsed());
}

// ---- Differential test against phoenix.js ----------------------------------------------------------------------

fn oracle_file(name: &str) -> Value {
    let path = format!("{}/tests/presence-oracle/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn event_json(event: &PresenceEvent<Value>) -> Value {
    match event {
        PresenceEvent::Sync => json!(["sync"]),
        PresenceEvent::Change(change) => {
            let kind = match change {
                Change::Join { .. } => "join",
                Change::Leave { .. } => "leave",
            };
            let Value::Array(mut args) = change.to_json_value() else { unreachable!("changes are arrays") };
            args.insert(0, json!(kind));
            Value::Array(args)
        }
    }
}

#[test]
fn matches_phoenix_js_on_every_oracle_case() {
    let cases = oracle_file("cases.json");
    let expected = oracle_file("expected.json");
    let cases = cases.as_array().expect("cases.json is an array");
    let expected = expected.as_array().expect("expected.json is an array");
    assert_eq!(cases.len(), expected.len(), "cases.json and expected.json disagree; rerun the oracle");
    assert!(cases.len() >= 50, "expected the full oracle suite, found {} cases", cases.len());

    let mut failures = Vec::new();
    let mut steps_checked = 0;
    for (case, want) in cases.iter().zip(expected) {
        let name = case["name"].as_str().unwrap();
        assert_eq!(want["name"], case["name"]);
        let mut presence: Presence<Value> = Presence::new();
        for (index, (step, want_step)) in
            case["steps"].as_array().unwrap().iter().zip(want["steps"].as_array().unwrap()).enumerate()
        {
            let join_ref = step["joinRef"].as_str();
            let payload = step["payload"].as_str().unwrap();
            let events = match step["op"].as_str().unwrap() {
                "state" => presence.handle_state(join_ref, State::from_json(payload).unwrap()),
                "diff" => presence.handle_diff(join_ref, Diff::from_json(payload).unwrap()),
                other => panic!("unknown op {other}"),
            };
            let events = Value::Array(events.iter().map(event_json).collect());
            let list = Value::Array(presence.list(|key, entry| json!([key, entry.to_json_value()])));
            if events != want_step["events"] {
                failures.push(format!(
                    "{name}, step {index}: events\n  rust:    {events}\n  phoenix: {}",
                    want_step["events"]
                ));
            }
            if list != want_step["list"] {
                failures
                    .push(format!("{name}, step {index}: list\n  rust:    {list}\n  phoenix: {}", want_step["list"]));
            }
            steps_checked += 1;
        }
        let last = Value::Array(presence.list(|_, entry| entry.to_json_value()));
        if last != want["final"] {
            failures.push(format!("{name}: final list\n  rust:    {last}\n  phoenix: {}", want["final"]));
        }
    }
    assert!(steps_checked > 500, "only {steps_checked} steps checked");
    assert!(failures.is_empty(), "{} mismatches with phoenix.js:\n{}", failures.len(), failures.join("\n"));
}

// ---- Properties ------------------------------------------------------------------------------------------------

/// A presence map with unique refs and at least one meta per key, as a server sends.
fn arbitrary_state(ref_prefix: &'static str) -> impl Strategy<Value = State<Value>> {
    prop::collection::btree_map("[a-d0-9]{1,2}", prop::collection::btree_set(0u8..6, 1..4), 0..8).prop_map(move |map| {
        map.into_iter()
            .map(|(key, refs)| {
                let metas = refs.into_iter().map(|r| meta(&format!("{ref_prefix}{r}"))).collect();
                (key, Entry::new(metas))
            })
            .collect()
    })
}

fn ref_sets(state: &State<Value>) -> Vec<(String, BTreeSet<String>)> {
    let mut sets: Vec<_> = state
        .iter()
        .map(|(key, entry)| (key.to_owned(), entry.metas.iter().map(|m| m.phx_ref.clone()).collect()))
        .collect();
    sets.sort();
    sets
}

proptest! {
    #[test]
    fn sync_state_ends_with_exactly_the_new_state(old in arbitrary_state(""), new in arbitrary_state("")) {
        let mut s = old.clone();
        let changes = sync_state(&mut s, new.clone());
        prop_assert_eq!(ref_sets(&s), ref_sets(&new));
        // Replaying the changes as a diff on the old state gives the same result: they describe the difference.
        let mut replay = old;
        let mut joins = Vec::new();
        let mut leaves = Vec::new();
        for change in changes {
            match change {
                Change::Join { key, joined, .. } => joins.push((key, joined)),
                Change::Leave { key, left, .. } => leaves.push((key, left)),
            }
        }
        sync_diff(&mut replay, Diff { joins, leaves });
        prop_assert_eq!(ref_sets(&replay), ref_sets(&s));
    }

    #[test]
    fn syncing_the_same_state_twice_changes_nothing(new in arbitrary_state("x")) {
        let mut s = State::new();
        sync_state(&mut s, new.clone());
        prop_assert!(sync_state(&mut s, new).is_empty());
    }
}
