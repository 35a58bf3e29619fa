//! The column values of each table and their conversions to and from the
//! domain. Instants are unix seconds, durations minutes, weekdays a bit mask.

use std::collections::BTreeMap;

use booking_domain::ports::StorageError;
use booking_domain::{
    AccountId, Actor, Assignment, Booking, BookingEvent, BookingId, BookingStatus, Customer, Email,
    EventId, EventKind, LocalTime, ManageLink, Metadata, Price, PriceType, Provider, ProviderId,
    Service, ServiceId, Team, Timezone, Weekday, WeeklyAvailability, Window, occupied_range,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::values::{
    corrupt, day_bits, days_from_bits, instant, minutes, minutes_i64, money, secs,
};
use crate::schema::JsonText;

// ---------------------------------------------------------------- providers

/// The columns of a `providers` row (without `seq`).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    diesel::Queryable,
    diesel::Selectable,
    diesel::Insertable,
    diesel::AsChangeset,
)]
#[diesel(table_name = crate::schema::providers, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct ProviderRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub email: Option<String>,
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ProviderRow {
    /// The columns for a provider.
    pub fn from_domain(p: &Provider) -> ProviderRow {
        ProviderRow {
            id: p.id.as_str().to_owned(),
            account_id: p.account_id.as_str().to_owned(),
            name: p.name.clone(),
            email: p.email.as_ref().map(|e| e.as_str().to_owned()),
            is_default: p.is_default,
            created_at: secs(p.created_at),
            updated_at: secs(p.updated_at),
        }
    }

    /// Rebuilds the provider.
    pub fn into_domain(self) -> Result<Provider, StorageError> {
        const T: &str = "providers";
        let id = self.id.as_str();
        let email = self
            .email
            .as_deref()
            .map(|e| Email::parse(e, "email"))
            .transpose()
            .map_err(|e| corrupt(T, id, e))?;
        Ok(Provider {
            created_at: instant(T, id, "created_at", self.created_at)?,
            updated_at: instant(T, id, "updated_at", self.updated_at)?,
            email,
            name: self.name,
            is_default: self.is_default,
            account_id: AccountId::from_trusted(self.account_id),
            id: ProviderId::from_trusted(self.id),
        })
    }
}

// ---------------------------------------------------------------- services

/// The columns of a `services` row (without `seq`).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    diesel::Queryable,
    diesel::Selectable,
    diesel::Insertable,
    diesel::AsChangeset,
)]
#[diesel(table_name = crate::schema::services, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct ServiceRow {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub name: String,
    pub description: Option<String>,
    pub duration_min: i64,
    pub price_minor: i64,
    pub currency: String,
    pub price_type: String,
    pub days: i64,
    pub start_min: i64,
    pub end_min: i64,
    pub timezone: String,
    pub buffer_before: i64,
    pub buffer_after: i64,
    pub minimum_notice: i64,
    pub auto_confirm: bool,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub hours: Option<JsonText>,
    pub slot_interval: Option<i64>,
    pub booking_horizon: Option<i64>,
    pub max_bookings_per_day: Option<i64>,
    /// A team's providers, comma-separated in team order (`None`: one).
    pub provider_ids: Option<String>,
    /// The team's assignment (`None`: one provider).
    pub assignment: Option<String>,
    pub cancel_cutoff: i64,
    pub reschedule_cutoff: i64,
    /// Reminder offsets in minutes, comma-separated ascending (`''`: none).
    pub reminders: String,
}

