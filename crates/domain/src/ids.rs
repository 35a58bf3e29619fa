//! Opaque, prefixed identifiers.
//!
//! Ids are strings with a type prefix (`srv_`, `bk_`, `prv_`, `evt_`, `key_`,
//! `acc_`). Generated ids come from the [`crate::ports::IdGenerator`] port and
//! carry at least 96 random bits; services may also carry a caller-chosen id.

use std::fmt;

use crate::ValidationError;

/// The kinds of generated ids, each with its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// `acc_`: an account (tenant).
    Account,
    /// `key_`: an API key.
    ApiKey,
    /// `prv_`: a provider.
    Provider,
    /// `srv_`: a service.
    Service,
    /// `bk_`: a booking.
    Booking,
    /// `evt_`: a booking event.
    Event,
}

impl IdKind {
    /// The prefix, underscore included.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Account => "acc_",
            IdKind::ApiKey => "key_",
            IdKind::Provider => "prv_",
            IdKind::Service => "srv_",
            IdKind::Booking => "bk_",
            IdKind::Event => "evt_",
        }
    }
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $kind:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps a stored or generated id without checks. Ids read from
            /// requests go through [`Self::parse`] instead.
            pub fn from_trusted(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// Accepts any id with the right prefix and only `[A-Za-z0-9_]`
            /// after it (at most 100 characters). Unknown ids are then simply
            /// not found.
            pub fn parse(value: &str) -> Option<Self> {
                let prefix = $kind.prefix();
                let rest = value.strip_prefix(prefix)?;
                let ok = !rest.is_empty()
                    && value.len() <= 100
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                ok.then(|| $name(value.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An account: the tenant every resource belongs to.
    AccountId,
    IdKind::Account
);
id_type!(
    /// An API key's public id (not the secret).
    ApiKeyId,
    IdKind::ApiKey
);
id_type!(
    /// A provider: the person or resource that is booked.
    ProviderId,
    IdKind::Provider
);
id_type!(
    /// A service.
    ServiceId,
    IdKind::Service
);
id_type!(
    /// A booking.
    BookingId,
    IdKind::Booking
);
id_type!(
    /// A booking event (also the webhook id).
    EventId,
    IdKind::Event
);

impl ServiceId {
    /// A caller-chosen service id: `^srv_[a-z0-9_]{1,64}$`.
    pub fn chosen(value: &str) -> Result<Self, ValidationError> {
        let ok = value.strip_prefix("srv_").is_some_and(|rest| {
            (1..=64).contains(&rest.len())
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        if ok {
            Ok(ServiceId(value.to_owned()))
        } else {
            Err(ValidationError::new(
                "id",
                "must match ^srv_[a-z0-9_]{1,64}$",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_service_ids_follow_the_pattern() {
        assert!(ServiceId::chosen("srv_consultation").is_ok());
        assert!(ServiceId::chosen("srv_").is_err());
        assert!(ServiceId::chosen("srv_Upper").is_err());
        assert!(ServiceId::chosen(&format!("srv_{}", "a".repeat(65))).is_err());
        assert!(ServiceId::chosen("bk_x").is_err());
    }

    #[test]
    fn parse_checks_the_prefix() {
        assert!(BookingId::parse("bk_abc").is_some());
        assert!(BookingId::parse("srv_abc").is_none());
        assert!(BookingId::parse("bk_a-b").is_none());
    }
}
