//! The guest system's identity and what it is doing now: guest-get-time,
//! guest-get-host-name, guest-get-timezone, guest-get-osinfo and
//! guest-get-users.
//!
//! Named `system` rather than `host` (its name until now): in this protocol
//! the host is QEMU's side, and everything here describes the guest, the
//! system the agent runs on. The clock is read here; setting it is
//! [`crate::commands::clock`]'s.
//!
//! Every function returns the generated protocol type; the protocol layer only
//! serialises it. Functions that read files take the path as a parameter (the
//! `*_from` variants) so that tests can point them at fixtures; the variants
//! without a suffix read the real system, as qemu-ga does.

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use qga_types::{GuestHostName, GuestOSInfo, GuestTimezone, GuestUser};

use crate::commands::error::errno_error;
use crate::commands::error::CommandError;

/// The os-release files qemu-ga reads, in order, when `QGA_OS_RELEASE` is unset.
pub const OS_RELEASE_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// The environment variable that names the one os-release file to read instead
/// (qemu-ga's own tests use it).
pub const OS_RELEASE_ENV: &str = "QGA_OS_RELEASE";

/// The utmp file glibc's `getutxent()` reads (`_PATH_UTMPX`).
pub const UTMP_PATH: &str = "/var/run/utmp";

/// guest-get-time: the system clock in nanoseconds since the epoch.
///
/// qemu-ga has microsecond precision (its value always ends in 000); this one is
/// exact to the nanosecond.
pub fn get_time() -> Result<i64, CommandError> {
    let now = SystemTime::now();
    let nanos = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
    };
    Ok(nanos)
}

