//! What the guest needs, from Debian packages: QEMU and its firmware, a kernel and its
//! modules, busybox. Downloaded with `apt-get download` (never installed: bookworm's
//! qemu-system-x86 conflicts with the backported qemu-utils of these machines) into
//! `vm-cache/debs`, and unpacked into the private root `vm-cache/root`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{run_cmd, tail, UNAVAILABLE};

/// QEMU, its firmware and the libraries it needs that a build machine usually lacks.
const HOST_PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "qemu-system-common",
    "qemu-system-data",
    "seabios",
    "ipxe-qemu",
    "libcapstone4",
    "libfdt1",
    "libpmem1",
    "librdmacm1",
    "libibverbs1",
    "libslirp0",
    "libvdeplug2",
    "libndctl6",
    "libdaxctl1",
    "libnl-3-200",
    "libnl-route-3-200",
];

/// Guest packages besides the kernel: busybox, and QEMU's own agent with the
/// libraries it links besides libc (for `cargo xtask vm --compare` and `--agent
/// qemu-ga`: about 2 MB in all).
const GUEST_PACKAGES: &[&str] = &[
    "busybox-static",
    "qemu-guest-agent",
    "libglib2.0-0",
    "libpcre2-8-0",
    "libnuma1",
    "liburing2",
    "libudev1",
];

/// The metapackage whose dependency names today's kernel package.
const KERNEL_META: &str = "linux-image-amd64";

/// Kernel modules the guest loads, in this order (Debian's 6.1 kernel builds them as
/// modules): the virtio console, then virtio-blk and ext4 for the scratch disk, then
/// virtio-net for a NIC.
pub const MODULES: &[&str] = &[
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_console",
    "virtio_blk",
    "crc32c_generic",
    "crc16",
    "mbcache",
    "jbd2",
    "ext4",
    "failover",
    "net_failover",
    "virtio_net",
];

/// Marks a complete root; holds the package list it was made from.
const STAMP: &str = ".qga-vm-packages";

