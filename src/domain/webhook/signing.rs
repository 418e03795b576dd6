//! Secrets and Standard Webhooks signatures (<https://www.standardwebhooks.com>).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};

/// What every webhook secret begins with.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a secret: 256 bits, the HMAC-SHA256 key size.
const SECRET_BYTES: usize = 32;

/// A new secret: `whsec_` and the padded standard base64 of 32 random bytes, the form
/// Standard Webhooks libraries read.
pub fn generate_secret() -> String {
    use rand::RngExt;
    let bytes: [u8; SECRET_BYTES] = rand::rng().random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key of a secret: the bytes its base64 (after `whsec_`) stands for.
fn key_of(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    // Secrets are only made by `generate_secret`; a damaged one still signs (with its
    // text as the key), so the receiver refuses the message rather than the worker panicking.
    STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

/// `v1,` and the base64 HMAC-SHA256 of `{msg_id}.{timestamp}.{body}`, keyed with the
/// secret's bytes: one signature of `webhook-signature`.
pub fn signature(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&key_of(secret)).expect("any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per secret that signs now, separated by
/// spaces (two while a rotated-out secret still signs).
pub fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| signature(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification.
        assert_eq!(
            signature(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#,
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        // A 32-byte secret of the form we issue, computed with the `standardwebhooks`
        // Python package (`Webhook(secret).sign("evt_1", 1700000000, body)`).
        let secret = format!("whsec_{}", STANDARD.encode((0u8..32).collect::<Vec<_>>()));
        assert_eq!(secret, "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        assert_eq!(
            signature(
                &secret,
                "evt_1",
                1700000000,
                br#"{"id":"evt_1","type":"reservation.created"}"#
            ),
            "v1,U7JPyhbWnv0STUqooVSXJgBtFutemqcLOsMJp9f0Ykk="
        );
    }

    #[test]
    fn while_two_secrets_sign_the_header_carries_both() {
        let (a, b) = (generate_secret(), generate_secret());
        let header = signature_header(&[&a, &b], "evt_2", 1700000001, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            [
                signature(&a, "evt_2", 1700000001, b"{}"),
                signature(&b, "evt_2", 1700000001, b"{}")
            ]
        );
        assert_ne!(parts[0], parts[1]);
        assert_eq!(
            signature_header(&[&a], "evt_2", 1700000001, b"{}"),
            parts[0]
        );
    }

    #[test]
    fn the_signature_covers_id_timestamp_and_body() {
        let s = generate_secret();
        let base = signature(&s, "evt_1", 1, b"{}");
        assert_ne!(base, signature(&s, "evt_2", 1, b"{}"));
        assert_ne!(base, signature(&s, "evt_1", 2, b"{}"));
        assert_ne!(base, signature(&s, "evt_1", 1, b"{ }"));
        assert_ne!(base, signature(&generate_secret(), "evt_1", 1, b"{}"));
    }

    #[test]
    fn secrets_are_whsec_and_the_padded_base64_of_32_random_bytes() {
        let s = generate_secret();
        let encoded = s.strip_prefix("whsec_").unwrap();
        assert_eq!(encoded.len(), 44, "{s}");
        assert!(encoded.ends_with('='), "padded: {s}");
        assert_eq!(STANDARD.decode(encoded).unwrap().len(), 32);
        let many: std::collections::BTreeSet<String> =
            (0..1000).map(|_| generate_secret()).collect();
        assert_eq!(many.len(), 1000);
    }
}
