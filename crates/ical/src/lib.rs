//! RFC 5545 (iCalendar) rendering of bookings: a provider's subscribable
//! feed and the single-booking "add to calendar" file.
//!
//! Pure functions of the data: no I/O, no clock (the caller passes `now`), no
//! randomness. The same bookings always render to the same bytes, so the
//! [`etag`] of a body changes exactly when its content does.
//!
//! ```
//! use booking_ical::{CalendarMeta, Entry, etag, render_feed};
//! # fn handler(bookings: &[booking_domain::Booking]) {
//! let meta = CalendarMeta::new("Dr. Ada Lovelace");
//! let body = render_feed(&meta, bookings.iter().map(|booking| Entry {
//!     booking,
//!     service_name: "Consultation",
//! }));
//! let tag = etag(body.as_bytes()); // "\"<32 hex digits>\""
//! # let _ = tag;
//! # }
//! ```
//!
//! # What the output looks like, and why
//!
//! Real clients (Google Calendar, Outlook, Apple Calendar) are unforgiving,
//! so the output sticks to the strict reading of RFC 5545:
//!
//! - **CRLF everywhere**, including after the last line.
//! - **Lines of at most 75 octets**, CRLF excluded (§3.1). Longer content
//!   lines are folded with CRLF followed by one space; the space counts
//!   towards the 75, so a continuation line carries at most 74 octets of
//!   content. Folds are only placed between UTF-8 sequences, never inside
//!   one (a client that decodes physical lines before unfolding would
//!   otherwise see replacement characters).
//! - **TEXT values are escaped** (§3.3.11): `\` → `\\`, `;` → `\;`,
//!   `,` → `\,`, newline → `\n`. CRLF and a lone CR count as one newline:
//!   TEXT has no escape for a carriage return. Other control characters
//!   (U+0000–U+0008, U+000B–U+001F, U+007F) are not allowed in TEXT at all
//!   and are dropped; tab is kept. So unfolding and unescaping gives back
//!   the original text with its newlines normalised to LF and those control
//!   characters removed.
//! - **All times are UTC** (`20270118T150000Z`, §3.3.5 form #2), so no
//!   `VTIMEZONE` is needed; clients show them in the viewer's zone.
//!   Sub-second parts are truncated.
//!
//! ## Why the `ics` crate does not write the final bytes
//!
//! The component model (calendar and event properties, their names and
//! parameters, property order) is built with the [`ics`] crate, the team's
//! chosen dependency, and serialised by it. Two things are then done here:
//!
//! - **Folding.** `ics` 0.5 folds after 75 octets of content and then
//!   prepends the space, so every continuation line is 76 octets, one too
//!   many. Its output is re-folded here in one linear pass: its folds
//!   (CRLF + space, which nothing else in the output can produce since
//!   escaped values never contain CR or LF) are removed and the logical line
//!   is folded again at 75 octets including the leading space.
//! - **Escaping.** `ics::escape_text` turns CR into `\n` but leaves the other
//!   control characters in, which makes the line invalid. Values are
//!   escaped here instead, straight into one buffer per event.
//!
//! Each event is serialised by `ics` into a reused scratch buffer and
//! re-folded straight into the one output buffer, pre-sized from the
//! iterator's size hint: no quadratic copying and no per-event output
//! allocation. A 10,000-booking feed renders in about 12 ms on a
//! development machine (`cargo bench -p booking-ical`, `benches/feed.rs`).
//! Writing the bytes ourselves would be faster still, but the target (under
//! 20 ms) is met with `ics` in place.
//!
//! ## Properties
//!
//! Calendar: `VERSION:2.0`, `PRODID` ([`PRODID`]), `CALSCALE:GREGORIAN`,
//! `METHOD:PUBLISH`, the name twice (`NAME` from RFC 7986, `X-WR-CALNAME`
//! for Apple and Google, which ignore `NAME`), and for feeds the refresh
//! interval twice (`REFRESH-INTERVAL;VALUE=DURATION`, RFC 7986, and
//! `X-PUBLISHED-TTL`, which Outlook and Apple read).
//!
//! Event, in this order: `UID`, `DTSTAMP`, `CREATED`, `LAST-MODIFIED`,
//! `SEQUENCE`, `DTSTART`, `DTEND`, `STATUS`, `SUMMARY`, `DESCRIPTION`
//! (only when the booking has non-empty notes), `TRANSP`.
//!
//! - `UID` is `<booking id>@booking-api`: stable for the booking's life, so a
//!   client updates the event in place on reschedule or cancellation rather
//!   than adding a second one.
//! - `DTSTAMP` is the booking's `updated_at`, not the time of the request.
//!   RFC 5545 asks for the time the object was created when `METHOD` is
//!   present, but a wall-clock `DTSTAMP` would make every response differ,
//!   defeating the ETag and conditional requests, and would make clients
//!   think every event changed on every poll. `updated_at` only moves when
//!   the booking does, which is the information clients actually use it for
//!   (together with `SEQUENCE` and `LAST-MODIFIED`).
//! - `CREATED` and `LAST-MODIFIED` are `created_at` and `updated_at`.
//! - `SEQUENCE` is the booking's `sequence`, raised on each reschedule.
//!   RFC 5545 §3.8.7.4 also asks for an increment when `STATUS` changes;
//!   the domain does not count those, so for confirmations and
//!   cancellations clients go by `DTSTAMP` and `LAST-MODIFIED`.
//! - `DTEND` is `scheduled_at + duration`: buffers are the provider's
//!   business, not the customer's appointment.
//! - `STATUS`: pending → `TENTATIVE`, confirmed and completed → `CONFIRMED`,
//!   cancelled → `CANCELLED`.
//! - `SUMMARY` is `<service name> with <customer name>`; `DESCRIPTION` the
//!   customer's notes.
//! - `TRANSP` is `OPAQUE` on every event, as the feed's contract asks;
//!   cancelled bookings are told apart by `STATUS:CANCELLED`, which clients
//!   honour by removing (Google, Outlook) or striking (Apple) the event.
//!
//! # Which bookings a feed holds
//!
//! See [`in_feed`] and [`feed_window_start`]: everything that ends at most
//! 90 days ago, including all future bookings; cancelled bookings stay for
//! 30 days after their cancellation so subscribed clients see the
//! cancellation (rather than the event silently disappearing) and then drop
//! out. [`render_feed`] renders exactly the entries it is given.

mod etag;
mod fold;
mod render;
mod text;
mod window;

pub use etag::{etag, feed_tag};
pub use render::{CalendarMeta, DEFAULT_REFRESH, Entry, PRODID, render_booking, render_feed};
pub use window::{CANCELLED_RETENTION, FEED_HISTORY, feed_window_start, in_feed};
