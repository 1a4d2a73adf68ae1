//! Enums: a Rust enum of unit variants with their wire names, `ALL`, `as_str`,
//! `Display` and `FromStr`. An enum's `prefix` names its C constants only, so it
//! changes nothing here.

use proc_macro2::TokenStream;
use quote::quote;

use super::rename;
use crate::emit::context::{Context, Std};
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::text::{line, Text};
use crate::model::{Common, Doc, Enum, EnumValue, Info};

pub fn enum_item(cx: &Context<'_>, e: &Enum) -> TokenStream {
    let name = names::ident(&names::type_name(&e.common.name));
    let wire_name = &e.common.name;
    let doc = cx.doc(doc::rustdoc(e.common.doc.as_ref(), &[]));
    let cfg = cx.cfg(e.common.cond.as_ref());
    let runtime = cx.runtime();
    let result = cx.std(Std::Result);
    let mut scope = Scope::default();
    let variants: Vec<_> = e
        .values
        .iter()
        .map(|v| scope.ident(names::variant_name(&v.name)))
        .collect();
    let wires: Vec<&str> = e.values.iter().map(|v| v.name.as_str()).collect();
    let serde_names: Vec<_> = variants
        .iter()
        .zip(&wires)
        .map(|(v, w)| (names::serde_name(v), *w))
        .collect();
    let renames = rename::variants(&serde_names);
    let serde_renames = renames
        .each
        .iter()
        .map(|r| r.as_ref().map(|wire| quote! { #[serde(rename = #wire)] }));
    let rename_all = renames
        .all
        .map(|rule| quote! { #[serde(rename_all = #rule)] });
    let docs = e
        .values
        .iter()
        .map(|v| cx.doc(doc::member_rustdoc(v.doc.as_deref())));
    let cfgs: Vec<_> = e.values.iter().map(|v| cx.cfg(v.cond.as_ref())).collect();
    let deprecations = e.values.iter().map(|v| cx.deprecated(&v.features));
    // The impls name every value, deprecated or not.
    let allow = e
        .values
        .iter()
        .any(|v| v.features.iter().any(|f| f.name == "deprecated"));
    let allow = allow.then(|| quote! { #[allow(deprecated)] });
    let (ser, de) = (cx.serialize(), cx.deserialize());
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, #ser, #de)]
        #rename_all
        pub enum #name {
            #(#docs #cfgs #deprecations #serde_renames #variants,)*
        }

        #cfg
        #allow
        impl #name {
            /// Every value, in schema order.
            pub const ALL: &[Self] = &[#(#cfgs Self::#variants),*];

            /// The value's name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    #(#cfgs Self::#variants => #wires,)*
                }
            }
        }

        #cfg
        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #cfg
        impl ::std::str::FromStr for #name {
            type Err = #runtime::InvalidEnumValue;

            fn from_str(s: &str) -> #result<Self, #runtime::InvalidEnumValue> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == s)
                    .ok_or_else(|| #runtime::InvalidEnumValue::new(#wire_name, s))
            }
        }
    }
}

/// QEMU's built-in `QType`, the JSON kind of a value; emitted when the schema uses it.
pub fn qtype(cx: &Context<'_>) -> TokenStream {
    enum_item(cx, &qtype_enum())
}

fn qtype_enum() -> Enum {
    let value = |name: &str, text: &str| EnumValue {
        name: name.into(),
        cond: None,
        features: Vec::new(),
        doc: Some(text.into()),
    };
    Enum {
        common: Common {
            name: "QType".into(),
            cond: None,
            features: Vec::new(),
            doc: Some(Doc {
                body: "The JSON kind of a value (QAPI's built-in `QType`).".into(),
                ..Doc::default()
            }),
            info: Info {
                file: Default::default(),
                line: 0,
                col: 0,
            },
        },
        prefix: Some("QTYPE".into()),
        values: vec![
            value("none", "No value."),
            value("qnull", "`null`."),
            value("qnum", "A number."),
            value("qstring", "A string."),
            value("qdict", "An object."),
            value("qlist", "An array."),
            value("qbool", "`true` or `false`."),
        ],
    }
}

/// [`enum_item`] as text.
pub fn enum_text(cx: &Context<'_>, e: &Enum, indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let name = names::ident_text(&names::type_name(&e.common.name));
    let runtime = cx.runtime_text();
    let mut scope = Scope::default();
    let variants: Vec<String> = e
        .values
        .iter()
        .map(|v| scope.name(names::variant_name(&v.name)))
        .collect();
    let serde_names: Vec<_> = variants
        .iter()
        .zip(&e.values)
        .map(|(v, value)| (names::serde_name_text(v).to_owned(), value.name.as_str()))
        .collect();
    let renames = rename::variants(&serde_names);
    let cfgs: Vec<String> = e
        .values
        .iter()
        .map(|v| cx.cfg_text(v.cond.as_ref(), &mut t))
        .collect();
    let cfg = cx.cfg_text(e.common.cond.as_ref(), &mut t);
    let allow = e
        .values
        .iter()
        .any(|v| v.features.iter().any(|f| f.name == "deprecated"));

    t.doc(i, &doc::rustdoc(e.common.doc.as_ref(), &[]));
    t.opt(i, &cfg);
    t.derive(
        i,
        &[
            "Debug",
            "Clone",
            "Copy",
            "PartialEq",
            "Eq",
            "Hash",
            cx.serialize_text(),
            cx.deserialize_text(),
        ],
    );
    if let Some(rule) = renames.all {
        line!(t, i, "#[serde(rename_all = \"{rule}\")]");
    }
    if e.values.is_empty() {
        line!(t, i, "pub enum {name} {{}}");
    } else {
        line!(t, i, "pub enum {name} {{");
        for (((v, variant), cfg), rename) in
            e.values.iter().zip(&variants).zip(&cfgs).zip(&renames.each)
        {
            t.doc(i + 4, &doc::member_rustdoc(v.doc.as_deref()));
            t.opt(i + 4, cfg);
            let deprecated = cx.deprecated_text(&v.features, &mut t);
            t.opt(i + 4, &deprecated);
            if let Some(wire) = rename {
                let wire = t.lit(wire);
                line!(t, i + 4, "#[serde(rename = {wire})]");
            }
            line!(t, i + 4, "{variant},");
        }
        line!(t, i, "}}");
    }

    t.opt(i, &cfg);
    if allow {
        line!(t, i, "#[allow(deprecated)]");
    }
    line!(t, i, "impl {name} {{");
    line!(t, i + 4, "/// Every value, in schema order.");
    let all: Vec<String> = variants
        .iter()
        .zip(&cfgs)
        .map(|(v, cfg)| {
            if cfg.is_empty() {
                format!("Self::{v}")
            } else {
                format!("{cfg} Self::{v}")
            }
        })
        .collect();
    let one_line = format!("pub const ALL: &[Self] = &[{}];", all.join(", "));
    if i + 4 + one_line.len() <= super::super::text::MARGIN {
        line!(t, i + 4, "{one_line}");
    } else {
        line!(t, i + 4, "pub const ALL: &[Self] = &[");
        for (v, cfg) in variants.iter().zip(&cfgs) {
            t.opt(i + 8, cfg);
            line!(t, i + 8, "Self::{v},");
        }
        line!(t, i + 4, "];");
    }
    line!(t, i + 4, "/// The value's name on the wire.");
    line!(t, i + 4, "pub fn as_str(self) -> &'static str {{");
    if e.values.is_empty() {
        line!(t, i + 8, "match self {{}}");
    } else {
        line!(t, i + 8, "match self {{");
        for ((v, variant), cfg) in e.values.iter().zip(&variants).zip(&cfgs) {
            t.opt(i + 12, cfg);
            let wire = t.lit(&v.name);
            t.line_then(i + 12, format_args!("Self::{variant} => {wire}"), ",");
        }
        line!(t, i + 8, "}}");
    }
    line!(t, i + 4, "}}");
    line!(t, i, "}}");

    t.opt(i, &cfg);
    line!(t, i, "impl ::std::fmt::Display for {name} {{");
    t.signature(
        i + 4,
        "fn fmt",
        &["&self", "f: &mut ::std::fmt::Formatter<'_>"],
        " -> ::std::fmt::Result {",
    );
    line!(t, i + 8, "f.write_str(self.as_str())");
    line!(t, i + 4, "}}");
    line!(t, i, "}}");

    t.opt(i, &cfg);
    line!(t, i, "impl ::std::str::FromStr for {name} {{");
    line!(t, i + 4, "type Err = {runtime}::InvalidEnumValue;");
    let result = cx.std_text(Std::Result);
    t.signature(
        i + 4,
        "fn from_str",
        &["s: &str"],
        &format!(" -> {result}<Self, {runtime}::InvalidEnumValue> {{"),
    );
    line!(t, i + 8, "Self::ALL");
    line!(t, i + 12, ".iter()");
    line!(t, i + 12, ".copied()");
    line!(t, i + 12, ".find(|value| value.as_str() == s)");
    let wire = t.lit(&e.common.name);
    line!(
        t,
        i + 12,
        ".ok_or_else(|| {runtime}::InvalidEnumValue::new({wire}, s))"
    );
    line!(t, i + 4, "}}");
    line!(t, i, "}}");
    t.finish()
}

/// [`qtype`] as text.
pub fn qtype_text(cx: &Context<'_>, indent: usize) -> Option<String> {
    enum_text(cx, &qtype_enum(), indent)
}
