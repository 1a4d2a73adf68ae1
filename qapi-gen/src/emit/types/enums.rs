//! Enums: a Rust enum of unit variants with their wire names, `ALL`, `as_str`,
//! `Display` and `FromStr`. An enum's `prefix` names its C constants only, so it
//! changes nothing here.

use std::borrow::Cow;
use std::sync::LazyLock;

use super::rename::{self, Renames};
use crate::emit::context::{Context, Std};
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::shape::{self, Arm, Attrs, Const, Container, Expr, Item, Meta, Stmt, Variant};
use crate::model::{Common, Doc, Enum, EnumValue, Info};

/// The enum, its inherent impl, `Display` and `FromStr`.
pub fn enum_items<'a>(cx: &Context<'_>, e: &'a Enum) -> Vec<Item<'a>> {
    let name = names::ident(&names::type_name(&e.common.name));
    let cond = e.common.cond.as_ref();
    let runtime = cx.runtime();
    let (variants, renames) = variants(&e.values);

    let declaration = shape::Enum {
        attrs: Attrs::doc(doc::rustdoc(e.common.doc.as_ref(), &[]))
            .cfg(cond)
            .derive(
                &["Debug", "Clone", "Copy", "PartialEq", "Eq", "Hash"],
                cx.serde_derives(true),
            )
            .serde(Vec::from_iter(
                renames
                    .all
                    .map(|rule| Meta::Str("rename_all", Cow::Borrowed(rule))),
            )),
        name: name.clone(),
        variants: e
            .values
            .iter()
            .zip(&variants)
            .zip(renames.each)
            .map(|((v, variant), rename)| Variant {
                attrs: Attrs::doc(doc::member_rustdoc(v.doc.as_deref()))
                    .cfg(v.cond.as_ref())
                    .deprecated(&v.features)
                    .serde(Vec::from_iter(
                        rename.map(|wire| Meta::Str("rename", Cow::Borrowed(wire))),
                    )),
                name: variant.clone(),
                ty: None,
            })
            .collect(),
    };

    let selves = || {
        e.values
            .iter()
            .zip(&variants)
            .map(|(v, variant)| (v, Expr::atom(format!("Self::{variant}"))))
    };
    let all = Const {
        attrs: Attrs::doc("Every value, in schema order.".to_owned()),
        public: true,
        name: "ALL",
        ty: "&[Self]".to_owned(),
        value: Expr::Slice(selves().map(|(v, s)| (v.cond.as_ref(), s)).collect()),
    };
    let arms = selves()
        .map(|(v, s)| Arm {
            cfg: v.cond.as_ref(),
            pat: s,
            body: Expr::str(&v.name),
        })
        .collect();
    let as_str = shape::Fn {
        attrs: Attrs::doc("The value's name on the wire.".to_owned()),
        head: "pub fn as_str".into(),
        params: vec!["self".into()],
        ret: "&'static str".into(),
        body: Some(vec![Stmt::Expr(Expr::Match(
            Box::new(Expr::atom("self")),
            arms,
        ))]),
    };
    // The impls name every value, deprecated or not.
    let deprecated = e
        .values
        .iter()
        .any(|v| v.features.iter().any(|f| f.name == "deprecated"));
    let inherent = Container::new(
        Attrs::default().cfg(cond).allow_deprecated(deprecated),
        format!("impl {name}"),
        [Item::Const(all), Item::Fn(as_str)],
    );

    let fmt = shape::Fn {
        attrs: Attrs::default(),
        head: "fn fmt".into(),
        params: vec!["&self".into(), "f: &mut ::std::fmt::Formatter<'_>".into()],
        ret: "::std::fmt::Result".into(),
        body: Some(vec![Stmt::Expr(Expr::atom("f").method(
            "write_str",
            vec![Expr::atom("self").method("as_str", vec![])],
        ))]),
    };
    let display = Container::new(
        Attrs::default().cfg(cond),
        format!("impl ::std::fmt::Display for {name}"),
        [Item::Fn(fmt)],
    );

    let invalid = format!("{runtime}::InvalidEnumValue");
    let find = Expr::atom("Self::ALL")
        .method("iter", vec![])
        .method("copied", vec![])
        .method(
            "find",
            vec![Expr::closure(
                "|value|",
                Expr::atom("value")
                    .method("as_str", vec![])
                    .eq(Expr::atom("s")),
            )],
        )
        .method(
            "ok_or_else",
            vec![Expr::closure(
                "||",
                Expr::atom(format!("{invalid}::new"))
                    .call(vec![Expr::str(&e.common.name), Expr::atom("s")]),
            )],
        );
    let from_str = shape::Fn {
        attrs: Attrs::default(),
        head: "fn from_str".into(),
        params: vec!["s: &str".into()],
        ret: format!("{}<Self, {invalid}>", cx.std(Std::Result)).into(),
        body: Some(vec![Stmt::Expr(find)]),
    };
    let parse = Container::new(
        Attrs::default().cfg(cond),
        format!("impl ::std::str::FromStr for {name}"),
        [Item::Type("Err", invalid), Item::Fn(from_str)],
    );

    vec![
        Item::Enum(declaration),
        Item::Impl(inherent),
        Item::Impl(display),
        Item::Impl(parse),
    ]
}

/// The variant names for an enum's values and the renames they need: for the enum,
/// and for the branches of a union it discriminates.
pub fn variants(values: &[EnumValue]) -> (Vec<String>, Renames<'_>) {
    let mut scope = Scope::default();
    let variants: Vec<String> = values
        .iter()
        .map(|v| scope.ident(names::variant_name(&v.name)))
        .collect();
    let renames = rename::variants(&variants, values.iter().map(|v| v.name.as_str()));
    (variants, renames)
}

/// QEMU's built-in `QType`, the JSON kind of a value; emitted when the schema uses it.
pub fn qtype<'a>(cx: &Context<'_>) -> Vec<Item<'a>> {
    static QTYPE: LazyLock<Enum> = LazyLock::new(qtype_enum);
    enum_items(cx, &QTYPE)
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
