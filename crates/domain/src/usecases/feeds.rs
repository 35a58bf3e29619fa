//! Private calendar feeds: tokens, rotation, and what a feed contains.
//!
//! A feed URL carries a token and nothing else, so the token is the whole
//! credential. Tokens are derived, not stored: `HMAC-SHA256(feed key,
//! "feed/v1/{account}/{provider}/{generation}")`, 192 bits, base64url. The
//! database keeps only the SHA-256 of the current token (to find the
//! provider) and its generation; showing the URL again derives the same
//! token, and rotating raises the generation, so the old token stops
//! matching at once. With the feed key outside the database
//! (`BOOKING_FEED_KEY`), a copy of the database alone reveals no feed URL.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::port_sets::FeedPorts;
use crate::ports::{FeedBooking, StorageError};
use crate::{Provider, ProviderId};

use super::CatalogError;

/// How many times a rotation is retried when it races another.
const MAX_RACES: usize = 5;

/// Derives the feed token of a provider's `generation`.
pub fn derive_feed_token(key: &[u8], account: &str, provider: &str, generation: i64) -> String {
    // HMAC accepts keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(format!("feed/v1/{account}/{provider}/{generation}").as_bytes());
    let digest = mac.finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// The stored form of a token: SHA-256, hex (as API keys are stored).
pub fn hash_feed_token(token: &str) -> String {
    super::accounts::sha256_hex(token)
}

/// Whether `token` has the shape of a feed token (so garbage is refused
/// before any lookup).
pub fn plausible_feed_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Feed use cases for one account.
pub struct Feeds<'a> {
    /// The ports.
    pub ports: FeedPorts<'a>,
    /// The key tokens are derived from.
    pub key: &'a [u8],
}

impl Feeds<'_> {
    fn token(&self, provider: &Provider, generation: i64) -> String {
        derive_feed_token(
            self.key,
            provider.account_id.as_str(),
            provider.id.as_str(),
            generation,
        )
    }

    async fn provider(
        &self,
        account: &crate::AccountId,
        id: &str,
    ) -> Result<Provider, CatalogError> {
        let id = ProviderId::parse(id).ok_or(CatalogError::ProviderNotFound)?;
        self.ports
            .providers
            .get_provider(account, &id)
            .await?
            .ok_or(CatalogError::ProviderNotFound)
    }

    /// The provider's current feed token (handed out, and so made valid, by
    /// this call if it was not yet).
    pub async fn token_for(
        &self,
        account: &crate::AccountId,
        provider: &str,
    ) -> Result<String, CatalogError> {
        let provider = self.provider(account, provider).await?;
        for _ in 0..MAX_RACES {
            let (generation, stored) = self
                .ports
                .feeds
                .feed_state(account, &provider.id)
                .await?
                .ok_or(CatalogError::ProviderNotFound)?;
            let token = self.token(&provider, generation);
            let hash = hash_feed_token(&token);
            if stored.as_deref() == Some(hash.as_str()) {
                return Ok(token);
            }
            // Never handed out (or the feed key changed): make it current.
            if self
                .ports
                .feeds
                .set_feed_token(account, &provider.id, generation, generation, &hash)
                .await?
            {
                return Ok(token);
            }
        }
        Err(StorageError::Unavailable("feed token kept changing concurrently".into()).into())
    }

    /// Replaces the provider's token; the old one is dead when this returns.
    pub async fn rotate(
        &self,
        account: &crate::AccountId,
        provider: &str,
    ) -> Result<String, CatalogError> {
        let provider = self.provider(account, provider).await?;
        for _ in 0..MAX_RACES {
            let (generation, _) = self
                .ports
                .feeds
                .feed_state(account, &provider.id)
                .await?
                .ok_or(CatalogError::ProviderNotFound)?;
            let next = generation.saturating_add(1);
            let token = self.token(&provider, next);
            if self
                .ports
                .feeds
                .set_feed_token(
                    account,
                    &provider.id,
                    generation,
                    next,
                    &hash_feed_token(&token),
                )
                .await?
            {
                return Ok(token);
            }
        }
        Err(StorageError::Unavailable("feed token kept changing concurrently".into()).into())
    }

    /// The provider a presented token opens, or `Ok(None)` (malformed,
    /// unknown or rotated away).
    pub async fn open(&self, token: &str) -> Result<Option<Provider>, StorageError> {
        if !plausible_feed_token(token) {
            return Ok(None);
        }
        self.ports
            .feeds
            .provider_by_feed_token(&hash_feed_token(token))
            .await
    }

    /// The bookings a provider's feed shows at `now`: 90 days back (by end)
    /// to every future booking; cancelled ones for 30 days after their
    /// cancellation. `in_feed` decides membership (the calendar crate's
    /// rule); the store returns a superset bounded by `from`.
    pub async fn bookings(
        &self,
        provider: &Provider,
        from: jiff::Timestamp,
        in_feed: impl Fn(&crate::Booking) -> bool,
    ) -> Result<Vec<FeedBooking>, StorageError> {
        let mut rows = self
            .ports
            .feeds
            .feed_bookings(&provider.account_id, &provider.id, from)
            .await?;
        rows.retain(|r| in_feed(&r.booking));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_derived_stably_and_differ_per_generation_and_key() {
        let a = derive_feed_token(b"key", "acc_1", "prv_1", 0);
        assert_eq!(a, derive_feed_token(b"key", "acc_1", "prv_1", 0));
        assert!(plausible_feed_token(&a), "{a}");
        assert_ne!(a, derive_feed_token(b"key", "acc_1", "prv_1", 1));
        assert_ne!(a, derive_feed_token(b"other", "acc_1", "prv_1", 0));
        assert_ne!(a, derive_feed_token(b"key", "acc_2", "prv_1", 0));
        assert_eq!(hash_feed_token(&a).len(), 64);
        assert!(!plausible_feed_token("short"));
        assert!(!plausible_feed_token(&format!("{}/", &a[..31])));
    }

    #[test]
    fn tokens_are_the_first_192_bits_of_the_hmac_in_base64url() {
        // Computed here independently of `derive_feed_token`.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"feed/v1/acc_1/prv_1/7");
        let digest = mac.finalize().into_bytes();
        let token = derive_feed_token(b"key", "acc_1", "prv_1", 7);
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap(), &digest[..24]);
        assert_eq!(token.len(), 32);
        assert_eq!(hash_feed_token(&token), crate::usecases::hash_key(&token).0);
    }
}
