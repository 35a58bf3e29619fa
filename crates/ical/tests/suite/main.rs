//! The booking-ical test suite: golden files, an independent parser,
//! property tests of the line rules and the feed window.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod golden;
mod parse;
mod props;
mod window;
