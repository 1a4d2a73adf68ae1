//! guest-network-get-interfaces: the assembly of getifaddrs() entries, hardware
//! addresses and a fixture /proc/net/dev, and a read of the real interfaces.

use std::net::IpAddr;
use std::path::Path;

use qga_agent::commands::error::CommandError;
use qga_agent::commands::network::{self, IfAddrEntry};
use serde_json::json;

const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3829      39    0    0    0     0          0         0     3829      39    0    0    0     0       0          0
  eth0:342625032  13805    1    2    0     0          0         0   824532   10873    3    4    0     0       0          0
 eth01: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
  eth1: 1 2 3
";

fn link(name: &str) -> IfAddrEntry {
    IfAddrEntry {
        name: name.into(),
        address: None,
        netmask: None,
    }
}

fn ip(name: &str, address: &str, netmask: Option<&str>) -> IfAddrEntry {
    IfAddrEntry {
        name: name.into(),
        address: Some(address.parse::<IpAddr>().unwrap()),
        netmask: netmask.map(|m| m.parse::<IpAddr>().unwrap()),
    }
}

fn hw(name: &str) -> Result<Option<[u8; 6]>, CommandError> {
    Ok(match name {
        "lo" => Some([0; 6]),
        "eth0" | "eth0:1" => Some([0x02, 0xfc, 0, 0, 0, 0x01]),
        "eth1" => Some([0xb2, 0, 0x33, 0x04, 0x64, 0xfa]),
        _ => None,
    })
}

#[test]
fn interfaces_assembled_as_qemu_ga() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = tmp.path().join("dev");
    std::fs::write(&dev, NET_DEV).unwrap();
    // getifaddrs() order: the links first, then the addresses.
    let entries = [
        link("lo"),
        link("eth0"),
        link("eth1"),
        link("tun0"),
        ip("lo", "127.0.0.1", Some("255.0.0.0")),
        ip("eth0", "192.0.2.2", Some("255.255.255.0")),
        ip("eth0:1", "192.0.2.3", Some("255.255.255.255")),
        ip("tun0", "10.8.0.1", None),
        ip("lo", "::1", Some("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
        ip("eth0", "fe80::fc:ff:fe00:1", Some("ffff:ffff:ffff:ffff::")),
        ip("eth0", "fd00::2", Some("ffff:ffff:ffff:ff80::")),
    ];
    let mut lookups = Vec::new();
    let mut lookup = |name: &str| {
        lookups.push(name.to_string());
        hw(name)
    };
    let got = network::interfaces_from(&entries, &mut lookup, &dev).unwrap();
    assert_eq!(
        serde_json::to_value(&got).unwrap(),
        json!([
            {
                "name": "lo",
                "hardware-address": "00:00:00:00:00:00",
                "ip-addresses": [
                    {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
                    {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128},
                ],
                "statistics": {
                    "rx-bytes": 3829, "rx-packets": 39, "rx-errs": 0, "rx-dropped": 0,
                    "tx-bytes": 3829, "tx-packets": 39, "tx-errs": 0, "tx-dropped": 0,
                },
            },
            {
                "name": "eth0",
                "hardware-address": "02:fc:00:00:00:01",
                "ip-addresses": [
                    {"ip-address": "192.0.2.2", "ip-address-type": "ipv4", "prefix": 24},
                    {"ip-address": "fe80::fc:ff:fe00:1", "ip-address-type": "ipv6", "prefix": 64},
                    {"ip-address": "fd00::2", "ip-address-type": "ipv6", "prefix": 57},
                ],
                "statistics": {
                    "rx-bytes": 342625032u64, "rx-packets": 13805, "rx-errs": 1, "rx-dropped": 2,
                    "tx-bytes": 824532, "tx-packets": 10873, "tx-errs": 3, "tx-dropped": 4,
                },
            },
            // No IP address: only the name and hardware address.
            {"name": "eth1", "hardware-address": "b2:00:33:04:64:fa"},
            // No hardware address (the lookup found none), no counters line, no
            // netmask: prefix 0.
            {
                "name": "tun0",
                "ip-addresses": [
                    {"ip-address": "10.8.0.1", "ip-address-type": "ipv4", "prefix": 0},
                ],
            },
            // An IPv4 label is an interface of its own, without counters.
            {
                "name": "eth0:1",
                "hardware-address": "02:fc:00:00:00:01",
                "ip-addresses": [
                    {"ip-address": "192.0.2.3", "ip-address-type": "ipv4", "prefix": 32},
                ],
            },
        ])
    );
    // The hardware address is looked up until one is found.
    assert_eq!(lookups, ["lo", "eth0", "eth1", "tun0", "eth0:1", "tun0"]);
}

#[test]
fn counters_file_missing_or_lookup_failing() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = [link("lo"), ip("lo", "127.0.0.1", Some("255.0.0.0"))];
    let got = network::interfaces_from(&entries, &mut hw, &tmp.path().join("none")).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].statistics, None);
    assert!(got[0].ip_addresses.is_some());

    let mut failing = |_: &str| -> Result<Option<[u8; 6]>, CommandError> {
        Err(CommandError(
            "failed to create socket: Too many open files".into(),
        ))
    };
    assert_eq!(
        network::interfaces_from(&entries, &mut failing, Path::new(network::PROC_NET_DEV))
            .unwrap_err()
            .0,
        "failed to create socket: Too many open files"
    );
    assert_eq!(
        network::interfaces_from(&[], &mut failing, Path::new(network::PROC_NET_DEV)).unwrap(),
        vec![]
    );
}

#[test]
fn net_dev_parsing() {
    let eth0 = network::parse_net_dev(NET_DEV, "eth0").unwrap();
    assert_eq!((eth0.rx_bytes, eth0.tx_dropped), (342625032, 4));
    let eth01 = network::parse_net_dev(NET_DEV, "eth01").unwrap();
    assert_eq!(
        (
            eth01.rx_bytes,
            eth01.rx_packets,
            eth01.rx_errs,
            eth01.rx_dropped
        ),
        (1, 2, 3, 4)
    );
    assert_eq!(
        (
            eth01.tx_bytes,
            eth01.tx_packets,
            eth01.tx_errs,
            eth01.tx_dropped
        ),
        (9, 10, 11, 12)
    );
    // Too few numbers, unknown interface, a prefix of a name.
    assert_eq!(network::parse_net_dev(NET_DEV, "eth1"), None);
    assert_eq!(network::parse_net_dev(NET_DEV, "eth9"), None);
    assert_eq!(network::parse_net_dev(NET_DEV, "eth"), None);
}

#[test]
fn real_interfaces() {
    let got = network::get_interfaces().unwrap();
    let lo = got.iter().find(|i| i.name == "lo").expect("lo");
    assert_eq!(lo.hardware_address.as_deref(), Some("00:00:00:00:00:00"));
    let addrs = lo.ip_addresses.as_ref().expect("lo has addresses");
    assert!(addrs
        .iter()
        .any(|a| a.ip_address == "127.0.0.1" && a.prefix == 8));
    assert!(lo.statistics.is_some());
    for iface in &got {
        assert_eq!(
            iface.statistics.is_some(),
            iface.ip_addresses.is_some() && !iface.name.contains(':'),
            "{iface:?}"
        );
    }
    let mut names: Vec<_> = got.iter().map(|i| &i.name).collect();
    names.dedup();
    assert_eq!(names.len(), got.len());
}
