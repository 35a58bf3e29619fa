//! Services: what is sold, for how long, at what price, in which hours.

use jiff::Timestamp;

use crate::scheduling::SlotRules;
use crate::{
    AccountId, Minutes, Price, ProviderId, ServiceId, ValidationError, WeeklyAvailability,
};

/// Limits from the contract.
pub mod limits {
    /// Longest service, minutes.
    pub const MAX_DURATION: u32 = 1440;
    /// Largest buffer or notice, minutes (one week).
    pub const MAX_BUFFER: u32 = 10080;
    /// Longest description, characters.
    pub const MAX_DESCRIPTION: usize = 5000;
    /// Largest slot interval, minutes.
    pub const MAX_SLOT_INTERVAL: u32 = 1440;
    /// Longest booking horizon, days.
    pub const MAX_BOOKING_HORIZON_DAYS: u32 = 3650;
    /// Largest daily cap on bookings.
    pub const MAX_BOOKINGS_PER_DAY: u32 = 1000;
    /// Fewest providers of a team service.
    pub const MIN_TEAM: usize = 2;
    /// Most providers of a team service.
    pub const MAX_TEAM: usize = 50;
    /// Largest customer cancel or reschedule cutoff, minutes (30 days).
    pub const MAX_CUTOFF: u32 = 43200;
    /// Most reminders of a service.
    pub const MAX_REMINDERS: usize = 5;
    /// Smallest reminder offset, minutes.
    pub const MIN_REMINDER: u32 = 5;
    /// Largest reminder offset, minutes (30 days).
    pub const MAX_REMINDER: u32 = 43200;
}

/// How a team service books its providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Assignment {
    /// One free provider per booking, chosen by [`crate::scheduling::assignment_order`].
    RoundRobin,
    /// Every provider at once: a slot needs all of them free.
    Collective,
}

impl Assignment {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Assignment::RoundRobin => "round_robin",
            Assignment::Collective => "collective",
        }
    }

    /// Parses a wire name; errors name `assignment`.
    pub fn parse(name: &str) -> Result<Assignment, ValidationError> {
        match name {
            "round_robin" => Ok(Assignment::RoundRobin),
            "collective" => Ok(Assignment::Collective),
            _ => Err(ValidationError::new(
                "assignment",
                "must be round_robin or collective",
            )),
        }
    }
}

/// The providers of a team service (2-50, distinct, in the caller's
/// order: the order breaks the last tie of round-robin assignment) and how
/// they are booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    providers: Vec<ProviderId>,
    /// Round robin or collective.
    pub assignment: Assignment,
}

impl Team {
    /// A team of 2-50 distinct providers; errors name `provider_ids`.
    pub fn new(
        providers: Vec<ProviderId>,
        assignment: Assignment,
    ) -> Result<Team, ValidationError> {
        if !(limits::MIN_TEAM..=limits::MAX_TEAM).contains(&providers.len()) {
            return Err(ValidationError::new(
                "provider_ids",
                "must name between 2 and 50 providers",
            ));
        }
        for (i, p) in providers.iter().enumerate() {
            if providers[..i].contains(p) {
                return Err(ValidationError::new(
                    "provider_ids",
                    format!("names {p} more than once"),
                ));
            }
        }
        Ok(Team {
            providers,
            assignment,
        })
    }

    /// The providers, in the order given (never empty).
    pub fn providers(&self) -> &[ProviderId] {
        &self.providers
    }
}

