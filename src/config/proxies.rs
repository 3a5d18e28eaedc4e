//! `trusted_proxies`: the reverse proxies whose `X-Forwarded-For` doorstep
//! believes, as single addresses or CIDR ranges. Every membership test in
//! the server (the client address in `http::session`, the connection cap
//! in `http::connection`, the doctor's address report) goes through
//! [`TrustedProxies::contains`], so that all of them agree on what a
//! dual-stack listener's IPv4-mapped addresses mean.

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The trusted proxies; empty unless configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    /// Canonical: an IPv4-mapped address or range (`::ffff:10.0.0.1`) is
    /// held as its IPv4 form, and no range has host bits set.
    nets: Vec<IpNet>,
}

/// Why an entry of `trusted_proxies` was refused, said so that the fix is
/// plain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyListError {
    #[error("`{0}` is neither an IP address nor a CIDR range such as 10.0.0.0/8")]
    NotAnAddress(String),
    #[error(
        "`{given}` has bits set past its prefix length: write the range as {network}, or the \
         single address without a prefix"
    )]
    HostBits { given: String, network: IpNet },
}

impl TrustedProxies {
    /// No proxy is trusted.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// True when `addr` is a trusted proxy. An IPv4 peer on a dual-stack
    /// listener arrives as `::ffff:a.b.c.d`, and must match `a.b.c.d` (or
    /// a range holding it) all the same; otherwise every visitor would
    /// share the proxy's address (SEC-16, SEC-18).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        let mapped = match addr {
            IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
            IpAddr::V6(_) => None,
        };
        self.nets
            .iter()
            .any(|net| net.contains(&addr) || mapped.is_some_and(|m| net.contains(&m)))
    }

    /// The configured entries, canonical.
    pub fn entries(&self) -> &[IpNet] {
        &self.nets
    }
}

/// One entry: `10.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`.
fn parse_entry(entry: &str) -> Result<IpNet, ProxyListError> {
    let net = match entry.parse::<IpAddr>() {
        Ok(addr) => IpNet::from(addr),
        Err(_) => {
            let net = entry
                .parse::<IpNet>()
                .map_err(|_| ProxyListError::NotAnAddress(entry.to_owned()))?;
            if net.trunc() != net {
                return Err(ProxyListError::HostBits {
                    given: entry.to_owned(),
                    network: net.trunc(),
                });
            }
            net
        }
    };
    Ok(canonical(net))
}

/// `::ffff:a.b.c.d/n` (n ≥ 96) as the IPv4 range it is.
fn canonical(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.network().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(as_v4) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(as_v4);
    }
    net
}

impl FromStr for TrustedProxies {
    type Err = ProxyListError;

    /// A comma-separated list; blank entries are skipped.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut nets = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            nets.push(parse_entry(entry)?);
        }
        Ok(TrustedProxies { nets })
    }
}

impl From<IpAddr> for TrustedProxies {
    fn from(addr: IpAddr) -> Self {
        TrustedProxies {
            nets: vec![canonical(IpNet::from(addr))],
        }
    }
}

/// Single addresses without their `/32` or `/128`, as they were written.
impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.nets.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if net.prefix_len() == net.max_prefix_len() {
                write!(f, "{}", net.addr())?;
            } else {
                write!(f, "{net}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(s: &str) -> TrustedProxies {
        s.parse().unwrap()
    }

    #[test]
    fn single_addresses_and_ranges_are_trusted_and_nothing_else() {
        let p = proxies("127.0.0.1, ::1, 10.0.0.0/8, fd00::/8");
        for yes in ["127.0.0.1", "::1", "10.0.0.0", "10.255.255.255", "fd12::3"] {
            assert!(p.contains(ip(yes)), "{yes}");
        }
        for no in ["127.0.0.2", "::2", "11.0.0.0", "9.255.255.255", "fe00::1"] {
            assert!(!p.contains(ip(no)), "{no}");
        }
        assert!(!TrustedProxies::none().contains(ip("127.0.0.1")));
        assert_eq!(p.to_string(), "127.0.0.1, ::1, 10.0.0.0/8, fd00::/8");
    }

    #[test]
    fn ipv4_mapped_addresses_match_their_ipv4_form_both_ways() {
        let p = proxies("10.0.0.0/8, 192.0.2.1");
        assert!(p.contains(ip("::ffff:10.1.2.3")));
        assert!(p.contains(ip("::ffff:192.0.2.1")));
        let mapped = proxies("::ffff:10.0.0.0/104, ::ffff:192.0.2.1");
        assert_eq!(mapped, p);
        assert!(mapped.contains(ip("192.0.2.1")));
        assert!(mapped.contains(ip("10.200.0.1")));
        // A range wider than the mapped block still holds mapped peers.
        let everything = proxies("::/0");
        assert!(everything.contains(ip("192.0.2.1")));
    }

    #[test]
    fn entries_that_are_not_addresses_or_carry_host_bits_are_refused_with_the_fix() {
        for bad in ["proxy.example", "10.0.0.0/33", "10.0.0.0/", "/8", "1.2.3"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
        let e = "10.0.0.1/8".parse::<TrustedProxies>().unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/8"), "{e}");
        assert_eq!(proxies(" , 127.0.0.1 ,, "), proxies("127.0.0.1"));
        assert!(proxies("").is_empty());
    }

    /// The reference rule: `addr` is in `net/len` when their first `len`
    /// bits agree.
    fn in_v4_range(addr: u32, net: u32, len: u8) -> bool {
        len == 0 || (addr ^ net) >> (32 - u32::from(len)) == 0
    }

    fn in_v6_range(addr: u128, net: u128, len: u8) -> bool {
        len == 0 || (addr ^ net) >> (128 - u32::from(len)) == 0
    }

    proptest! {
        #[test]
        fn an_ipv4_range_holds_exactly_the_addresses_sharing_its_prefix(
            net in any::<u32>(), len in 0u8..=32, addr in any::<u32>(), near in any::<u32>()
        ) {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            let network = Ipv4Addr::from(net & mask);
            let p = proxies(&format!("{network}/{len}"));
            // A random address, and one that shares the prefix.
            for a in [addr, (net & mask) | (near & !mask)] {
                let expected = in_v4_range(a, net & mask, len);
                prop_assert_eq!(p.contains(IpAddr::V4(Ipv4Addr::from(a))), expected);
                prop_assert_eq!(
                    p.contains(IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
                    expected
                );
            }
            prop_assert_eq!(proxies(&p.to_string()), p);
        }

        #[test]
        fn an_ipv6_range_holds_exactly_the_addresses_sharing_its_prefix(
            net in any::<u128>(), len in 0u8..=128, addr in any::<u128>(), near in any::<u128>()
        ) {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            let network = Ipv6Addr::from(net & mask);
            let p = proxies(&format!("{network}/{len}"));
            for a in [addr, (net & mask) | (near & !mask)] {
                let a6 = Ipv6Addr::from(a);
                let expected = in_v6_range(a, net & mask, len);
                prop_assert_eq!(p.contains(IpAddr::V6(a6)), expected);
            }
            prop_assert_eq!(proxies(&p.to_string()), p);
        }

        #[test]
        fn a_single_address_trusts_itself_and_not_its_neighbours(addr in any::<u32>()) {
            let a = Ipv4Addr::from(addr);
            let p = proxies(&a.to_string());
            prop_assert!(p.contains(IpAddr::V4(a)));
            prop_assert!(p.contains(IpAddr::V6(a.to_ipv6_mapped())));
            prop_assert!(!p.contains(IpAddr::V4(Ipv4Addr::from(addr.wrapping_add(1)))));
        }
    }
}
