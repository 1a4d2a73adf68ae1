//! Every request `qga` sends, built in one place.
//!
//! Each function is one agent command with its arguments as JSON. When the generated
//! descriptors of `qga_types::commands` exist, each becomes a typed
//! `client.call::<...>(&arguments)` and the printing in `show` reads typed values.

use qga_client::{Client, Error, Transport};
use serde_json::{json, Value};

use super::args::{ShutdownMode, SuspendMode, Whence};

/// The result of one call, as JSON.
pub type Reply = Result<Value, Error>;

pub fn ping<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-ping", None)
}

pub fn info<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-info", None)
}

pub fn get_time<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-time", None)
}

pub fn set_time<T: Transport>(c: &mut Client<T>, nanoseconds: Option<i64>) -> Reply {
    match nanoseconds {
        Some(time) => c.call_raw("guest-set-time", Some(&json!({ "time": time }))),
        None => c.call_raw("guest-set-time", None),
    }
}

pub fn host_name<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-host-name", None)
}

pub fn timezone<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-timezone", None)
}

pub fn osinfo<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-osinfo", None)
}

pub fn users<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-users", None)
}

pub fn interfaces<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-network-get-interfaces", None)
}

pub fn vcpus<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-vcpus", None)
}

pub fn fsinfo<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-fsinfo", None)
}

pub fn memory_blocks<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-memory-blocks", None)
}

pub fn memory_block_info<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-get-memory-block-info", None)
}

pub fn fsfreeze_status<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-fsfreeze-status", None)
}

pub fn fsfreeze_freeze<T: Transport>(c: &mut Client<T>, mountpoints: &[String]) -> Reply {
    if mountpoints.is_empty() {
        c.call_raw("guest-fsfreeze-freeze", None)
    } else {
        c.call_raw(
            "guest-fsfreeze-freeze-list",
            Some(&json!({ "mountpoints": mountpoints })),
        )
    }
}

pub fn fsfreeze_thaw<T: Transport>(c: &mut Client<T>) -> Reply {
    c.call_raw("guest-fsfreeze-thaw", None)
}

pub fn fstrim<T: Transport>(c: &mut Client<T>, minimum: Option<i64>) -> Reply {
    match minimum {
        Some(minimum) => c.call_raw("guest-fstrim", Some(&json!({ "minimum": minimum }))),
        None => c.call_raw("guest-fstrim", None),
    }
}

pub fn file_open<T: Transport>(c: &mut Client<T>, path: &str, mode: &str) -> Reply {
    c.call_raw(
        "guest-file-open",
        Some(&json!({ "path": path, "mode": mode })),
    )
}

pub fn file_read<T: Transport>(c: &mut Client<T>, handle: i64, count: Option<i64>) -> Reply {
    match count {
        Some(count) => c.call_raw(
            "guest-file-read",
            Some(&json!({ "handle": handle, "count": count })),
        ),
        None => c.call_raw("guest-file-read", Some(&json!({ "handle": handle }))),
    }
}

pub fn file_write<T: Transport>(c: &mut Client<T>, handle: i64, data: &[u8]) -> Reply {
    let buf_b64 = qga_types::base64::encode(data);
    c.call_raw(
        "guest-file-write",
        Some(&json!({ "handle": handle, "buf-b64": buf_b64 })),
    )
}

pub fn file_seek<T: Transport>(
    c: &mut Client<T>,
    handle: i64,
    offset: i64,
    whence: Whence,
) -> Reply {
    let whence = match whence {
        Whence::Set => "set",
        Whence::Cur => "cur",
        Whence::End => "end",
    };
    c.call_raw(
        "guest-file-seek",
        Some(&json!({ "handle": handle, "offset": offset, "whence": whence })),
    )
}

pub fn file_flush<T: Transport>(c: &mut Client<T>, handle: i64) -> Reply {
    c.call_raw("guest-file-flush", Some(&json!({ "handle": handle })))
}

pub fn file_close<T: Transport>(c: &mut Client<T>, handle: i64) -> Reply {
    c.call_raw("guest-file-close", Some(&json!({ "handle": handle })))
}

/// `None` is the usual success: the agent does not answer.
pub fn shutdown<T: Transport>(
    c: &mut Client<T>,
    mode: ShutdownMode,
) -> Result<Option<Value>, Error> {
    let mode = match mode {
        ShutdownMode::Powerdown => "powerdown",
        ShutdownMode::Halt => "halt",
        ShutdownMode::Reboot => "reboot",
    };
    c.call_raw_no_response("guest-shutdown", Some(&json!({ "mode": mode })))
}

/// `None` is the usual success: the agent does not answer.
pub fn suspend<T: Transport>(c: &mut Client<T>, mode: SuspendMode) -> Result<Option<Value>, Error> {
    let name = match mode {
        SuspendMode::Disk => "guest-suspend-disk",
        SuspendMode::Ram => "guest-suspend-ram",
        SuspendMode::Hybrid => "guest-suspend-hybrid",
    };
    c.call_raw_no_response(name, None)
}

/// Commands that answer only on failure.
pub fn has_no_success_response(name: &str) -> bool {
    matches!(
        name,
        "guest-shutdown" | "guest-suspend-disk" | "guest-suspend-ram" | "guest-suspend-hybrid"
    )
}

/// Any command; `None` when one without a success response stayed silent.
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
