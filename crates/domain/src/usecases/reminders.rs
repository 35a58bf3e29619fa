//! The reminder round: sends `booking.reminder` for every due (booking,
//! offset) pair, each exactly once across processes.

use super::port_sets::ReminderPorts;
use crate::ports::StorageError;
use crate::{Actor, BookingEvent, EventId, EventKind, IdKind, due_offsets};

/// Bookings read per page of the round's scan.
const PAGE: u32 = 500;

/// Checks the active bookings starting in the next 30 days of services
/// with reminders and sends each due reminder ([`crate::due_offsets`]);
/// returns how many it sent. The store records each reminder with its
/// event in one transaction under a unique key, so a reminder another
/// process sent first (or this one, in an earlier round) is skipped.
pub async fn send_due_reminders(ports: ReminderPorts<'_>) -> Result<usize, StorageError> {
    let now = ports.clock.now();
    let mut after = None;
    let mut sent = 0;
    loop {
        let page = ports
            .bookings
            .reminder_candidates(now, after.take(), PAGE)
            .await?;
        let full = page.len() >= PAGE as usize;
        for (booking, offsets) in &page {
            for offset in due_offsets(booking, offsets, now) {
                let event = BookingEvent {
                    id: EventId::from_trusted(ports.ids.new_id(IdKind::Event)),
                    account_id: booking.account_id.clone(),
                    kind: EventKind::Reminder,
                    actor: Actor::System,
                    booking: booking.clone(),
                    previous_scheduled_at: None,
                    reminder_offset: Some(offset),
                    created_at: now,
                };
                if ports.bookings.record_reminder(&event, offset).await? {
                    sent += 1;
                }
            }
        }
        match page.last() {
            Some((last, _)) if full => after = Some((last.scheduled_at, last.id.clone())),
            _ => return Ok(sent),
        }
    }
}