/// guest-get-host-name: `gethostname()`, with a buffer of `HOST_NAME_MAX` bytes as
/// qemu-ga uses.
pub fn get_host_name() -> Result<GuestHostName, CommandError> {
    // SAFETY: sysconf has no memory-safety preconditions.
    let mut len = unsafe { libc::sysconf(libc::_SC_HOST_NAME_MAX) };
    if len < 0 {
        len = 255;
    }
    let len = len as usize;
    // One byte more than gethostname() may fill, so the name is always terminated.
    let mut buf = vec![0u8; len + 1];
    // SAFETY: buf has len + 1 writable bytes; gethostname writes at most len.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), len) };
    if rc < 0 {
        return Err(errno_error(
            "cannot get hostname",
            &io::Error::last_os_error(),
        ));
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(len);
    Ok(GuestHostName {
        host_name: String::from_utf8_lossy(&buf[..end]).into_owned(),
    })
}

extern "C" {
    // Not exported by the libc crate for Linux; glibc and musl both have it.
    fn tzset();
}

/// guest-get-timezone: the abbreviation and UTC offset (seconds, east positive) of
/// the local time zone now, from `localtime_r()` after re-reading the zone (TZ, or
/// /etc/localtime), so a change of zone shows without a restart.
pub fn get_timezone() -> Result<GuestTimezone, CommandError> {
    if let Some(tz) = std::env::var_os("TZ") {
        if !tz_is_usable(&tz.to_string_lossy()) {
            // GLib, which qemu-ga asks, falls back to UTC for a TZ it cannot use;
            // glibc would keep the text as the zone's name.
            return Ok(GuestTimezone {
                zone: Some("UTC".to_string()),
                offset: 0,
            });
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: an all-zero `tm` is a valid value (a null tm_zone pointer included).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: tzset has no arguments; localtime_r gets valid pointers to a time_t
    // and to a tm it fills in.
    let ok = unsafe {
        tzset();
        !libc::localtime_r(&now, &mut tm).is_null()
    };
    if !ok {
        return Err(CommandError(
            "Guest agent command failed, error was 'Couldn't retrieve local timezone'".to_string(),
        ));
    }
    let zone = if tm.tm_zone.is_null() {
        None
    } else {
        // SAFETY: glibc and musl point tm_zone at a NUL-terminated string in static
        // storage that lives as long as the process.
        Some(
            unsafe { CStr::from_ptr(tm.tm_zone) }
                .to_string_lossy()
                .into_owned(),
        )
    };
    Ok(GuestTimezone {
        zone,
        offset: tm.tm_gmtoff as i64,
    })
}

/// Whether a TZ value names a zone: empty (UTC), a zoneinfo file (absolute, or
/// under $TZDIR or /usr/share/zoneinfo), or a POSIX rule that at least starts
/// with a standard-time name and an offset ("JST-9", "<+0530>-5:30").
fn tz_is_usable(tz: &str) -> bool {
    let name = tz.strip_prefix(':').unwrap_or(tz);
    if name.is_empty() {
        return true;
    }
    let zoneinfo = std::env::var_os("TZDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/zoneinfo"));
    if Path::new(name).is_file() || zoneinfo.join(name).is_file() {
        return true;
    }
    let b = name.as_bytes();
    let mut i = if b[0] == b'<' {
        match name.find('>') {
            Some(end) if end >= 4 => end + 1,
            _ => return false,
        }
    } else {
        let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        if letters < 3 {
            return false;
        }
        letters
    };
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    b.get(i).is_some_and(u8::is_ascii_digit)
}

/// guest-get-osinfo for the real system: uname, plus the os-release file named by
/// `QGA_OS_RELEASE` or else the first of [`OS_RELEASE_PATHS`] that reads and parses.
pub fn get_osinfo() -> Result<GuestOSInfo, CommandError> {
    match std::env::var_os(OS_RELEASE_ENV) {
        Some(path) => get_osinfo_from(&[PathBuf::from(path).as_path()]),
        None => {
            let paths: Vec<&Path> = OS_RELEASE_PATHS.iter().map(Path::new).collect();
            get_osinfo_from(&paths)
        }
    }
}

/// guest-get-osinfo with the os-release candidates given: uname(2) fills
/// kernel-release, kernel-version and machine; the first candidate that can be read
/// and parses as a key file fills the others, each only when the file has it.
pub fn get_osinfo_from(os_release: &[&Path]) -> Result<GuestOSInfo, CommandError> {
    let uname = rustix::system::uname();
    let text = |s: &CStr| s.to_string_lossy().into_owned();
    let mut info = GuestOSInfo {
        kernel_release: Some(text(uname.release())),
        kernel_version: Some(text(uname.version())),
        machine: Some(text(uname.machine())),
        id: None,
        name: None,
        pretty_name: None,
        version: None,
        version_id: None,
        variant: None,
        variant_id: None,
    };
    let fields = os_release.iter().find_map(|path| {
        let content = std::fs::read(path).ok()?;
        parse_os_release(&content)
    });
    if let Some(fields) = fields {
        let get = |key: &str| fields.get(key).cloned();
        info.id = get("ID");
        info.name = get("NAME");
        info.pretty_name = get("PRETTY_NAME");
        info.version = get("VERSION");
        info.version_id = get("VERSION_ID");
        info.variant = get("VARIANT");
        info.variant_id = get("VARIANT_ID");
    }
    Ok(info)
}

/// Parse an os-release file the way qemu-ga 7.2 does, and return its fields with
/// their values already unquoted (see [`os_release_value`]). `None` when qemu-ga
/// would ignore the whole file.
///
/// qemu-ga reads the file as a GLib key file with a `[os-release]` group line put
/// in front, so GLib's key-file rules apply:
/// - the content ends at the first NUL byte, and must be UTF-8;
/// - lines end at `\n`, one `\r` before it is dropped; leading white space
///   (space, tab, `\n`, `\f`, `\r`: not `\v`) is skipped;
/// - a line that is empty or starts with `#` is a comment;
/// - `[name]`, optionally followed by spaces or tabs, starts a group (fields are only
///   taken from the group `os-release`); an empty name or one with `[`, `]` or a
///   control character makes the file invalid;
/// - `KEY=value`: white space around `=` is dropped, the value keeps any trailing
///   white space; a key may carry a locale suffix `KEY[locale]` (a separate key); an
///   invalid key (`[`/`]` misplaced, bad locale) makes the file invalid;
/// - any other line makes the file invalid;
/// - a key given twice keeps its last value.
pub fn parse_os_release(content: &[u8]) -> Option<HashMap<String, String>> {
    let content = match content.iter().position(|&b| b == 0) {
        Some(nul) => &content[..nul],
        None => content,
    };
    let content = std::str::from_utf8(content).ok()?;
    let mut group = String::from("os-release");
    let mut fields = HashMap::new();
    let mut lines: Vec<&str> = content.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.trim_start_matches(is_keyfile_space);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = keyfile_group(line) {
            if name.is_empty()
                || name
                    .chars()
                    .any(|c| c == '[' || c == ']' || c.is_ascii_control())
            {
                return None;
            }
            group = name.to_string();
            continue;
        }
        let eq = line.find('=')?;
        if eq == 0 {
            return None;
        }
        let key = line[..eq].trim_end_matches(is_keyfile_space);
        if !is_keyfile_key(key) {
            return None;
        }
        let value = line[eq + 1..].trim_start_matches(is_keyfile_space);
        if group == "os-release" {
            fields.insert(key.to_string(), os_release_value(value));
        }
    }
    Some(fields)
}

/// GLib's `g_ascii_isspace()`: space, tab, newline, form feed, carriage return.
fn is_keyfile_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// The group name when `line` is a group line: `[` name `]`, then only spaces or tabs.
fn keyfile_group(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let close = rest.find(']')?;
    if !rest[close + 1..].chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    Some(&rest[..close])
}

/// GLib's rule for key names: no `[`, `]` or `=` except a trailing locale suffix
/// `[locale]` of letters, digits, `-`, `_`, `.` and `@`; not empty; no leading or
/// trailing space.
fn is_keyfile_key(key: &str) -> bool {
    let base_end = key.find(['[', ']']).unwrap_or(key.len());
    if base_end == 0 || key.starts_with(' ') || key[..base_end].ends_with(' ') {
        return false;
    }
    let rest = &key[base_end..];
    if rest.is_empty() {
        return true;
    }
    let Some(locale) = rest.strip_prefix('[') else {
        return false;
    };
    let locale_end = locale
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')))
        .unwrap_or(locale.len());
    &locale[locale_end..] == "]"
}

/// The value of an os-release field as qemu-ga 7.2 reports it, from the raw text
/// after `=`:
/// - a value that does not start with `"` ends before its first space, and then
///   before its first `;` (single quotes are not special: `'a b'` gives `'a`);
/// - a value in double quotes ends at the closing quote; inside, a backslash before
///   `$`, `'`, `"`, `\` or `` ` `` is dropped, any other backslash is kept;
/// - when the closing quote is missing, the value is the unescaped text to the end
///   (`"abc` gives `abc`; qemu-ga wrongly appends the tail of the raw text it did
///   not overwrite, giving `abcc`).
pub fn os_release_value(raw: &str) -> String {
    let mut v = raw.as_bytes().to_vec();
    if v.first() != Some(&b'"') {
        if let Some(space) = v.iter().position(|&b| b == b' ') {
            v.truncate(space);
        }
        if let Some(semicolon) = v.iter().position(|&b| b == b';') {
            v.truncate(semicolon);
        }
        return String::from_utf8_lossy(&v).into_owned();
    }
    // Unescape in place, the write position trailing the read position.
    let mut write = 0;
    let mut read = 1;
    while read < v.len() {
        match v[read] {
            b'\\' if matches!(v.get(read + 1), Some(b'$' | b'\'' | b'"' | b'\\' | b'`')) => {
                read += 1;
            }
            b'"' => {
                v.truncate(write);
                return String::from_utf8_lossy(&v).into_owned();
            }
            _ => {}
        }
        v[write] = v[read];
        write += 1;
        read += 1;
    }
    v.truncate(write);
    String::from_utf8_lossy(&v).into_owned()
}

/// guest-get-users for the real system: the utmp file [`UTMP_PATH`].
pub fn get_users() -> Result<Vec<GuestUser>, CommandError> {
    get_users_from(Path::new(UTMP_PATH))
}

/// Size of one glibc utmp/utmpx record on Linux (all 64-bit ABIs and i386 alike:
/// `ut_tv` is a pair of 32-bit integers there).
const UTMP_RECORD_SIZE: usize = 384;
const UT_TYPE: usize = 0;
const UT_USER: std::ops::Range<usize> = 44..76;
const UT_TV_SEC: usize = 340;
const UT_TV_USEC: usize = 344;
const USER_PROCESS: i16 = 7;

/// guest-get-users from a given utmp file: one entry per user name that has a
/// USER_PROCESS record, in the order of each name's first record, with the earliest
/// login time (seconds with a microsecond fraction). A missing or unreadable file
/// means nobody is logged in, as with `getutxent()`; a trailing partial record is
/// ignored. `domain` is never set on Linux.
pub fn get_users_from(utmp: &Path) -> Result<Vec<GuestUser>, CommandError> {
    let data = std::fs::read(utmp).unwrap_or_default();
    let mut users: Vec<GuestUser> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    for record in data.chunks_exact(UTMP_RECORD_SIZE) {
        let ut_type = i16::from_ne_bytes([record[UT_TYPE], record[UT_TYPE + 1]]);
        if ut_type != USER_PROCESS {
            continue;
        }
        let user = &record[UT_USER];
        let user = &user[..user.iter().position(|&b| b == 0).unwrap_or(user.len())];
        let field = |at: usize| {
            i32::from_ne_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
        };
        let login_time = f64::from(field(UT_TV_SEC)) + f64::from(field(UT_TV_USEC)) / 1e6;
        match index.get(user) {
            Some(&i) => {
                if login_time < users[i].login_time {
                    users[i].login_time = login_time;
                }
            }
            None => {
                index.insert(user.to_vec(), users.len());
                users.push(GuestUser {
                    user: String::from_utf8_lossy(user).into_owned(),
                    login_time,
                    domain: None,
                });
            }
        }
    }
    Ok(users)
}
