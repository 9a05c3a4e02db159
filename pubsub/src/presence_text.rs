//! Presence as JSON text: `{key: {"metas": [meta, …]}, …}` from the metas' texts, and a topic's `presence_state`
//! kept as text between joins.
//!
//! Every join is sent the whole state, so a storm of N joins asks for N states of up to N members. Built afresh
//! each time (a key escaped and allocated per member per join), 10,000 joins to one topic took the relay minutes of
//! CPU. The text is kept instead, and a join of a new key, the storm's case, appends its entry. Any other change (a
//! second meta of a key, a leave) drops the text, and the next state asked for builds it again.
//!
//! The kept text is sealed into shared chunks of about `CHUNK` bytes as it grows, and a state handed out is those
//! chunks plus a copy of the unsealed end (`SharedJson`): the joiners of a storm share one encoding of the members
//! before them instead of each holding its own. A copy of each state cost a storm of N joins O(N²) bytes at once
//! (3.75 GB for 10,000 members, queued for their sockets), which the allocator then kept; shared, a joiner's state
//! costs it at most a chunk and a pointer per chunk.

use crate::presence::Tracked;
use bytes::Bytes;
use indexmap::IndexMap;
use serde_json::Value;

/// The fewest members a topic has before its state text is kept: below, building it is as cheap as keeping it, and
/// the many small topics (a presence per user or per document) would each hold a copy of their members for nothing.
const KEEP_FROM: usize = 32;

/// The bytes after which the kept text's end is sealed into a shared chunk: a state handed out copies less than
/// this, and holds one pointer per chunk (a 10,000-member state, ~750 KB, is ~90 chunks).
const CHUNK: usize = 8 * 1024;

/// JSON text in parts, the whole valid JSON; every part but the last is shared with the topic's kept state and
/// every other state handed out from it. Each part is whole entries, and so valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedJson {
    parts: Vec<Bytes>,
}

impl SharedJson {
    /// `{}`.
    pub(crate) fn empty_object() -> Self {
        SharedJson { parts: vec![Bytes::from_static(b"{}")] }
    }

    /// Text in one part.
    fn whole(text: String) -> Self {
        SharedJson { parts: vec![Bytes::from(text)] }
    }

    /// The parts, in order.
    pub(crate) fn parts(&self) -> &[Bytes] {
        &self.parts
    }

    /// The parts, in order, to hand on.
    pub(crate) fn into_parts(self) -> Vec<Bytes> {
        self.parts
    }

    /// The text in one piece.
    pub(crate) fn to_text(&self) -> String {
        let mut text = Vec::with_capacity(self.parts.iter().map(Bytes::len).sum());
        for part in &self.parts {
            text.extend_from_slice(part);
        }
        // Each part is whole entries of text the presence wrote: UTF-8.
        String::from_utf8(text).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }
}

/// A topic's `presence_state` text, while it is known to match the members.
#[derive(Debug, Default)]
pub(crate) struct StateText {
    kept: Option<Kept>,
}

/// The kept text, less its closing `}`: the sealed chunks, then `open`.
#[derive(Debug)]
struct Kept {
    sealed: Vec<Bytes>,
    open: String,
    /// Whether an entry was written (the next one follows a `,`).
    any: bool,
}

impl Kept {
    fn new() -> Self {
        Kept { sealed: Vec::new(), open: String::from("{"), any: false }
    }

    fn push(&mut self, key: &str, metas: &[Tracked]) {
        if self.any {
            self.open.push(',');
        }
        self.any = true;
        push_entry(&mut self.open, key, metas);
        if self.open.len() >= CHUNK {
            let sealed = std::mem::replace(&mut self.open, String::with_capacity(CHUNK + CHUNK / 4));
            self.sealed.push(Bytes::from(sealed));
        }
    }

    fn shared(&self) -> SharedJson {
        let mut parts = Vec::with_capacity(self.sealed.len() + 1);
        parts.extend(self.sealed.iter().cloned());
        let mut end = String::with_capacity(self.open.len() + 1);
        end.push_str(&self.open);
        end.push('}');
        parts.push(Bytes::from(end));
        SharedJson { parts }
    }
}

impl StateText {
    /// The state of `members`, built when not kept.
    pub(crate) fn get(&mut self, members: &IndexMap<String, Vec<Tracked>>) -> SharedJson {
        if let Some(kept) = &self.kept {
            return kept.shared();
        }
        if members.len() < KEEP_FROM {
            return SharedJson::whole(presence_object(members));
        }
        let mut kept = Kept::new();
        for (key, metas) in members {
            kept.push(key, metas);
        }
        let shared = kept.shared();
        self.kept = Some(kept);
        shared
    }

    /// `key`, not a member before, joined with `tracked` as its only meta, after every member there was: its entry
    /// goes at the end, where `members` (in join order) puts it.
    pub(crate) fn joined_new_key(&mut self, key: &str, tracked: &Tracked) {
        if let Some(kept) = &mut self.kept {
            kept.push(key, std::slice::from_ref(tracked));
        }
    }

    /// The members changed otherwise: the text no longer matches them.
    pub(crate) fn changed(&mut self) {
        self.kept = None;
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
            assert_eq!(state.get(&members).to_text(), presence_object(&members), "after {n}");
        }
        assert!(state.kept.is_some(), "kept once the topic is large");

        // A second meta of a key changes an entry in the middle: built again.
        members.get_mut("u\"3").unwrap().push(tracked(1000));
        state.changed();
        assert_eq!(state.get(&members).to_text(), presence_object(&members));
        let parsed: serde_json::Value = serde_json::from_str(&state.get(&members).to_text()).unwrap();
        assert_eq!(parsed["u\"3"]["metas"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn small_topics_keep_no_text() {
        let mut members: IndexMap<String, Vec<Tracked>> = IndexMap::new();
        members.insert("a".into(), vec![tracked(1)]);
        let mut state = StateText::default();
        assert_eq!(state.get(&members).to_text(), r#"{"a":{"metas":[{"n":1}]}}"#);
        assert!(state.kept.is_none());
    }

    #[test]
    fn a_large_state_is_shared_chunks_and_a_copied_end() {
        let mut members: IndexMap<String, Vec<Tracked>> = IndexMap::new();
        let mut state = StateText::default();
        let mut earlier: Option<SharedJson> = None;
        for n in 0..2_000 {
            let key = format!("user-{n}");
            members.insert(key.clone(), vec![tracked(n)]);
            state.joined_new_key(&key, &tracked(n));
            let shared = state.get(&members);
            assert_eq!(shared.to_text(), presence_object(&members), "after {n}");
            for part in shared.parts() {
                assert!(std::str::from_utf8(part).is_ok(), "each part is text");
                assert!(part.len() < 2 * CHUNK);
            }
            if let Some(earlier) = &earlier {
                // The chunks sealed before are the same bytes, not copies.
                let sealed = earlier.parts().len() - 1;
                for (a, b) in earlier.parts()[..sealed].iter().zip(shared.parts()) {
                    assert_eq!(a.as_ptr(), b.as_ptr());
                }
            }
            earlier = Some(shared);
        }
        assert!(earlier.unwrap().parts().len() > 3, "sealed into several chunks");
    }
}
