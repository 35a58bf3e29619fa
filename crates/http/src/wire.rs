//! Wire types (DTOs): the JSON shapes of the contract, and their fallible
//! conversion into domain values (`try_into_domain`). Only this crate knows JSON.

pub mod text;

use std::collections::BTreeMap;

use booking_domain::usecases::{NewBooking, NewWebhook, SyncReport};
use booking_domain::{
    Booking, BookingEvent, CalendarConnection, CalendarSource, Currency, Customer, Delivery, Email,
    EventSet, LocalTime, Metadata, Money, NewService, OAuthCredentials, Price, PriceType, Provider,
    ProviderId, ProviderPatch, Service, ServiceId, ServicePatch, Timezone, ValidationError,
    WebhookEndpoint, WebhookPatch, WeekdaySet, WeeklyAvailability, validate_buffer,
    validate_description, validate_duration, validate_name, validate_notes,
    validate_webhook_description,
};
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// The 11 bytes `YYYY-MM-DDT` of a day counted from 1970-01-01, for years
/// 0-9999.
///
/// On the availability hot path, so it converts days to a civil date
/// arithmetically (H. Hinnant's algorithm) instead of going through a
/// general formatter, and allocates nothing.
fn date_bytes(days: i64) -> Option<[u8; 11]> {
    let z = days.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = *b"0000-00-00T";
    put_digits(&mut out[0..4], year);
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    Some(out)
}

/// The 9 bytes `HH:MM:SSZ` of a second of the day (0-86399).
fn time_bytes(second_of_day: i64) -> [u8; 9] {
    // The callers pass `rem_euclid(86_400)`, so each part is below 100.
    let pair = |v: i64| PAIRS[usize::try_from(v).unwrap_or(0) % 100];
    let [h1, h2] = pair(second_of_day / 3600);
    let [m1, m2] = pair(second_of_day / 60 % 60);
    let [s1, s2] = pair(second_of_day % 60);
    [h1, h2, b':', m1, m2, b':', s1, s2, b'Z']
}

