//! The command line of `qga`.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Addresses: a unix socket path (QEMU's -chardev socket,path=...,server=on, or an agent \
run with -m unix-listen), unix:PATH, vsock:CID:PORT or tcp:HOST:PORT. A path may be a \
glob pattern; with several agents the command runs on all at once and every output line \
starts with the agent's address.

Exit status: 0 on success, 1 when a call fails, 2 for a usage error; `qga exec` exits \
with the guest program's status (128 + N when signal N ended it).";

/// Talk to QEMU guest agents.
#[derive(Debug, Parser)]
#[command(name = "qga", version, after_help = AFTER_HELP)]
pub struct Args {
    /// The agent's address; repeat it, or give a glob pattern, for several agents.
    #[arg(
        short,
        long = "socket",
        value_name = "ADDRESS",
        env = "QGA_SOCKET",
        global = true
    )]
    pub sockets: Vec<String>,
    /// Print the agent's JSON replies instead of readable text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds a call may take.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, global = true, value_parser = parse_seconds)]
    pub timeout: f64,
    #[command(subcommand)]
    pub verb: Verb,
}

/// What to ask the agent.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Check that the agent answers.
    Ping,
    /// The agent's version and its commands.
    Info,
    /// Resynchronise with the agent (done before every command anyway).
    Sync,
    /// The guest's clock.
    Time,
    /// Set the guest's clock, to NANOSECONDS since 1970 or else from its hardware clock.
    SetTime {
        /// Nanoseconds since 1970-01-01 UTC.
        nanoseconds: Option<i64>,
    },
    /// The guest's host name.
    Hostname,
    /// The guest's time zone.
    Timezone,
    /// The guest's operating system.
    Osinfo,
    /// Users logged in to the guest.
    Users,
    /// The guest's network interfaces and addresses.
    #[command(visible_aliases = ["network", "ifconfig"])]
    Interfaces,
    /// The guest's virtual CPUs.
    Vcpus,
    /// The guest's mounted filesystems.
    Fsinfo,
    /// The guest's disks and partitions, and what each is built on.
    Disks,
    /// The I/O counters of the guest's block devices.
    Diskstats,
    /// How each of the guest's processors has spent its time since boot.
    Cpustats,
    /// The guest's load averages over 1, 5 and 15 minutes.
    Load,
    /// The guest's network routes, IPv4 and IPv6.
    Routes,
    /// List, add or remove the SSH keys that may log in to a guest account.
    SshKeys {
        #[command(subcommand)]
        action: SshKeysAction,
    },
    /// The guest's memory blocks.
    MemoryBlocks,
    /// The size of the guest's memory blocks.
    MemoryBlockInfo,
    /// Freeze or thaw the guest's filesystems, or show whether they are frozen.
    Fsfreeze {
        #[command(subcommand)]
        action: FreezeAction,
    },
    /// Discard unused blocks of the guest's filesystems.
    Fstrim {
        /// Skip free ranges shorter than this many bytes.
        #[arg(long)]
        minimum: Option<i64>,
    },
    /// Run a program in the guest, print its output and exit with its status.
    Exec(ExecArgs),
    /// Print a guest file.
    Cat {
        /// The file in the guest.
        path: String,
    },
    /// Copy a file between host and guest.
    ///
    /// `qga cp guest:PATH LOCAL` copies out of the guest (LOCAL may be a directory, or
    /// `-` for standard output); `qga cp LOCAL guest:PATH` copies into it (`-` reads
    /// standard input). A progress bar shows on a terminal.
    Cp {
        /// Where from.
        source: String,
        /// Where to.
        destination: String,
    },
    /// Open a guest file; prints its handle.
    FileOpen {
        /// The file in the guest.
        path: String,
        /// An fopen() mode.
        #[arg(long, default_value = "r")]
        mode: String,
    },
    /// Read from an open guest file and print what was read.
    FileRead {
        /// The handle from file-open.
        handle: i64,
        /// How many bytes at most (the agent's default is 4096).
        #[arg(long)]
        count: Option<i64>,
    },
    /// Write to an open guest file: DATA, or else standard input.
    FileWrite {
        /// The handle from file-open.
        handle: i64,
        /// The text to write.
        data: Option<String>,
    },
    /// Move in an open guest file; prints the new position.
    FileSeek {
        /// The handle from file-open.
        handle: i64,
        /// Bytes to move by.
        #[arg(allow_negative_numbers = true)]
        offset: i64,
        /// From where: set, cur or end.
        #[arg(value_enum, default_value_t = Whence::Set)]
        whence: Whence,
    },
    /// Flush an open guest file.
    FileFlush {
        /// The handle from file-open.
        handle: i64,
    },
    /// Close an open guest file.
    FileClose {
        /// The handle from file-open.
        handle: i64,
    },
    /// Shut the guest down.
    Shutdown {
        /// How.
        #[arg(long, value_enum, default_value_t = ShutdownMode::Powerdown)]
        mode: ShutdownMode,
    },
    /// Suspend the guest.
    Suspend {
        /// To where.
        #[arg(value_enum)]
        mode: SuspendMode,
    },
    /// Suspend the guest to disk.
    SuspendDisk,
    /// Suspend the guest to RAM.
    SuspendRam,
    /// Suspend the guest to disk and RAM.
    SuspendHybrid,
    /// Send any command: a request object, or a command name and its arguments object.
    Raw {
        /// `{"execute": ..., "arguments": ...}`, or a command name.
        request: String,
        /// The arguments object, after a command name.
        arguments: Option<String>,
    },
}

