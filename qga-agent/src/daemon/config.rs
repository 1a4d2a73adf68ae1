//! The agent's configuration: qemu-ga's config file, merged with the command
//! line, and its `-D` dump.
//!
//! As qemu-ga does it: the file (`-c`/`--config`, QEMU 9.1, which must exist;
//! else `QGA_CONF`, else `/etc/qemu/qemu-ga.conf`, where a missing file is no
//! error) is read first, group `[general]`, keys named like
//! the long options; then the command line. A scalar given in both takes the
//! command line's value; `verbose`, `daemon` and `retry-path` can only be
//! switched on by the command line; the lists (`block-rpcs`, with the old name
//! `blacklist` that 9.1 dropped and ours still reads, with a warning, and
//! `allow-rpcs`) accumulate, the file's items first. With both lists, only the
//! allowed commands that are not blocked run (as QEMU 10.2 documents it).
//!
//! qemu-ga splits a list value at commas only, and keeps the items of each value
//! in reverse order; `-D` prints them that way, joined with commas, and ours
//! prints them the same, byte for byte. qemu-ga's documentation and its own
//! test files write lists with `;` (GLib's list separator), which 7.2 then
//! takes for one unknown command name and so blocks nothing. Ours keeps the
//! items as qemu-ga does (for `-D`), and splits them again at `;` when it
//! applies them ([`Config::blocked_rpcs`], [`Config::allowed_rpcs`]).
//!
//! This module knows nothing of the command line: the defaults and the list
//! split live here, and [`crate::daemon::cli`] applies what it parsed onto a
//! [`Config`] (`CommandLine::apply_to`).

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::keyfile::{KeyFile, ParseError, ValueError, Writer};

/// The config file read when `QGA_CONF` is not set.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/qemu/qemu-ga.conf";
/// The environment variable that names another config file.
pub const CONFIG_ENV: &str = "QGA_CONF";
/// The group the keys live in.
pub const GROUP: &str = "general";
/// The channel used when none is configured.
pub const DEFAULT_METHOD: &str = "virtio-serial";
/// The virtio-serial port QEMU creates for the agent.
pub const DEFAULT_VIRTIO_PATH: &str = "/dev/virtio-ports/org.qemu.guest_agent.0";
/// The first serial port.
pub const DEFAULT_SERIAL_PATH: &str = "/dev/ttyS0";
/// The pid file written with `-d`.
pub const DEFAULT_PIDFILE: &str = "/var/run/qemu-ga.pid";
/// Where the state files go.
pub const DEFAULT_STATEDIR: &str = "/var/run";
/// The hook `-F` runs when given without a path.
pub const DEFAULT_FSFREEZE_HOOK: &str = "/etc/qemu/fsfreeze-hook";

/// Everything the agent is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `daemon`, `-d`.
    pub daemonize: bool,
    /// `method`, `-m`: kept as written; [`crate::channel::Method`] parses it
    /// when the channel is opened, as qemu-ga does.
    pub method: String,
    /// `path`, `-p`. After [`Config::finish`], only `None` under socket
    /// activation.
    pub path: Option<OsString>,
    /// `logfile`, `-l`.
    pub logfile: Option<PathBuf>,
    /// `pidfile`, `-f`.
    pub pidfile: PathBuf,
    /// `fsfreeze-hook`, `-F`.
    pub fsfreeze_hook: Option<PathBuf>,
    /// `statedir`, `-t`.
    pub statedir: PathBuf,
    /// `verbose`, `-v`.
    pub verbose: bool,
    /// `retry-path`, `-r`.
    pub retry_path: bool,
    /// `block-rpcs`, `-b`: the items as qemu-ga keeps them (see the module doc).
    pub block_rpcs: Vec<String>,
    /// `allow-rpcs`, `-a`: likewise.
    pub allow_rpcs: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            daemonize: false,
            method: DEFAULT_METHOD.into(),
            path: None,
            logfile: None,
            pidfile: DEFAULT_PIDFILE.into(),
            fsfreeze_hook: None,
            statedir: DEFAULT_STATEDIR.into(),
            verbose: false,
            retry_path: false,
            block_rpcs: Vec::new(),
            allow_rpcs: Vec::new(),
        }
    }
}

