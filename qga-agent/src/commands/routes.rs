//! guest-network-get-route (QEMU 9.1): the kernel's routing tables, from
//! `/proc/net/route` (IPv4) and `/proc/net/ipv6_route` (IPv6).
//!
//! The IPv4 file has a header line, then "IFACE DESTINATION GATEWAY FLAGS
//! REFCNT USE METRIC MASK MTU WINDOW IRTT" per route, the addresses as the hex
//! of the 32-bit value in the machine's byte order. The IPv6 file has no header:
//! "DESTINATION PREFIXLEN SOURCE PREFIXLEN NEXTHOP METRIC REFCNT USE FLAGS
//! IFACE", the addresses as 32 hex digits and the numbers in hex. A line
//! without all its fields, or whose destination is not an address, is skipped,
//! as qemu-ga skips it; the routes come in the files' order, IPv4 first.
//!
//! Where this differs from qemu-ga 10.2, on purpose:
//! - The routes of whichever files can be read are answered: qemu-ga fails the
//!   whole command when one of them is missing (IPv6 disabled), and aborts when
//!   both are. Only when neither can be read is it an error (the IPv4 file's).
//! - IPv6 numbers are read as the unsigned 32-bit numbers the kernel writes: a
//!   metric of `ffffffff` is 4294967295 (qemu-ga: -1), flags of `80200001` are
//!   2149580801 (qemu-ga sign-extends them to 18446744071564148737).
//! - IPv4 addresses are right on big-endian guests too (qemu-ga reverses them).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use qga_types::GuestNetworkRoute;

use crate::commands::error::{errno_error, CommandError};

/// Where the routing tables are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFiles {
    /// The IPv4 table (`/proc/net/route`).
    pub ipv4: PathBuf,
    /// The IPv6 table (`/proc/net/ipv6_route`), missing when IPv6 is disabled.
    pub ipv6: PathBuf,
}

impl Default for RouteFiles {
    fn default() -> Self {
        RouteFiles {
            ipv4: PathBuf::from("/proc/net/route"),
            ipv6: PathBuf::from("/proc/net/ipv6_route"),
        }
    }
}

/// guest-network-get-route on this system.
pub fn get_routes() -> Result<Vec<GuestNetworkRoute>, CommandError> {
    get_routes_from(&RouteFiles::default())
}

/// guest-network-get-route from the given files.
pub fn get_routes_from(files: &RouteFiles) -> Result<Vec<GuestNetworkRoute>, CommandError> {
    let open_error =
        |path: &Path, e: &io::Error| errno_error(format_args!("open(\"{}\")", path.display()), e);
    let ipv4 = std::fs::read(&files.ipv4);
    let ipv6 = std::fs::read(&files.ipv6);
    let mut routes = Vec::new();
    match (&ipv4, &ipv6) {
        (Err(e), Err(_)) => return Err(open_error(&files.ipv4, e)),
        (Err(e), _) => tracing::debug!("{}", open_error(&files.ipv4, e)),
        (_, Err(e)) => tracing::debug!("{}", open_error(&files.ipv6, e)),
        _ => {}
    }
    if let Ok(content) = &ipv4 {
        routes.extend(parse_ipv4_routes(content));
    }
    if let Ok(content) = &ipv6 {
        routes.extend(parse_ipv6_routes(content));
    }
    Ok(routes)
}

/// The routes of /proc/net/route content (its first line is the header).
pub fn parse_ipv4_routes(content: &[u8]) -> Vec<GuestNetworkRoute> {
    lines(content).skip(1).filter_map(ipv4_route).collect()
}

/// The routes of /proc/net/ipv6_route content.
pub fn parse_ipv6_routes(content: &[u8]) -> Vec<GuestNetworkRoute> {
    lines(content).filter_map(ipv6_route).collect()
}

fn lines(content: &[u8]) -> impl Iterator<Item = Vec<&str>> {
    content.split(|&b| b == b'\n').map(|line| {
        line.split(u8::is_ascii_whitespace)
            .filter(|word| !word.is_empty())
            .map(|word| std::str::from_utf8(word).unwrap_or("\u{fffd}"))
            .collect()
    })
}

fn hex(word: &str) -> Option<u32> {
    u32::from_str_radix(word, 16).ok()
}

