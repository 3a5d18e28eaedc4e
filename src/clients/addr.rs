//! Which network addresses and host names doorstep may fetch from (CID-7, CID-8).
//!
//! This module owns the SSRF address filter: a pure function from an IP
//! address to "public, fetchable" or not. Loopback names, checked before
//! any DNS lookup, are `domain::is_loopback_name`. It never performs I/O.
//! The ranges come from the IANA special-purpose registries (RFC 6890 and
//! its updates, RFC 5735 for IPv4); anything an outside client cannot
//! legitimately live on is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True when `ip` is a globally reachable unicast address that doorstep may
/// connect to. Everything special-purpose is refused (CID-8).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 ranges that must never be fetched: (network, prefix length).
const FORBIDDEN_V4: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network" (RFC 791), incl. unspecified
    (0x0A00_0000, 8),  // 10.0.0.0/8 private (RFC 1918)
    (0x6440_0000, 10), // 100.64.0.0/10 shared address space / CGNAT (RFC 6598)
    (0x7F00_0000, 8),  // 127.0.0.0/8 loopback (RFC 1122)
    (0xA9FE_0000, 16), // 169.254.0.0/16 link-local, cloud metadata (RFC 3927)
    (0xAC10_0000, 12), // 172.16.0.0/12 private (RFC 1918)
    (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments (RFC 6890)
    (0xC000_0200, 24), // 192.0.2.0/24 TEST-NET-1 documentation (RFC 5737)
    (0xC058_6300, 24), // 192.88.99.0/24 deprecated 6to4 relay anycast (RFC 7526)
    (0xC0A8_0000, 16), // 192.168.0.0/16 private (RFC 1918)
    (0xC612_0000, 15), // 198.18.0.0/15 benchmarking (RFC 2544)
    (0xC633_6400, 24), // 198.51.100.0/24 TEST-NET-2 documentation (RFC 5737)
    (0xCB00_7100, 24), // 203.0.113.0/24 TEST-NET-3 documentation (RFC 5737)
    (0xE000_0000, 4),  // 224.0.0.0/4 multicast (RFC 5771)
    (0xF000_0000, 4),  // 240.0.0.0/4 reserved, incl. 255.255.255.255 broadcast (RFC 1112)
];

fn in_prefix_v4(ip: u32, net: u32, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    ip & mask == net & mask
}

fn in_prefix_v6(ip: u128, net: u128, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    ip & mask == net & mask
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let n = u32::from(ip);
    !FORBIDDEN_V4
        .iter()
        .any(|&(net, len)| in_prefix_v4(n, net, len))
}

/// IPv6 ranges inside global unicast 2000::/3 that are still not fetchable.
const FORBIDDEN_V6_GLOBAL: &[(u128, u8)] = &[
    // 2001::/23 IETF protocol assignments: Teredo 2001::/32 (RFC 4380),
    // ORCHID, benchmarking 2001:2::/48... none hosts a client web page.
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23),
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // documentation (RFC 3849)
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // documentation (RFC 9637)
    (0x5f00_0000_0000_0000_0000_0000_0000_0000, 16), // SRv6 SIDs (RFC 9602)
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let n = u128::from(ip);
    // Addresses that carry an IPv4 address are judged by that address, so
    // `::ffff:127.0.0.1` or `64:ff9b::a00:1` cannot smuggle a private target.
    if let Some(v4) = embedded_v4(n) {
        return is_public_v4(v4);
    }
    // 64:ff9b:1::/48 local-use NAT64 (RFC 8215): translator-local, refuse.
    if in_prefix_v6(n, 0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48) {
        return false;
    }
    // Only 2000::/3 is allocated global unicast. This one rule refuses
    // unspecified, loopback, discard 100::/64, ULA fc00::/7, link-local
    // fe80::/10, deprecated site-local fec0::/10 and multicast ff00::/8.
    if !in_prefix_v6(n, 0x2000_0000_0000_0000_0000_0000_0000_0000, 3) {
        return false;
    }
    !FORBIDDEN_V6_GLOBAL
        .iter()
        .any(|&(net, len)| in_prefix_v6(n, net, len))
}

/// The IPv4 address embedded in an IPv6 address by a transition mechanism.
fn embedded_v4(n: u128) -> Option<Ipv4Addr> {
    // Truncation is intended: these casts take the low / middle 32 bits.
    let low = Ipv4Addr::from((n & 0xffff_ffff) as u32);
    // ::ffff:0:0/96 IPv4-mapped (RFC 4291 §2.5.5.2).
    if in_prefix_v6(n, 0x0000_0000_0000_0000_0000_ffff_0000_0000, 96) {
        return Some(low);
    }
    // 64:ff9b::/96 well-known NAT64 prefix (RFC 6052).
    if in_prefix_v6(n, 0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96) {
        return Some(low);
    }
    // ::/96 deprecated IPv4-compatible (RFC 4291 §2.5.5.1). `::` and `::1`
    // land in 0.0.0.0/8 and are refused through the IPv4 table.
    if in_prefix_v6(n, 0, 96) {
        return Some(low);
    }
    // 2002::/16 6to4 (RFC 3056): the IPv4 address sits in bits 16..48.
    if in_prefix_v6(n, 0x2002_0000_0000_0000_0000_0000_0000_0000, 16) {
        return Some(Ipv4Addr::from(((n >> 80) & 0xffff_ffff) as u32));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn public_ipv4_addresses_are_allowed() {
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
        ] {
            assert!(ok(s), "{s} should be public");
        }
        // Just outside the private blocks.
        for s in [
            "172.15.255.255",
            "172.32.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "11.0.0.0",
        ] {
            assert!(ok(s), "{s} should be public");
        }
    }

    #[test]
    fn special_ipv4_ranges_are_refused() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!ok(s), "{s} should be refused");
        }
    }

    #[test]
    fn public_ipv6_addresses_are_allowed() {
        for s in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:82b::200e",
            "2400:cb00::1",
        ] {
            assert!(ok(s), "{s} should be public");
        }
    }

    #[test]
    fn special_ipv6_ranges_are_refused() {
        for s in [
            "::",
            "::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
            "2001:db8::1",
            "2001:db8:ffff::1",
            "3fff::1",
            "64:ff9b:1::1",
            "5f00::1",
        ] {
            assert!(!ok(s), "{s} should be refused");
        }
    }

    #[test]
    fn ipv4_mapped_and_compatible_addresses_are_judged_by_their_ipv4() {
        assert!(!ok("::ffff:127.0.0.1"));
        assert!(!ok("::ffff:10.1.2.3"));
        assert!(!ok("::ffff:169.254.169.254"));
        assert!(ok("::ffff:8.8.8.8"));
        assert!(!ok("::127.0.0.1"));
        assert!(!ok("::192.168.0.1"));
        assert!(ok("::8.8.8.8"));
    }

    #[test]
    fn nat64_addresses_are_judged_by_their_ipv4() {
        assert!(!ok("64:ff9b::7f00:1")); // 127.0.0.1
        assert!(!ok("64:ff9b::a00:1")); // 10.0.0.1
        assert!(!ok("64:ff9b::a9fe:a9fe")); // 169.254.169.254
        assert!(ok("64:ff9b::808:808")); // 8.8.8.8
    }

    #[test]
    fn six_to_four_addresses_are_judged_by_their_ipv4() {
        assert!(!ok("2002:7f00:1::1")); // 127.0.0.1
        assert!(!ok("2002:c0a8:101::1")); // 192.168.1.1
        assert!(!ok("2002:a9fe:a9fe::")); // 169.254.169.254
        assert!(ok("2002:808:808::1")); // 8.8.8.8
    }
}
