//! `qga cat` and `qga cp`: whole files, with a progress bar on a terminal.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qga_client::{Client, CopyOptions, Progress, Transport};

use super::failure::{Failure, Outcome};

/// The prefix that marks a path in the guest.
const GUEST: &str = "guest:";

/// Which way a copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// From the guest path to the local path (`-` is stdout).
    FromGuest { guest: String, local: String },
    /// From the local path (`-` is stdin) to the guest path.
    ToGuest { local: String, guest: String },
}

/// Reads `cp SOURCE DESTINATION`: exactly one side must start with `guest:`.
pub fn direction(source: &str, destination: &str) -> Result<Direction, Failure> {
    match (source.strip_prefix(GUEST), destination.strip_prefix(GUEST)) {
        (Some(guest), None) if !guest.is_empty() => Ok(Direction::FromGuest {
            guest: guest.to_owned(),
            local: destination.to_owned(),
        }),
        (None, Some(guest)) if !guest.is_empty() => Ok(Direction::ToGuest {
            local: source.to_owned(),
            guest: guest.to_owned(),
        }),
        _ => Err(Failure::Usage(format!(
            "cp needs one side as {GUEST}PATH and the other local: '{source}' '{destination}'"
        ))),
    }
}

pub fn cat<T: Transport>(client: &mut Client<T>, path: &str, out: &mut dyn Write) -> Outcome {
    client.read_file(path, out)?;
    Ok(0)
}

/// Copies as `direction` says; `progress`: whether to show a bar, `stdin`: standard
/// input when it was read up front.
pub fn cp<T: Transport>(
    client: &mut Client<T>,
    direction: &Direction,
    progress: bool,
    stdin: Option<&[u8]>,
    out: &mut dyn Write,
) -> Outcome {
    match direction {
        Direction::FromGuest { guest, local } if local == "-" => {
            client.read_file(guest, out)?;
        }
        Direction::FromGuest { guest, local } => {
            let target = local_target(local, guest);
            let mut file = File::create(&target).map_err(|e| local_error(&target, e))?;
            let bar = progress_bar(progress, None);
            let mut on_progress = |p: Progress| report(&bar, p);
            let options = copy_options(bar.is_some(), &mut on_progress);
            let copied = client.read_file_with(guest, &mut file, options);
            finish(&bar);
            if let Err(e) = copied {
                // A partial file would look like a good one.
                drop(file);
                let _ = std::fs::remove_file(&target);
                return Err(e.into());
            }
            file.sync_all().map_err(|e| local_error(&target, e))?;
        }
        Direction::ToGuest { local, guest } if local == "-" => match stdin {
            Some(data) => {
                client.write_file(guest, &mut &data[..])?;
            }
            None => {
                client.write_file(guest, &mut io::stdin().lock())?;
            }
        },
        Direction::ToGuest { local, guest } => {
            let path = Path::new(local);
            let mut file = File::open(path).map_err(|e| local_error(path, e))?;
            let size = file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let bar = progress_bar(progress, size);
            let mut on_progress = |p: Progress| report(&bar, Progress { total: size, ..p });
            let options = copy_options(bar.is_some(), &mut on_progress);
            let copied = client.write_file_with(guest, &mut file as &mut dyn Read, options);
            finish(&bar);
            copied?;
        }
    }
    Ok(0)
}

/// The local file to write: into a directory, under the guest file's name.
fn local_target(local: &str, guest: &str) -> PathBuf {
    let local = PathBuf::from(local);
    if local.is_dir() {
        if let Some(name) = Path::new(guest).file_name() {
            return local.join(name);
        }
    }
    local
}

fn local_error(path: &Path, e: io::Error) -> Failure {
    Failure::Local(format!("{}: {e}", path.display()))
}

fn copy_options<'a>(
    with_progress: bool,
    on_progress: &'a mut (dyn FnMut(Progress) + Send),
) -> CopyOptions<'a> {
    CopyOptions {
        progress: with_progress.then_some(on_progress),
        ..CopyOptions::default()
    }
}

const BAR: &str = "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}";
const SPINNER: &str = "{spinner} {binary_bytes} {binary_bytes_per_sec}";

fn progress_bar(enabled: bool, total: Option<u64>) -> Option<ProgressBar> {
    if !enabled {
        return None;
    }
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    set_style(&bar, if total.is_some() { BAR } else { SPINNER });
    Some(bar)
}

fn set_style(bar: &ProgressBar, template: &str) {
    // The templates are constants that parse.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
}

fn report(bar: &Option<ProgressBar>, progress: Progress) {
    if let Some(bar) = bar {
        if let (Some(total), None) = (progress.total, bar.length()) {
            // The size of a guest file is known once the copy has started.
            bar.set_length(total);
            set_style(bar, BAR);
        }
        bar.set_position(progress.done);
    }
}

fn finish(bar: &Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{direction, Direction};

    #[test]
    fn one_side_is_the_guest() {
        assert_eq!(
            direction("guest:/etc/hostname", "out").unwrap(),
            Direction::FromGuest {
                guest: "/etc/hostname".into(),
                local: "out".into()
            }
        );
        assert_eq!(
            direction("-", "guest:/tmp/x").unwrap(),
            Direction::ToGuest {
                local: "-".into(),
                guest: "/tmp/x".into()
            }
        );
        assert!(direction("a", "b").is_err());
        assert!(direction("guest:a", "guest:b").is_err());
        assert!(direction("guest:", "b").is_err());
    }
}
