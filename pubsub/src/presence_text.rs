//! Presence as JSON text: `{key: {"metas": [meta, …]}, …}` from the metas' texts, and a topic's `presence_state`
//! kept as text between joins.
//!
//! Every join is sent the whole state, so a storm of N joins asks for N states of up to N members. Built afresh
//! each time (a key escaped and allocated per member per join), 10,000 joins to one topic took the relay minutes of
//! CPU. The text is kept instead, and a join of a new key, the storm's case, appends its entry: each state asked for
//! is then one copy of the kept text. Any other change (a second meta of a key, a leave) drops the text, and the
//! next state asked for builds it again.

use crate::presence::Tracked;
use indexmap::IndexMap;
use serde_json::Value;

/// The fewest members a topic has before its state text is kept: below, building it is as cheap as keeping it, and
/// the many small topics (a presence per user or per document) would each hold a copy of their members for nothing.
const KEEP_FROM: usize = 32;

/// A topic's `presence_state` text, while it is known to match the members.
#[derive(Debug, Default)]
pub(crate) struct StateText {
    text: Option<String>,
}

impl StateText {
    /// The state of `members`, built when not kept.
    pub(crate) fn get(&mut self, members: &IndexMap<String, Vec<Tracked>>) -> String {
        if let Some(text) = &self.text {
            return text.clone();
        }
        let text = presence_object(members);
        if members.len() >= KEEP_FROM {
            self.text = Some(text.clone());
        }
        text
    }

    /// `key`, not a member before, joined with `tracked` as its only meta, after every member there was: its entry
    /// goes at the end, where `members` (in join order) puts it.
    pub(crate) fn joined_new_key(&mut self, key: &str, tracked: &Tracked) {
        let Some(text) = &mut self.text else { return };
        if text.pop() != Some('}') {
            self.text = None;
            return;
        }
        if text.len() > 1 {
            text.push(',');
        }
        push_entry(text, key, std::slice::from_ref(tracked));
        text.push('}');
    }

    /// The members changed otherwise: the text no longer matches them.
    pub(crate) fn changed(&mut self) {
        self.text = None;
    }
}

/// `[meta, …]` from meta texts.
pub(crate) fn metas_array(metas: &[&Tracked]) -> String {
    let mut out = String::from("[");
    for (index, tracked) in metas.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&tracked.meta);
    }
    out.push(']');
    out
}

/// `{key: {"metas": [meta, …]}, …}` from meta texts.
pub(crate) fn presence_object(members: &IndexMap<String, Vec<Tracked>>) -> String {
    let size: usize =
        members.iter().map(|(key, metas)| key.len() + 16 + metas.iter().map(|t| t.meta.len() + 1).sum::<usize>()).sum();
    let mut out = String::with_capacity(size + 2);
    out.push('{');
    for (index, (key, metas)) in members.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_entry(&mut out, key, metas);
    }
    out.push('}');
    out
}

/// `key: {"metas": [meta, …]}`, the key escaped as a JSON string.
fn push_entry(out: &mut String, key: &str, metas: &[Tracked]) {
    out.push_str(&Value::from(key).to_string());
    out.push_str(r#":{"metas":["#);
    for (index, tracked) in metas.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&tracked.meta);
    }
    out.push_str("]}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ConnId;

    fn tracked(n: usize) -> Tracked {
        Tracked { conn: ConnId(n as u64), remote: false, phx_ref: format!("r{n}"), meta: format!(r#"{{"n":{n}}}"#) }
    }

    #[test]
    fn the_kept_text_grows_with_new_keys_as_a_fresh_build_would() {
        let mut members: IndexMap<String, Vec<Tracked>> = IndexMap::new();
        let mut state = StateText::default();
        for n in 0..KEEP_FROM + 10 {
            let key = format!("u\"{n}");
            members.insert(key.clone(), vec![tracked(n)]);
            state.joined_new_key(&key, &tracked(n));
            assert_eq!(state.get(&members), presence_object(&members), "after {n}");
        }
        assert!(state.text.is_some(), "kept once the topic is large");

        // A second meta of a key changes an entry in the middle: built again.
        members.get_mut("u\"3").unwrap().push(tracked(1000));
        state.changed();
        assert_eq!(state.get(&members), presence_object(&members));
        let parsed: serde_json::Value = serde_json::from_str(&state.get(&members)).unwrap();
        assert_eq!(parsed["u\"3"]["metas"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn small_topics_keep_no_text() {
        let mut members: IndexMap<String, Vec<Tracked>> = IndexMap::new();
        members.insert("a".into(), vec![tracked(1)]);
        let mut state = StateText::default();
        assert_eq!(state.get(&members), r#"{"a":{"metas":[{"n":1}]}}"#);
        assert!(state.text.is_none());
    }
}
