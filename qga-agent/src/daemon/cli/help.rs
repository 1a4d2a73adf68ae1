//! `--help` and `--version`, laid out as qemu-ga's, in our own words.

use crate::daemon::config::{
    DEFAULT_CONFIG_FILE, DEFAULT_FSFREEZE_HOOK, DEFAULT_PIDFILE, DEFAULT_SERIAL_PATH,
    DEFAULT_STATEDIR, DEFAULT_VIRTIO_PATH,
};

/// The version line `-V` prints.
pub fn version() -> String {
    format!(
        "QEMU Guest Agent {} (qga-agent)\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The text `-h` prints; `program` is the name the agent was run as.
pub fn usage(program: &str) -> String {
    format!(
        "\
Usage: {program} [-m <method> -p <path>] [<options>]
QEMU Guest Agent {version} (qga-agent), a drop-in replacement for qemu-ga

  -m, --method      how the host is reached: unix-listen, virtio-serial,
                    isa-serial or vsock-listen (default: virtio-serial)
  -p, --path        the device or socket to use (virtio-serial defaults to
                    {virtio},
                    isa-serial to
                    {serial});
                    for vsock-listen, the address to listen on, as
                    <cid>:<port>
  -l, --logfile     log to this file instead of standard error
  -f, --pidfile     with -d, the file to write the process id to and lock
                    (default: {pidfile})
  -F, --fsfreeze-hook
                    run a hook script with the argument 'freeze' before
                    filesystems are frozen and 'thaw' after they are thawed;
                    name the script right after the option, with no space
                    in between (-F/path/to/hook, --fsfreeze-hook=/path);
                    without one the hook is
                    {hook}
  -t, --statedir    the directory to keep state in (an absolute path;
                    default: {statedir})
  -v, --verbose     log debugging messages as well
  -V, --version     print the version and exit
  -d, --daemonize   detach and run in the background
  -b, --block-rpcs  commands to refuse, separated by commas, no spaces
                    (\"help\" lists the commands)
  -a, --allow-rpcs  the only commands to accept, separated by commas, no
                    spaces (\"help\" lists the commands)
  -D, --dump-conf   print the configuration in effect (config file and
                    command line) in config file form to standard output
  -r, --retry-path  when the device or socket cannot be opened or goes away,
                    keep trying to open it again (the virtio-serial driver
                    reloaded, a serial device plugged out and in, ...)
  -c, --config      the configuration file to read (it must exist)
  -h, --help        print this help and exit

Without -c the configuration file is {config}, or the file
named by the QGA_CONF environment variable, if it exists; its [general] group
takes the long option names as keys.
",
        version = env!("CARGO_PKG_VERSION"),
        virtio = DEFAULT_VIRTIO_PATH,
        serial = DEFAULT_SERIAL_PATH,
        pidfile = DEFAULT_PIDFILE,
        hook = DEFAULT_FSFREEZE_HOOK,
        statedir = DEFAULT_STATEDIR,
        config = DEFAULT_CONFIG_FILE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_documented_in_columns() {
        let text = usage("qga-agent");
        assert!(text.starts_with("Usage: qga-agent [-m <method> -p <path>] [<options>]\n"));
        for option in [
            "-m, --method",
            "-p, --path",
            "-l, --logfile",
            "-f, --pidfile",
            "-F, --fsfreeze-hook",
            "-t, --statedir",
            "-v, --verbose",
            "-V, --version",
            "-d, --daemonize",
            "-b, --block-rpcs",
            "-a, --allow-rpcs",
            "-D, --dump-conf",
            "-r, --retry-path",
            "-c, --config",
            "-h, --help",
        ] {
            assert!(text.contains(&format!("\n  {option}")), "{option}");
        }
        assert!(text.lines().all(|l| l.len() <= 80), "lines fit 80 columns");
    }

    #[test]
    fn version_reads_like_qemu_ga() {
        assert!(version().starts_with("QEMU Guest Agent "));
    }
}
