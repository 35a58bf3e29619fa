//! RFC 5545 (iCalendar) rendering of bookings.
