//! Durations from configuration and the retry schedule of a delivery.
//!
//! Operators write durations as `30s`, `5m`, `1h` (`BOOKING_WEBHOOK_TIMEOUT`,
//! `BOOKING_WEBHOOK_RETRY_DELAYS`), so parsing and printing them lives here,
//! in one place, rather than in each caller.
//!
//! [`RetryPolicy::next_delay`] is pure: the random part (jitter) is an
//! argument, so the schedule is deterministic under test and the worker only
//! draws a number. Jitter exists so that many deliveries failing together
//! (a receiver outage) do not all come back at the same instant.

use std::time::Duration;

/// The retry delays used when `BOOKING_WEBHOOK_RETRY_DELAYS` is not set.
pub const DEFAULT_RETRY_DELAYS: &str = "30s,5m,30m";

/// The per-attempt timeout used when `BOOKING_WEBHOOK_TIMEOUT` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most retry delays a schedule may list.
pub const MAX_RETRIES: usize = 20;

/// The smallest factor jitter applies to a delay (`jitter` = 0).
pub const JITTER_MIN_FACTOR: f64 = 0.8;

/// The width of the jitter band: a delay is multiplied by a factor in
/// `[JITTER_MIN_FACTOR, JITTER_MIN_FACTOR + JITTER_SPREAD)`, i.e. `[0.8, 1.2)`.
pub const JITTER_SPREAD: f64 = 0.4;

/// Why a duration or a list of delays was refused. The messages name the
/// offending text, which comes from configuration and holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// An empty duration (also an empty item of a list, as in `30s,,5m`).
    #[error("empty duration")]
    Empty,
    /// The text does not start with digits, or they do not form a number.
    #[error("`{0}` is not a duration: expected a whole number followed by ms, s, m, h or d")]
    Invalid(String),
    /// The number is followed by something other than `ms`, `s`, `m`, `h` or `d`.
    #[error("`{0}` has an unknown unit: expected ms, s, m, h or d")]
    UnknownUnit(String),
    /// A duration of zero.
    #[error("`{0}` must be greater than zero")]
    Zero(String),
    /// A duration too large to represent.
    #[error("`{0}` is too large")]
    TooLarge(String),
    /// More delays than [`MAX_RETRIES`].
    #[error("at most {max} retry delays are allowed, got {got}")]
    TooMany {
        /// The limit, [`MAX_RETRIES`].
        max: usize,
        /// How many were given.
        got: usize,
    },
}

/// Parses one duration: a positive whole number directly followed by a unit,
/// `ms`, `s`, `m` (minutes), `h` or `d` (24 hours). Examples: `250ms`, `30s`,
/// `5m`, `2h`, `1d`. Surrounding whitespace is ignored; anything else (a
/// sign, a fraction, a space between number and unit, no unit) is refused.
pub fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ScheduleError::Empty);
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() || !unit.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(ScheduleError::Invalid(text.to_owned()));
    }
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => return Err(ScheduleError::Invalid(text.to_owned())),
        _ => return Err(ScheduleError::UnknownUnit(text.to_owned())),
    };
    // Only ASCII digits remain, so the one failure left is overflow.
    let value: u64 = number
        .parse()
        .map_err(|_| ScheduleError::TooLarge(text.to_owned()))?;
    if value == 0 {
        return Err(ScheduleError::Zero(text.to_owned()));
    }
    let millis = value
        .checked_mul(millis_per_unit)
        .ok_or_else(|| ScheduleError::TooLarge(text.to_owned()))?;
    Ok(Duration::from_millis(millis))
}

/// Prints a duration the way [`parse_duration`] reads it, with the largest
/// unit that divides it exactly (`10s`, `5m`, `1500ms`). Sub-millisecond
/// parts are dropped; zero prints as `0s`.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

