//! The server-side request forgery (SSRF) guard for outbound requests to
//! URLs that API clients choose: webhook targets and external calendar (ICS)
//! URLs.
//!
//! Such a URL is chosen by an API client, and our server connects to it.
//! Without a guard a client could make the server call its own loopback
//! services, the private network behind it, or the cloud metadata endpoint
//! (169.254.169.254, `fd00:ec2::254`, `metadata.google.internal`) and read
//! credentials through delivery logs. So, unless private targets are allowed
//! (`BOOKING_WEBHOOK_ALLOW_PRIVATE=true`, for tests and closed networks):
//!
//! - only `https://` URLs are accepted;
//! - a URL whose host is an IP literal is checked directly
//!   ([`check_url_syntax`]); reqwest never resolves literals, so the
//!   transport calls this before every send;
//! - a host name is checked when the endpoint is saved ([`check_target`])
//!   **and again at connection time** by [`GuardedResolver`], because a DNS
//!   answer can change between the two (DNS rebinding). The resolver hands the
//!   connector only allowed addresses, so what is checked is what is dialled.
//!
//! [`forbidden_reason`] is the single list of refused address ranges.
//! Error messages are safe to show to API clients: they never quote the URL
//! (whose query may carry a token).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The longest webhook URL accepted (the same limit as the domain's).
pub const MAX_URL_LEN: usize = 2048;

/// How long a host lookup may take in [`check_target`] and [`GuardedResolver`].
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a webhook target was refused. The messages are meant for API clients
/// and never include the URL itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute URL.
    #[error("not a valid URL")]
    InvalidUrl,
    /// Longer than [`MAX_URL_LEN`].
    #[error("must be at most 2048 characters")]
    TooLong,
    /// A scheme other than `http` or `https`.
    #[error("must be an http or https URL")]
    UnsupportedScheme,
    /// `http://` while private targets are not allowed.
    #[error("must use https")]
    HttpsRequired,
    /// No host: nothing between `//` and the path (`https:///x`, which the
    /// URL parser alone would read as `https://x/`), or no `//` at all.
    #[error("must have a host")]
    MissingHost,
    /// A user name or password in the URL.
    #[error("must not contain credentials")]
    Credentials,
    /// `localhost`, `*.localhost` or `metadata.google.internal`.
    #[error("host is not allowed ({0})")]
    ForbiddenHost(&'static str),
    /// The host is, or resolves to, an address in a refused range; the
    /// category comes from [`forbidden_reason`].
    #[error("resolves to a forbidden address ({0})")]
    ForbiddenAddress(&'static str),
    /// The host name has no address.
    #[error("host not found")]
    HostNotFound,
    /// The lookup did not finish within [`LOOKUP_TIMEOUT`].
    #[error("host lookup timed out")]
    LookupTimedOut,
}

/// Why `ip` must not be a webhook target, as a short category name, or
/// `None` when it is an ordinary public address.
///
/// IPv6 forms that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`,
/// 6to4 `2002::/16`, Teredo `2001::/32`) are judged by the embedded address.
/// IPv6 outside the global unicast block `2000::/3` (and NAT64) is refused.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_unspecified() => "unspecified",
        (0, _, _) => "this network",
        (127, _, _) => "loopback",
        (10, _, _) => "private",
        (172, 16..=31, _) => "private",
        (192, 168, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        (192, 0, 0) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (192, 88, 99) => "reserved",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    };
    Some(reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    let bits = u128::from(ip);
    // The IPv4 address in the low 32 bits.
    let low_v4 = Ipv4Addr::from(bits as u32);

    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (SIIT translated).
    if bits >> 32 == 0xffff || bits >> 32 == 0xffff_0000 {
        return forbidden_v4(low_v4);
    }
    // ::a.b.c.d, deprecated IPv4-compatible: the embedded address decides,
    // and a public one is still refused, as nothing legitimate uses the form.
    if bits >> 32 == 0 {
        return Some(forbidden_v4(low_v4).unwrap_or("reserved"));
    }
    // NAT64: the well-known prefix and the local-use one (RFC 8215).
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 || segments[..3] == [0x64, 0xff9b, 1] {
        return forbidden_v4(low_v4);
    }
    match segments[0] {
        0xfc00..=0xfdff => return Some("unique-local"),
        0xfe80..=0xfebf => return Some("link-local"),
        0xfec0..=0xfeff => return Some("site-local"),
        0xff00..=0xffff => return Some("multicast"),
        _ => {}
    }
    // Everything else outside global unicast 2000::/3 (discard-only 100::/64,
    // unassigned space) has no business being a webhook target.
    if segments[0] & 0xe000 != 0x2000 {
        return Some("reserved");
    }
    if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        return Some("documentation");
    }
    if segments[0] == 0x3fff && segments[1] & 0xf000 == 0 {
        // 3fff::/20 (RFC 9637).
        return Some("documentation");
    }
    if segments[0] == 0x2001 && segments[1] == 0x0002 && segments[2] == 0 {
        return Some("benchmarking");
    }
    if segments[0] == 0x2002 {
        // 6to4: the IPv4 address is in bits 16..48.
        let embedded = Ipv4Addr::from((bits >> 80) as u32);
        return forbidden_v4(embedded);
    }
    if segments[0] == 0x2001 && segments[1] == 0 {
        // Teredo: the server in bits 32..64, the client inverted in 96..128.
        let server = Ipv4Addr::from((bits >> 64) as u32);
        let client = Ipv4Addr::from(!(bits as u32));
        return forbidden_v4(client).or_else(|| forbidden_v4(server));
    }
    None
}

