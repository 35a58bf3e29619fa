//! Holds: reserving a time for a few minutes, reading and ending a hold.
//! (Turning a hold into a booking is [`super::Bookings::create`] with a
//! `hold_id`.)

use jiff::{SignedDuration, Timestamp};

use super::availability::service_counts;
use super::bookings::{BookingError, Bookings, check_whole_minute};
use super::port_sets::HoldPorts;
use crate::ports::{CreateHoldError, StorageError};
use crate::scheduling::{Blockers, Reason, SlotRules, check};
use crate::{
    AccountId, ApiKeyId, Assignment, Hold, HoldId, IdKind, MAX_ACTIVE_HOLDS_PER_KEY, ProviderId,
    Service, ServiceProviders, ValidationError,
};

/// A hold request, validated field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    /// The service id as given.
    pub service: String,
    /// The start to hold.
    pub scheduled_at: Timestamp,
    /// How long the hold lasts (see [`crate::validate_hold_ttl`]).
    pub ttl: SignedDuration,
    /// The provider asked for, if any (the service's, or one of a
    /// round-robin team's).
    pub provider_id: Option<String>,
}

/// Why a hold call failed.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// Unknown or archived service (422 INVALID_SERVICE).
    #[error("unknown or archived service")]
    InvalidService,
    /// No such unexpired hold in the account (404 NOT_FOUND).
    #[error("hold not found")]
    NotFound,
    /// The time is not available (409 BOOKING_CONFLICT), as a booking of it
    /// would be refused.
    #[error("the requested time slot is not available")]
    Conflict {
        /// The requested start.
        requested: Timestamp,
        /// The first free slot at or after it within 62 days.
        next_available: Option<Timestamp>,
        /// Every rule the time breaks.
        reasons: Vec<Reason>,
    },
    /// The key has [`MAX_ACTIVE_HOLDS_PER_KEY`] unexpired holds (429).
    #[error("too many active holds")]
    TooMany {
        /// The limit.
        limit: u32,
        /// Seconds until the key's earliest hold expires (at least 1).
        retry_after_secs: u64,
    },
    /// Bad input.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<BookingError> for HoldError {
    fn from(e: BookingError) -> Self {
        match e {
            BookingError::Conflict {
                requested,
                next_available,
                reasons,
            } => HoldError::Conflict {
                requested,
                next_available,
                reasons,
            },
            BookingError::Validation(e) => HoldError::Validation(e),
            BookingError::Storage(e) => HoldError::Storage(e),
            BookingError::InvalidService => HoldError::InvalidService,
            other => HoldError::Storage(StorageError::Internal(format!(
                "unexpected booking outcome for a hold: {other}"
            ))),
        }
    }
}

/// `t` rounded up to a whole second (holds are stored and shown to the
/// second; rounding up never ends one early).
fn whole_second_after(t: Timestamp) -> Timestamp {
    if t.subsec_nanosecond() == 0 {
        return t;
    }
    Timestamp::from_second(t.as_second().saturating_add(1)).unwrap_or(t)
}

/// Hold use cases for one account, acting with one API key.
pub struct Holds<'a> {
    /// The ports.
    pub ports: HoldPorts<'a>,
    /// The account acting.
    pub account: &'a AccountId,
    /// The key acting (the per-key limit counts its holds).
    pub key: &'a ApiKeyId,
}

