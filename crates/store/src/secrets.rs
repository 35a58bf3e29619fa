//! Secrets at rest: the one place that encrypts and decrypts the secret
//! columns of both stores.
//!
//! Webhook signing secrets, calendar URLs and OAuth tokens, and the
//! server-wide secrets (the feed key) are stored sealed with
//! XChaCha20-Poly1305 under `BOOKING_SECRET_KEY`, never as plaintext, so a
//! copy of the database (a backup, a read-only role, a leaked dump) does not
//! give away what they open. The row structs seal on the way in and open on
//! the way out (`rows/`), so the rest of the program only sees plaintext.
//!
//! A sealed value is text, self-describing:
//!
//! ```text
//! enc:v1:<key id>:<base64 of nonce (24 bytes) || ciphertext || tag (16 bytes)>
//! ```
//!
//! - The key id is the first 8 hex digits of the SHA-256 of the key: which
//!   key sealed a value is visible without the key, so a wrong key is named
//!   at start-up instead of failing every decryption, and a rotation knows
//!   what is left to re-encrypt.
//! - The nonce is random (24 bytes: no practical chance of a repeat).
//! - The associated data binds the value to its column and row (for example
//!   `webhook_endpoints.secret` of `acc_1/wh_1`): a value copied into another
//!   column or another row, even of the same table, does not open.
//!
//! A value that does not open (wrong key, tampered, not sealed at all) is a
//! storage error, never handed on as a secret: a webhook is never signed
//! with garbage, a calendar never called with it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use booking_domain::ports::StorageError;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// The prefix of every sealed value (the format's version).
pub const PREFIX: &str = "enc:v1:";

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// Bytes of a nonce.
const NONCE_LEN: usize = 24;

/// What a key could not be made from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not base64 text.
    #[error("not base64 (expected 32 random bytes, base64-encoded)")]
    NotBase64,
    /// Base64 of the wrong number of bytes.
    #[error("{0} bytes, expected 32 (base64-encoded)")]
    WrongLength(usize),
    /// The system's random number generator failed.
    #[error("no random bytes from the system: {0}")]
    Random(String),
}

/// A 32-byte key and its id. `Debug` shows the id only.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; KEY_LEN],
    id: String,
    cipher: XChaCha20Poly1305,
}

impl SecretKey {
    /// The key of 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        SecretKey {
            cipher: XChaCha20Poly1305::new(&Key::from(bytes)),
            bytes,
            id,
        }
    }

    /// The key in `text`: base64 (standard alphabet, padding optional) of 32
    /// bytes; surrounding whitespace (a file's final newline) is ignored.
    pub fn from_base64(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim();
        let decoded = STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| KeyError::NotBase64)?;
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength(decoded.len()))?;
        Ok(SecretKey::from_bytes(bytes))
    }

    /// A new random key from the system's generator.
    pub fn generate() -> Result<SecretKey, KeyError> {
        let key = Key::try_generate().map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SecretKey::from_bytes(key.into()))
    }

    /// The key as base64 (what `BOOKING_SECRET_KEY` and the key file hold).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    /// The key's id: the first 8 hex digits of its SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The key that seals (the current one) and the keys that only open
/// (previous ones, during a rotation).
#[derive(Debug, Clone)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

/// A secret column: its name is part of what a sealed value is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `webhook_endpoints.secret`.
    WebhookSecret,
    /// `webhook_endpoints.previous_secret`.
    WebhookPreviousSecret,
    /// `calendar_connections.url` (an ICS URL is a secret for Google and iCloud).
    CalendarUrl,
    /// `calendar_connections.access_token`.
    CalendarAccessToken,
    /// `calendar_connections.refresh_token`.
    CalendarRefreshToken,
    /// `calendar_connections.client_secret`.
    CalendarClientSecret,
    /// `calendar_connections.password` (CalDAV).
    CalendarPassword,
    /// `server_secrets.value` (the feed key, the key check).
    ServerSecret,
}

impl Field {
    /// Every secret column.
    pub const ALL: [Field; 8] = [
        Field::WebhookSecret,
        Field::WebhookPreviousSecret,
        Field::CalendarUrl,
        Field::CalendarAccessToken,
        Field::CalendarRefreshToken,
        Field::CalendarClientSecret,
        Field::CalendarPassword,
        Field::ServerSecret,
    ];

