//! Enums: a Rust enum of unit variants with their wire names, `ALL`, `as_str`,
//! `Display` and `FromStr`. An enum's `prefix` names its C constants only, so it
//! changes nothing here.

use proc_macro2::TokenStream;
use quote::quote;

use super::rename;
use crate::emit::context::{Context, Std};
use crate::emit::doc;
use crate::emit::names::{self, Scope};
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
    let value = |name: &str, text: &str| EnumValue {
        name: name.into(),
        cond: None,
        features: Vec::new(),
        doc: Some(text.into()),
    };
    let e = Enum {
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
    };
    enum_item(cx, &e)
}
