//! The command line and the configuration file, as qemu-ga reads them.
//!
//! The keyfile (`QGA_CONF`, else /etc/qemu/qemu-ga.conf) is read first, group
//! `[general]`, keys named like the long options; then the command line. For the same
//! key the last one wins, except the rpc lists, which accumulate.

use std::path::PathBuf;

/// Where the agent listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    VirtioSerial,
    IsaSerial,
    UnixListen,
    VsockListen,
}

impl Method {
    fn parse(text: &str) -> Result<Method, String> {
        match text {
            "virtio-serial" => Ok(Method::VirtioSerial),
            "isa-serial" => Ok(Method::IsaSerial),
            "unix-listen" => Ok(Method::UnixListen),
            "vsock-listen" => Ok(Method::VsockListen),
            other => Err(format!("invalid channel method: {other}")),
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::VirtioSerial => "virtio-serial",
            Method::IsaSerial => "isa-serial",
            Method::UnixListen => "unix-listen",
            Method::VsockListen => "vsock-listen",
        }
    }

    /// QEMU's default path for the method.
    pub fn default_path(self) -> &'static str {
        match self {
            Method::VirtioSerial => "/dev/virtio-ports/org.qemu.guest_agent.0",
            Method::IsaSerial => "/dev/ttyS0",
            Method::UnixListen => "/var/run/qemu-ga.sock",
            Method::VsockListen => "-1:1024",
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub method: Method,
    pub path: Option<String>,
    pub logfile: Option<PathBuf>,
    pub pidfile: PathBuf,
    pub fsfreeze_hook: Option<PathBuf>,
    pub statedir: PathBuf,
    pub verbose: bool,
    pub daemonize: bool,
    pub retry_path: bool,
    pub block_rpcs: Vec<String>,
    pub allow_rpcs: Vec<String>,
    pub dump_conf: bool,
}

/// QEMU's default fsfreeze hook path, used by a bare `-F`.
pub const DEFAULT_FSFREEZE_HOOK: &str = "/etc/qemu/fsfreeze-hook";

impl Default for Options {
    fn default() -> Self {
        Options {
            method: Method::VirtioSerial,
            path: None,
            logfile: None,
            pidfile: PathBuf::from("/var/run/qemu-ga.pid"),
            fsfreeze_hook: None,
            statedir: PathBuf::from("/var/run"),
            verbose: false,
            daemonize: false,
            retry_path: false,
            block_rpcs: Vec::new(),
            allow_rpcs: Vec::new(),
            dump_conf: false,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Run(Box<Options>),
    Help,
    Version,
    /// `-b help` or `-a help`: list the commands.
    ListCommands,
}

pub const USAGE: &str = "Usage: qga-agent [-m <method> -p <path>] [<options>]
QEMU Guest Agent protocol, an agent for Linux guests

  -m, --method      transport method: one of unix-listen, virtio-serial,
                    isa-serial, or vsock-listen (virtio-serial is the default)
  -p, --path        device/socket path (the default for virtio-serial is:
                    /dev/virtio-ports/org.qemu.guest_agent.0,
                    the default for isa-serial is: /dev/ttyS0). Socket addresses
                    for vsock-listen are written as <cid>:<port>.
  -l, --logfile     set logfile path, logs to stderr by default
  -f, --pidfile     specify pidfile (default is /var/run/qemu-ga.pid)
  -F, --fsfreeze-hook
                    enable fsfreeze hook. Accepts an optional argument that
                    specifies script to run on freeze/thaw. Script will be
                    called with 'freeze'/'thaw' arguments accordingly.
                    (default is /etc/qemu/fsfreeze-hook)
  -t, --statedir    specify dir to store state information (absolute paths
                    only, default is /var/run)
  -v, --verbose     log extra debugging information
  -V, --version     print version information and exit
  -d, --daemonize   become a daemon
  -b, --block-rpcs  comma-separated list of RPCs to disable (no spaces,
                    use \"help\" to list available RPCs)
  -a, --allow-rpcs  comma-separated list of RPCs to enable (no spaces,
                    use \"help\" to list available RPCs)
  -D, --dump-conf   dump a qemu-ga config file based on current config
                    options / command-line parameters to stdout
  -r, --retry-path  attempt re-opening path if it's unavailable or closed
                    due to an error which may be recoverable in the future
  -h, --help        display this help and exit
";

fn split_list(value: &str, separator: char) -> impl Iterator<Item = String> + '_ {
    value
        .split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!(
            "invalid value '{other}' for key '{key}' in the configuration file"
        )),
    }
}

/// Applies a keyfile's `[general]` group to `options`.
pub fn apply_config(options: &mut Options, text: &str) -> Result<(), String> {
    let mut in_general = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            in_general = line == "[general]";
            continue;
        }
        if !in_general {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("invalid line in the configuration file: {line}"));
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "method" => options.method = Method::parse(value)?,
            "path" => options.path = Some(value.to_owned()),
            "logfile" => options.logfile = Some(value.into()),
            "pidfile" => options.pidfile = value.into(),
            "fsfreeze-hook" => options.fsfreeze_hook = Some(value.into()),
            "statedir" => options.statedir = value.into(),
            "verbose" => options.verbose = parse_bool(key, value)?,
            "daemon" | "daemonize" => options.daemonize = parse_bool(key, value)?,
            "retry-path" => options.retry_path = parse_bool(key, value)?,
            "block-rpcs" => options.block_rpcs.extend(split_list(value, ';')),
            "allow-rpcs" => options.allow_rpcs.extend(split_list(value, ';')),
            _ => {}
        }
    }
    Ok(())
}

