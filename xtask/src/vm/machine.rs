//! One QEMU guest: its scratch, swap and partitioned disks (at fixed PCI slots, so that
//! the scenarios know where each is), a NIC on the host's loopback, the process
//! (started again after a hibernation), the agent's chardev socket and a QMP socket.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::fetch::Guest;
use super::run_cmd;

/// Size of the scratch disk (sparse).
const DISK_BYTES: u64 = 64 << 20;

/// A fresh raw ext4 image for one VM (two VMs cannot share one: QEMU locks it).
pub fn make_disk(work: &Path) -> Result<PathBuf, String> {
    let disk = work.join("scratch.img");
    let file = fs::File::create(&disk).map_err(|e| format!("{}: {e}", disk.display()))?;
    file.set_len(DISK_BYTES)
        .map_err(|e| format!("{}: {e}", disk.display()))?; // truncate -s
    drop(file);
    let mkfs = if super::have_program("mkfs.ext4") {
        "mkfs.ext4"
    } else if Path::new("/sbin/mkfs.ext4").is_file() {
        "/sbin/mkfs.ext4"
    } else {
        return Err(format!(
            "{}: mkfs.ext4 not found (install e2fsprogs)",
            super::UNAVAILABLE
        ));
    };
    run_cmd(
        mkfs,
        &["-F", "-q", "-L", "scratch", &disk.to_string_lossy()],
        None,
    )?;
    Ok(disk)
}

/// Size of the swap disk (sparse): room for a hibernation image of the guest.
const SWAP_BYTES: u64 = 512 << 20;

/// A fresh swap area on a raw image, for the guest to hibernate to.
pub fn make_swap(work: &Path) -> Result<PathBuf, String> {
    let swap = work.join("swap.img");
    let file = fs::File::create(&swap).map_err(|e| format!("{}: {e}", swap.display()))?;
    file.set_len(SWAP_BYTES)
        .map_err(|e| format!("{}: {e}", swap.display()))?;
    drop(file);
    let mkswap = if super::have_program("mkswap") {
        "mkswap"
    } else if Path::new("/sbin/mkswap").is_file() {
        "/sbin/mkswap"
    } else {
        return Err(format!(
            "{}: mkswap not found (install util-linux)",
            super::UNAVAILABLE
        ));
    };
    run_cmd(mkswap, &["-L", "qga-swap", &swap.to_string_lossy()], None)?;
    Ok(swap)
}

/// Size of the partitioned disk (sparse), and where its one partition starts (the
/// usual 1 MiB alignment), in 512-byte sectors.
const PARTED_BYTES: u64 = 8 << 20;
const PARTITION_START: u32 = 2048;

/// A raw image with an MBR partition table holding one Linux partition (type 0x83)
/// from sector [`PARTITION_START`] to the end: the guest sees `/dev/vdc1` on it.
/// Written here because busybox has no partitioning tool.
pub fn make_parted_disk(work: &Path) -> Result<PathBuf, String> {
    use std::io::Write;
    let disk = work.join("parted.img");
    let mut file = fs::File::create(&disk).map_err(|e| format!("{}: {e}", disk.display()))?;
    file.set_len(PARTED_BYTES)
        .and_then(|()| file.write_all(&mbr((PARTED_BYTES / 512) as u32)))
        .map_err(|e| format!("{}: {e}", disk.display()))?;
    Ok(disk)
}