/// A bookable service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Id (`srv_…`), generated or chosen by the caller.
    pub id: ServiceId,
    /// Owning account.
    pub account_id: AccountId,
    /// The provider booked by this service (of a team service: the first
    /// of the team).
    pub provider_id: ProviderId,
    /// Several providers instead of one (`None`: only `provider_id`).
    pub team: Option<Team>,
    /// Name, 1-200 characters.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Length of one booking, 1-1440 minutes.
    pub duration: Minutes,
    /// Price.
    pub price: Price,
    /// Weekly hours.
    pub availability: WeeklyAvailability,
    /// Free time needed before each booking, 0-10080 minutes.
    pub buffer_before: Minutes,
    /// Free time needed after each booking, 0-10080 minutes.
    pub buffer_after: Minutes,
    /// How far ahead a booking must be made, 0-10080 minutes.
    pub minimum_notice: Minutes,
    /// Whether new bookings start `confirmed` instead of `pending`.
    pub auto_confirm: bool,
    /// Minutes between grid starts (1-1440); `None`: the duration.
    pub slot_interval: Option<Minutes>,
    /// Days ahead (1-3650) a booking may start: before `now + horizon`;
    /// `None`: no limit.
    pub booking_horizon: Option<u32>,
    /// Cap (1-1000) on active bookings of this service starting on one
    /// local day; `None`: no cap.
    pub max_bookings_per_day: Option<u32>,
    /// Minutes before the start after which the customer's link can no
    /// longer cancel (0-43200; 0: until the start).
    pub cancel_cutoff: Minutes,
    /// The same for rescheduling through the customer's link.
    pub reschedule_cutoff: Minutes,
    /// Offsets before the start at which `booking.reminder` is sent: at
    /// most 5 distinct values of 5-43200 minutes, ascending.
    pub reminders: Vec<Minutes>,
    /// Archived services keep their bookings but take no new ones.
    pub archived: bool,
    /// Creation instant.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Service {
    /// The scheduling rules of this service.
    pub fn slot_rules(&self) -> SlotRules<'_> {
        SlotRules {
            availability: &self.availability,
            duration: self.duration,
            buffer_before: self.buffer_before,
            buffer_after: self.buffer_after,
            minimum_notice: self.minimum_notice,
            slot_interval: self.slot_interval,
            booking_horizon: self.booking_horizon,
            max_bookings_per_day: self.max_bookings_per_day,
        }
    }

    /// Every provider the service books from: its team, or its provider.
    pub fn providers(&self) -> &[ProviderId] {
        match &self.team {
            Some(team) => team.providers(),
            None => std::slice::from_ref(&self.provider_id),
        }
    }

    /// How the service's providers are booked (`None`: one provider).
    pub fn assignment(&self) -> Option<Assignment> {
        self.team.as_ref().map(|t| t.assignment)
    }

    /// Sets the team (and `provider_id` to its first provider), or back to
    /// the one provider `single`.
    pub fn set_providers(&mut self, providers: ServiceProviders) {
        match providers {
            ServiceProviders::Single(p) => {
                self.provider_id = p;
                self.team = None;
            }
            ServiceProviders::Team(team) => {
                if let Some(first) = team.providers().first() {
                    self.provider_id = first.clone();
                }
                self.team = Some(team);
            }
        }
    }

    /// Applies a validated patch.
    pub fn apply(&mut self, patch: ServicePatch, now: Timestamp) {
        let ServicePatch {
            name,
            description,
            duration,
            price,
            availability,
            providers,
            buffer_before,
            buffer_after,
            minimum_notice,
            auto_confirm,
            slot_interval,
            booking_horizon,
            max_bookings_per_day,
            cancel_cutoff,
            reschedule_cutoff,
            reminders,
        } = patch;
        if let Some(v) = name {
            self.name = v;
        }
        if let Some(v) = description {
            self.description = v;
        }
        if let Some(v) = duration {
            self.duration = v;
        }
        if let Some(v) = price {
            self.price = v;
        }
        if let Some(v) = availability {
            self.availability = v;
        }
        if let Some(v) = providers {
            self.set_providers(v);
        }
        if let Some(v) = buffer_before {
            self.buffer_before = v;
        }
        if let Some(v) = buffer_after {
            self.buffer_after = v;
        }
        if let Some(v) = minimum_notice {
            self.minimum_notice = v;
        }
        if let Some(v) = auto_confirm {
            self.auto_confirm = v;
        }
        if let Some(v) = slot_interval {
            self.slot_interval = v;
        }
        if let Some(v) = booking_horizon {
            self.booking_horizon = v;
        }
        if let Some(v) = max_bookings_per_day {
            self.max_bookings_per_day = v;
        }
        if let Some(v) = cancel_cutoff {
            self.cancel_cutoff = v;
        }
        if let Some(v) = reschedule_cutoff {
            self.reschedule_cutoff = v;
        }
        if let Some(v) = reminders {
            self.reminders = v;
        }
        self.updated_at = now;
    }
}