/// The configuration file to read: `QGA_CONF`, else the default if it exists.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("QGA_CONF") {
        Some(path) => Some(PathBuf::from(path)),
        None => Some(PathBuf::from("/etc/qemu/qemu-ga.conf")).filter(|p| p.exists()),
    }
}

/// Parses the command line (without the program name) over `options`.
pub fn parse_args(mut options: Options, args: &[String]) -> Result<Action, String> {
    let mut i = 0;
    let mut list = false;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        // --name=value, --name value, -x value, -xvalue
        let (name, inline) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (long.to_owned(), None),
            }
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let (flag, rest) = short.split_at(1);
            let long = match flag {
                "m" => "method",
                "p" => "path",
                "l" => "logfile",
                "f" => "pidfile",
                "F" => "fsfreeze-hook",
                "t" => "statedir",
                "v" => "verbose",
                "V" => "version",
                "d" => "daemonize",
                "b" => "block-rpcs",
                "a" => "allow-rpcs",
                "D" => "dump-conf",
                "r" => "retry-path",
                "h" => "help",
                _ => return Err(format!("invalid option -- '{flag}'")),
            };
            (long.to_owned(), (!rest.is_empty()).then(|| rest.to_owned()))
        } else {
            return Err(format!("unexpected argument '{arg}'"));
        };
        let mut value = |inline: Option<String>| -> Result<String, String> {
            match inline {
                Some(v) => Ok(v),
                None if i < args.len() => {
                    i += 1;
                    Ok(args[i - 1].clone())
                }
                None => Err(format!("option '--{name}' requires an argument")),
            }
        };
        match name.as_str() {
            "method" => options.method = Method::parse(&value(inline)?)?,
            "path" => options.path = Some(value(inline)?),
            "logfile" => options.logfile = Some(value(inline)?.into()),
            "pidfile" => options.pidfile = value(inline)?.into(),
            "fsfreeze-hook" => {
                options.fsfreeze_hook =
                    Some(inline.map_or_else(|| DEFAULT_FSFREEZE_HOOK.into(), PathBuf::from))
            }
            "statedir" => options.statedir = value(inline)?.into(),
            "verbose" => options.verbose = true,
            "daemonize" => options.daemonize = true,
            "retry-path" => options.retry_path = true,
            "dump-conf" => options.dump_conf = true,
            "block-rpcs" | "allow-rpcs" => {
                let v = value(inline)?;
                if v == "help" {
                    list = true;
                    continue;
                }
                let target = if name == "block-rpcs" {
                    &mut options.block_rpcs
                } else {
                    &mut options.allow_rpcs
                };
                target.extend(split_list(&v, ','));
            }
            "version" => return Ok(Action::Version),
            "help" => return Ok(Action::Help),
            other => return Err(format!("unrecognized option '--{other}'")),
        }
    }
    if list {
        return Ok(Action::ListCommands);
    }
    Ok(Action::Run(Box::new(options)))
}

