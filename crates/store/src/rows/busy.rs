//! What blocks a provider, with identities, as both stores read it: rows of
//! bookings, time off and external busy pieces back as the domain's
//! [`BusySources`].

use booking_domain::ports::StorageError;
use booking_domain::scheduling::{BookedTime, BusySources, ExternalBusy, HeldTime, TimeOffBlock};
use booking_domain::{BookingId, CalendarId, HoldId, Minutes, TimeOffId, TimeRange};
use jiff::Timestamp;

use super::holds::HeldRow;

use super::columns::booking_of;
use super::values::{corrupt, instant};

/// Longest time off (366 days, as the schemas check), which bounds the
/// scan of the `time_off_provider` index.
pub const MAX_TIME_OFF_SECS: i64 = 366 * 86_400;

/// A booking as busy time: id, appointment start and end (unix seconds),
/// buffers before and after (minutes).
pub type BookedRow = (String, i64, i64, i64, i64);
/// Time off: id, start, end.
pub type TimeOffRow = (String, i64, i64);
/// An external busy piece: calendar id, its connection's kind, start, end.
pub type ExternalRow = (String, String, i64, i64);

fn range(table: &str, id: &str, start: i64, end: i64) -> Result<TimeRange, StorageError> {
    TimeRange::new(
        instant(table, id, "start", start)?,
        instant(table, id, "end", end)?,
    )
    .ok_or_else(|| corrupt(table, id, format!("{start}..{end} is not a range")))
}

/// Blocked ranges read as `(start, end)` unix seconds, in start order, as
/// [`TimeRange`]s.
pub fn ranges_of(rows: Vec<(i64, i64)>) -> Result<Vec<TimeRange>, StorageError> {
    rows.into_iter()
        .map(|(start, end)| range("bookings", "(busy time)", start, end))
        .collect()
}

fn buffer(id: &str, v: i64) -> Result<Minutes, StorageError> {
    u32::try_from(v)
        .map(Minutes::new)
        .map_err(|_| corrupt("bookings", id, format!("buffer {v} out of range")))
}

/// The rows back as [`BusySources`].
pub fn busy_sources(
    bookings: Vec<BookedRow>,
    time_off: Vec<TimeOffRow>,
    external: Vec<ExternalRow>,
    holds: Vec<HeldRow>,
) -> Result<BusySources, StorageError> {
    Ok(BusySources {
        bookings: bookings
            .into_iter()
            .map(|(id, start, end, before, after)| {
                Ok(BookedTime {
                    range: range("bookings", &id, start, end)?,
                    buffer_before: buffer(&id, before)?,
                    buffer_after: buffer(&id, after)?,
                    // A collective booking's seat row names its booking.
                    id: BookingId::from_trusted(booking_of(&id).to_owned()),
                })
            })
            .collect::<Result<_, StorageError>>()?,
        time_off: time_off
            .into_iter()
            .map(|(id, start, end)| {
                Ok(TimeOffBlock {
                    range: range("time_off", &id, start, end)?,
                    id: TimeOffId::from_trusted(id),
                })
            })
            .collect::<Result<_, StorageError>>()?,
        external: external
            .into_iter()
            .map(|(calendar, kind, start, end)| {
                Ok(ExternalBusy {
                    range: range("calendar_busy", &calendar, start, end)?,
                    calendar_id: CalendarId::from_trusted(calendar),
                    kind,
                })
            })
            .collect::<Result<_, StorageError>>()?,
        holds: holds
            .into_iter()
            .map(|(id, start, end, expires)| {
                Ok(HeldTime {
                    range: range("holds", &id, start, end)?,
                    expires_at: instant("holds", &id, "expires_at", expires)?,
                    id: HoldId::from_trusted(id),
                })
            })
            .collect::<Result<_, StorageError>>()?,
    })
}

/// What blocks a provider over a window, as read from the database (with
/// identities), and the ranges of all of it but the holds, in start order,
/// computed once per read rather than once per request: a cached read
/// serves many slot lists, and holds (which expire by the clock) are the
/// only part that changes with `now`.
#[derive(Debug, Clone)]
pub struct BusyRead {
    /// Everything that blocks, with identities.
    pub sources: BusySources,
    /// Bookings (with their buffers), time off and external busy, ascending.
    fixed: Vec<TimeRange>,
}

impl BusyRead {
    /// Indexes `sources` once.
    pub fn new(sources: BusySources) -> BusyRead {
        let mut fixed: Vec<TimeRange> = sources
            .bookings
            .iter()
            .map(BookedTime::occupied)
            .chain(sources.time_off.iter().map(|t| t.range))
            .chain(sources.external.iter().map(|e| e.range))
            .collect();
        fixed.sort_by_key(|r| r.start());
        BusyRead { sources, fixed }
    }

    /// Every blocked range (holds unexpired at `now` too), in start order:
    /// the anonymous busy time of `BookingStore::busy_times`. Expired holds
    /// are dropped here, at read time, so a cached read never keeps one
    /// blocking past its expiry.
    pub fn ranges(&self, now: Timestamp) -> Vec<TimeRange> {
        let mut live = self
            .sources
            .holds
            .iter()
            .filter(|h| h.expires_at > now)
            .map(|h| h.range)
            .peekable();
        if live.peek().is_none() {
            return self.fixed.clone();
        }
        let mut out = Vec::with_capacity(self.fixed.len() + self.sources.holds.len());
        out.extend_from_slice(&self.fixed);
        out.extend(live);
        out.sort_by_key(|r| r.start());
        out
    }

    /// How much the read weighs in the cache: one per item, plus one.
    pub fn cost(&self) -> usize {
        let s = &self.sources;
        s.bookings.len() + s.time_off.len() + s.external.len() + s.holds.len() + 1
    }
}
