//! The validated schema as typed Rust data.
//!
//! Everything here has passed every check: names resolve, members are unique, unions
//! and alternates are well formed. Backends read only this model; they never see the
//! raw expressions or re-validate anything.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a definition came from, for messages and for the manual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The file, as given on the command line or resolved from an `include`.
    pub file: Arc<PathBuf>,
    /// 1-based line of the expression's opening brace.
    pub line: u32,
    /// 1-based column of the same.
    pub col: u32,
}

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A whole schema: its definitions in source order, with includes expanded.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// User definitions in the order they appear (built-in types are not listed).
    pub entities: Vec<Entity>,
    /// The pragmas in force (the last value of each wins, as in QEMU).
    pub pragma: Pragma,
    /// Free-form documentation blocks (`##` blocks not attached to a definition),
    /// in order, each with the index of the entity it precedes.
    pub free_docs: Vec<(usize, Doc)>,
    index: HashMap<String, usize>,
}

impl Schema {
    /// Builds a schema from its entities; names are assumed unique (the checker ensures it).
    pub fn new(entities: Vec<Entity>, pragma: Pragma, free_docs: Vec<(usize, Doc)>) -> Self {
        let index = entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name().to_owned(), i))
            .collect();
        Schema {
            entities,
            pragma,
            free_docs,
            index,
        }
    }

    /// The definition named `name`, if the schema has one.
    pub fn lookup(&self, name: &str) -> Option<&Entity> {
        self.index.get(name).map(|&i| &self.entities[i])
    }

    /// The struct named `name`, if there is one.
    pub fn struct_named(&self, name: &str) -> Option<&Struct> {
        match self.lookup(name) {
            Some(Entity::Struct(s)) => Some(s),
            _ => None,
        }
    }

    /// The enum named `name`, if there is one.
    pub fn enum_named(&self, name: &str) -> Option<&Enum> {
        match self.lookup(name) {
            Some(Entity::Enum(e)) => Some(e),
            _ => None,
        }
    }

    /// Every member of a struct as it appears on the wire: the base chain's members
    /// first (outermost base first), then its own.
    pub fn all_members<'a>(&'a self, s: &'a Struct) -> Vec<&'a Member> {
        let mut chain = vec![s];
        let mut cur = s;
        while let Some(base) = cur.base.as_deref().and_then(|b| self.struct_named(b)) {
            chain.push(base);
            cur = base;
        }
        chain.iter().rev().flat_map(|s| s.members.iter()).collect()
    }

    /// The structs, in order.
    pub fn structs(&self) -> impl Iterator<Item = &Struct> {
        self.entities.iter().filter_map(|e| match e {
            Entity::Struct(s) => Some(s),
            _ => None,
        })
    }

    /// The commands, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.entities.iter().filter_map(|e| match e {
            Entity::Command(c) => Some(c),
            _ => None,
        })
    }

    /// The events, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.entities.iter().filter_map(|e| match e {
            Entity::Event(e) => Some(e),
            _ => None,
        })
    }
}

/// The pragmas of a schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pragma {
    /// Every definition must have a doc block.
    pub doc_required: bool,
    /// Commands allowed to have names that are not lower-case.
    pub command_name_exceptions: Vec<String>,
    /// Commands allowed to return something other than an object or array of objects.
    pub command_returns_exceptions: Vec<String>,
    /// Types whose members may have names that are not lower-case.
    pub member_name_exceptions: Vec<String>,
    /// Definitions exempt from the documentation checks.
    pub documentation_exceptions: Vec<String>,
}

/// One definition.
#[derive(Debug, Clone, PartialEq)]
pub enum Entity {
    Struct(Struct),
    Enum(Enum),
    Union(Union),
    Alternate(Alternate),
    Command(Command),
    Event(Event),
}

impl Entity {
    /// The definition's name.
    pub fn name(&self) -> &str {
        &self.common().name
    }

    /// What every kind of definition has.
    pub fn common(&self) -> &Common {
        match self {
            Entity::Struct(x) => &x.common,
            Entity::Enum(x) => &x.common,
            Entity::Union(x) => &x.common,
            Entity::Alternate(x) => &x.common,
            Entity::Command(x) => &x.common,
            Entity::Event(x) => &x.common,
        }
    }

    /// The schema language's word for this kind, as in messages (`struct`, `command`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Entity::Struct(_) => "struct",
            Entity::Enum(_) => "enum",
            Entity::Union(_) => "union",
            Entity::Alternate(_) => "alternate",
            Entity::Command(_) => "command",
            Entity::Event(_) => "event",
        }
    }
}

/// What every definition has: name, condition, features, documentation, origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    pub name: String,
    pub cond: Option<Cond>,
    pub features: Vec<Feature>,
    pub doc: Option<Doc>,
    pub info: Info,
}

impl Common {
    /// Whether the definition carries the feature `name` (e.g. `deprecated`).
    pub fn has_feature(&self, name: &str) -> bool {
        self.features.iter().any(|f| f.name == name)
    }
}

/// An `if` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// A configuration symbol, such as `CONFIG_LINUX`.
    Name(String),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

