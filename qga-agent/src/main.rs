//! qga-agent: the guest agent daemon, with qemu-ga's options.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::ExitCode;

use qga_agent::agent::Agent;
use qga_agent::options::{self, Action, Options};
use qga_agent::state::State;
use qga_agent::{channel, logging, signals};

/// The pid file, locked for the agent's life and removed at exit.
struct PidFile {
    path: std::path::PathBuf,
    _file: File,
}

impl PidFile {
    fn create(path: &Path) -> Result<PidFile, String> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("Cannot open pid file, {e}"))?;
        // SAFETY: lockf on a descriptor we own.
        if unsafe { libc::lockf(file.as_raw_fd(), libc::F_TLOCK, 0) } != 0 {
            return Err(format!(
                "Cannot lock pid file, {}",
                std::io::Error::last_os_error()
            ));
        }
        file.set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(|e| format!("Failed to write pid file: {e}"))?;
        Ok(PidFile {
            path: path.to_owned(),
            _file: file,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Forks into the background: the parent exits, the child starts a new session with
/// its standard streams on /dev/null.
fn daemonize() -> Result<(), String> {
    // SAFETY: called before any thread is started; the child only continues with
    // ordinary Rust code.
    match unsafe { libc::fork() } {
        -1 => {
            return Err(format!(
                "failed to fork: {}",
                std::io::Error::last_os_error()
            ))
        }
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain process calls in the single-threaded child.
    unsafe {
        libc::setsid();
    }
    std::env::set_current_dir("/").map_err(|e| format!("failed to chdir: {e}"))?;
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| e.to_string())?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors.
        unsafe {
            libc::dup2(null.as_raw_fd(), fd);
        }
    }
    Ok(())
}

fn run(options: &Options) -> Result<(), String> {
    if options.daemonize {
        daemonize()?;
    }
    logging::init(options)?;
    signals::install();
    let _pidfile = PidFile::create(&options.pidfile)?;
    let state = State::open(&options.statedir).map_err(|e| e.to_string())?;
    let mut agent = Agent::new(
        state,
        &options.allow_rpcs,
        &options.block_rpcs,
        options.fsfreeze_hook.clone(),
        Box::new(logging::suspend_file_logging),
    );
    if agent.is_frozen() {
        tracing::warn!(
            "previous session left the filesystems frozen: only thaw and queries are allowed"
        );
    }
    let served = channel::serve(options, &mut agent);
    // Whatever ended the agent, it leaves no frozen filesystem behind.
    agent.cleanup();
    served.map_err(|e| format!("failed to serve the channel: {e}"))?;
    tracing::info!("terminating on signal");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match options::load(&args) {
        Ok(Action::Help) => {
            print!("{}", options::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Action::Version) => {
            println!("QEMU Guest Agent {} (qga-agent)", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Action::ListCommands) => {
            for c in Agent::commands() {
                println!("{}", c.name);
            }
            ExitCode::SUCCESS
        }
        Ok(Action::Run(options)) if options.dump_conf => {
            print!("{}", options::dump(&options));
            ExitCode::SUCCESS
        }
        Ok(Action::Run(options)) => match run(&options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("qga-agent: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("qga-agent: {e}\n\n{}", options::USAGE);
            ExitCode::FAILURE
        }
    }
}
