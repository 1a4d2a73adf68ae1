//! guest-network-get-interfaces.
//!
//! As qemu-ga 7.2 on Linux: the interfaces are those `getifaddrs()` lists, in the
//! order each name first appears there (the link entries come first, so this is
//! the kernel's link order); the hardware address comes from the
//! `SIOCGIFHWADDR` ioctl (so `lo` and tunnels report `00:00:00:00:00:00`); IPv4 and
//! IPv6 addresses with their prefix length counted from the netmask; and the
//! traffic counters from /proc/net/dev, only for an interface that has at least
//! one IP address. An interface without an IP address has only `name` and
//! `hardware-address`.

use std::ffi::CStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use qga_types::{
    GuestIpAddress, GuestIpAddressType, GuestNetworkInterface, GuestNetworkInterfaceStat,
};

use crate::commands::error::errno_error;
use crate::commands::error::CommandError;

/// Where the traffic counters are read from.
pub const PROC_NET_DEV: &str = "/proc/net/dev";

/// Looks up an interface's hardware address: `Ok(None)` when it has none.
pub type HwAddrLookup<'a> = dyn FnMut(&str) -> Result<Option<[u8; 6]>, CommandError> + 'a;

/// One entry of `getifaddrs()`, reduced to what the command uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddrEntry {
    /// The interface name (for an IPv4 address, its label, e.g. "eth0:1").
    pub name: String,
    /// The IP address, when the entry is an IPv4 or IPv6 one (not for link entries).
    pub address: Option<IpAddr>,
    /// The netmask of `address`, when the entry has one.
    pub netmask: Option<IpAddr>,
}

/// guest-network-get-interfaces for the real system.
pub fn get_interfaces() -> Result<Vec<GuestNetworkInterface>, CommandError> {
    let entries = getifaddrs()?;
    let mut socket: Option<OwnedFd> = None;
    let mut hw_addr = |name: &str| -> Result<Option<[u8; 6]>, CommandError> {
        if socket.is_none() {
            socket = Some(inet_socket()?);
        }
        let fd = socket.as_ref().map(AsRawFd::as_raw_fd).unwrap_or(-1);
        Ok(hardware_address(fd, name))
    };
    interfaces_from(&entries, &mut hw_addr, Path::new(PROC_NET_DEV))
}

/// Build the answer from `getifaddrs()` entries, a hardware-address lookup (the
/// `SIOCGIFHWADDR` ioctl on the real system; `Ok(None)` when the interface has
/// none) and the counters file (/proc/net/dev format).
pub fn interfaces_from(
    entries: &[IfAddrEntry],
    hw_addr: &mut HwAddrLookup<'_>,
    proc_net_dev: &Path,
) -> Result<Vec<GuestNetworkInterface>, CommandError> {
    let mut interfaces: Vec<GuestNetworkInterface> = Vec::new();
    // Read once, on first need; None when it cannot be read.
    let mut counters: Option<Option<String>> = None;
    for entry in entries {
        let i = match interfaces.iter().position(|x| x.name == entry.name) {
            Some(i) => i,
            None => {
                interfaces.push(GuestNetworkInterface {
                    name: entry.name.clone(),
                    hardware_address: None,
                    ip_addresses: None,
                    statistics: None,
                });
                interfaces.len() - 1
            }
        };
        let info = &mut interfaces[i];
        if info.hardware_address.is_none() {
            if let Some(mac) = hw_addr(&entry.name)? {
                info.hardware_address = Some(format_mac(&mac));
            }
        }
        let Some(address) = entry.address else {
            continue;
        };
        let ip_address_type = match address {
            IpAddr::V4(_) => GuestIpAddressType::Ipv4,
            IpAddr::V6(_) => GuestIpAddressType::Ipv6,
        };
        let prefix = entry.netmask.map_or(0, prefix_len);
        info.ip_addresses
            .get_or_insert_with(Vec::new)
            .push(GuestIpAddress {
                ip_address: address.to_string(),
                ip_address_type,
                prefix,
            });
        if info.statistics.is_none() {
            let content = counters
                .get_or_insert_with(|| std::fs::read_to_string(proc_net_dev).ok())
                .as_deref();
            info.statistics = content.and_then(|c| parse_net_dev(c, &info.name));
        }
    }
    Ok(interfaces)
}

/// The number of bits set in a netmask.
fn prefix_len(netmask: IpAddr) -> i64 {
    i64::from(match netmask {
        IpAddr::V4(m) => u32::from(m).count_ones(),
        IpAddr::V6(m) => u128::from(m).count_ones(),
    })
}

