//! Free slots: `GET /v1/services/{id}/availability`.

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{TsWriter, serialize_ts};

/// One slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotOut {
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub start: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub end: String,
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
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }
}
