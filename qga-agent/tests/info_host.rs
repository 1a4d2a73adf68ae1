//! Host information: os-release parsing (the cases were checked against qemu-ga
//! 7.2, which reports exactly these values), utmp reading from fixture files,
//! and sanity checks of time, host name and time zone on this machine.

// Each test crate uses some of the fixtures.
#[allow(dead_code)]
mod fixtures;

use std::collections::HashMap;
use std::path::Path;

use fixtures::utmp_fixture;
use qga_agent::commands::system;

/// The fields qemu-ga reports for a file; `None` when it ignores the whole file.
type Fields = Option<Vec<(&'static str, &'static str)>>;

/// (file content, fields). Every expectation here is what qemu-ga 7.2 answered
/// for the same file.
fn os_release_cases() -> Vec<(&'static [u8], Fields)> {
    vec![
        (
            b"ID=debian\nNAME=\"Debian GNU/Linux\"\n",
            Some(vec![("ID", "debian"), ("NAME", "Debian GNU/Linux")]),
        ),
        // Single quotes are not special: the value ends at the first space.
        (
            b"NAME='single quoted value'\n",
            Some(vec![("NAME", "'single")]),
        ),
        (
            b"NAME=unquoted value; more\n",
            Some(vec![("NAME", "unquoted")]),
        ),
        (b"NAME=a;b c\n", Some(vec![("NAME", "a")])),
        (
            b"NAME=\"esc \\\" \\$ \\` \\\\ \\n \\x end\" trailing\n",
            Some(vec![("NAME", "esc \" $ ` \\ \\n \\x end")]),
        ),
        // Unterminated: qemu-ga's in-place unescaping leaves the raw tail.
        (
            b"NAME=\"unterminated\n",
            Some(vec![("NAME", "unterminated")]),
        ),
        (b"NAME=\"abc\\\n", Some(vec![("NAME", "abc\\")])),
        (b"NAME=\"a\\\"\n", Some(vec![("NAME", "a\"")])),
        (b"NAME=\"\n", Some(vec![("NAME", "")])),
        (b"NAME=\"a\\\\\"\n", Some(vec![("NAME", "a\\")])),
        (b"NAME=\n", Some(vec![("NAME", "")])),
        (b"NAME=\"\"\n", Some(vec![("NAME", "")])),
        (b"  NAME  =   spaced  \n", Some(vec![("NAME", "spaced")])),
        (b"NAME = \"x y\" \n", Some(vec![("NAME", "x y")])),
        (b"NAME=  \"q\"\n", Some(vec![("NAME", "q")])),
        (b"NAME=\"x\"y\n", Some(vec![("NAME", "x")])),
        (b"NAME=\"a\"\"b\"\n", Some(vec![("NAME", "a")])),
        (b"NAME=x=y\n", Some(vec![("NAME", "x=y")])),
        (b"NAME=a\tb\n", Some(vec![("NAME", "a\tb")])),
        (b"NAME=\t x\n", Some(vec![("NAME", "x")])),
        (b"NAME=a\rb\n", Some(vec![("NAME", "a\rb")])),
        (b"NAME=x\r\r\n", Some(vec![("NAME", "x\r")])),
        (b"NAME=\"x\\ty\"\n", Some(vec![("NAME", "x\\ty")])),
        (b"NAME=x # c\n", Some(vec![("NAME", "x")])),
        (b"NAME=\"a\"\nNAME=\"b\"\n", Some(vec![("NAME", "b")])),
        (
            b"# comment\n\nNAME=x\r\nID=y\r\n",
            Some(vec![("NAME", "x"), ("ID", "y")]),
        ),
        (b"NAME=x\n ID =z\n", Some(vec![("NAME", "x"), ("ID", "z")])),
        (b"NAME=x\n\tID=y\n", Some(vec![("NAME", "x"), ("ID", "y")])),
        // \v is not white space for GLib: the key is "\vID".
        (b"NAME=x\n\x0bID=y\n", Some(vec![("NAME", "x")])),
        (
            b"NAME=x\nID=y\\\n",
            Some(vec![("NAME", "x"), ("ID", "y\\")]),
        ),
        (b"NAME=x\nID=", Some(vec![("NAME", "x"), ("ID", "")])),
        // Groups: only [os-release] counts.
        (b"NAME=x\n[other]\nID=y\n", Some(vec![("NAME", "x")])),
        (
            b"NAME=x\n[os-release]\nID=q\n",
            Some(vec![("NAME", "x"), ("ID", "q")]),
        ),
        (b"[os-release]\nNAME=x\n", Some(vec![("NAME", "x")])),
        (b"NAME=x\n[ok] \nID=y", Some(vec![("NAME", "x")])),
        (b"NAME=x\n[a=b]\nID=y\n", Some(vec![("NAME", "x")])),
        ("NAME=x\n[é]\nID=y\n".as_bytes(), Some(vec![("NAME", "x")])),
        (b"NAME=x\n[a b]\nID=y\n", Some(vec![("NAME", "x")])),
        (
            b"NAME=x\n[a]\t \n[os-release]\nID=y\n",
            Some(vec![("NAME", "x"), ("ID", "y")]),
        ),
        (
            "NAME=x\nNAME[\u{663}]=1\n".as_bytes(),
            Some(vec![("NAME", "x")]),
        ),
        ("NAME=x\nNAME[²]=1\n".as_bytes(), Some(vec![("NAME", "x")])),
        ("NAME=x\nK\u{301}=1\n".as_bytes(), Some(vec![("NAME", "x")])),
        // Keys: locale suffixes are separate keys; spaces inside are allowed.
        (b"NAME[de]=x\nID=y\n", Some(vec![("ID", "y")])),
        (b"NAME[]=x\nID=y\n", Some(vec![("ID", "y")])),
        (b"NAME[de@x.y-z_1]=x\nID=y\n", Some(vec![("ID", "y")])),
        ("NAME[dé]=1\nID=z\n".as_bytes(), Some(vec![("ID", "z")])),
        (b"K EY=1\nNAME=x\n", Some(vec![("NAME", "x")])),
        (b"K\tEY=1\nNAME=x\n", Some(vec![("NAME", "x")])),
        (
            b"NAME=x\n\x01=2\nID=y\n",
            Some(vec![("NAME", "x"), ("ID", "y")]),
        ),
        ("\u{feff}NAME=x\nID=y\n".as_bytes(), Some(vec![("ID", "y")])),
        ("NAME=été\n".as_bytes(), Some(vec![("NAME", "été")])),
        // The content ends at a NUL byte.
        (b"NAME=x\x00\nID=y\n", Some(vec![("NAME", "x")])),
        (b"", Some(vec![])),
        (b"\n", Some(vec![])),
        (
            b"VERSION_ID=\"12\"\nVARIANT=a\nVARIANT_ID=b\nPRETTY_NAME=p\nVERSION=v\n",
            Some(vec![
                ("VERSION_ID", "12"),
                ("VARIANT", "a"),
                ("VARIANT_ID", "b"),
                ("PRETTY_NAME", "p"),
                ("VERSION", "v"),
            ]),
        ),
        // Files qemu-ga ignores altogether.
        (b"NAME=x\ngarbage line\n", None),
        (b"NAME[d e]=x\nID=y\n", None),
        (b"NAME[de]x=1\nID=z\n", None),
        (b"A]B=1\nID=y\n", None),
        (b" =x\nID=y\n", None),
        (b"NAME=x\n=y\n", None),
        (b"NAME=x\nID", None),
        (b"NAME=x\n[bad[\nID=y", None),
        (b"NAME=x\n[]\nID=y\n", None),
        (b"NAME=x\n[a]=b\nID=y\n", None),
        (b"NAME=x\n[os-release]x\nID=y\n", None),
        (b"NAME=x\n[a]b]\nID=y\n", None),
        (b"NAME=x\n[a[b]\nID=y\n", None),
        (b"NAME=x\n[a]\x01\nID=y\n", None),
        ("NAME=x\nNAME[a\u{301}]=1\n".as_bytes(), None),
        (b"NAME=x\n[gr\x01p]\nID=y\n", None),
        (b"NAME=\xff\n", None),
    ]
}

