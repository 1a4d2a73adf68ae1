//! `cargo xtask demo`: our agent on a temporary unix socket, and the `qga` command
//! talking to it, so a newcomer sees the whole thing work with one command.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Stops the agent and removes the temporary directory, however the demo ends.
struct Cleanup {
    agent: Option<Child>,
    dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut agent) = self.agent.take() {
            // SIGTERM, so the agent ends as it would in a guest.
            let _ = Command::new("kill").arg(agent.id().to_string()).status();
            let _ = agent.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the demo.
pub fn run(root: &Path) -> Result<(), String> {
    crate::build::cargo_build(root, &["-p", "qga-agent", "-p", "qga-client"], None)?;
    let bin = crate::build::target_dir(root).join("debug");
    let dir = std::env::temp_dir().join(format!("qga-demo-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("state")).map_err(|e| e.to_string())?;
    let mut cleanup = Cleanup {
        agent: None,
        dir: dir.clone(),
    };
    let socket = dir.join("qga.sock");
    let agent = Command::new(bin.join("qga-agent"))
        .args(["-m", "unix-listen", "-p"])
        .arg(&socket)
        .arg("-t")
        .arg(dir.join("state"))
        .arg("-f")
        .arg(dir.join("qga.pid"))
        .spawn()
        .map_err(|e| format!("cannot start qga-agent: {e}"))?;
    cleanup.agent = Some(agent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if Instant::now() > deadline {
            return Err("the agent did not create its socket".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(
        dir.join("hello.txt"),
        "hello from the guest's file system\n",
    )
    .map_err(|e| e.to_string())?;
    let hello = dir.join("hello.txt").display().to_string();
    let steps: [&[&str]; 6] = [
        &["ping"],
        &["osinfo"],
        &["hostname"],
        &["time"],
        &["cat", &hello],
        &[
            "exec",
            "--",
            "sh",
            "-c",
            "echo hello from guest-exec; uname -s",
        ],
    ];
    for step in steps {
        println!("$ qga --socket {} {}", socket.display(), step.join(" "));
        let status = Command::new(bin.join("qga"))
            .arg("--socket")
            .arg(&socket)
            .args(step)
            .status()
            .map_err(|e| format!("cannot run qga: {e}"))?;
        if !status.success() {
            return Err(format!("qga {} failed: {status}", step.join(" ")));
        }
        println!();
    }
    Ok(())
}