/// Writes `value` (non-negative, fewer digits than `out` is long) as
/// zero-padded decimal digits filling `out`.
fn put_digits(out: &mut [u8], mut value: i64) {
    for digit in out.iter_mut().rev() {
        // value % 10 is a single decimal digit.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// `"00"` to `"99"`, for the time of day (four thousand per dense answer).
const PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        // i < 100: both digits fit.
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// The 20 bytes of `YYYY-MM-DDTHH:MM:SSZ` for an instant in years 0-9999.
fn ts_bytes(t: Timestamp) -> Option<[u8; 20]> {
    let secs = t.as_second();
    let date = date_bytes(secs.div_euclid(86_400))?;
    let time = time_bytes(secs.rem_euclid(86_400));
    let mut out = [0u8; 20];
    out[..11].copy_from_slice(&date);
    out[11..].copy_from_slice(&time);
    Some(out)
}

/// Writes instants as RFC 3339 UTC, remembering the last day's date: slots
/// come in order, so most share their date with the one before.
#[derive(Default)]
struct TsWriter {
    day: Option<(i64, [u8; 11])>,
}

impl TsWriter {
    /// Appends `t` as [`fmt_ts`] formats it.
    fn write(&mut self, out: &mut Vec<u8>, t: Timestamp) {
        let secs = t.as_second();
        let days = secs.div_euclid(86_400);
        let date = match self.day {
            Some((cached, date)) if cached == days => Some(date),
            _ => {
                let date = date_bytes(days);
                self.day = date.map(|d| (days, d));
                date
            }
        };
        match date {
            Some(date) => {
                out.extend_from_slice(&date);
                out.extend_from_slice(&time_bytes(secs.rem_euclid(86_400)));
            }
            None => out.extend_from_slice(fmt_ts(t).as_bytes()),
        }
    }
}

/// Formats an instant as RFC 3339 UTC with second precision (`2024-01-20T10:00:00Z`).
pub fn fmt_ts(t: Timestamp) -> String {
    match ts_bytes(t) {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

/// Serializes an instant like [`fmt_ts`] without allocating.
fn serialize_ts<S: serde::Serializer>(t: Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    match ts_bytes(t) {
        // The buffer holds ASCII digits and separators only.
        Some(bytes) => serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default()),
        None => serializer.serialize_str(&fmt_ts(t)),
    }
}

/// The error for text that is not an instant at all.
const NOT_AN_INSTANT: &str = "must be an RFC 3339 instant such as 2024-01-20T10:00:00Z";
/// RFC 3339 years have four digits, and the contract takes 1-9999.
const YEAR_RANGE: &str = "the year must be from 0001 to 9999 (four digits)";
/// The earliest instant taken: the first of year 1, UTC.
const EARLIEST: &str = "must be at or after 0001-01-01T00:00:00Z";
/// The latest instant the server can represent (jiff's `Timestamp::MAX`,
/// whole seconds); later instants of year 9999 are valid RFC 3339 but refused.
const LATEST: &str = "must be at or before 9999-12-30T22:00:00Z, the latest instant supported";
/// Offsets beyond a day less a minute are refused (RFC 3339 has `HH:MM`
/// offsets with `HH` 00-23; jiff alone would take up to ±25:59:59).
const MAX_OFFSET_SECS: u32 = 23 * 3600 + 59 * 60;

/// Whether `text` starts with a year outside 0001-9999 that jiff would
/// take: year 0, or the signed six-digit forms (`-000001`, `+002024`), which
/// are not RFC 3339 either.
fn year_out_of_range(text: &str) -> bool {
    text.starts_with(['+', '-']) || text.starts_with("0000")
}

/// Parses an RFC 3339 instant with any offset; `field` names it in errors.
///
/// The year is four digits, 0001-9999, and so is the instant's year in UTC;
/// the offset is at most ±23:59; instants after 9999-12-30T22:00:00Z (the
/// latest one represented) get a message saying so.
pub fn parse_ts(text: &str, field: &str) -> Result<Timestamp, ValidationError> {
    use jiff::fmt::temporal::Pieces;
    let invalid = |message: &str| ValidationError::new(field, message);
    if year_out_of_range(text) {
        return Err(invalid(YEAR_RANGE));
    }
    let pieces = Pieces::parse(text).map_err(|_| invalid(NOT_AN_INSTANT))?;
    let (Some(time), Some(offset)) = (pieces.time(), pieces.to_numeric_offset()) else {
        return Err(invalid(NOT_AN_INSTANT));
    };
    if offset.seconds().unsigned_abs() > MAX_OFFSET_SECS {
        return Err(invalid("the offset must be from -23:59 to +23:59"));
    }
    let instant = text.parse::<Timestamp>().map_err(|_| {
        // Every other shape was checked above: a local time whose instant
        // lies past the last one represented.
        let local = pieces.date().to_datetime(time);
        if local.date() >= jiff::civil::date(9999, 12, 30) {
            invalid(LATEST)
        } else {
            invalid(NOT_AN_INSTANT)
        }
    })?;
    if instant < earliest() {
        return Err(invalid(EARLIEST));
    }
    if instant.as_second() > Timestamp::MAX.as_second() {
        return Err(invalid(LATEST));
    }
    Ok(instant)
}

/// 0001-01-01T00:00:00Z.
fn earliest() -> Timestamp {
    // Seconds from 0001-01-01 to 1970-01-01: always in jiff's range.
    Timestamp::from_second(-62_135_596_800).unwrap_or(Timestamp::MIN)
}

/// Parses a calendar date `YYYY-MM-DD` with a year of 0001-9999; `field`
/// names it in errors, with `shape` as the message for other text.
pub fn parse_date(
    text: &str,
    field: &str,
    shape: &str,
) -> Result<jiff::civil::Date, ValidationError> {
    if year_out_of_range(text) {
        return Err(ValidationError::new(field, YEAR_RANGE));
    }
    text.parse::<jiff::civil::Date>()
        .map_err(|_| ValidationError::new(field, shape))
}

/// The URL as it is stored and called: parsed and normalised (the URL
/// parser's serialisation), refused with the reason when it is not an
/// absolute `http(s)` URL naming its host. The target rules (https, private
/// addresses) are the use case's, through the SSRF guard.
fn normalised_url(text: &str, field: &str) -> Result<String, ValidationError> {
    booking_netguard::parse_http_url(text)
        .map(String::from)
        .map_err(|e| ValidationError::new(field, e.to_string()))
}

/// Deserializes a field that may be absent (outer `None`) or `null` (inner `None`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn money_json(m: Money) -> serde_json::Number {
    let text = m.to_decimal_string();
    if let Ok(i) = text.parse::<i64>() {
        return i.into();
    }
    // Decimal text with at most 4 fraction digits: the shortest f64 repr prints it back exactly.
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .unwrap_or_else(|| 0.into())
}

/// Accepts a JSON number that is a whole number (`60` or `60.0`, both valid
/// JSON Schema integers), refusing fractions.
fn integral<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        // Whole and well inside i64, so the cast is exact.
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(f as i64),
        _ => Err(serde::de::Error::custom(
            "must be a whole number of minutes",
        )),
    }
}

/// [`integral`] for optional fields.
fn opt_integral<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "integral")] i64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

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

/// Schema of a booking status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatusName {
    /// Awaiting confirmation.
    Pending,
    /// Confirmed.
    Confirmed,
    /// Cancelled.
    Cancelled,
    /// Took place.
    Completed,
}

// ------------------------------------------------------------------ errors