impl Holds<'_> {
    fn bookings(&self) -> Bookings<'_> {
        Bookings {
            ports: self.ports.into(),
            account: self.account,
            // Holds only read services and explain conflicts through this;
            // they never create a booking, the one use of the link key.
            link_key: &[],
        }
    }

    /// Holds a time of a service: refused exactly as a booking of it would
    /// be (409 with the same reasons). A round-robin team service's hold
    /// takes one free provider by the assignment rule (the next one when a
    /// concurrent write took the first), or the `provider_id` asked for;
    /// collective services cannot be held (VALIDATION_ERROR on `service`).
    pub async fn create(&self, new: NewHold) -> Result<Hold, HoldError> {
        let service = match self.bookings().service_for(&new.service).await? {
            Some(s) if !s.archived => s,
            _ => return Err(HoldError::InvalidService),
        };
        check_whole_minute(new.scheduled_at)?;
        let rules = service.slot_rules();
        let now = self.ports.clock.now();
        let bookings = self.bookings();
        // Hours, notice, horizon and (not atomically: holds do not count
        // toward it) the daily cap; busy time is the store's atomic check.
        let counts = service_counts(
            self.ports,
            self.account,
            &service,
            crate::TimeRange::starting_at(new.scheduled_at, service.duration),
            None,
        )
        .await?;
        if check(&rules, new.scheduled_at, now, &Blockers::default(), &counts).is_err() {
            return Err(bookings
                .conflict(&service, &rules, new.scheduled_at, None)
                .await
                .into());
        }
        let candidates = self
            .candidates(
                &service,
                &rules,
                new.scheduled_at,
                new.provider_id.as_deref(),
            )
            .await?;
        let mut hold = Hold {
            id: HoldId::from_trusted(self.ports.ids.new_id(IdKind::Hold)),
            account_id: self.account.clone(),
            key_id: self.key.clone(),
            service_id: service.id.clone(),
            provider_id: service.provider_id.clone(),
            scheduled_at: new.scheduled_at,
            duration: service.duration,
            buffer_before: service.buffer_before,
            buffer_after: service.buffer_after,
            expires_at: whole_second_after(now.saturating_add(new.ttl).unwrap_or(now)),
            created_at: now,
        };
        for provider in candidates {
            hold.provider_id = provider;
            match self
                .ports
                .bookings
                .insert_hold(&hold, MAX_ACTIVE_HOLDS_PER_KEY)
                .await
            {
                Ok(()) => return Ok(hold),
                // Taken meanwhile: the next provider of the team.
                Err(CreateHoldError::Conflict) => continue,
                Err(CreateHoldError::TooMany { earliest_expiry }) => {
                    let wait = earliest_expiry
                        .map(|t| t.duration_since(now).as_secs())
                        .unwrap_or(1);
                    return Err(HoldError::TooMany {
                        limit: MAX_ACTIVE_HOLDS_PER_KEY,
                        retry_after_secs: u64::try_from(wait).unwrap_or(1).max(1),
                    });
                }
                Err(CreateHoldError::Storage(e)) => return Err(e.into()),
            }
        }
        // A team's hold that named its provider was refused for that
        // provider's time: explain that provider's, not the team's (which
        // another free provider would make look open).
        let explained = match (&new.provider_id, service.assignment()) {
            (Some(_), Some(_)) => {
                let mut alone = service.clone();
                alone.set_providers(ServiceProviders::Single(hold.provider_id.clone()));
                alone
            }
            _ => service.clone(),
        };
        Err(bookings
            .conflict(&explained, &rules, new.scheduled_at, None)
            .await
            .into())
    }

    /// The providers a hold of `service` at `start` may take, in the order
    /// to try them: the service's own; for a round-robin team, the one asked
    /// for (one of the team) or every provider in assignment order (free
    /// ones first, as a booking's).
    async fn candidates(
        &self,
        service: &Service,
        rules: &SlotRules<'_>,
        start: Timestamp,
        asked: Option<&str>,
    ) -> Result<Vec<ProviderId>, HoldError> {
        match service.assignment() {
            None => match asked {
                Some(p) if p != service.provider_id.as_str() => Err(ValidationError::new(
                    "provider_id",
                    "must be the service's provider (or left out)",
                )
                .into()),
                _ => Ok(vec![service.provider_id.clone()]),
            },
            Some(Assignment::Collective) => Err(ValidationError::new(
                "service",
                "a collective team service cannot be held: book it directly",
            )
            .into()),
            Some(Assignment::RoundRobin) => match asked {
                Some(p) => match service.providers().iter().find(|q| q.as_str() == p) {
                    Some(q) => Ok(vec![q.clone()]),
                    None => Err(ValidationError::new(
                        "provider_id",
                        "must be one of the service's providers (or left out)",
                    )
                    .into()),
                },
                None => {
                    let (order, _) = self
                        .bookings()
                        .round_robin_order(service, rules, service.providers(), start, None)
                        .await?;
                    Ok(order
                        .into_iter()
                        .filter_map(|i| service.providers().get(i).cloned())
                        .collect())
                }
            },
        }
    }

    /// The account's hold, while it lasts (an expired one is not found).
    pub async fn get(&self, id: &str) -> Result<Hold, HoldError> {
        let id = HoldId::parse(id).ok_or(HoldError::NotFound)?;
        match self.ports.bookings.get_hold(self.account, &id).await? {
            Some(hold) if hold.is_live(self.ports.clock.now()) => Ok(hold),
            _ => Err(HoldError::NotFound),
        }
    }

    /// Ends the account's hold now (an expired one is not found).
    pub async fn delete(&self, id: &str) -> Result<(), HoldError> {
        let hold = self.get(id).await?;
        if self
            .ports
            .bookings
            .delete_hold(self.account, &hold.id)
            .await?
        {
            Ok(())
        } else {
            Err(HoldError::NotFound)
        }
    }
}
