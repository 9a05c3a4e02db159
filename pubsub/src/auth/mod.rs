//! Who is on a connection, and what they may do.
//!
//! - [`claims`]: a token's claims and the [`Identity`] a session carries: the topics it may join, its permission
//!   bits per zone, whether it may publish over HTTP, and whether it may read a topic's history and presence there
//!   (`may_read`). Topic patterns are the router's.
//! - [`tokens`]: checking a JWT's signature and expiry (HS256 with a shared secret; RS256 or ES256 with a public
//!   key) and reading its claims.
//!
//! Without a secret or key the relay runs in dev mode and every connection is [`Identity::Anonymous`].

mod claims;
mod tokens;

pub use claims::{Claims, Identity};
pub use tokens::{TokenError, TokenVerifier};
