//! Customer-link tokens: derived, never stored.
//!
//! A booking's token is `HMAC-SHA256(server key, "manage/v1/{booking
//! id}/{salt}")`, 192 bits, base64url, where `salt` is 128+ random bits
//! kept with the booking; the store keeps only the token's SHA-256 to find
//! the booking. Showing the link again derives the same token. The page's
//! CSRF token is derived from the link token the same way. Below both
//! [`super::bookings`] (a new booking gets a link) and [`super::manage`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ports::IdGenerator;
use crate::{Booking, ManageLink};

/// How many random characters (base62) a link's salt has: about 131 bits.
const SALT_LEN: usize = 22;

/// Derives the token of a booking's link.
pub fn derive_manage_token(key: &[u8], booking: &str, salt: &str) -> String {
    // HMAC accepts keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(format!("manage/v1/{booking}/{salt}").as_bytes());
    let digest = mac.finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// The stored form of a token: SHA-256, hex.
pub fn hash_manage_token(token: &str) -> String {
    super::accounts::sha256_hex(token)
}

/// Whether `token` has the shape of a link token (so garbage is refused
/// before any lookup).
pub fn plausible_manage_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new link for booking `booking`: a fresh salt and its token's hash.
pub fn new_manage_link(ids: &dyn IdGenerator, key: &[u8], booking: &str) -> ManageLink {
    let salt = ids.secret(SALT_LEN);
    let hash = hash_manage_token(&derive_manage_token(key, booking, &salt));
    ManageLink { salt, hash }
}

/// The token of a booking's link (`None`: the booking has none).
pub fn manage_token(key: &[u8], booking: &Booking) -> Option<String> {
    booking
        .link
        .as_ref()
        .map(|l| derive_manage_token(key, booking.id.as_str(), &l.salt))
}

/// The CSRF token of the page of link `token`: `HMAC-SHA256(server key,
/// "manage-form/v1/{token}")`, 128 bits, base64url. Its forms carry it in a
/// hidden field; a post without it (a form on another site that only knows
/// the link) is refused.
pub fn form_token(key: &[u8], token: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(format!("manage-form/v1/{token}").as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
}

/// Whether `given` is the CSRF token of link `token` (compared in
/// constant time).
pub fn check_form_token(key: &[u8], token: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = form_token(key, token);
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_192_bits_of_an_hmac_over_the_booking_and_its_salt() {
        let a = derive_manage_token(b"key", "bk_1", "salt");
        assert_eq!(a, derive_manage_token(b"key", "bk_1", "salt"));
        assert!(plausible_manage_token(&a), "{a}");
        assert_ne!(a, derive_manage_token(b"key", "bk_1", "salt2"));
        assert_ne!(a, derive_manage_token(b"key", "bk_2", "salt"));
        assert_ne!(a, derive_manage_token(b"other", "bk_1", "salt"));
        // Not the feed token of the same inputs.
        assert_ne!(
            a,
            super::super::derive_feed_token(b"key", "bk_1", "salt", 0)
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"manage/v1/bk_1/salt");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&a).unwrap(),
            &mac.finalize().into_bytes()[..24]
        );
        assert_eq!(hash_manage_token(&a).len(), 64);
        assert!(!plausible_manage_token("short"));
        let csrf = form_token(b"key", &a);
        assert!(check_form_token(b"key", &a, &csrf));
        assert!(!check_form_token(b"key", &a, ""));
        assert!(!check_form_token(b"other", &a, &csrf));
        assert_ne!(
            csrf,
            form_token(b"key", &derive_manage_token(b"key", "bk_2", "s"))
        );
        assert!(!plausible_manage_token(&format!("{}/", &a[..31])));
    }
}
