//! OAuth 2.0 access tokens for the provider APIs: when to refresh, how, and
//! the one-retry rule after a 401.
//!
//! Access tokens of Google and the Microsoft identity platform live about an
//! hour, so most syncs of a connection find the stored token expired. The
//! stored credentials therefore carry a refresh token and the OAuth client
//! that can use it, and a fetch refreshes:
//!
//! - **before** the first call, when the access token is missing or expires
//!   within [`EXPIRY_MARGIN`] of the request's `now` (the margin covers clock
//!   skew and the time the calls themselves take);
//! - **after** a call answered 401 (the token was revoked or the stored
//!   expiry was wrong), then the call is sent once more.
//!
//! A fetch refreshes at most once. A 401 after a refresh, a 401 with no way
//! to refresh, or a refresh the token endpoint refuses is
//! [`FetchError::Unauthorized`]: the connection needs the account to
//! authorise again, and retrying would only hammer the provider.
//!
//! The refresh is the `refresh_token` grant both providers document: a
//! form-encoded POST of `grant_type`, `refresh_token`, `client_id` and
//! `client_secret` (Microsoft also wants `scope`, see [`MICROSOFT_SCOPE`]).
//! The answer's `access_token` and `expires_in` replace the stored ones; a
//! rotated `refresh_token` (Microsoft sends a new one each time) replaces the
//! old one. The new credentials are handed back in
//! [`FetchOutcome::refreshed`](booking_domain::FetchOutcome) for the caller
//! to store, since the old refresh token may stop working.
//!
//! Tokens never appear in errors or logs: messages name the service and the
//! provider's error code (`invalid_grant`) only.

use booking_domain::{FetchError, OAuthCredentials};
use jiff::{SignedDuration, Timestamp};
use reqwest::{Client, RequestBuilder, StatusCode, Url};
use serde::Deserialize;

use crate::client::{Answer, HttpClient, error_code};

/// The scope asked for when refreshing a Microsoft token: reading calendars,
/// and `offline_access` so a new refresh token comes back.
pub const MICROSOFT_SCOPE: &str = "https://graph.microsoft.com/Calendars.Read offline_access";

/// The scope asked for when refreshing the Microsoft token of a connection
/// that also writes bookings: `Calendars.ReadWrite` (which reading needs
/// too, so reads and writes of such a connection share one token).
pub const MICROSOFT_WRITE_SCOPE: &str =
    "https://graph.microsoft.com/Calendars.ReadWrite offline_access";

/// An access token that expires within this margin of now is refreshed
/// before use.
pub const EXPIRY_MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// An OAuth token endpoint (the whole URL) and what a refresh there sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEndpoint {
    /// The token URL (`https://oauth2.googleapis.com/token`).
    pub url: Url,
    /// The `scope` parameter to send, if the provider wants one.
    pub scope: Option<String>,
    /// The name errors use (`Google's token endpoint`).
    pub name: &'static str,
}

/// The token endpoint's success answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Whether `credentials` need a refresh before use at `now`: no access
/// token, or one that expires within [`EXPIRY_MARGIN`].
pub fn needs_refresh(credentials: &OAuthCredentials, now: Timestamp) -> bool {
    if credentials
        .access_token
        .as_deref()
        .is_none_or(str::is_empty)
    {
        return true;
    }
    match credentials.expires_at {
        Some(expires_at) => now
            .checked_add(EXPIRY_MARGIN)
            .is_ok_and(|limit| expires_at <= limit),
        None => false,
    }
}

/// Exchanges the refresh token of `credentials` for a new access token at
/// `endpoint`, and returns the updated credentials (`expires_at` counted
/// from `now`; the refresh token replaced if the answer rotates it).
///
/// Errors: [`FetchError::Unauthorized`] when the credentials cannot refresh
/// or the endpoint refuses them (400/401, with the OAuth error code);
/// [`FetchError::Upstream`] when it fails otherwise (after retries) or
/// answers something unreadable.
pub async fn refresh(
    http: &HttpClient,
    endpoint: &TokenEndpoint,
    credentials: &OAuthCredentials,
    now: Timestamp,
) -> Result<OAuthCredentials, FetchError> {
    let (Some(refresh_token), Some(client_id), Some(client_secret)) = (
        credentials.refresh_token.as_deref(),
        credentials.client_id.as_deref(),
        credentials.client_secret.as_deref(),
    ) else {
        return Err(FetchError::Unauthorized(
            "the access token expired and there is no refresh token with its OAuth client"
                .to_owned(),
        ));
    };
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
        ("client_secret", client_secret),
    ];
    if let Some(scope) = endpoint.scope.as_deref() {
        form.push(("scope", scope));
    }
    let answer = http
        .send(endpoint.name, |client| {
            client
                .post(endpoint.url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form)
        })
        .await?;

    match answer.status {
        status if status.is_success() => {}
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => {
            let code = error_code(&answer.body).unwrap_or_else(|| answer.status.to_string());
            tracing::info!(endpoint = endpoint.name, code = %code, "token refresh refused");
            return Err(FetchError::Unauthorized(format!(
                "{} refused the refresh token ({code})",
                endpoint.name
            )));
        }
        _ => return Err(answer.unexpected(endpoint.name)),
    }

    let token: TokenAnswer = answer.json(endpoint.name)?;
    if token.access_token.is_empty() {
        return Err(FetchError::Upstream(format!(
            "{} answered an empty access token",
            endpoint.name
        )));
    }
    let expires_in = token.expires_in.as_ref().and_then(|v| match v {
        // Microsoft's older endpoints send the number as a string.
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        other => other.as_i64(),
    });
    let expires_at = expires_in
        .filter(|seconds| *seconds >= 0)
        .and_then(|seconds| now.checked_add(SignedDuration::from_secs(seconds)).ok());

    let mut updated = credentials.clone();
    updated.access_token = Some(token.access_token);
    updated.expires_at = expires_at;
    if let Some(rotated) = token.refresh_token.filter(|t| !t.is_empty()) {
        updated.refresh_token = Some(rotated);
    }
    tracing::debug!(endpoint = endpoint.name, "access token refreshed");
    Ok(updated)
}