#[test]
fn os_release_parsing_matches_qemu_ga() {
    // The differential test sends qemu-ga the same files.
    let contents: Vec<&[u8]> = os_release_cases().iter().map(|(c, _)| *c).collect();
    assert_eq!(contents, fixtures::os_release_samples());
    for (content, expected) in os_release_cases() {
        let got = system::parse_os_release(content);
        let expected: Option<HashMap<String, String>> = expected.map(|fields| {
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        });
        // Keys with a locale or odd names may be kept too; compare the ones
        // qemu-ga reports.
        let got = got.map(|fields| {
            fields
                .into_iter()
                .filter(|(k, _)| {
                    [
                        "ID",
                        "NAME",
                        "PRETTY_NAME",
                        "VERSION",
                        "VERSION_ID",
                        "VARIANT",
                        "VARIANT_ID",
                    ]
                    .contains(&k.as_str())
                })
                .collect::<HashMap<_, _>>()
        });
        assert_eq!(
            got,
            expected,
            "content {:?}",
            String::from_utf8_lossy(content)
        );
    }
}

#[test]
fn os_release_value_rules() {
    assert_eq!(system::os_release_value("debian"), "debian");
    assert_eq!(system::os_release_value("a b;c"), "a");
    assert_eq!(system::os_release_value("a;b c"), "a");
    assert_eq!(system::os_release_value("\"a b\" c"), "a b");
    assert_eq!(system::os_release_value("\"\\$HOME\\`x\\`\""), "$HOME`x`");
    assert_eq!(system::os_release_value("\"a\\nb\""), "a\\nb");
    assert_eq!(system::os_release_value("'a b'"), "'a");
    assert_eq!(system::os_release_value("\"abc"), "abc");
    assert_eq!(system::os_release_value(""), "");
}

