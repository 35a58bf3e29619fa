//! Tests of the wire types and their shared helpers.

use booking_domain::CalendarSource;
use jiff::Timestamp;

use super::common::{EARLIEST, LATEST, NOT_AN_INSTANT, YEAR_RANGE};
use super::*;

#[test]
fn availability_json_is_what_serde_writes() {
    use booking_domain::scheduling::Slot;
    let t = |s: &str| s.parse::<Timestamp>().unwrap();
    let slot = |a: &str, b: &str| Slot {
        start: t(a),
        end: t(b),
    };
    for slots in [
        vec![],
        vec![
            slot("0000-01-01T00:00:00Z", "0000-01-01T00:15:00Z"),
            slot("1999-12-31T23:45:00Z", "2000-01-01T00:00:00Z"),
            slot("2000-01-01T00:00:00Z", "2000-01-01T00:15:00Z"),
            slot("2024-02-29T23:59:59Z", "2024-03-01T00:00:59Z"),
            slot("2024-03-10T06:59:00Z", "2024-03-10T07:59:00Z"),
            slot("9999-12-30T21:00:00Z", "9999-12-30T21:59:59Z"),
        ],
        // Outside 0-9999: the general formatter.
        vec![Slot {
            start: Timestamp::MIN,
            end: Timestamp::MAX,
        }],
    ] {
        let out = AvailabilityOut {
            service_id: "srv_\"quoted\"\u{e9}".into(),
            timezone: "America/New_York".into(),
            slots: Slots(slots),
            providers: None,
        };
        let direct = out.to_json().unwrap();
        let serde = serde_json::to_vec(&out).unwrap();
        assert_eq!(
            String::from_utf8(direct).unwrap(),
            String::from_utf8(serde).unwrap()
        );
    }
}

#[test]
fn integer_fields_take_whole_numbers_written_as_floats() {
    let base = serde_json::json!({
        "name": "S", "duration": 60.0, "buffer_after": 15,
        "price": {"amount": 1, "currency": "USD", "type": "flat"},
        "availability": {"days": ["monday"], "hours": {"start": "09:00", "end": "17:00"}, "timezone": "UTC"}
    });
    let parsed: CreateService = serde_json::from_value(base.clone()).unwrap();
    assert_eq!(
        (parsed.duration, parsed.buffer_after, parsed.buffer_before),
        (60, 15, 0)
    );
    let mut fractional = base.clone();
    fractional["duration"] = serde_json::json!(60.5);
    assert!(serde_json::from_value::<CreateService>(fractional).is_err());
    let patch: UpdateService =
        serde_json::from_value(serde_json::json!({"minimum_notice": 30.0})).unwrap();
    assert_eq!(patch.minimum_notice, Some(30));
    let empty: UpdateService = serde_json::from_value(serde_json::json!({})).unwrap();
    assert_eq!(empty.minimum_notice, None);
}

