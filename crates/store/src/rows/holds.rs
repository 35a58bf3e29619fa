//! The columns of a hold: SQLite's `holds` row, or on Postgres its guard
//! row in `bookings` (`hold_key_id` and `hold_expires_at` as `key_id` and
//! `expires_at`).

use booking_domain::ports::StorageError;
use booking_domain::{AccountId, ApiKeyId, Hold, HoldId, Minutes, ProviderId, ServiceId};

use super::values::{corrupt, instant, secs, secs_ceil};

/// The stored columns of a hold (a `holds` row without `seq` on SQLite; on
/// Postgres read from and written to its guard row in `bookings`).
#[derive(
    Debug, Clone, PartialEq, Eq, diesel::Queryable, diesel::Selectable, diesel::Insertable,
)]
#[diesel(table_name = crate::schema::holds, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct HoldColumns {
    pub id: String,
    pub account_id: String,
    pub key_id: String,
    pub service_id: String,
    pub provider_id: String,
    pub scheduled_at: i64,
    pub duration_min: i64,
    pub buffer_before: i64,
    pub buffer_after: i64,
    pub occupied_start: i64,
    pub occupied_end: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A hold as busy time: id, occupied start and end, expiry (unix seconds).
pub type HeldRow = (String, i64, i64, i64);

fn minutes(id: &str, field: &str, v: i64) -> Result<Minutes, StorageError> {
    u32::try_from(v)
        .map(Minutes::new)
        .map_err(|_| corrupt("holds", id, format!("{field} {v} out of range")))
}

impl HoldColumns {
    /// The columns of a hold (its occupied range widened to whole seconds).
    pub fn from_domain(h: &Hold) -> HoldColumns {
        let occupied = h.occupied();
        HoldColumns {
            id: h.id.as_str().to_owned(),
            account_id: h.account_id.as_str().to_owned(),
            key_id: h.key_id.as_str().to_owned(),
            service_id: h.service_id.as_str().to_owned(),
            provider_id: h.provider_id.as_str().to_owned(),
            scheduled_at: secs(h.scheduled_at),
            duration_min: i64::from(h.duration.get()),
            buffer_before: i64::from(h.buffer_before.get()),
            buffer_after: i64::from(h.buffer_after.get()),
            occupied_start: secs(occupied.start()),
            occupied_end: secs_ceil(occupied.end()),
            expires_at: secs_ceil(h.expires_at),
            created_at: secs(h.created_at),
        }
    }

    /// The appointment's end (unix seconds).
    pub fn end_at(&self) -> i64 {
        self.scheduled_at
            .saturating_add(self.duration_min.saturating_mul(60))
    }

    /// Rebuilds the hold.
    pub fn into_domain(self) -> Result<Hold, StorageError> {
        const T: &str = "holds";
        let id = self.id.as_str();
        Ok(Hold {
            scheduled_at: instant(T, id, "scheduled_at", self.scheduled_at)?,
            duration: minutes(id, "duration_min", self.duration_min)?,
            buffer_before: minutes(id, "buffer_before", self.buffer_before)?,
            buffer_after: minutes(id, "buffer_after", self.buffer_after)?,
            expires_at: instant(T, id, "expires_at", self.expires_at)?,
            created_at: instant(T, id, "created_at", self.created_at)?,
            account_id: AccountId::from_trusted(self.account_id),
            key_id: ApiKeyId::from_trusted(self.key_id),
            service_id: ServiceId::from_trusted(self.service_id),
            provider_id: ProviderId::from_trusted(self.provider_id),
            id: HoldId::from_trusted(self.id),
        })
    }
}