/// The error body: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// One error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Machine-readable code: `BOOKING_CONFLICT`, `INVALID_SERVICE`,
    /// `RATE_LIMITED`, `UNAUTHORIZED`, `VALIDATION_ERROR`, `NOT_FOUND`,
    /// `INVALID_STATE`, `ALREADY_EXISTS`, `IDEMPOTENCY_KEY_REUSED`,
    /// `PAYLOAD_TOO_LARGE`, `METHOD_NOT_ALLOWED`, `INTERNAL`, `UNAVAILABLE`,
    /// `URI_TOO_LONG` (414), `REQUEST_HEADER_FIELDS_TOO_LARGE` (431)
    /// (new codes may be added).
    #[schema(example = "BOOKING_CONFLICT")]
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Code-specific details (`{}` when there are none).
    #[schema(value_type = ErrorDetails)]
    pub details: serde_json::Value,
}

/// The `details` of an error: which keys appear depends on the code, and
/// codes may add keys.
#[derive(Debug, ToSchema)]
pub struct ErrorDetails {
    /// VALIDATION_ERROR (and ALREADY_EXISTS, INVALID_SERVICE in a body,
    /// IDEMPOTENCY_KEY_REUSED): the field at fault: a dotted path in the body
    /// (`customer.email`), a query parameter (`from`), a header
    /// (`Idempotency-Key`), or `body` for malformed JSON.
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// BOOKING_CONFLICT: the requested start, RFC 3339 UTC.
    #[schema(nullable = false)]
    pub requested_time: Option<String>,
    /// BOOKING_CONFLICT: the first free slot at or after the requested time
    /// (searching 62 days ahead), or null when there is none.
    pub next_available: Option<String>,
    /// INVALID_STATE: the booking's current status.
    #[schema(value_type = Option<BookingStatusName>, nullable = false)]
    pub status: Option<String>,
    /// RATE_LIMITED: the limit as `<quota>/<seconds>s` (`10/60s`);
    /// PAYLOAD_TOO_LARGE: the largest body in bytes (`65536`).
    #[schema(schema_with = string_or_integer)]
    pub limit: Option<serde_json::Value>,
    /// RATE_LIMITED: seconds to wait (also in `Retry-After`).
    #[schema(nullable = false)]
    pub retry_after: Option<u64>,
    /// IDEMPOTENCY_KEY_REUSED: `true` when the key's first request is still
    /// running (retry after `Retry-After`).
    #[schema(nullable = false)]
    pub in_progress: Option<bool>,
    /// METHOD_NOT_ALLOWED: the methods the route answers (also in `Allow`).
    #[schema(nullable = false)]
    pub allow: Option<Vec<String>>,
}

fn string_or_integer() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(utoipa::openapi::Object::with_type(Type::String))
            .item(utoipa::openapi::Object::with_type(Type::Integer))
            .build(),
    )
}

// ------------------------------------------------------------------ lists

macro_rules! list_type {
    ($name:ident, $item:ty) => {
        /// A page of a collection.
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// The items, in a stable order.
            pub data: Vec<$item>,
            /// Pass as `cursor` for the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }
    };
}

list_type!(ProviderList, ProviderOut);
list_type!(ServiceList, ServiceOut);
list_type!(BookingList, BookingOut);
list_type!(WebhookList, WebhookOut);
list_type!(DeliveryList, DeliveryOut);

// ------------------------------------------------------------------ providers

/// A provider as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderOut {
    /// `prv_…`
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Whether services without a provider use this one.
    pub is_default: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

impl From<&Provider> for ProviderOut {
    fn from(p: &Provider) -> Self {
        ProviderOut {
            id: p.id.to_string(),
            name: p.name.clone(),
            email: p.email.as_ref().map(|e| e.to_string()),
            is_default: p.is_default,
            created_at: fmt_ts(p.created_at),
            updated_at: fmt_ts(p.updated_at),
        }
    }
}

/// `POST /v1/providers` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProvider {
    /// 1-200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// Optional email.
    #[serde(default)]
    #[schema(max_length = 254, pattern = "^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$")]
    pub email: Option<String>,
}

impl CreateProvider {
    /// Validates into name and email.
    pub fn try_into_domain(self) -> Result<(String, Option<Email>), ValidationError> {
        let name = validate_name(&self.name, "name")?;
        let email = self.email.map(|e| Email::parse(&e, "email")).transpose()?;
        Ok((name, email))
    }
}

/// `PATCH /v1/providers/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProvider {
    /// New name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// New email, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 254, pattern = "^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$")]
    pub email: Option<Option<String>>,
}

impl UpdateProvider {
    /// Validates into a patch.
    pub fn try_into_domain(self) -> Result<ProviderPatch, ValidationError> {
        Ok(ProviderPatch {
            name: self.name.map(|n| validate_name(&n, "name")).transpose()?,
            email: self
                .email
                .map(|e| e.map(|e| Email::parse(&e, "email")).transpose())
                .transpose()?,
        })
    }
}

