//! The guest's initramfs: busybox and its applet links, the agent under test with the
//! libraries it links, the kernel modules, a few files under /etc, a `/sbin/shutdown`
//! and the `/init` script (templates in `tests/vm/`). Packed with `cpio -H newc` and
//! `gzip -1`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::fetch::Guest;
use super::{have_program, run_cmd, UNAVAILABLE};

const INIT: &str = include_str!("../../../tests/vm/init.sh");
const SHUTDOWN: &str = include_str!("../../../tests/vm/shutdown.sh");
const OS_RELEASE: &str = include_str!("../../../tests/vm/os-release");
const PASSWD: &str = include_str!("../../../tests/vm/passwd");
const GROUP: &str = include_str!("../../../tests/vm/group");
const SHADOW: &str = include_str!("../../../tests/vm/shadow");
const PAM_CHPASSWD: &str = include_str!("../../../tests/vm/pam-chpasswd");

/// Host programs copied into the guest when the host has them (with their libraries):
/// `chpasswd` (shadow's, with PAM) for guest-set-user-password; busybox-static has none.
const HOST_PROGRAMS: &[&str] = &["/usr/sbin/chpasswd"];
/// PAM modules `chpasswd` needs, from the folder `security/` beside libpam.
const PAM_MODULES: &[&str] = &["pam_unix.so", "pam_permit.so", "pam_deny.so"];

/// Builds `initrd.gz` in `work` and returns its path.
pub fn build(guest: &Guest, agent: &Path, work: &Path) -> Result<PathBuf, String> {
    let stage = work.join("initramfs");
    let _ = fs::remove_dir_all(&stage);
    for dir in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc/pam.d",
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "mnt/scratch",
        "root",
        "home/qgatest",
        "var/log",
        "lib/modules",
    ] {
        mkdir(&stage.join(dir))?;
    }
    symlink("../run", &stage.join("var/run"))?;

    // busybox and its applets
    copy(&guest.busybox, &stage.join("bin/busybox"), 0o755)?;
    let list = run_cmd(&guest.busybox.to_string_lossy(), &["--list-full"], None)?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = stage.join(applet);
        if applet.is_empty() || link.exists() {
            continue;
        }
        if let Some(parent) = link.parent() {
            mkdir(parent)?;
        }
        symlink("/bin/busybox", &link)?;
    }

    // the agent
    let agent_name = agent
        .file_name()
        .ok_or_else(|| format!("{}: not a file", agent.display()))?
        .to_string_lossy()
        .into_owned();
    let agent_in_guest = format!("/usr/sbin/{agent_name}");
    // A program from the packages (Debian's qemu-ga) finds its libraries there first.
    let private = agent.starts_with(&guest.root).then_some(guest);
    add_program(&stage, agent, &agent_in_guest, private)?;

    // chpasswd and PAM, when the host has them
    for program in HOST_PROGRAMS {
        let path = Path::new(program);
        if path.is_file() {
            add_program(&stage, path, program, None)?;
        }
    }
    if stage.join("usr/sbin/chpasswd").exists() {
        if let Some(security) = libpam_dir() {
            for module in PAM_MODULES {
                let host = security.join(module);
                if host.is_file() {
                    add_program(&stage, &host, &host.to_string_lossy(), None)?;
                }
            }
        }
        write(&stage.join("etc/pam.d/chpasswd"), PAM_CHPASSWD, 0o644)?;
        write(&stage.join("etc/pam.d/other"), PAM_CHPASSWD, 0o644)?;
    }

    // modules, flat: /lib/modules/NAME.ko
    for (name, path) in &guest.modules {
        copy(path, &stage.join(format!("lib/modules/{name}.ko")), 0o644)?;
    }
    let names: Vec<&str> = guest.modules.iter().map(|(n, _)| *n).collect();

    write(&stage.join("etc/os-release"), OS_RELEASE, 0o644)?;
    write(&stage.join("etc/passwd"), PASSWD, 0o644)?;
    write(&stage.join("etc/group"), GROUP, 0o644)?;
    write(&stage.join("etc/shadow"), SHADOW, 0o640)?;
    write(&stage.join("etc/hostname"), "qga-vm\n", 0o644)?;
    let _ = fs::remove_file(stage.join("sbin/shutdown"));
    write(&stage.join("sbin/shutdown"), SHUTDOWN, 0o755)?;
    let init = INIT
        .replace("@AGENT@", &agent_in_guest)
        .replace("@MODULES@", &names.join(" "));
    write(&stage.join("init"), &init, 0o755)?;

    let initrd = work.join("initrd.gz");
    pack(&stage, &initrd)?;
    Ok(initrd)
}