/// A 512-byte MBR for a disk of `sectors` sectors: a disk signature, one partition
/// entry (CHS fields all 0xFE/0xFF: "use the LBA fields", as tools write for big disks)
/// and the 0x55AA boot signature.
fn mbr(sectors: u32) -> [u8; 512] {
    let mut mbr = [0u8; 512];
    mbr[440..444].copy_from_slice(&0x7167_6176u32.to_le_bytes());
    let entry = &mut mbr[446..462];
    entry[0] = 0x00; // not bootable
    entry[1..4].copy_from_slice(&[0xFE, 0xFF, 0xFF]);
    entry[4] = 0x83; // Linux
    entry[5..8].copy_from_slice(&[0xFE, 0xFF, 0xFF]);
    entry[8..12].copy_from_slice(&PARTITION_START.to_le_bytes());
    entry[12..16].copy_from_slice(&(sectors - PARTITION_START).to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    mbr
}

/// The PCI slots of the disks on bus 0 (`/dev/vda`, `vdb`, `vdc` in this order:
/// the guest names virtio disks in PCI order).
pub const SCRATCH_SLOT: u8 = 0x08;
pub const SWAP_SLOT: u8 = 0x09;
pub const PARTED_SLOT: u8 = 0x0a;
/// The NIC's MAC address (the guest's `eth0`).
pub const NIC_MAC: &str = "52:54:00:71:67:61";

/// The disk images of one guest.
pub struct Disks<'a> {
    /// The scratch disk, `/dev/vda`, ext4 (mounted on /mnt/scratch).
    pub scratch: &'a Path,
    /// The swap disk, `/dev/vdb`.
    pub swap: &'a Path,
    /// The partitioned disk, `/dev/vdc`.
    pub parted: &'a Path,
}

pub struct Vm {
    child: Child,
    /// How QEMU was started, to start it again ([`Vm::restart`]).
    command: (PathBuf, Vec<std::ffi::OsString>, std::ffi::OsString),
    log: PathBuf,
    exit: Option<ExitStatus>,
    /// The agent's virtio-serial port, as a unix socket QEMU listens on.
    pub agent_socket: PathBuf,
    /// QEMU's QMP monitor.
    pub qmp_socket: PathBuf,
    console: PathBuf,
    pub started: Instant,
}

impl Vm {
    /// Starts QEMU; it does not wait for the guest.
    pub fn boot(
        guest: &Guest,
        work: &Path,
        initrd: &Path,
        disks: &Disks<'_>,
    ) -> Result<Vm, String> {
        let agent_socket = work.join("qga.sock");
        let qmp_socket = work.join("qmp.sock");
        let console = work.join("console.log");
        let log = work.join("qemu.log");
        let (remote, local) = super::domain::free_udp_ports()?;
        // setpriv --pdeathsig: QEMU dies with us even if we are killed outright.
        let mut cmd = if super::have_program("setpriv") {
            let mut c = Command::new("setpriv");
            c.args(["--pdeathsig", "KILL", "--"]).arg(&guest.qemu);
            c
        } else {
            Command::new(&guest.qemu)
        };
        for dir in &guest.firmware {
            cmd.arg("-L").arg(dir);
        }
        // 512 MiB at boot, and a 128 MiB DIMM (one memory block) the guest finds
        // through ACPI and adds as hot-plugged memory. No bigger: hibernation counts
        // the DIMM's free memory but cannot put its image there (movable zone), and
        // with 256 MiB it ran short of memory for the image.
        cmd.args(["-accel", "tcg", "-smp", "2"])
            .args(["-m", "512M,slots=1,maxmem=640M"])
            .args(["-object", "memory-backend-ram,id=dimm0,size=128M"])
            .args(["-device", "pc-dimm,id=dimm0,memdev=dimm0"])
            .args(["-display", "none", "-monitor", "none", "-no-user-config"])
            // Appended to, so that a restarted guest's console follows the first's.
            .arg("-chardev")
            .arg(format!(
                "file,id=console,path={},append=on",
                console.display()
            ))
            .args(["-serial", "chardev:console"])
            .arg("-kernel")
            .arg(&guest.kernel)
            .arg("-initrd")
            .arg(initrd)
            // panic=-1: a dead /init reboots, which -no-reboot turns into an exit.
            // memhp_default_state: hot-plugged memory goes online in the movable
            // zone, so that its blocks can always be taken offline (boot memory
            // holds the kernel's early allocations, and taking one of its blocks
            // offline fails now and then with EBUSY, even with movablecore=).
            .args([
                "-append",
                "console=ttyS0 quiet panic=-1 memhp_default_state=online_movable",
            ])
            .args(["-no-reboot", "-nic", "none"])
            // A NIC whose packets go to a UDP port of the host's loopback that nothing
            // reads: an interface for the guest to configure, and no network.
            .arg("-netdev")
            .arg(format!(
                "socket,id=net0,udp=127.0.0.1:{remote},localaddr=127.0.0.1:{local}"
            ))
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=net0,mac={NIC_MAC}"))
            .arg("-chardev")
            .arg(format!(
                "socket,path={},server=on,wait=off,id=qga0",
                agent_socket.display()
            ))
            .args(["-device", "virtio-serial"])
            .args([
                "-device",
                "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
            ])
            .args(drive(
                "scratch",
                disks.scratch,
                SCRATCH_SLOT,
                ",discard=unmap",
            ))
            .args(drive("swap", disks.swap, SWAP_SLOT, ""))
            .args(drive("parted", disks.parted, PARTED_SLOT, ""))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_socket.display()));
        let command = (
            PathBuf::from(cmd.get_program()),
            cmd.get_args().map(|a| a.to_os_string()).collect(),
            guest.lib_path.clone(),
        );
        let started = Instant::now();
        Ok(Vm {
            child: spawn(&command, &log, false)?,
            command,
            log,
            exit: None,
            agent_socket,
            qmp_socket,
            console,
            started,
        })
    }

    /// Starts QEMU again, with the same command line and disks, once it has exited
    /// (e.g. after the guest hibernated).
    pub fn restart(&mut self) -> Result<(), String> {
        if self.exited().is_none() {
            return Err("QEMU still runs".into());
        }
        self.child = spawn(&self.command, &self.log, true)?;
        self.exit = None;
        self.started = Instant::now();
        Ok(())
    }

    /// The exit status if QEMU has exited (a non-blocking wait: a zombie would still
    /// answer `kill -0`).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
            }
        }
        self.exit
    }

    /// Waits up to `timeout` for QEMU to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills QEMU (by its PID) if it still runs, and reaps it.
    pub fn stop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            if let Ok(status) = self.child.wait() {
                self.exit = Some(status);
            }
        }
    }

    /// How many times the guest's /init has seen the agent exit (it restarts it).
    pub fn agent_exits(&self) -> usize {
        let console = fs::read(&self.console).unwrap_or_default();
        String::from_utf8_lossy(&console)
            .matches("qga-vm: agent exited")
            .count()
    }

    /// The end of the guest's serial console and of QEMU's own output.
    pub fn console_tail(&self, lines: usize) -> String {
        let console = fs::read(&self.console).unwrap_or_default();
        let qemu = fs::read(self.console.with_file_name("qemu.log")).unwrap_or_default();
        let mut text = super::tail(&String::from_utf8_lossy(&console), lines);
        let qemu = String::from_utf8_lossy(&qemu);
        if !qemu.trim().is_empty() {
            text.push_str("\n-- qemu --\n");
            text.push_str(&super::tail(&qemu, 10));
        }
        text
    }
}