// ------------------------------------------------------------------ services

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
    pub created_at: String,
    /// RFC 3339 UTC.
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
        })
    }
}

// ------------------------------------------------------------------ availability

/// One slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotOut {
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC.
    pub end: String,
}

/// Slots as the API returns them, serialized straight from the domain's
/// slots (no intermediate strings: an answer can hold thousands).
#[derive(Debug)]
pub struct Slots(pub Vec<booking_domain::scheduling::Slot>);

impl Serialize for Slots {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Ts(Timestamp);
        impl Serialize for Ts {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serialize_ts(self.0, s)
            }
        }
        struct One<'a>(&'a booking_domain::scheduling::Slot);
        impl Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("start", &Ts(self.0.start))?;
                map.serialize_entry("end", &Ts(self.0.end))?;
                map.end()
            }
        }
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for slot in &self.0 {
            seq.serialize_element(&One(slot))?;
        }
        seq.end()
    }
}

/// `GET /v1/services/{id}/availability` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityOut {
    /// The service.
    pub service_id: String,
    /// Its IANA zone.
    pub timezone: String,
    /// Free slots, ascending.
    #[schema(value_type = Vec<SlotOut>)]
    pub slots: Slots,
}

impl AvailabilityOut {
    /// The answer as JSON: the bytes `serde_json` writes for it, produced
    /// directly. Slots are fixed-shape ASCII and an answer can hold
    /// thousands, so they are appended without the serializer's per-string
    /// escaping scan, with each slot's date formatted once per day.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let slots = &self.slots.0;
        let mut out = Vec::with_capacity(96 + slots.len() * 56);
        out.extend_from_slice(b"{\"service_id\":");
        serde_json::to_writer(&mut out, &self.service_id)?;
        out.extend_from_slice(b",\"timezone\":");
        serde_json::to_writer(&mut out, &self.timezone)?;
        out.extend_from_slice(b",\"slots\":[");
        let mut ts = TsWriter::default();
        for (i, slot) in slots.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"start\":\"");
            ts.write(&mut out, slot.start);
            out.extend_from_slice(b"\",\"end\":\"");
            ts.write(&mut out, slot.end);
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }
}

// ------------------------------------------------------------------ bookings

/// The customer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerDto {
    /// Email.
    #[schema(example = "customer@example.com")]
    #[schema(max_length = 254, pattern = "^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$")]
    pub email: String,
    /// Name.
    #[schema(example = "John Doe")]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
}

/// `POST /v1/bookings` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBooking {
    /// Service id.
    #[schema(example = "srv_consultation")]
    pub service: String,
    /// RFC 3339, whole minute.
    #[schema(example = "2024-01-22T14:00:00Z")]
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00(\\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub scheduled_at: String,
    /// Who books.
    pub customer: CustomerDto,
    /// Optional notes.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub notes: Option<String>,
    /// Optional string map.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl CreateBooking {
    /// Validates every field.
    pub fn try_into_domain(self) -> Result<NewBooking, ValidationError> {
        let scheduled_at = parse_ts(&self.scheduled_at, "scheduled_at")?;
        let customer = Customer {
            email: Email::parse(&self.customer.email, "customer.email")?,
            name: validate_name(&self.customer.name, "customer.name")?,
        };
        Ok(NewBooking {
            service: self.service,
            scheduled_at,
            customer,
            notes: self.notes.map(|n| validate_notes(&n)).transpose()?,
            metadata: Metadata::new(self.metadata.unwrap_or_default())?,
        })
    }
}

/// `POST /v1/bookings/{id}/cancel` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBooking {
    /// Why (up to 1,000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

impl CancelBooking {
    /// Validates the reason.
    pub fn try_into_domain(self) -> Result<Option<String>, ValidationError> {
        match self.reason {
            Some(r) if r.chars().count() > 1000 => Err(ValidationError::new(
                "reason",
                "must be at most 1000 characters",
            )),
            other => Ok(other),
        }
    }
}

/// `POST /v1/bookings/{id}/reschedule` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleBooking {
    /// New start, RFC 3339, whole minute.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00(\\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub scheduled_at: String,
}

/// A booking's price.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingPrice {
    /// Major units.
    #[schema(value_type = f64)]
    pub amount: serde_json::Number,
    /// ISO 4217.
    pub currency: String,
}

/// A booking as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingOut {
    /// `bk_…`
    pub id: String,
    /// Service id.
    pub service: String,
    /// Provider id.
    pub provider_id: String,
    /// Minutes, copied from the service.
    pub duration: u32,
    /// RFC 3339 UTC.
    pub scheduled_at: String,
    /// RFC 3339 UTC.
    pub end_at: String,
    /// `pending`, `confirmed`, `cancelled` or `completed`.
    #[schema(value_type = BookingStatusName)]
    pub status: String,
    /// Who booked.
    pub customer: CustomerDto,
    /// Price at booking time.
    pub price: BookingPrice,
    /// Notes.
    pub notes: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

