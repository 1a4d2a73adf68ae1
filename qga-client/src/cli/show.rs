//! Replies as text for people.
//!
//! Each function prints one command's reply. Members a reply lacks are left out, and
//! members this code does not know are ignored (`--json` shows everything).

use std::io::{self, Write};

use serde_json::Value;

use super::time::{format_offset, format_utc_nanos, format_utc_seconds};

fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn flag(value: &Value, key: &str) -> Option<bool> {
    value.get(key)?.as_bool()
}

fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

pub fn info(out: &mut dyn Write, info: &Value) -> io::Result<()> {
    writeln!(
        out,
        "version: {}",
        text(info, "version").unwrap_or_default()
    )?;
    let mut commands: Vec<&Value> = items(&info["supported_commands"]).iter().collect();
    commands.sort_by_key(|c| c["name"].as_str().unwrap_or_default().to_owned());
    for command in commands {
        let name = command["name"].as_str().unwrap_or("?");
        let mut notes = Vec::new();
        if flag(command, "enabled") == Some(false) {
            notes.push("disabled");
        }
        if flag(command, "success-response") == Some(false) {
            notes.push("no success response");
        }
        if notes.is_empty() {
            writeln!(out, "{name}")?;
        } else {
            writeln!(out, "{name} ({})", notes.join(", "))?;
        }
    }
    Ok(())
}

pub fn time(out: &mut dyn Write, nanos: &Value) -> io::Result<()> {
    match nanos.as_i64() {
        Some(nanos) => writeln!(out, "{}", format_utc_nanos(nanos)),
        None => writeln!(out, "{nanos}"),
    }
}

pub fn host_name(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    writeln!(out, "{}", text(reply, "host-name").unwrap_or_default())
}

pub fn timezone(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    let offset = format_offset(reply["offset"].as_i64().unwrap_or(0));
    match text(reply, "zone") {
        Some(zone) => writeln!(out, "{zone} (UTC{offset})"),
        None => writeln!(out, "UTC{offset}"),
    }
}

pub fn osinfo(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    const ORDER: [&str; 10] = [
        "pretty-name",
        "name",
        "id",
        "version",
        "version-id",
        "variant",
        "variant-id",
        "kernel-release",
        "kernel-version",
        "machine",
    ];
    for key in ORDER {
        if let Some(value) = text(reply, key) {
            writeln!(out, "{key}: {value}")?;
        }
    }
    if let Some(map) = reply.as_object() {
        for (key, value) in map.iter().filter(|(k, _)| !ORDER.contains(&k.as_str())) {
            writeln!(
                out,
                "{key}: {}",
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned)
            )?;
        }
    }
    Ok(())
}

pub fn users(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    for user in items(reply) {
        let name = text(user, "user").unwrap_or_default();
        let name = match text(user, "domain") {
            Some(domain) => format!("{domain}\\{name}"),
            None => name,
        };
        match user["login-time"].as_f64() {
            Some(t) => writeln!(out, "{name} since {}", format_utc_seconds(t))?,
            None => writeln!(out, "{name}")?,
        }
    }
    Ok(())
}

pub fn interfaces(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    for interface in items(reply) {
        let name = text(interface, "name").unwrap_or_default();
        match text(interface, "hardware-address") {
            Some(mac) => writeln!(out, "{name}: {mac}")?,
            None => writeln!(out, "{name}:")?,
        }
        for address in items(&interface["ip-addresses"]) {
            let family = if address["ip-address-type"] == "ipv6" {
                "inet6"
            } else {
                "inet"
            };
            let ip = text(address, "ip-address").unwrap_or_default();
            match address["prefix"].as_i64() {
                Some(prefix) => writeln!(out, "    {family} {ip}/{prefix}")?,
                None => writeln!(out, "    {family} {ip}")?,
            }
        }
        let stats = &interface["statistics"];
        if let (Some(rx), Some(tx)) = (stats["rx-bytes"].as_u64(), stats["tx-bytes"].as_u64()) {
            writeln!(out, "    rx {rx} bytes, tx {tx} bytes")?;
        }
    }
    Ok(())
}

