//! The command line, parsed as qemu-ga's `getopt_long()` parses it.
//!
//! Options are taken in order, wherever they are (arguments that are not
//! options are ignored, `--` ends the options); short options cluster (`-vd`)
//! and take their argument attached or as the next word; long options may be
//! shortened to any unambiguous prefix and take `--opt=value` or `--opt value`.
//! `-F`/`--fsfreeze-hook` takes its optional path only attached (`-F/path`,
//! `--fsfreeze-hook=/path`). `-h`, `-V` and `-b help` act as soon as they are
//! met; an error stops the parse where it happens. The error texts are those of
//! glibc's getopt, which qemu-ga prints.
//!
//! `-c`/`--config` (QEMU 9.1) names the config file, which is read before the
//! command line is applied: [`config_file`] finds it with a first pass that,
//! as qemu-ga 10.2's, looks at every option and acts on none. `--blacklist`,
//! the old name of `--block-rpcs` that 7.2 still took and 9.1 removed, is
//! still taken, with a warning.
//!
//! The parsed line is applied over the config file's values by
//! [`CommandLine::apply_to`]: the command line knows the configuration, the
//! configuration does not know the command line.

mod help;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::daemon::config::{split_list, Config, DEFAULT_FSFREEZE_HOOK};
pub use help::{usage, version};

/// What the command line sets; `None`/empty where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// `-m`.
    pub method: Option<String>,
    /// `-p`.
    pub path: Option<OsString>,
    /// `-l`.
    pub logfile: Option<PathBuf>,
    /// `-f`.
    pub pidfile: Option<PathBuf>,
    /// `-F`, with the default hook filled in when no path was given.
    pub fsfreeze_hook: Option<PathBuf>,
    /// `-t`.
    pub statedir: Option<PathBuf>,
    /// `-v`.
    pub verbose: bool,
    /// `-d`.
    pub daemonize: bool,
    /// `-D`.
    pub dump_conf: bool,
    /// `-r`.
    pub retry_path: bool,
    /// `-b` items, in qemu-ga's order (see [`split_list`]).
    pub block_rpcs: Vec<String>,
    /// `-a` items.
    pub allow_rpcs: Vec<String>,
    /// `-c`: the config file, which must then exist.
    pub config: Option<PathBuf>,
    /// What the user should hear about the command line (old option names).
    pub warnings: Vec<String>,
}

impl CommandLine {
    /// Applies the command line over the config file's values: a scalar given
    /// here wins, the switches can only be turned on, the lists accumulate
    /// after the file's items.
    pub fn apply_to(&self, config: &mut Config) {
        fn set<T: Clone>(target: &mut T, value: &Option<T>) {
            if let Some(value) = value {
                *target = value.clone();
            }
        }
        set(&mut config.method, &self.method);
        if self.path.is_some() {
            config.path.clone_from(&self.path);
        }
        if self.logfile.is_some() {
            config.logfile.clone_from(&self.logfile);
        }
        set(&mut config.pidfile, &self.pidfile);
        if self.fsfreeze_hook.is_some() {
            config.fsfreeze_hook.clone_from(&self.fsfreeze_hook);
        }
        set(&mut config.statedir, &self.statedir);
        config.verbose |= self.verbose;
        config.daemonize |= self.daemonize;
        config.retry_path |= self.retry_path;
        config.block_rpcs.extend(self.block_rpcs.iter().cloned());
        config.allow_rpcs.extend(self.allow_rpcs.iter().cloned());
    }
}