/// Parses a comma-separated list of retry delays such as `30s,5m,30m`, one
/// delay per retry. Whitespace around items is allowed.
///
/// An empty (or all-whitespace) text means **no retries**: each delivery is
/// attempted once. That is the one way to switch retries off, so it is
/// accepted rather than refused. An empty item inside a list (`30s,,5m`, or
/// a trailing comma) is refused as a likely typo. At most [`MAX_RETRIES`]
/// delays.
pub fn parse_delays(text: &str) -> Result<Vec<Duration>, ScheduleError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<&str> = text.split(',').collect();
    if items.len() > MAX_RETRIES {
        return Err(ScheduleError::TooMany {
            max: MAX_RETRIES,
            got: items.len(),
        });
    }
    items.into_iter().map(parse_duration).collect()
}

/// When to try a delivery again: one delay per retry, so a delivery is
/// attempted at most `1 + delays.len()` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay before retry `i + 1` (before jitter), in order.
    pub delays: Vec<Duration>,
}

impl Default for RetryPolicy {
    /// The contract's default, [`DEFAULT_RETRY_DELAYS`]: 30 s, 5 min, 30 min.
    fn default() -> Self {
        RetryPolicy {
            delays: vec![
                Duration::from_secs(30),
                Duration::from_secs(5 * 60),
                Duration::from_secs(30 * 60),
            ],
        }
    }
}

impl RetryPolicy {
    /// A policy from configuration text, as read by [`parse_delays`].
    pub fn parse(text: &str) -> Result<RetryPolicy, ScheduleError> {
        parse_delays(text).map(|delays| RetryPolicy { delays })
    }

    /// How many attempts a delivery gets in all: the first one plus one per
    /// configured delay.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// How long to wait before the next attempt, after `attempts_made`
    /// attempts have failed; `None` when no retry is left (give up).
    ///
    /// - `attempts_made == 0`: nothing was tried yet, the first attempt is due
    ///   now: `Some(Duration::ZERO)`.
    /// - otherwise the delay is `delays[attempts_made - 1]` multiplied by
    ///   `0.8 + 0.4 × jitter`, so a uniform `jitter` in `[0, 1)` spreads it
    ///   uniformly over `[0.8, 1.2)` × delay, rounded to whole milliseconds.
    ///   A `jitter` outside `[0, 1]` is clamped; NaN counts as 0.5 (no change).
    /// - `retry_after` (from the receiver's `Retry-After`) is a floor: the
    ///   answer is at least that long. It never adds a retry beyond the
    ///   schedule.
    pub fn next_delay(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        let Some(index) = attempts_made.checked_sub(1) else {
            return Some(Duration::ZERO);
        };
        let base = *self.delays.get(usize::try_from(index).ok()?)?;
        let jitter = if jitter.is_nan() {
            0.5
        } else {
            jitter.clamp(0.0, 1.0)
        };
        let factor = JITTER_MIN_FACTOR + JITTER_SPREAD * jitter;
        // `as` from f64 saturates (and the value is finite and positive), so
        // an absurdly long configured delay cannot panic here.
        let millis = (base.as_millis() as f64 * factor).round() as u64;
        let delay = Duration::from_millis(millis);
        Some(match retry_after {
            Some(floor) => delay.max(floor),
            None => delay,
        })
    }