fn decimal(word: &str) -> Option<i64> {
    word.parse::<i32>().ok().map(i64::from)
}

/// An IPv4 address as the kernel prints it: the hex of the `__be32` read as a
/// number of the machine, so its bytes in memory order are the address's.
fn ipv4_address(word: &str) -> Option<String> {
    Some(Ipv4Addr::from(hex(word)?.to_ne_bytes()).to_string())
}

fn ipv4_route(fields: Vec<&str>) -> Option<GuestNetworkRoute> {
    let [iface, destination, gateway, flags, refcnt, used, metric, mask, mtu, window, irtt, ..] =
        fields[..]
    else {
        return None;
    };
    Some(GuestNetworkRoute {
        iface: iface.to_owned(),
        destination: ipv4_address(destination)?,
        metric: decimal(metric)?,
        gateway: Some(ipv4_address(gateway)?),
        mask: Some(ipv4_address(mask)?),
        irtt: Some(decimal(irtt)?),
        flags: Some(u64::from(hex(flags)?)),
        refcnt: Some(decimal(refcnt)?),
        r#use: Some(decimal(used)?),
        window: Some(decimal(window)?),
        mtu: Some(decimal(mtu)?),
        desprefixlen: None,
        source: None,
        srcprefixlen: None,
        nexthop: None,
        version: 4,
    })
}

/// An IPv6 address of 32 hex digits, in `inet_ntop()`'s text.
fn ipv6_address(word: &str) -> Option<String> {
    if word.len() != 32 || !word.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let value = u128::from_str_radix(word, 16).ok()?;
    Some(ipv6_text(Ipv6Addr::from(value)))
}

/// glibc's `inet_ntop(AF_INET6)`: RFC 5952 as Rust writes it, except that an
/// IPv4-compatible address (`::a.b.c.d`, the first 96 bits zero and the next 16
/// not) keeps its dotted form.
pub fn ipv6_text(addr: Ipv6Addr) -> String {
    let s = addr.segments();
    if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
        let [.., a, b, c, d] = addr.octets();
        return format!("::{}", Ipv4Addr::new(a, b, c, d));
    }
    addr.to_string()
}

fn ipv6_route(fields: Vec<&str>) -> Option<GuestNetworkRoute> {
    let [destination, desprefixlen, source, srcprefixlen, nexthop, metric, refcnt, used, flags, iface, ..] =
        fields[..]
    else {
        return None;
    };
    let (desprefixlen, srcprefixlen) = (hex(desprefixlen)?, hex(srcprefixlen)?);
    let (metric, refcnt, used, flags) = (hex(metric)?, hex(refcnt)?, hex(used)?, hex(flags)?);
    Some(GuestNetworkRoute {
        iface: iface.to_owned(),
        destination: ipv6_address(destination)?,
        metric: i64::from(metric),
        gateway: None,
        mask: None,
        irtt: None,
        flags: Some(u64::from(flags)),
        refcnt: Some(i64::from(refcnt)),
        r#use: Some(i64::from(used)),
        window: None,
        mtu: None,
        desprefixlen: Some(desprefixlen.to_string()),
        source: ipv6_address(source),
        srcprefixlen: Some(srcprefixlen.to_string()),
        nexthop: ipv6_address(nexthop),
        version: 6,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_text_as_inet_ntop() {
        let text = |s: &str| ipv6_text(s.parse().unwrap());
        assert_eq!(text("::"), "::");
        assert_eq!(text("::1"), "::1");
        assert_eq!(text("fe80::fc:ff:fe00:1"), "fe80::fc:ff:fe00:1");
        assert_eq!(text("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
        assert_eq!(text("::192.0.2.1"), "::192.0.2.1");
        assert_eq!(text("::1:0"), "::0.1.0.0");
        assert_eq!(text("1:0:1:0:0:0:0:1"), "1:0:1::1");
        assert_eq!(text("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
    }

    #[test]
    fn ipv4_addresses_in_memory_order() {
        let expected = if cfg!(target_endian = "little") {
            "192.0.2.1"
        } else {
            "1.2.0.192"
        };
        assert_eq!(ipv4_address("010200C0").as_deref(), Some(expected));
        assert_eq!(ipv4_address("x"), None);
    }
}
