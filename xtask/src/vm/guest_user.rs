//! The guest's unprivileged user (`tests/vm/passwd`), shared by the plain suite's
//! ssh-key scenario and the libvirt run's `set-user-sshkeys` check: its name, ids and
//! key file, well-formed test keys, and the ownership and modes the agent must give
//! the key file and `~/.ssh`.

use super::agent::base64_encode;

/// The user: uid and gid 1000, home /home/qgatest (in the initramfs, a tmpfs).
pub const USER: &str = "qgatest";
pub const SSH_DIR: &str = "/home/qgatest/.ssh";
pub const AUTHORIZED_KEYS: &str = "/home/qgatest/.ssh/authorized_keys";

/// A shell command printing `UID:GID MODE` of `~/.ssh`, then of `authorized_keys`.
pub const STAT_KEYS: &str =
    "stat -c '%u:%g %a' /home/qgatest/.ssh /home/qgatest/.ssh/authorized_keys";
/// What [`STAT_KEYS`] must print (whitespace collapsed): both the user's, 700 and 600.
pub const STAT_EXPECTED: &str = "1000:1000 700 1000:1000 600";

/// A well-formed ed25519 public key line, different for each `tag`; `comment`
/// prefixes the tag in the key's comment.
pub fn ssh_key(comment: &str, tag: u8) -> String {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(&[tag; 32]);
    format!(
        "ssh-ed25519 {} {comment}-{}",
        base64_encode(&blob),
        char::from(tag)
    )
}

/// Whitespace collapsed to single spaces.
pub fn compact(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_look_like_keys() {
        let (a, b) = (ssh_key("x", b'a'), ssh_key("x", b'b'));
        assert_ne!(a, b);
        assert!(a.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
        assert!(a.ends_with(" x-a"));
    }
}
