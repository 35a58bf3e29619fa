//! Standard Webhooks signatures.
//!
//! Receivers verify our deliveries with off-the-shelf Standard Webhooks (or
//! Svix) libraries, so the format has to match the specification byte for
//! byte: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, keyed
//! with the base64-decoded part of a `whsec_…` secret, sent as
//! `v1,<base64 signature>`. During a secret rotation both secrets sign and the
//! header lists both signatures, separated by a space, so a receiver holding
//! either secret accepts the delivery.
//!
//! The key never leaves [`WebhookSecret`]: its `Debug` prints no key material
//! and its errors do not quote the text they refused.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of every webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The signature version this crate writes and accepts.
const VERSION_PREFIX: &str = "v1,";

/// Why a secret text was refused. Messages never quote the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("webhook secret must start with `whsec_`")]
    MissingPrefix,
    /// Nothing follows `whsec_`.
    #[error("webhook secret is empty")]
    Empty,
    /// What follows `whsec_` is not standard, padded base64.
    #[error("webhook secret is not valid base64")]
    InvalidBase64,
}

/// A signing key, parsed from its `whsec_<base64>` text.
///
/// Holds the HMAC state already keyed, so signing cannot fail. `Debug` shows
/// no key material; there is deliberately no `Display`.
#[derive(Clone)]
pub struct WebhookSecret {
    mac: HmacSha256,
}

impl WebhookSecret {
    /// Parses `whsec_` followed by standard, padded base64 of the key (any
    /// non-empty length: the specification's own examples use 24 bytes, the
    /// secrets we generate are 32).
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::InvalidBase64)?;
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        // HMAC takes a key of any length, so this error cannot happen; it is
        // mapped rather than unwrapped to keep the function panic-free.
        let mac = HmacSha256::new_from_slice(&key).map_err(|_| SecretError::Empty)?;
        Ok(WebhookSecret { mac })
    }

    /// The text of a new secret, `whsec_` + base64 of `bytes`. The caller
    /// draws the bytes from a CSPRNG (ids and secrets come from ports, so
    /// this function stays deterministic).
    pub fn generate(bytes: [u8; 32]) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
    }

    /// The raw HMAC-SHA256 of the signed content `{msg_id}.{timestamp}.{body}`.
    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The `webhook-signature` header value: one `v1,<base64 HMAC>` per secret,
