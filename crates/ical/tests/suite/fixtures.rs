//! Bookings built with the domain's public constructors, and helpers that
//! read rendered calendars without using the crate's own code.

use booking_domain::{
    AccountId, Booking, BookingId, BookingStatus, Currency, Customer, Email, Metadata, Minutes,
    Money, ProviderId, ServiceId,
};
use booking_ical::{CalendarMeta, Entry};
use jiff::Timestamp;

pub fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A confirmed one-hour booking; override fields with `..base()`.
pub fn base() -> Booking {
    Booking {
        id: BookingId::from_trusted("bk_base"),
        account_id: AccountId::from_trusted("acc_1"),
        service_id: ServiceId::from_trusted("srv_consultation"),
        provider_id: ProviderId::from_trusted("prv_1"),
        provider_ids: Vec::new(),
        duration: Minutes::new(60),
        scheduled_at: t("2027-01-18T15:00:00Z"),
        buffer_before: Minutes::new(10),
        buffer_after: Minutes::new(5),
        status: BookingStatus::Confirmed,
        customer: Customer {
            email: Email::parse("customer@example.com", "email").unwrap(),
            name: "Customer".into(),
        },
        price: Money::from_minor(15_000, Currency::parse("USD").unwrap()).unwrap(),
        notes: None,
        metadata: Metadata::default(),
        cancel_reason: None,
        sequence: 0,
        created_at: t("2027-01-02T09:30:00Z"),
        updated_at: t("2027-01-02T09:30:00Z"),
        link: None,
    }
}

pub fn customer(name: &str) -> Customer {
    Customer {
        email: Email::parse("customer@example.com", "email").unwrap(),
        name: name.into(),
    }
}

pub const FEED_NAME: &str = "Dr. María Núñez, Cardiology; Room 4";

pub fn feed_meta() -> CalendarMeta<'static> {
    CalendarMeta::new(FEED_NAME)
}

pub const LONG_NAME: &str =
    "山田 花子 (Hanako Yamada) 🌸🌸🌸 東京都渋谷区からのお客様 👩‍⚕️ Ñandú Øresund Þórr";

pub fn long_note() -> String {
    "予約の前に、問診票を記入してください。アレルギー：ペニシリン；ラテックス。\n\
     🙂🙃 Emoji: 👨‍👩‍👧‍👦 family, 🇯🇵 flag; Ελληνικά, Русский, العربية, עברית.\n"
        .repeat(3)
        + "Ends with a backslash \\"
}

/// The golden feed: every status, a reschedule, escapes and long
/// multi-byte text, each with its service's name.
pub fn feed_bookings() -> Vec<(Booking, &'static str)> {
    vec![
        (
            Booking {
                id: BookingId::from_trusted("bk_pending01"),
                status: BookingStatus::Pending,
                customer: customer("Alice Martin"),
                ..base()
            },
            "Initial consultation",
        ),
        (
            Booking {
                id: BookingId::from_trusted("bk_confirmed02"),
                duration: Minutes::new(30),
                scheduled_at: t("2027-01-19T09:00:00Z"),
                customer: customer("Bob O'Neil"),
                notes: Some(
                    "Gate code 4711; ring twice, please.\nPath on the stick: \
                     C:\\Users\\bob\\scan.pdf\r\nThanks!"
                        .into(),
                ),
                created_at: t("2027-01-03T10:00:00Z"),
                updated_at: t("2027-01-04T08:15:00Z"),
                ..base()
            },
            "Follow-up, 30 min; video",
        ),
        (
            Booking {
                id: BookingId::from_trusted("bk_cancelled03"),
                duration: Minutes::new(45),
                scheduled_at: t("2027-01-20T14:00:00Z"),
                status: BookingStatus::Cancelled,
                customer: customer("Chloé Dubois"),
                cancel_reason: Some("sick".into()),
                updated_at: t("2027-01-10T12:00:00Z"),
                ..base()
            },
            "Initial consultation",
        ),
        (
            Booking {
                id: BookingId::from_trusted("bk_completed04"),
                scheduled_at: t("2026-12-01T10:00:00Z"),
                status: BookingStatus::Completed,
                customer: customer("Dmitri Ivanov"),
                notes: Some("Paid in cash.".into()),
                created_at: t("2026-11-20T08:00:00Z"),
                updated_at: t("2026-12-01T11:05:00Z"),
                ..base()
            },
            "Initial consultation",
        ),
        (
            Booking {
                id: BookingId::from_trusted("bk_rescheduled05"),
                duration: Minutes::new(90),
                scheduled_at: t("2027-01-25T16:30:00Z"),
                customer: customer("Eve Li"),
                sequence: 2,
                created_at: t("2027-01-01T00:00:00Z"),
                updated_at: t("2027-01-12T17:45:12Z"),
                ..base()
            },
            "Initial consultation",
        ),
        (
            Booking {
                id: BookingId::from_trusted("bk_unicode06"),
                duration: Minutes::new(50),
                scheduled_at: t("2027-02-01T23:30:00Z"),
                status: BookingStatus::Pending,
                customer: customer(LONG_NAME),
                notes: Some(long_note()),
                created_at: t("2027-01-15T06:07:08Z"),
                updated_at: t("2027-01-15T06:07:08Z"),
                ..base()
            },
            "Initial consultation",
        ),
    ]
}

