//! Rust names for QAPI names.

use proc_macro2::{Ident, Span};

/// `guest-file-read` → `GuestFileRead`; `GuestOSInfo` stays as it is.
pub fn type_name(name: &str) -> String {
    if !name.contains(['-', '_', '.']) && name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return name.to_owned();
    }
    camel(name)
}

/// An enum value or branch name as a variant: `set` → `Set`, `x86_64` → `X86_64`.
pub fn variant_name(name: &str) -> String {
    let camel = camel(name);
    if camel.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{camel}")
    } else {
        camel
    }
}

fn camel(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
        if out.ends_with(|c: char| c.is_ascii_digit()) && part.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('_');
        }
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// `buf-b64` → `buf_b64`; `guest-file-read` → `guest_file_read`.
pub fn snake_name(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        match c {
            '-' | '.' => out.push('_'),
            c if c.is_ascii_uppercase() => {
                let prev_lower = name[..i].chars().last().is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
                if prev_lower {
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

/// An identifier, raw where `name` is a keyword (`r#type`); `self`-like keywords,
/// which cannot be raw, get a trailing `_`.
pub fn ident(name: &str) -> Ident {
    match name {
        "self" | "Self" | "super" | "crate" | "_" => Ident::new(&format!("{name}_"), Span::call_site()),
        _ if syn::parse_str::<Ident>(name).is_ok() => Ident::new(name, Span::call_site()),
        _ => Ident::new_raw(name, Span::call_site()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(type_name("GuestOSInfo"), "GuestOSInfo");
        assert_eq!(type_name("guest-file-read"), "GuestFileRead");
        assert_eq!(variant_name("set"), "Set");
        assert_eq!(variant_name("x86_64"), "X86_64");
        assert_eq!(variant_name("s390-x"), "S390X");
        assert_eq!(variant_name("1x"), "V1x");
        assert_eq!(snake_name("buf-b64"), "buf_b64");
        assert_eq!(snake_name("ip-address-type"), "ip_address_type");
        assert_eq!(snake_name("fooBar"), "foo_bar");
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("self").to_string(), "self_");
        assert_eq!(ident("count").to_string(), "count");
    }
}
