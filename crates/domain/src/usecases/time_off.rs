//! A provider's time off: creating it (answering the active bookings it
//! overlaps, which stay as they are), listing and deleting it.

use jiff::Timestamp;

use super::port_sets::TimeOffPorts;
use crate::ports::{Page, PageRequest, StorageError};
use crate::{
    AccountId, BookingId, IdKind, NewTimeOff, Provider, ProviderId, TimeOff, TimeOffId,
    ValidationError,
};

/// Errors of time-off management.
#[derive(Debug, thiserror::Error)]
pub enum TimeOffError {
    /// No such provider or time off (404 NOT_FOUND); names which.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Invalid input (400 VALIDATION_ERROR).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// New time off and the provider's active bookings inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTimeOff {
    /// The stored time off.
    pub time_off: TimeOff,
    /// Active bookings whose appointment overlaps it, in start order (left
    /// as they are: the caller moves or cancels them).
    pub overlapping_bookings: Vec<BookingId>,
}

/// Time-off use cases for one account.
pub struct TimeOffs<'a> {
    /// The ports.
    pub ports: TimeOffPorts<'a>,
    /// The account acting.
    pub account: &'a AccountId,
}

/// `t` has no fraction of a second (the API's precision, and what the
/// stores keep): `field` names it otherwise.
fn whole_second(t: Timestamp, field: &str) -> Result<(), ValidationError> {
    if t.subsec_nanosecond() == 0 {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be a whole second (no fractional seconds)",
        ))
    }
}

impl TimeOffs<'_> {
    /// The provider, or `NotFound("provider")` (another account's included).
    pub async fn provider(&self, id: &str) -> Result<Provider, TimeOffError> {
        let id = ProviderId::parse(id).ok_or(TimeOffError::NotFound("provider"))?;
        self.ports
            .providers
            .get_provider(self.account, &id)
            .await?
            .ok_or(TimeOffError::NotFound("provider"))
    }

    /// Stores time off for the provider; answers it with the active
    /// bookings it overlaps.
    pub async fn create(
        &self,
        provider: &str,
        new: NewTimeOff,
    ) -> Result<CreatedTimeOff, TimeOffError> {
        let provider = self.provider(provider).await?;
        whole_second(new.range.start(), "start")?;
        whole_second(new.range.end(), "end")?;
        let time_off = TimeOff {
            id: TimeOffId::from_trusted(self.ports.ids.new_id(IdKind::TimeOff)),
            account_id: self.account.clone(),
            provider_id: provider.id,
            range: new.range,
            reason: new.reason,
            created_at: self.ports.clock.now(),
        };
        let overlapping_bookings = self.ports.time_off.create_time_off(&time_off).await?;
        Ok(CreatedTimeOff {
            time_off,
            overlapping_bookings,
        })
    }

    /// The provider's time off overlapping `[from, to)` (either end open),
    /// oldest first. `to` must be after `from` when both are given.
    pub async fn list(
        &self,
        provider: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        page: PageRequest,
    ) -> Result<Page<TimeOff>, TimeOffError> {
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(ValidationError::new("to", "must be after from").into());
        }
        let provider = self.provider(provider).await?;
        Ok(self
            .ports
            .time_off
            .list_time_off(self.account, &provider.id, from, to, page)
            .await?)
    }

    /// Deletes the provider's time off: its time is free at once.
    pub async fn delete(&self, provider: &str, id: &str) -> Result<(), TimeOffError> {
        let provider = self.provider(provider).await?;
        let id = TimeOffId::parse(id).ok_or(TimeOffError::NotFound("time off"))?;
        if self
            .ports
            .time_off
            .delete_time_off(self.account, &provider.id, &id)
            .await?
        {
            Ok(())
        } else {
            Err(TimeOffError::NotFound("time off"))
        }
    }
}