#[test]
fn instants_are_rfc_3339_in_years_1_to_9999_with_offsets_within_a_day() {
    let ok = |text: &str| parse_ts(text, "at").map(fmt_ts);
    let err = |text: &str| parse_ts(text, "at").unwrap_err().message;
    assert_eq!(ok("2024-01-20T10:00:00Z").unwrap(), "2024-01-20T10:00:00Z");
    assert_eq!(
        ok("2024-01-20T10:00:00+23:59").unwrap(),
        "2024-01-19T10:01:00Z"
    );
    assert_eq!(
        ok("2024-01-20T10:00:00-23:59").unwrap(),
        "2024-01-21T09:59:00Z"
    );
    assert_eq!(ok("0001-01-01T00:00:00Z").unwrap(), "0001-01-01T00:00:00Z");
    assert_eq!(ok("9999-12-30T22:00:00Z").unwrap(), "9999-12-30T22:00:00Z");
    assert_eq!(
        ok("9999-12-31T03:00:00+05:00").unwrap(),
        "9999-12-30T22:00:00Z"
    );
    for offset in ["+25:00", "-25:00", "+24:00", "+23:59:01", "-24:30"] {
        assert_eq!(
            err(&format!("2024-01-20T10:00:00{offset}")),
            "the offset must be from -23:59 to +23:59",
            "{offset}"
        );
    }
    for year in [
        "0000-01-01T00:00:00Z",
        "-000001-01-01T00:00:00Z",
        "-009999-01-01T00:00:00Z",
        "+002024-01-20T10:00:00Z",
        "+010000-01-01T00:00:00Z",
    ] {
        assert_eq!(err(year), YEAR_RANGE, "{year}");
    }
    assert_eq!(err("0001-01-01T00:30:00+01:00"), EARLIEST);
    // RFC 3339's shape only: jiff alone takes these ISO 8601 forms.
    for other in [
        "2027-08-02T14:00Z",
        "20270802T160000Z",
        "2027-08-02T16:00:00+0000",
        "2027-08-02T16:00:00",
        "2027-08-02 16:00:00Z",
        "2027-08-02T16:00:00.Z",
        "2027-08-02T16:00:00Z ",
        "2027-08-02T16:00:00+00",
        "2027-08-02",
    ] {
        assert_eq!(err(other), NOT_AN_INSTANT, "{other}");
    }
    assert_eq!(
        ok("2027-08-02t16:00:00.250z").unwrap(),
        "2027-08-02T16:00:00Z"
    );
    assert_eq!(
        ok("2027-08-02T16:00:00.123456789-05:30").unwrap(),
        "2027-08-02T21:30:00Z"
    );
    for late in [
        "9999-12-30T22:00:01Z",
        "9999-12-31T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:00:00+05:00",
    ] {
        assert_eq!(err(late), LATEST, "{late}");
    }
    for junk in [
        "",
        "2024-01-20",
        "2024-01-20T10:00:00",
        "tomorrow",
        "2024-13-01T00:00:00Z",
    ] {
        assert_eq!(err(junk), NOT_AN_INSTANT, "{junk:?}");
    }
}

#[test]
fn urls_are_normalised_and_need_a_host() {
    let ics = |url: &str| {
        CreateCalendar {
            kind: "ics".into(),
            url: Some(url.into()),
            calendar_id: None,
            credentials: None,
            username: None,
            password: None,
            write: None,
        }
        .try_into_domain()
    };
    assert_eq!(
        ics("webcal://Example.COM:443/a/../cal.ics").unwrap(),
        (
            CalendarSource::Ics {
                url: "https://example.com/cal.ics".into()
            },
            false
        )
    );
    assert_eq!(ics("https:///nohost").unwrap_err().field, "url");
    let hook = CreateWebhook {
        url: "HTTPS://Hooks.Example.com".into(),
        events: None,
        description: None,
    };
    assert_eq!(
        hook.try_into_domain().unwrap().url,
        "https://hooks.example.com/"
    );
    let patch = UpdateWebhook {
        url: Some("https:/nohost".into()),
        events: None,
        enabled: None,
        description: None,
    };
    assert_eq!(
        patch.try_into_domain().unwrap_err().message,
        "must have a host"
    );
}

#[test]
fn dates_have_four_digit_years_from_1() {
    assert!(parse_date("2024-01-20", "from", "x").is_ok());
    assert!(parse_date("0001-01-01", "from", "x").is_ok());
    assert_eq!(
        parse_date("0000-01-01", "from", "x").unwrap_err().message,
        YEAR_RANGE
    );
    assert_eq!(
        parse_date("-001-01-01", "from", "x").unwrap_err().message,
        YEAR_RANGE
    );
    assert_eq!(
        parse_date("2024-02-30", "from", "x").unwrap_err().message,
        "x"
    );
}

#[test]
fn fast_formatting_matches_jiff() {
    let mut t = Timestamp::from_second(-62_135_596_800).unwrap(); // 0001-01-01
    let step = jiff::SignedDuration::from_secs(7_777_777 + 13);
    while let Ok(next) = t.checked_add(step) {
        assert_eq!(fmt_ts(t), t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        let json = serde_json::to_string(&Slots(vec![booking_domain::scheduling::Slot {
            start: t,
            end: t,
        }]))
        .unwrap();
        assert_eq!(
            json,
            format!("[{{\"start\":\"{0}\",\"end\":\"{0}\"}}]", fmt_ts(t))
        );
        t = next;
    }
    for s in [
        "2024-02-29T23:59:59Z",
        "2000-03-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "2100-02-28T12:34:56Z",
    ] {
        assert_eq!(fmt_ts(s.parse().unwrap()), s);
    }
}
