//! The `qga` command: parse the command line, find the agents, run the verb on each.
//!
//! With several agents every one gets a thread of its own (each call blocks on its own
//! socket), and their output lines are prefixed with their addresses. The exit status
//! is the first non-zero status in the order the agents were given.

mod args;
mod calls;
mod copy;
mod failure;
mod keys;
mod output;
mod show;
mod time;
mod verbs;

use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use qga_client::{Address, Client, Options};

use args::{Args, SshKeysAction, Verb};
use failure::Failure;
use output::{Prefixed, Shared};
use verbs::Context;

/// Runs `qga` with the process's arguments.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let code = match run(&args) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("qga: {failure}");
            failure.exit_code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn run(args: &Args) -> Result<i32, Failure> {
    let addresses = addresses(&args.sockets)?;
    let several = addresses.len() > 1;
    let options = options(args.timeout);

    // Everything the agents share is read and checked once, before any is contacted.
    let copy = match &args.verb {
        Verb::Cp {
            source,
            destination,
        } => {
            let direction = copy::direction(source, destination)?;
            if several && matches!(direction, copy::Direction::FromGuest { .. }) {
                return Err(Failure::Usage(
                    "cp from the guest takes a single agent".to_owned(),
                ));
            }
            Some(direction)
        }
        _ => None,
    };
    let stdin = match &args.verb {
        Verb::FileWrite { data: None, .. } => Some(read_input("-")?),
        Verb::Cp { .. }
            if several
                && matches!(&copy, Some(copy::Direction::ToGuest { local, .. }) if local == "-") =>
        {
            Some(read_input("-")?)
        }
        _ => None,
    };
    let exec_input = match &args.verb {
        Verb::Exec(exec) => exec
            .input
            .as_ref()
            .map(|path| read_input(&path.to_string_lossy()))
            .transpose()?,
        _ => None,
    };
    let keys = match &args.verb {
        Verb::SshKeys {
            action: SshKeysAction::Add { keys, .. } | SshKeysAction::Remove { keys, .. },
        } => keys::gather(keys, io::stdin().is_terminal(), read_input)?,
        _ => Vec::new(),
    };
    let ctx = Context {
        json: args.json,
        progress: !several && !args.json && io::stderr().is_terminal(),
        stdin: stdin.as_deref(),
        exec_input: exec_input.as_deref(),
        copy,
        keys,
    };

    if !several {
        let mut out = io::stdout().lock();
        let mut err = io::stderr();
        return Ok(run_one(
            &addresses[0],
            &options,
            &args.verb,
            &ctx,
            &mut out,
            &mut err,
        ));
    }
    let stdout: Shared = Arc::new(Mutex::new(io::stdout()));
    let stderr: Shared = Arc::new(Mutex::new(io::stderr()));
    let codes = std::thread::scope(|scope| {
        let threads: Vec<_> = addresses
            .iter()
            .map(|address| {
                let (ctx, options, verb) = (&ctx, &options, &args.verb);
                let prefix = format!("{address}: ");
                let mut out = Prefixed::new(stdout.clone(), prefix.clone());
                let mut err = Prefixed::new(stderr.clone(), prefix);
                scope.spawn(move || run_one(address, options, verb, ctx, &mut out, &mut err))
            })
            .collect();
        // A thread that panicked has printed why; count it as a failure.
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or(1))
            .collect::<Vec<_>>()
    });
    Ok(codes.into_iter().find(|&code| code != 0).unwrap_or(0))
}

/// Connects to one agent and runs the verb; returns the exit status.
fn run_one(
    address: &Address,
    options: &Options,
    verb: &Verb,
    ctx: &Context<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let result = Client::connect(address, options.clone())
        .map_err(Failure::from)
        .and_then(|mut client| verbs::run(&mut client, verb, ctx, out, err));
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(code), Ok(())) => code,
        (Ok(_), Err(e)) => report(err, &Failure::from(e)),
        (Err(failure), _) => report(err, &failure),
    }
}

fn report(err: &mut dyn Write, failure: &Failure) -> i32 {
    if failure.is_broken_pipe() {
        return 0;
    }
    // Nowhere left to complain if stderr fails too.
    let _ = writeln!(err, "qga: {failure}");
    failure.exit_code()
}

/// The agents named on the command line, glob patterns expanded.
fn addresses(sockets: &[String]) -> Result<Vec<Address>, Failure> {
    if sockets.is_empty() {
        return Err(Failure::Usage(
            "no agent given: use --socket ADDRESS or set QGA_SOCKET".to_owned(),
        ));
    }
    let mut addresses = Vec::new();
    for text in sockets {
        let address: Address = text
            .parse()
            .map_err(|e: qga_client::InvalidAddress| Failure::Usage(e.to_string()))?;
        match &address {
            Address::Unix(path) if is_pattern(&path.to_string_lossy()) => {
                let pattern = path.to_string_lossy();
                let paths = glob::glob(&pattern)
                    .map_err(|e| Failure::Usage(format!("bad pattern '{pattern}': {e}")))?;
                let before = addresses.len();
                for path in paths {
                    let path = path.map_err(|e| Failure::Local(e.to_string()))?;
                    addresses.push(Address::Unix(path));
                }
                if addresses.len() == before {
                    return Err(Failure::Local(format!("no socket matches '{pattern}'")));
                }
            }
            _ => addresses.push(address),
        }
    }
    Ok(addresses)
}

fn is_pattern(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// Client options for a call timeout of `seconds`: syncs are retried within the same
/// time, in attempts of at most 3 s.
fn options(seconds: f64) -> Options {
    let timeout = Duration::from_secs_f64(seconds);
    let sync_timeout = timeout.min(Duration::from_secs(3));
    let attempts = (timeout.as_secs_f64() / sync_timeout.as_secs_f64()).ceil() as u32;
    Options {
        timeout,
        sync_timeout,
        sync_attempts: attempts.clamp(1, 10),
        no_response_wait: timeout.min(Options::default().no_response_wait),
        ..Options::default()
    }
}

/// A whole local file, or standard input for `-`.
fn read_input(path: &str) -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    let result = if path == "-" {
        io::stdin().lock().read_to_end(&mut data)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut data))
    };
    result.map_err(|e| Failure::Local(format!("{path}: {e}")))?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::{addresses, options};
    use qga_client::Address;
    use std::time::Duration;

    #[test]
    fn expands_patterns() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.sock", "a.sock", "c.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let pattern = format!("{}/*.sock", dir.path().display());
        let found = addresses(&[pattern, "vsock:3:4".to_owned()]).unwrap();
        assert_eq!(
            found,
            [
                Address::Unix(dir.path().join("a.sock")),
                Address::Unix(dir.path().join("b.sock")),
                Address::Vsock { cid: 3, port: 4 }
            ]
        );
        assert!(addresses(&[format!("{}/*.none", dir.path().display())]).is_err());
        assert!(addresses(&[]).is_err());
    }

    #[test]
    fn sync_fits_in_the_timeout() {
        let o = options(10.0);
        assert_eq!(
            (o.sync_timeout, o.sync_attempts),
            (Duration::from_secs(3), 4)
        );
        let o = options(0.5);
        assert_eq!(
            (o.sync_timeout, o.sync_attempts, o.no_response_wait),
            (Duration::from_millis(500), 1, Duration::from_millis(500))
        );
    }
}
