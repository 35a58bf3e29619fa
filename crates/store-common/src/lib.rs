//! What the SQL stores (`booking-store-sqlite`, `booking-store-postgres`)
//! share: value helpers, the column values of each table and their
//! conversions to and from the domain, and [`BookingSnapshot`], the JSON
//! snapshot of a booking kept with each event. No I/O and no diesel: each
//! store declares its diesel row structs with [`sql_rows!`], which moves them
//! field by field to and from the column structs here.
//!
//! Stored values are rebuilt through the domain's constructors; a value that
//! does not rebuild is corrupt data: [`StorageError::Internal`], never a panic.

mod calendars;
mod columns;
mod macros;
mod webhooks;

use std::fmt::Display;

use booking_domain::ports::StorageError;
use booking_domain::{Currency, Minutes, Money, Weekday, WeekdaySet};
use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use calendars::{CalendarColumns, MAX_BUSY_PIECE_SECS, busy_pieces, busy_ranges};
pub use columns::{
    BookingColumns, BookingFields, BookingSnapshot, EventColumns, ProviderColumns, ServiceColumns,
};
pub use webhooks::{
    AttemptColumns, DeliveryColumns, MAX_LISTED_ATTEMPTS, WebhookColumns, assemble_deliveries,
    outcome_columns,
};

/// The longest occupied range a booking can have, in seconds:
/// a 1440-minute service with two 10080-minute buffers. Conflict scans rely
/// on it (and the schemas check it).
pub const MAX_OCCUPIED_SECS: i64 = (1440 + 2 * 10080) * 60;

/// Statuses that hold their time.
pub const ACTIVE: [&str; 2] = ["pending", "confirmed"];

/// A corrupt stored value in `table`, row `id`.
pub fn corrupt(table: &str, id: &str, what: impl Display) -> StorageError {
    StorageError::Internal(format!("corrupt {table} row `{id}`: {what}"))
}

/// Unix seconds, rounded down (stored instants have second precision).
pub fn secs(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() < 0 { s - 1 } else { s }
}

/// Unix seconds, rounded up (for exclusive range ends).
pub fn secs_ceil(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() > 0 { s + 1 } else { s }
}

/// A stored instant (unix seconds) back as a timestamp.
fn instant(table: &str, id: &str, field: &str, value: i64) -> Result<Timestamp, StorageError> {
    Timestamp::from_second(value).map_err(|e| corrupt(table, id, format!("{field}: {e}")))
}

/// A stored number of minutes back as [`Minutes`].
fn minutes(table: &str, id: &str, field: &str, value: i64) -> Result<Minutes, StorageError> {
    u32::try_from(value).map(Minutes::new).map_err(|_| {
        corrupt(
            table,
            id,
            format!("{field}: {value} is not a number of minutes"),
        )
    })
}

/// A stored amount (minor units) and currency code back as [`Money`].
fn money(table: &str, id: &str, minor: i64, currency: &str) -> Result<Money, StorageError> {
    let currency = Currency::parse(currency).map_err(|e| corrupt(table, id, e))?;
    Money::from_minor(minor, currency).map_err(|e| corrupt(table, id, e))
}

/// Minutes as stored.
fn minutes_i64(m: Minutes) -> i64 {
    i64::from(m.get())
}

/// Weekdays as stored: bit `d.index()` set for each day `d`.
fn day_bits(days: WeekdaySet) -> i64 {
    days.iter().fold(0, |acc, d| acc | (1 << d.index()))
}

/// The inverse of [`day_bits`]; `None` for bits beyond the seven days.
fn days_from_bits(bits: i64) -> Option<WeekdaySet> {
    if !(0..1 << 7).contains(&bits) {
        return None;
    }
    Some(
        Weekday::ALL
            .into_iter()
            .filter(|d| bits & (1 << d.index()) != 0)
            .collect(),
    )
}