/// Validates a service description (at most 5,000 characters).
pub fn validate_description(text: &str) -> Result<String, ValidationError> {
    if text.chars().count() > limits::MAX_DESCRIPTION {
        return Err(ValidationError::new(
            "description",
            "must be at most 5000 characters",
        ));
    }
    Ok(text.to_owned())
}

/// Validates a duration (1-1440 minutes).
pub fn validate_duration(value: i64) -> Result<Minutes, ValidationError> {
    Minutes::in_range(value, 1, limits::MAX_DURATION, "duration")
}

/// Validates a buffer or notice (0-10080 minutes).
pub fn validate_buffer(value: i64, field: &str) -> Result<Minutes, ValidationError> {
    Minutes::in_range(value, 0, limits::MAX_BUFFER, field)
}

/// Validates a slot interval (1-1440 minutes); errors name `slot_interval`.
pub fn validate_slot_interval(value: i64) -> Result<Minutes, ValidationError> {
    Minutes::in_range(value, 1, limits::MAX_SLOT_INTERVAL, "slot_interval")
}

/// Validates a booking horizon (1-3650 days); errors name `booking_horizon`.
pub fn validate_booking_horizon(value: i64) -> Result<u32, ValidationError> {
    count_in_range(
        value,
        limits::MAX_BOOKING_HORIZON_DAYS,
        "booking_horizon",
        "days",
    )
}

/// Validates a daily cap (1-1000 bookings); errors name `max_bookings_per_day`.
pub fn validate_max_bookings_per_day(value: i64) -> Result<u32, ValidationError> {
    count_in_range(
        value,
        limits::MAX_BOOKINGS_PER_DAY,
        "max_bookings_per_day",
        "bookings",
    )
}

/// Validates a customer cutoff (0-43200 minutes); errors name `field`.
pub fn validate_cutoff(value: i64, field: &str) -> Result<Minutes, ValidationError> {
    Minutes::in_range(value, 0, limits::MAX_CUTOFF, field)
}

/// Validates reminder offsets: at most 5, distinct, each 5-43200 minutes;
/// errors name `reminders`. The answer is ascending.
pub fn validate_reminders(values: &[i64]) -> Result<Vec<Minutes>, ValidationError> {
    if values.len() > limits::MAX_REMINDERS {
        return Err(ValidationError::new(
            "reminders",
            format!("must hold at most {} offsets", limits::MAX_REMINDERS),
        ));
    }
    let mut offsets = values
        .iter()
        .map(|v| Minutes::in_range(*v, limits::MIN_REMINDER, limits::MAX_REMINDER, "reminders"))
        .collect::<Result<Vec<_>, _>>()?;
    offsets.sort_unstable();
    if offsets.windows(2).any(|w| w[0] == w[1]) {
        return Err(ValidationError::new(
            "reminders",
            "offsets must be distinct",
        ));
    }
    Ok(offsets)
}

fn count_in_range(value: i64, max: u32, field: &str, unit: &str) -> Result<u32, ValidationError> {
    u32::try_from(value)
        .ok()
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| ValidationError::new(field, format!("must be between 1 and {max} {unit}")))
}

