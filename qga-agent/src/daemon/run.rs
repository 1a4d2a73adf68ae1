//! Start-up and shutdown: everything between `main` and the main loop.
//!
//! In qemu-ga's order: the config file (the one `-c` names, found first), then
//! the command line (`-h`, `-V`,
//! `-b help` and usage errors end here), socket activation, the default path,
//! `-D`; then the log, the frozen marker, `-d` (fork; the pid file is taken in
//! the child, or on thaw when the agent starts frozen), the log file (likewise
//! deferred when frozen), the state directory and its handle counter, the
//! signals, the protocol, the channel; then the main loop. On a stop signal
//! the protocol is shut down (it thaws frozen filesystems), the socket file
//! and the pid file are removed, and the agent exits 0.

use std::ffi::OsString;
use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;

use crate::channel::{self, activation, Channel, ChannelSpec, Protocol};
use crate::daemon::cli::{self, Parsed};
use crate::daemon::config::Config;
use crate::daemon::daemonize::{self, Readiness};
use crate::daemon::freeze_watch::{FreezeWatch, PidfileSlot};
use crate::daemon::logging::{self, LogControl};
use crate::daemon::pidfile::Pidfile;
use crate::daemon::signals::{Signals, StopReason, Stopper};
use crate::daemon::state::{self, State};

/// What the protocol is built from, once the daemon is set up.
pub struct Startup<'a> {
    /// The configuration in effect (the block and allow lists:
    /// [`Config::blocked_rpcs`], [`Config::allowed_rpcs`]; the fsfreeze hook;
    /// the state directory).
    pub config: &'a Config,
    /// Whether the agent starts in the frozen state (a previous agent left
    /// `qga.state.isfrozen`).
    pub frozen: bool,
    /// The state directory with the persisted file-handle counter, for
    /// guest-file-open and the fsfreeze commands.
    pub state: State,
    /// To be told when the frozen state changes (`watch.observer()` is the
    /// fsfreeze code's `FrozenObserver`).
    pub freeze_watch: FreezeWatch,
    /// Ends the main loop as a stop signal does.
    pub stopper: Stopper,
}

/// The agent's `main`: `commands` are the names of the commands it has (for
/// `-b help` and to check the lists), `make_protocol` builds the protocol
/// session once the daemon is set up.
pub fn main<P, F>(commands: &[&str], make_protocol: F) -> ExitCode
where
    P: Protocol,
    F: FnOnce(Startup<'_>) -> P,
{
    let mut args = std::env::args_os();
    let program = args
        .next()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "qga-agent".into());
    let args: Vec<OsString> = args.collect();
    // Nothing this process inherited reaches guest-exec's children.
    let _ = crate::daemon::fds::cloexec_inherited();
    match prepare(&program, &args, commands) {
        Prepared::Exit(code) => code,
        Prepared::Run(config, activated) => run(*config, activated, commands, make_protocol),
    }
}

enum Prepared {
    Exit(ExitCode),
    Run(Box<Config>, Option<std::os::fd::OwnedFd>),
}

fn early_error(program: &str, message: impl Display) -> Prepared {
    eprintln!("{program}: {message}");
    Prepared::Exit(ExitCode::FAILURE)
}

