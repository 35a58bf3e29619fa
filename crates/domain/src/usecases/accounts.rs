//! API keys: creation (CLI), revocation and authentication.

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ports::{AccountStore, ApiKeyRecord, Clock, IdGenerator, NewApiKey, StorageError};
use crate::{AccountId, ApiKeyId, IdKind, Provider, ProviderId};

/// Random characters after `sk_` (base62: about 238 bits).
const KEY_SECRET_LEN: usize = 40;

/// SHA-256 of a secret as lower-case hex: how API keys and feed tokens are
/// stored.
pub(crate) fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of a key as hex, and its 16-digit lookup prefix.
pub fn hash_key(plaintext: &str) -> (String, String) {
    let hex = sha256_hex(plaintext);
    let lookup = hex[..16].to_owned();
    (hex, lookup)
}

/// A new key's plaintext: `sk_` and 40 base62 characters.
pub fn generate_key(ids: &dyn IdGenerator) -> String {
    format!("sk_{}", ids.secret(KEY_SECRET_LEN))
}

/// A key just made: the plaintext is shown once and never stored.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The stored record.
    pub record: ApiKeyRecord,
    /// The key itself.
    pub plaintext: String,
}

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The account.
    pub account_id: AccountId,
    /// The key used.
    pub key_id: ApiKeyId,
}

/// Why a key was refused. The HTTP layer answers 401 for all of them alike.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not of the `sk_…` form.
    #[error("malformed API key")]
    Malformed,
    /// No such key.
    #[error("unknown API key")]
    Unknown,
    /// The key was revoked.
    #[error("revoked API key")]
    Revoked,
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Errors of key management.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Bad account name.
    #[error("account names are 1-100 characters of [A-Za-z0-9_.-]")]
    InvalidAccountName,
    /// Unknown key id.
    #[error("no such key")]
    NotFound,
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// API-key use cases.
pub struct ApiKeys<'a> {
    /// Key storage.
    pub store: &'a dyn AccountStore,
    /// Time.
    pub clock: &'a dyn Clock,
    /// Ids and secrets.
    pub ids: &'a dyn IdGenerator,
}

impl ApiKeys<'_> {
    /// Creates a key for `account_name`, creating the account and its default
    /// provider when the name is new.
    pub async fn create(&self, account_name: &str) -> Result<CreatedKey, KeyError> {
        let valid = !account_name.is_empty()
            && account_name.len() <= 100
            && account_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(KeyError::InvalidAccountName);
        }
        let now = self.clock.now();
        let plaintext = generate_key(self.ids);
        let (hash, lookup) = hash_key(&plaintext);
        let account_id = AccountId::from_trusted(self.ids.new_id(IdKind::Account));
        let provider = Provider {
            id: ProviderId::from_trusted(self.ids.new_id(IdKind::Provider)),
            account_id: account_id.clone(),
            name: account_name.to_owned(),
            email: None,
            is_default: true,
            created_at: now,
            updated_at: now,
        };
        let record = self
            .store
            .create_key(NewApiKey {
                account_name: account_name.to_owned(),
                new_account_id: account_id,
                new_default_provider: provider,
                key_id: ApiKeyId::from_trusted(self.ids.new_id(IdKind::ApiKey)),
                lookup,
                hash,
                created_at: now,
            })
            .await?;
        Ok(CreatedKey { record, plaintext })
    }

    /// Revokes a key by id.
    pub async fn revoke(&self, key_id: &str) -> Result<(), KeyError> {
        let id = ApiKeyId::parse(key_id).ok_or(KeyError::NotFound)?;
        if self.store.revoke_key(&id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(KeyError::NotFound)
        }
    }

    /// Checks a presented key: hashes it, finds candidates by lookup prefix,
    /// and compares full hashes in constant time.
    pub async fn authenticate(&self, presented: &str) -> Result<Authenticated, AuthError> {
        let well_formed = presented.len() >= 35
            && presented.len() <= 200
            && presented
                .strip_prefix("sk_")
                .is_some_and(|s| s.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !well_formed {
            return Err(AuthError::Malformed);
        }
        let (hash, lookup) = hash_key(presented);
        let candidates = self.store.keys_by_lookup(&lookup).await?;
        let mut found: Option<ApiKeyRecord> = None;
        for record in candidates {
            if bool::from(record.hash.as_bytes().ct_eq(hash.as_bytes())) {
                found = Some(record);
            }
        }
        let record = found.ok_or(AuthError::Unknown)?;
        if record
            .revoked_at
            .is_some_and(|t: Timestamp| t <= self.clock.now())
        {
            return Err(AuthError::Revoked);
        }
        Ok(Authenticated {
            account_id: record.account_id,
            key_id: record.id,
        })
    }
}
