//! Building the workspace's binaries for the tasks that run them.
//!
//! The agent that goes into a guest, or is measured against qemu-ga, is built by
//! [`guest_agent`]: the `dist` profile (release with whole-program LTO and one codegen
//! unit, see the workspace's `Cargo.toml`), statically linked against the C library.
//! A static agent runs in any Linux guest whatever its C library, starts without the
//! dynamic loader, and maps only the parts of libc it calls: idle RSS 1.7 MiB where
//! the dynamically linked release build has 2.7 MiB, 1.5 MiB of it libc, ld.so and
//! libgcc_s pages (`cargo xtask bench`, idle RSS row).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The folder cargo builds into: `CARGO_TARGET_DIR` (taken relative to the workspace
/// root when relative) or the workspace's `target/`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// Runs `cargo build --quiet ARGS` in the workspace root, with `rustflags` added to
/// the caller's flags when given.
pub fn cargo_build(root: &Path, args: &[&str], rustflags: Option<&str>) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .stdin(Stdio::null())
        .args(["build", "--quiet"])
        .args(args);
    if let Some(flags) = rustflags {
        // Cargo takes CARGO_ENCODED_RUSTFLAGS (flags separated by 0x1F) over RUSTFLAGS:
        // the flags go into whichever the caller uses.
        if let Ok(mut encoded) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
            for flag in flags.split_whitespace() {
                if !encoded.is_empty() {
                    encoded.push('\x1f');
                }
                encoded.push_str(flag);
            }
            command.env("CARGO_ENCODED_RUSTFLAGS", encoded);
        } else {
            let mut all = std::env::var("RUSTFLAGS").unwrap_or_default();
            if !all.trim().is_empty() {
                all.push(' ');
            }
            all.push_str(flags);
            command.env("RUSTFLAGS", all);
        }
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build {} failed ({status})", args.join(" ")))
    }
}

/// Builds qga-agent as it ships to guests (static, `dist` profile) and returns its path:
/// `target/<host triple>/dist/qga-agent`.
pub fn guest_agent(root: &Path) -> Result<PathBuf, String> {
    let triple = host_triple()?;
    // With an explicit --target, RUSTFLAGS reach only the target's crates, not the build
    // scripts and proc-macros that run on the host.
    cargo_build(
        root,
        &["--profile", "dist", "--target", &triple, "-p", "qga-agent"],
        Some("-C target-feature=+crt-static"),
    )?;
    let agent = target_dir(root)
        .join(&triple)
        .join("dist")
        .join("qga-agent");
    if agent.is_file() {
        Ok(agent)
    } else {
        Err(format!("{} was not built", agent.display()))
    }
}

/// The target triple rustc builds for by default (`host:` in `rustc -vV`).
fn host_triple() -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    parse_host(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "rustc -vV names no host triple".to_string())
}

fn parse_host(version: &str) -> Option<String> {
    version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|triple| triple.trim().to_owned())
        .filter(|triple| !triple.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_triple_from_rustc_version() {
        let text = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\n\
                    host: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(
            parse_host(text).as_deref(),
            Some("x86_64-unknown-linux-gnu")
        );
        assert_eq!(parse_host("rustc 1.95.0\nhost: \n"), None);
        assert_eq!(parse_host(""), None);
    }
}