/// "aa:bb:cc:dd:ee:ff", lower case.
fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The counters of interface `name` in /proc/net/dev content: the line whose text
/// before its first `:` (after leading white space) is exactly the name, with 16
/// numbers after the colon (received bytes, packets, errs, drop, then four more,
/// then transmitted bytes, packets, errs, drop, then four more).
pub fn parse_net_dev(content: &str, name: &str) -> Option<GuestNetworkInterfaceStat> {
    for line in content.lines() {
        let line = line.trim_start_matches([' ', '\t', '\n', '\x0c', '\r']);
        let Some((head, rest)) = line.split_once(':') else {
            continue;
        };
        if head != name {
            continue;
        }
        let numbers: Vec<u64> = rest
            .split_ascii_whitespace()
            .take(16)
            .map_while(|t| t.parse::<u64>().ok())
            .map(|n| n.min(i64::MAX as u64))
            .collect();
        if numbers.len() != 16 {
            continue;
        }
        return Some(GuestNetworkInterfaceStat {
            rx_bytes: numbers[0],
            rx_packets: numbers[1],
            rx_errs: numbers[2],
            rx_dropped: numbers[3],
            tx_bytes: numbers[8],
            tx_packets: numbers[9],
            tx_errs: numbers[10],
            tx_dropped: numbers[11],
        });
    }
    None
}

/// `getifaddrs()`, as a list.
pub fn getifaddrs() -> Result<Vec<IfAddrEntry>, CommandError> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into the pointer we pass.
    if unsafe { libc::getifaddrs(&mut head) } < 0 {
        return Err(errno_error(
            "getifaddrs failed",
            &io::Error::last_os_error(),
        ));
    }
    let mut entries = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: cursor is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cursor };
        let name = if ifa.ifa_name.is_null() {
            String::new()
        } else {
            // SAFETY: ifa_name is a NUL-terminated string owned by the list.
            unsafe { CStr::from_ptr(ifa.ifa_name) }
                .to_string_lossy()
                .into_owned()
        };
        // SAFETY: the sockaddr pointers are null or point at addresses of the
        // family their sa_family says, owned by the list.
        let (address, netmask) =
            unsafe { (sockaddr_ip(ifa.ifa_addr), sockaddr_ip(ifa.ifa_netmask)) };
        entries.push(IfAddrEntry {
            name,
            netmask: address.and(netmask),
            address,
        });
        cursor = ifa.ifa_next;
    }
    // SAFETY: head came from getifaddrs and is freed once, after the last use.
    unsafe { libc::freeifaddrs(head) };
    Ok(entries)
}

/// The IP address in a sockaddr, when it is an AF_INET or AF_INET6 one.
///
/// # Safety
/// `sa` must be null or point at a valid sockaddr of the size its family implies.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees sa points at a valid sockaddr.
    match i32::from(unsafe { (*sa).sa_family }) {
        libc::AF_INET => {
            // SAFETY: the family says this is a sockaddr_in.
            let sin = unsafe { &*sa.cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this is a sockaddr_in6.
            let sin6 = unsafe { &*sa.cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// The socket the hardware-address ioctl goes through.
fn inet_socket() -> Result<OwnedFd, CommandError> {
    // SAFETY: socket has no memory-safety preconditions.
    let fd: RawFd =
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno_error(
            "failed to create socket",
            &io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The first six bytes of the interface's hardware address (`SIOCGIFHWADDR`), or
/// `None` when the ioctl fails (no such interface, or one without an address).
fn hardware_address(socket: RawFd, name: &str) -> Option<[u8; 6]> {
    // SAFETY: an all-zero ifreq is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    // The name, truncated to IFNAMSIZ - 1 bytes and NUL-terminated.
    for (dst, &src) in ifr
        .ifr_name
        .iter_mut()
        .zip(name.as_bytes().iter().take(libc::IFNAMSIZ - 1))
    {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads the name from and writes the address into the
    // ifreq we pass, which lives across the call.
    let rc = unsafe { libc::ioctl(socket, libc::SIOCGIFHWADDR as _, &mut ifr) };
    if rc == -1 {
        return None;
    }
    // SAFETY: on success the kernel filled ifru_hwaddr.
    let data = unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (dst, &src) in mac.iter_mut().zip(data.iter()) {
        *dst = src as u8;
    }
    Some(mac)
}