    /// `table.column`.
    pub fn column(self) -> &'static str {
        match self {
            Field::WebhookSecret => "webhook_endpoints.secret",
            Field::WebhookPreviousSecret => "webhook_endpoints.previous_secret",
            Field::CalendarUrl => "calendar_connections.url",
            Field::CalendarAccessToken => "calendar_connections.access_token",
            Field::CalendarRefreshToken => "calendar_connections.refresh_token",
            Field::CalendarClientSecret => "calendar_connections.client_secret",
            Field::CalendarPassword => "calendar_connections.password",
            Field::ServerSecret => "server_secrets.value",
        }
    }

    /// The associated data of a value of this column in `row`.
    fn aad(self, row: &str) -> Vec<u8> {
        format!("booking-api {PREFIX} {} {row}", self.column()).into_bytes()
    }
}

/// The row of a tenant's secret, as sealed values name it: `account/id`.
pub fn tenant_row(account: &str, id: &str) -> String {
    format!("{account}/{id}")
}

/// The key id of a sealed value, `None` if `stored` is not one.
pub fn key_id_of(stored: &str) -> Option<&str> {
    let rest = stored.strip_prefix(PREFIX)?;
    rest.split_once(':').map(|(id, _)| id)
}

impl Keyring {
    /// Seals with `current`, opens with it alone.
    pub fn new(current: SecretKey) -> Keyring {
        Keyring {
            current,
            previous: Vec::new(),
        }
    }

    /// Also opens (never seals) values of `key`.
    pub fn with_previous(mut self, key: SecretKey) -> Keyring {
        if key.id != self.current.id && !self.previous.iter().any(|k| k.id == key.id) {
            self.previous.push(key);
        }
        self
    }

    /// The ring of a rotation to `new`: seals with `new`, opens with it and
    /// with every key of this ring.
    pub fn rotated_to(&self, new: SecretKey) -> Keyring {
        let mut ring = Keyring::new(new);
        for key in std::iter::once(&self.current).chain(&self.previous) {
            ring = ring.with_previous(key.clone());
        }
        ring
    }

    /// The key that seals.
    pub fn current(&self) -> &SecretKey {
        &self.current
    }

    /// The keys that only open.
    pub fn previous(&self) -> &[SecretKey] {
        &self.previous
    }

    /// Whether a value sealed under `key_id` opens with this ring.
    pub fn knows(&self, key_id: &str) -> bool {
        self.key(key_id).is_some()
    }

    fn key(&self, key_id: &str) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
    }

    /// `plain`, sealed under the current key for `field` of `row`.
    pub fn seal(&self, field: Field, row: &str, plain: &str) -> Result<String, StorageError> {
        let nonce = XNonce::try_generate()
            .map_err(|e| StorageError::Internal(format!("no random nonce from the system: {e}")))?;
        let aad = field.aad(row);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| {
                StorageError::Internal(format!(
                    "cannot encrypt {} of {row}: value too long",
                    field.column()
                ))
            })?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}:{}",
            self.current.id,
            STANDARD.encode(bytes)
        ))
    }

    /// [`Keyring::seal`] of an optional value.
    pub fn seal_opt(
        &self,
        field: Field,
        row: &str,
        plain: Option<&str>,
    ) -> Result<Option<String>, StorageError> {
        plain.map(|p| self.seal(field, row, p)).transpose()
    }

    /// The plaintext of a value sealed for `field` of `row` under one of the
    /// ring's keys. Anything else (plaintext, an unknown key, a value of
    /// another column or row, tampering) is [`StorageError::Internal`]
    /// naming the column and row, never the value.
    pub fn open(&self, field: Field, row: &str, stored: &str) -> Result<String, StorageError> {
        let fail = |why: &str| {
            StorageError::Internal(format!("cannot decrypt {} of {row}: {why}", field.column()))
        };
        let rest = stored
            .strip_prefix(PREFIX)
            .ok_or_else(|| fail("not encrypted"))?;
        let (key_id, data) = rest
            .split_once(':')
            .ok_or_else(|| fail("malformed value"))?;
        let key = self.key(key_id).ok_or_else(|| {
            fail(&format!(
                "encrypted under key id {key_id}, not under BOOKING_SECRET_KEY ({})",
                self.current.id
            ))
        })?;
        let bytes = STANDARD.decode(data).map_err(|_| fail("malformed value"))?;
        if bytes.len() < NONCE_LEN {
            return Err(fail("malformed value"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| fail("malformed value"))?;
        let aad = field.aad(row);
        let plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| fail(&format!("does not authenticate under key id {key_id}")))?;
        String::from_utf8(plain).map_err(|_| fail("not UTF-8 text"))
    }

    /// [`Keyring::open`] of an optional value.
    pub fn open_opt(
        &self,
        field: Field,
        row: &str,
        stored: Option<&str>,
    ) -> Result<Option<String>, StorageError> {
        stored.map(|s| self.open(field, row, s)).transpose()
    }
}