/// What `fsfreeze` does.
#[derive(Debug, Subcommand)]
pub enum FreezeAction {
    /// Whether the filesystems are frozen.
    Status,
    /// Freeze all freezable filesystems, or those mounted at MOUNTPOINTs.
    Freeze {
        /// Mountpoints to freeze.
        mountpoints: Vec<String>,
    },
    /// Thaw all frozen filesystems.
    Thaw,
}

/// What `ssh-keys` does.
#[derive(Debug, Subcommand)]
pub enum SshKeysAction {
    /// List the account's keys, one per line.
    Get {
        /// The guest account.
        user: String,
    },
    /// Add keys to the account (a key it already has is not added twice).
    Add {
        /// The guest account.
        user: String,
        #[command(flatten)]
        keys: KeySource,
        /// Replace the account's keys with these instead of adding to them.
        #[arg(long)]
        reset: bool,
    },
    /// Remove keys from the account.
    Remove {
        /// The guest account.
        user: String,
        #[command(flatten)]
        keys: KeySource,
    },
}

/// Where the keys of `ssh-keys add|remove` come from.
#[derive(Debug, ClapArgs)]
pub struct KeySource {
    /// Keys, one authorized_keys line each (quote them); `-` reads them from standard
    /// input, as does giving no KEY and no --file when standard input is not a terminal.
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,
    /// Read keys from this file (`-` for standard input), one per line; blank lines
    /// and `#` comments are skipped.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

/// The options of `exec`.
#[derive(Debug, ClapArgs)]
pub struct ExecArgs {
    /// Set an environment variable of the program (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Feed this file (`-` for standard input) to the program's standard input.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// Where a seek counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Whence {
    /// The start of the file.
    Set,
    /// The current position.
    Cur,
    /// The end of the file.
    End,
}

/// How to shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShutdownMode {
    /// Power off.
    Powerdown,
    /// Halt without powering off.
    Halt,
    /// Reboot.
    Reboot,
}

/// Where to suspend to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuspendMode {
    /// Disk.
    Disk,
    /// RAM.
    Ram,
    /// Disk and RAM.
    Hybrid,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() && seconds < 1e9 => Ok(seconds),
        _ => Err("expected a positive number of seconds".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Args, Verb};
    use clap::{CommandFactory, Parser};

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn exec_takes_everything_after_the_program() {
        let args = Args::try_parse_from([
            "qga", "-s", "a", "exec", "--env", "A=1", "--", "ls", "-l", "--x",
        ])
        .unwrap();
        let Verb::Exec(exec) = args.verb else {
            panic!()
        };
        assert_eq!(exec.env, ["A=1"]);
        assert_eq!(exec.command, ["ls", "-l", "--x"]);
    }

    #[test]
    fn options_go_anywhere() {
        let args = Args::try_parse_from([
            "qga",
            "info",
            "--socket",
            "a",
            "-s",
            "b",
            "--json",
            "--timeout",
            "0.5",
        ])
        .unwrap();
        assert_eq!(args.sockets, ["a", "b"]);
        assert!(args.json);
        assert_eq!(args.timeout, 0.5);
        assert!(Args::try_parse_from(["qga", "--timeout", "0", "info"]).is_err());
    }
}
