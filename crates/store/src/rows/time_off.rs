//! The columns of `time_off`.

use booking_domain::ports::StorageError;
use booking_domain::{AccountId, ProviderId, TimeOff, TimeOffId, TimeRange};

use super::values::{corrupt, instant, secs, secs_ceil};

/// The stored columns of a `time_off` row (without `seq`).
#[derive(
    Debug, Clone, PartialEq, Eq, diesel::Queryable, diesel::Selectable, diesel::Insertable,
)]
#[diesel(table_name = crate::schema::time_off, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct TimeOffColumns {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub start_at: i64,
    pub end_at: i64,
    pub reason: Option<String>,
    pub created_at: i64,
}

impl TimeOffColumns {
    /// The columns for time off (its range widened to whole seconds; the
    /// use case only hands over whole seconds).
    pub fn from_domain(t: &TimeOff) -> TimeOffColumns {
        TimeOffColumns {
            id: t.id.as_str().to_owned(),
            account_id: t.account_id.as_str().to_owned(),
            provider_id: t.provider_id.as_str().to_owned(),
            start_at: secs(t.range.start()),
            end_at: secs_ceil(t.range.end()),
            reason: t.reason.clone(),
            created_at: secs(t.created_at),
        }
    }

    /// Rebuilds the time off.
    pub fn into_domain(self) -> Result<TimeOff, StorageError> {
        const T: &str = "time_off";
        let id = self.id.as_str();
        let start = instant(T, id, "start_at", self.start_at)?;
        let end = instant(T, id, "end_at", self.end_at)?;
        let range = TimeRange::new(start, end)
            .ok_or_else(|| corrupt(T, id, "start_at is not before end_at"))?;
        Ok(TimeOff {
            range,
            created_at: instant(T, id, "created_at", self.created_at)?,
            account_id: AccountId::from_trusted(self.account_id),
            provider_id: ProviderId::from_trusted(self.provider_id),
            reason: self.reason,
            id: TimeOffId::from_trusted(self.id),
        })
    }
}