    /// [`RetryPolicy::next_delay`] with jitter drawn from the thread-local
    /// random generator.
    pub fn next_delay_jittered(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        self.next_delay(attempts_made, retry_after, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(secs(30)));
        assert_eq!(parse_duration("5m"), Ok(secs(300)));
        assert_eq!(parse_duration("2h"), Ok(secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(secs(86_400)));
        assert_eq!(parse_duration("  10s \t"), Ok(secs(10)));
        assert_eq!(parse_duration("007s"), Ok(secs(7)));
    }

    #[test]
    fn refuses_malformed_durations() {
        assert_eq!(parse_duration(""), Err(ScheduleError::Empty));
        assert_eq!(parse_duration("   "), Err(ScheduleError::Empty));
        for text in [
            "s", "10", "-5s", "+5s", "1.5s", "ms", "abc", "5 s", "5s5", "1_000s",
        ] {
            assert!(
                matches!(parse_duration(text), Err(ScheduleError::Invalid(_))),
                "{text:?} -> {:?}",
                parse_duration(text)
            );
        }
        for text in ["5sec", "5S", "5M", "5min", "5us"] {
            assert!(
                matches!(parse_duration(text), Err(ScheduleError::UnknownUnit(_))),
                "{text:?} -> {:?}",
                parse_duration(text)
            );
        }
        assert!(matches!(parse_duration("0s"), Err(ScheduleError::Zero(_))));
        assert!(matches!(parse_duration("0ms"), Err(ScheduleError::Zero(_))));
        assert!(matches!(
            parse_duration("99999999999999999999s"),
            Err(ScheduleError::TooLarge(_))
        ));
        assert!(matches!(
            parse_duration("18446744073709551615d"),
            Err(ScheduleError::TooLarge(_))
        ));
    }

    #[test]
    fn errors_name_the_offending_text() {
        let message = parse_duration("5x").unwrap_err().to_string();
        assert!(message.contains("`5x`"), "{message}");
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(secs(10)), "10s");
        assert_eq!(format_duration(secs(300)), "5m");
        assert_eq!(format_duration(secs(90)), "90s");
        assert_eq!(format_duration(secs(7200)), "2h");
        assert_eq!(format_duration(secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_micros(2_000_700)), "2s");
    }

    #[test]
    fn parses_the_default_delays() {
        assert_eq!(
            parse_delays(DEFAULT_RETRY_DELAYS),
            Ok(vec![secs(30), secs(300), secs(1800)])
        );
        assert_eq!(
            RetryPolicy::parse(DEFAULT_RETRY_DELAYS),
            Ok(RetryPolicy::default())
        );
    }

    #[test]
    fn delays_allow_whitespace_around_items() {
        assert_eq!(
            parse_delays(" 1s , 2m,3h "),
            Ok(vec![secs(1), secs(120), secs(10_800)])
        );
        assert_eq!(parse_delays("45s"), Ok(vec![secs(45)]));
    }

    #[test]
    fn empty_delays_mean_no_retries() {
        assert_eq!(parse_delays(""), Ok(vec![]));
        assert_eq!(parse_delays("  "), Ok(vec![]));
        let policy = RetryPolicy::parse("").unwrap();
        assert_eq!(policy.max_attempts(), 1);
        assert_eq!(policy.next_delay(1, None, 0.5), None);
    }

    #[test]
    fn refuses_empty_items_and_bad_items() {
        assert_eq!(parse_delays("30s,,5m"), Err(ScheduleError::Empty));
        assert_eq!(parse_delays("30s,"), Err(ScheduleError::Empty));
        assert_eq!(parse_delays(",30s"), Err(ScheduleError::Empty));
        assert!(matches!(
            parse_delays("30s,5x"),
            Err(ScheduleError::UnknownUnit(_))
        ));
        assert!(matches!(
            parse_delays("30s,0m"),
            Err(ScheduleError::Zero(_))
        ));
    }

    #[test]
    fn at_most_twenty_delays() {
        let twenty = vec!["1s"; MAX_RETRIES].join(",");
        assert_eq!(parse_delays(&twenty).map(|d| d.len()), Ok(MAX_RETRIES));
        let twenty_one = vec!["1s"; MAX_RETRIES + 1].join(",");
        assert_eq!(
            parse_delays(&twenty_one),
            Err(ScheduleError::TooMany { max: 20, got: 21 })
        );
    }

    #[test]
    fn max_attempts_is_one_plus_the_retries() {
        assert_eq!(RetryPolicy::default().max_attempts(), 4);
        assert_eq!(RetryPolicy { delays: vec![] }.max_attempts(), 1);
    }

