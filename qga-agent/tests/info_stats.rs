//! The statistics commands on fixture files: guest-get-cpustats (/proc/stat),
//! guest-get-diskstats (/proc/diskstats), guest-network-get-route
//! (/proc/net/route, /proc/net/ipv6_route) and guest-get-load (/proc/loadavg).
//! Each fixture covers the layouts of the kernels the agent may meet.

// Each test crate uses some of the fixtures.
#[allow(dead_code)]
mod fixtures;

use qga_agent::commands::routes::{self, RouteFiles};
use qga_agent::commands::{cpustats, diskstats};
use serde_json::{json, Value};

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

#[test]
fn cpustats_of_every_kernel_layout() {
    let dir = tempfile::tempdir().unwrap();
    let stat = dir.path().join("stat");
    std::fs::write(&stat, fixtures::PROC_STAT).unwrap();
    let got = to_json(&cpustats::get_cpustats_from(&stat, 100).unwrap());
    let cpu = |n: i64, v: &[u64]| {
        let names = [
            "user",
            "nice",
            "system",
            "idle",
            "iowait",
            "irq",
            "softirq",
            "steal",
            "guest",
            "guestnice",
        ];
        let mut o = json!({"type": "linux", "cpu": n});
        for (name, ticks) in names.iter().zip(v) {
            o[name] = json!(ticks * 10);
        }
        o
    };
    assert_eq!(
        got,
        json!([
            cpu(0, &[113979, 0, 12847, 30358]),
            cpu(1, &[114982, 7, 14615, 25997, 3687]),
            cpu(2, &[101, 2, 303, 404, 55, 6]),
            cpu(3, &[1, 2, 3, 4, 5, 6, 7]),
            cpu(4, &[10, 20, 30, 40, 50, 60, 70, 80]),
            cpu(5, &[100, 200, 300, 400, 500, 600, 700, 800, 900]),
            cpu(
                16,
                &[1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]
            ),
        ])
    );
}

#[test]
fn cpustats_stop_at_a_short_line_and_fail_without_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let stat = dir.path().join("stat");
    std::fs::write(&stat, fixtures::PROC_STAT_CUT).unwrap();
    let got = cpustats::get_cpustats_from(&stat, 100).unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    std::fs::write(&stat, "").unwrap();
    assert!(cpustats::get_cpustats_from(&stat, 100).unwrap().is_empty());
    std::fs::remove_file(&stat).unwrap();
    assert_eq!(
        cpustats::get_cpustats_from(&stat, 100).unwrap_err().0,
        format!("open(\"{}\"): No such file or directory", stat.display())
    );
}

#[test]
fn cpustats_of_this_machine() {
    let got = cpustats::get_cpustats().unwrap();
    let online = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(got.len(), online);
    assert!(got.iter().all(|c| {
        let qga_types::GuestCpuStatsBranch::Linux(c) = &c.r#type;
        c.iowait.is_some() && c.guestnice.is_some()
    }));
}

#[test]
fn diskstats_of_every_kernel_layout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diskstats");
    std::fs::write(&file, fixtures::PROC_DISKSTATS).unwrap();
    let got = to_json(&diskstats::get_diskstats_from(&file).unwrap());
    let eleven = |v: [u64; 11]| {
        json!({
            "read-ios": v[0], "read-merges": v[1], "read-sectors": v[2], "read-ticks": v[3],
            "write-ios": v[4], "write-merges": v[5], "write-sectors": v[6], "write-ticks": v[7],
            "ios-pgr": v[8], "total-ticks": v[9], "weight-ticks": v[10]
        })
    };
    let with = |mut base: Value, more: Value| {
        base.as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        base
    };
    let vda_first = [
        110955, 11419, 14646306, 761814, 37923, 143310, 69207576, 1093634, 0, 92148, 1909155,
    ];
    let discards = |v: [u64; 4]| json!({"discard-ios": v[0], "discard-merges": v[1], "discard-sectors": v[2], "discard-ticks": v[3]});
    assert_eq!(
        got,
        json!([
            {"name": "hda1", "major": 3, "minor": 1, "stats": {
                "read-ios": 1234, "read-sectors": 2468, "write-ios": 567, "write-sectors": 4536}},
            {"name": "sda", "major": 8, "minor": 0, "stats": eleven(vda_first)},
            {"name": "vda", "major": 254, "minor": 0,
             "stats": with(eleven(vda_first), discards([43477, 62, 20687560, 43557]))},
            {"name": "nvme0n1p1", "major": 259, "minor": 1, "stats": with(
                with(eleven([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), discards([12, 13, 14, 15])),
                json!({"flush-ios": 16, "flush-ticks": 17}))},
            {"name": "loop0", "major": 7, "minor": 0, "stats": with(
                with(eleven([0; 11]), discards([0; 4])),
                json!({"flush-ios": 0, "flush-ticks": 0}))},
            {"name": "dm-0", "major": 253, "minor": 0, "stats": {}},
            {"name": "zram0", "major": 252, "minor": 0, "stats": with(
                with(eleven([u64::MAX, 0, 0, 0, 0, 0, 0, 0, 4294967295, 0, 0]), discards([0; 4])),
                json!({"flush-ios": 0, "flush-ticks": 0}))},
        ])
    );
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        diskstats::get_diskstats_from(&file).unwrap_err().0,
        format!("open(\"{}\"): No such file or directory", file.display())
    );
}