/// The items of a list sorted by a numeric member (agents list CPUs and memory
/// blocks in no particular order).
fn sorted_by<'a>(reply: &'a Value, key: &str) -> Vec<&'a Value> {
    let mut items: Vec<&Value> = items(reply).iter().collect();
    items.sort_by_key(|item| item[key].as_i64().unwrap_or(i64::MAX));
    items
}

pub fn vcpus(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    for cpu in sorted_by(reply, "logical-id") {
        let id = text(cpu, "logical-id").unwrap_or_default();
        let state = if flag(cpu, "online") == Some(true) {
            "online"
        } else {
            "offline"
        };
        let can = if flag(cpu, "can-offline") == Some(true) {
            ", can go offline"
        } else {
            ""
        };
        writeln!(out, "cpu {id}: {state}{can}")?;
    }
    Ok(())
}

pub fn fsinfo(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    for fs in items(reply) {
        let mountpoint = text(fs, "mountpoint").unwrap_or_default();
        let kind = text(fs, "type").unwrap_or_default();
        let name = text(fs, "name").unwrap_or_default();
        let mut line = format!("{mountpoint} {kind} {name}");
        if let (Some(used), Some(total)) = (fs["used-bytes"].as_u64(), fs["total-bytes"].as_u64()) {
            line += &format!(" {} of {} used", human_bytes(used), human_bytes(total));
        }
        let disks: Vec<String> = items(&fs["disk"])
            .iter()
            .filter_map(|d| text(d, "dev"))
            .collect();
        if !disks.is_empty() {
            line += &format!(" on {}", disks.join(", "));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// A PCI address as lspci writes it, "0000:00:02.0"; `None` when the agent does not
/// know it (its members are -1 then).
fn pci_address(pci: &Value) -> Option<String> {
    let part = |key: &str| pci[key].as_u64();
    let (domain, bus, slot, function) = (
        part("domain")?,
        part("bus")?,
        part("slot")?,
        part("function")?,
    );
    Some(format!("{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"))
}

pub fn disks(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    for disk in items(reply) {
        let mut line = text(disk, "name").unwrap_or_default();
        if let Some(alias) = text(disk, "alias") {
            line += &format!(" ({alias})");
        }
        line += if flag(disk, "partition") == Some(true) {
            " partition"
        } else {
            " disk"
        };
        let address = &disk["address"];
        if let Some(bus) = text(address, "bus-type") {
            line += &format!(" {bus}");
        }
        if let Some(pci) = pci_address(&address["pci-controller"]) {
            line += &format!(" at pci {pci}");
        }
        if let Some(serial) = text(address, "serial") {
            line += &format!(" serial {serial}");
        }
        let dependencies: Vec<String> = items(&disk["dependencies"])
            .iter()
            .filter_map(|d| d.as_str().map(str::to_owned))
            .collect();
        if !dependencies.is_empty() {
            line += &format!(" on {}", dependencies.join(", "));
        }
        let smart = &disk["smart"];
        if smart["type"] == "nvme" {
            let mut health = Vec::new();
            if let Some(used) = smart["percentage-used"].as_i64() {
                health.push(format!("{used}% of life used"));
            }
            if let Some(kelvins) = smart["temperature"].as_i64() {
                health.push(format!("{} °C", kelvins - 273));
            }
            match smart["critical-warning"].as_i64() {
                Some(0) => health.push("no critical warning".to_owned()),
                Some(bits) => health.push(format!("critical warning {bits:#04x}")),
                None => {}
            }
            if !health.is_empty() {
                line += &format!("; nvme: {}", health.join(", "));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

pub fn diskstats(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    // The kernel counts sectors of 512 bytes, whatever the device's own.
    const SECTOR: u64 = 512;
    for device in items(reply) {
        let mut name = text(device, "name").unwrap_or_default();
        if let (Some(major), Some(minor)) = (device["major"].as_u64(), device["minor"].as_u64()) {
            name += &format!(" ({major}:{minor})");
        }
        let stats = &device["stats"];
        let mut parts = Vec::new();
        for (done, kind) in [
            ("read", "read"),
            ("written", "write"),
            ("discarded", "discard"),
        ] {
            let sectors = stats[format!("{kind}-sectors")].as_u64();
            let ios = stats[format!("{kind}-ios")].as_u64();
            match (sectors, ios) {
                (Some(sectors), Some(ios)) => parts.push(format!(
                    "{done} {} in {ios} ios",
                    human_bytes(sectors.saturating_mul(SECTOR))
                )),
                (Some(sectors), None) => parts.push(format!(
                    "{done} {}",
                    human_bytes(sectors.saturating_mul(SECTOR))
                )),
                (None, Some(ios)) => parts.push(format!("{ios} {kind} ios")),
                (None, None) => {}
            }
        }
        if let Some(flushes) = stats["flush-ios"].as_u64() {
            parts.push(format!("{flushes} flushes"));
        }
        if let Some(pending) = stats["ios-pgr"].as_u64() {
            parts.push(format!("{pending} in flight"));
        }
        if parts.is_empty() {
            writeln!(out, "{name}")?;
        } else {
            writeln!(out, "{name}: {}", parts.join(", "))?;
        }
    }
    Ok(())
}

pub fn cpustats(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    // The times that add up to the processor's whole time since boot.
    const TIMES: [&str; 8] = [
        "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
    ];
    // Linux counts these in `user` and `nice` as well: shown, but not added again.
    const GUEST: [&str; 2] = ["guest", "guestnice"];
    for cpu in sorted_by(reply, "cpu") {
        let id = text(cpu, "cpu").unwrap_or_default();
        if cpu["type"] != "linux" {
            writeln!(out, "cpu {id}: {cpu}")?;
            continue;
        }
        let total: u64 = TIMES.iter().filter_map(|key| cpu[*key].as_u64()).sum();
        let shares: Vec<String> = TIMES
            .iter()
            .chain(&GUEST)
            .filter_map(|key| {
                let ms = cpu[*key].as_u64()?;
                let share = if total == 0 {
                    0.0
                } else {
                    ms as f64 * 100.0 / total as f64
                };
                Some(format!("{key} {share:.1}%"))
            })
            .collect();
        writeln!(
            out,
            "cpu {id} ({:.1} s): {}",
            total as f64 / 1000.0,
            shares.join(", ")
        )?;
    }
    Ok(())
}

pub fn load(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    let average = |key: &str| reply[key].as_f64();
    match (average("load1m"), average("load5m"), average("load15m")) {
        (Some(one), Some(five), Some(fifteen)) => {
            writeln!(out, "load average: {one:.2}, {five:.2}, {fifteen:.2}")
        }
        _ => writeln!(out, "{reply}"),
    }
}

/// The length of an IPv4 network mask, "24" for "255.255.255.0"; the mask itself
/// when it is not one run of ones.
fn mask_length(mask: &str) -> String {
    match mask.parse::<std::net::Ipv4Addr>() {
        Ok(address) => {
            let bits = u32::from(address);
            if bits.leading_ones() == bits.count_ones() {
                bits.count_ones().to_string()
            } else {
                mask.to_owned()
            }
        }
        Err(_) => mask.to_owned(),
    }
}

/// Routes as `ip route` writes them: "default via 192.0.2.1 dev eth0",
/// "192.0.2.0/24 dev eth0", "fd00::/64 dev eth0 metric 256".
pub fn routes(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    // The kernel's route flags (linux/route.h, linux/ipv6_route.h).
    const RTF_REJECT: u64 = 0x0200;
    const RTF_LOCAL: u64 = 0x8000_0000;
    for route in items(reply) {
        let v6 = route["version"].as_i64() == Some(6);
        let destination = text(route, "destination").unwrap_or_default();
        let (length, host, on_link, via) = if v6 {
            (
                text(route, "desprefixlen"),
                "128",
                "::",
                text(route, "nexthop"),
            )
        } else {
            (
                text(route, "mask").map(|mask| mask_length(&mask)),
                "32",
                "0.0.0.0",
                text(route, "gateway"),
            )
        };
        let flags = route["flags"].as_u64().unwrap_or(0);
        let mut line = String::new();
        if flags & RTF_REJECT != 0 {
            line += "unreachable ";
        } else if flags & RTF_LOCAL != 0 {
            line += "local ";
        }
        match length.as_deref() {
            Some("0") => line += "default",
            Some(length) if length != host => line += &format!("{destination}/{length}"),
            _ => line += &destination,
        }
        if let (Some(source), Some(length)) = (text(route, "source"), text(route, "srcprefixlen")) {
            if length != "0" {
                line += &format!(" from {source}/{length}");
            }
        }
        if let Some(via) = via.filter(|via| via != on_link) {
            line += &format!(" via {via}");
        }
        if let Some(iface) = text(route, "iface") {
            line += &format!(" dev {iface}");
        }
        for key in ["metric", "mtu"] {
            if let Some(n) = route[key].as_u64().filter(|&n| n != 0) {
                line += &format!(" {key} {n}");
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// An account's SSH keys, one a line.
pub fn keys(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    for key in items(&reply["keys"]) {
        plain(out, key)?;
    }
    Ok(())
}

pub fn memory_blocks(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    for block in sorted_by(reply, "phys-index") {
        let index = text(block, "phys-index").unwrap_or_default();
        let state = if flag(block, "online") == Some(true) {
            "online"
        } else {
            "offline"
        };
        let can = if flag(block, "can-offline") == Some(true) {
            ", can go offline"
        } else {
            ""
        };
        writeln!(out, "block {index}: {state}{can}")?;
    }
    Ok(())
}

pub fn memory_block_info(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    match reply["size"].as_u64() {
        Some(size) => writeln!(out, "block size: {} ({size} bytes)", human_bytes(size)),
        None => writeln!(out, "{reply}"),
    }
}

pub fn fstrim(out: &mut dyn Write, reply: &Value) -> io::Result<()> {
    for path in items(&reply["paths"]) {
        let name = text(path, "path").unwrap_or_default();
        match (text(path, "error"), path["trimmed"].as_u64()) {
            (Some(error), _) => writeln!(out, "{name}: {error}")?,
            (None, Some(trimmed)) => writeln!(out, "{name}: {} trimmed", human_bytes(trimmed))?,
            (None, None) => writeln!(out, "{name}: trimmed")?,
        }
    }
    Ok(())
}

/// A count of filesystems: "1 filesystem frozen", "3 filesystems thawed".
pub fn filesystems(out: &mut dyn Write, count: &Value, what: &str) -> io::Result<()> {
    let n = count.as_i64().unwrap_or(0);
    let noun = if n == 1 { "filesystem" } else { "filesystems" };
    writeln!(out, "{n} {noun} {what}")
}

/// A plain value: a string without quotes, anything else as JSON.
pub fn plain(out: &mut dyn Write, value: &Value) -> io::Result<()> {
    match value {
        Value::String(s) => writeln!(out, "{s}"),
        other => writeln!(out, "{other}"),
    }
}

/// A byte count in binary units, "1.5 GiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn shown(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn info_lists_commands_with_notes() {
        let reply = json!({"version": "7.2.22", "supported_commands": [
            {"name": "guest-shutdown", "enabled": false, "success-response": false},
            {"name": "guest-ping", "enabled": true, "success-response": true}]});
        assert_eq!(
            shown(|o| super::info(o, &reply)),
            "version: 7.2.22\nguest-ping\nguest-shutdown (disabled, no success response)\n"
        );
    }

    #[test]
    fn interfaces_like_ip_addr() {
        let reply = json!([{"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [
            {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
            {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128}],
            "statistics": {"rx-bytes": 10, "tx-bytes": 20}}]);
        assert_eq!(
            shown(|o| super::interfaces(o, &reply)),
            "lo: 00:00:00:00:00:00\n    inet 127.0.0.1/8\n    inet6 ::1/128\n    rx 10 bytes, tx 20 bytes\n"
        );
    }

    #[test]
    fn routes_like_ip_route() {
        let reply = json!([
            {"iface": "eth0", "destination": "0.0.0.0", "gateway": "192.0.2.1",
             "mask": "0.0.0.0", "metric": 0, "flags": 3, "version": 4},
            {"iface": "eth0", "destination": "192.0.2.0", "gateway": "0.0.0.0",
             "mask": "255.255.255.0", "metric": 100, "mtu": 1400, "flags": 1, "version": 4},
            {"iface": "eth0", "destination": "10.0.0.0", "gateway": "0.0.0.0",
             "mask": "255.0.255.0", "metric": 0, "version": 4},
            {"iface": "eth0", "destination": "192.0.2.9", "gateway": "0.0.0.0",
             "mask": "255.255.255.255", "metric": 0, "version": 4},
            {"iface": "eth0", "destination": "::", "desprefixlen": "0", "nexthop": "fd00::1",
             "source": "::", "srcprefixlen": "0", "metric": 1024, "flags": 3, "version": 6},
            {"iface": "eth0", "destination": "fd00::", "desprefixlen": "64", "nexthop": "::",
             "source": "fd01::", "srcprefixlen": "48", "metric": 256, "flags": 1, "version": 6},
            {"iface": "lo", "destination": "::1", "desprefixlen": "128", "nexthop": "::",
             "metric": 0, "flags": 2_149_580_801_u64, "version": 6},
            {"iface": "lo", "destination": "::", "desprefixlen": "0", "nexthop": "::",
             "metric": 4_294_967_295_u64, "flags": 2_097_664, "version": 6}]);
        assert_eq!(
            shown(|o| super::routes(o, &reply)),
            "default via 192.0.2.1 dev eth0\n\
             192.0.2.0/24 dev eth0 metric 100 mtu 1400\n\
             10.0.0.0/255.0.255.0 dev eth0\n\
             192.0.2.9 dev eth0\n\
             default via fd00::1 dev eth0 metric 1024\n\
             fd00::/64 from fd01::/48 dev eth0 metric 256\n\
             local ::1 dev lo\n\
             unreachable default dev lo metric 4294967295\n"
        );
    }

    #[test]
    fn cpustats_as_shares_of_the_whole() {
        let reply = json!([
            {"type": "linux", "cpu": 1, "user": 500, "nice": 0, "system": 250, "idle": 250},
            {"type": "linux", "cpu": 0, "user": 0, "nice": 0, "system": 0, "idle": 0,
             "guest": 0},
            {"type": "windows", "cpu": 2}]);
        assert_eq!(
            shown(|o| super::cpustats(o, &reply)),
            "cpu 0 (0.0 s): user 0.0%, nice 0.0%, system 0.0%, idle 0.0%, guest 0.0%\n\
             cpu 1 (1.0 s): user 50.0%, nice 0.0%, system 25.0%, idle 25.0%\n\
             cpu 2: {\"cpu\":2,\"type\":\"windows\"}\n"
        );
    }

    #[test]
    fn small_things() {
        assert_eq!(
            shown(|o| super::timezone(o, &json!({"zone": "CET", "offset": 3600}))),
            "CET (UTC+01:00)\n"
        );
        assert_eq!(
            shown(|o| super::filesystems(o, &json!(1), "frozen")),
            "1 filesystem frozen\n"
        );
        assert_eq!(
            shown(|o| super::memory_block_info(o, &json!({"size": 134217728}))),
            "block size: 128.0 MiB (134217728 bytes)\n"
        );
        assert_eq!(super::human_bytes(512), "512 bytes");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
    }
}
