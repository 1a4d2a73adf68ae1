//! The Rust a backend emits, described before it is written: items, structs and their
//! fields, enums and their variants, attributes, impls, functions, match arms and the
//! blank lines between items, as typify's `TypeSpace` describes its types before
//! printing them.
//!
//! The emitters (`types/`, `dispatch.rs`) turn the model into these shapes and do
//! nothing else: every name, rename, boxing, serde attribute, `cfg` and blank line is
//! decided once, when the shape is built. One printer writes a shape as text
//! (`print/text.rs`); the reference it is held to is prettyplease's layout of the
//! same code, read back as tokens (`print/pretty.rs`).
//!
//! Types, paths, function heads and parameters are carried as the text prettyplease
//! writes for them (`Option<super::Blob>`, `&mut ::std::fmt::Formatter<'_>`): their
//! layout never changes, and the reference printer reads them back as tokens.
//! Expressions are typed ([`Expr`]), since where prettyplease breaks them depends on
//! their parts.

use std::borrow::Cow;

use crate::model::{Cond, Feature};

/// The attributes of an item, a field, a variant: a doc comment, then the others in
/// the order they are written.
#[derive(Debug, Default)]
pub struct Attrs<'a> {
    /// Markdown, written as `///` lines; empty for none.
    pub doc: String,
    pub list: Vec<Attr<'a>>,
}

#[derive(Debug)]
pub enum Attr<'a> {
    /// `#[cfg(predicate)]`.
    Cfg(Cow<'a, Cond>),
    /// `#[deprecated]`, or `#[cfg_attr(predicate, deprecated)]` under a condition.
    Deprecated(Option<&'a Cond>),
    /// `#[allow(deprecated)]`.
    AllowDeprecated,
    /// `#[derive(...)]`: the traits as paths, then the serde ones.
    Derive(&'static [&'static str], &'static [&'static str]),
    /// `#[serde(...)]`.
    Serde(Vec<Meta<'a>>),
}

/// An argument of an attribute: `default`, or `rename = "x"`.
#[derive(Debug)]
pub enum Meta<'a> {
    Word(&'static str),
    Str(&'static str, Cow<'a, str>),
}

impl<'a> Attrs<'a> {
    /// A doc comment for Markdown `text` and no other attribute.
    pub fn doc(text: String) -> Self {
        Attrs {
            doc: text,
            list: Vec::new(),
        }
    }

    /// `#[cfg]` for an optional condition.
    pub fn cfg(mut self, cond: Option<&'a Cond>) -> Self {
        self.list.extend(cond.map(|c| Attr::Cfg(Cow::Borrowed(c))));
        self
    }

    /// `#[deprecated]` when the features include `deprecated`, under the feature's
    /// condition when it has one.
    pub fn deprecated(mut self, features: &'a [Feature]) -> Self {
        if let Some(f) = features.iter().find(|f| f.name == "deprecated") {
            self.list.push(Attr::Deprecated(f.cond.as_ref()));
        }
        self
    }

    /// `#[allow(deprecated)]`, when `allow`.
    pub fn allow_deprecated(mut self, allow: bool) -> Self {
        if allow {
            self.list.push(Attr::AllowDeprecated);
        }
        self
    }

    pub fn derive(
        mut self,
        traits: &'static [&'static str],
        serde: &'static [&'static str],
    ) -> Self {
        self.list.push(Attr::Derive(traits, serde));
        self
    }

    /// `#[serde(...)]`, unless there are no arguments.
    pub fn serde(mut self, args: Vec<Meta<'a>>) -> Self {
        if !args.is_empty() {
            self.list.push(Attr::Serde(args));
        }
        self
    }

    /// Whether the attributes say `#[deprecated]`, conditionally or not.
    pub fn deprecates(&self) -> bool {
        self.list.iter().any(|a| matches!(a, Attr::Deprecated(_)))
    }
}

/// An item of a file, a module, a trait or an impl, or a blank line between two.
#[derive(Debug)]
pub enum Item<'a> {
    /// A blank line; [`separated`] decides where they go.
    Blank,
    /// `use tree;`.
    Use(Attrs<'a>, &'static str),
    Struct(Struct<'a>),
    Enum(Enum<'a>),
    Impl(Container<'a>),
    Mod(Container<'a>),
    Trait(Container<'a>),
    Const(Const<'a>),
    /// `type Name = Type;`, in a trait impl.
    Type(&'static str, String),
    Fn(Fn<'a>),
}

/// `pub struct Name { fields }`, or `pub struct Name;` when `fields` is `None`;
/// without `pub` unless `public`.
#[derive(Debug)]
pub struct Struct<'a> {
    pub attrs: Attrs<'a>,
    pub public: bool,
    pub name: String,
    pub fields: Option<Vec<Field<'a>>>,
}

/// `pub name: ty,`.
#[derive(Debug)]
pub struct Field<'a> {
    pub attrs: Attrs<'a>,
    pub name: String,
    pub ty: String,
}

/// `pub enum Name { variants }`.
#[derive(Debug)]
pub struct Enum<'a> {
    pub attrs: Attrs<'a>,
    pub name: String,
    pub variants: Vec<Variant<'a>>,
}

/// `Name,`, or `Name(ty),`.
#[derive(Debug)]
pub struct Variant<'a> {
    pub attrs: Attrs<'a>,
    pub name: String,
    pub ty: Option<String>,
}

/// An impl, a module or a trait: `head { items }`, the head without its brace
/// (`impl<'de> Deserialize<'de> for Target`, `pub mod commands`).
#[derive(Debug)]
pub struct Container<'a> {
    pub attrs: Attrs<'a>,
    pub head: String,
    pub items: Vec<Item<'a>>,
}

impl<'a> Container<'a> {
    /// The container of `items`, with blank lines where [`push`] puts them.
    pub fn new(attrs: Attrs<'a>, head: String, items: impl IntoIterator<Item = Item<'a>>) -> Self {
        let mut container = Container {
            attrs,
            head,
            items: Vec::new(),
        };
        for item in items {
            push(&mut container.items, item);
        }
        container
    }
}

/// `const NAME: Type = value;`, `pub` or not.
#[derive(Debug)]
pub struct Const<'a> {
    pub attrs: Attrs<'a>,
    pub public: bool,
    pub name: &'static str,
    pub ty: String,
    pub value: Expr<'a>,
}

/// A function, or a trait method without a body: `head(params) -> ret { body }`.
#[derive(Debug)]
pub struct Fn<'a> {
    pub attrs: Attrs<'a>,
    /// Up to the parameters: `pub fn dispatch<H: Handler + ?Sized>`.
    pub head: Cow<'static, str>,
    pub params: Vec<Cow<'static, str>>,
    /// The return type; empty for none.
    pub ret: Cow<'static, str>,
    /// `None` for a declaration (`;`).
    pub body: Option<Vec<Stmt<'a>>>,
}