/// A fixed ring for this crate's tests.
#[cfg(test)]
pub(crate) fn test_keys() -> Keyring {
    Keyring::new(SecretKey::from_bytes([7; KEY_LEN]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; KEY_LEN])
    }

    #[test]
    fn sealed_values_open_and_hide_the_plaintext() {
        let ring = Keyring::new(key(1));
        let sealed = ring
            .seal(Field::WebhookSecret, "acc_1/wh_1", "whsec_abc")
            .unwrap();
        assert!(sealed.starts_with(&format!("enc:v1:{}:", key(1).id())));
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(key_id_of(&sealed), Some(key(1).id()));
        assert_eq!(
            ring.open(Field::WebhookSecret, "acc_1/wh_1", &sealed)
                .unwrap(),
            "whsec_abc"
        );
        // A fresh nonce each time.
        let again = ring
            .seal(Field::WebhookSecret, "acc_1/wh_1", "whsec_abc")
            .unwrap();
        assert_ne!(sealed, again);
    }

    #[test]
    fn values_are_bound_to_their_column_and_row() {
        let ring = Keyring::new(key(1));
        let sealed = ring
            .seal(Field::CalendarAccessToken, "acc_1/cal_1", "tok")
            .unwrap();
        let e = ring
            .open(Field::CalendarRefreshToken, "acc_1/cal_1", &sealed)
            .unwrap_err();
        assert!(e.to_string().contains("calendar_connections.refresh_token"));
        assert!(
            ring.open(Field::CalendarAccessToken, "acc_2/cal_1", &sealed)
                .is_err()
        );
    }

    #[test]
    fn other_keys_plaintext_and_tampering_fail_without_showing_the_value() {
        let ring = Keyring::new(key(1));
        let other = Keyring::new(key(2));
        let sealed = ring.seal(Field::CalendarUrl, "a/c", "https://x/s").unwrap();
        let e = other.open(Field::CalendarUrl, "a/c", &sealed).unwrap_err();
        let message = e.to_string();
        assert!(message.contains(key(1).id()), "{message}");
        assert!(!message.contains("https://x/s"), "{message}");
        assert!(
            other
                .open(Field::CalendarUrl, "a/c", "https://x/s")
                .unwrap_err()
                .to_string()
                .contains("not encrypted")
        );
        // Same key id, a flipped ciphertext byte.
        let mut bytes = STANDARD.decode(sealed.rsplit(':').next().unwrap()).unwrap();
        bytes[30] ^= 1;
        let tampered = format!("{PREFIX}{}:{}", key(1).id(), STANDARD.encode(bytes));
        assert!(ring.open(Field::CalendarUrl, "a/c", &tampered).is_err());
        for bad in ["enc:v1:", "enc:v1:abc", "enc:v1:x:!!", "enc:v1:x:AAAA"] {
            assert!(ring.open(Field::CalendarUrl, "a/c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn previous_keys_open_but_never_seal() {
        let old = Keyring::new(key(1));
        let sealed = old.seal(Field::ServerSecret, "feed_key", "k").unwrap();
        let ring = Keyring::new(key(2)).with_previous(key(1));
        assert_eq!(
            ring.open(Field::ServerSecret, "feed_key", &sealed).unwrap(),
            "k"
        );
        let resealed = ring.seal(Field::ServerSecret, "feed_key", "k").unwrap();
        assert_eq!(key_id_of(&resealed), Some(key(2).id()));
        assert!(ring.knows(key(1).id()) && ring.knows(key(2).id()));
        assert!(!ring.knows(key(3).id()));
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes_only() {
        let k = SecretKey::generate().unwrap();
        let parsed = SecretKey::from_base64(&format!("{}\n", k.to_base64())).unwrap();
        assert_eq!(parsed.id(), k.id());
        assert_eq!(k.id().len(), 8);
        let unpadded = k.to_base64().trim_end_matches('=').to_owned();
        assert_eq!(SecretKey::from_base64(&unpadded).unwrap().id(), k.id());
        assert_eq!(
            SecretKey::from_base64("not base64!").unwrap_err(),
            KeyError::NotBase64
        );
        assert_eq!(
            SecretKey::from_base64(&STANDARD.encode([0u8; 16])).unwrap_err(),
            KeyError::WrongLength(16)
        );
        // Debug never shows the key.
        let shown = format!("{k:?}");
        assert!(!shown.contains(&k.to_base64()), "{shown}");
        assert!(shown.contains(k.id()));
    }
}
