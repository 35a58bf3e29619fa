//! Writing bookings into providers' own calendars: the write outbox's
//! worker step.
//!
//! Booking writes queue a row per writing connection in their own
//! transaction (the store does it, like webhook deliveries); a background
//! task claims due rows ([`claim_calendar_writes`]) and hands each to
//! [`attempt_write`] (results recorded in batches by
//! [`record_calendar_writes`]), which reads the booking as it is now and makes the
//! calendar match it: an active or completed booking is an event at its
//! time, a cancelled (or vanished) one has none. The write is idempotent
//! (the event's identity comes from the booking), so a retry after a crash
//! never duplicates the event, and several changes queued before one
//! attempt collapse into one write of the latest state.

use jiff::{SignedDuration, Timestamp};

use super::port_sets::CalendarWritePorts;
use crate::ports::{ClaimedWrite, StorageError, WriteResult};
use crate::{BookingStatus, EventDraft, TimeRange, WriteRequest};

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

/// Records the results of [`attempt_write`]s in one transaction.
pub async fn record_calendar_writes(
    ports: CalendarWritePorts<'_>,
    results: &[(ClaimedWrite, WriteResult)],
) -> Result<(), StorageError> {
    ports
        .calendars
        .record_calendar_writes(results, ports.clock.now())
        .await
}

/// Makes the claimed connection's calendar match the booking as it is now
/// and returns the result to record (the background writer records a batch
/// of results at once with [`record_calendar_writes`]): on failure the next
/// attempt comes after `retry_delays[attempts]` (as webhook deliveries are
/// retried), and none once they are used up (until the booking changes
/// again). A connection whose provider the booking no longer occupies gets
/// no event.
pub async fn attempt_write(
    ports: CalendarWritePorts<'_>,
    claimed: &ClaimedWrite,
    retry_delays: &[SignedDuration],
) -> Result<WriteResult, StorageError> {
    let connection = &claimed.connection;
    let booking = ports
        .bookings
        .get_booking(&connection.account_id, &claimed.booking_id)
        .await?;
    let span = booking
        .as_ref()
        .and_then(|b| TimeRange::new(b.scheduled_at, b.end_at()));
    let draft = match &booking {
        Some(b)
            if b.status != BookingStatus::Cancelled
                && b.providers().contains(&connection.provider_id) =>
        {
            let service = ports
                .services
                .get_service_cached(&b.account_id, &b.service_id)
                .await?;
            let service_name = service.map_or_else(|| b.service_id.as_str().to_owned(), |s| s.name);
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
    let now = ports.clock.now();
    // A removal is sent even when no write is known to have succeeded: an
    // earlier attempt may have made the event and lost the answer (the
    // adapters treat an event already gone as removed, and look for one
    // they have no id of around `span`).
    let written = ports
        .calendar_writer
        .write(WriteRequest {
            source: &connection.source,
            booking: &claimed.booking_id,
            event: draft.as_ref(),
            span,
            remote: &claimed.remote,
            now,
        })
        .await;
    Ok(match written {
        Ok(outcome) => WriteResult::Done {
            remote: outcome.remote,
            refreshed: outcome.refreshed,
        },
        Err(e) => WriteResult::Failed {
            error: e.to_string(),
            retry_at: retry_at(now, claimed.attempts, retry_delays),
        },
    })
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