/// Provider ids as one column: comma-separated (ids never hold a comma).
pub fn join_ids(ids: &[ProviderId]) -> Option<String> {
    if ids.is_empty() {
        return None;
    }
    Some(
        ids.iter()
            .map(ProviderId::as_str)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// [`join_ids`] back.
fn split_ids(column: Option<&str>) -> Vec<ProviderId> {
    column
        .map(|c| {
            c.split(',')
                .map(|id| ProviderId::from_trusted(id.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The `services.hours` column: every weekly window (minutes of the day,
/// Monday first) and every date override. `NULL` when the seed's columns
/// (`days`, `start_min`, `end_min`) say everything: seed-shaped hours
/// without overrides.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoursColumn {
    weekly: Vec<Vec<(u16, u16)>>,
    overrides: Vec<(String, Vec<(u16, u16)>)>,
}

fn window_minutes(windows: &[Window]) -> Vec<(u16, u16)> {
    windows
        .iter()
        .map(|w| (w.start().minutes(), w.end().minutes()))
        .collect()
}

/// The `hours` column of `a` (`None` when the seed's columns suffice).
fn hours_column(a: &WeeklyAvailability) -> Option<JsonText> {
    if a.is_seed_shaped() && a.overrides().is_empty() {
        return None;
    }
    let column = HoursColumn {
        weekly: Weekday::ALL
            .iter()
            .map(|d| window_minutes(a.weekly_windows(*d)))
            .collect(),
        overrides: a
            .overrides()
            .iter()
            .map(|o| (o.date().to_string(), window_minutes(o.windows())))
            .collect(),
    };
    // Integers, dates and lists only: serialising cannot fail.
    serde_json::to_string(&column).ok().map(JsonText)
}

impl ServiceRow {
    /// The columns for a service.
    pub fn from_domain(s: &Service) -> ServiceRow {
        let a = &s.availability;
        ServiceRow {
            id: s.id.as_str().to_owned(),
            account_id: s.account_id.as_str().to_owned(),
            provider_id: s.provider_id.as_str().to_owned(),
            name: s.name.clone(),
            description: s.description.clone(),
            duration_min: minutes_i64(s.duration),
            price_minor: s.price.amount.minor(),
            currency: s.price.amount.currency().code().to_owned(),
            price_type: s.price.kind.name().to_owned(),
            days: day_bits(a.days()),
            start_min: i64::from(a.start().minutes()),
            end_min: i64::from(a.end().minutes()),
            timezone: a.timezone().name().to_owned(),
            buffer_before: minutes_i64(s.buffer_before),
            buffer_after: minutes_i64(s.buffer_after),
            minimum_notice: minutes_i64(s.minimum_notice),
            auto_confirm: s.auto_confirm,
            archived: s.archived,
            created_at: secs(s.created_at),
            updated_at: secs(s.updated_at),
            hours: hours_column(a),
            slot_interval: s.slot_interval.map(minutes_i64),
            booking_horizon: s.booking_horizon.map(i64::from),
            max_bookings_per_day: s.max_bookings_per_day.map(i64::from),
            provider_ids: s.team.as_ref().and_then(|t| join_ids(t.providers())),
            assignment: s.assignment().map(|a| a.name().to_owned()),
            cancel_cutoff: minutes_i64(s.cancel_cutoff),
            reschedule_cutoff: minutes_i64(s.reschedule_cutoff),
            reminders: s
                .reminders
                .iter()
                .map(|m| m.get().to_string())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Rebuilds the service.
    pub fn into_domain(self) -> Result<Service, StorageError> {
        const T: &str = "services";
        let id = self.id.as_str();
        let local = |field: &str, v: i64| {
            u16::try_from(v)
                .ok()
                .and_then(LocalTime::from_minutes)
                .ok_or_else(|| corrupt(T, id, format!("{field}: {v} is not a time of day")))
        };
        let timezone = Timezone::parse(&self.timezone).map_err(|e| corrupt(T, id, e))?;
        let availability = match &self.hours {
            None => {
                let days = days_from_bits(self.days)
                    .ok_or_else(|| corrupt(T, id, format!("days: bad bitmask {}", self.days)))?;
                WeeklyAvailability::new(
                    days,
                    local("start_min", self.start_min)?,
                    local("end_min", self.end_min)?,
                    timezone,
                )
                .map_err(|e| corrupt(T, id, e))?
            }
            Some(JsonText(text)) => {
                let column: HoursColumn = serde_json::from_str(text)
                    .map_err(|e| corrupt(T, id, format!("hours: {e}")))?;
                let windows = |list: &[(u16, u16)]| {
                    list.iter()
                        .map(|&(a, b)| {
                            LocalTime::from_minutes(a)
                                .zip(LocalTime::from_minutes(b))
                                .ok_or_else(|| {
                                    corrupt(T, id, format!("hours: {a}-{b} is not a window"))
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()
                };
                let weekly: Vec<Vec<(LocalTime, LocalTime)>> = column
                    .weekly
                    .iter()
                    .map(|day| windows(day))
                    .collect::<Result<_, _>>()?;
                let weekly: [Vec<(LocalTime, LocalTime)>; 7] = weekly
                    .try_into()
                    .map_err(|_| corrupt(T, id, "hours: weekly needs 7 days"))?;
                let overrides = column
                    .overrides
                    .iter()
                    .map(|(date, list)| {
                        let date: jiff::civil::Date = date
                            .parse()
                            .map_err(|e| corrupt(T, id, format!("hours: date {date}: {e}")))?;
                        Ok((date, windows(list)?))
                    })
                    .collect::<Result<Vec<_>, StorageError>>()?;
                WeeklyAvailability::weekly(weekly, timezone)
                    .and_then(|a| a.with_overrides(overrides))
                    .map_err(|e| corrupt(T, id, format!("hours: {e}")))?
            }
        };
        let optional = |field: &str, v: Option<i64>| {
            v.map(|v| {
                u32::try_from(v).map_err(|_| corrupt(T, id, format!("{field}: {v} out of range")))
            })
            .transpose()
        };
        let price = Price {
            amount: money(T, id, self.price_minor, &self.currency)?,
            kind: PriceType::parse(&self.price_type).map_err(|e| corrupt(T, id, e))?,
        };
        let team = match (&self.provider_ids, &self.assignment) {
            (None, None) => None,
            (Some(ids), Some(assignment)) => Some(
                Assignment::parse(assignment)
                    .and_then(|a| Team::new(split_ids(Some(ids)), a))
                    .map_err(|e| corrupt(T, id, format!("team: {e}")))?,
            ),
            _ => {
                return Err(corrupt(
                    T,
                    id,
                    "provider_ids and assignment: one without the other",
                ));
            }
        };
        Ok(Service {
            team,
            duration: minutes(T, id, "duration_min", self.duration_min)?,
            buffer_before: minutes(T, id, "buffer_before", self.buffer_before)?,
            buffer_after: minutes(T, id, "buffer_after", self.buffer_after)?,
            minimum_notice: minutes(T, id, "minimum_notice", self.minimum_notice)?,
            created_at: instant(T, id, "created_at", self.created_at)?,
            updated_at: instant(T, id, "updated_at", self.updated_at)?,
            price,
            availability,
            name: self.name,
            description: self.description,
            auto_confirm: self.auto_confirm,
            slot_interval: self
                .slot_interval
                .map(|v| minutes(T, id, "slot_interval", v))
                .transpose()?,
            booking_horizon: optional("booking_horizon", self.booking_horizon)?,
            max_bookings_per_day: optional("max_bookings_per_day", self.max_bookings_per_day)?,
            cancel_cutoff: minutes(T, id, "cancel_cutoff", self.cancel_cutoff)?,
            reschedule_cutoff: minutes(T, id, "reschedule_cutoff", self.reschedule_cutoff)?,
            reminders: reminders_column(&self.reminders)
                .ok_or_else(|| corrupt(T, id, format!("reminders `{}`", self.reminders)))?,
            archived: self.archived,
            account_id: AccountId::from_trusted(self.account_id),
            provider_id: ProviderId::from_trusted(self.provider_id),
            id: ServiceId::from_trusted(self.id),
        })
    }
}

// ---------------------------------------------------------------- bookings

/// A `bookings` row (without `seq`), and also the JSON snapshot of a booking
/// kept with each event (`events.booking`, what the webhooks worker sends;
/// both stores write this one shape). Instants are unix seconds; `end_at`
/// and the occupied range are derived from the booking when it is written.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    diesel::Queryable,
    diesel::Selectable,
    diesel::Insertable,
    diesel::AsChangeset,
)]
#[diesel(table_name = crate::schema::bookings, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct BookingRow {
    pub id: String,
    pub account_id: String,
    pub service_id: String,
    pub provider_id: String,
    pub duration_min: i64,
    pub scheduled_at: i64,
    pub end_at: i64,
    /// The start less the buffer before (derived).
    pub occupied_start: i64,
    /// The end plus the buffer after (derived).
    pub occupied_end: i64,
    pub buffer_before: i64,
    pub buffer_after: i64,
    pub status: String,
    pub customer_email: String,
    pub customer_name: String,
    /// Minor units of `currency`.
    pub price_minor: i64,
    pub currency: String,
    pub notes: Option<String>,
    /// A JSON object of strings (in a snapshot: the object itself).
    pub metadata: JsonText,
    pub cancel_reason: Option<String>,
    pub sequence: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Every provider of a collective booking, comma-separated, the row's
    /// own first (`None`: one provider). Absent from snapshots of bookings
    /// of one provider (and from older ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ids: Option<String>,
    /// The customer link's salt (in a snapshot too, so webhook bodies show
    /// the link; absent from snapshots written before links existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_salt: Option<String>,
    /// The SHA-256 of the link's token (the same in a snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_hash: Option<String>,
}

/// What separates a booking's id from a provider's in the id of a seat row.
pub const SEAT_MARK: char = '~';

/// The id of a collective booking's seat row for `provider`.
pub fn seat_id(booking: &str, provider: &str) -> String {
    format!("{booking}{SEAT_MARK}{provider}")
}

/// The booking id a row id stands for: a seat's booking, or the id itself.
pub fn booking_of(row_id: &str) -> &str {
    row_id.split(SEAT_MARK).next().unwrap_or(row_id)
}

impl BookingRow {
    /// The seat rows of a collective booking: the row once more for each
    /// provider but its first (empty for one provider).
    pub fn seats(&self) -> Vec<BookingRow> {
        split_ids(self.provider_ids.as_deref())
            .into_iter()
            .filter(|p| p.as_str() != self.provider_id)
            .map(|p| BookingRow {
                id: seat_id(&self.id, p.as_str()),
                provider_id: p.as_str().to_owned(),
                // The customer link opens the booking's own row only.
                link_salt: None,
                link_hash: None,
                ..self.clone()
            })
            .collect()
    }

    /// Every provider the booking occupies (seats included).
    pub fn providers(&self) -> Vec<String> {
        match &self.provider_ids {
            Some(ids) => ids.split(',').map(str::to_owned).collect(),
            None => vec![self.provider_id.clone()],
        }
    }

    /// The row (or snapshot) of a booking.
    pub fn from_domain(b: &Booking) -> Result<BookingRow, StorageError> {
        // Stored instants have second precision: derive the occupied range
        // from the stored start so both ends are whole seconds too.
        let start = Timestamp::from_second(secs(b.scheduled_at)).unwrap_or(b.scheduled_at);
        let occupied = occupied_range(start, b.duration, b.buffer_before, b.buffer_after);
        let metadata = serde_json::to_string(b.metadata.entries())
            .map_err(|e| StorageError::Internal(format!("booking metadata to JSON: {e}")))?;
        Ok(BookingRow {
            id: b.id.as_str().to_owned(),
            account_id: b.account_id.as_str().to_owned(),
            service_id: b.service_id.as_str().to_owned(),
            provider_id: b.provider_id.as_str().to_owned(),
            duration_min: minutes_i64(b.duration),
            scheduled_at: secs(b.scheduled_at),
            end_at: secs(b.end_at()),
            occupied_start: secs(occupied.start()),
            occupied_end: secs(occupied.end()),
            buffer_before: minutes_i64(b.buffer_before),
            buffer_after: minutes_i64(b.buffer_after),
            status: b.status.name().to_owned(),
            customer_email: b.customer.email.as_str().to_owned(),
            customer_name: b.customer.name.clone(),
            price_minor: b.price.minor(),
            currency: b.price.currency().code().to_owned(),
            notes: b.notes.clone(),
            metadata: JsonText(metadata),
            cancel_reason: b.cancel_reason.clone(),
            sequence: i64::from(b.sequence),
            created_at: secs(b.created_at),
            updated_at: secs(b.updated_at),
            provider_ids: join_ids(&b.provider_ids),
            link_salt: b.link.as_ref().map(|l| l.salt.clone()),
            link_hash: b.link.as_ref().map(|l| l.hash.clone()),
        })
    }

    /// Rebuilds the booking of a row.
    pub fn into_domain(self) -> Result<Booking, StorageError> {
        self.into_domain_from("bookings")
    }

    /// Rebuilds the booking; `table` names where the data came from in errors.
    pub fn into_domain_from(self, table: &str) -> Result<Booking, StorageError> {
        let id = self.id.as_str();
        let status = BookingStatus::parse(&self.status)
            .ok_or_else(|| corrupt(table, id, format!("unknown status `{}`", self.status)))?;
        let email = Email::parse(&self.customer_email, "customer.email")
            .map_err(|e| corrupt(table, id, e))?;
        let sequence = u32::try_from(self.sequence).map_err(|_| {
            corrupt(
                table,
                id,
                format!("sequence {} out of range", self.sequence),
            )
        })?;
        let metadata: BTreeMap<String, String> = serde_json::from_str(&self.metadata.0)
            .map_err(|e| corrupt(table, id, format!("metadata: {e}")))?;
        Ok(Booking {
            duration: minutes(table, id, "duration_min", self.duration_min)?,
            scheduled_at: instant(table, id, "scheduled_at", self.scheduled_at)?,
            buffer_before: minutes(table, id, "buffer_before", self.buffer_before)?,
            buffer_after: minutes(table, id, "buffer_after", self.buffer_after)?,
            price: money(table, id, self.price_minor, &self.currency)?,
            metadata: Metadata::new(metadata).map_err(|e| corrupt(table, id, e))?,
            created_at: instant(table, id, "created_at", self.created_at)?,
            updated_at: instant(table, id, "updated_at", self.updated_at)?,
            status,
            sequence,
            customer: Customer {
                email,
                name: self.customer_name,
            },
            notes: self.notes,
            cancel_reason: self.cancel_reason,
            link: match (self.link_salt, self.link_hash) {
                (Some(salt), Some(hash)) => Some(ManageLink { salt, hash }),
                (None, None) => None,
                _ => {
                    return Err(corrupt(
                        table,
                        id,
                        "a link salt without its hash or the reverse",
                    ));
                }
            },
            account_id: AccountId::from_trusted(self.account_id),
            service_id: ServiceId::from_trusted(self.service_id),
            // A seat row stands for its booking: the booking's id and first
            // provider.
            provider_id: split_ids(self.provider_ids.as_deref())
                .first()
                .cloned()
                .unwrap_or_else(|| ProviderId::from_trusted(self.provider_id)),
            provider_ids: split_ids(self.provider_ids.as_deref()),
            id: BookingId::from_trusted(booking_of(&self.id).to_owned()),
        })
    }
}

/// In a snapshot the metadata is the JSON object itself, not its text.
impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(|v| JsonText(v.to_string()))
    }
}

// ---------------------------------------------------------------- events

/// An `events` row (without `seq`); `booking` is the booking's snapshot
/// (a [`BookingRow`] as JSON).
#[derive(
    Debug, Clone, PartialEq, Eq, diesel::Queryable, diesel::Selectable, diesel::Insertable,
)]
#[diesel(table_name = crate::schema::events, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct EventRow {
    pub id: String,
    pub account_id: String,
    pub booking_id: String,
    pub kind: String,
    pub previous_scheduled_at: Option<i64>,
    pub created_at: i64,
    pub booking: JsonText,
    pub actor: String,
    /// `booking.reminder`'s offset in minutes.
    pub reminder_offset: Option<i64>,
}

impl EventRow {
    /// The row of an event, with its booking snapshot as JSON.
    pub fn from_domain(e: &BookingEvent) -> Result<EventRow, StorageError> {
        let booking =
            serde_json::to_string(&BookingRow::from_domain(&e.booking)?).map_err(|err| {
                StorageError::Internal(format!("event {} snapshot to JSON: {err}", e.id))
            })?;
        Ok(EventRow {
            id: e.id.as_str().to_owned(),
            account_id: e.account_id.as_str().to_owned(),
            booking_id: e.booking.id.as_str().to_owned(),
            kind: e.kind.name().to_owned(),
            previous_scheduled_at: e.previous_scheduled_at.map(secs),
            created_at: secs(e.created_at),
            booking: JsonText(booking),
            actor: e.actor.name().to_owned(),
            reminder_offset: e.reminder_offset.map(minutes_i64),
        })
    }

    /// Rebuilds the event and its booking snapshot.
    pub fn into_domain(self) -> Result<BookingEvent, StorageError> {
        const T: &str = "events";
        let id = self.id.as_str();
        let kind = EventKind::parse(&self.kind)
            .ok_or_else(|| corrupt(T, id, format!("unknown kind `{}`", self.kind)))?;
        let snapshot: BookingRow = serde_json::from_str(&self.booking.0)
            .map_err(|e| corrupt(T, id, format!("booking snapshot: {e}")))?;
        let booking = snapshot.into_domain_from("events.booking")?;
        let actor = Actor::parse(&self.actor)
            .ok_or_else(|| corrupt(T, id, format!("unknown actor `{}`", self.actor)))?;
        Ok(BookingEvent {
            kind,
            actor,
            booking,
            previous_scheduled_at: self
                .previous_scheduled_at
                .map(|s| instant(T, id, "previous_scheduled_at", s))
                .transpose()?,
            reminder_offset: self
                .reminder_offset
                .map(|m| minutes(T, id, "reminder_offset", m))
                .transpose()?,
            created_at: instant(T, id, "created_at", self.created_at)?,
            account_id: AccountId::from_trusted(self.account_id),
            id: EventId::from_trusted(self.id),
        })
    }
}

/// The reminder offsets of a `services.reminders` column (`None`: not a
/// valid list).
pub fn reminders_column(text: &str) -> Option<Vec<booking_domain::Minutes>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let values = text
        .split(',')
        .map(|v| v.parse::<i64>().ok())
        .collect::<Option<Vec<_>>>()?;
    booking_domain::validate_reminders(&values).ok()
}
