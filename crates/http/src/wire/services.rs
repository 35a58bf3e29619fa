//! Services: `/v1/services`, with their price and weekly hours.

use booking_domain::{
    Assignment, Currency, LocalTime, MAX_OVERRIDES, MAX_WINDOWS_PER_DAY, Money, NewService, Price,
    PriceType, ProviderId, Service, ServiceId, ServicePatch, ServiceProviders, Team, Timezone,
    ValidationError, Weekday, WeekdaySet, WeeklyAvailability, Window, validate_booking_horizon,
    validate_buffer, validate_cutoff, validate_description, validate_duration,
    validate_max_bookings_per_day, validate_name, validate_reminders, validate_slot_interval,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{
    double_option, fmt_ts, integral, list_type, money_json, opt_integral, parse_date, present,
    present_integral,
};

list_type!(ServiceList, ServiceOut);

/// Schema of a price type.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PriceKind {
    /// Per hour.
    Hourly,
    /// Per booking.
    Flat,
    /// Agreed case by case.
    Custom,
}

/// Schema of a day name.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DayName {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

/// A price.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceDto {
    /// Major units, at most the currency's minor digits (`150`, `149.99`).
    #[schema(value_type = f64, example = 150)]
    #[schema(minimum = 0)]
    pub amount: serde_json::Number,
    /// ISO 4217 code.
    #[schema(example = "USD")]
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// `hourly`, `flat` or `custom`.
    #[serde(rename = "type")]
    #[schema(value_type = PriceKind, example = "hourly")]
    pub kind: String,
}

impl PriceDto {
    fn try_into_domain(self) -> Result<Price, ValidationError> {
        let currency = Currency::parse(&self.currency)?;
        let amount = Money::from_decimal(&self.amount.to_string(), currency)?;
        let kind = PriceType::parse(&self.kind)?;
        Ok(Price { amount, kind })
    }

    fn from_domain(p: &Price) -> Self {
        PriceDto {
            amount: money_json(p.amount),
            currency: p.amount.currency().code().to_owned(),
            kind: p.kind.name().to_owned(),
        }
    }
}

/// Wall-clock hours.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursDto {
    /// `HH:MM`.
    #[schema(example = "09:00")]
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// `HH:MM`, `24:00` allowed.
    #[schema(example = "17:00")]
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub end: String,
}

/// Wall-clock windows of one day (at most 8, sorted, neither overlapping
/// nor touching; `[]`: closed).
type WindowsDto = Vec<HoursDto>;

/// The weekly form: windows per day; a day left out is closed.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyDto {
    /// Monday's windows.
    #[serde(default)]
    #[schema(value_type = Vec<HoursDto>, max_items = 8)]
    pub monday: WindowsDto,
    /// Tuesday's windows.
    #[serde(default)]
    #[schema(value_type = Vec<HoursDto>, max_items = 8)]
    pub tuesday: WindowsDto,
    /// Wednesday's windows.
    #[serde(default)]
    #[schema(value_type = Vec<HoursDto>, max_items = 8)]
    pub wednesday: WindowsDto,
    /// Thursday's windows.
    #[serde(default)]
    #[schema(value_type = Vec<HoursDto>, max_items = 8)]
    pub thursday: WindowsDto,
    /// Friday's windows.
    #[serde(default)]
    #[schema(value_type = Vec<HoursDto>, max_items = 8)]
    pub friday: WindowsDto,
    /// Saturday's windows.
    #[serde(default)]
    #[schema(value_type = Vec<HoursDto>, max_items = 8)]
    pub saturday: WindowsDto,
    /// Sunday's windows.
    #[serde(default)]
    #[schema(value_type = Vec<HoursDto>, max_items = 8)]
    pub sunday: WindowsDto,
}

impl WeeklyDto {
    fn days(self) -> [(Weekday, WindowsDto); 7] {
        [
            (Weekday::Monday, self.monday),
            (Weekday::Tuesday, self.tuesday),
            (Weekday::Wednesday, self.wednesday),
            (Weekday::Thursday, self.thursday),
            (Weekday::Friday, self.friday),
            (Weekday::Saturday, self.saturday),
            (Weekday::Sunday, self.sunday),
        ]
    }

