//! Holds: a short reservation of a time while a customer completes a form
//! or a payment.
//!
//! A hold occupies exactly what the booking it stands for would occupy (the
//! appointment widened by its service's buffers), so turning it into that
//! booking never meets a conflict the hold did not already refuse. It ends
//! by itself at `expires_at`: nothing has to clean it up for it to stop
//! blocking, because every reader and writer compares `expires_at` with the
//! clock (see [`Hold::is_live`]).

use jiff::{SignedDuration, Timestamp};

use crate::scheduling::HeldTime;
use crate::{
    AccountId, ApiKeyId, HoldId, Minutes, ProviderId, ServiceId, TimeRange, ValidationError,
    occupied_range,
};

/// Default lifetime of a hold, in seconds.
pub const DEFAULT_HOLD_TTL_SECS: i64 = 300;
/// Shortest lifetime a client may ask for, in seconds.
pub const MIN_HOLD_TTL_SECS: i64 = 30;
/// Longest lifetime a client may ask for, in seconds.
pub const MAX_HOLD_TTL_SECS: i64 = 1800;
/// Most unexpired holds one API key may have at once.
pub const MAX_ACTIVE_HOLDS_PER_KEY: u32 = 100;

/// A hold on a service's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// `hld_…`.
    pub id: HoldId,
    /// Owner.
    pub account_id: AccountId,
    /// The API key that made it (the per-key limit counts these).
    pub key_id: ApiKeyId,
    /// The service it is for.
    pub service_id: ServiceId,
    /// The provider whose time it blocks.
    pub provider_id: ProviderId,
    /// The held start.
    pub scheduled_at: Timestamp,
    /// The service's duration when it was made.
    pub duration: Minutes,
    /// The service's buffer before, when it was made.
    pub buffer_before: Minutes,
    /// The service's buffer after, when it was made.
    pub buffer_after: Minutes,
    /// When it stops blocking by itself.
    pub expires_at: Timestamp,
    /// When it was made.
    pub created_at: Timestamp,
}

impl Hold {
    /// The held appointment `[scheduled_at, end_at)`.
    pub fn appointment(&self) -> TimeRange {
        TimeRange::starting_at(self.scheduled_at, self.duration)
    }

    /// What it blocks: the appointment widened by the buffers, as the
    /// booking it stands for would.
    pub fn occupied(&self) -> TimeRange {
        occupied_range(
            self.scheduled_at,
            self.duration,
            self.buffer_before,
            self.buffer_after,
        )
    }

    /// Whether it still blocks at `now` (it ends at `expires_at` exactly).
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at > now
    }

    /// As busy time.
    pub fn held_time(&self) -> HeldTime {
        HeldTime {
            id: self.id.clone(),
            range: self.occupied(),
            expires_at: self.expires_at,
        }
    }
}

/// A hold's lifetime from the request's `ttl` (seconds, 30-1800, default
/// 300).
pub fn validate_hold_ttl(ttl: Option<i64>) -> Result<SignedDuration, ValidationError> {
    let secs = ttl.unwrap_or(DEFAULT_HOLD_TTL_SECS);
    if !(MIN_HOLD_TTL_SECS..=MAX_HOLD_TTL_SECS).contains(&secs) {
        return Err(ValidationError::new(
            "ttl",
            "must be a whole number of seconds from 30 to 1800",
        ));
    }
    Ok(SignedDuration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(expires_at: Timestamp) -> Hold {
        Hold {
            id: HoldId::from_trusted("hld_1"),
            account_id: AccountId::from_trusted("acc_1"),
            key_id: ApiKeyId::from_trusted("key_1"),
            service_id: ServiceId::from_trusted("srv_1"),
            provider_id: ProviderId::from_trusted("prv_1"),
            scheduled_at: "2026-12-24T15:00:00Z".parse().unwrap(),
            duration: Minutes::new(60),
            buffer_before: Minutes::new(10),
            buffer_after: Minutes::new(15),
            expires_at,
            created_at: "2026-12-24T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn ttl_defaults_to_five_minutes_and_is_bounded() {
        assert_eq!(
            validate_hold_ttl(None).unwrap(),
            SignedDuration::from_secs(300)
        );
        assert_eq!(
            validate_hold_ttl(Some(30)).unwrap(),
            SignedDuration::from_secs(30)
        );
        assert_eq!(
            validate_hold_ttl(Some(1800)).unwrap(),
            SignedDuration::from_secs(1800)
        );
        assert_eq!(validate_hold_ttl(Some(29)).unwrap_err().field, "ttl");
        assert_eq!(validate_hold_ttl(Some(1801)).unwrap_err().field, "ttl");
        assert!(validate_hold_ttl(Some(-1)).is_err());
    }

    #[test]
    fn a_hold_occupies_what_its_booking_would() {
        let h = hold("2026-12-24T10:05:00Z".parse().unwrap());
        assert_eq!(h.appointment().end().to_string(), "2026-12-24T16:00:00Z");
        assert_eq!(h.occupied().start().to_string(), "2026-12-24T14:50:00Z");
        assert_eq!(h.occupied().end().to_string(), "2026-12-24T16:15:00Z");
        assert_eq!(h.held_time().range, h.occupied());
    }

    #[test]
    fn a_hold_ends_at_its_expiry_exactly() {
        let expires: Timestamp = "2026-12-24T10:05:00Z".parse().unwrap();
        let h = hold(expires);
        assert!(h.is_live(expires - SignedDuration::from_secs(1)));
        assert!(!h.is_live(expires));
        assert!(!h.is_live(expires + SignedDuration::from_secs(1)));
    }
}
