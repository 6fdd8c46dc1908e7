//! Who is asking: the client's address, for the limits counted per
//! address (logins, the report form, the reporter's forms). Behind a
//! reverse proxy every request comes from the proxy, so one bad actor
//! would hold back a whole commune: the proxies named with
//! `--trusted-proxy` are believed when they say, in `X-Forwarded-For`, whom
//! they forward for — and nobody else is (a client could write any header).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// Networks (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`) of the reverse proxies
/// whose `X-Forwarded-For` is believed. Empty: none.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<(IpAddr, u8)>>);

impl TrustedProxies {
    /// Parses `addr` or `addr/bits` entries; names the one it cannot read.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item.as_str(), None),
            };
            let addr: IpAddr = addr.trim().parse().map_err(|_| item.clone())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b.trim().parse::<u8>().map_err(|_| item.clone())?,
                None => max,
            };
            if bits > max {
                return Err(item.clone());
            }
            nets.push((addr, bits));
        }
        Ok(TrustedProxies(Arc::new(nets)))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, bits)| in_net(ip, canonical(*net), *bits))
    }
}

/// An IPv4 address mapped into IPv6 is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The client's address: the peer, or — when the peer is a trusted proxy —
/// the last address in `X-Forwarded-For` that is not itself a trusted
/// proxy (entries are appended by each hop, so the ones left of the first
/// untrusted hop could be forged).
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| canonical(c.0.ip()))?;
    let Some(trusted) = parts.extensions.get::<TrustedProxies>() else {
        return Some(peer);
    };
    if !trusted.contains(peer) {
        return Some(peer);
    }
    // Walk back from the right over the trusted hops.
    let hops: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse::<IpAddr>().ok().map(canonical))
        .collect();
    // Every hop trusted (the proxy's own health check): the leftmost.
    Some(
        hops.iter()
            .rev()
            .find(|ip| !trusted.contains(**ip))
            .or(hops.first())
            .copied()
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, xff: &[&str], trusted: &[&str]) -> Parts {
        let mut b = Request::builder();
        for h in xff {
            b = b.header("x-forwarded-for", *h);
        }
        let (mut parts, _) = b.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
        let list: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
        parts
            .extensions
            .insert(TrustedProxies::parse(&list).unwrap());
        parts
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn only_a_trusted_proxy_is_believed() {
        // No proxy trusted: the header is anyone's to write.
        assert_eq!(
            client_ip(&parts("203.0.113.9", &["1.2.3.4"], &[])),
            ip("203.0.113.9")
        );
        // From the trusted proxy: the client it names.
        assert_eq!(
            client_ip(&parts("10.0.0.5", &["198.51.100.7"], &["10.0.0.0/8"])),
            ip("198.51.100.7")
        );
        // A client's forged entry stays left of the real one.
        assert_eq!(
            client_ip(&parts(
                "10.0.0.5",
                &["1.2.3.4, 198.51.100.7"],
                &["10.0.0.0/8"]
            )),
            ip("198.51.100.7")
        );
        // Two proxies: skip the trusted hops from the right.
        assert_eq!(
            client_ip(&parts(
                "10.0.0.5",
                &["198.51.100.7", "10.0.0.9"],
                &["10.0.0.0/8"]
            )),
            ip("198.51.100.7")
        );
        // A request not from the proxy: its own address, header ignored.
        assert_eq!(
            client_ip(&parts("198.51.100.8", &["10.0.0.1"], &["10.0.0.0/8"])),
            ip("198.51.100.8")
        );
        // IPv6 and IPv4-mapped peers.
        assert_eq!(
            client_ip(&parts("::ffff:10.0.0.5", &["2001:db8::1"], &["10.0.0.5"])),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
        assert!(TrustedProxies::parse(&["fd00::/8".into(), "127.0.0.1".into()]).is_ok());
    }
}