    fn from_domain(a: &WeeklyAvailability) -> Self {
        let day = |d: Weekday| windows_out(a.weekly_windows(d));
        WeeklyDto {
            monday: day(Weekday::Monday),
            tuesday: day(Weekday::Tuesday),
            wednesday: day(Weekday::Wednesday),
            thursday: day(Weekday::Thursday),
            friday: day(Weekday::Friday),
            saturday: day(Weekday::Saturday),
            sunday: day(Weekday::Sunday),
        }
    }
}

/// A local date whose windows replace its weekday's.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideDto {
    /// `YYYY-MM-DD`, a local date in the service's zone.
    #[schema(example = "2026-12-25", format = Date)]
    pub date: String,
    /// That day's windows; `[]` closes it.
    #[schema(value_type = Vec<HoursDto>, max_items = 8)]
    pub hours: WindowsDto,
}

fn windows_out(windows: &[Window]) -> WindowsDto {
    windows
        .iter()
        .map(|w| HoursDto {
            start: w.start().to_string(),
            end: w.end().to_string(),
        })
        .collect()
}

/// Parses a list of windows; errors name `<field>[i].start` / `.end`.
fn windows_in(
    list: &[HoursDto],
    field: &str,
) -> Result<Vec<(LocalTime, LocalTime)>, ValidationError> {
    if list.len() > MAX_WINDOWS_PER_DAY {
        return Err(ValidationError::new(
            field,
            format!("at most {MAX_WINDOWS_PER_DAY} windows per day"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, w)| {
            Ok((
                LocalTime::parse(&w.start, &format!("{field}[{i}].start"))?,
                LocalTime::parse(&w.end, &format!("{field}[{i}].end"))?,
            ))
        })
        .collect()
}

/// Opening hours: the seed's form (`days` + `hours`: one window on each
/// listed day) or the weekly form (`weekly`: several windows per day),
/// exactly one of them, plus optional date overrides. Answers always carry
/// `weekly` and `overrides`, and also `days` + `hours` when every open
/// weekday has the same single window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityDto {
    /// Seed form: lowercase English day names (with `hours`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["monday", "tuesday", "wednesday", "thursday", "friday"]))]
    #[schema(value_type = Option<Vec<DayName>>, min_items = 1, max_items = 7, nullable = false)]
    pub days: Option<Vec<String>>,
    /// Seed form: the one window of each listed day (with `days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub hours: Option<HoursDto>,
    /// Weekly form: windows per day (instead of `days` + `hours`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub weekly: Option<WeeklyDto>,
    /// Date overrides (at most 500, unique dates), with either form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_items = 500)]
    pub overrides: Option<Vec<OverrideDto>>,
    /// IANA zone.
    #[schema(example = "America/New_York")]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
    )]
    pub timezone: String,
}

