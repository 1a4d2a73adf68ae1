//! Every request `qga` sends, built in one place.
//!
//! Each function is one agent command (or, [`query`], any command without
//! arguments), called through its descriptor in `qga_types::commands` with the
//! generated argument type, so that every request is checked by the compiler against
//! the schema. Replies come back as the JSON the agent sent ([`Client::call_json`]):
//! `--json` prints them as they are, and `show` reads them leniently, members the
//! schema lacks included. Only `qga raw` sends JSON of its own.

use qga_client::{Client, Error, Transport};
use qga_types::commands::{
    GuestFileClose, GuestFileCloseArguments, GuestFileFlush, GuestFileFlushArguments,
    GuestFileOpen, GuestFileOpenArguments, GuestFileRead, GuestFileReadArguments, GuestFileSeek,
    GuestFileSeekArguments, GuestFileWrite, GuestFileWriteArguments, GuestFsfreezeFreeze,
    GuestFsfreezeFreezeList, GuestFsfreezeFreezeListArguments, GuestFstrim, GuestFstrimArguments,
    GuestSetTime, GuestSetTimeArguments, GuestShutdown, GuestShutdownArguments,
    GuestSshAddAuthorizedKeys, GuestSshAddAuthorizedKeysArguments, GuestSshGetAuthorizedKeys,
    GuestSshGetAuthorizedKeysArguments, GuestSshRemoveAuthorizedKeys,
    GuestSshRemoveAuthorizedKeysArguments, GuestSuspendDisk, GuestSuspendHybrid, GuestSuspendRam,
};
use qga_types::{Command, Empty, GuestFileWhence, QGASeek};
use serde_json::Value;

use super::args::{ShutdownMode, SuspendMode, Whence};

/// The result of one call, as JSON.
pub type Reply = Result<Value, Error>;

/// A command that takes no arguments, such as `guest-get-host-name`.
pub fn query<C: Command<Arguments = Empty>>(c: &mut Client<impl Transport>) -> Reply {
    c.call_json::<C>(&Empty {})
}

pub fn set_time<T: Transport>(c: &mut Client<T>, nanoseconds: Option<i64>) -> Reply {
    c.call_json::<GuestSetTime>(&GuestSetTimeArguments { time: nanoseconds })
}

/// All freezable filesystems, or those at `mountpoints`.
pub fn fsfreeze_freeze<T: Transport>(c: &mut Client<T>, mountpoints: &[String]) -> Reply {
    if mountpoints.is_empty() {
        c.call_json::<GuestFsfreezeFreeze>(&Empty {})
    } else {
        c.call_json::<GuestFsfreezeFreezeList>(&GuestFsfreezeFreezeListArguments {
            mountpoints: Some(mountpoints.to_vec()),
        })
    }
}

pub fn fstrim<T: Transport>(c: &mut Client<T>, minimum: Option<i64>) -> Reply {
    c.call_json::<GuestFstrim>(&GuestFstrimArguments { minimum })
}

pub fn file_open<T: Transport>(c: &mut Client<T>, path: &str, mode: &str) -> Reply {
    c.call_json::<GuestFileOpen>(&GuestFileOpenArguments {
        path: path.to_owned(),
        mode: Some(mode.to_owned()),
    })
}

pub fn file_read<T: Transport>(c: &mut Client<T>, handle: i64, count: Option<i64>) -> Reply {
    c.call_json::<GuestFileRead>(&GuestFileReadArguments { handle, count })
}

pub fn file_write<T: Transport>(c: &mut Client<T>, handle: i64, data: &[u8]) -> Reply {
    c.call_json::<GuestFileWrite>(&GuestFileWriteArguments {
        handle,
        buf_b64: data.to_vec(),
        count: None,
    })
}

pub fn file_seek<T: Transport>(
    c: &mut Client<T>,
    handle: i64,
    offset: i64,
    whence: Whence,
) -> Reply {
    let whence = match whence {
        Whence::Set => QGASeek::Set,
        Whence::Cur => QGASeek::Cur,
        Whence::End => QGASeek::End,
    };
    c.call_json::<GuestFileSeek>(&GuestFileSeekArguments {
        handle,
        offset,
        whence: GuestFileWhence::Name(whence),
    })
}

