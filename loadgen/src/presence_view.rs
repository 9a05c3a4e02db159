//! A page's view of a topic's presence, kept as phoenix.js `Presence` keeps it: keys (user ids) with their metas,
//! each meta named by its `phx_ref`. `presence_state` replaces the view; a `presence_diff` adds its joins' metas and
//! removes its leaves' metas by `phx_ref`, and a key whose last meta left is gone.
//!
//! It reads the frames with [`json_scan`] rather than a JSON parser, as the rest of the generator does. Only the
//! metas' `phx_ref`s are kept, not the metas themselves: the scenarios count who is present.

use crate::json_scan;
use std::collections::{HashMap, HashSet};

/// Who is present, by key, with the `phx_ref`s of their metas.
#[derive(Debug, Default)]
pub(crate) struct PresenceView {
    keys: HashMap<String, HashSet<String>>,
}

impl PresenceView {
    /// Applies a `presence_state` payload: the view becomes what it lists.
    pub(crate) fn state(&mut self, payload: &str) {
        self.keys.clear();
        for (key, presence) in json_scan::entries(payload) {
            let refs: HashSet<String> = phx_refs(presence).map(str::to_owned).collect();
            if !refs.is_empty() {
                self.keys.insert(key.to_owned(), refs);
            }
        }
    }

    /// Applies a `presence_diff` payload: its joins, then its leaves (as phoenix.js `syncDiff` does).
    pub(crate) fn diff(&mut self, payload: &str) {
        for (key, presence) in json_scan::field(payload, "joins").into_iter().flat_map(json_scan::entries) {
            self.keys.entry(key.to_owned()).or_default().extend(phx_refs(presence).map(str::to_owned));
        }
        for (key, presence) in json_scan::field(payload, "leaves").into_iter().flat_map(json_scan::entries) {
            let Some(refs) = self.keys.get_mut(key) else { continue };
            for phx_ref in phx_refs(presence) {
                refs.remove(phx_ref);
            }
            if refs.is_empty() {
                self.keys.remove(key);
            }
        }
    }

    /// How many keys are present whose name satisfies `counted`.
    pub(crate) fn count(&self, counted: impl Fn(&str) -> bool) -> usize {
        self.keys.keys().filter(|key| counted(key)).count()
    }
}

/// The `phx_ref`s of a key's `{"metas": [...]}`.
fn phx_refs(presence: &str) -> impl Iterator<Item = &str> {
    json_scan::field(presence, "metas")
        .and_then(json_scan::elements)
        .into_iter()
        .flatten()
        .filter_map(|meta| json_scan::field(meta, "phx_ref").and_then(json_scan::string_content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_and_diffs_as_phoenix_js_applies_them() {
        let mut view = PresenceView::default();
        view.state(r#"{"u1":{"metas":[{"online_at":1,"phx_ref":"a"}]},"u2":{"metas":[{"phx_ref":"b"}]}}"#);
        assert_eq!(view.count(|_| true), 2);
        // A second meta of u1 (another tab), then the first one leaves: u1 stays.
        view.diff(r#"{"joins":{"u1":{"metas":[{"phx_ref":"c"}]},"u3":{"metas":[{"phx_ref":"d"}]}},"leaves":{}}"#);
        view.diff(r#"{"joins":{},"leaves":{"u1":{"metas":[{"phx_ref":"a"}]},"u2":{"metas":[{"phx_ref":"b"}]}}}"#);
        assert_eq!(view.count(|_| true), 2);
        assert_eq!(view.count(|key| key.starts_with('u')), 2);
        view.diff(r#"{"joins":{},"leaves":{"u1":{"metas":[{"phx_ref":"c"}]},"nobody":{"metas":[{"phx_ref":"z"}]}}}"#);
        assert_eq!(view.count(|key| key == "u3"), 1);
        assert_eq!(view.count(|_| true), 1);
        // A state replaces everything.
        view.state(r#"{"o1":{"metas":[{"phx_ref":"e"}]}}"#);
        assert_eq!(view.count(|key| key.starts_with('u')), 0);
        assert_eq!(view.count(|_| true), 1);
    }
}