impl AvailabilityDto {
    fn try_into_domain(self) -> Result<WeeklyAvailability, ValidationError> {
        let within = |e: ValidationError| e.within("availability");
        let tz = Timezone::parse(&self.timezone).map_err(within)?;
        let hours = match (self.days, self.hours, self.weekly) {
            (Some(days), Some(hours), None) => {
                let days = WeekdaySet::parse(&days).map_err(within)?;
                let start = LocalTime::parse(&hours.start, "hours.start").map_err(within)?;
                let end = LocalTime::parse(&hours.end, "hours.end").map_err(within)?;
                WeeklyAvailability::new(days, start, end, tz).map_err(within)?
            }
            (None, None, Some(weekly)) => {
                let mut days: [Vec<(LocalTime, LocalTime)>; 7] = Default::default();
                for (day, list) in weekly.days() {
                    days[day.index()] =
                        windows_in(&list, &format!("weekly.{}", day.name())).map_err(within)?;
                }
                WeeklyAvailability::weekly(days, tz).map_err(within)?
            }
            (_, _, Some(_)) => {
                return Err(within(ValidationError::new(
                    "weekly",
                    "give either days + hours or weekly, not both",
                )));
            }
            (None, _, None) => {
                return Err(within(ValidationError::new(
                    "days",
                    "is required (with hours), unless weekly is given",
                )));
            }
            (Some(_), None, None) => {
                return Err(within(ValidationError::new(
                    "hours",
                    "is required with days",
                )));
            }
        };
        let Some(overrides) = self.overrides else {
            return Ok(hours);
        };
        if overrides.len() > MAX_OVERRIDES {
            return Err(within(ValidationError::new(
                "overrides",
                format!("at most {MAX_OVERRIDES} overrides"),
            )));
        }
        let overrides = overrides
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let date = parse_date(
                    &o.date,
                    &format!("overrides[{i}].date"),
                    "must be a date (YYYY-MM-DD)",
                )?;
                Ok((
                    date,
                    windows_in(&o.hours, &format!("overrides[{i}].hours"))?,
                ))
            })
            .collect::<Result<Vec<_>, ValidationError>>()
            .map_err(within)?;
        hours.with_overrides(overrides).map_err(within)
    }

    fn from_domain(a: &WeeklyAvailability) -> Self {
        let seed = a.seed_shape();
        AvailabilityDto {
            days: seed.map(|s| s.days.iter().map(|d| d.name().to_owned()).collect()),
            hours: seed.map(|s| HoursDto {
                start: s.start.to_string(),
                end: s.end.to_string(),
            }),
            weekly: Some(WeeklyDto::from_domain(a)),
            overrides: Some(
                a.overrides()
                    .iter()
                    .map(|o| OverrideDto {
                        date: o.date().to_string(),
                        hours: windows_out(o.windows()),
                    })
                    .collect(),
            ),
            timezone: a.timezone().name().to_owned(),
        }
    }
}

/// A service as returned: the seed's shape plus optional fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceOut {
    /// `srv_…`
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Minutes.
    pub duration: u32,
    /// Price.
    pub price: PriceDto,
    /// Weekly hours.
    pub availability: AvailabilityDto,
    /// Provider booked (of a team service: the first of `provider_ids`).
    pub provider_id: String,
    /// A team service's providers, in team order (absent for one provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_ids: Option<Vec<String>>,
    /// A team service's assignment (absent for one provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AssignmentName>)]
    pub assignment: Option<String>,
    /// Minutes of free time before each booking.
    pub buffer_before: u32,
    /// Minutes of free time after each booking.
    pub buffer_after: u32,
    /// Minutes of notice required.
    pub minimum_notice: u32,
    /// Whether bookings start confirmed.
    pub auto_confirm: bool,
    /// Minutes between slot starts (null: the duration).
    pub slot_interval: Option<u32>,
    /// Days ahead a booking may start (null: no limit).
    pub booking_horizon: Option<u32>,
    /// Most active bookings of the service starting on one local day (null:
    /// no cap).
    pub max_bookings_per_day: Option<u32>,
    /// Minutes before the start after which the customer's link can no
    /// longer cancel (0: until the start).
    pub cancel_cutoff: u32,
    /// Minutes before the start after which the customer's link can no
    /// longer reschedule (0: until the start).
    pub reschedule_cutoff: u32,
    /// Minutes before the start at which `booking.reminder` is sent,
    /// ascending (empty: none).
    #[schema(max_items = 5)]
    pub reminders: Vec<u32>,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Service> for ServiceOut {
    fn from(s: &Service) -> Self {
        ServiceOut {
            id: s.id.to_string(),
            name: s.name.clone(),
            description: s.description.clone(),
            duration: s.duration.get(),
            price: PriceDto::from_domain(&s.price),
            availability: AvailabilityDto::from_domain(&s.availability),
            provider_id: s.provider_id.to_string(),
            provider_ids: s
                .team
                .as_ref()
                .map(|t| t.providers().iter().map(ToString::to_string).collect()),
            assignment: s.assignment().map(|a| a.name().to_owned()),
            buffer_before: s.buffer_before.get(),
            buffer_after: s.buffer_after.get(),
            minimum_notice: s.minimum_notice.get(),
            auto_confirm: s.auto_confirm,
            slot_interval: s.slot_interval.map(|m| m.get()),
            booking_horizon: s.booking_horizon,
            max_bookings_per_day: s.max_bookings_per_day,
            cancel_cutoff: s.cancel_cutoff.get(),
            reschedule_cutoff: s.reschedule_cutoff.get(),
            reminders: s.reminders.iter().map(|m| m.get()).collect(),
            created_at: fmt_ts(s.created_at),
            updated_at: fmt_ts(s.updated_at),
        }
    }
}

