//! Running one verb against one agent.
//!
//! A verb makes its calls through `calls`, prints the reply through `show` (or as JSON
//! with `--json`), and returns the exit status. A new verb is a variant in `args`, an
//! arm here, and its printing in `show`; a command with arguments also gets its
//! function in `calls` (one without is `calls::query` of its descriptor).

use std::io::Write;

use qga_client::{Client, Error, ExecRequest, Transport};
use qga_types::commands::{
    GuestFsfreezeStatus, GuestFsfreezeThaw, GuestGetCpustats, GuestGetDisks, GuestGetDiskstats,
    GuestGetFsinfo, GuestGetHostName, GuestGetLoad, GuestGetMemoryBlockInfo, GuestGetMemoryBlocks,
    GuestGetOsinfo, GuestGetTime, GuestGetTimezone, GuestGetUsers, GuestGetVcpus, GuestInfo,
    GuestNetworkGetInterfaces, GuestNetworkGetRoute, GuestPing,
};
use serde_json::{json, Value};

use super::args::{ExecArgs, FreezeAction, SshKeysAction, SuspendMode, Verb};
use super::failure::{Failure, Outcome};
use super::{calls, copy, show};

/// What every agent's run shares, prepared once before the agents are contacted.
#[derive(Debug, Default)]
pub struct Context<'a> {
    /// Print JSON replies.
    pub json: bool,
    /// Show a progress bar for copies.
    pub progress: bool,
    /// Standard input, read up front when a verb needs it and several agents share it.
    pub stdin: Option<&'a [u8]>,
    /// The input file of `exec`, read up front.
    pub exec_input: Option<&'a [u8]>,
    /// The direction of `cp`, checked up front.
    pub copy: Option<copy::Direction>,
    /// The keys of `ssh-keys add|remove`, gathered and checked up front.
    pub keys: Vec<String>,
}