/// Everything before the daemon starts: configuration, and the actions that
/// exit at once.
fn prepare(program: &str, args: &[OsString], commands: &[&str]) -> Prepared {
    // The file named by -c (which must exist), else the usual one.
    let (file, required) = match cli::config_file(args) {
        Some(file) => (file, true),
        None => (Config::file_from_env(), false),
    };
    let (mut config, warnings) = match Config::load(&file, required) {
        Ok(loaded) => loaded,
        Err(e) => return early_error(program, e),
    };
    for warning in warnings {
        eprintln!("{program}: warning: {warning}");
    }
    let line = match cli::parse(args) {
        Parsed::Run(line) => line,
        Parsed::Help => return print_and_exit(&cli::usage(program)),
        Parsed::Version => return print_and_exit(&cli::version()),
        Parsed::ListCommands => {
            let list: String = commands.iter().map(|c| format!("{c}\n")).collect();
            return print_and_exit(&list);
        }
        Parsed::Error(message) => {
            eprintln!("{program}: {message}");
            eprintln!("Unknown option, try '{program} --help' for more information.");
            return Prepared::Exit(ExitCode::FAILURE);
        }
    };
    for warning in &line.warnings {
        eprintln!("{program}: warning: {warning}");
    }
    line.apply_to(&mut config);

    let activated = match activation::take() {
        Ok(activated) => activated,
        Err(e) => return early_error(program, e),
    };
    let activated = activated.map(|(fd, method)| {
        config.method = method.as_str().into();
        config.path = None;
        fd
    });
    if let Err(e) = config.finish(activated.is_some()) {
        return early_error(program, e);
    }
    if line.dump_conf {
        let mut stdout = std::io::stdout().lock();
        let written = stdout
            .write_all(&config.dump())
            .and_then(|()| stdout.flush());
        return Prepared::Exit(if written.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    Prepared::Run(Box::new(config), activated)
}

fn print_and_exit(text: &str) -> Prepared {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    Prepared::Exit(if written.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Logs a start-up failure; also on standard error when the log goes to a
/// file (the user started the agent and watches the terminal).
fn fatal(log: &LogControl, message: impl Display) -> ExitCode {
    tracing::error!("{message}");
    if !log.is_stderr() {
        eprintln!("qga-agent: {message}");
    }
    ExitCode::FAILURE
}

fn run<P, F>(
    mut config: Config,
    activated: Option<std::os::fd::OwnedFd>,
    commands: &[&str],
    make_protocol: F,
) -> ExitCode
where
    P: Protocol,
    F: FnOnce(Startup<'_>) -> P,
{
    let log = logging::init(config.verbose);
    if let Ok(cwd) = std::env::current_dir() {
        config.absolutize(&cwd);
    }
    let frozen = match state::is_frozen(&config.statedir) {
        Ok(frozen) => frozen,
        Err(e) => return fatal(&log, e),
    };

    let readiness = if config.daemonize {
        match daemonize::daemonize() {
            Ok(readiness) => readiness,
            Err(e) => return fatal(&log, format!("failed to daemonize: {e}")),
        }
    } else {
        Readiness::foreground()
    };
    let pidfile = match (config.daemonize, frozen) {
        (false, _) => PidfileSlot::None,
        (true, true) => PidfileSlot::Deferred(config.pidfile.clone()),
        (true, false) => match Pidfile::create(&config.pidfile) {
            Ok(pidfile) => PidfileSlot::Held(pidfile),
            Err(e) => return fatal(&log, e),
        },
    };
    let watch = FreezeWatch::new(log.clone(), pidfile);
    if let Some(path) = &config.logfile {
        if let Err(e) = log.log_to_file(path, frozen) {
            return fatal(&log, format!("unable to open specified log file: {e}"));
        }
    }
    tracing::debug!("guest agent version {} started", env!("CARGO_PKG_VERSION"));
    if frozen {
        tracing::warn!(
            "a previous agent appears to have exited with the filesystems frozen: logging to \
             files, the pid file and every command unsafe while frozen wait for \
             guest-fsfreeze-thaw, or for the filesystems to be thawed by hand and {} removed",
            config.statedir.join(state::FROZEN_FILE).display()
        );
    }
    let state = match State::open(&config.statedir, frozen) {
        Ok(state) => state,
        Err(e) => return fatal(&log, e),
    };
    for name in config.unknown_rpcs(commands) {
        tracing::warn!("the command lists name {name:?}, which this agent does not have");
    }

    let signals = match Signals::new().and_then(|s| s.install().map(|()| s)) {
        Ok(signals) => signals,
        Err(e) => return fatal(&log, format!("failed to register signal handlers: {e}")),
    };
    let spec = match ChannelSpec::from_config(&config, activated) {
        Ok(spec) => spec,
        Err(e) => return fatal(&log, e),
    };
    let mut protocol = make_protocol(Startup {
        config: &config,
        frozen,
        state,
        freeze_watch: watch.clone(),
        stopper: signals.stopper(),
    });

    let first = Channel::open(&spec);
    if let Err(e) = &first {
        if !spec.retry {
            protocol.shutdown();
            return fatal(&log, e);
        }
    }
    let daemon = readiness.is_daemon();
    if let Err(e) = readiness.ready() {
        protocol.shutdown();
        return fatal(&log, format!("failed to daemonize: {e}"));
    }
    if daemon {
        log.stderr_redirected();
    }

    let result = channel::run(&spec, first, &mut protocol, &signals);
    protocol.shutdown();
    watch.release_pidfile();
    match result {
        Ok(StopReason::Signal(signal)) => {
            tracing::debug!("received signal num {signal}, quitting");
            ExitCode::SUCCESS
        }
        Ok(StopReason::Requested) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