/// `bytes` as an `OsString` (for values given on the command line).
fn os(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run (or dump the configuration) with these settings.
    Run(Box<CommandLine>),
    /// `-h`: print the usage and exit.
    Help,
    /// `-V`: print the version and exit.
    Version,
    /// `-b help` or `-a help`: list the commands and exit.
    ListCommands,
    /// A usage error, getopt's text (without the program name).
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HasArg {
    No,
    Required,
    Optional,
}

struct LongOption {
    name: &'static str,
    has_arg: HasArg,
    short: u8,
}

const fn long(name: &'static str, has_arg: HasArg, short: u8) -> LongOption {
    LongOption {
        name,
        has_arg,
        short,
    }
}

/// The long options, in qemu-ga's order (getopt lists ambiguous candidates in
/// this order).
const LONG_OPTIONS: &[LongOption] = &[
    long("help", HasArg::No, b'h'),
    long("version", HasArg::No, b'V'),
    long("dump-conf", HasArg::No, b'D'),
    long("logfile", HasArg::Required, b'l'),
    long("pidfile", HasArg::Required, b'f'),
    long("fsfreeze-hook", HasArg::Optional, b'F'),
    long("verbose", HasArg::No, b'v'),
    long("method", HasArg::Required, b'm'),
    long("path", HasArg::Required, b'p'),
    long("daemonize", HasArg::No, b'd'),
    long("block-rpcs", HasArg::Required, b'b'),
    // qemu-ga 7.2 still accepts the old name.
    long("blacklist", HasArg::Required, b'b'),
    long("allow-rpcs", HasArg::Required, b'a'),
    long("statedir", HasArg::Required, b't'),
    long("retry-path", HasArg::No, b'r'),
    // QEMU 9.1's; last, so that getopt's texts for the others stay 7.2's.
    long("config", HasArg::Required, b'c'),
];

fn short_option(c: u8) -> Option<HasArg> {
    LONG_OPTIONS
        .iter()
        .find(|o| o.short == c)
        .map(|o| o.has_arg)
}

/// What one option does to the parse.
enum Step {
    Continue,
    Stop(Parsed),
}

/// Whether a `-b`/`-a` value asks for the list of commands (QEMU's
/// `is_help_option`).
fn is_help(value: &[u8]) -> bool {
    value == b"help" || value == b"?"
}

fn apply(line: &mut CommandLine, mode: Mode, short: u8, value: Option<&[u8]>) -> Step {
    let text = |v: Option<&[u8]>| String::from_utf8_lossy(v.unwrap_or_default()).into_owned();
    if mode == Mode::FindConfig {
        if short == b'c' {
            line.config = value.map(|v| os(v).into());
        }
        return Step::Continue;
    }
    match short {
        b'h' => return Step::Stop(Parsed::Help),
        b'V' => return Step::Stop(Parsed::Version),
        b'D' => line.dump_conf = true,
        b'v' => line.verbose = true,
        b'd' => line.daemonize = true,
        b'r' => line.retry_path = true,
        b'm' => line.method = Some(text(value)),
        b'p' => line.path = value.map(os),
        b'l' => line.logfile = value.map(|v| os(v).into()),
        b'f' => line.pidfile = value.map(|v| os(v).into()),
        b't' => line.statedir = value.map(|v| os(v).into()),
        b'c' => line.config = value.map(|v| os(v).into()),
        b'F' => {
            line.fsfreeze_hook =
                Some(value.map_or_else(|| DEFAULT_FSFREEZE_HOOK.into(), |v| os(v).into()))
        }
        b'b' | b'a' => {
            let value = value.unwrap_or_default();
            if is_help(value) {
                return Step::Stop(Parsed::ListCommands);
            }
            let items = split_list(&text(Some(value)));
            if short == b'b' {
                line.block_rpcs.extend(items);
            } else {
                line.allow_rpcs.extend(items);
            }
        }
        _ => unreachable!("every option of LONG_OPTIONS is handled"),
    }
    Step::Continue
}

/// What a pass over the arguments does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Everything: the options are applied in order, and `-h`, `-V`, `-b help`
    /// and errors end the parse.
    Parse,
    /// Only `-c` is taken; nothing ends the pass, errors are skipped over (as
    /// getopt goes on after one).
    FindConfig,
}

/// Parses the arguments after the program name.
pub fn parse(args: &[OsString]) -> Parsed {
    walk(args, Mode::Parse)
}

/// The config file named by `-c`/`--config` (the last one given), found before
/// anything else of the command line is looked at.
pub fn config_file(args: &[OsString]) -> Option<PathBuf> {
    match walk(args, Mode::FindConfig) {
        Parsed::Run(line) => line.config,
        _ => None,
    }
}

