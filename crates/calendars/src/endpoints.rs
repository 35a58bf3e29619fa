//! Where the provider APIs are: configuration, not constants.
//!
//! The base URLs are configuration so tests (and a staging setup) can point
//! the adapters at local servers, and so a deployment can go through an API
//! gateway. API bases are *origins* (`https://www.googleapis.com`): each
//! adapter appends its API's documented path (`/calendar/v3/freeBusy`,
//! `/v1.0/me/calendarView`, `/users/me`, `/scheduled_events`), and paging
//! links are followed only while they stay on that origin. Token URLs are
//! whole URLs, as the providers publish them.
//!
//! These URLs are chosen by the operator, not by API clients, so they are
//! not passed through the SSRF guard; `http://` is accepted for local tests.

use booking_netguard::TargetError;
use reqwest::Url;

/// Environment variable of [`Endpoints::google_api`].
pub const GOOGLE_API_URL_VAR: &str = "BOOKING_GOOGLE_API_URL";
/// Environment variable of [`Endpoints::google_token`].
pub const GOOGLE_TOKEN_URL_VAR: &str = "BOOKING_GOOGLE_TOKEN_URL";
/// Environment variable of [`Endpoints::graph_api`].
pub const GRAPH_API_URL_VAR: &str = "BOOKING_GRAPH_API_URL";
/// Environment variable of [`Endpoints::microsoft_token`].
pub const MICROSOFT_TOKEN_URL_VAR: &str = "BOOKING_MICROSOFT_TOKEN_URL";
/// Environment variable of [`Endpoints::calendly_api`].
pub const CALENDLY_API_URL_VAR: &str = "BOOKING_CALENDLY_API_URL";

/// Default of [`Endpoints::google_api`].
pub const DEFAULT_GOOGLE_API: &str = "https://www.googleapis.com";
/// Default of [`Endpoints::google_token`].
pub const DEFAULT_GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
/// Default of [`Endpoints::graph_api`].
pub const DEFAULT_GRAPH_API: &str = "https://graph.microsoft.com";
/// Default of [`Endpoints::microsoft_token`].
pub const DEFAULT_MICROSOFT_TOKEN: &str =
    "https://login.microsoftonline.com/common/oauth2/v2.0/token";
/// Default of [`Endpoints::calendly_api`].
pub const DEFAULT_CALENDLY_API: &str = "https://api.calendly.com";

/// The provider URLs. [`Default`] is the real services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Origin of the Google Calendar API (`https://www.googleapis.com`).
    pub google_api: String,
    /// Google's OAuth token URL.
    pub google_token: String,
    /// Origin of Microsoft Graph (`https://graph.microsoft.com`).
    pub graph_api: String,
    /// The Microsoft identity platform's token URL.
    pub microsoft_token: String,
    /// Origin of the Calendly API v2 (`https://api.calendly.com`).
    pub calendly_api: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            google_api: DEFAULT_GOOGLE_API.to_owned(),
            google_token: DEFAULT_GOOGLE_TOKEN.to_owned(),
            graph_api: DEFAULT_GRAPH_API.to_owned(),
            microsoft_token: DEFAULT_MICROSOFT_TOKEN.to_owned(),
            calendly_api: DEFAULT_CALENDLY_API.to_owned(),
        }
    }
}

/// A configured URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct EndpointError {
    /// The environment variable that names the URL.
    pub variable: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Endpoints {
    /// The defaults, each replaced by the value `lookup` gives for its
    /// environment variable ([`GOOGLE_API_URL_VAR`], …) when there is a
    /// non-empty one. Not validated: [`Endpoints::validate`] does that.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Endpoints {
        let pick = |var: &str, default: String| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
        };
        let d = Endpoints::default();
        Endpoints {
            google_api: pick(GOOGLE_API_URL_VAR, d.google_api),
            google_token: pick(GOOGLE_TOKEN_URL_VAR, d.google_token),
            graph_api: pick(GRAPH_API_URL_VAR, d.graph_api),
            microsoft_token: pick(MICROSOFT_TOKEN_URL_VAR, d.microsoft_token),
            calendly_api: pick(CALENDLY_API_URL_VAR, d.calendly_api),
        }
    }

    /// [`Endpoints::from_lookup`] over the process environment.
    pub fn from_env() -> Endpoints {
        Endpoints::from_lookup(|var| std::env::var(var).ok())
    }

    /// Checks every URL: absolute `http(s)` with a host and no credentials or
    /// fragment; the API bases also without path (other than `/`) or query.
    pub fn validate(&self) -> Result<(), EndpointError> {
        parse_origin(GOOGLE_API_URL_VAR, &self.google_api)?;
        parse_url(GOOGLE_TOKEN_URL_VAR, &self.google_token)?;
        parse_origin(GRAPH_API_URL_VAR, &self.graph_api)?;
        parse_url(MICROSOFT_TOKEN_URL_VAR, &self.microsoft_token)?;
        parse_origin(CALENDLY_API_URL_VAR, &self.calendly_api)?;
        Ok(())
    }
}