/// A statement of a function body. Bodies have no blank lines.
#[derive(Debug)]
pub enum Stmt<'a> {
    Item(Item<'a>),
    /// `expr;`.
    Semi(Expr<'a>),
    /// The value of the block.
    Expr(Expr<'a>),
}

/// An expression.
#[derive(Debug)]
pub enum Expr<'a> {
    /// A path, a variable or a literal other than a string, written as it is.
    Atom(Cow<'static, str>),
    /// A string literal of this value.
    Str(String),
    /// `callee(args)`.
    Call(Box<Expr<'a>>, Vec<Expr<'a>>),
    /// `receiver.method(args)`.
    Method(Box<Expr<'a>>, Cow<'static, str>, Vec<Expr<'a>>),
    /// `&expr`.
    Ref(Box<Expr<'a>>),
    /// `expr?`.
    Try(Box<Expr<'a>>),
    /// `|params| body`; `params` with its bars (`|value|`, `||`).
    Closure(&'static str, Box<Expr<'a>>),
    /// `left == right`.
    Eq(Box<Expr<'a>>, Box<Expr<'a>>),
    /// `&[elements]`, each under an optional condition.
    Slice(Vec<(Option<&'a Cond>, Expr<'a>)>),
    /// `Path { field: value, ... }`.
    Struct(String, Vec<(&'static str, Expr<'a>)>),
    /// `match scrutinee { arms }`.
    Match(Box<Expr<'a>>, Vec<Arm<'a>>),
    /// `{ statements }`.
    Block(Vec<Stmt<'a>>),
}

/// `pattern => body`, under an optional condition.
#[derive(Debug)]
pub struct Arm<'a> {
    pub cfg: Option<&'a Cond>,
    pub pat: Expr<'a>,
    pub body: Expr<'a>,
}

impl<'a> Expr<'a> {
    pub fn atom(text: impl Into<Cow<'static, str>>) -> Self {
        Expr::Atom(text.into())
    }

    pub fn str(text: impl Into<String>) -> Self {
        Expr::Str(text.into())
    }

    /// `self(args)`.
    pub fn call(self, args: Vec<Expr<'a>>) -> Self {
        Expr::Call(Box::new(self), args)
    }

    /// `self.method(args)`.
    pub fn method(self, method: impl Into<Cow<'static, str>>, args: Vec<Expr<'a>>) -> Self {
        Expr::Method(Box::new(self), method.into(), args)
    }

    /// `self?`.
    pub fn try_(self) -> Self {
        Expr::Try(Box::new(self))
    }

    /// `&self`.
    pub fn by_ref(self) -> Self {
        Expr::Ref(Box::new(self))
    }

    /// `params self`.
    pub fn closure(params: &'static str, body: Expr<'a>) -> Self {
        Expr::Closure(params, Box::new(body))
    }

    /// `self == other`.
    pub fn eq(self, other: Expr<'a>) -> Self {
        Expr::Eq(Box::new(self), Box::new(other))
    }
}

/// What the blank-line rule needs to know of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seam {
    /// An associated constant of a trait impl (not `pub`).
    Const,
    /// An associated type.
    Type,
    Other,
}

impl Seam {
    pub fn of(item: &Item<'_>) -> Self {
        match item {
            Item::Const(c) if !c.public => Seam::Const,
            Item::Type(..) => Seam::Type,
            _ => Seam::Other,
        }
    }
}

/// Whether a blank line goes between two consecutive items of a file, module, trait
/// or impl: always, unless they continue a group (consecutive associated constants,
/// or consecutive associated types, of a trait impl stay together). The one rule for
/// blank lines, used by [`push`] and where a file's parts meet (`render.rs`).
pub fn separated(prev: Seam, next: Seam) -> bool {
    prev != next || prev == Seam::Other
}

/// Adds `item` to the items of a file, module, trait or impl, after a blank line
/// where [`separated`] says.
pub fn push<'a>(items: &mut Vec<Item<'a>>, item: Item<'a>) {
    if let Some(last) = items.last() {
        if separated(Seam::of(last), Seam::of(&item)) {
            items.push(Item::Blank);
        }
    }
    items.push(item);
}
