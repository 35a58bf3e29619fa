//! Writing bookings into providers' own calendars: the write outbox's
//! worker step.
//!
//! Booking writes queue a row per writing connection in their own
//! transaction (the store does it, like webhook deliveries); a background
//! task claims due rows ([`claim_calendar_writes`]), reads the bookings as
//! they are now ([`read_write_targets`], one read per batch) and makes the calendar match it
//! ([`send_write`]; results recorded in batches by
//! [`record_calendar_writes`]): an active or completed booking is an event at its
//! time, a cancelled (or vanished) one has none. The write is idempotent
//! (the event's identity comes from the booking), so a retry after a crash
//! never duplicates the event, and several changes queued before one
//! attempt collapse into one write of the latest state.

use jiff::{SignedDuration, Timestamp};

use super::port_sets::CalendarWritePorts;
use crate::ports::{ClaimedWrite, Clock, StorageError, WriteResult};
use crate::{
    AccountId, Booking, BookingId, BookingStatus, CalendarWriter, EventDraft, ServiceId, TimeRange,
    WriteRequest,
};

/// How long a write claim lasts (a worker that dies loses it then): longer
/// than the adapters' bound on one write (120 s), so a slow write is never
/// claimed twice at once.
pub const WRITE_LEASE_SECS: i64 = 300;

/// Claims up to `limit` due writes (safe with several processes).
pub async fn claim_calendar_writes(
    ports: CalendarWritePorts<'_>,
    limit: u32,
) -> Result<Vec<ClaimedWrite>, StorageError> {
    ports
        .calendars
        .claim_calendar_writes(
            ports.clock.now(),
            SignedDuration::from_secs(WRITE_LEASE_SECS),
            limit,
        )
        .await
}

/// Records the results of [`send_write`]s in one transaction.
pub async fn record_calendar_writes(
    ports: CalendarWritePorts<'_>,
    results: &[(ClaimedWrite, WriteResult)],
) -> Result<(), StorageError> {
    ports
        .calendars
        .record_calendar_writes(results, ports.clock.now())
        .await
}

/// What a claimed write is to make the connection's calendar hold, read
/// and rendered by [`read_write_targets`] and sent by [`send_write`]: the
/// worker reads (on the database's side, at normal priority) and sends
/// (the calendar's HTTP request, possibly at a low priority) in two steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteTarget {
    /// The event, or `None`: the calendar is to hold none.
    pub event: Option<EventDraft>,
    /// The booking's time, also when it is cancelled (`None`: it is gone).
    pub span: Option<TimeRange>,
}

/// Reads the claimed writes' bookings as they are now (one read per
/// account among them, not one per write) and renders what each
/// connection's calendar is to hold, in the order of `claimed`: an active
/// or completed booking is an event at its time, a cancelled (or vanished)
/// one none, and so is a booking that no longer occupies the connection's
/// provider.
pub async fn read_write_targets(
    ports: CalendarWritePorts<'_>,
    claimed: &[ClaimedWrite],
) -> Result<Vec<WriteTarget>, StorageError> {
    let mut bookings: Vec<Booking> = Vec::with_capacity(claimed.len());
    let mut accounts: Vec<&AccountId> = Vec::new();
    for write in claimed {
        let account = &write.connection.account_id;
        if accounts.contains(&account) {
            continue;
        }
        accounts.push(account);
        let ids: Vec<BookingId> = claimed
            .iter()
            .filter(|w| &w.connection.account_id == account)
            .map(|w| w.booking_id.clone())
            .collect();
        bookings.extend(ports.bookings.get_bookings(account, &ids).await?);
    }
    // The events' titles name their services: one read per service among
    // the batch's bookings (a batch is usually many bookings of a few).
    let mut names: Vec<(&AccountId, &ServiceId, String)> = Vec::new();
    for b in &bookings {
        if names
            .iter()
            .any(|(a, s, _)| *a == &b.account_id && *s == &b.service_id)
        {
            continue;
        }
        let service = ports
            .services
            .get_service_cached(&b.account_id, &b.service_id)
            .await?;
        // A service gone since the booking: its id stands in for the name.
        let name = service.map_or_else(|| b.service_id.as_str().to_owned(), |s| s.name);
        names.push((&b.account_id, &b.service_id, name));
    }
    let mut targets = Vec::with_capacity(claimed.len());
    for write in claimed {
        let booking = bookings
            .iter()
            .find(|b| b.id == write.booking_id && b.account_id == write.connection.account_id);
        let service_name = booking.and_then(|b| {
            names
                .iter()
                .find(|(a, s, _)| *a == &b.account_id && *s == &b.service_id)
                .map(|(_, _, name)| name.as_str())
        });
        targets.push(render(write, booking, service_name)?);
    }
    Ok(targets)
}

