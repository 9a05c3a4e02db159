//! What can be wrong with a presence payload.

/// A presence payload that does not have the shape Phoenix sends.
///
/// phoenix.js would throw or silently misbehave on these payloads; refusing them up front keeps the state
/// consistent and tells the caller which key was at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PresenceError {
    /// The text is not valid JSON.
    #[cfg(feature = "json")]
    #[error("presence payload is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The payload (or its `joins` or `leaves` field) is not a JSON object.
    #[error("presence payload {what} is not a JSON object")]
    NotAnObject {
        /// Which part of the payload it was: `"state"`, `"diff"`, `"joins"` or `"leaves"`.
        what: &'static str,
    },
    /// A diff lacks its `joins` or `leaves` field, which phoenix.js requires.
    #[error("presence diff has no `{field}` field")]
    MissingField {
        /// The missing field, `"joins"` or `"leaves"`.
        field: &'static str,
    },
    /// An entry is not an object.
    #[error("presence entry for key \"{key}\" is not a JSON object")]
    EntryNotObject {
        /// The key of the entry.
        key: String,
    },
    /// An entry has no `metas` array.
    #[error("presence entry for key \"{key}\" has no `metas` array")]
    MissingMetas {
        /// The key of the entry.
        key: String,
    },
    /// A meta is not an object.
    #[error("meta {index} of presence key \"{key}\" is not a JSON object")]
    MetaNotObject {
        /// The key of the entry.
        key: String,
        /// The meta's position in `metas`.
        index: usize,
    },
    /// A meta has no string `phx_ref`, so it could never be matched against a leave.
    #[error("meta {index} of presence key \"{key}\" has no string `phx_ref`")]
    MissingPhxRef {
        /// The key of the entry.
        key: String,
        /// The meta's position in `metas`.
        index: usize,
    },
}