/// in the order given, separated by single spaces. `timestamp` is the unix
/// time in seconds sent as `webhook-timestamp`; `msg_id` is the
/// `webhook-id`. An empty `secrets` gives an empty string.
pub fn sign(secrets: &[WebhookSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| {
            let tag = secret.mac(msg_id, timestamp, body).finalize().into_bytes();
            format!("{VERSION_PREFIX}{}", STANDARD.encode(tag))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `header` (a `webhook-signature` value) holds a valid `v1`
/// signature by `secret` of this message. Any of the space-separated
/// signatures may match; other versions and malformed entries are skipped.
/// The comparison is constant-time. Timestamp freshness is the receiver's
/// policy and is not checked here.
pub fn verify(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
) -> bool {
    let expected = secret.mac(msg_id, timestamp, body);
    header
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix(VERSION_PREFIX))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        // `verify_slice` compares in constant time.
        .any(|candidate| expected.clone().verify_slice(&candidate).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published example (also the
    // Svix libraries' `sign` test).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    #[test]
    fn reproduces_the_specification_test_vector() {
        let header = sign(&[secret(SPEC_SECRET)], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        assert_eq!(header, SPEC_SIGNATURE);
    }

    #[test]
    fn reproduces_the_reference_rust_library_vector() {
        // The `test_sign` case of the reference Rust implementation in the
        // standard-webhooks repository: a second, independent vector.
        let header = sign(
            &[secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")],
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(header, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn verifies_the_specification_test_vector() {
        let key = secret(SPEC_SECRET);
        assert!(verify(
            &key,
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
    }

    #[test]
    fn rejects_any_change_to_the_signed_content() {
        let key = secret(SPEC_SECRET);
        assert!(!verify(
            &key,
            "msg_other",
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
        assert!(!verify(
            &key,
            SPEC_ID,
            SPEC_TIMESTAMP + 1,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
        assert!(!verify(
            &key,
            SPEC_ID,
            SPEC_TIMESTAMP,
            br#"{"test": 2432232315}"#,
            SPEC_SIGNATURE
        ));
        let other = secret(&WebhookSecret::generate([7; 32]));
        assert!(!verify(
            &other,
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
    }

    #[test]
    fn rejects_malformed_or_foreign_headers() {
        let key = secret(SPEC_SECRET);
        let bare = SPEC_SIGNATURE.strip_prefix("v1,").unwrap();
        for header in [
            "",
            " ",
            bare,
            &format!("v2,{bare}"),
            &format!("v1a,{bare}"),
            "v1,not base64!",
            "v1,",
            // A truncated signature must not match as a prefix.
            &format!("v1,{}", &bare[..20]),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
        ] {
            assert!(
                !verify(&key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, header),
                "{header:?}"
            );
        }
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let key = secret(SPEC_SECRET);
        let header = format!("v1,bm9wZQ== v2,whatever {SPEC_SIGNATURE} v1,AAAA");
        assert!(verify(&key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, &header));
        // Extra whitespace between entries is tolerated.
        let header = format!("  v1,bm9wZQ==   {SPEC_SIGNATURE}  ");
        assert!(verify(&key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, &header));
    }

    #[test]
    fn rotation_signs_with_both_secrets_in_order() {
        let old = secret(&WebhookSecret::generate([1; 32]));
        let new = secret(&WebhookSecret::generate([2; 32]));
        let header = sign(&[new.clone(), old.clone()], "msg_1", 1_700_000_000, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            sign(std::slice::from_ref(&new), "msg_1", 1_700_000_000, b"{}")
        );
        assert_eq!(
            parts[1],
            sign(std::slice::from_ref(&old), "msg_1", 1_700_000_000, b"{}")
        );
        assert!(verify(&old, "msg_1", 1_700_000_000, b"{}", &header));
        assert!(verify(&new, "msg_1", 1_700_000_000, b"{}", &header));
        let stranger = secret(&WebhookSecret::generate([3; 32]));
        assert!(!verify(&stranger, "msg_1", 1_700_000_000, b"{}", &header));
    }

    #[test]
    fn no_secret_signs_nothing() {
        assert_eq!(sign(&[], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), "");
    }

    #[test]
    fn signs_bodies_that_are_not_utf8() {
        let key = secret(SPEC_SECRET);
        let body = [0xff, 0x00, 0xfe];
        let header = sign(std::slice::from_ref(&key), "msg", -5, &body);
        assert!(verify(&key, "msg", -5, &body, &header));
    }

    #[test]
    fn generate_gives_whsec_and_44_base64_chars_that_parse_back() {
        let text = WebhookSecret::generate([0xab; 32]);
        assert!(text.starts_with("whsec_"));
        let encoded = &text["whsec_".len()..];
        assert_eq!(encoded.len(), 44);
        assert!(encoded.ends_with('='));
        assert_eq!(STANDARD.decode(encoded).unwrap(), vec![0xab; 32]);
        let parsed = secret(&text);
        // The parsed key is the generated one: signing matches a raw HMAC.
        let mut raw = HmacSha256::new_from_slice(&[0xab; 32]).unwrap();
        raw.update(b"m.1.b");
        let expected = format!("v1,{}", STANDARD.encode(raw.finalize().into_bytes()));
        assert_eq!(sign(&[parsed], "m", 1, b"b"), expected);
    }

    #[test]
    fn refuses_bad_secret_texts() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            WebhookSecret::parse("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            WebhookSecret::parse("").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            WebhookSecret::parse("whsec_").unwrap_err(),
            SecretError::Empty
        );
        for bad in [
            "whsec_not base64",
            "whsec_abc",                                // missing padding
            "whsec_-_-_",                               // URL-safe alphabet
            "whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  // whitespace
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", // trailing newline
            "whsec_====",
        ] {
            assert_eq!(
                WebhookSecret::parse(bad).unwrap_err(),
                SecretError::InvalidBase64,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn errors_and_debug_never_show_the_key() {
        let text = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let debug = format!("{:?}", secret(text));
        assert!(!debug.contains("MfKQ"), "{debug}");
        assert_eq!(debug, "WebhookSecret(<redacted>)");
        let error = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!").unwrap_err();
        assert!(!error.to_string().contains("MfKQ"));
        assert!(!format!("{error:?}").contains("MfKQ"));
    }
}
