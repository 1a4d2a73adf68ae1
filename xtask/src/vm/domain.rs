//! The libvirt run's domain: the same guest the VM suite boots (direct kernel boot of
//! its vmlinuz and initramfs, its scratch ext4 disk), described for libvirt, and the
//! small wrapper libvirt runs as the domain's emulator (the downloaded QEMU needs its
//! library path and firmware folders).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::fetch::Guest;

/// The guest NIC's MAC address (what domifaddr must show for eth0).
pub const MAC: &str = "52:54:00:71:67:61";
/// The address the guest's /init gives eth0 (`tests/vm/init.sh`), with its prefix.
pub const GUEST_ADDRESS: &str = "192.0.2.15/24";
/// The scratch disk's serial number.
pub const DISK_SERIAL: &str = "qga-scratch";
/// The scratch disk's target name in the domain (and so libvirt's alias for it).
pub const DISK_TARGET: &str = "vda";
/// Guest memory. The suite's guest has more, for hibernation images; this one does
/// not hibernate.
const MEMORY_MIB: u32 = 256;
/// vCPUs: two, so that guestvcpus can take cpu 1 offline.
pub const VCPUS: u32 = 2;

/// What the domain is made of.
pub struct Domain<'a> {
    pub name: &'a str,
    pub guest: &'a Guest,
    pub emulator: &'a Path,
    pub initrd: &'a Path,
    pub disk: &'a Path,
    pub console: &'a Path,
    /// The udp NIC's ports on 127.0.0.1: (where its packets go, where it listens).
    /// Nothing listens at the far end; the NIC only needs to exist.
    pub udp_ports: (u16, u16),
}

impl Domain<'_> {
    /// The domain XML.
    pub fn xml(&self) -> String {
        let p = |path: &Path| escape(&path.to_string_lossy());
        let mut x = String::new();
        let _ = write!(
            x,
            "<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{MEMORY_MIB}</memory>
  <vcpu placement='static'>{VCPUS}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{emulator}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' discard='unmap'/>
      <source file='{disk}'/>
      <target dev='{DISK_TARGET}' bus='virtio'/>
      <serial>{DISK_SERIAL}</serial>
    </disk>
    <interface type='udp'>
      <mac address='{MAC}'/>
      <source address='127.0.0.1' port='{remote}'>
        <local address='127.0.0.1' port='{local}'/>
      </source>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='{console}' append='on'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
",
            name = escape(self.name),
            kernel = p(&self.guest.kernel),
            initrd = p(self.initrd),
            emulator = p(self.emulator),
            disk = p(self.disk),
            console = p(self.console),
            remote = self.udp_ports.0,
            local = self.udp_ports.1,
        );
        x
    }
}

/// Writes the emulator wrapper to `path`: it appends its PID (QEMU's, after the exec)
/// to `pid_list`, leaves a watcher that kills that QEMU should this process (the
/// xtask, `owner`) die without cleaning up (QEMU daemonizes away from libvirtd, so
/// nothing else would stop it), and execs the downloaded QEMU with its library path
/// and `-L` firmware folders. libvirt also runs it to probe QEMU's capabilities.
pub fn write_emulator(
    guest: &Guest,
    path: &Path,
    pid_list: &Path,
    owner: u32,
) -> Result<PathBuf, String> {
    let q = |s: &std::ffi::OsStr| shell_quote(&s.to_string_lossy());
    let mut firmware = String::new();
    for dir in &guest.firmware {
        let _ = write!(firmware, " -L {}", q(dir.as_os_str()));
    }
    let script = format!(
        "#!/bin/sh
# The emulator of `cargo xtask vm --libvirt`'s domain (written by xtask/src/vm/domain.rs).
echo $$ >>{pids}
# If the xtask (pid {owner}) dies without stopping this QEMU, stop it.
( while kill -0 {owner} 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done
  kill -0 {owner} 2>/dev/null || kill -9 $$ 2>/dev/null ) </dev/null >/dev/null 2>&1 &
LD_LIBRARY_PATH={libs} exec {qemu}{firmware} \"$@\"
",
        pids = q(pid_list.as_os_str()),
        libs = q(&guest.lib_path),
        qemu = q(guest.qemu.as_os_str()),
    );
    fs::write(path, script).map_err(|e| format!("{}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// Two UDP ports on 127.0.0.1 that are free right now.
pub fn free_udp_ports() -> Result<(u16, u16), String> {
    let bind = || {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| Ok((s.local_addr()?.port(), s)))
            .map_err(|e| format!("cannot find a free UDP port on 127.0.0.1: {e}"))
    };
    // Both bound at once, so that they differ.
    let (a, _sa) = bind()?;
    let (b, _sb) = bind()?;
    Ok((a, b))
}

/// XML text and attribute escaping.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn ports_differ() {
        let (a, b) = free_udp_ports().unwrap();
        assert!(a != b && a != 0 && b != 0);
    }
}