pub fn run<T: Transport>(
    client: &mut Client<T>,
    verb: &Verb,
    ctx: &Context<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Outcome {
    // Replies printed by `show`, or as JSON.
    let print = |out: &mut dyn Write,
                 reply: Value,
                 show: fn(&mut dyn Write, &Value) -> std::io::Result<()>|
     -> Outcome {
        if ctx.json {
            writeln!(out, "{reply}")?;
        } else {
            show(out, &reply)?;
        }
        Ok(0)
    };
    let silent = |out: &mut dyn Write, reply: Value| -> Outcome {
        if ctx.json {
            writeln!(out, "{reply}")?;
        }
        Ok(0)
    };
    match verb {
        Verb::Ping => {
            let reply = calls::query::<GuestPing>(client)?;
            if ctx.json {
                writeln!(out, "{reply}")?;
            } else {
                writeln!(out, "ok")?;
            }
            Ok(0)
        }
        Verb::Info => print(out, calls::query::<GuestInfo>(client)?, show::info),
        Verb::Sync => {
            client.sync()?;
            if !ctx.json {
                writeln!(out, "in sync")?;
            }
            Ok(0)
        }
        Verb::Time => print(out, calls::query::<GuestGetTime>(client)?, show::time),
        Verb::SetTime { nanoseconds } => silent(out, calls::set_time(client, *nanoseconds)?),
        Verb::Hostname => print(
            out,
            calls::query::<GuestGetHostName>(client)?,
            show::host_name,
        ),
        Verb::Timezone => print(
            out,
            calls::query::<GuestGetTimezone>(client)?,
            show::timezone,
        ),
        Verb::Osinfo => print(out, calls::query::<GuestGetOsinfo>(client)?, show::osinfo),
        Verb::Users => print(out, calls::query::<GuestGetUsers>(client)?, show::users),
        Verb::Interfaces => print(
            out,
            calls::query::<GuestNetworkGetInterfaces>(client)?,
            show::interfaces,
        ),
        Verb::Vcpus => print(out, calls::query::<GuestGetVcpus>(client)?, show::vcpus),
        Verb::Fsinfo => print(out, calls::query::<GuestGetFsinfo>(client)?, show::fsinfo),
        Verb::Disks => print(out, calls::query::<GuestGetDisks>(client)?, show::disks),
        Verb::Diskstats => print(
            out,
            calls::query::<GuestGetDiskstats>(client)?,
            show::diskstats,
        ),
        Verb::Cpustats => print(
            out,
            calls::query::<GuestGetCpustats>(client)?,
            show::cpustats,
        ),
        Verb::Load => print(out, calls::query::<GuestGetLoad>(client)?, show::load),
        Verb::Routes => print(
            out,
            calls::query::<GuestNetworkGetRoute>(client)?,
            show::routes,
        ),
        Verb::SshKeys { action } => match action {
            SshKeysAction::Get { user } => {
                print(out, calls::ssh_get_keys(client, user)?, show::keys)
            }
            SshKeysAction::Add { user, reset, .. } => {
                silent(out, calls::ssh_add_keys(client, user, keys(ctx)?, *reset)?)
            }
            SshKeysAction::Remove { user, .. } => {
                silent(out, calls::ssh_remove_keys(client, user, keys(ctx)?)?)
            }
        },
        Verb::MemoryBlocks => print(
            out,
            calls::query::<GuestGetMemoryBlocks>(client)?,
            show::memory_blocks,
        ),
        Verb::MemoryBlockInfo => print(
            out,
            calls::query::<GuestGetMemoryBlockInfo>(client)?,
            show::memory_block_info,
        ),
        Verb::Fsfreeze { action } => match action {
            FreezeAction::Status => print(
                out,
                calls::query::<GuestFsfreezeStatus>(client)?,
                show::plain,
            ),
            FreezeAction::Freeze { mountpoints } => {
                print(out, calls::fsfreeze_freeze(client, mountpoints)?, |o, r| {
                    show::filesystems(o, r, "frozen")
                })
            }
            FreezeAction::Thaw => print(out, calls::query::<GuestFsfreezeThaw>(client)?, |o, r| {
                show::filesystems(o, r, "thawed")
            }),
        },
        Verb::Fstrim { minimum } => print(out, calls::fstrim(client, *minimum)?, show::fstrim),
        Verb::Exec(args) => exec(client, args, ctx, out, err),
        Verb::Cat { path } => copy::cat(client, path, out),
        Verb::Cp { .. } => match &ctx.copy {
            Some(direction) => copy::cp(client, direction, ctx.progress, ctx.stdin, out),
            None => Err(Failure::Usage("cp: no direction".to_owned())),
        },
        Verb::FileOpen { path, mode } => {
            print(out, calls::file_open(client, path, mode)?, show::plain)
        }
        Verb::FileRead { handle, count } => {
            let reply = calls::file_read(client, *handle, *count)?;
            if ctx.json {
                writeln!(out, "{reply}")?;
            } else {
                let text = reply["buf-b64"].as_str().unwrap_or_default();
                let data = qga_types::base64::decode(text)
                    .map_err(|e| Failure::Call(Error::Protocol(format!("guest-file-read: {e}"))))?;
                out.write_all(&data)?;
            }
            Ok(0)
        }
        Verb::FileWrite { handle, data } => {
            let data = match data {
                Some(text) => text.as_bytes(),
                None => ctx.stdin.unwrap_or_default(),
            };
            print(out, calls::file_write(client, *handle, data)?, |o, r| {
                writeln!(o, "{} bytes written", r["count"].as_i64().unwrap_or(0))
            })
        }
        Verb::FileSeek {
            handle,
            offset,
            whence,
        } => print(
            out,
            calls::file_seek(client, *handle, *offset, *whence)?,
            |o, r| show::plain(o, &r["position"]),
        ),
        Verb::FileFlush { handle } => silent(out, calls::file_flush(client, *handle)?),
        Verb::FileClose { handle } => silent(out, calls::file_close(client, *handle)?),
        Verb::Shutdown { mode } => {
            calls::shutdown(client, *mode)?;
            Ok(0)
        }
        Verb::Suspend { mode } => suspend(client, *mode),
        Verb::SuspendDisk => suspend(client, SuspendMode::Disk),
        Verb::SuspendRam => suspend(client, SuspendMode::Ram),
        Verb::SuspendHybrid => suspend(client, SuspendMode::Hybrid),
        Verb::Raw { request, arguments } => raw(client, request, arguments.as_deref(), ctx, out),
    }
}

/// The keys of `ssh-keys add|remove`, gathered up front.
fn keys<'a>(ctx: &'a Context<'_>) -> Result<&'a [String], Failure> {
    // `cli::run` refuses an empty list before any agent is contacted; checked again
    // here because an empty `add --reset` would wipe the account's keys.
    if ctx.keys.is_empty() {
        return Err(Failure::Usage("ssh-keys: no keys given".to_owned()));
    }
    Ok(&ctx.keys)
}

fn suspend<T: Transport>(client: &mut Client<T>, mode: SuspendMode) -> Outcome {
    calls::suspend(client, mode)?;
    Ok(0)
}

fn exec<T: Transport>(
    client: &mut Client<T>,
    args: &ExecArgs,
    ctx: &Context<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Outcome {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::Usage("exec: no program".to_owned()))?;
    let mut request = ExecRequest::new(program.as_str()).args(rest);
    request.env.clone_from(&args.env);
    request.input = ctx.exec_input.map(<[u8]>::to_vec);
    let output = client.exec(&request)?;
    if ctx.json {
        let b64 = qga_types::base64::encode;
        let reply = json!({
            "exited": true,
            "exitcode": output.exit_code,
            "signal": output.signal,
            "out-data": b64(&output.stdout),
            "err-data": b64(&output.stderr),
            "out-truncated": output.stdout_truncated,
            "err-truncated": output.stderr_truncated,
        });
        writeln!(out, "{reply}")?;
    } else {
        out.write_all(&output.stdout)?;
        err.write_all(&output.stderr)?;
        for (truncated, stream) in [
            (output.stdout_truncated, "output"),
            (output.stderr_truncated, "error"),
        ] {
            if truncated {
                writeln!(
                    err,
                    "qga: the agent cut the program's standard {stream} short"
                )?;
            }
        }
    }
    let status = output.status();
    // Statuses beyond a byte (Windows exception codes) still mean failure.
    Ok(if (0..=255).contains(&status) {
        status as i32
    } else {
        255
    })
}

fn raw<T: Transport>(
    client: &mut Client<T>,
    request: &str,
    arguments: Option<&str>,
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> Outcome {
    let (name, arguments) = parse_raw(request, arguments)?;
    if let Some(reply) = calls::raw(client, &name, arguments.as_ref())? {
        if ctx.json {
            writeln!(out, "{reply}")?;
        } else {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&reply).unwrap_or_else(|_| reply.to_string())
            )?;
        }
    }
    Ok(0)
}