/// Host names refused whatever they resolve to.
fn forbidden_host_name(host: &str) -> Option<&'static str> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        Some("localhost")
    } else if host == "metadata.google.internal" {
        Some("cloud metadata")
    } else {
        None
    }
}

/// The IP address of a URL's host when it is an IP literal. The URL parser
/// has already normalised every IPv4 spelling (`2130706433`, `0x7f.1`) to
/// dotted decimal and put IPv6 in brackets.
fn ip_literal(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// Parses an absolute `http` or `https` URL that names its host: `scheme://`
/// then a host, as written. The WHATWG parser alone is lenient with the
/// slashes of these schemes (`https:///x`, `https:/x` and `https:x` all
/// become `https://x/`); such text is refused as having no host rather than
/// guessed at.
///
/// The parsed [`Url`] is the normalised form to store and call (its
/// serialisation: lower-case scheme and host, IDNA host, default port
/// dropped, `/` for an empty path, percent-encoding where needed).
pub fn parse_http_url(url: &str) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|_| TargetError::InvalidUrl)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::UnsupportedScheme);
    }
    if !names_host(url) || parsed.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::MissingHost);
    }
    Ok(parsed)
}

/// Whether `url`, read as the URL parser reads it (tabs and newlines
/// dropped, spaces and controls trimmed at both ends, `\\` as `/`), has
/// `scheme://` followed by something other than `/`, `?`, `#` or the end.
fn names_host(url: &str) -> bool {
    let text: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    text.split_once(':')
        .and_then(|(_, rest)| rest.strip_prefix("//"))
        .and_then(|authority| authority.chars().next())
        .is_some_and(|c| !matches!(c, '/' | '?' | '#'))
}

/// Checks a webhook URL without any network access: an absolute `http` or
/// `https` URL of at most [`MAX_URL_LEN`] characters, with a host and no
/// credentials. Unless `allow_private`: `https` only, and a host that is
/// neither a refused IP literal nor `localhost`, `*.localhost` or
/// `metadata.google.internal`.
///
/// With `allow_private`, everything else is allowed, including `http://`
/// and loopback.
pub fn check_url_syntax(url: &str, allow_private: bool) -> Result<Url, TargetError> {
    if url.len() > MAX_URL_LEN {
        return Err(TargetError::TooLong);
    }
    let parsed = parse_http_url(url)?;
    if parsed.scheme() == "http" && !allow_private {
        return Err(TargetError::HttpsRequired);
    }
    let host = parsed.host_str().ok_or(TargetError::MissingHost)?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::Credentials);
    }
    if allow_private {
        return Ok(parsed);
    }
    if let Some(ip) = ip_literal(&parsed) {
        if let Some(reason) = forbidden_reason(ip) {
            return Err(TargetError::ForbiddenAddress(reason));
        }
    } else if let Some(reason) = forbidden_host_name(host) {
        return Err(TargetError::ForbiddenHost(reason));
    }
    Ok(parsed)
}