/// `POST /v1/services` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    /// Optional chosen id: `^srv_[a-z0-9_]{1,64}$`.
    #[serde(default)]
    #[schema(pattern = "^srv_[a-z0-9_]{1,64}$")]
    pub id: Option<String>,
    /// 1-200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// Optional.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// 1-1440 minutes.
    #[serde(deserialize_with = "integral")]
    #[schema(minimum = 1, maximum = 1440)]
    pub duration: i64,
    /// Price.
    pub price: PriceDto,
    /// Weekly hours.
    pub availability: AvailabilityDto,
    /// Defaults to the account's default provider. Not with `provider_ids`.
    #[serde(default)]
    pub provider_id: Option<String>,
    /// A team instead of `provider_id`: 2-50 distinct providers of the
    /// account (the order breaks round-robin ties). Needs `assignment`.
    #[serde(default)]
    #[schema(min_items = 2, max_items = 50)]
    pub provider_ids: Option<Vec<String>>,
    /// How a team is booked: `round_robin` or `collective`; only with
    /// `provider_ids`.
    #[serde(default)]
    #[schema(value_type = Option<AssignmentName>)]
    pub assignment: Option<String>,
    /// 0-10080, default 0.
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 0, maximum = 10080)]
    pub buffer_before: i64,
    /// 0-10080, default 0.
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 0, maximum = 10080)]
    pub buffer_after: i64,
    /// 0-10080, default 0.
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 0, maximum = 10080)]
    pub minimum_notice: i64,
    /// Default false.
    #[serde(default)]
    pub auto_confirm: bool,
    /// Minutes between slot starts, 1-1440 (default: the duration).
    #[serde(default, deserialize_with = "opt_integral")]
    #[schema(minimum = 1, maximum = 1440)]
    pub slot_interval: Option<i64>,
    /// Days ahead a booking may start, 1-3650 (default: no limit).
    #[serde(default, deserialize_with = "opt_integral")]
    #[schema(minimum = 1, maximum = 3650)]
    pub booking_horizon: Option<i64>,
    /// Most active bookings starting on one local day, 1-1000 (default: no cap).
    #[serde(default, deserialize_with = "opt_integral")]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_bookings_per_day: Option<i64>,
    /// Minutes before the start after which the customer's link can no
    /// longer cancel, 0-43200, default 0 (until the start).
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 0, maximum = 43200)]
    pub cancel_cutoff: i64,
    /// The same for rescheduling, 0-43200, default 0.
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 0, maximum = 43200)]
    pub reschedule_cutoff: i64,
    /// Up to 5 distinct offsets in minutes before the start (each 5-43200)
    /// at which `booking.reminder` is sent; default none.
    #[serde(default, deserialize_with = "integral_list")]
    #[schema(value_type = std::collections::BTreeSet<ReminderOffset>, max_items = 5)]
    pub reminders: Vec<i64>,
}

/// A reminder offset: minutes before the start, 5-43200 (the schema of
/// `reminders`' items; the lists stay whole numbers, checked by
/// `validate_reminders`).
#[derive(ToSchema)]
#[schema(minimum = 5, maximum = 43200)]
pub struct ReminderOffset(pub i64);

/// A list of whole numbers (`60.0` is accepted as `60`, like single fields).
fn integral_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "integral")] i64);
    let values: Vec<Whole> = Deserialize::deserialize(d)?;
    Ok(values.into_iter().map(|w| w.0).collect())
}

/// An optional list of whole numbers.
fn opt_integral_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
    integral_list(d).map(Some)
}

fn provider_ref(id: &str) -> Result<ProviderId, ValidationError> {
    ProviderId::parse(id).ok_or_else(|| ValidationError::new("provider_id", "no such provider"))
}

