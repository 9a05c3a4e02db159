//! The Redis client of every link to Redis (this crate's, and the webhooks' queue on Redis in `ferrocast-hooks`):
//! `redis://`, or `rediss://` over TLS, checked against the system's roots or against a CA of one's own (a private
//! Redis's self-signed CA).

/// A client for `url`; with `rediss://` and `ca` (PEM), the server's certificate must chain to that CA.
pub fn redis_client(url: &str, ca: Option<&[u8]>) -> redis::RedisResult<redis::Client> {
    if url.starts_with("rediss://") {
        // The client asks rustls for the process's provider; the first link installs it (later calls find it).
        // ring, as the hooks' HTTP client uses: aws-lc-rs would need cmake and a C toolchain to build. (rustls
        // 0.23.48 deprecates it for lacking post-quantum key exchange; TLS to Redis works with it.)
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    match ca {
        Some(ca) if url.starts_with("rediss://") => redis::Client::build_with_tls(
            url,
            redis::TlsCertificates { client_tls: None, root_cert: Some(ca.to_vec()) },
        ),
        _ => redis::Client::open(url),
    }
}
