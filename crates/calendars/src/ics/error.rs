//! Why the ICS adapter could not be built ([`IcsBuildError`]) and why a
//! downloaded file yielded no busy time ([`IcsError`]). Below every other
//! `ics` module: they depend on it, it depends on none of them.

use booking_domain::FetchError;

/// Why the adapter could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsBuildError {
    /// reqwest refused the client configuration (for example, no TLS roots).
    #[error("could not build the ICS HTTP client: {0}")]
    Client(String),
}

/// Why a downloaded file yielded no busy time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    /// No `BEGIN:VCALENDAR` in it (an HTML sign-in page, say).
    #[error("the address did not return an iCalendar file")]
    NotICalendar,
    /// The structure is broken (a component that does not end, a line that
    /// is not a property). `line` is the line in the downloaded file.
    #[error("the calendar is not valid iCalendar (near line {line})")]
    Malformed {
        /// 1-based line number in the file as downloaded.
        line: usize,
    },
    /// Its recurrences would take more than [`EXPANSION_TIME_BUDGET`](super::EXPANSION_TIME_BUDGET) or
    /// [`MAX_OCCURRENCES_PER_CALENDAR`](super::MAX_OCCURRENCES_PER_CALENDAR) occurrences to expand.
    #[error("the calendar's recurring events are too many or too complex to expand")]
    TooComplex,
}

impl From<IcsError> for FetchError {
    fn from(error: IcsError) -> FetchError {
        FetchError::Upstream(error.to_string())
    }
}