/// Schema of an assignment.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentName {
    /// One free provider per booking.
    RoundRobin,
    /// Every provider at once.
    Collective,
}

/// The team of `provider_ids` + `assignment`, or `None` when neither is
/// given; exactly one of `provider_id` and `provider_ids` (when
/// `provider_id` is given).
fn team_of(
    provider_id: Option<&String>,
    provider_ids: Option<Vec<String>>,
    assignment: Option<String>,
) -> Result<Option<Team>, ValidationError> {
    match (provider_ids, assignment) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ValidationError::new("assignment", "only with provider_ids")),
        (Some(_), None) => Err(ValidationError::new(
            "assignment",
            "required with provider_ids: round_robin or collective",
        )),
        (Some(_), Some(_)) if provider_id.is_some() => Err(ValidationError::new(
            "provider_ids",
            "give either provider_id or provider_ids, not both",
        )),
        (Some(ids), Some(assignment)) => {
            let assignment = Assignment::parse(&assignment)?;
            let ids = ids
                .iter()
                .map(|id| {
                    ProviderId::parse(id).ok_or_else(|| {
                        ValidationError::new("provider_ids", format!("no such provider: {id}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Team::new(ids, assignment).map(Some)
        }
    }
}

impl CreateService {
    /// Validates every field.
    pub fn try_into_domain(self) -> Result<NewService, ValidationError> {
        let team = team_of(
            self.provider_id.as_ref(),
            self.provider_ids,
            self.assignment,
        )?;
        Ok(NewService {
            team,
            id: self.id.map(|id| ServiceId::chosen(&id)).transpose()?,
            name: validate_name(&self.name, "name")?,
            description: self
                .description
                .map(|d| validate_description(&d))
                .transpose()?,
            duration: validate_duration(self.duration)?,
            price: self.price.try_into_domain()?,
            availability: self.availability.try_into_domain()?,
            provider_id: self.provider_id.map(|p| provider_ref(&p)).transpose()?,
            buffer_before: validate_buffer(self.buffer_before, "buffer_before")?,
            buffer_after: validate_buffer(self.buffer_after, "buffer_after")?,
            minimum_notice: validate_buffer(self.minimum_notice, "minimum_notice")?,
            auto_confirm: self.auto_confirm,
            slot_interval: self.slot_interval.map(validate_slot_interval).transpose()?,
            booking_horizon: self
                .booking_horizon
                .map(validate_booking_horizon)
                .transpose()?,
            max_bookings_per_day: self
                .max_bookings_per_day
                .map(validate_max_bookings_per_day)
                .transpose()?,
            cancel_cutoff: validate_cutoff(self.cancel_cutoff, "cancel_cutoff")?,
            reschedule_cutoff: validate_cutoff(self.reschedule_cutoff, "reschedule_cutoff")?,
            reminders: validate_reminders(&self.reminders)?,
        })
    }
}

/// `PATCH /v1/services/{id}` body: any subset; `price` and `availability` are replaced whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    /// New name.
    #[serde(default, deserialize_with = "present")]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S", nullable = false)]
    pub name: Option<String>,
    /// New description, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New duration.
    #[serde(default, deserialize_with = "present_integral")]
    #[schema(minimum = 1, maximum = 1440, nullable = false)]
    pub duration: Option<i64>,
    /// New price.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub price: Option<PriceDto>,
    /// New weekly hours.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub availability: Option<AvailabilityDto>,
    /// New provider (a team service becomes a service of this one provider).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub provider_id: Option<String>,
    /// New team (2-50 distinct providers), given with `assignment`; not
    /// with `provider_id`.
    #[serde(default, deserialize_with = "present")]
    #[schema(min_items = 2, max_items = 50, nullable = false)]
    pub provider_ids: Option<Vec<String>>,
    /// New assignment, given with `provider_ids`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AssignmentName>, nullable = false)]
    pub assignment: Option<String>,
    /// New buffer before.
    #[serde(default, deserialize_with = "present_integral")]
    #[schema(minimum = 0, maximum = 10080, nullable = false)]
    pub buffer_before: Option<i64>,
    /// New buffer after.
    #[serde(default, deserialize_with = "present_integral")]
    #[schema(minimum = 0, maximum = 10080, nullable = false)]
    pub buffer_after: Option<i64>,
    /// New notice.
    #[serde(default, deserialize_with = "present_integral")]
    #[schema(minimum = 0, maximum = 10080, nullable = false)]
    pub minimum_notice: Option<i64>,
    /// New auto-confirm.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub auto_confirm: Option<bool>,
    /// New slot interval, or `null` for the duration.
    #[serde(default, deserialize_with = "double_opt_integral")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1440)]
    pub slot_interval: Option<Option<i64>>,
    /// New booking horizon in days, or `null` for none.
    #[serde(default, deserialize_with = "double_opt_integral")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    pub booking_horizon: Option<Option<i64>>,
    /// New daily cap, or `null` for none.
    #[serde(default, deserialize_with = "double_opt_integral")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub max_bookings_per_day: Option<Option<i64>>,
    /// New customer cancel cutoff, 0-43200 minutes.
    #[serde(default, deserialize_with = "present_integral")]
    #[schema(minimum = 0, maximum = 43200, nullable = false)]
    pub cancel_cutoff: Option<i64>,
    /// New customer reschedule cutoff, 0-43200 minutes.
    #[serde(default, deserialize_with = "present_integral")]
    #[schema(minimum = 0, maximum = 43200, nullable = false)]
    pub reschedule_cutoff: Option<i64>,
    /// New reminder offsets (replaced whole; `[]` removes them).
    #[serde(default, deserialize_with = "opt_integral_list")]
    #[schema(value_type = Option<std::collections::BTreeSet<ReminderOffset>>, max_items = 5, nullable = false)]
    pub reminders: Option<Vec<i64>>,
}

/// A field that may be absent (unchanged), `null` (cleared) or a whole
/// number.
fn double_opt_integral<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<i64>>, D::Error> {
    opt_integral(d).map(Some)
}

impl UpdateService {
    /// Validates every given field.
    pub fn try_into_domain(self) -> Result<ServicePatch, ValidationError> {
        let providers = match team_of(
            self.provider_id.as_ref(),
            self.provider_ids,
            self.assignment,
        )? {
            Some(team) => Some(ServiceProviders::Team(team)),
            None => self
                .provider_id
                .map(|p| provider_ref(&p).map(ServiceProviders::Single))
                .transpose()?,
        };
        Ok(ServicePatch {
            providers,
            name: self.name.map(|n| validate_name(&n, "name")).transpose()?,
            description: self
                .description
                .map(|d| d.map(|d| validate_description(&d)).transpose())
                .transpose()?,
            duration: self.duration.map(validate_duration).transpose()?,
            price: self.price.map(PriceDto::try_into_domain).transpose()?,
            availability: self
                .availability
                .map(AvailabilityDto::try_into_domain)
                .transpose()?,
            buffer_before: self
                .buffer_before
                .map(|v| validate_buffer(v, "buffer_before"))
                .transpose()?,
            buffer_after: self
                .buffer_after
                .map(|v| validate_buffer(v, "buffer_after"))
                .transpose()?,
            minimum_notice: self
                .minimum_notice
                .map(|v| validate_buffer(v, "minimum_notice"))
                .transpose()?,
            auto_confirm: self.auto_confirm,
            slot_interval: self
                .slot_interval
                .map(|v| v.map(validate_slot_interval).transpose())
                .transpose()?,
            booking_horizon: self
                .booking_horizon
                .map(|v| v.map(validate_booking_horizon).transpose())
                .transpose()?,
            max_bookings_per_day: self
                .max_bookings_per_day
                .map(|v| v.map(validate_max_bookings_per_day).transpose())
                .transpose()?,
            cancel_cutoff: self
                .cancel_cutoff
                .map(|v| validate_cutoff(v, "cancel_cutoff"))
                .transpose()?,
            reschedule_cutoff: self
                .reschedule_cutoff
                .map(|v| validate_cutoff(v, "reschedule_cutoff"))
                .transpose()?,
            reminders: self.reminders.map(|v| validate_reminders(&v)).transpose()?,
        })
    }
}