impl From<&Booking> for BookingOut {
    fn from(b: &Booking) -> Self {
        BookingOut {
            id: b.id.to_string(),
            service: b.service_id.to_string(),
            provider_id: b.provider_id.to_string(),
            duration: b.duration.get(),
            scheduled_at: fmt_ts(b.scheduled_at),
            end_at: fmt_ts(b.end_at()),
            status: b.status.name().to_owned(),
            customer: CustomerDto {
                email: b.customer.email.to_string(),
                name: b.customer.name.clone(),
            },
            price: BookingPrice {
                amount: money_json(b.price),
                currency: b.price.currency().code().to_owned(),
            },
            notes: b.notes.clone(),
            metadata: b.metadata.entries().clone(),
            cancel_reason: b.cancel_reason.clone(),
            created_at: fmt_ts(b.created_at),
            updated_at: fmt_ts(b.updated_at),
        }
    }
}

// ------------------------------------------------------------------ webhooks

/// `POST /v1/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://…` (or `http://` where the operator allows private targets).
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = "^https://[^\\s/?#@]+[^\\s]*$"
    )]
    pub url: String,
    /// Event kinds to receive; all five when absent.
    #[serde(default)]
    #[schema(min_items = 1, example = json!(["booking.created", "booking.cancelled"]))]
    pub events: Option<Vec<String>>,
    /// Up to 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

impl CreateWebhook {
    /// Validates the fields (the URL's target is checked by the use case).
    pub fn try_into_domain(self) -> Result<NewWebhook, ValidationError> {
        Ok(NewWebhook {
            url: normalised_url(&self.url, "url")?,
            events: self
                .events
                .map(|e| EventSet::parse(e.iter().map(String::as_str), "events"))
                .transpose()?,
            description: self
                .description
                .map(|d| validate_webhook_description(&d))
                .transpose()?,
        })
    }
}

/// `PATCH /v1/webhooks/{id}` body: any subset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    /// New URL.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = "^https://[^\\s/?#@]+[^\\s]*$"
    )]
    pub url: Option<String>,
    /// New event kinds.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub events: Option<Vec<String>>,
    /// Enable or disable (disabled endpoints get no new deliveries; queued
    /// ones wait).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New description, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
}

impl UpdateWebhook {
    /// Validates every given field.
    pub fn try_into_domain(self) -> Result<WebhookPatch, ValidationError> {
        Ok(WebhookPatch {
            url: self.url.map(|u| normalised_url(&u, "url")).transpose()?,
            events: self
                .events
                .map(|e| EventSet::parse(e.iter().map(String::as_str), "events"))
                .transpose()?,
            enabled: self.enabled,
            description: self
                .description
                .map(|d| d.map(|d| validate_webhook_description(&d)).transpose())
                .transpose()?,
        })
    }
}

/// A webhook endpoint as returned (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    /// `wh_…`
    pub id: String,
    /// Target URL.
    pub url: String,
    /// Event kinds it receives.
    pub events: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether it receives events.
    pub enabled: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<&WebhookEndpoint> for WebhookOut {
    fn from(e: &WebhookEndpoint) -> Self {
        WebhookOut {
            id: e.id.to_string(),
            url: e.url.clone(),
            events: e.events.iter().map(|k| k.name().to_owned()).collect(),
            description: e.description.clone(),
            enabled: e.enabled,
            created_at: fmt_ts(e.created_at),
        }
    }
}

/// A webhook endpoint with its signing secret: only in the answers to
/// creation and to secret rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookOut,
    /// `whsec_…`: base64 of 32 random bytes. Shown only here.
    pub secret: String,
}

impl From<&WebhookEndpoint> for WebhookWithSecret {
    fn from(e: &WebhookEndpoint) -> Self {
        WebhookWithSecret {
            endpoint: WebhookOut::from(e),
            secret: e.secret.clone(),
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    /// When it started, RFC 3339 UTC.
    pub at: String,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed without an answer.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// `whd_…`
    pub id: String,
    /// The event (`webhook-id`).
    pub event_id: String,
    /// Its kind (`booking.created`, …).
    pub event: String,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<String>,
    /// Attempts, oldest first (the latest 100).
    pub attempts: Vec<AttemptOut>,
    /// When it was queued.
    pub created_at: String,
}

impl From<&Delivery> for DeliveryOut {
    fn from(d: &Delivery) -> Self {
        DeliveryOut {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event: d.event.name().to_owned(),
            state: d.state.name().to_owned(),
            next_attempt_at: d.next_attempt_at.map(fmt_ts),
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptOut {
                    at: fmt_ts(a.at),
                    status_code: a.status_code,
                    error: a.error.clone(),
                    duration_ms: a.duration_ms,
                })
                .collect(),
            created_at: fmt_ts(d.created_at),
        }
    }
}

/// The booking in a webhook body: as the API returns it, plus the start
/// before the change on `booking.rescheduled`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookBooking {
    /// The booking.
    #[serde(flatten)]
    pub booking: BookingOut,
    /// On `booking.rescheduled` only: the start before the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_scheduled_at: Option<String>,
}

