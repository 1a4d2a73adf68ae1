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