/// A whole URL (a token endpoint).
pub(crate) fn parse_url(variable: &'static str, value: &str) -> Result<Url, EndpointError> {
    let error = |reason| EndpointError { variable, reason };
    // Scheme and host as written: `https:///x` has no host (see
    // `parse_http_url`), whatever the URL parser would make of it.
    let url = booking_netguard::parse_http_url(value.trim()).map_err(|e| match e {
        TargetError::UnsupportedScheme => error("must be an http or https URL"),
        TargetError::MissingHost => error("must have a host"),
        _ => error("not an absolute URL"),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(error("must not contain credentials"));
    }
    if url.fragment().is_some() {
        return Err(error("must not have a fragment"));
    }
    Ok(url)
}

/// An API origin (`https://host[:port]`, a trailing `/` allowed).
pub(crate) fn parse_origin(variable: &'static str, value: &str) -> Result<Url, EndpointError> {
    let url = parse_url(variable, value)?;
    if url.path() != "/" || url.query().is_some() {
        return Err(EndpointError {
            variable,
            reason: "must be an origin such as https://api.example.com, without path or query",
        });
    }
    Ok(url)
}

/// `path` (absolute, as the API documents it) on `origin`.
pub(crate) fn api_url(origin: &Url, path: &str) -> Url {
    let mut url = origin.clone();
    url.set_path(path);
    url.set_query(None);
    url
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn defaults_are_the_real_services_and_valid() {
        let d = Endpoints::default();
        assert_eq!(d.google_api, "https://www.googleapis.com");
        assert_eq!(d.google_token, "https://oauth2.googleapis.com/token");
        assert_eq!(d.graph_api, "https://graph.microsoft.com");
        assert_eq!(
            d.microsoft_token,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert_eq!(d.calendly_api, "https://api.calendly.com");
        d.validate().unwrap();
    }

    #[test]
    fn lookup_overrides_defaults() {
        let vars = HashMap::from([
            (GOOGLE_API_URL_VAR, "http://127.0.0.1:9000"),
            (
                MICROSOFT_TOKEN_URL_VAR,
                "http://127.0.0.1:9001/tenant/token",
            ),
            (CALENDLY_API_URL_VAR, "  "),
        ]);
        let e = Endpoints::from_lookup(|k| vars.get(k).map(|v| (*v).to_owned()));
        assert_eq!(e.google_api, "http://127.0.0.1:9000");
        assert_eq!(e.microsoft_token, "http://127.0.0.1:9001/tenant/token");
        assert_eq!(e.calendly_api, DEFAULT_CALENDLY_API);
        assert_eq!(e.graph_api, DEFAULT_GRAPH_API);
        e.validate().unwrap();
    }

    #[test]
    fn api_bases_must_be_origins() {
        let mut e = Endpoints {
            graph_api: "https://graph.microsoft.com/v1.0".to_owned(),
            ..Endpoints::default()
        };
        assert_eq!(e.validate().unwrap_err().variable, GRAPH_API_URL_VAR);
        e.graph_api = "https://graph.microsoft.com/".to_owned();
        e.validate().unwrap();
        e.calendly_api = "ftp://api.calendly.com".to_owned();
        assert_eq!(e.validate().unwrap_err().variable, CALENDLY_API_URL_VAR);
        e.calendly_api = "https://user:pw@api.calendly.com".to_owned();
        assert_eq!(
            e.validate().unwrap_err().reason,
            "must not contain credentials"
        );
        e.calendly_api = "api.calendly.com".to_owned();
        assert_eq!(e.validate().unwrap_err().reason, "not an absolute URL");
        for no_host in [
            "https:///nohost",
            "https:/api.calendly.com",
            "https:api.calendly.com",
        ] {
            e.calendly_api = no_host.to_owned();
            assert_eq!(
                e.validate().unwrap_err().reason,
                "must have a host",
                "{no_host}"
            );
        }
        e.calendly_api = DEFAULT_CALENDLY_API.to_owned();
        e.google_token = "https:///token".to_owned();
        let error = e.validate().unwrap_err();
        assert_eq!(
            (error.variable, error.reason),
            (GOOGLE_TOKEN_URL_VAR, "must have a host")
        );
    }

    #[test]
    fn api_paths_are_appended_to_the_origin() {
        let origin = parse_origin("X", "http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            api_url(&origin, "/calendar/v3/freeBusy").as_str(),
            "http://127.0.0.1:8080/calendar/v3/freeBusy"
        );
    }
}