/// A raw request: a whole request object, or a command name and an arguments object.
pub fn parse_raw(
    request: &str,
    arguments: Option<&str>,
) -> Result<(String, Option<Value>), Failure> {
    let usage = |why: String| Failure::Usage(format!("raw: {why}"));
    let parse_object = |text: &str| -> Result<Value, Failure> {
        match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err(usage(format!("not a JSON object: {text}"))),
            Err(e) => Err(usage(format!("bad JSON ({e}): {text}"))),
        }
    };
    if request.trim_start().starts_with('{') {
        if arguments.is_some() {
            return Err(usage(
                "give a request object, or a command name and its arguments".to_owned(),
            ));
        }
        let Value::Object(mut object) = parse_object(request)? else {
            return Err(usage(format!("not a JSON object: {request}")));
        };
        let Some(Value::String(name)) = object.remove("execute") else {
            return Err(usage("the request has no \"execute\" string".to_owned()));
        };
        let arguments = object.remove("arguments");
        if let Some(other) = object.keys().next() {
            return Err(usage(format!(
                "the request has a member \"{other}\"; only \"execute\" and \"arguments\" are sent"
            )));
        }
        Ok((name, arguments))
    } else {
        Ok((request.to_owned(), arguments.map(parse_object).transpose()?))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_raw;
    use serde_json::json;

    #[test]
    fn raw_requests_both_ways() {
        assert_eq!(
            parse_raw(r#"{"execute": "guest-ping"}"#, None).unwrap(),
            ("guest-ping".to_owned(), None)
        );
        assert_eq!(
            parse_raw(
                r#"{"execute": "guest-file-open", "arguments": {"path": "/x"}}"#,
                None
            )
            .unwrap(),
            ("guest-file-open".to_owned(), Some(json!({"path": "/x"})))
        );
        assert_eq!(
            parse_raw("guest-file-open", Some(r#"{"path": "/x"}"#)).unwrap(),
            ("guest-file-open".to_owned(), Some(json!({"path": "/x"})))
        );
        assert!(parse_raw(r#"{"execute": 1}"#, None).is_err());
        assert!(parse_raw(r#"{"execute": "a", "id": 1}"#, None).is_err());
        assert!(parse_raw("guest-x", Some("[1]")).is_err());
        assert!(parse_raw("{bad", None).is_err());
    }
}