/// What `write`'s calendar is to hold for `booking` as read, its service
/// named `service_name`.
fn render(
    write: &ClaimedWrite,
    booking: Option<&Booking>,
    service_name: Option<&str>,
) -> Result<WriteTarget, StorageError> {
    let span = booking.and_then(|b| TimeRange::new(b.scheduled_at, b.end_at()));
    let event = match booking {
        Some(b)
            if b.status != BookingStatus::Cancelled
                && b.providers().contains(&write.connection.provider_id) =>
        {
            let service_name = service_name.unwrap_or(b.service_id.as_str());
            let range = span.ok_or_else(|| {
                StorageError::Internal(format!("booking {} has an empty time", b.id))
            })?;
            let mut description = format!(
                "Booked by {} <{}>.\nBooking {}.",
                b.customer.name,
                b.customer.email.as_str(),
                b.id.as_str()
            );
            if let Some(notes) = &b.notes {
                description.push_str("\n\n");
                description.push_str(notes);
            }
            Some(EventDraft {
                range,
                summary: format!("{service_name} with {}", b.customer.name),
                description,
                tentative: b.status == BookingStatus::Pending,
                sequence: b.sequence,
                stamp: b.updated_at,
            })
        }
        _ => None,
    };
    Ok(WriteTarget { event, span })
}

/// Makes the claimed connection's calendar hold `target` and returns the
/// result to record (the background writer records a batch of results at
/// once with [`record_calendar_writes`]): on failure the next attempt comes
/// after `retry_delays[attempts]` (as webhook deliveries are retried), and
/// none once they are used up (until the booking changes again). Touches no
/// store: only the calendar's server and the clock.
pub async fn send_write(
    writer: &dyn CalendarWriter,
    clock: &dyn Clock,
    claimed: &ClaimedWrite,
    target: &WriteTarget,
    retry_delays: &[SignedDuration],
) -> WriteResult {
    let now = clock.now();
    // A removal is sent even when no write is known to have succeeded: an
    // earlier attempt may have made the event and lost the answer (the
    // adapters treat an event already gone as removed, and look for one
    // they have no id of around `span`).
    let written = writer
        .write(WriteRequest {
            source: &claimed.connection.source,
            booking: &claimed.booking_id,
            event: target.event.as_ref(),
            span: target.span,
            remote: &claimed.remote,
            now,
        })
        .await;
    match written {
        Ok(outcome) => WriteResult::Done {
            remote: outcome.remote,
            refreshed: outcome.refreshed,
        },
        Err(e) => WriteResult::Failed {
            error: e.to_string(),
            retry_at: retry_at(now, claimed.attempts, retry_delays),
        },
    }
}

/// When the attempt after `attempts` failed ones runs, if any is left.
fn retry_at(now: Timestamp, attempts: u32, delays: &[SignedDuration]) -> Option<Timestamp> {
    let delay = delays.get(usize::try_from(attempts).ok()?)?;
    now.checked_add(*delay).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_delays_then_stop() {
        let now = Timestamp::from_second(1_000).unwrap();
        let delays = [
            SignedDuration::from_secs(30),
            SignedDuration::from_secs(300),
        ];
        assert_eq!(
            retry_at(now, 0, &delays),
            Some(Timestamp::from_second(1_030).unwrap())
        );
        assert_eq!(
            retry_at(now, 1, &delays),
            Some(Timestamp::from_second(1_300).unwrap())
        );
        assert_eq!(retry_at(now, 2, &delays), None);
    }
}