/// The credentials of one fetch: refreshes them as the module documentation
/// says and remembers whether it did.
pub(crate) struct Session<'a> {
    http: &'a HttpClient,
    service: &'static str,
    endpoint: Option<&'a TokenEndpoint>,
    credentials: OAuthCredentials,
    refreshed: bool,
    now: Timestamp,
}

impl<'a> Session<'a> {
    /// A session for calls to `service`; `endpoint` is `None` for APIs whose
    /// tokens cannot be refreshed here (Calendly personal access tokens).
    pub fn new(
        http: &'a HttpClient,
        service: &'static str,
        endpoint: Option<&'a TokenEndpoint>,
        credentials: &OAuthCredentials,
        now: Timestamp,
    ) -> Session<'a> {
        Session {
            http,
            service,
            endpoint,
            credentials: credentials.clone(),
            refreshed: false,
            now,
        }
    }

    /// Whether a refresh is still possible in this fetch.
    fn can_refresh(&self) -> bool {
        !self.refreshed && self.endpoint.is_some() && self.credentials.can_refresh()
    }

    async fn refresh(&mut self) -> Result<(), FetchError> {
        let Some(endpoint) = self.endpoint else {
            return Err(FetchError::Unauthorized(format!(
                "{} tokens cannot be refreshed",
                self.service
            )));
        };
        self.credentials = refresh(self.http, endpoint, &self.credentials, self.now).await?;
        self.refreshed = true;
        Ok(())
    }

    /// The access token to send, refreshed first if it is missing or about
    /// to expire and a refresh is possible.
    async fn access_token(&mut self) -> Result<String, FetchError> {
        if needs_refresh(&self.credentials, self.now) && self.can_refresh() {
            self.refresh().await?;
        }
        match self.credentials.access_token.as_deref() {
            Some(token) if !token.is_empty() => Ok(token.to_owned()),
            _ => Err(FetchError::Unauthorized(format!(
                "no access token for {} and no refresh token to get one",
                self.service
            ))),
        }
    }

    /// Sends the request `build` makes with the access token (as
    /// `Authorization: Bearer`); on a 401, refreshes once (if possible and
    /// not done yet in this fetch) and sends it once more.
    pub async fn send(
        &mut self,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Answer, FetchError> {
        let token = self.access_token().await?;
        let answer = self
            .http
            .send(self.service, |client| build(client).bearer_auth(&token))
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        if !self.can_refresh() {
            return Err(self.refused(&answer));
        }
        tracing::debug!(service = self.service, "access token refused; refreshing");
        self.refresh().await?;
        let token = self.access_token().await?;
        let answer = self
            .http
            .send(self.service, |client| build(client).bearer_auth(&token))
            .await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            return Err(self.refused(&answer));
        }
        Ok(answer)
    }

    fn refused(&self, answer: &Answer) -> FetchError {
        let mut message = format!("{} refused the access token", self.service);
        if let Some(code) = error_code(&answer.body) {
            message.push_str(&format!(" ({code})"));
        }
        if self.refreshed {
            message.push_str(" even after a refresh");
        } else if self.endpoint.is_some() {
            message.push_str(" and there is no refresh token to renew it");
        }
        FetchError::Unauthorized(message)
    }

    /// The credentials to store, if this fetch refreshed them.
    pub fn into_refreshed(self) -> Option<OAuthCredentials> {
        self.refreshed.then_some(self.credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: Option<&str>, expires_at: Option<&str>) -> OAuthCredentials {
        OAuthCredentials {
            access_token: token.map(str::to_owned),
            expires_at: expires_at.map(|t| t.parse().unwrap()),
            ..OAuthCredentials::default()
        }
    }

    #[test]
    fn expiry_margin_is_sixty_seconds_inclusive() {
        let now: Timestamp = "2027-01-18T15:00:00Z".parse().unwrap();
        assert!(needs_refresh(&creds(None, None), now));
        assert!(needs_refresh(&creds(Some(""), None), now));
        assert!(!needs_refresh(&creds(Some("t"), None), now));
        assert!(needs_refresh(
            &creds(Some("t"), Some("2027-01-18T15:01:00Z")),
            now
        ));
        assert!(!needs_refresh(
            &creds(Some("t"), Some("2027-01-18T15:01:01Z")),
            now
        ));
        assert!(needs_refresh(
            &creds(Some("t"), Some("2027-01-18T14:00:00Z")),
            now
        ));
    }
}
