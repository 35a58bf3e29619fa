//! Free slots: `GET /v1/services/{id}/availability`, and why a time is
//! not available: `GET /v1/services/{id}/availability/explain`.

use booking_domain::scheduling::{Explanation, Reason};
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{TsWriter, fmt_ts, serialize_ts};

/// One slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotOut {
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub start: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub end: String,
    /// Only with `?include=providers`: the providers free for the slot (of
    /// a round-robin service, those a booking may go to; of a collective
    /// one, all of them; of a one-provider service, that provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_ids: Option<Vec<String>>,
}

/// Slots as the API returns them, serialized straight from the domain's
/// slots (no intermediate strings: an answer can hold thousands).
#[derive(Debug)]
pub struct Slots(pub Vec<booking_domain::scheduling::Slot>);

impl Serialize for Slots {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Ts(Timestamp);
        impl Serialize for Ts {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serialize_ts(self.0, s)
            }
        }
        struct One<'a>(&'a booking_domain::scheduling::Slot);
        impl Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("start", &Ts(self.0.start))?;
                map.serialize_entry("end", &Ts(self.0.end))?;
                map.end()
            }
        }
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for slot in &self.0 {
            seq.serialize_element(&One(slot))?;
        }
        seq.end()
    }
}

/// `GET /v1/services/{id}/availability` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityOut {
    /// The service.
    pub service_id: String,
    /// Its IANA zone.
    pub timezone: String,
    /// Free slots, ascending.
    #[schema(value_type = Vec<SlotOut>)]
    pub slots: Slots,
    /// With `?include=providers`: per slot (same order), the free
    /// providers' ids, written into each slot as `provider_ids`.
    #[schema(ignore)]
    #[serde(skip)]
    pub providers: Option<Vec<Vec<String>>>,
}

impl AvailabilityOut {
    /// The answer as JSON: the bytes `serde_json` writes for it, produced
    /// directly. Slots are fixed-shape ASCII and an answer can hold
    /// thousands, so they are appended without the serializer's per-string
    /// escaping scan, with each slot's date formatted once per day.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let slots = &self.slots.0;
        let mut out = Vec::with_capacity(96 + slots.len() * 56);
        out.extend_from_slice(b"{\"service_id\":");
        serde_json::to_writer(&mut out, &self.service_id)?;
        out.extend_from_slice(b",\"timezone\":");
        serde_json::to_writer(&mut out, &self.timezone)?;
        out.extend_from_slice(b",\"slots\":[");
        let mut ts = TsWriter::default();
        for (i, slot) in slots.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"start\":\"");
            ts.write(&mut out, slot.start);
            out.extend_from_slice(b"\",\"end\":\"");
            ts.write(&mut out, slot.end);
            out.push(b'"');
            if let Some(free) = self.providers.as_ref().and_then(|p| p.get(i)) {
                out.extend_from_slice(b",\"provider_ids\":");
                serde_json::to_writer(&mut out, free)?;
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }
}

/// A range of instants, RFC 3339 UTC.
#[derive(Debug, Serialize, ToSchema)]
pub struct RangeOut {
    /// Start.
    #[schema(format = DateTime)]
    pub start: String,
    /// End (exclusive).
    #[schema(format = DateTime)]
    pub end: String,
}

/// One rule a time breaks (`code` says which; the other fields belong to
/// that code). Instants are RFC 3339 UTC.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonOut {
    /// The start is not a whole minute.
    NotWholeMinute,
    /// The start has passed.
    Past,
    /// Earlier than the service's `minimum_notice` allows.
    Notice {
        /// The first start the notice allows.
        #[schema(format = DateTime)]
        earliest: String,
    },
    /// At or after now + `booking_horizon`.
    Horizon {
        /// Starts must be before this instant.
        #[schema(format = DateTime)]
        latest: String,
    },
    /// The local day has no opening hours.
    ClosedDay {
        /// Whether a date override closed it (else its weekday is closed).
        #[serde(rename = "override")]
        by_override: bool,
    },
    /// The day is open, but the appointment does not fit inside a window.
    OutsideHours {
        /// The day's window nearest to the start (null when every window of
        /// the day falls in a daylight-saving gap).
        window: Option<RangeOut>,
    },
    /// The day has `max_bookings_per_day` active bookings of the service.
    DailyLimit {
        /// The cap.
        limit: u32,
    },
    /// An active booking of the provider is in the way.
    Booked {
        /// The booking (left out in answers through a customer link,
        /// which never name another customer's booking).
        #[schema(required = false)]
        booking_id: String,
        /// Its start (without buffers).
        #[schema(format = DateTime)]
        start: String,
        /// Its end (without buffers).
        #[schema(format = DateTime)]
        end: String,
        /// Whether only buffers overlap, not the appointments themselves.
        buffer: bool,
    },
    /// The provider's time off.
    TimeOff {
        /// The time off (`off_…`; left out through a customer link).
        #[schema(required = false)]
        time_off_id: String,
        /// Its start.
        #[schema(format = DateTime)]
        start: String,
        /// Its end.
        #[schema(format = DateTime)]
        end: String,
    },
    /// A busy block of one of the provider's external calendars.
    ExternalBusy {
        /// The calendar connection (`cal_…`; left out through a customer
        /// link).
        #[schema(required = false)]
        calendar_id: String,
        /// Its type (`ics`, `google`, `outlook`, `calendly`).
        #[serde(rename = "type")]
        kind: String,
        /// The block's start.
        #[schema(format = DateTime)]
        start: String,
        /// The block's end.
        #[schema(format = DateTime)]
        end: String,
    },
    /// Someone else's hold.
    Held {
        /// The hold (left out through a customer link).
        #[schema(required = false)]
        hold_id: String,
        /// When it ends.
        #[schema(format = DateTime)]
        expires_at: String,
    },
}