/// How a store holds a JSON column: SQLite as `TEXT` ([`String`]),
/// Postgres as `JSONB` ([`serde_json::Value`]). Either way the JSON is the
/// same.
pub trait JsonColumn: Sized {
    /// The column value for `value`.
    fn encode<T: Serialize>(value: &T) -> Result<Self, serde_json::Error>;

    /// The value the column holds.
    fn decode<T: DeserializeOwned>(self) -> Result<T, serde_json::Error>;
}

impl JsonColumn for String {
    fn encode<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value)
    }

    fn decode<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self)
    }
}

impl JsonColumn for serde_json::Value {
    fn encode<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_value(value)
    }

    fn decode<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self)
    }
}

/// What [`sql_rows!`] expansions name; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use booking_domain::ports::StorageError;
    pub use booking_domain::{
        Booking, BookingEvent, CalendarConnection, Provider, Service, WebhookEndpoint,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_round_down_and_up() {
        let t = Timestamp::new(10, 500_000_000).unwrap();
        assert_eq!((secs(t), secs_ceil(t)), (10, 11));
        let t = Timestamp::new(-10, -500_000_000).unwrap();
        assert_eq!((secs(t), secs_ceil(t)), (-11, -10));
        let t = Timestamp::from_second(7).unwrap();
        assert_eq!((secs(t), secs_ceil(t)), (7, 7));
    }

    #[test]
    fn day_bits_round_trip_and_reject_extra_bits() {
        for bits in 0..1 << 7 {
            let days = days_from_bits(bits).unwrap();
            assert_eq!(day_bits(days), bits);
        }
        assert!(days_from_bits(1 << 7).is_none());
        assert!(days_from_bits(-1).is_none());
    }

    #[test]
    fn corrupt_names_table_and_row() {
        let e = corrupt("services", "svc_1", "days: bad bitmask 999");
        assert!(
            matches!(&e, StorageError::Internal(m) if m == "corrupt services row `svc_1`: days: bad bitmask 999"),
            "{e:?}"
        );
    }

    #[test]
    fn json_columns_agree() {
        let map = std::collections::BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let text = String::encode(&map).unwrap();
        let value = serde_json::Value::encode(&map).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
        let back: std::collections::BTreeMap<String, String> = text.decode().unwrap();
        assert_eq!(back, map);
    }

    #[test]
    fn snapshot_shape_is_pinned() {
        // The webhooks worker reads this from either store: keep it stable.
        let snapshot = BookingSnapshot {
            id: "bk_1".into(),
            account_id: "acc_1".into(),
            service_id: "svc_1".into(),
            provider_id: "prv_1".into(),
            duration_min: 30,
            scheduled_at: 1_700_000_000,
            end_at: 1_700_001_800,
            occupied_start: 1_699_999_400,
            occupied_end: 1_700_002_400,
            buffer_before: 10,
            buffer_after: 10,
            status: "pending".into(),
            customer_email: "a@example.com".into(),
            customer_name: "A".into(),
            price_minor: 1500,
            currency: "EUR".into(),
            notes: None,
            metadata: std::collections::BTreeMap::from([("k".to_owned(), "v".to_owned())]),
            cancel_reason: None,
            sequence: 0,
            created_at: 1_690_000_000,
            updated_at: 1_690_000_000,
        };
        let json = serde_json::to_value(&snapshot).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "id",
            "account_id",
            "service_id",
            "provider_id",
            "duration_min",
            "scheduled_at",
            "end_at",
            "occupied_start",
            "occupied_end",
            "buffer_before",
            "buffer_after",
            "status",
            "customer_email",
            "customer_name",
            "price_minor",
            "currency",
            "notes",
            "metadata",
            "cancel_reason",
            "sequence",
            "created_at",
            "updated_at",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["metadata"], serde_json::json!({"k": "v"}));
        let back: BookingSnapshot = serde_json::from_value(json).unwrap();
        assert_eq!(back, snapshot);
    }
}
