//! Rust names for QAPI names, as docs/CONVENTIONS.md describes them.
//!
//! Type and variant names are UpperCamelCase, members and methods snake_case; a name
//! that is a Rust keyword becomes a raw identifier, or takes a trailing `_` where Rust
//! has no raw form (`self`, `Self`, `super`, `crate`).

use std::collections::HashSet;

/// Every keyword of Rust 2015–2024, strict and reserved, including `_`.
const KEYWORDS: &[&str] = &[
    "_", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["_", "self", "Self", "super", "crate"];

/// A type name: `guest-file-read` → `GuestFileRead`, `GuestOSInfo` stays as it is,
/// `BLOCK_JOB_COMPLETED` → `BlockJobCompleted`.
pub fn type_name(name: &str) -> String {
    camel(name)
}

/// An enum value or alternate branch as a variant: `set` → `Set`, `s390-x` →
/// `S390X`, `x86_64` → `X86_64`; a value starting with a digit gets a leading `_`.
pub fn variant_name(name: &str) -> String {
    camel(name)
}

/// A member as a field: `buf-b64` → `buf_b64`, `fooBar` → `foo_bar`, `2nd` → `_2nd`.
pub fn field_name(name: &str) -> String {
    snake(name)
}

/// A command as a handler method: `guest-file-open` → `guest_file_open`.
pub fn method_name(name: &str) -> String {
    snake(name)
}

/// Splits on `-`, `_` and `.`, capitalises each part and joins them. A part written
/// all in capitals is lower-cased first (`SHUTDOWN` → `Shutdown`), other parts keep
/// their inner case (`GuestOSInfo`). Two digits that would run together keep a `_`.
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for part in name.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
        if out.ends_with(|c: char| c.is_ascii_digit())
            && part.starts_with(|c: char| c.is_ascii_digit())
        {
            out.push('_');
        }
        let shouting = part.chars().filter(char::is_ascii_alphabetic).count() > 1
            && !part.chars().any(|c| c.is_ascii_lowercase());
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            if shouting {
                out.extend(chars.map(|c| c.to_ascii_lowercase()));
            } else {
                out.extend(chars);
            }
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Lower-cases, with `_` for `-` and `.`, and between a lower-case letter or digit and
/// a capital (`fooBar` → `foo_bar`), or before the last capital of a run that a
/// lower-case letter follows (`VCPUCount` → `vcpu_count`).
fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '-' | '.' | '_' => out.push('_'),
            c if c.is_ascii_uppercase() => {
                let prev = i.checked_sub(1).map(|p| chars[p]);
                let next = chars.get(i + 1);
                let after_word = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
                let ends_run = prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(char::is_ascii_lowercase);
                if (after_word || ends_run) && !out.ends_with('_') {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            }
            c => out.push(c),
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// An identifier for `name`: raw where it is a keyword (`r#type`), with a trailing
/// `_` where a raw identifier is not allowed (`self_`).
pub fn ident(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// The name that serde derives from an identifier: the identifier without `r#`.
pub fn serde_name(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// Hands out names that are unique within one scope (the fields of a struct, the
/// variants of an enum): a name already taken gets `_` appended until it is free.
/// Names from a valid schema rarely clash; `fooBar` and `foo-bar` can, where a
/// pragma allows capitals.
#[derive(Debug, Default)]
pub struct Scope {
    taken: HashSet<String>,
}

impl Scope {
    /// A fresh identifier for `name`, already converted to the Rust convention.
    pub fn ident(&mut self, mut name: String) -> String {
        while !self.taken.insert(name.clone()) {
            name.push('_');
        }
        if KEYWORDS.contains(&name.as_str()) {
            ident(&name)
        } else {
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(type_name("GuestOSInfo"), "GuestOSInfo");
        assert_eq!(type_name("GuestFileRead"), "GuestFileRead");
        assert_eq!(type_name("guest-file-read"), "GuestFileRead");
        assert_eq!(type_name("guest-set-vcpus"), "GuestSetVcpus");
        assert_eq!(type_name("SHUTDOWN"), "Shutdown");
        assert_eq!(type_name("BLOCK_JOB_COMPLETED"), "BlockJobCompleted");
        assert_eq!(type_name("q_obj_guest-sync-arg"), "QObjGuestSyncArg");
        assert_eq!(type_name("GuestDeviceIdPCI"), "GuestDeviceIdPCI");
        assert_eq!(type_name("x-Foo"), "XFoo");
        assert_eq!(type_name("self"), "Self");
    }

    #[test]
    fn variant_names() {
        assert_eq!(variant_name("set"), "Set");
        assert_eq!(variant_name("x86_64"), "X86_64");
        assert_eq!(variant_name("s390-x"), "S390X");
        assert_eq!(variant_name("s390x"), "S390x");
        assert_eq!(variant_name("i386"), "I386");
        assert_eq!(variant_name("v2-3"), "V2_3");
        assert_eq!(variant_name("foo-2"), "Foo2");
        assert_eq!(variant_name("ACPI"), "Acpi");
        assert_eq!(variant_name("1x"), "_1x");
        assert_eq!(variant_name("hyper-v"), "HyperV");
    }

    #[test]
    fn field_and_method_names() {
        assert_eq!(field_name("buf-b64"), "buf_b64");
        assert_eq!(field_name("ip-address-type"), "ip_address_type");
        assert_eq!(field_name("fooBar"), "foo_bar");
        assert_eq!(field_name("VCPUCount"), "vcpu_count");
        assert_eq!(field_name("CPU"), "cpu");
        assert_eq!(field_name("ipv4Addr"), "ipv4_addr");
        assert_eq!(field_name("a_b"), "a_b");
        assert_eq!(field_name("2nd"), "_2nd");
        assert_eq!(field_name("foo-Bar"), "foo_bar");
        assert_eq!(method_name("guest-file-open"), "guest_file_open");
        assert_eq!(method_name("guest-sync"), "guest_sync");
    }

    #[test]
    fn keywords() {
        assert_eq!(ident("type"), "r#type");
        assert_eq!(ident("match"), "r#match");
        assert_eq!(ident("gen"), "r#gen");
        assert_eq!(ident("async"), "r#async");
        assert_eq!(ident("self"), "self_");
        assert_eq!(ident("Self"), "Self_");
        assert_eq!(ident("super"), "super_");
        assert_eq!(ident("crate"), "crate_");
        assert_eq!(ident("count"), "count");
        assert_eq!(serde_name(&ident("type")), "type");
        assert_eq!(serde_name(&ident("self")), "self_");
    }

    #[test]
    fn scopes_make_names_unique() {
        let mut scope = Scope::default();
        assert_eq!(scope.ident(field_name("foo-bar")), "foo_bar");
        assert_eq!(scope.ident(field_name("fooBar")), "foo_bar_");
        assert_eq!(scope.ident(field_name("type")), "r#type");
    }
}