/// `-drive` and `-device` arguments for a raw virtio disk at `slot` of PCI bus 0;
/// `options` are more `-drive` options (each starting with a comma).
fn drive(id: &str, image: &Path, slot: u8, options: &str) -> [String; 4] {
    [
        "-drive".into(),
        format!(
            "file={},if=none,id={id},format=raw{options}",
            image.display()
        ),
        "-device".into(),
        format!("virtio-blk-pci,drive={id},addr={slot:#04x}.0"),
    ]
}

/// Starts QEMU with its output into `log` (appended to with `append`).
fn spawn(
    (program, args, lib_path): &(PathBuf, Vec<std::ffi::OsString>, std::ffi::OsString),
    log: &Path,
    append: bool,
) -> Result<Child, String> {
    let log_file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    Command::new(program)
        .args(args)
        .env("LD_LIBRARY_PATH", lib_path)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbr_has_one_linux_partition() {
        let m = mbr(16384);
        assert_eq!(&m[510..], &[0x55, 0xAA]);
        assert_eq!(m[446 + 4], 0x83);
        assert_eq!(u32::from_le_bytes(m[454..458].try_into().unwrap()), 2048);
        assert_eq!(u32::from_le_bytes(m[458..462].try_into().unwrap()), 14336);
        // The other three entries are empty.
        assert!(m[462..510].iter().all(|&b| b == 0));
    }

    #[test]
    fn drives_at_their_slots() {
        let d = drive("swap", Path::new("s.img"), SWAP_SLOT, "");
        assert_eq!(d[1], "file=s.img,if=none,id=swap,format=raw");
        assert_eq!(d[3], "virtio-blk-pci,drive=swap,addr=0x09.0");
    }
}