#[test]
fn diskstats_of_this_machine() {
    let got = diskstats::get_diskstats().unwrap();
    let lines = std::fs::read_to_string("/proc/diskstats")
        .unwrap()
        .lines()
        .count();
    assert_eq!(got.len(), lines);
    assert!(got.iter().all(|d| d.stats.read_ios.is_some()));
}

fn route_files(dir: &std::path::Path, ipv4: Option<&str>, ipv6: Option<&str>) -> RouteFiles {
    let files = RouteFiles {
        ipv4: dir.join("route"),
        ipv6: dir.join("ipv6_route"),
    };
    if let Some(content) = ipv4 {
        std::fs::write(&files.ipv4, content).unwrap();
    }
    if let Some(content) = ipv6 {
        std::fs::write(&files.ipv6, content).unwrap();
    }
    files
}

fn ipv4_routes() -> Value {
    let v4 = |iface: &str, dest: &str, gw: &str, mask: &str, n: [i64; 7]| {
        json!({"iface": iface, "destination": dest, "gateway": gw, "mask": mask,
               "flags": n[0], "refcnt": n[1], "use": n[2], "metric": n[3], "mtu": n[4],
               "window": n[5], "irtt": n[6], "version": 4})
    };
    json!([
        v4(
            "eth0",
            "0.0.0.0",
            "192.0.2.1",
            "0.0.0.0",
            [3, 0, 0, 100, 0, 0, 0]
        ),
        v4(
            "eth0",
            "192.0.2.0",
            "0.0.0.0",
            "255.255.255.0",
            [1, 0, 0, 0, 0, 0, 0]
        ),
        v4(
            "wg0",
            "10.0.0.0",
            "0.0.0.0",
            "255.0.0.0",
            [0x201, 2, 17, -1, 1420, 65535, 300]
        ),
    ])
}

fn ipv6_routes() -> Value {
    let v6 = |iface: &str, dest: &str, len: &str, hop: &str, n: [i64; 4]| {
        json!({"iface": iface, "destination": dest, "desprefixlen": len, "source": "::",
               "srcprefixlen": "0", "nexthop": hop, "metric": n[0], "refcnt": n[1],
               "use": n[2], "flags": n[3], "version": 6})
    };
    json!([
        v6("eth0", "fd00::", "64", "::", [256, 1, 0, 1]),
        v6("eth0", "::", "0", "fd00::1", [1024, 2, 0, 3]),
        v6(
            "eth0",
            "fe80::fc:ff:fe00:1",
            "128",
            "::",
            [0, 2, 0, 0x80200001]
        ),
        v6("lo", "::1", "128", "::", [0, 2, 0, 0x80200001]),
        v6("eth0", "ff00::", "8", "::", [256, 3, 0, 1]),
        v6("lo", "::", "0", "::", [0xffffffff, 1, 0, 0x200200]),
    ])
}

#[test]
fn routes_of_both_tables() {
    if cfg!(target_endian = "big") {
        return; // the fixture is written as a little-endian kernel writes it
    }
    let dir = tempfile::tempdir().unwrap();
    let files = route_files(
        dir.path(),
        Some(fixtures::PROC_NET_ROUTE),
        Some(fixtures::PROC_NET_IPV6_ROUTE),
    );
    let got = to_json(&routes::get_routes_from(&files).unwrap());
    let mut expected = ipv4_routes().as_array().unwrap().clone();
    expected.extend(ipv6_routes().as_array().unwrap().iter().cloned());
    assert_eq!(got, Value::Array(expected));
}

#[test]
fn routes_of_whichever_table_exists() {
    if cfg!(target_endian = "big") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // IPv6 disabled: no ipv6_route file.
    let files = route_files(dir.path(), Some(fixtures::PROC_NET_ROUTE), None);
    assert_eq!(
        to_json(&routes::get_routes_from(&files).unwrap()),
        ipv4_routes()
    );
    let dir = tempfile::tempdir().unwrap();
    let files = route_files(dir.path(), None, Some(fixtures::PROC_NET_IPV6_ROUTE));
    assert_eq!(
        to_json(&routes::get_routes_from(&files).unwrap()),
        ipv6_routes()
    );
    let dir = tempfile::tempdir().unwrap();
    let files = route_files(dir.path(), None, None);
    assert_eq!(
        routes::get_routes_from(&files).unwrap_err().0,
        format!(
            "open(\"{}\"): No such file or directory",
            files.ipv4.display()
        )
    );
    // Only a header, and an empty IPv6 table: no routes, no error.
    let dir = tempfile::tempdir().unwrap();
    let header = fixtures::PROC_NET_ROUTE.lines().next().unwrap();
    let files = route_files(dir.path(), Some(header), Some(""));
    assert!(routes::get_routes_from(&files).unwrap().is_empty());
}

#[test]
fn routes_of_this_machine() {
    let got = routes::get_routes().unwrap();
    let ipv4_lines = std::fs::read_to_string("/proc/net/route")
        .unwrap()
        .lines()
        .count()
        - 1;
    let ipv4 = got.iter().filter(|r| r.version == 4).count();
    assert_eq!(ipv4, ipv4_lines);
    if let Ok(ipv6) = std::fs::read_to_string("/proc/net/ipv6_route") {
        assert_eq!(got.len() - ipv4, ipv6.lines().count());
    }
}