/// Why the config file could not be used.
#[derive(Debug)]
pub enum ConfigError {
    /// The file exists but could not be read.
    Read(PathBuf, io::Error),
    /// It is not a key file.
    Parse(PathBuf, ParseError),
    /// A value of the wrong form.
    Value(PathBuf, ValueError),
    /// No `-p` for a method that has no default path.
    NoPath,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = "error loading configuration from path";
        match self {
            ConfigError::Read(path, e) => write!(f, "{prefix}: {}, {e}", path.display()),
            ConfigError::Parse(path, e) => write!(f, "{prefix}: {}, {e}", path.display()),
            ConfigError::Value(path, e) => write!(f, "{prefix}: {}, {e}", path.display()),
            ConfigError::NoPath => write!(f, "must specify a path for this channel"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// qemu-ga's split of a list value: at commas, items in reverse order, empty
/// items kept.
pub fn split_list(value: &str) -> Vec<String> {
    value.split(',').rev().map(str::to_owned).collect()
}

/// The command names in qemu-ga-ordered list items, split again at `;` (see
/// the module doc); empty names dropped.
fn names(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|item| item.split(';'))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Config {
    /// The config file to read: `QGA_CONF`, or the default one.
    pub fn file_from_env() -> PathBuf {
        std::env::var_os(CONFIG_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| DEFAULT_CONFIG_FILE.into())
    }

    /// Reads the config file at `path` over the defaults. A file that does not
    /// exist is an empty configuration, unless it is `required` (named by
    /// `-c`). Warnings (the deprecated `blacklist` key) are returned for the
    /// caller to print.
    pub fn load(path: &Path, required: bool) -> Result<(Config, Vec<String>), ConfigError> {
        let mut config = Config::default();
        let data = match std::fs::read(path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !required => {
                return Ok((config, Vec::new()))
            }
            Err(e) => return Err(ConfigError::Read(path.into(), e)),
        };
        let keys = KeyFile::parse(&data).map_err(|e| ConfigError::Parse(path.into(), e))?;
        let warnings = config
            .apply_file(&keys)
            .map_err(|e| ConfigError::Value(path.into(), e))?;
        Ok((config, warnings))
    }

    /// Applies the keys of a parsed config file.
    pub fn apply_file(&mut self, keys: &KeyFile) -> Result<Vec<String>, ValueError> {
        let string = |key: &str| keys.string(GROUP, key).transpose();
        let boolean = |key: &str| keys.boolean(GROUP, key).transpose();
        let mut warnings = Vec::new();

        if let Some(daemon) = boolean("daemon")? {
            self.daemonize = daemon;
        }
        if let Some(method) = string("method")? {
            self.method = method;
        }
        if let Some(path) = string("path")? {
            self.path = Some(path.into());
        }
        if let Some(logfile) = string("logfile")? {
            self.logfile = Some(logfile.into());
        }
        if let Some(pidfile) = string("pidfile")? {
            self.pidfile = pidfile.into();
        }
        if let Some(hook) = string("fsfreeze-hook")? {
            self.fsfreeze_hook = Some(hook.into());
        }
        if let Some(statedir) = string("statedir")? {
            self.statedir = statedir.into();
        }
        if boolean("verbose")? == Some(true) {
            self.verbose = true;
        }
        if let Some(retry) = boolean("retry-path")? {
            self.retry_path = retry;
        }
        // As qemu-ga 7.2: the old key, when present, is read instead of the new.
        let block_key = if keys.has_key(GROUP, "blacklist") {
            warnings.push(
                "config file uses the deprecated key 'blacklist': rename it 'block-rpcs'".into(),
            );
            "blacklist"
        } else {
            "block-rpcs"
        };
        if let Some(list) = string(block_key)? {
            self.block_rpcs.extend(split_list(&list));
        }
        if let Some(list) = string("allow-rpcs")? {
            self.allow_rpcs.extend(split_list(&list));
        }
        Ok(warnings)
    }

    /// Fills in the default path of the method. `activated` says the channel
    /// comes from systemd socket activation, which needs no path.
    pub fn finish(&mut self, activated: bool) -> Result<(), ConfigError> {
        if activated || self.path.is_some() {
            return Ok(());
        }
        self.path = Some(
            match self.method.as_str() {
                "virtio-serial" => DEFAULT_VIRTIO_PATH,
                "isa-serial" => DEFAULT_SERIAL_PATH,
                _ => return Err(ConfigError::NoPath),
            }
            .into(),
        );
        Ok(())
    }

    /// The config as a config file, as qemu-ga's `-D` prints it (the keys in
    /// its order; `logfile`, `fsfreeze-hook` and `path` only when set;
    /// `allow-rpcs`, which 7.2 does not have, only when there is an allow list).
    pub fn dump(&self) -> Vec<u8> {
        let mut w = Writer::new(GROUP);
        w.boolean("daemon", self.daemonize);
        w.string("method", self.method.as_bytes());
        if let Some(path) = &self.path {
            w.string("path", path.as_bytes());
        }
        if let Some(logfile) = &self.logfile {
            w.string("logfile", logfile.as_os_str().as_bytes());
        }
        w.string("pidfile", self.pidfile.as_os_str().as_bytes());
        if let Some(hook) = &self.fsfreeze_hook {
            w.string("fsfreeze-hook", hook.as_os_str().as_bytes());
        }
        w.string("statedir", self.statedir.as_os_str().as_bytes());
        w.boolean("verbose", self.verbose);
        w.boolean("retry-path", self.retry_path);
        w.string("block-rpcs", self.block_rpcs.join(",").as_bytes());
        if !self.allow_rpcs.is_empty() {
            w.string("allow-rpcs", self.allow_rpcs.join(",").as_bytes());
        }
        w.into_bytes()
    }

    /// The commands to refuse, in the order given.
    pub fn blocked_rpcs(&self) -> Vec<String> {
        names(&self.block_rpcs)
    }

    /// The commands to allow, when there is an allow list (then every other
    /// command is refused).
    pub fn allowed_rpcs(&self) -> Option<Vec<String>> {
        (!self.allow_rpcs.is_empty()).then(|| names(&self.allow_rpcs))
    }

    /// The names in the block and allow lists that are not in `commands`.
    pub fn unknown_rpcs(&self, commands: &[&str]) -> Vec<String> {
        let mut unknown: Vec<String> = self
            .blocked_rpcs()
            .into_iter()
            .chain(self.allowed_rpcs().unwrap_or_default())
            .filter(|name| !commands.contains(&name.as_str()))
            .collect();
        unknown.dedup();
        unknown
    }

    /// The paths made absolute against `cwd`, so that they still mean the same
    /// after a daemon's `chdir("/")` (qemu-ga would resolve them against `/`).
    pub fn absolutize(&mut self, cwd: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() && !p.as_os_str().is_empty() {
                *p = cwd.join(&*p);
            }
        };
        fix(&mut self.pidfile);
        fix(&mut self.statedir);
        if let Some(p) = &mut self.logfile {
            fix(p);
        }
        if let Some(p) = &mut self.fsfreeze_hook {
            fix(p);
        }
        if matches!(
            self.method.as_str(),
            "unix-listen" | "virtio-serial" | "isa-serial"
        ) {
            if let Some(path) = &mut self.path {
                let mut p = PathBuf::from(std::mem::take(path));
                fix(&mut p);
                *path = p.into_os_string();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn from_file(text: &str) -> Config {
        let mut config = Config::default();
        config
            .apply_file(&KeyFile::parse(text.as_bytes()).unwrap())
            .unwrap();
        config
    }

    fn dump(config: &Config) -> String {
        String::from_utf8(config.dump()).unwrap()
    }

    #[test]
    fn defaults_dump_as_qemu_ga() {
        let mut config = Config::default();
        config.finish(false).unwrap();
        assert_eq!(
            dump(&config),
            "[general]\ndaemon=false\nmethod=virtio-serial\n\
             path=/dev/virtio-ports/org.qemu.guest_agent.0\npidfile=/var/run/qemu-ga.pid\n\
             statedir=/var/run\nverbose=false\nretry-path=false\nblock-rpcs=\n"
        );
    }

    #[test]
    fn every_key() {
        let config = from_file(
            "[general]\nblock-rpcs=guest-ping;guest-info\nverbose=true\ndaemon=false\n\
             method=unix-listen\npath=/tmp/x.sock\nlogfile=/tmp/log\npidfile=/tmp/pid\n\
             statedir=/tmp\nfsfreeze-hook=/etc/hook\nretry-path=true\nallow-rpcs=a,b\n",
        );
        assert_eq!(
            dump(&config),
            "[general]\ndaemon=false\nmethod=unix-listen\npath=/tmp/x.sock\nlogfile=/tmp/log\n\
             pidfile=/tmp/pid\nfsfreeze-hook=/etc/hook\nstatedir=/tmp\nverbose=true\n\
             retry-path=true\nblock-rpcs=guest-ping;guest-info\nallow-rpcs=b,a\n"
        );
        assert_eq!(config.blocked_rpcs(), ["guest-ping", "guest-info"]);
        assert_eq!(config.allowed_rpcs(), Some(vec!["b".into(), "a".into()]));
    }

    #[test]
    fn file_cannot_unset_but_can_set() {
        let config = from_file("[general]\nverbose=false\ndaemon=1\nretry-path=0\n");
        assert!(!config.verbose && config.daemonize && !config.retry_path);
    }

    #[test]
    fn blacklist_key_replaces_block_rpcs() {
        let mut config = Config::default();
        let keys = KeyFile::parse(b"[general]\nblock-rpcs=b\nblacklist=a\n").unwrap();
        let warnings = config.apply_file(&keys).unwrap();
        assert_eq!(config.block_rpcs, ["a"]);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn empty_values_are_values() {
        let mut config = from_file("[general]\npath=\nlogfile=\nstatedir=\n");
        config.finish(false).unwrap();
        assert_eq!(config.path.as_deref(), Some(OsStr::new("")));
        assert!(dump(&config).contains("\npath=\nlogfile=\n"));
    }

    #[test]
    fn split_keeps_qemu_order_and_empty_items() {
        assert_eq!(split_list("a,,b,"), ["", "b", "", "a"]);
        assert_eq!(split_list(""), [""]);
        let config = Config {
            block_rpcs: split_list("a,,b,"),
            ..Config::default()
        };
        assert_eq!(config.blocked_rpcs(), ["b", "a"]);
    }

    #[test]
    fn a_path_is_needed_for_sockets() {
        for method in ["unix-listen", "vsock-listen", "foo", ""] {
            let mut config = Config {
                method: method.into(),
                ..Config::default()
            };
            assert!(
                matches!(config.finish(false), Err(ConfigError::NoPath)),
                "{method}"
            );
            assert!(config.finish(true).is_ok());
        }
        let mut config = Config {
            method: "isa-serial".into(),
            ..Config::default()
        };
        config.finish(false).unwrap();
        assert_eq!(config.path.as_deref(), Some(OsStr::new("/dev/ttyS0")));
    }

    #[test]
    fn unknown_names() {
        let config = Config {
            block_rpcs: split_list("guest-ping;guest-nope,x"),
            allow_rpcs: split_list("guest-info"),
            ..Config::default()
        };
        assert_eq!(
            config.unknown_rpcs(&["guest-ping", "guest-info"]),
            ["x", "guest-nope"]
        );
    }

    #[test]
    fn missing_file_is_empty_config() {
        let path = Path::new("/nonexistent/qemu-ga.conf");
        let (config, warnings) = Config::load(path, false).unwrap();
        assert_eq!(config, Config::default());
        assert!(warnings.is_empty());
        // Named with -c, it must exist.
        let error = Config::load(path, true).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "error loading configuration from path: /nonexistent/qemu-ga.conf, No such file"
            ),
            "{error}"
        );
    }

    #[test]
    fn relative_paths_made_absolute() {
        let mut config = Config {
            method: "unix-listen".into(),
            path: Some("s.sock".into()),
            statedir: "state".into(),
            logfile: Some("".into()),
            ..Config::default()
        };
        config.absolutize(Path::new("/w"));
        assert_eq!(config.path.as_deref(), Some(OsStr::new("/w/s.sock")));
        assert_eq!(config.statedir, Path::new("/w/state"));
        assert_eq!(config.pidfile, Path::new(DEFAULT_PIDFILE));
        assert_eq!(config.logfile.as_deref(), Some(Path::new("")));
    }
}
