//! Checking a connection token: a JWT signed with HS256 (a secret shared with the application's backend) or with
//! RS256 / ES256 (the relay holds only the public key). The algorithm is the relay's key's, never the one a token's
//! header names.

use super::claims::Claims;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Why a token was refused: a short reason, given to the client (in the 403's body) and to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No token was given.
    #[error("missing token")]
    Missing,
    /// The token's `exp` has passed.
    #[error("token expired")]
    Expired,
    /// The signature does not match, or the token is signed with another algorithm than the relay's key.
    #[error("invalid token signature")]
    BadSignature,
    /// Not a JWT, or its claims are not what the relay needs (`sub`, `exp`, `topics`, ...).
    #[error("malformed token: {0}")]
    Malformed(String),
}

/// Checks tokens against one key.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").field("algorithms", &self.validation.algorithms).finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Tokens signed with HS256 and `secret`.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::new(DecodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// Tokens signed with the private half of a PEM public key: RS256 for an RSA key, ES256 for a P-256 key.
    pub fn from_public_key_pem(pem: &[u8]) -> Result<Self, String> {
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(Self::new(key, Algorithm::RS256));
        }
        match DecodingKey::from_ec_pem(pem) {
            Ok(key) => Ok(Self::new(key, Algorithm::ES256)),
            Err(error) => Err(format!("not an RSA or EC public key in PEM form ({error})")),
        }
    }

    fn new(key: DecodingKey, algorithm: Algorithm) -> Self {
        // The algorithm is the relay's, never the token header's: a token cannot pick `none` or HS256-with-the-
        // public-key. `exp` is required; the default leeway (60 s) absorbs clock skew with the token's issuer.
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenVerifier { key, validation }
    }

    /// The token's claims, once its signature and expiry are checked.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|data| data.claims).map_err(|error| {
            match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => TokenError::BadSignature,
                _ => TokenError::Malformed(error.to_string()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    fn hs256(secret: &[u8], claims: serde_json::Value) -> String {
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    #[test]
    fn a_signed_token_gives_its_claims() {
        let verifier = TokenVerifier::hs256(b"secret");
        let token = hs256(b"secret", json!({"sub": "u1", "exp": now() + 60, "topics": ["room:*"], "publish": true}));
        let claims = verifier.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.topics, claims.publish), ("u1", vec!["room:*".to_owned()], true));
    }

    #[test]
    fn forged_expired_and_malformed_tokens_are_refused_with_their_reason() {
        let verifier = TokenVerifier::hs256(b"secret");
        let forged = hs256(b"other", json!({"sub": "u1", "exp": now() + 60}));
        assert_eq!(verifier.verify(&forged), Err(TokenError::BadSignature));
        let expired = hs256(b"secret", json!({"sub": "u1", "exp": now() - 3600}));
        assert_eq!(verifier.verify(&expired), Err(TokenError::Expired));
        let no_sub = hs256(b"secret", json!({"exp": now() + 60}));
        assert!(matches!(verifier.verify(&no_sub), Err(TokenError::Malformed(_))));
        assert!(matches!(verifier.verify("not.a.jwt"), Err(TokenError::Malformed(_))));
        assert_eq!(verifier.verify(""), Err(TokenError::Missing));
    }

    #[test]
    fn public_keys_check_rs256_and_es256_tokens() {
        let claims = json!({"sub": "u1", "exp": now() + 60});
        for (algorithm, private, public) in [
            (
                Algorithm::RS256,
                &include_bytes!("testdata/rs256-private.pem")[..],
                &include_bytes!("testdata/rs256-public.pem")[..],
            ),
            (
                Algorithm::ES256,
                include_bytes!("testdata/es256-private.pem"),
                include_bytes!("testdata/es256-public.pem"),
            ),
        ] {
            let key = match algorithm {
                Algorithm::RS256 => EncodingKey::from_rsa_pem(private).unwrap(),
                _ => EncodingKey::from_ec_pem(private).unwrap(),
            };
            let token = encode(&Header::new(algorithm), &claims, &key).unwrap();
            let verifier = TokenVerifier::from_public_key_pem(public).unwrap();
            assert_eq!(verifier.verify(&token).unwrap().sub, "u1", "{algorithm:?}");
            // HS256 with the public key as the secret: the classic confusion, refused.
            let confused = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(public)).unwrap();
            assert_eq!(verifier.verify(&confused), Err(TokenError::BadSignature), "{algorithm:?}");
        }
        assert!(TokenVerifier::from_public_key_pem(b"not a key").is_err());
    }

    #[test]
    fn the_token_cannot_choose_its_algorithm() {
        // `alg: none` with no signature.
        use base64::Engine;
        let base64_url = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        let body = base64_url(format!(r#"{{"sub":"u1","exp":{}}}"#, now() + 60).as_bytes());
        let unsigned = format!("{header}.{body}.");
        assert!(TokenVerifier::hs256(b"secret").verify(&unsigned).is_err());
    }
}