pub fn file_flush<T: Transport>(c: &mut Client<T>, handle: i64) -> Reply {
    c.call_json::<GuestFileFlush>(&GuestFileFlushArguments { handle })
}

pub fn file_close<T: Transport>(c: &mut Client<T>, handle: i64) -> Reply {
    c.call_json::<GuestFileClose>(&GuestFileCloseArguments { handle })
}

pub fn ssh_get_keys<T: Transport>(c: &mut Client<T>, user: &str) -> Reply {
    c.call_json::<GuestSshGetAuthorizedKeys>(&GuestSshGetAuthorizedKeysArguments {
        username: user.to_owned(),
    })
}

/// Adds `keys` to the account's, or with `reset` puts them in their place.
pub fn ssh_add_keys<T: Transport>(
    c: &mut Client<T>,
    user: &str,
    keys: &[String],
    reset: bool,
) -> Reply {
    c.call_json::<GuestSshAddAuthorizedKeys>(&GuestSshAddAuthorizedKeysArguments {
        username: user.to_owned(),
        keys: keys.to_vec(),
        // Left out rather than false, as QEMU's own clients do.
        reset: reset.then_some(true),
    })
}

pub fn ssh_remove_keys<T: Transport>(c: &mut Client<T>, user: &str, keys: &[String]) -> Reply {
    c.call_json::<GuestSshRemoveAuthorizedKeys>(&GuestSshRemoveAuthorizedKeysArguments {
        username: user.to_owned(),
        keys: keys.to_vec(),
    })
}

/// Succeeds when the agent stays silent, as it does on success.
pub fn shutdown<T: Transport>(c: &mut Client<T>, mode: ShutdownMode) -> Result<(), Error> {
    let mode = match mode {
        ShutdownMode::Powerdown => "powerdown",
        ShutdownMode::Halt => "halt",
        ShutdownMode::Reboot => "reboot",
    };
    c.call::<GuestShutdown>(&GuestShutdownArguments {
        mode: Some(mode.to_owned()),
    })
    .map(drop)
}

/// Succeeds when the agent stays silent, as it does on success.
pub fn suspend<T: Transport>(c: &mut Client<T>, mode: SuspendMode) -> Result<(), Error> {
    match mode {
        SuspendMode::Disk => c.call::<GuestSuspendDisk>(&Empty {}),
        SuspendMode::Ram => c.call::<GuestSuspendRam>(&Empty {}),
        SuspendMode::Hybrid => c.call::<GuestSuspendHybrid>(&Empty {}),
    }
    .map(drop)
}

/// Commands that answer only on failure, by their descriptors.
const NO_SUCCESS_RESPONSE: [(&str, bool); 4] = [
    (GuestShutdown::NAME, GuestShutdown::SUCCESS_RESPONSE),
    (GuestSuspendDisk::NAME, GuestSuspendDisk::SUCCESS_RESPONSE),
    (GuestSuspendRam::NAME, GuestSuspendRam::SUCCESS_RESPONSE),
    (
        GuestSuspendHybrid::NAME,
        GuestSuspendHybrid::SUCCESS_RESPONSE,
    ),
];

/// Whether `name` answers only on failure.
pub fn has_no_success_response(name: &str) -> bool {
    NO_SUCCESS_RESPONSE
        .iter()
        .any(|&(command, answers)| command == name && !answers)
}

/// Any command, with JSON arguments as given; `None` when one without a success
/// response stayed silent.
pub fn raw<T: Transport>(
    c: &mut Client<T>,
    name: &str,
    arguments: Option<&Value>,
) -> Result<Option<Value>, Error> {
    if has_no_success_response(name) {
        c.call_raw_no_response(name, arguments)
    } else {
        c.call_raw(name, arguments).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::has_no_success_response;

    #[test]
    fn commands_that_answer_only_on_failure() {
        for name in [
            "guest-shutdown",
            "guest-suspend-disk",
            "guest-suspend-ram",
            "guest-suspend-hybrid",
        ] {
            assert!(has_no_success_response(name), "{name}");
        }
        assert!(!has_no_success_response("guest-ping"));
        assert!(!has_no_success_response("guest-sync"));
    }
}