fn walk(args: &[OsString], mode: Mode) -> Parsed {
    let mut line = CommandLine::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        i += 1;
        let step = if arg == b"--" {
            break;
        } else if let Some(body) = arg.strip_prefix(b"--") {
            parse_long(&mut line, mode, arg, body, args, &mut i)
        } else if arg.len() > 1 && arg[0] == b'-' {
            parse_short_cluster(&mut line, mode, &arg[1..], args, &mut i)
        } else {
            // Not an option: qemu-ga ignores it.
            Step::Continue
        };
        match step {
            Step::Stop(_) if mode == Mode::FindConfig => {}
            Step::Stop(parsed) => return parsed,
            Step::Continue => {}
        }
    }
    Parsed::Run(Box::new(line))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_long(
    line: &mut CommandLine,
    mode: Mode,
    arg: &[u8],
    body: &[u8],
    args: &[OsString],
    next: &mut usize,
) -> Step {
    let (name, attached) = match body.iter().position(|&b| b == b'=') {
        Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
        None => (body, None),
    };
    let option = match find_long(name) {
        Ok(option) => option,
        Err(LongError::Unknown) => {
            return Step::Stop(Parsed::Error(format!(
                "unrecognized option '{}'",
                lossy(arg)
            )))
        }
        Err(LongError::Ambiguous(candidates)) => {
            let list: Vec<String> = candidates.iter().map(|c| format!("'--{c}'")).collect();
            return Step::Stop(Parsed::Error(format!(
                "option '{}' is ambiguous; possibilities: {}",
                lossy(arg),
                list.join(" ")
            )));
        }
    };
    let value = match (option.has_arg, attached) {
        (HasArg::No, Some(_)) => {
            return Step::Stop(Parsed::Error(format!(
                "option '--{}' doesn't allow an argument",
                option.name
            )))
        }
        (HasArg::No, None) => None,
        (HasArg::Optional, value) => value,
        (HasArg::Required, Some(value)) => Some(value),
        (HasArg::Required, None) => match args.get(*next) {
            Some(value) => {
                *next += 1;
                Some(value.as_bytes())
            }
            None => {
                return Step::Stop(Parsed::Error(format!(
                    "option '--{}' requires an argument",
                    option.name
                )))
            }
        },
    };
    if option.name == "blacklist" && mode == Mode::Parse {
        line.warnings.push(
            "option '--blacklist' is deprecated (QEMU 9.1 removed it): use '--block-rpcs'".into(),
        );
    }
    apply(line, mode, option.short, value)
}

enum LongError {
    Unknown,
    Ambiguous(Vec<&'static str>),
}

/// glibc's rule: an exact name wins; otherwise the first option the name is a
/// prefix of, unless a later one differs from it in what it does (the same
/// option under two names, like `--block-rpcs` and `--blacklist`, is no
/// ambiguity).
fn find_long(name: &[u8]) -> Result<&'static LongOption, LongError> {
    if let Some(exact) = LONG_OPTIONS.iter().find(|o| o.name.as_bytes() == name) {
        return Ok(exact);
    }
    let mut matches = LONG_OPTIONS
        .iter()
        .filter(|o| o.name.as_bytes().starts_with(name));
    let first = matches.next().ok_or(LongError::Unknown)?;
    let others: Vec<&'static str> = matches
        .filter(|o| o.short != first.short || o.has_arg != first.has_arg)
        .map(|o| o.name)
        .collect();
    if others.is_empty() {
        Ok(first)
    } else {
        Err(LongError::Ambiguous(
            std::iter::once(first.name).chain(others).collect(),
        ))
    }
}