/// A new service, validated field by field by the caller's constructors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewService {
    /// Chosen id, or `None` to generate one.
    pub id: Option<ServiceId>,
    /// Provider, or `None` for the account's default provider.
    pub provider_id: Option<ProviderId>,
    /// A team instead of `provider_id` (the caller gives one or the other).
    pub team: Option<Team>,
    /// Name (see [`crate::validate_name`]).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Duration.
    pub duration: Minutes,
    /// Price.
    pub price: Price,
    /// Weekly hours.
    pub availability: WeeklyAvailability,
    /// Buffer before.
    pub buffer_before: Minutes,
    /// Buffer after.
    pub buffer_after: Minutes,
    /// Minimum notice.
    pub minimum_notice: Minutes,
    /// Auto-confirm.
    pub auto_confirm: bool,
    /// Slot interval (`None`: the duration).
    pub slot_interval: Option<Minutes>,
    /// Booking horizon in days (`None`: none).
    pub booking_horizon: Option<u32>,
    /// Daily cap (`None`: none).
    pub max_bookings_per_day: Option<u32>,
    /// Customer cancel cutoff.
    pub cancel_cutoff: Minutes,
    /// Customer reschedule cutoff.
    pub reschedule_cutoff: Minutes,
    /// Reminder offsets (see [`validate_reminders`]).
    pub reminders: Vec<Minutes>,
}

/// Who a service books: one provider, or a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceProviders {
    /// One provider.
    Single(ProviderId),
    /// Several.
    Team(Team),
}

/// Changes to a service; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePatch {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New duration.
    pub duration: Option<Minutes>,
    /// New price.
    pub price: Option<Price>,
    /// New weekly hours.
    pub availability: Option<WeeklyAvailability>,
    /// New provider or team.
    pub providers: Option<ServiceProviders>,
    /// New buffer before.
    pub buffer_before: Option<Minutes>,
    /// New buffer after.
    pub buffer_after: Option<Minutes>,
    /// New minimum notice.
    pub minimum_notice: Option<Minutes>,
    /// New auto-confirm.
    pub auto_confirm: Option<bool>,
    /// New slot interval (`Some(None)`: back to the duration).
    pub slot_interval: Option<Option<Minutes>>,
    /// New booking horizon (`Some(None)` removes it).
    pub booking_horizon: Option<Option<u32>>,
    /// New daily cap (`Some(None)` removes it).
    pub max_bookings_per_day: Option<Option<u32>>,
    /// New customer cancel cutoff.
    pub cancel_cutoff: Option<Minutes>,
    /// New customer reschedule cutoff.
    pub reschedule_cutoff: Option<Minutes>,
    /// New reminder offsets (`Some(vec![])` removes them).
    pub reminders: Option<Vec<Minutes>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_rules_are_range_checked() {
        assert_eq!(validate_slot_interval(30).map(Minutes::get), Ok(30));
        for bad in [0, 1441, -1] {
            assert_eq!(
                validate_slot_interval(bad).unwrap_err().field,
                "slot_interval"
            );
        }
        assert_eq!(validate_booking_horizon(3650), Ok(3650));
        for bad in [0, 3651, i64::MAX, -5] {
            assert_eq!(
                validate_booking_horizon(bad).unwrap_err().field,
                "booking_horizon"
            );
        }
        assert_eq!(
            validate_cutoff(43200, "cancel_cutoff").map(Minutes::get),
            Ok(43200)
        );
        for bad in [-1, 43201] {
            assert_eq!(
                validate_cutoff(bad, "reschedule_cutoff").unwrap_err().field,
                "reschedule_cutoff"
            );
        }
        assert_eq!(
            validate_reminders(&[1440, 5, 43200]).map(|v| v.iter().map(|m| m.get()).collect()),
            Ok(vec![5, 1440, 43200])
        );
        assert_eq!(validate_reminders(&[]), Ok(vec![]));
        for bad in [
            &[4][..],
            &[43201],
            &[-5],
            &[60, 60],
            &[5, 10, 15, 20, 25, 30],
        ] {
            assert_eq!(validate_reminders(bad).unwrap_err().field, "reminders");
        }
        assert_eq!(validate_max_bookings_per_day(1), Ok(1));
        for bad in [0, 1001] {
            assert_eq!(
                validate_max_bookings_per_day(bad).unwrap_err().field,
                "max_bookings_per_day"
            );
        }
    }
}
