//! Stored values: instants as unix seconds, durations as minutes, weekdays
//! as a bit mask, money as minor units, and the error for a corrupt one.

use std::fmt::Display;

use booking_domain::ports::StorageError;
use booking_domain::{Currency, Minutes, Money, Weekday, WeekdaySet};
use jiff::Timestamp;

/// The longest occupied range a booking can have, in seconds:
/// a 1440-minute service with two 10080-minute buffers. Conflict scans rely
/// on it (and the schemas check it).
pub const MAX_OCCUPIED_SECS: i64 = (1440 + 2 * 10080) * 60;

/// Statuses that hold their time.
pub const ACTIVE: [&str; 2] = ["pending", "confirmed"];

/// [`ACTIVE`] as a condition on `bookings.status`, written out: diesel
/// never caches a statement with `eq_any` on SQLite (its `IN (?, ?)` list
/// may change length), so each booking's conflict check was parsed and
/// planned again. A test checks it names the same statuses.
pub(crate) const ACTIVE_BOOKING: crate::Condition =
    crate::Condition("bookings.status IN ('pending', 'confirmed')");

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
pub(crate) fn instant(
    table: &str,
    id: &str,
    field: &str,
    value: i64,
) -> Result<Timestamp, StorageError> {
    Timestamp::from_second(value).map_err(|e| corrupt(table, id, format!("{field}: {e}")))
}

/// A stored number of minutes back as [`Minutes`].
pub(crate) fn minutes(
    table: &str,
    id: &str,
    field: &str,
    value: i64,
) -> Result<Minutes, StorageError> {
    u32::try_from(value).map(Minutes::new).map_err(|_| {
        corrupt(
            table,
            id,
            format!("{field}: {value} is not a number of minutes"),
        )
    })
}

/// A stored amount (minor units) and currency code back as [`Money`].
pub(crate) fn money(
    table: &str,
    id: &str,
    minor: i64,
    currency: &str,
) -> Result<Money, StorageError> {
    let currency = Currency::parse(currency).map_err(|e| corrupt(table, id, e))?;
    Money::from_minor(minor, currency).map_err(|e| corrupt(table, id, e))
}

/// Minutes as stored.
pub(crate) fn minutes_i64(m: Minutes) -> i64 {
    i64::from(m.get())
}

/// Weekdays as stored: bit `d.index()` set for each day `d`.
pub(crate) fn day_bits(days: WeekdaySet) -> i64 {
    days.iter().fold(0, |acc, d| acc | (1 << d.index()))
}

/// The inverse of [`day_bits`]; `None` for bits beyond the seven days.
pub(crate) fn days_from_bits(bits: i64) -> Option<WeekdaySet> {
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
}

#[cfg(test)]
mod active_tests {
    use super::{ACTIVE, ACTIVE_BOOKING};

    #[test]
    fn the_written_out_active_condition_names_the_active_statuses() {
        let listed = ACTIVE.map(|s| format!("'{s}'")).join(", ");
        assert_eq!(ACTIVE_BOOKING.0, format!("bookings.status IN ({listed})"));
    }
}
