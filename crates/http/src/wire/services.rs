//! Services: `/v1/services`, with their price and weekly hours.

use booking_domain::{
    Currency, LocalTime, Money, NewService, Price, PriceType, ProviderId, Service, ServiceId,
    ServicePatch, Timezone, ValidationError, WeekdaySet, WeeklyAvailability, validate_buffer,
    validate_description, validate_duration, validate_name,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{double_option, fmt_ts, integral, list_type, money_json, opt_integral};

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

/// Weekly availability.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityDto {
    /// Lowercase English day names.
    #[schema(example = json!(["monday", "tuesday", "wednesday", "thursday", "friday"]))]
    #[schema(value_type = Vec<DayName>, min_items = 1, max_items = 7)]
    pub days: Vec<String>,
    /// Opening hours.
    pub hours: HoursDto,
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
        let days = WeekdaySet::parse(&self.days).map_err(within)?;
        let start = LocalTime::parse(&self.hours.start, "hours.start").map_err(within)?;
        let end = LocalTime::parse(&self.hours.end, "hours.end").map_err(within)?;
        let tz = Timezone::parse(&self.timezone).map_err(within)?;
        WeeklyAvailability::new(days, start, end, tz).map_err(within)
    }

    fn from_domain(a: &WeeklyAvailability) -> Self {
        AvailabilityDto {
            days: a.days().iter().map(|d| d.name().to_owned()).collect(),
            hours: HoursDto {
                start: a.start().to_string(),
                end: a.end().to_string(),
            },
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
    /// Provider booked.
    pub provider_id: String,
    /// Minutes of free time before each booking.
    pub buffer_before: u32,
    /// Minutes of free time after each booking.
    pub buffer_after: u32,
    /// Minutes of notice required.
    pub minimum_notice: u32,
    /// Whether bookings start confirmed.
    pub auto_confirm: bool,
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
            buffer_before: s.buffer_before.get(),
            buffer_after: s.buffer_after.get(),
            minimum_notice: s.minimum_notice.get(),
            auto_confirm: s.auto_confirm,
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
    /// Defaults to the account's default provider.
    #[serde(default)]
    pub provider_id: Option<String>,
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
}

fn provider_ref(id: &str) -> Result<ProviderId, ValidationError> {
    ProviderId::parse(id).ok_or_else(|| ValidationError::new("provider_id", "no such provider"))
}

impl CreateService {
    /// Validates every field.
    pub fn try_into_domain(self) -> Result<NewService, ValidationError> {
        Ok(NewService {
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
            // Not on the wire yet (issue 14's HTTP part): the defaults.
            slot_interval: None,
            booking_horizon: None,
            max_bookings_per_day: None,
        })
    }
}

/// `PATCH /v1/services/{id}` body: any subset; `price` and `availability` are replaced whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    /// New name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// New description, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New duration.
    #[serde(default, deserialize_with = "opt_integral")]
    #[schema(minimum = 1, maximum = 1440)]
    pub duration: Option<i64>,
    /// New price.
    #[serde(default)]
    pub price: Option<PriceDto>,
    /// New weekly hours.
    #[serde(default)]
    pub availability: Option<AvailabilityDto>,
    /// New provider.
    #[serde(default)]
    pub provider_id: Option<String>,
    /// New buffer before.
    #[serde(default, deserialize_with = "opt_integral")]
    #[schema(minimum = 0, maximum = 10080)]
    pub buffer_before: Option<i64>,
    /// New buffer after.
    #[serde(default, deserialize_with = "opt_integral")]
    #[schema(minimum = 0, maximum = 10080)]
    pub buffer_after: Option<i64>,
    /// New notice.
    #[serde(default, deserialize_with = "opt_integral")]
    #[schema(minimum = 0, maximum = 10080)]
    pub minimum_notice: Option<i64>,
    /// New auto-confirm.
    #[serde(default)]
    pub auto_confirm: Option<bool>,
}

impl UpdateService {
    /// Validates every given field.
    pub fn try_into_domain(self) -> Result<ServicePatch, ValidationError> {
        Ok(ServicePatch {
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
            provider_id: self.provider_id.map(|p| provider_ref(&p)).transpose()?,
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
            // Not on the wire yet (issue 14's HTTP part): left unchanged.
            slot_interval: None,
            booking_horizon: None,
            max_bookings_per_day: None,
        })
    }
}
