//! Token guessing: who a client is, and which clients sent too many wrong
//! secret tokens (feed tokens today).
//!
//! - The client address is the peer's, unless the peer is a trusted proxy
//!   (`BOOKING_TRUSTED_PROXIES`): then `X-Forwarded-For` is walked from the
//!   right, and the first address that is not itself a trusted proxy is the
//!   client (entries further left were written by the client and prove
//!   nothing).
//! - Addresses are counted by [`bucket`]: IPv4 per address, IPv6 per /64
//!   (one subscriber line or host gets a whole /64, so counting single IPv6
//!   addresses would let one client rotate through 2^64 of them).
//! - Only wrong tokens are counted, and a right token is never refused
//!   (Google Calendar fetches every subscriber's feed from a few shared
//!   addresses: a guesser there must not cut the subscribers off).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

/// One CIDR block (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a /32
/// or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in the block (IPv4-mapped IPv6 addresses count as
    /// their IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network = canonical(
            addr.parse::<IpAddr>()
                .map_err(|_| format!("`{text}` is not an address or CIDR block"))?,
        );
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("`{text}`: the prefix length must be 0-{max}")),
            },
        };
        Ok(Cidr { network, prefix })
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Parses a comma- or space-separated list of CIDR blocks (empty: none).
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        text.split([',', ' '])
            .filter(|s| !s.trim().is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client's address, given the peer's and the request's
    /// `X-Forwarded-For` values (in header order): the peer, unless it is
    /// trusted; then the rightmost forwarded address that is not trusted (or
    /// the leftmost one, when every hop is trusted). Unparseable entries end
    /// the walk: what lies left of them cannot be believed.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, maybe bracketed or with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// IPv4-mapped IPv6 addresses as IPv4, others as they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// What wrong tokens are counted against: an IPv4 address, or the /64 an
/// IPv6 address belongs to (as its first address).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// The bucket of the client behind `req` (see [`TrustedProxies::client`]),
/// or `None` when the peer is unknown.
pub fn client_bucket(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    Some(bucket(trusted.client(peer, forwarded)))
}

/// Per-process memory of buckets over the wrong-token limit, so their next
/// wrong tokens get 429 without asking the shared limiter. The count itself
/// is the shared rate limiter's.
#[derive(Debug, Default)]
pub struct Blocked {
    until: Mutex<HashMap<IpAddr, Instant>>,
}

impl Blocked {
    /// How long `bucket` stays blocked, if it is.
    pub fn remaining(&self, bucket: IpAddr) -> Option<Duration> {
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match map.get(&bucket) {
            Some(until) if *until > now => Some(*until - now),
            Some(_) => {
                map.remove(&bucket);
                None
            }
            None => None,
        }
    }

    /// Blocks `bucket` for `wait`.
    pub fn block(&self, bucket: IpAddr, wait: Duration) {
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() > 10_000 {
            map.retain(|_, until| *until > now);
        }
        map.insert(bucket, now + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        let a = bucket(ip("2001:db8:1:2:aaaa::1"));
        let b = bucket(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let other = bucket(ip("2001:db8:1:3::1"));
        assert_eq!(a, b, "one /64 is one client");
        assert_ne!(a, other, "the next /64 is another");
        assert_eq!(a, ip("2001:db8:1:2::"));
        // IPv4 stays per address, also when mapped into IPv6.
        assert_eq!(bucket(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(bucket(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_ne!(bucket(ip("192.0.2.7")), bucket(ip("192.0.2.8")));
    }

    #[test]
    fn cidrs_parse_and_match() {
        let t = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1 2001:db8::/32").unwrap_or_default();
        assert!(t.trusts(ip("10.1.2.3")));
        assert!(t.trusts(ip("127.0.0.1")));
        assert!(t.trusts(ip("::ffff:10.9.9.9")));
        assert!(!t.trusts(ip("127.0.0.2")));
        assert!(t.trusts(ip("2001:db8:ffff::1")));
        assert!(!t.trusts(ip("2001:db9::1")));
        assert!(TrustedProxies::parse("").unwrap_or_default().is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example.com").is_err());
        assert!(
            "0.0.0.0/0"
                .parse::<Cidr>()
                .is_ok_and(|c| c.contains(ip("8.8.8.8")))
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let peer = ip("127.0.0.1");
        assert_eq!(none.client(peer, ["203.0.113.9"].into_iter()), peer);
        let t = TrustedProxies::parse("127.0.0.1/32,10.0.0.0/8").unwrap_or_default();
        // The rightmost untrusted address: the client's own claims further
        // left are ignored.
        assert_eq!(
            t.client(peer, ["1.1.1.1, 203.0.113.9, 10.0.0.2"].into_iter()),
            ip("203.0.113.9")
        );
        // Several header lines are one list.
        assert_eq!(
            t.client(peer, ["1.1.1.1", "203.0.113.9"].into_iter()),
            ip("203.0.113.9")
        );
        // An untrusted peer's header means nothing.
        assert_eq!(
            t.client(ip("198.51.100.1"), ["203.0.113.9"].into_iter()),
            ip("198.51.100.1")
        );
        // No header, or garbage: the peer.
        assert_eq!(t.client(peer, std::iter::empty()), peer);
        assert_eq!(t.client(peer, ["unknown"].into_iter()), peer);
        assert_eq!(
            t.client(peer, ["[2001:db8::5]:443", "203.0.113.1:80"].into_iter()),
            ip("203.0.113.1")
        );
    }
}
