//! Which page origins may use the relay besides its own host (`--allow-origin`); the check itself, on every
//! socket and API request, is [`crate::origin`]'s. Allowed:
//! - the relay's own host (the `Host` the request came to), always;
//! - each `--allow-origin`: `*` (any page), an origin (`https://app.example.com`, scheme, host and port as the
//!   browser sends them), or `//host` for that host over any scheme and port (`//*.example.com` for its
//!   subdomains);
//! - in dev mode, pages on a loopback host (`localhost`, `127.0.0.1`, `[::1]`), whatever their port, so a
//!   front-end dev server beside the relay works without flags.

use axum::http::{HeaderMap, header};

/// The origins allowed besides the relay's own host.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins {
    any: bool,
    loopback: bool,
    exact: Vec<String>,
    hosts: Vec<String>,
}

impl AllowedOrigins {
    /// From `--allow-origin` values; `loopback` allows loopback pages (dev mode).
    pub fn new(patterns: &[String], loopback: bool) -> Result<Self, String> {
        let mut allowed = AllowedOrigins { loopback, ..AllowedOrigins::default() };
        for pattern in patterns {
            let pattern = pattern.trim().trim_end_matches('/').to_ascii_lowercase();
            if pattern == "*" {
                allowed.any = true;
            } else if let Some(host) = pattern.strip_prefix("//") {
                if host.is_empty() || host.contains('/') {
                    return Err(format!("--allow-origin {pattern:?}: expected //host or //*.domain"));
                }
                allowed.hosts.push(host.to_owned());
            } else if pattern.split_once("://").is_some_and(|(scheme, host)| !scheme.is_empty() && !host.is_empty()) {
                allowed.exact.push(pattern);
            } else {
                return Err(format!("--allow-origin {pattern:?}: expected *, scheme://host[:port] or //host"));
            }
        }
        Ok(allowed)
    }

    /// Whether a page at `origin` may use a relay reached as `host` (the request's `Host` header).
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        if self.any {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        let Some((_, authority)) = origin.split_once("://") else { return false }; // `null`: a sandboxed page.
        if host.is_some_and(|host| host.eq_ignore_ascii_case(authority)) || self.exact.contains(&origin) {
            return true;
        }
        let name = host_name(authority);
        if self.loopback && is_loopback(name) {
            return true;
        }
        self.hosts.iter().any(|allowed| match allowed.strip_prefix("*.") {
            Some(domain) => name.strip_suffix(domain).is_some_and(|sub| sub.ends_with('.')),
            None => allowed == name,
        })
    }

    /// Whether the request's `Origin`, if it has one, is allowed.
    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else { return true };
        let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
        origin.to_str().is_ok_and(|origin| self.allows(origin, host))
    }
}

/// An authority's host: without its port, brackets kept for IPv6.
fn host_name(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => &authority[..colon],
        _ => authority,
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str], loopback: bool) -> AllowedOrigins {
        AllowedOrigins::new(&patterns.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>(), loopback).unwrap()
    }

    #[test]
    fn by_default_only_the_relays_own_host() {
        let origins = allowed(&[], false);
        assert!(origins.allows("https://relay.example.com", Some("relay.example.com")));
        assert!(origins.allows("http://127.0.0.1:4000", Some("127.0.0.1:4000")));
        assert!(!origins.allows("http://127.0.0.1:3000", Some("127.0.0.1:4000")));
        assert!(!origins.allows("https://evil.example", Some("relay.example.com")));
        assert!(!origins.allows("null", Some("relay.example.com")));
    }

    #[test]
    fn patterns_name_origins_hosts_and_subdomains() {
        let origins = allowed(&["https://app.example.com", "//*.example.org", "//partner.net"], false);
        assert!(origins.allows("https://app.example.com", None));
        assert!(!origins.allows("http://app.example.com", None));
        assert!(!origins.allows("https://app.example.com:8443", None));
        assert!(origins.allows("https://a.b.example.org", None));
        assert!(!origins.allows("https://example.org", None));
        assert!(!origins.allows("https://evilexample.org", None));
        assert!(origins.allows("http://partner.net:8080", None));
        assert!(allowed(&["*"], false).allows("https://anything.example", None));
    }

    #[test]
    fn dev_mode_allows_loopback_pages_on_any_port() {
        let origins = allowed(&[], true);
        assert!(origins.allows("http://localhost:3000", Some("127.0.0.1:4000")));
        assert!(origins.allows("http://127.0.0.1:5173", Some("127.0.0.1:4000")));
        assert!(origins.allows("http://[::1]:5173", Some("127.0.0.1:4000")));
        assert!(!origins.allows("http://localhost.evil.example", Some("127.0.0.1:4000")));
    }

    #[test]
    fn bad_patterns_are_refused_with_a_message() {
        assert!(AllowedOrigins::new(&["example.com".to_owned()], false).is_err());
        assert!(AllowedOrigins::new(&["//".to_owned()], false).is_err());
    }
}
