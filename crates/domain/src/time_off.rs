//! A provider's time off: a range of instants when none of their services
//! can be booked. It blocks like a booking without buffers of its own (the
//! service's buffers still apply around a new booking), and it never touches
//! the bookings already inside it: the caller reports those instead.

use jiff::{SignedDuration, Timestamp};

use crate::{AccountId, Booking, ProviderId, TimeOffId, TimeRange, ValidationError};

/// Longest time off, in days (of 24 hours).
pub const MAX_TIME_OFF_DAYS: i64 = 366;
/// Longest reason, in characters.
pub const MAX_TIME_OFF_REASON: usize = 1000;

/// Time off of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOff {
    /// Id (`off_…`).
    pub id: TimeOffId,
    /// Owning account.
    pub account_id: AccountId,
    /// The provider who is away.
    pub provider_id: ProviderId,
    /// `[start, end)`, at most [`MAX_TIME_OFF_DAYS`] long.
    pub range: TimeRange,
    /// Why, if given.
    pub reason: Option<String>,
    /// Creation instant.
    pub created_at: Timestamp,
}

impl TimeOff {
    /// Whether `booking` is active and its appointment (without buffers)
    /// overlaps this time off: the `overlapping_bookings` of the answer.
    pub fn overlaps_booking(&self, booking: &Booking) -> bool {
        booking.status.is_active()
            && booking.provider_id == self.provider_id
            && TimeRange::starting_at(booking.scheduled_at, booking.duration).overlaps(&self.range)
    }
}

/// A validated request for time off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimeOff {
    /// The range.
    pub range: TimeRange,
    /// The reason.
    pub reason: Option<String>,
}

impl NewTimeOff {
    /// Validates the range ([`validate_time_off_range`]) and the reason
    /// ([`validate_time_off_reason`]).
    pub fn new(
        start: Timestamp,
        end: Timestamp,
        reason: Option<&str>,
    ) -> Result<NewTimeOff, ValidationError> {
        Ok(NewTimeOff {
            range: validate_time_off_range(start, end)?,
            reason: reason.map(validate_time_off_reason).transpose()?,
        })
    }
}

/// `start < end` and at most [`MAX_TIME_OFF_DAYS`] days; errors name `end`.
pub fn validate_time_off_range(
    start: Timestamp,
    end: Timestamp,
) -> Result<TimeRange, ValidationError> {
    let range = TimeRange::new(start, end)
        .ok_or_else(|| ValidationError::new("end", "must be after start"))?;
    if range.length() > SignedDuration::from_hours(24 * MAX_TIME_OFF_DAYS) {
        return Err(ValidationError::new(
            "end",
            format!("time off may last at most {MAX_TIME_OFF_DAYS} days"),
        ));
    }
    Ok(range)
}

/// At most [`MAX_TIME_OFF_REASON`] characters, and no control characters
/// (U+0000-U+001F, U+007F) other than tab and newline: the HTTP layer's rule
/// for multi-line text (`http/src/wire/text.rs`), repeated here so the
/// domain never holds such a reason whoever calls it; errors name `reason`.
pub fn validate_time_off_reason(text: &str) -> Result<String, ValidationError> {
    if text.chars().count() > MAX_TIME_OFF_REASON {
        return Err(ValidationError::new(
            "reason",
            format!("must be at most {MAX_TIME_OFF_REASON} characters"),
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|&c| (c <= '\u{1f}' || c == '\u{7f}') && c != '\t' && c != '\n')
    {
        return Err(ValidationError::new(
            "reason",
            format!(
                "must not contain control characters other than tab and newline (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_are_checked() {
        let ok = NewTimeOff::new(
            ts("2026-07-01T00:00:00Z"),
            ts("2026-07-08T00:00:00Z"),
            Some("Holiday\nback on the 8th"),
        );
        assert!(ok.is_ok());
        let same = NewTimeOff::new(ts("2026-07-01T00:00:00Z"), ts("2026-07-01T00:00:00Z"), None);
        assert_eq!(same.unwrap_err().field, "end");
        let year = ts("2026-01-01T00:00:00Z");
        assert!(validate_time_off_range(year, ts("2027-01-02T00:00:00Z")).is_ok());
        assert_eq!(
            validate_time_off_range(year, ts("2027-01-02T00:00:01Z"))
                .unwrap_err()
                .field,
            "end"
        );
    }

    #[test]
    fn reasons_refuse_control_characters() {
        assert!(validate_time_off_reason("Conference\tBerlin").is_ok());
        assert_eq!(
            validate_time_off_reason("a\0b").unwrap_err().field,
            "reason"
        );
        assert!(validate_time_off_reason("a\rb").is_err());
        assert!(validate_time_off_reason("a\u{7f}b").is_err());
        assert!(validate_time_off_reason("a\u{85}b").is_ok());
        assert!(validate_time_off_reason(&"x".repeat(1000)).is_ok());
        assert!(validate_time_off_reason(&"x".repeat(1001)).is_err());
    }
}
