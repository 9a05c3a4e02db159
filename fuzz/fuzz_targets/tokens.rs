//! Connection tokens and their claims, where the relay meets whatever a client offers as a token: any text checked
//! as a JWT is accepted or refused with a reason, never a panic, and refused unless signed with the relay's
//! secret; any bytes read as claims (what a token carries once its signature is checked) parse or fail, and
//! parsed claims answer every question the relay asks of an identity.

#![no_main]

use ferrocast_pubsub::{Claims, Identity, TokenVerifier};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

/// The secret the seeds' signed token was made with (`examples/make_seeds.rs`).
const SECRET: &[u8] = b"fuzz secret";

fuzz_target!(|input: &[u8]| {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| TokenVerifier::hs256(SECRET));
    let text = String::from_utf8_lossy(input);
    let _ = verifier.verify(&text);
    if let Ok(claims) = serde_json::from_slice::<Claims>(input) {
        let identity = Identity::User(Arc::new(claims));
        for topic in ["room:lobby", "zone:home", "", "*", "room:*"] {
            let _ = identity.may_join(topic);
            let _ = identity.zone_permissions(topic);
        }
        let _ = (identity.may_publish(), identity.user_id());
    }
});