/// Resolves `host` (port 0) and returns every address, or the error to
/// report. A lookup error is reported as "host not found".
async fn lookup(host: &str) -> Result<Vec<SocketAddr>, TargetError> {
    let lookup = tokio::net::lookup_host((host, 0));
    match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
        Err(_) => Err(TargetError::LookupTimedOut),
        Ok(Err(_)) => Err(TargetError::HostNotFound),
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(TargetError::HostNotFound)
            } else {
                Ok(addrs)
            }
        }
    }
}

/// [`check_url_syntax`], then, unless `allow_private`, resolves the host
/// and refuses the target when **any** address it resolves to is forbidden
/// (a host with one private address among public ones could be dialled on
/// the private one), or when it resolves to nothing. Used when an endpoint
/// is saved; the transport checks again at send time.
pub async fn check_target(url: &str, allow_private: bool) -> Result<Url, TargetError> {
    let parsed = check_url_syntax(url, allow_private)?;
    if allow_private || ip_literal(&parsed).is_some() {
        return Ok(parsed);
    }
    let host = parsed.host_str().ok_or(TargetError::MissingHost)?;
    refuse_any_forbidden(&lookup(host).await?)?;
    Ok(parsed)
}

/// The rule of [`check_target`]: every address allowed, and at least one.
fn refuse_any_forbidden(addrs: &[SocketAddr]) -> Result<(), TargetError> {
    if addrs.is_empty() {
        return Err(TargetError::HostNotFound);
    }
    match addrs.iter().find_map(|addr| forbidden_reason(addr.ip())) {
        Some(reason) => Err(TargetError::ForbiddenAddress(reason)),
        None => Ok(()),
    }
}

/// The rule of [`GuardedResolver`]: keep the allowed addresses; none left
/// is an error naming the first refused category.
fn keep_allowed(addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, TargetError> {
    let mut refused = None;
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|addr| match forbidden_reason(addr.ip()) {
            Some(reason) => {
                refused.get_or_insert(reason);
                false
            }
            None => true,
        })
        .collect();
    match (allowed.is_empty(), refused) {
        (false, _) => Ok(allowed),
        (true, Some(reason)) => Err(TargetError::ForbiddenAddress(reason)),
        (true, None) => Err(TargetError::HostNotFound),
    }
}