/// Everything needed to boot a guest, inside the private root.
pub struct Guest {
    pub qemu: PathBuf,
    /// `LD_LIBRARY_PATH` for QEMU.
    pub lib_path: std::ffi::OsString,
    /// `-L` folders: QEMU's data, SeaBIOS, iPXE.
    pub firmware: Vec<PathBuf>,
    /// The kernel: vmlinuz, booted through its bzImage entry. (The uncompressed ELF
    /// inside would boot in half the time under TCG, but QEMU starts an ELF kernel
    /// through its PVH entry point, and a 6.1 kernel booted that way cannot resume
    /// from S3: its wakeup trampoline page-faults as soon as it enables paging, the
    /// triple fault resets the machine into the firmware's resume path again, and the
    /// guest never comes back from guest-suspend-ram.)
    pub kernel: PathBuf,
    /// e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// (name, uncompressed .ko) in load order; built-in ones are left out.
    pub modules: Vec<(&'static str, PathBuf)>,
    pub busybox: PathBuf,
    /// Debian's qemu-ga, and its package version.
    pub qemu_ga: PathBuf,
    pub qemu_ga_version: String,
    /// The private root everything above is in.
    pub root: PathBuf,
}

/// Makes sure the cache holds a complete root for today's kernel, and describes it.
pub fn prepare(cache: &Path) -> Result<Guest, String> {
    let root = cache.join("root");
    let stamp = fs::read_to_string(root.join(STAMP)).ok();
    let kernel_pkg = match resolve_kernel(stamp.is_none()) {
        Ok(pkg) => pkg,
        Err(e) => match stamp.as_deref().and_then(stamped_kernel) {
            Some(pkg) => {
                eprintln!(
                    "vm: cannot ask apt which kernel is current ({e}); using the cached {pkg}"
                );
                pkg
            }
            None => return Err(e),
        },
    };
    let mut packages: Vec<String> = HOST_PACKAGES
        .iter()
        .chain(GUEST_PACKAGES)
        .map(|s| s.to_string())
        .collect();
    packages.push(kernel_pkg);
    let wanted = packages.join("\n") + "\n";
    if stamp.as_deref() != Some(wanted.as_str()) {
        let debs = cache.join("debs");
        match download(&debs, &packages) {
            Ok(()) => unpack(cache, &debs, &packages, &wanted)?,
            Err(e) if stamp.is_some() => eprintln!("vm: {e}; using the cached guest"),
            Err(e) => return Err(e),
        }
    }
    describe(&root)
}

/// The kernel package `linux-image-amd64` depends on, e.g. `linux-image-6.1.0-56-amd64`.
fn resolve_kernel(may_update: bool) -> Result<String, String> {
    match depends_of(KERNEL_META) {
        Ok(pkg) => Ok(pkg),
        Err(_) if may_update && super::have_program("apt-get") => {
            eprintln!("vm: no package lists for {KERNEL_META}; running apt-get update");
            run_cmd("apt-get", &["update", "-qq"], None)
                .map_err(|e| format!("{UNAVAILABLE}: {e}"))?;
            depends_of(KERNEL_META)
        }
        Err(e) => Err(e),
    }
}

fn depends_of(meta: &str) -> Result<String, String> {
    let out = run_cmd("apt-cache", &["depends", meta], None)
        .map_err(|e| format!("{UNAVAILABLE}: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .ok_or_else(|| format!("{UNAVAILABLE}: apt-cache knows no kernel that {meta} depends on"))
}

fn stamped_kernel(stamp: &str) -> Option<String> {
    stamp
        .lines()
        .find(|l| l.starts_with("linux-image-"))
        .map(str::to_string)
}

/// The cached .deb of `pkg`, if any (newest first when several versions are there).
fn cached_deb(debs: &Path, pkg: &str) -> Option<PathBuf> {
    let prefix = format!("{pkg}_");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(debs)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".deb")
        })
        .map(|e| {
            (
                e.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH),
                e.path(),
            )
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// Removes cached .debs of packages no longer wanted (an older kernel's).
fn prune(debs: &Path, packages: &[String]) {
    let Ok(entries) = fs::read_dir(debs) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pkg = name.split('_').next().unwrap_or("");
        if name.ends_with(".deb") && !packages.iter().any(|p| p == pkg) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Downloads the packages not yet in `debs`.
fn download(debs: &Path, packages: &[String]) -> Result<(), String> {
    prune(debs, packages);
    let missing: Vec<&String> = packages
        .iter()
        .filter(|p| cached_deb(debs, p).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
    eprintln!("vm: downloading {}", names.join(" "));
    // Into a private folder first, so a concurrent run never sees half a file.
    let partial = debs.with_file_name(format!("debs.partial-{}", std::process::id()));
    fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    fs::create_dir_all(debs).map_err(|e| format!("{}: {e}", debs.display()))?;
    let mut args = vec!["download", "-q"];
    args.extend(&names);
    let result = run_cmd("apt-get", &args, Some(&partial));
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&partial);
        return Err(format!("{UNAVAILABLE}: {e}"));
    }
    let moved: Result<(), String> = (|| {
        for entry in fs::read_dir(&partial).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            fs::rename(entry.path(), debs.join(entry.file_name())).map_err(|e| e.to_string())?;
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&partial);
    moved.map_err(|e| format!("moving downloaded packages into {}: {e}", debs.display()))?;
    for pkg in missing {
        if cached_deb(debs, pkg).is_none() {
            return Err(format!(
                "{UNAVAILABLE}: apt-get download did not fetch {pkg}"
            ));
        }
    }
    Ok(())
}

/// Unpacks the packages into a fresh root and puts it in place of the old one.
fn unpack(cache: &Path, debs: &Path, packages: &[String], stamp: &str) -> Result<(), String> {
    let fresh = cache.join(format!("root.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&fresh);
    fs::create_dir_all(&fresh).map_err(|e| format!("{}: {e}", fresh.display()))?;
    let result = unpack_into(debs, packages, &fresh);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&fresh);
        return Err(e);
    }
    fs::write(fresh.join(STAMP), stamp).map_err(|e| e.to_string())?;
    let root = cache.join("root");
    let old = cache.join(format!("root.old-{}", std::process::id()));
    if root.exists() {
        fs::rename(&root, &old).map_err(|e| format!("{}: {e}", root.display()))?;
    }
    if fs::rename(&fresh, &root).is_err() {
        // Another run put its root in place meanwhile: use that one.
        let _ = fs::remove_dir_all(&fresh);
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

fn unpack_into(debs: &Path, packages: &[String], root: &Path) -> Result<(), String> {
    eprintln!("vm: unpacking {} packages", packages.len());
    // All at once: dpkg-deb is mostly decompression, and most packages are small.
    let mut children = Vec::new();
    for pkg in packages {
        let deb = cached_deb(debs, pkg).ok_or_else(|| format!("{pkg}: no .deb in the cache"))?;
        let child = if pkg.starts_with("linux-image-") {
            extract_kernel_parts(&deb, root)?
        } else {
            Command::new("dpkg-deb")
                .arg("-x")
                .arg(&deb)
                .arg(root)
                .stdin(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("{UNAVAILABLE}: cannot run dpkg-deb: {e}"))?
        };
        children.push((pkg, child));
    }
    let mut errors = Vec::new();
    for (pkg, child) in children {
        match child.wait_with_output() {
            Ok(out) if out.status.success() => {}
            // A module our list names but this kernel builds in is not in the archive:
            // `describe` checks modules.builtin.
            Ok(out) if pkg.starts_with("linux-image-") && only_not_found(&out.stderr) => {}
            Ok(out) => errors.push(format!(
                "unpacking {pkg} failed ({}): {}",
                out.status,
                tail(&String::from_utf8_lossy(&out.stderr), 4)
            )),
            Err(e) => errors.push(format!("unpacking {pkg}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let (_, release) = find_vmlinuz(root)?;
    decompress_modules(root, &release)
}

/// Whether tar's complaints are all about patterns that matched nothing.
fn only_not_found(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr)
        .lines()
        .all(|l| l.contains("Not found in archive") || l.contains("Exiting with failure status"))
}

/// Only `boot/vmlinuz-*`, `modules.builtin` and the modules we load: the whole package
/// would be 400 MB of modules.
fn extract_kernel_parts(deb: &Path, root: &Path) -> Result<std::process::Child, String> {
    let mut fsys = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{UNAVAILABLE}: cannot run dpkg-deb: {e}"))?;
    let tar_in = fsys.stdout.take().ok_or("no pipe from dpkg-deb")?;
    let mut tar = Command::new("tar");
    tar.arg("-x").arg("-C").arg(root).arg("--wildcards");
    tar.args(["./boot/vmlinuz-*", "./lib/modules/*/modules.builtin"]);
    for m in MODULES {
        tar.arg(format!("*/{m}.ko*"));
    }
    let child = tar
        .stdin(Stdio::from(tar_in))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    // dpkg-deb is reaped by the thread; tar's status is what tells.
    std::thread::spawn(move || fsys.wait());
    Ok(child)
}

fn find_vmlinuz(root: &Path) -> Result<(PathBuf, String), String> {
    let boot = root.join("boot");
    fs::read_dir(&boot)
        .map_err(|e| format!("{}: {e}", boot.display()))?
        .filter_map(Result::ok)
        .find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("vmlinuz-")
                .map(|rel| (e.path(), rel.to_string()))
        })
        .ok_or_else(|| format!("no vmlinuz in {}", boot.display()))
}

/// Debian 6.1 ships plain .ko files; decompress any .ko.xz / .ko.zst we may meet.
fn decompress_modules(root: &Path, release: &str) -> Result<(), String> {
    let dir = root.join("lib/modules").join(release);
    for path in walk(&dir) {
        let name = path.to_string_lossy().into_owned();
        let tool = if name.ends_with(".ko.xz") {
            "xz"
        } else if name.ends_with(".ko.zst") {
            "zstd"
        } else {
            continue;
        };
        run_cmd(tool, &["-d", "-q", "-f", name.as_str()], None)?;
    }
    Ok(())
}

/// Every file below `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(_) => files.push(entry.path()),
                Err(_) => {}
            }
        }
    }
    files.sort();
    files
}

/// The version of `pkg` that the root was unpacked from, from its .deb's name in
/// `../debs` (e.g. `1:7.2+dfsg-7+deb12u18+b3`); "" if not found.
fn package_version(root: &Path, pkg: &str) -> String {
    let debs = root.with_file_name("debs");
    cached_deb(&debs, pkg)
        .and_then(|deb| {
            let name = deb.file_name()?.to_string_lossy().into_owned();
            let version = name.strip_prefix(&format!("{pkg}_"))?.split('_').next()?;
            Some(version.replace("%3a", ":"))
        })
        .unwrap_or_default()
}

/// Finds QEMU, the kernel, the modules, busybox and qemu-ga in a complete root.
fn describe(root: &Path) -> Result<Guest, String> {
    let (kernel, release) = find_vmlinuz(root)?;

    let module_dir = root.join("lib/modules").join(&release);
    let builtin = fs::read_to_string(module_dir.join("modules.builtin")).unwrap_or_default();
    let files = walk(&module_dir.join("kernel"));
    let mut modules = Vec::new();
    for &name in MODULES {
        let file = format!("{name}.ko");
        match files
            .iter()
            .find(|p| p.file_name().is_some_and(|f| f == file.as_str()))
        {
            Some(path) => modules.push((name, path.clone())),
            None if builtin.lines().any(|l| l.ends_with(&format!("/{file}"))) => {}
            None => return Err(format!("kernel {release} has no module {name}")),
        }
    }

    let qemu = root.join("usr/bin/qemu-system-x86_64");
    let busybox = root.join("bin/busybox");
    let qemu_ga = root.join("usr/sbin/qemu-ga");
    for path in [&qemu, &busybox, &qemu_ga] {
        if !path.is_file() {
            return Err(format!(
                "{} is missing from the unpacked packages",
                path.display()
            ));
        }
    }
    let lib_path = std::env::join_paths([
        root.join("usr/lib/x86_64-linux-gnu"),
        root.join("lib/x86_64-linux-gnu"),
    ])
    .map_err(|e| e.to_string())?;
    let firmware = vec![
        root.join("usr/share/qemu"),
        root.join("usr/share/seabios"),
        root.join("usr/lib/ipxe/qemu"),
    ];
    Ok(Guest {
        qemu,
        lib_path,
        firmware,
        kernel,
        release,
        modules,
        busybox,
        qemu_ga,
        qemu_ga_version: package_version(root, "qemu-guest-agent"),
        root: root.to_path_buf(),
    })
}