/// The JSON body posted to webhook endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookPayload {
    /// `evt_…`, also the `webhook-id` header: the same on every retry.
    pub id: String,
    /// `booking.created`, `booking.confirmed`, `booking.cancelled`,
    /// `booking.rescheduled` or `booking.completed`.
    pub event: String,
    /// When the event happened, RFC 3339 UTC.
    pub created_at: String,
    /// The booking right after the change.
    pub data: WebhookBooking,
}

impl From<&BookingEvent> for WebhookPayload {
    fn from(e: &BookingEvent) -> Self {
        WebhookPayload {
            id: e.id.to_string(),
            event: e.kind.name().to_owned(),
            created_at: fmt_ts(e.created_at),
            data: WebhookBooking {
                booking: BookingOut::from(&e.booking),
                previous_scheduled_at: e.previous_scheduled_at.map(fmt_ts),
            },
        }
    }
}

/// The body posted for an event: the same bytes for every attempt.
pub fn webhook_body(event: &BookingEvent) -> Vec<u8> {
    // Serializing plain strings, numbers and maps cannot fail.
    serde_json::to_vec(&WebhookPayload::from(event)).unwrap_or_default()
}

/// A provider's private calendar feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedUrl {
    /// `https://…/calendar/feed/<token>.ics` under `BOOKING_PUBLIC_URL`:
    /// paste into Google Calendar or Outlook on the web ("subscribe from URL").
    pub url: String,
    /// The same feed as `webcal://…` (opens Apple Calendar and Outlook for
    /// desktop directly).
    pub webcal_url: String,
}

// ------------------------------------------------------------------ external calendars

/// OAuth credentials of a connection (never echoed back).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsDto {
    /// A bearer token (a Calendly personal access token is one).
    #[serde(default)]
    pub access_token: Option<String>,
    /// A refresh token, with `client_id` and `client_secret`.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The OAuth client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The OAuth client secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// When `access_token` expires, RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl CredentialsDto {
    fn try_into_domain(self) -> Result<OAuthCredentials, ValidationError> {
        Ok(OAuthCredentials {
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            client_id: self.client_id,
            client_secret: self.client_secret,
            expires_at: self
                .expires_at
                .map(|t| parse_ts(&t, "credentials.expires_at"))
                .transpose()?,
        })
    }
}

/// `POST /v1/providers/{id}/calendars` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCalendar {
    /// `ics`, `google`, `outlook` or `calendly`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(ics|google|outlook|calendly)$")]
    pub kind: String,
    /// For `ics`: the calendar's URL (`https://` or `webcal://`).
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// For `google`: `primary` or the calendar's address.
    #[serde(default)]
    pub calendar_id: Option<String>,
    /// For `google`, `outlook`, `calendly`.
    #[serde(default)]
    pub credentials: Option<CredentialsDto>,
}

impl CreateCalendar {
    /// Checks the fields the kind needs.
    pub fn try_into_domain(self) -> Result<CalendarSource, ValidationError> {
        let missing = |field: &str| ValidationError::new(field, "is required for this type");
        let refuse = |field: &str, present: bool| {
            if present {
                Err(ValidationError::new(field, "is not used by this type"))
            } else {
                Ok(())
            }
        };
        let credentials =
            |c: Option<CredentialsDto>| c.ok_or_else(|| missing("credentials"))?.try_into_domain();
        match self.kind.as_str() {
            "ics" => {
                refuse("calendar_id", self.calendar_id.is_some())?;
                refuse("credentials", self.credentials.is_some())?;
                let url = self.url.ok_or_else(|| missing("url"))?;
                // Apple hands out webcal:// links; they are https.
                let url = match url
                    .strip_prefix("webcal://")
                    .or_else(|| url.strip_prefix("webcals://"))
                {
                    Some(rest) => format!("https://{rest}"),
                    None => url,
                };
                Ok(CalendarSource::Ics {
                    url: normalised_url(&url, "url")?,
                })
            }
            "google" => {
                refuse("url", self.url.is_some())?;
                Ok(CalendarSource::Google {
                    calendar_id: self.calendar_id.ok_or_else(|| missing("calendar_id"))?,
                    credentials: credentials(self.credentials)?,
                })
            }
            "outlook" | "calendly" => {
                refuse("url", self.url.is_some())?;
                refuse("calendar_id", self.calendar_id.is_some())?;
                let credentials = credentials(self.credentials)?;
                Ok(if self.kind == "outlook" {
                    CalendarSource::Outlook { credentials }
                } else {
                    CalendarSource::Calendly { credentials }
                })
            }
            _ => Err(ValidationError::new(
                "type",
                "must be one of ics, google, outlook, calendly",
            )),
        }
    }
}

