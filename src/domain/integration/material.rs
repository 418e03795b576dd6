//! Key material: random text shown once, and the hash and prefix the store keeps.

use super::key::KeyKind;

/// Characters of a key kept (and shown) as its `prefix`.
pub const KEY_PREFIX_LEN: usize = 12;

/// Random bytes in a key: 192 bits, comfortably above the contract's 128.
const KEY_RANDOM_BYTES: usize = 24;

/// A new key of `kind` and its prefix (its first [`KEY_PREFIX_LEN`] characters): `fsk_` or
/// `fpk_` then 192 random bits in unpadded base64url. The key is shown once; keep only
/// [`key_hash`] and the prefix.
pub fn generate_key(kind: KeyKind) -> (String, String) {
    use base64::Engine;
    use rand::RngExt;
    let bytes: [u8; KEY_RANDOM_BYTES] = rand::rng().random();
    let key = format!(
        "{}{}",
        kind.key_prefix(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let prefix = key[..KEY_PREFIX_LEN].to_owned();
    (key, prefix)
}

/// The SHA-256 of a key, as stored and looked up. A plain hash is enough: keys carry 192
/// random bits, so there is nothing for a slow hash to protect against guessing.
pub fn key_hash(key: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes()).into()
}

/// The kind of key `token` claims to be by its prefix, or `None` (a JWT, or anything else).
pub fn looks_like_key(token: &str) -> Option<KeyKind> {
    KeyKind::ALL
        .into_iter()
        .find(|k| token.starts_with(k.key_prefix()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn keys_begin_with_their_kind_and_carry_192_random_bits() {
        for kind in KeyKind::ALL {
            let (key, prefix) = generate_key(kind);
            assert!(key.starts_with(kind.key_prefix()), "{key}");
            assert_eq!(key.len(), 4 + 32, "{key}");
            assert_eq!(prefix.len(), KEY_PREFIX_LEN);
            assert!(key.starts_with(&prefix));
            let body = &key[4..];
            assert!(
                body.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            use base64::Engine;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(body)
                .unwrap();
            assert!(bytes.len() * 8 >= 128);
            assert_eq!(looks_like_key(&key), Some(kind));
        }
        assert_eq!(generate_key(KeyKind::Secret).0[..4], *"fsk_");
        assert_eq!(generate_key(KeyKind::Publishable).0[..4], *"fpk_");
    }

    #[test]
    fn keys_do_not_repeat() {
        let keys: BTreeSet<String> = (0..1000).map(|_| generate_key(KeyKind::Secret).0).collect();
        assert_eq!(keys.len(), 1000);
        let prefixes: BTreeSet<String> =
            (0..1000).map(|_| generate_key(KeyKind::Secret).1).collect();
        assert!(prefixes.len() > 990, "prefixes carry 48 random bits");
    }

    #[test]
    fn the_key_hash_is_sha_256_and_stable() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let abc = key_hash("abc");
        assert_eq!(
            abc.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (key, _) = generate_key(KeyKind::Secret);
        assert_eq!(key_hash(&key), key_hash(&key.clone()));
        assert_ne!(key_hash(&key), key_hash(&generate_key(KeyKind::Secret).0));
    }

    #[test]
    fn jwts_and_other_tokens_do_not_look_like_keys() {
        assert_eq!(looks_like_key("eyJhbGciOiJIUzI1NiJ9.e30.x"), None);
        assert_eq!(looks_like_key("fsk"), None);
        assert_eq!(looks_like_key("FSK_abc"), None);
        assert_eq!(looks_like_key(""), None);
        assert_eq!(looks_like_key("fpk_x"), Some(KeyKind::Publishable));
    }
}