/// A feature of a definition, member or enum value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub name: String,
    pub cond: Option<Cond>,
}

/// The built-in types of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    Str,
    Number,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Size,
    Bool,
    Null,
    Any,
    QType,
}

impl Builtin {
    /// Every built-in with its name in the schema language.
    pub const ALL: [(&'static str, Builtin); 16] = [
        ("str", Builtin::Str),
        ("number", Builtin::Number),
        ("int", Builtin::Int),
        ("int8", Builtin::Int8),
        ("int16", Builtin::Int16),
        ("int32", Builtin::Int32),
        ("int64", Builtin::Int64),
        ("uint8", Builtin::Uint8),
        ("uint16", Builtin::Uint16),
        ("uint32", Builtin::Uint32),
        ("uint64", Builtin::Uint64),
        ("size", Builtin::Size),
        ("bool", Builtin::Bool),
        ("null", Builtin::Null),
        ("any", Builtin::Any),
        ("QType", Builtin::QType),
    ];

    /// The built-in called `name`.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|&(_, b)| b)
    }

    /// Its name in the schema language.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map(|&(n, _)| n)
            .unwrap_or("?")
    }
}

/// A reference to a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    Builtin(Builtin),
    /// A user-defined type, by name (it exists: the checker ensures it).
    Named(String),
    /// `['T']`.
    Array(Box<TypeRef>),
}

/// A member of a struct, of a union's base, of command or event arguments, or a
/// branch of an alternate (never optional there).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The wire name, without the `*`.
    pub name: String,
    pub ty: TypeRef,
    pub optional: bool,
    pub cond: Option<Cond>,
    pub features: Vec<Feature>,
    /// The member's text from the definition's doc block.
    pub doc: Option<String>,
}

impl Member {
    /// Whether the member carries the feature `name` (e.g. `base64`, `deprecated`).
    pub fn has_feature(&self, name: &str) -> bool {
        self.features.iter().any(|f| f.name == name)
    }
}

/// `{ 'struct': ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub common: Common,
    /// The base struct, whose members come first on the wire.
    pub base: Option<String>,
    /// Own members only; see [`Schema::all_members`].
    pub members: Vec<Member>,
}

/// One value of an enum.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumValue {
    pub name: String,
    pub cond: Option<Cond>,
    pub features: Vec<Feature>,
    pub doc: Option<String>,
}

/// `{ 'enum': ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    pub common: Common,
    pub prefix: Option<String>,
    pub values: Vec<EnumValue>,
}

/// `{ 'union': ... }`: a flat union with a discriminator.
#[derive(Debug, Clone, PartialEq)]
pub struct Union {
    pub common: Common,
    /// The named base struct, or `None` when the base was written inline.
    pub base_name: Option<String>,
    /// Every base member, resolved (a named base's whole chain).
    pub base_members: Vec<Member>,
    /// The base member whose value selects the branch.
    pub discriminator: String,
    /// The enum type of the discriminator.
    pub discriminator_enum: String,
    /// One entry per branch written; enum values without a branch have no extra members.
    pub branches: Vec<Branch>,
}

/// A branch of a union: a discriminator value and the type holding its extra members.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub value: String,
    /// The branch's type: a struct, or a union (whose own discriminator and
    /// branches then come with the outer union's members).
    pub ty: String,
    pub cond: Option<Cond>,
}

/// `{ 'alternate': ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternate {
    pub common: Common,
    /// Each branch's type has a distinct JSON kind; never optional.
    pub branches: Vec<Member>,
}

/// The `data` of a command or event.
#[derive(Debug, Clone, PartialEq)]
pub enum Arguments {
    /// Members written inline: `'data': { 'path': 'str' }`.
    Inline(Vec<Member>),
    /// A named struct (or, with `boxed`, union or alternate) type.
    Named(String),
}

/// `{ 'command': ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub common: Common,
    pub data: Option<Arguments>,
    pub boxed: bool,
    pub returns: Option<TypeRef>,
    pub success_response: bool,
    /// `false` when the command's marshalling is written by hand (`'gen': false`).
    pub gen: bool,
    pub allow_oob: bool,
    pub allow_preconfig: bool,
    pub coroutine: bool,
}

/// `{ 'event': ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub common: Common,
    pub data: Option<Arguments>,
    pub boxed: bool,
}

/// A documentation block, split into its parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doc {
    /// The symbol it documents (`None` for a free-form block).
    pub symbol: Option<String>,
    /// The text before the first section.
    pub body: String,
    /// `@member: text` sections, in order.
    pub members: Vec<(String, String)>,
    /// `@feature: text` sections under `Features:`, in order.
    pub features: Vec<(String, String)>,
    /// Tagged sections such as `Returns`, `Since`, `Notes`, `Example`, in order.
    pub sections: Vec<(String, String)>,
}

impl Doc {
    /// The text of the section tagged `tag` (`"Since"`, `"Returns"`, ...).
    pub fn section(&self, tag: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, s)| s.as_str())
    }

    /// The text documenting member `name`.
    pub fn member(&self, name: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
    }
}