/// An external calendar connection as returned (never with credentials or
/// the ICS URL, which may carry a secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarOut {
    /// `cal_…`
    pub id: String,
    /// `ics`, `google`, `outlook` or `calendly`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `synced` or `error`.
    pub status: String,
    /// When the last successful sync finished, RFC 3339.
    pub last_synced_at: Option<String>,
    /// Why the last sync failed (the blocks of the last good one stay).
    pub last_error: Option<String>,
    /// When it failed, RFC 3339.
    pub last_error_at: Option<String>,
    /// Busy blocks from the last good sync.
    pub busy_blocks: u32,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&CalendarConnection> for CalendarOut {
    fn from(c: &CalendarConnection) -> Self {
        CalendarOut {
            id: c.id.to_string(),
            kind: c.source.kind().to_owned(),
            status: c.status.name().to_owned(),
            last_synced_at: c.last_synced_at.map(fmt_ts),
            last_error: c.last_error.clone(),
            last_error_at: c.last_error_at.map(fmt_ts),
            busy_blocks: c.busy_blocks,
            created_at: fmt_ts(c.created_at),
        }
    }
}

/// A provider's connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarList {
    /// In creation order.
    pub data: Vec<CalendarOut>,
}

/// One connection's sync result.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncOut {
    /// `cal_…`
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `synced` or `error`.
    pub status: String,
    /// Busy blocks stored (the previous ones after an error).
    pub busy_blocks: u32,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<&SyncReport> for SyncOut {
    fn from(r: &SyncReport) -> Self {
        SyncOut {
            id: r.id.to_string(),
            kind: r.kind.to_owned(),
            status: r.status.name().to_owned(),
            busy_blocks: r.busy_blocks,
            error: r.error.clone(),
        }
    }
}

/// `POST /v1/calendar/sync` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncList {
    /// One entry per connection of the account.
    pub data: Vec<SyncOut>,
}

