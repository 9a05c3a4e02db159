//! Standard Webhooks' headers (standardwebhooks.com): `webhook-id`, `webhook-timestamp`, and `webhook-signature`,
//! `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` keyed with the secret after its `whsec_` (base64).

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// An endpoint's signing key.
#[derive(Clone)]
pub(crate) struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// The key of a `whsec_<base64>` secret; `None` when it is not one.
    pub(crate) fn from_secret(secret: &str) -> Option<Self> {
        BASE64_STANDARD.decode(secret.strip_prefix("whsec_")?).ok().filter(|key| !key.is_empty()).map(Key)
    }

    /// The `webhook-signature` of `body` sent as `id` at `timestamp` (Unix seconds).
    pub(crate) fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", BASE64_STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_signs_as_the_standard_webhooks_reference_does() {
        // The example of the Standard Webhooks specification (its README's test vector).
        let key = Key::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(Key::from_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(Key::from_secret("whsec_!!!").is_none());
    }
}