/// A reqwest DNS resolver that only ever returns allowed addresses.
///
/// It resolves with the system resolver (`tokio::net::lookup_host`) and drops
/// every forbidden address; when none is left it fails with
/// "resolves to a forbidden address (…)", and refuses the host names of
/// [`check_url_syntax`] outright. Install it on the client when private
/// targets are not allowed. The error is a [`TargetError`] in the source
/// chain of the reqwest error, so the transport can tell it apart.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl GuardedResolver {
    /// The allowed addresses of `host`, or why there are none.
    pub async fn resolve_allowed(host: &str) -> Result<Vec<SocketAddr>, TargetError> {
        if let Some(reason) = forbidden_host_name(host) {
            return Err(TargetError::ForbiddenHost(reason));
        }
        keep_allowed(lookup(host).await?)
    }

    /// The resolver, shared, as `ClientBuilder::dns_resolver` takes it.
    pub fn shared() -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let allowed = GuardedResolver::resolve_allowed(&host).await?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Parses a `Retry-After` value, shared by every outbound client (webhook
/// deliveries, calendar APIs, ICS downloads): delta-seconds (`120`) or an
/// HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`, relative to `now`; a date in
/// the past means no wait). `None` when the value is neither form. Callers
/// cap the wait as their schedule requires.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and that means "very long".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    // Negative (a date in the past) becomes zero.
    Some(Duration::try_from(date.duration_since(now)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn reason(ip: &str) -> Option<&'static str> {
        forbidden_reason(ip.parse().unwrap())
    }

    #[test]
    fn every_ipv4_category_is_refused() {
        for (ip, expected) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network"),
            ("0.255.255.255", "this network"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("169.254.0.1", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.255", "shared (CGNAT)"),
            ("192.0.0.8", "reserved"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("192.88.99.1", "reserved"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("254.1.2.3", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv4_neighbours_of_refused_ranges_are_public() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "192.0.1.1",
            "192.0.3.1",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.101.1",
            "203.0.114.1",
            "126.255.255.255",
            "128.0.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_ipv6_category_is_refused() {
        for (ip, expected) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "unique-local"),
            ("fd00:ec2::254", "unique-local"),
            ("fdff:ffff::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2001:db8:ffff::1", "documentation"),
            ("3fff::1", "documentation"),
            ("2001:2::1", "benchmarking"),
            ("100::1", "reserved"),
            ("1::1", "reserved"),
            ("4000::1", "reserved"),
            ("::2", "this network"),
            ("3fff:fff:ffff::1", "documentation"),
        ] {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv6_embedding_a_forbidden_ipv4_is_refused() {
        for (ip, expected) in [
            // IPv4-mapped.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:7f00:1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:0.0.0.0", "unspecified"),
            // SIIT IPv4-translated.
            ("::ffff:0:192.168.0.1", "private"),
            // IPv4-compatible (deprecated): refused even when public.
            ("::127.0.0.1", "loopback"),
            ("::10.0.0.1", "private"),
            ("::8.8.8.8", "reserved"),
            // NAT64 well-known and local-use prefixes.
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b:1::192.168.1.1", "private"),
            // 6to4 (2002:AABB:CCDD::/48 embeds AA.BB.CC.DD).
            ("2002:7f00:1::1", "loopback"),
            ("2002:a9fe:a9fe::", "link-local"),
            ("2002:c0a8:101::1", "private"),
            // Teredo: client 127.0.0.1 inverted is 80ff:fffe.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),
            // Teredo: a private server.
            ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "private"),
        ] {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_ipv6_is_allowed() {
        for ip in [
            "2606:2800::1",
            "2606:2800:220:1:248:1893:25c8:1946",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "::ffff:93.184.216.34",
            "64:ff9b::93.184.216.34",
            "64:ff9b:1::8.8.8.8",
            "2002:5db8:d822::1",
            "2001:db9::1",
            "3ffe::1",
            "3fff:1000::1",
            // Teredo with public server and client (8.8.8.8 inverted).
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn url_syntax_accepts_public_https() {
        let url = check_url_syntax("https://example.com/hook?token=abc", false).unwrap();
        assert_eq!(url.host_str(), Some("example.com"));
        check_url_syntax("https://93.184.216.34:8443/x", false).unwrap();
        check_url_syntax("https://[2606:2800::1]/x", false).unwrap();
        check_url_syntax("HTTPS://Example.COM", false).unwrap();
    }

    #[test]
    fn url_syntax_refuses_malformed_urls() {
        for url in [
            "",
            "example.com",
            "/relative",
            "https://",
            "https://[::1",
            "not a url",
            "https://exa mple.com",
        ] {
            let error = check_url_syntax(url, true).unwrap_err();
            assert!(
                matches!(error, TargetError::InvalidUrl | TargetError::MissingHost),
                "{url:?} -> {error:?}"
            );
        }
        for url in [
            "ftp://example.com",
            "file:///etc/passwd",
            "gopher://x",
            "javascript:alert(1)",
            "data:,x",
        ] {
            assert_eq!(
                check_url_syntax(url, true).unwrap_err(),
                TargetError::UnsupportedScheme,
                "{url}"
            );
        }
    }

    #[test]
    fn urls_must_name_their_host_and_are_normalised() {
        for url in [
            "https:///nohost",
            "https:////nohost",
            "https:/nohost",
            "https:nohost",
            "https:\\\\\\nohost",
            "http:///x",
        ] {
            assert_eq!(
                check_url_syntax(url, true).unwrap_err(),
                TargetError::MissingHost,
                "{url:?}"
            );
        }
        for (given, stored) in [
            ("HTTPS://Example.COM", "https://example.com/"),
            (
                "https://example.com:443/a/../b?q=1#f",
                "https://example.com/b?q=1#f",
            ),
            (
                "https://b\u{fc}cher.example/x y",
                "https://xn--bcher-kva.example/x%20y",
            ),
            ("https:\\\\example.com\\hook", "https://example.com/hook"),
            ("  https://example.com  ", "https://example.com/"),
        ] {
            assert_eq!(parse_http_url(given).unwrap().as_str(), stored, "{given:?}");
        }
    }

    #[test]
    fn url_syntax_limits_length() {
        let base = "https://example.com/";
        let ok = format!("{base}{}", "a".repeat(MAX_URL_LEN - base.len()));
        assert_eq!(ok.len(), MAX_URL_LEN);
        check_url_syntax(&ok, false).unwrap();
        let long = format!("{ok}a");
        assert_eq!(
            check_url_syntax(&long, false).unwrap_err(),
            TargetError::TooLong
        );
        assert_eq!(
            check_url_syntax(&long, true).unwrap_err(),
            TargetError::TooLong
        );
    }

    #[test]
    fn url_syntax_requires_https_unless_private_allowed() {
        assert_eq!(
            check_url_syntax("http://example.com/", false).unwrap_err(),
            TargetError::HttpsRequired
        );
        check_url_syntax("http://example.com/", true).unwrap();
    }

    #[test]
    fn url_syntax_refuses_credentials_always() {
        for url in [
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://:pass@example.com/",
        ] {
            assert_eq!(
                check_url_syntax(url, false).unwrap_err(),
                TargetError::Credentials
            );
            assert_eq!(
                check_url_syntax(url, true).unwrap_err(),
                TargetError::Credentials
            );
        }
    }

    #[test]
    fn url_syntax_refuses_forbidden_ip_literals_in_every_spelling() {
        for (url, expected) in [
            ("https://127.0.0.1/", "loopback"),
            ("https://127.0.0.1:8443/", "loopback"),
            ("https://2130706433/", "loopback"),
            ("https://0x7f.1/", "loopback"),
            ("https://0177.0.0.1/", "loopback"),
            ("https://127.1/", "loopback"),
            ("https://0/", "unspecified"),
            ("https://[::1]/", "loopback"),
            ("https://[::ffff:127.0.0.1]/", "loopback"),
            ("https://[::ffff:7f00:1]/", "loopback"),
            ("https://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://[fd00:ec2::254]/", "unique-local"),
            ("https://10.0.0.1/", "private"),
            ("https://100.64.1.1/", "shared (CGNAT)"),
            ("https://[64:ff9b::a9fe:a9fe]/", "link-local"),
            ("https://255.255.255.255/", "broadcast"),
        ] {
            assert_eq!(
                check_url_syntax(url, false).unwrap_err(),
                TargetError::ForbiddenAddress(expected),
                "{url}"
            );
            check_url_syntax(url, true).unwrap();
        }
    }

    #[test]
    fn url_syntax_refuses_internal_host_names() {
        for (url, expected) in [
            ("https://localhost/", "localhost"),
            ("https://LOCALHOST:8080/", "localhost"),
            ("https://localhost./", "localhost"),
            ("https://api.localhost/", "localhost"),
            (
                "https://metadata.google.internal/computeMetadata/v1/",
                "cloud metadata",
            ),
            ("https://METADATA.GOOGLE.INTERNAL./", "cloud metadata"),
        ] {
            assert_eq!(
                check_url_syntax(url, false).unwrap_err(),
                TargetError::ForbiddenHost(expected),
                "{url}"
            );
            check_url_syntax(url, true).unwrap();
        }
        // Look-alikes are ordinary names.
        check_url_syntax("https://localhost.example.com/", false).unwrap();
        check_url_syntax("https://notlocalhost/", false).unwrap();
    }

    #[test]
    fn allow_private_allows_http_loopback() {
        let url = check_url_syntax("http://127.0.0.1:8080/hook", true).unwrap();
        assert_eq!(url.port(), Some(8080));
    }

    #[test]
    fn error_messages_never_quote_the_url() {
        let secret = "tok_s3cr3t";
        for url in [
            format!("http://example.com/?t={secret}"),
            format!("https://127.0.0.1/?t={secret}"),
            format!("https://localhost/?t={secret}"),
            format!("ftp://example.com/?t={secret}"),
            format!("https://u:{secret}@example.com/"),
            format!("https://{}/?t={secret}", "a".repeat(3000)),
        ] {
            let error = check_url_syntax(&url, false).unwrap_err();
            assert!(!error.to_string().contains(secret), "{error}");
            assert!(!format!("{error:?}").contains(secret), "{error:?}");
        }
    }

    #[test]
    fn messages_read_well() {
        assert_eq!(TargetError::HttpsRequired.to_string(), "must use https");
        assert_eq!(
            TargetError::ForbiddenAddress("loopback").to_string(),
            "resolves to a forbidden address (loopback)"
        );
        assert_eq!(TargetError::HostNotFound.to_string(), "host not found");
    }

    #[tokio::test]
    async fn check_target_allows_literals_without_lookup() {
        check_target("https://93.184.216.34/", false).await.unwrap();
        assert_eq!(
            check_target("https://[::1]/", false).await.unwrap_err(),
            TargetError::ForbiddenAddress("loopback")
        );
    }

    #[tokio::test]
    async fn check_target_with_private_allowed_skips_lookup() {
        // `.invalid` never resolves (RFC 6761), so a lookup would fail.
        check_target("http://hook.invalid/", true).await.unwrap();
        check_target("http://localhost:1/", true).await.unwrap();
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
            .collect()
    }

    #[test]
    fn saving_refuses_a_host_with_any_forbidden_address() {
        assert_eq!(
            refuse_any_forbidden(&addrs(&["93.184.216.34", "2606:2800::1"])),
            Ok(())
        );
        assert_eq!(
            refuse_any_forbidden(&addrs(&["93.184.216.34", "10.0.0.1"])),
            Err(TargetError::ForbiddenAddress("private"))
        );
        assert_eq!(
            refuse_any_forbidden(&addrs(&["::1", "93.184.216.34"])),
            Err(TargetError::ForbiddenAddress("loopback"))
        );
        assert_eq!(refuse_any_forbidden(&[]), Err(TargetError::HostNotFound));
    }

    #[test]
    fn resolving_keeps_only_allowed_addresses() {
        assert_eq!(
            keep_allowed(addrs(&[
                "10.0.0.1",
                "93.184.216.34",
                "fd00:ec2::254",
                "2606:2800::1"
            ])),
            Ok(addrs(&["93.184.216.34", "2606:2800::1"]))
        );
        assert_eq!(
            keep_allowed(addrs(&["169.254.169.254", "127.0.0.1"])),
            Err(TargetError::ForbiddenAddress("link-local"))
        );
        assert_eq!(keep_allowed(vec![]), Err(TargetError::HostNotFound));
    }

    #[tokio::test]
    async fn guarded_resolver_refuses_localhost() {
        let error = GuardedResolver::resolve_allowed("localhost")
            .await
            .unwrap_err();
        assert_eq!(error, TargetError::ForbiddenHost("localhost"));
        // Through the reqwest trait as well.
        let resolver = GuardedResolver;
        let error = match resolver.resolve(Name::from_str("localhost").unwrap()).await {
            Ok(_) => panic!("localhost must not resolve"),
            Err(error) => error,
        };
        assert_eq!(
            error.downcast_ref::<TargetError>(),
            Some(&TargetError::ForbiddenHost("localhost"))
        );
        assert_eq!(error.to_string(), "host is not allowed (localhost)");
    }

    #[tokio::test]
    async fn guarded_resolver_refuses_names_resolving_to_forbidden_addresses() {
        // A numeric "name" resolves to itself without any DNS traffic, so
        // this exercises the address filter offline.
        for (name, expected) in [
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
        ] {
            let resolver = GuardedResolver;
            let error = match resolver.resolve(Name::from_str(name).unwrap()).await {
                Ok(_) => panic!("{name} must not resolve"),
                Err(error) => error,
            };
            assert_eq!(
                error.downcast_ref::<TargetError>(),
                Some(&TargetError::ForbiddenAddress(expected)),
                "{name}"
            );
            assert_eq!(
                error.to_string(),
                format!("resolves to a forbidden address ({expected})")
            );
        }
    }

    #[tokio::test]
    async fn guarded_resolver_passes_public_addresses() {
        // Numeric again: no network needed.
        let addrs: Vec<SocketAddr> = GuardedResolver::resolve_allowed("93.184.216.34")
            .await
            .unwrap();
        assert_eq!(addrs, vec!["93.184.216.34:0".parse().unwrap()]);
        let resolver = GuardedResolver;
        let addrs: Vec<SocketAddr> = match resolver
            .resolve(Name::from_str("2606:2800::1").unwrap())
            .await
        {
            Ok(addrs) => addrs.collect(),
            Err(error) => panic!("{error}"),
        };
        assert_eq!(addrs, vec!["[2606:2800::1]:0".parse().unwrap()]);
    }
}