/// Health answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok`, or `unavailable`.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_json_is_what_serde_writes() {
        use booking_domain::scheduling::Slot;
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let slot = |a: &str, b: &str| Slot {
            start: t(a),
            end: t(b),
        };
        for slots in [
            vec![],
            vec![
                slot("0000-01-01T00:00:00Z", "0000-01-01T00:15:00Z"),
                slot("1999-12-31T23:45:00Z", "2000-01-01T00:00:00Z"),
                slot("2000-01-01T00:00:00Z", "2000-01-01T00:15:00Z"),
                slot("2024-02-29T23:59:59Z", "2024-03-01T00:00:59Z"),
                slot("2024-03-10T06:59:00Z", "2024-03-10T07:59:00Z"),
                slot("9999-12-30T21:00:00Z", "9999-12-30T21:59:59Z"),
            ],
            // Outside 0-9999: the general formatter.
            vec![Slot {
                start: Timestamp::MIN,
                end: Timestamp::MAX,
            }],
        ] {
            let out = AvailabilityOut {
                service_id: "srv_\"quoted\"\u{e9}".into(),
                timezone: "America/New_York".into(),
                slots: Slots(slots),
            };
            let direct = out.to_json().unwrap();
            let serde = serde_json::to_vec(&out).unwrap();
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                String::from_utf8(serde).unwrap()
            );
        }
    }

    #[test]
    fn integer_fields_take_whole_numbers_written_as_floats() {
        let base = serde_json::json!({
            "name": "S", "duration": 60.0, "buffer_after": 15,
            "price": {"amount": 1, "currency": "USD", "type": "flat"},
            "availability": {"days": ["monday"], "hours": {"start": "09:00", "end": "17:00"}, "timezone": "UTC"}
        });
        let parsed: CreateService = serde_json::from_value(base.clone()).unwrap();
        assert_eq!(
            (parsed.duration, parsed.buffer_after, parsed.buffer_before),
            (60, 15, 0)
        );
        let mut fractional = base.clone();
        fractional["duration"] = serde_json::json!(60.5);
        assert!(serde_json::from_value::<CreateService>(fractional).is_err());
        let patch: UpdateService =
            serde_json::from_value(serde_json::json!({"minimum_notice": 30.0})).unwrap();
        assert_eq!(patch.minimum_notice, Some(30));
        let empty: UpdateService = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(empty.minimum_notice, None);
    }

    #[test]
    fn instants_are_rfc_3339_in_years_1_to_9999_with_offsets_within_a_day() {
        let ok = |text: &str| parse_ts(text, "at").map(fmt_ts);
        let err = |text: &str| parse_ts(text, "at").unwrap_err().message;
        assert_eq!(ok("2024-01-20T10:00:00Z").unwrap(), "2024-01-20T10:00:00Z");
        assert_eq!(
            ok("2024-01-20T10:00:00+23:59").unwrap(),
            "2024-01-19T10:01:00Z"
        );
        assert_eq!(
            ok("2024-01-20T10:00:00-23:59").unwrap(),
            "2024-01-21T09:59:00Z"
        );
        assert_eq!(ok("0001-01-01T00:00:00Z").unwrap(), "0001-01-01T00:00:00Z");
        assert_eq!(ok("9999-12-30T22:00:00Z").unwrap(), "9999-12-30T22:00:00Z");
        assert_eq!(
            ok("9999-12-31T03:00:00+05:00").unwrap(),
            "9999-12-30T22:00:00Z"
        );
        for offset in ["+25:00", "-25:00", "+24:00", "+23:59:01", "-24:30"] {
            assert_eq!(
                err(&format!("2024-01-20T10:00:00{offset}")),
                "the offset must be from -23:59 to +23:59",
                "{offset}"
            );
        }
        for year in [
            "0000-01-01T00:00:00Z",
            "-000001-01-01T00:00:00Z",
            "-009999-01-01T00:00:00Z",
            "+002024-01-20T10:00:00Z",
            "+010000-01-01T00:00:00Z",
        ] {
            assert_eq!(err(year), YEAR_RANGE, "{year}");
        }
        assert_eq!(err("0001-01-01T00:30:00+01:00"), EARLIEST);
        for late in [
            "9999-12-30T22:00:01Z",
            "9999-12-31T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:00:00+05:00",
        ] {
            assert_eq!(err(late), LATEST, "{late}");
        }
        for junk in [
            "",
            "2024-01-20",
            "2024-01-20T10:00:00",
            "tomorrow",
            "2024-13-01T00:00:00Z",
        ] {
            assert_eq!(err(junk), NOT_AN_INSTANT, "{junk:?}");
        }
    }

    #[test]
    fn urls_are_normalised_and_need_a_host() {
        let ics = |url: &str| {
            CreateCalendar {
                kind: "ics".into(),
                url: Some(url.into()),
                calendar_id: None,
                credentials: None,
            }
            .try_into_domain()
        };
        assert_eq!(
            ics("webcal://Example.COM:443/a/../cal.ics").unwrap(),
            CalendarSource::Ics {
                url: "https://example.com/cal.ics".into()
            }
        );
        assert_eq!(ics("https:///nohost").unwrap_err().field, "url");
        let hook = CreateWebhook {
            url: "HTTPS://Hooks.Example.com".into(),
            events: None,
            description: None,
        };
        assert_eq!(
            hook.try_into_domain().unwrap().url,
            "https://hooks.example.com/"
        );
        let patch = UpdateWebhook {
            url: Some("https:/nohost".into()),
            events: None,
            enabled: None,
            description: None,
        };
        assert_eq!(
            patch.try_into_domain().unwrap_err().message,
            "must have a host"
        );
    }

    #[test]
    fn dates_have_four_digit_years_from_1() {
        assert!(parse_date("2024-01-20", "from", "x").is_ok());
        assert!(parse_date("0001-01-01", "from", "x").is_ok());
        assert_eq!(
            parse_date("0000-01-01", "from", "x").unwrap_err().message,
            YEAR_RANGE
        );
        assert_eq!(
            parse_date("-001-01-01", "from", "x").unwrap_err().message,
            YEAR_RANGE
        );
        assert_eq!(
            parse_date("2024-02-30", "from", "x").unwrap_err().message,
            "x"
        );
    }

    #[test]
    fn fast_formatting_matches_jiff() {
        let mut t = Timestamp::from_second(-62_135_596_800).unwrap(); // 0001-01-01
        let step = jiff::SignedDuration::from_secs(7_777_777 + 13);
        while let Ok(next) = t.checked_add(step) {
            assert_eq!(fmt_ts(t), t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
            let json = serde_json::to_string(&Slots(vec![booking_domain::scheduling::Slot {
                start: t,
                end: t,
            }]))
            .unwrap();
            assert_eq!(
                json,
                format!("[{{\"start\":\"{0}\",\"end\":\"{0}\"}}]", fmt_ts(t))
            );
            t = next;
        }
        for s in [
            "2024-02-29T23:59:59Z",
            "2000-03-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2100-02-28T12:34:56Z",
        ] {
            assert_eq!(fmt_ts(s.parse().unwrap()), s);
        }
    }
}