pub fn entries<'a>(bookings: &'a [(Booking, &'static str)]) -> Vec<Entry<'a>> {
    bookings
        .iter()
        .map(|(booking, service_name)| Entry {
            booking,
            service_name,
        })
        .collect()
}

/// RFC 5545 DATE-TIME in UTC, formatted by jiff rather than by the crate.
pub fn utc(ts: Timestamp) -> String {
    ts.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// What a TEXT value round-trips to: newlines normalised to LF, control
/// characters other than tab and LF removed.
pub fn normalized(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\t' || c == '\n' || !(c.is_ascii_control()))
        .collect()
}

/// Removes folds (CRLF followed by one space or tab).
pub fn unfold(text: &str) -> String {
    text.replace("\r\n ", "").replace("\r\n\t", "")
}

/// Reverses TEXT escaping (strictly: any other escape is an error).
pub fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some(';') => out.push(';'),
            Some(',') => out.push(','),
            Some('n' | 'N') => out.push('\n'),
            other => panic!("invalid escape \\{other:?} in {value:?}"),
        }
    }
    out
}

/// The raw values of every `name:` content line (no parameters) of an
/// unfolded calendar, in order.
pub fn raw_values<'a>(unfolded: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}:");
    unfolded
        .split("\r\n")
        .filter_map(|line| line.strip_prefix(prefix.as_str()))
        .collect()
}

/// Checks the physical rules of RFC 5545 §3.1 on a whole calendar: CRLF
/// line ends only, lines of at most 75 octets each valid UTF-8 on its own,
/// folds as CRLF + one space, no empty lines.
pub fn assert_line_rules(body: &str) {
    let bytes = body.as_bytes();
    assert!(body.ends_with("\r\n"), "must end with CRLF");
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at byte {i}");
        }
        if b == b'\r' {
            assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at byte {i}");
        }
    }
    let lines: Vec<&[u8]> = bytes[..bytes.len() - 2]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    for line in &lines {
        assert!(!line.is_empty(), "empty line");
        assert!(
            line.len() <= 75,
            "{} octets: {:?}",
            line.len(),
            String::from_utf8_lossy(line)
        );
        assert!(
            std::str::from_utf8(line).is_ok(),
            "line splits a UTF-8 sequence: {line:?}"
        );
        assert!(line[0] != b'\t', "fold with a tab");
        if line[0] == b' ' {
            assert!(line.len() > 1, "empty continuation line");
        }
    }
    assert!(lines[0] == b"BEGIN:VCALENDAR");
    assert!(lines[lines.len() - 1] == b"END:VCALENDAR");
}
