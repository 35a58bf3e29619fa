//! What the wire types of every resource share: instants (parsing and
//! the allocation-free RFC 3339 formatting), dates, URLs, money as a JSON
//! number, whole-number and nullable fields, and the page shape of a list.

use booking_domain::{Money, ValidationError};
use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
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
pub(super) struct TsWriter {
    day: Option<(i64, [u8; 11])>,
}

impl TsWriter {
    /// Appends `t` as [`fmt_ts`] formats it.
    pub(super) fn write(&mut self, out: &mut Vec<u8>, t: Timestamp) {
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
pub(super) fn serialize_ts<S: serde::Serializer>(
    t: Timestamp,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match ts_bytes(t) {
        // The buffer holds ASCII digits and separators only.
        Some(bytes) => serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default()),
        None => serializer.serialize_str(&fmt_ts(t)),
    }
}

/// The error for text that is not an instant at all.
pub(super) const NOT_AN_INSTANT: &str = "must be an RFC 3339 instant such as 2024-01-20T10:00:00Z";
/// RFC 3339 years have four digits, and the contract takes 1-9999.
pub(super) const YEAR_RANGE: &str = "the year must be from 0001 to 9999 (four digits)";
/// The earliest instant taken: the first of year 1, UTC.
pub(super) const EARLIEST: &str = "must be at or after 0001-01-01T00:00:00Z";
/// The latest instant the server can represent (jiff's `Timestamp::MAX`,
/// whole seconds); later instants of year 9999 are valid RFC 3339 but refused.
pub(super) const LATEST: &str =
    "must be at or before 9999-12-30T22:00:00Z, the latest instant supported";
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
    if !rfc_3339_shape(text) {
        return Err(invalid(NOT_AN_INSTANT));
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

/// Whether `text` has RFC 3339's `date-time` shape (section 5.6):
/// `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then `Z` or `±HH:MM`
/// (`T` and `Z` in either case). jiff alone also takes ISO 8601 forms that
/// RFC 3339 does not: no seconds, the basic format without separators, an
/// offset without its colon.
fn rfc_3339_shape(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    let head = digits(0..4)
        && at(4, b"-")
        && digits(5..7)
        && at(7, b"-")
        && digits(8..10)
        && at(10, b"Tt")
        && digits(11..13)
        && at(13, b":")
        && digits(14..16)
        && at(16, b":")
        && digits(17..19);
    if !head {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        let fraction = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if fraction == 0 {
            return false;
        }
        i += 1 + fraction;
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            digits(i + 1..i + 3) && at(i + 3, b":") && digits(i + 4..i + 6) && i + 6 == b.len()
        }
        _ => false,
    }
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
pub(super) fn normalised_url(text: &str, field: &str) -> Result<String, ValidationError> {
    booking_netguard::parse_http_url(text)
        .map(String::from)
        .map_err(|e| ValidationError::new(field, e.to_string()))
}

/// Deserializes a field that may be absent (outer `None`) or `null` (inner `None`).
pub(super) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

pub(super) fn money_json(m: Money) -> serde_json::Number {
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
pub(super) fn integral<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
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
pub(super) fn opt_integral<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "integral")] i64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// A PATCH field that may be left out (`None`: unchanged) but not be
/// `null`: a field that cannot be cleared refuses `null` with a
/// VALIDATION_ERROR naming it, instead of ignoring it.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// [`present`] for a whole number (see [`integral`]).
pub(super) fn present_integral<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    integral(d).map(Some)
}

/// Declares the page of a collection of `$item`s, named `$name`.
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

pub(super) use list_type;

/// The body of an action that takes no fields (`confirm`, `complete`, the
/// rotations, `redeliver`, a sync): empty, or `{}`. Anything else is a
/// VALIDATION_ERROR naming the first field, so an action never silently
/// ignores what a client sent; over 64 KiB it is 413 as everywhere.
#[derive(Debug, Default, ToSchema)]
#[schema(max_properties = 0)]
pub struct NoFields {}

impl<'de> Deserialize<'de> for NoFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        match fields.keys().next() {
            None => Ok(NoFields {}),
            Some(name) => Err(serde::de::Error::custom(format_args!(
                "unknown field `{name}`: this action takes no fields"
            ))),
        }
    }
}