#[test]
fn osinfo_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    let good = dir.path().join("good");
    let missing = dir.path().join("missing");
    std::fs::write(&bad, "not a key file\n").unwrap();
    std::fs::write(
        &good,
        "NAME=\"Fixture OS\"\nID=fixture\nVERSION_ID=\"1.0\"\nPRETTY_NAME=\"Fixture OS 1.0\"\n",
    )
    .unwrap();

    let info = system::get_osinfo_from(&[&missing, &bad, &good]).unwrap();
    let uname = rustix::system::uname();
    assert_eq!(
        info.kernel_release.as_deref(),
        Some(uname.release().to_str().unwrap())
    );
    assert_eq!(
        info.kernel_version.as_deref(),
        Some(uname.version().to_str().unwrap())
    );
    assert_eq!(
        info.machine.as_deref(),
        Some(uname.machine().to_str().unwrap())
    );
    assert_eq!(info.name.as_deref(), Some("Fixture OS"));
    assert_eq!(info.id.as_deref(), Some("fixture"));
    assert_eq!(info.version_id.as_deref(), Some("1.0"));
    assert_eq!(info.pretty_name.as_deref(), Some("Fixture OS 1.0"));
    assert_eq!(info.version, None);
    assert_eq!(info.variant, None);
    assert_eq!(info.variant_id, None);

    // No usable file: only the uname fields.
    let info = system::get_osinfo_from(&[&missing, &bad]).unwrap();
    let json = serde_json::to_value(&info).unwrap();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["kernel-release", "kernel-version", "machine"]);
}

#[test]
fn users_from_utmp_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("utmp");
    std::fs::write(&path, utmp_fixture()).unwrap();
    let users = system::get_users_from(&path).unwrap();
    let json = serde_json::to_value(&users).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"user": "alice", "login-time": 1_700_000_090.25},
            {"user": "bob", "login-time": 1_700_000_200.000_25},
            {"user": "x".repeat(32), "login-time": 1_700_000_400.000_001},
        ])
    );
    assert!(users.iter().all(|u| u.domain.is_none()));
}

#[test]
fn users_without_utmp() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        system::get_users_from(&dir.path().join("none")).unwrap(),
        vec![]
    );
    // Nothing but a partial record.
    let path = dir.path().join("short");
    std::fs::write(&path, vec![7u8; 383]).unwrap();
    assert_eq!(system::get_users_from(&path).unwrap(), vec![]);
    // The real file is read without error, whatever it holds.
    system::get_users_from(Path::new(system::UTMP_PATH)).unwrap();
    system::get_users().unwrap();
}

#[test]
fn time_is_now_in_nanoseconds() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let t = system::get_time().unwrap();
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    assert!(before <= t && t <= after, "{before} <= {t} <= {after}");
}

#[test]
fn host_name_is_the_node_name() {
    let name = system::get_host_name().unwrap();
    assert_eq!(
        name.host_name,
        rustix::system::uname().nodename().to_str().unwrap()
    );
    let json = serde_json::to_value(&name).unwrap();
    assert!(json["host-name"].is_string());
}

#[test]
fn timezone_has_offset_and_zone() {
    let tz = system::get_timezone().unwrap();
    assert!(tz.offset.abs() <= 14 * 3600 + 3600, "{}", tz.offset);
    assert!(tz.zone.as_deref().is_some_and(|z| !z.is_empty()));
}

#[test]
fn strerror_texts_are_c_texts() {
    assert_eq!(
        qga_agent::commands::error::strerror(libc::ENOENT),
        "No such file or directory"
    );
    assert_eq!(
        qga_agent::commands::error::strerror(libc::EACCES),
        "Permission denied"
    );
    let e = qga_agent::commands::error::errno_error(
        "open(\"/x\")",
        &std::io::Error::from_raw_os_error(libc::ENOENT),
    );
    assert_eq!(e.0, "open(\"/x\"): No such file or directory");
}
