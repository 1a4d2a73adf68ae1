//! The authorized_keys logic of the guest-ssh-* commands, on a temp dir that
//! stands for a home (never a real one: the commands themselves are run only
//! in the VM suite, for a guest user). Files, modes, owners, the refusal of
//! planted symbolic links and FIFOs, and the error texts.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use qga_agent::commands::ssh_keys::{self, Account};

/// A home owned by the current user, and that user as the account.
fn home() -> (tempfile::TempDir, Account) {
    let dir = tempfile::tempdir().unwrap();
    let account = Account {
        home: dir.path().to_owned(),
        uid: rustix::process::getuid().as_raw(),
        gid: rustix::process::getgid().as_raw(),
    };
    (dir, account)
}

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|k| (*k).to_owned()).collect()
}

fn file(account: &Account) -> String {
    fs::read_to_string(account.home.join(".ssh/authorized_keys")).unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn add_creates_the_directory_and_file_with_their_modes() {
    let (_dir, a) = home();
    ssh_keys::add_keys_for(&a, &keys(&["algo key2 comments"]), false).unwrap();
    assert_eq!(file(&a), "algo key2 comments\n");
    assert_eq!(mode(&a.home.join(".ssh")), 0o700);
    assert_eq!(mode(&a.home.join(".ssh/authorized_keys")), 0o600);
    for path in [a.home.join(".ssh"), a.home.join(".ssh/authorized_keys")] {
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (a.uid, a.gid),
            "{}",
            path.display()
        );
    }
    // key2 came first and is not added twice; duplicates within a call neither.
    ssh_keys::add_keys_for(
        &a,
        &keys(&[
            "algo key1 comments",
            "algo key2 comments",
            "algo key1 comments",
        ]),
        false,
    )
    .unwrap();
    assert_eq!(file(&a), "algo key2 comments\nalgo key1 comments\n");
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(a.home.join(".ssh")).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn add_keeps_what_is_there_and_reset_replaces_it() {
    let (_dir, a) = home();
    fs::create_dir(a.home.join(".ssh")).unwrap();
    fs::set_permissions(a.home.join(".ssh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        a.home.join(".ssh/authorized_keys"),
        "# managed\nalgo old x\n\nalgo last",
    )
    .unwrap();
    ssh_keys::add_keys_for(&a, &keys(&["algo new y"]), false).unwrap();
    assert_eq!(file(&a), "# managed\nalgo old x\n\nalgo last\nalgo new y\n");
    assert_eq!(
        mode(&a.home.join(".ssh")),
        0o755,
        "an existing .ssh is left as it is"
    );
    assert_eq!(mode(&a.home.join(".ssh/authorized_keys")), 0o600);
    ssh_keys::add_keys_for(&a, &keys(&["algo key2 comments"]), true).unwrap();
    assert_eq!(file(&a), "algo key2 comments\n");
    ssh_keys::add_keys_for(&a, &[], true).unwrap();
    assert_eq!(file(&a), "", "an empty reset clears the file");
}

#[test]
fn get_skips_blank_lines_and_comments() {
    let (_dir, a) = home();
    assert_eq!(
        ssh_keys::get_keys_of(&a).unwrap_err().0,
        format!(
            "failed to read '{p}': Failed to open file \u{201c}{p}\u{201d}: No such file or directory",
            p = a.home.join(".ssh/authorized_keys").display()
        )
    );
    fs::create_dir(a.home.join(".ssh")).unwrap();
    fs::write(
        a.home.join(".ssh/authorized_keys"),
        "algo key1 comments\n# a commented line\n\n   \n  algo some-key another \t\r\n",
    )
    .unwrap();
    let got = ssh_keys::get_keys_of(&a).unwrap();
    assert_eq!(got.keys, ["algo key1 comments", "algo some-key another"]);
}

#[test]
fn remove_keeps_every_other_line() {
    let (_dir, a) = home();
    // Nothing to remove from: no error, nothing made.
    ssh_keys::remove_keys_for(&a, &keys(&["algo key1 comments"])).unwrap();
    assert!(!a.home.join(".ssh").exists());
    let original =
        "algo key1 comments\nalgo key1 comments\n# a commented line\nalgo some-key another\n";
    fs::create_dir(a.home.join(".ssh")).unwrap();
    fs::write(a.home.join(".ssh/authorized_keys"), original).unwrap();
    fs::set_permissions(
        a.home.join(".ssh/authorized_keys"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    ssh_keys::remove_keys_for(&a, &keys(&["algo key2 comments"])).unwrap();
    assert_eq!(file(&a), original);
    assert_eq!(
        mode(&a.home.join(".ssh/authorized_keys")),
        0o644,
        "a key that is not there changes nothing"
    );
    ssh_keys::remove_keys_for(&a, &keys(&["algo key1 comments", "algo key2 comments"])).unwrap();
    assert_eq!(file(&a), "# a commented line\nalgo some-key another\n");
    assert_eq!(mode(&a.home.join(".ssh/authorized_keys")), 0o600);
}

#[test]
fn an_empty_key_as_virsh_sends_it_is_ignored() {
    // `virsh set-user-sshkeys --file` splits the file on newlines, so a file that
    // ends with one gives a last key that is empty.
    let (_dir, a) = home();
    ssh_keys::add_keys_for(&a, &keys(&["algo a x", ""]), false).unwrap();
    assert_eq!(file(&a), "algo a x\n", "no blank line is written for it");
    fs::write(
        a.home.join(".ssh/authorized_keys"),
        "algo a x\n\nalgo b y\n",
    )
    .unwrap();
    ssh_keys::remove_keys_for(&a, &keys(&["algo b y", ""])).unwrap();
    assert_eq!(file(&a), "algo a x\n\n", "the file's own blank lines stay");
    // And it passes the check that comes before the account is looked up.
    assert_eq!(
        ssh_keys::add_authorized_keys("no-such-user-qga-test", &keys(&[""]), false)
            .unwrap_err()
            .0,
        "failed to lookup user 'no-such-user-qga-test': no such user"
    );
}

#[test]
fn keys_are_checked_before_anything_else() {
    for bad in ["# comment", "not a valid\nkey"] {
        for result in [
            ssh_keys::add_authorized_keys("no-such-user-qga-test", &keys(&["ok", bad]), false),
            ssh_keys::remove_authorized_keys("no-such-user-qga-test", &keys(&[bad])),
        ] {
            assert_eq!(
                result.unwrap_err().0,
                format!("invalid OpenSSH public key: '{bad}'")
            );
        }
    }
    assert_eq!(
        ssh_keys::get_authorized_keys("no-such-user-qga-test")
            .unwrap_err()
            .0,
        "failed to lookup user 'no-such-user-qga-test': no such user"
    );
    assert_eq!(
        ssh_keys::add_authorized_keys("", &keys(&["algo k"]), false)
            .unwrap_err()
            .0,
        "failed to lookup user '': no such user"
    );
    assert_eq!(
        ssh_keys::remove_authorized_keys("a\0b", &keys(&["algo k"]))
            .unwrap_err()
            .0,
        "failed to lookup user 'a\0b': no such user"
    );
}

#[test]
fn accounts_come_from_the_password_database() {
    // Read only: the lookup of the account this test runs as.
    let uid = rustix::process::getuid().as_raw();
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    let Some(line) = passwd
        .lines()
        .find(|l| l.split(':').nth(2) == Some(uid.to_string().as_str()))
    else {
        return; // the account is not in /etc/passwd (NSS elsewhere)
    };
    let fields: Vec<&str> = line.split(':').collect();
    let account = Account::lookup(fields[0]).unwrap();
    assert_eq!(account.uid, uid);
    assert_eq!(account.gid.to_string(), fields[3]);
    assert_eq!(account.home, Path::new(fields[5]));
}

#[test]
fn a_symlink_planted_at_dot_ssh_is_never_followed() {
    let (dir, a) = home();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("authorized_keys"), "root's key\n").unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(".ssh")).unwrap();
    let refused = format!(
        "failed to open directory '{}': Too many levels of symbolic links",
        a.home.join(".ssh").display()
    );
    assert_eq!(
        ssh_keys::add_keys_for(&a, &keys(&["algo k"]), false)
            .unwrap_err()
            .0,
        refused
    );
    assert_eq!(
        ssh_keys::add_keys_for(&a, &keys(&["algo k"]), true)
            .unwrap_err()
            .0,
        refused
    );
    assert!(ssh_keys::get_keys_of(&a)
        .unwrap_err()
        .0
        .ends_with("Too many levels of symbolic links"));
    assert!(ssh_keys::remove_keys_for(&a, &keys(&["root's key"])).is_err());
    assert_eq!(
        fs::read_to_string(elsewhere.path().join("authorized_keys")).unwrap(),
        "root's key\n",
        "the link's target is untouched"
    );
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 1);
}

#[test]
fn a_symlink_or_fifo_planted_at_the_file_is_never_followed() {
    let (_dir, a) = home();
    let ssh = a.home.join(".ssh");
    fs::create_dir(&ssh).unwrap();
    let secret = tempfile::NamedTempFile::new().unwrap();
    fs::write(secret.path(), "secret\n").unwrap();
    std::os::unix::fs::symlink(secret.path(), ssh.join("authorized_keys")).unwrap();
    let error = ssh_keys::get_keys_of(&a).unwrap_err().0;
    assert!(
        error.ends_with("Too many levels of symbolic links"),
        "{error}"
    );
    assert!(!error.contains("secret"));
    assert!(ssh_keys::add_keys_for(&a, &keys(&["algo k"]), false).is_err());
    assert!(ssh_keys::remove_keys_for(&a, &keys(&["secret"])).is_err());
    // A reset does not read the file: the link itself is replaced.
    ssh_keys::add_keys_for(&a, &keys(&["algo k"]), true).unwrap();
    assert!(!fs::symlink_metadata(ssh.join("authorized_keys"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(file(&a), "algo k\n");
    assert_eq!(fs::read_to_string(secret.path()).unwrap(), "secret\n");

    // A FIFO would block a reader: refused at once.
    fs::remove_file(ssh.join("authorized_keys")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        ssh.join("authorized_keys"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let error = ssh_keys::get_keys_of(&a).unwrap_err().0;
    assert!(error.ends_with("not a regular file"), "{error}");
    // A directory there is an error too.
    fs::remove_file(ssh.join("authorized_keys")).unwrap();
    fs::create_dir(ssh.join("authorized_keys")).unwrap();
    assert!(ssh_keys::get_keys_of(&a)
        .unwrap_err()
        .0
        .ends_with("Is a directory"));
}

#[test]
fn files_belong_to_the_account_not_to_the_agent() {
    if !rustix::process::getuid().is_root() {
        return; // only root can give files away
    }
    let (_dir, mut a) = home();
    a.uid = 65534;
    a.gid = 65534;
    ssh_keys::add_keys_for(&a, &keys(&["algo k"]), false).unwrap();
    for path in [a.home.join(".ssh"), a.home.join(".ssh/authorized_keys")] {
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, 65534),
            "{}",
            path.display()
        );
    }
    ssh_keys::remove_keys_for(&a, &keys(&["algo k"])).unwrap();
    let meta = fs::metadata(a.home.join(".ssh/authorized_keys")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
}