impl From<&Reason> for ReasonOut {
    fn from(r: &Reason) -> Self {
        match r {
            Reason::NotWholeMinute => ReasonOut::NotWholeMinute,
            Reason::Past => ReasonOut::Past,
            Reason::Notice { earliest } => ReasonOut::Notice {
                earliest: fmt_ts(*earliest),
            },
            Reason::Horizon { latest } => ReasonOut::Horizon {
                latest: fmt_ts(*latest),
            },
            Reason::ClosedDay { by_override } => ReasonOut::ClosedDay {
                by_override: *by_override,
            },
            Reason::OutsideHours { window } => ReasonOut::OutsideHours {
                window: window.map(|w| RangeOut {
                    start: fmt_ts(w.start()),
                    end: fmt_ts(w.end()),
                }),
            },
            Reason::DailyLimit { limit } => ReasonOut::DailyLimit { limit: *limit },
            Reason::Booked {
                booking_id,
                start,
                end,
                buffer,
            } => ReasonOut::Booked {
                booking_id: booking_id.to_string(),
                start: fmt_ts(*start),
                end: fmt_ts(*end),
                buffer: *buffer,
            },
            Reason::TimeOff {
                time_off_id,
                start,
                end,
            } => ReasonOut::TimeOff {
                time_off_id: time_off_id.to_string(),
                start: fmt_ts(*start),
                end: fmt_ts(*end),
            },
            Reason::ExternalBusy {
                calendar_id,
                kind,
                start,
                end,
            } => ReasonOut::ExternalBusy {
                calendar_id: calendar_id.to_string(),
                kind: kind.clone(),
                start: fmt_ts(*start),
                end: fmt_ts(*end),
            },
            Reason::Held {
                hold_id,
                expires_at,
            } => ReasonOut::Held {
                hold_id: hold_id.to_string(),
                expires_at: fmt_ts(*expires_at),
            },
        }
    }
}

/// `GET /v1/services/{id}/availability/explain` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainOut {
    /// The service.
    pub service_id: String,
    /// The start asked about (UTC).
    #[schema(format = DateTime)]
    pub at: String,
    /// `at` + the service's duration.
    #[schema(format = DateTime)]
    pub end: String,
    /// Whether `POST /v1/bookings` at `at` would succeed now (`reasons` is
    /// empty).
    pub available: bool,
    /// Whether `at` is a start of its window's slot grid (then it is in the
    /// availability list exactly when `available`).
    pub on_grid: bool,
    /// Every rule the time breaks, in a fixed order: NOT_WHOLE_MINUTE, PAST,
    /// NOTICE, HORIZON, CLOSED_DAY or OUTSIDE_HOURS, DAILY_LIMIT, then each
    /// BOOKED, TIME_OFF, EXTERNAL_BUSY and HELD by start.
    pub reasons: Vec<ReasonOut>,
    /// The first slot at or after `at` within 62 days (null: none).
    #[schema(format = DateTime)]
    pub next_available: Option<String>,
    /// Of a team service only: each provider's own answer, in team order.
    /// The service's `available` is true when one of them is (round robin)
    /// or all are (collective); its `reasons` are then empty, else every
    /// reason of these answers, each once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderExplainOut>,
}

/// One provider's part of a team service's explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderExplainOut {
    /// The provider.
    pub provider_id: String,
    /// Whether this provider is free for a booking at `at` now.
    pub available: bool,
    /// Every rule the time breaks for this provider (service-wide ones
    /// such as PAST or OUTSIDE_HOURS included).
    pub reasons: Vec<ReasonOut>,
    /// This provider's first free slot at or after `at` within 62 days.
    #[schema(format = DateTime)]
    pub next_available: Option<String>,
}

impl ProviderExplainOut {
    /// One provider's answer.
    pub fn new(provider_id: &str, e: &Explanation) -> ProviderExplainOut {
        ProviderExplainOut {
            provider_id: provider_id.to_owned(),
            available: e.available,
            reasons: e.reasons.iter().map(ReasonOut::from).collect(),
            next_available: e.next_available.map(fmt_ts),
        }
    }
}

impl ExplainOut {
    /// The answer for `service_id`.
    pub fn new(service_id: &str, e: &Explanation) -> ExplainOut {
        ExplainOut {
            service_id: service_id.to_owned(),
            at: fmt_ts(e.at),
            end: fmt_ts(e.end),
            available: e.available,
            on_grid: e.on_grid,
            reasons: e.reasons.iter().map(ReasonOut::from).collect(),
            next_available: e.next_available.map(fmt_ts),
            providers: Vec::new(),
        }
    }
}