    #[test]
    fn next_delay_walks_the_schedule_with_no_jitter_at_half() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.next_delay(0, None, 0.5), Some(Duration::ZERO));
        assert_eq!(policy.next_delay(1, None, 0.5), Some(secs(30)));
        assert_eq!(policy.next_delay(2, None, 0.5), Some(secs(300)));
        assert_eq!(policy.next_delay(3, None, 0.5), Some(secs(1800)));
        assert_eq!(policy.next_delay(4, None, 0.5), None);
        assert_eq!(policy.next_delay(u32::MAX, None, 0.5), None);
    }

    #[test]
    fn jitter_spreads_over_point_eight_to_one_point_two() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.next_delay(1, None, 0.0), Some(secs(24)));
        assert_eq!(policy.next_delay(1, None, 0.25), Some(secs(27)));
        assert_eq!(policy.next_delay(1, None, 0.75), Some(secs(33)));
        assert_eq!(policy.next_delay(1, None, 1.0), Some(secs(36)));
        // Out-of-range jitter is clamped, NaN means none.
        assert_eq!(policy.next_delay(1, None, -3.0), Some(secs(24)));
        assert_eq!(policy.next_delay(1, None, 7.0), Some(secs(36)));
        assert_eq!(policy.next_delay(1, None, f64::NAN), Some(secs(30)));
        assert_eq!(policy.next_delay(1, None, f64::INFINITY), Some(secs(36)));
    }

    #[test]
    fn retry_after_is_a_floor_not_an_extra_retry() {
        let policy = RetryPolicy::default();
        // Longer than the jittered delay: wins.
        assert_eq!(policy.next_delay(1, Some(secs(120)), 0.5), Some(secs(120)));
        // Shorter: the schedule wins.
        assert_eq!(policy.next_delay(2, Some(secs(7)), 0.0), Some(secs(240)));
        // No retry left: Retry-After does not add one.
        assert_eq!(policy.next_delay(4, Some(secs(7)), 0.5), None);
    }

    #[test]
    fn huge_delays_do_not_panic() {
        let policy = RetryPolicy {
            delays: vec![Duration::MAX],
        };
        assert!(policy.next_delay(1, None, 1.0).is_some());
        assert!(policy.next_delay(1, Some(Duration::MAX), 0.0).is_some());
    }

    #[test]
    fn random_jitter_stays_in_the_band() {
        let policy = RetryPolicy::default();
        for _ in 0..200 {
            let delay = policy.next_delay_jittered(1, None).unwrap();
            assert!(delay >= secs(24) && delay <= secs(36), "{delay:?}");
        }
        assert_eq!(policy.next_delay_jittered(4, None), None);
    }

    mod proptests {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn format_then_parse_round_trips(millis in 1u64..=10_000_000_000) {
                let duration = Duration::from_millis(millis);
                prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
            }

            #[test]
            fn parse_never_panics(text in "\\PC{0,12}") {
                let _ = parse_duration(&text);
                let _ = parse_delays(&text);
            }

            #[test]
            fn jittered_delay_is_within_the_band_and_above_retry_after(
                delays in proptest::collection::vec(1u64..=10_000_000, 0..=MAX_RETRIES),
                attempts in 0u32..=25,
                jitter in 0.0f64..1.0,
                retry_after in proptest::option::of(0u64..=100_000_000),
            ) {
                let policy = RetryPolicy {
                    delays: delays.iter().copied().map(Duration::from_millis).collect(),
                };
                let retry_after = retry_after.map(Duration::from_millis);
                let next = policy.next_delay(attempts, retry_after, jitter);
                if attempts == 0 {
                    prop_assert_eq!(next, Some(Duration::ZERO));
                } else if attempts >= policy.max_attempts() {
                    prop_assert_eq!(next, None);
                } else {
                    let base = delays[attempts as usize - 1] as f64;
                    let got = next.unwrap();
                    let floor = retry_after.unwrap_or(Duration::ZERO);
                    prop_assert!(got >= floor);
                    let ms = got.as_millis() as f64;
                    if got > floor {
                        prop_assert!(ms >= (base * 0.8).floor() && ms <= (base * 1.2).ceil(),
                            "{} not in band of {}", ms, base);
                    }
                }
            }

            #[test]
            fn jitter_is_monotonic(
                delay in 1u64..=10_000_000,
                a in 0.0f64..1.0,
                b in 0.0f64..1.0,
            ) {
                let policy = RetryPolicy { delays: vec![Duration::from_millis(delay)] };
                let (low, high) = if a <= b { (a, b) } else { (b, a) };
                prop_assert!(policy.next_delay(1, None, low) <= policy.next_delay(1, None, high));
            }
        }
    }
}