fn parse_short_cluster(
    line: &mut CommandLine,
    mode: Mode,
    cluster: &[u8],
    args: &[OsString],
    next: &mut usize,
) -> Step {
    for (j, &c) in cluster.iter().enumerate() {
        let rest = &cluster[j + 1..];
        let Some(has_arg) = short_option(c) else {
            if mode == Mode::FindConfig {
                // getopt goes on with the next character.
                continue;
            }
            return Step::Stop(Parsed::Error(format!(
                "invalid option -- '{}'",
                char::from(c)
            )));
        };
        let value = match has_arg {
            HasArg::No => None,
            HasArg::Optional => (!rest.is_empty()).then_some(rest),
            HasArg::Required if !rest.is_empty() => Some(rest),
            HasArg::Required => match args.get(*next) {
                Some(value) => {
                    *next += 1;
                    Some(value.as_bytes())
                }
                None => {
                    return Step::Stop(Parsed::Error(format!(
                        "option requires an argument -- '{}'",
                        char::from(c)
                    )))
                }
            },
        };
        if let Step::Stop(parsed) = apply(line, mode, c, value) {
            return Step::Stop(parsed);
        }
        if has_arg != HasArg::No {
            // The rest of the cluster was the argument.
            break;
        }
    }
    Step::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Parsed {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&args)
    }

    fn line(args: &[&str]) -> CommandLine {
        match run(args) {
            Parsed::Run(line) => *line,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match run(args) {
            Parsed::Error(e) => e,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn command_line_wins_and_lists_accumulate() {
        let keys = crate::keyfile::KeyFile::parse(
            b"[general]\nblock-rpcs=guest-ping,guest-info\nmethod=isa-serial\n",
        )
        .unwrap();
        let mut config = Config::default();
        config.apply_file(&keys).unwrap();
        let line = CommandLine {
            method: Some("unix-listen".into()),
            path: Some("/s".into()),
            block_rpcs: [split_list("a"), split_list("b,c")].concat(),
            verbose: true,
            ..CommandLine::default()
        };
        line.apply_to(&mut config);
        assert_eq!(config.method, "unix-listen");
        assert_eq!(config.path.as_deref(), Some(std::ffi::OsStr::new("/s")));
        assert!(config.verbose);
        assert_eq!(config.block_rpcs.join(","), "guest-info,guest-ping,a,c,b");
        assert_eq!(config.allowed_rpcs(), None);
    }

    #[test]
    fn short_options_cluster_and_take_arguments() {
        let l = line(&["-vdrDm", "unix-listen", "-p/s"]);
        assert!(l.verbose && l.daemonize && l.retry_path && l.dump_conf);
        assert_eq!(l.method.as_deref(), Some("unix-listen"));
        assert_eq!(l.path, Some("/s".into()));
        // A required argument is the next word, whatever it looks like.
        assert_eq!(line(&["-m", "-v"]).method.as_deref(), Some("-v"));
        assert!(!line(&["-m", "-v"]).verbose);
    }

    #[test]
    fn fsfreeze_hook_takes_its_path_only_attached() {
        let default = Some(PathBuf::from(DEFAULT_FSFREEZE_HOOK));
        assert_eq!(line(&["-F"]).fsfreeze_hook, default);
        assert_eq!(line(&["-F", "/x"]).fsfreeze_hook, default);
        assert_eq!(line(&["-F/x"]).fsfreeze_hook, Some("/x".into()));
        assert_eq!(line(&["--fsfreeze-hook", "/x"]).fsfreeze_hook, default);
        assert_eq!(
            line(&["--fsfreeze-hook=/y"]).fsfreeze_hook,
            Some("/y".into())
        );
        assert_eq!(line(&["--fsfreeze-hook="]).fsfreeze_hook, Some("".into()));
        assert_eq!(line(&["-vF/z"]).fsfreeze_hook, Some("/z".into()));
    }

    #[test]
    fn long_options_and_prefixes() {
        let l = line(&[
            "--meth=unix-listen",
            "--pa",
            "/s",
            "--dump",
            "--b=x",
            "--bl=y",
            "--allow=z",
        ]);
        assert_eq!(l.method.as_deref(), Some("unix-listen"));
        assert_eq!(l.path, Some("/s".into()));
        assert!(l.dump_conf);
        assert_eq!(l.block_rpcs, ["x", "y"]);
        assert_eq!(l.allow_rpcs, ["z"]);
        assert_eq!(line(&["--path="]).path, Some("".into()));
    }

    #[test]
    fn non_options_are_ignored_and_double_dash_ends() {
        let l = line(&["x", "-v", "-", "--", "-d"]);
        assert!(l.verbose && !l.daemonize);
    }

    #[test]
    fn lists_accumulate_in_qemu_order() {
        let l = line(&["-b", "a", "-b", "b,c", "--block-rpcs=d", "-a", "e,f"]);
        assert_eq!(l.block_rpcs, ["a", "c", "b", "d"]);
        assert_eq!(l.allow_rpcs, ["f", "e"]);
        assert_eq!(line(&["-b", "a,,b,"]).block_rpcs, ["", "b", "", "a"]);
    }

    #[test]
    fn immediate_actions_happen_in_order() {
        assert_eq!(run(&["-D", "-h"]), Parsed::Help);
        assert_eq!(run(&["-V", "-x"]), Parsed::Version);
        assert!(matches!(run(&["-x", "-V"]), Parsed::Error(_)));
        assert_eq!(run(&["-b", "a", "-b", "help"]), Parsed::ListCommands);
        assert_eq!(run(&["-b", "?"]), Parsed::ListCommands);
        assert_eq!(run(&["--allow-rpcs=help"]), Parsed::ListCommands);
        assert_eq!(line(&["-b", "HELP"]).block_rpcs, ["HELP"]);
    }

    #[test]
    fn the_config_file_is_found_first_wherever_it_is() {
        let find = |args: &[&str]| {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            config_file(&args)
        };
        assert_eq!(find(&["-v"]), None);
        assert_eq!(find(&["-c", "/a.conf"]), Some("/a.conf".into()));
        assert_eq!(find(&["-vc/b.conf"]), Some("/b.conf".into()));
        assert_eq!(
            find(&["--config=/c", "--conf", "/d"]),
            Some("/d".into()),
            "the last"
        );
        // Wherever it is: after -h, after errors, after -b help.
        assert_eq!(
            find(&["-h", "-x", "--bogus", "-b", "help", "-c", "/e"]),
            Some("/e".into())
        );
        assert_eq!(
            find(&["-xc", "/f"]),
            Some("/f".into()),
            "getopt goes on after -x"
        );
        // Not where it is the argument of another option, or after --.
        assert_eq!(find(&["-m", "-c", "/g"]), None);
        assert_eq!(find(&["-p-c"]), None);
        assert_eq!(find(&["--", "-c", "/h"]), None);
        assert_eq!(find(&["-c"]), None);
        // The full parse keeps it too.
        assert_eq!(line(&["-c", "/i"]).config, Some("/i".into()));
    }

    #[test]
    fn blacklist_is_block_rpcs_with_a_warning() {
        let l = line(&["--blacklist=a,b", "--block-rpcs", "c", "--bl=d"]);
        assert_eq!(l.block_rpcs, ["b", "a", "c", "d"]);
        assert_eq!(l.warnings.len(), 1, "--bl is --block-rpcs");
        assert!(l.warnings[0].contains("'--blacklist'"), "{:?}", l.warnings);
        assert!(line(&["-b", "x"]).warnings.is_empty());
    }

    #[test]
    fn getopt_error_texts() {
        assert_eq!(error(&["-x"]), "invalid option -- 'x'");
        assert_eq!(error(&["-?"]), "invalid option -- '?'");
        assert_eq!(error(&["-c"]), "option requires an argument -- 'c'");
        assert_eq!(error(&["-l"]), "option requires an argument -- 'l'");
        assert_eq!(error(&["--bogus=1"]), "unrecognized option '--bogus=1'");
        assert_eq!(
            error(&["--config"]),
            "option '--config' requires an argument"
        );
        assert_eq!(
            error(&["--configure=x"]),
            "unrecognized option '--configure=x'"
        );
        assert_eq!(
            error(&["--verbose=1"]),
            "option '--verbose' doesn't allow an argument"
        );
        assert_eq!(
            error(&["--dump-conf=1"]),
            "option '--dump-conf' doesn't allow an argument"
        );
        assert_eq!(error(&["--path"]), "option '--path' requires an argument");
        assert_eq!(error(&["--pa"]), "option '--path' requires an argument");
        assert_eq!(
            error(&["--p=x"]),
            "option '--p=x' is ambiguous; possibilities: '--pidfile' '--path'"
        );
        assert_eq!(
            error(&["--ver"]),
            "option '--ver' is ambiguous; possibilities: '--version' '--verbose'"
        );
        assert!(error(&["--=x"]).starts_with(
            "option '--=x' is ambiguous; possibilities: '--help' '--version' '--dump-conf'"
        ));
    }
}