/// Copies a program (or shared object) to `dest` in the guest, with every library
/// `ldd` lists and the dynamic loader, at the paths `ldd` names. With `private`, a
/// program unpacked from the packages: `ldd` looks in their root first, and what
/// it finds there goes to the same place under the guest's `/`.
fn add_program(
    stage: &Path,
    host: &Path,
    dest: &str,
    private: Option<&Guest>,
) -> Result<(), String> {
    copy(host, &stage.join(dest.trim_start_matches('/')), 0o755)?;
    for lib in shared_libraries(host, private.map(|g| &g.lib_path))? {
        let in_guest = match private.and_then(|g| lib.strip_prefix(&g.root).ok()) {
            Some(rel) => rel.to_path_buf(),
            None => lib.clone(),
        };
        let target = stage.join(in_guest.to_string_lossy().trim_start_matches('/'));
        if !target.exists() {
            copy(&lib, &target, 0o755)?;
        }
    }
    Ok(())
}

/// The libraries and loader `ldd` lists for `binary` (looking in `lib_path` first,
/// when given); none for a static one.
fn shared_libraries(
    binary: &Path,
    lib_path: Option<&std::ffi::OsString>,
) -> Result<Vec<PathBuf>, String> {
    let mut ldd = Command::new("ldd");
    if let Some(path) = lib_path {
        ldd.env("LD_LIBRARY_PATH", path);
    }
    let out = ldd
        .arg(binary)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("not a dynamic executable") {
        // ldd says "not a dynamic executable" (stdout or stderr) for a static binary.
        let all = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
        if all.contains("not a dynamic executable") || all.contains("statically linked") {
            return Ok(Vec::new());
        }
        return Err(format!("ldd {} failed: {}", binary.display(), all.trim()));
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.contains("not found") {
            return Err(format!("{}: library {line}", binary.display()));
        }
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
        // "/lib64/ld-linux-x86-64.so.2 (0x...)"; vdso has no path.
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// The host folder holding PAM modules: `security/` beside the libpam chpasswd links.
fn libpam_dir() -> Option<PathBuf> {
    let libs = shared_libraries(Path::new("/usr/sbin/chpasswd"), None).ok()?;
    libs.iter()
        .find(|l| {
            l.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libpam.so"))
        })
        .and_then(|l| l.parent())
        .map(|d| d.join("security"))
}

/// `cpio -o -H newc | gzip -1` of the staged tree.
fn pack(stage: &Path, out: &Path) -> Result<(), String> {
    if !have_program("cpio") {
        eprintln!("vm: cpio is missing; installing it with apt-get");
        run_cmd("apt-get", &["install", "-y", "-qq", "cpio"], None)
            .map_err(|e| format!("{UNAVAILABLE}: no cpio, and cannot install it: {e}"))?;
    }
    let mut names = Vec::new();
    list(stage, Path::new(""), &mut names);
    let file = fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet", "-R", "0:0"])
        .current_dir(stage)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cpio: {e}"))?;
    let cpio_out = cpio.stdout.take().ok_or("no pipe from cpio")?;
    let mut gzip = Command::new("gzip")
        .arg("-1")
        .stdin(Stdio::from(cpio_out))
        .stdout(file)
        .spawn()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    let mut stdin = cpio.stdin.take().ok_or("no pipe to cpio")?;
    let listing: String = names.iter().map(|n| format!("{n}\n")).collect();
    stdin
        .write_all(listing.as_bytes())
        .map_err(|e| format!("writing to cpio: {e}"))?;
    drop(stdin);
    let cpio_result = cpio.wait_with_output().map_err(|e| e.to_string())?;
    let gzip_status = gzip.wait().map_err(|e| e.to_string())?;
    if !cpio_result.status.success() {
        return Err(format!(
            "cpio failed ({}): {}",
            cpio_result.status,
            String::from_utf8_lossy(&cpio_result.stderr).trim()
        ));
    }
    if !gzip_status.success() {
        return Err(format!("gzip failed ({gzip_status})"));
    }
    Ok(())
}

/// Every entry below `dir` (relative names, a folder before what it holds).
fn list(root: &Path, rel: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = rel.join(entry.file_name());
        out.push(path.to_string_lossy().into_owned());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            list(root, &path, out);
        }
    }
}

fn mkdir(path: &Path) -> Result<(), String> {
    fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn symlink(target: &str, link: &Path) -> Result<(), String> {
    std::os::unix::fs::symlink(target, link).map_err(|e| format!("{}: {e}", link.display()))
}

/// Copies the content (following symlinks) and sets the mode.
fn copy(from: &Path, to: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = to.parent() {
        mkdir(parent)?;
    }
    fs::copy(from, to).map_err(|e| format!("copying {}: {e}", from.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", to.display()))
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}
