//! Byte-exact golden files. Regenerate with `UPDATE_GOLDEN=1 cargo test -p
//! booking-ical`, then review the diff: every byte is a promise to clients.

use std::path::PathBuf;

use booking_ical::{Entry, etag, render_booking, render_feed};

use crate::fixtures::{assert_line_rules, entries, feed_bookings, feed_meta};

fn check_golden(name: &str, actual: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", name]
        .iter()
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual.as_bytes() {
        let expected = String::from_utf8_lossy(&expected);
        let first = expected
            .split_inclusive('\n')
            .zip(actual.split_inclusive('\n'))
            .position(|(e, a)| e != a)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the rendering, first at line {}:\nexpected {:?}\nactual   {:?}",
            path.display(),
            first + 1,
            expected.split_inclusive('\n').nth(first),
            actual.split_inclusive('\n').nth(first),
        );
    }
}

#[test]
fn feed_matches_golden_file() {
    let bookings = feed_bookings();
    let body = render_feed(&feed_meta(), entries(&bookings));
    assert_line_rules(&body);
    check_golden("feed.ics", &body);
}

#[test]
fn single_booking_matches_golden_file() {
    let bookings = feed_bookings();
    let (booking, service_name) = &bookings[5];
    let body = render_booking(Entry {
        booking,
        service_name,
    });
    assert_line_rules(&body);
    check_golden("booking.ics", &body);
}

#[test]
fn empty_feed_matches_golden_file() {
    let body = render_feed(&feed_meta(), []);
    assert_line_rules(&body);
    check_golden("empty.ics", &body);
}

#[test]
fn rendering_is_a_pure_function_and_the_etag_follows_content() {
    let bookings = feed_bookings();
    let first = render_feed(&feed_meta(), entries(&bookings));
    let second = render_feed(&feed_meta(), entries(&bookings));
    assert_eq!(first, second);
    assert_eq!(etag(first.as_bytes()), etag(second.as_bytes()));

    let tag = etag(first.as_bytes());
    assert_eq!(tag.len(), 34);
    assert!(tag.starts_with('"') && tag.ends_with('"'));
    assert!(
        tag[1..33]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    // A change (a confirmation moves updated_at) changes the body and the tag.
    let mut changed = bookings.clone();
    changed[0].0 = changed[0]
        .0
        .confirm("2027-01-05T10:00:00Z".parse().unwrap())
        .unwrap();
    let third = render_feed(&feed_meta(), entries(&changed));
    assert_ne!(etag(third.as_bytes()), tag);
}