/// The effective configuration as a keyfile, as `-D` prints it.
pub fn dump(options: &Options) -> String {
    let mut out = String::from("[general]\n");
    out.push_str(&format!("daemon={}\n", options.daemonize));
    out.push_str(&format!("method={}\n", options.method.as_str()));
    out.push_str(&format!(
        "path={}\n",
        options
            .path
            .as_deref()
            .unwrap_or(options.method.default_path())
    ));
    if let Some(logfile) = &options.logfile {
        out.push_str(&format!("logfile={}\n", logfile.display()));
    }
    out.push_str(&format!("pidfile={}\n", options.pidfile.display()));
    if let Some(hook) = &options.fsfreeze_hook {
        out.push_str(&format!("fsfreeze-hook={}\n", hook.display()));
    }
    out.push_str(&format!("statedir={}\n", options.statedir.display()));
    out.push_str(&format!("verbose={}\n", options.verbose));
    out.push_str(&format!("retry-path={}\n", options.retry_path));
    let list = |l: &[String]| l.iter().map(|s| format!("{s};")).collect::<String>();
    if !options.block_rpcs.is_empty() {
        out.push_str(&format!("block-rpcs={}\n", list(&options.block_rpcs)));
    }
    if !options.allow_rpcs.is_empty() {
        out.push_str(&format!("allow-rpcs={}\n", list(&options.allow_rpcs)));
    }
    out
}

/// Reads the configuration file (if any) and then the command line.
pub fn load(args: &[String]) -> Result<Action, String> {
    let mut options = Options::default();
    if let Some(path) = config_path() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("failed to read config file '{}': {e}", path.display()))?;
        apply_config(&mut options, &text)?;
    }
    parse_args(options, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn run(text: &str) -> Options {
        match parse_args(Options::default(), &args(text)).unwrap() {
            Action::Run(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_and_long_forms() {
        let o = run("-m unix-listen -p/tmp/s --statedir=/st -v -b guest-ping,guest-exec --allow-rpcs guest-info -F");
        assert_eq!(o.method, Method::UnixListen);
        assert_eq!(o.path.as_deref(), Some("/tmp/s"));
        assert_eq!(o.statedir, PathBuf::from("/st"));
        assert!(o.verbose);
        assert_eq!(o.block_rpcs, ["guest-ping", "guest-exec"]);
        assert_eq!(o.allow_rpcs, ["guest-info"]);
        assert_eq!(
            o.fsfreeze_hook.as_deref(),
            Some(Path::new(DEFAULT_FSFREEZE_HOOK))
        );
        assert_eq!(
            parse_args(Options::default(), &args("-b help")),
            Ok(Action::ListCommands)
        );
        assert_eq!(
            parse_args(Options::default(), &args("-V")),
            Ok(Action::Version)
        );
        assert!(parse_args(Options::default(), &args("-m carrier-pigeon")).is_err());
        assert!(parse_args(Options::default(), &args("-x")).is_err());
        assert!(parse_args(Options::default(), &args("-p")).is_err());
    }

    #[test]
    fn config_then_command_line() {
        let mut o = Options::default();
        apply_config(&mut o, "[general]\nmethod=unix-listen\npath=/a\nverbose=true\nblock-rpcs=guest-ping;guest-exec;\n[other]\npath=/ignored\n").unwrap();
        let o = match parse_args(o, &args("-p /b -b guest-info")).unwrap() {
            Action::Run(o) => *o,
            other => panic!("{other:?}"),
        };
        assert_eq!(o.path.as_deref(), Some("/b"));
        assert!(o.verbose);
        assert_eq!(o.block_rpcs, ["guest-ping", "guest-exec", "guest-info"]);
        let dumped = dump(&o);
        assert!(dumped.contains("method=unix-listen\npath=/b\n"), "{dumped}");
        assert!(
            dumped.contains("block-rpcs=guest-ping;guest-exec;guest-info;\n"),
            "{dumped}"
        );
        let mut back = Options::default();
        apply_config(&mut back, &dumped).unwrap();
        assert_eq!(back.block_rpcs, o.block_rpcs);
        assert!(apply_config(&mut Options::default(), "[general]\nverbose=maybe\n").is_err());
    }
}
