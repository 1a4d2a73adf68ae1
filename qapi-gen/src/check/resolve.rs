//! Checks that need the whole schema (QEMU's schema.py): names resolve to types of
//! the right kind, members do not clash, bases, unions and alternates are well
//! formed, command and event arguments are allowed.
//!
//! The checks go in QEMU's order, so that of several errors QEMU's is reported: a
//! table of every type, built-in or defined, with the array types and the implicit
//! types of inline members (a command's arguments, a union's base) placed just
//! before the definition that first needs them; then each entry checked in turn,
//! object types recursing into their bases and branches, and each definition's
//! doc comment connected to it right after its checks (see [`docs`](super::docs)).

use std::collections::HashMap;

use super::docs::Docs;
use super::expr::{c_name, Def, DefKind, RawData, RawMember, RawType};
use crate::error::{Error, SourceInfo};
use crate::model::{Builtin, Feature, TypeRef};

/// What a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Type(usize),
    Command(usize),
    Event(usize),
}

/// A type.
#[derive(Debug, Clone)]
enum Type {
    Builtin(Builtin),
    /// A defined enum, or (`None`) the predefined `QType`.
    Enum(Option<usize>),
    /// `['element']`, with the place of its first use (none for built-in arrays).
    Array {
        element: String,
        info: Option<SourceInfo>,
    },
    Object(usize),
    Alternate(usize),
}

/// How an implicit object type came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Implicit {
    /// The inline `data` of a command or event.
    Arg,
    /// The inline `base` of a union.
    Base,
}

/// An object type: a struct, a union, or an implicit type (of inline members).
#[derive(Debug)]
struct Object<'d> {
    name: String,
    /// The definition, or the one it is implicit in (`None` for `q_empty`).
    def: Option<usize>,
    implicit: Option<Implicit>,
    base: Option<String>,
    members: &'d [RawMember],
    /// A union's discriminator and branches.
    branches: Option<(&'d str, &'d [RawMember])>,
    features: &'d [Feature],
}

/// Where an object's check stands (`object X contains itself` is found by it).
#[derive(Debug, Clone, Default)]
enum State<'d> {
    #[default]
    Unchecked,
    Checking,
    Done(Checked<'d>),
}

/// A checked object type: its members, its bases' first, and its branches' types.
#[derive(Debug, Clone, Default)]
struct Checked<'d> {
    members: Vec<Member<'d>>,
    branches: Vec<usize>,
}

/// A member of an object type, as clash checks and messages see it.
#[derive(Debug, Clone, Copy)]
struct Member<'d> {
    raw: &'d RawMember,
    /// The object type that declares it.
    object: usize,
    /// Its type.
    ty: usize,
}

/// What declares a member, branch or feature, for messages.
#[derive(Debug, Clone, Copy)]
enum Owner<'d> {
    /// An object type: its members.
    Object(usize),
    /// A definition or member, by name: its branches or features.
    Named(&'d str),
}

/// A member, branch or feature already seen, for clash checks.
#[derive(Debug, Clone, Copy)]
struct Seen<'d> {
    role: &'static str,
    name: &'d str,
    owner: Owner<'d>,
    member: Option<Member<'d>>,
}

/// The schema's types and what the checks found, for building the model.
pub struct Resolved<'d> {
    names: HashMap<String, Entity>,
    types: Vec<Type>,
    objects: Vec<Object<'d>>,
    states: Vec<State<'d>>,
    /// The object type of each struct or union definition.
    object_of: HashMap<usize, usize>,
}

impl Resolved<'_> {
    /// The model's reference to the type named `name` (which exists).
    pub fn type_ref(&self, name: &str) -> TypeRef {
        match self.names.get(name) {
            Some(Entity::Type(t)) => match &self.types[*t] {
                Type::Builtin(b) => TypeRef::Builtin(*b),
                Type::Enum(None) => TypeRef::Builtin(Builtin::QType),
                Type::Array { element, .. } => TypeRef::Array(Box::new(self.type_ref(element))),
                _ => TypeRef::Named(name.to_owned()),
            },
            _ => TypeRef::Named(name.to_owned()),
        }
    }

    /// The model's reference to a type as written.
    pub fn raw_type_ref(&self, ty: &RawType) -> TypeRef {
        match ty {
            RawType::Name(name) => self.type_ref(name),
            RawType::Array(element) => TypeRef::Array(Box::new(self.type_ref(element))),
        }
    }

    /// The members of struct or union definition `def` with its bases', each with
    /// the definition that declares it (`None` for a union's inline base).
    pub fn all_members(&self, def: usize) -> Vec<(&RawMember, Option<usize>)> {
        let Some(State::Done(checked)) = self.object_of.get(&def).map(|&o| &self.states[o]) else {
            return Vec::new();
        };
        checked
            .members
            .iter()
            .map(|m| {
                let object = &self.objects[m.object];
                (m.raw, object.def.filter(|_| object.implicit.is_none()))
            })
            .collect()
    }
}

/// The JSON kinds an alternate tells its branches apart by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum QType {
    Null,
    Num,
    String,
    Bool,
    List,
    Dict,
}

/// The built-in types, in QEMU's order; each has its array type.
const BUILTINS: [Builtin; 15] = [
    Builtin::Str,
    Builtin::Number,
    Builtin::Int,
    Builtin::Int8,
    Builtin::Int16,
    Builtin::Int32,
    Builtin::Int64,
    Builtin::Uint8,
    Builtin::Uint16,
    Builtin::Uint32,
    Builtin::Uint64,
    Builtin::Size,
    Builtin::Bool,
    Builtin::Any,
    Builtin::Null,
];

/// The values of the predefined enum `QType`.
const QTYPE_VALUES: [&str; 7] = [
    "none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool",
];

/// An entry of QEMU's entity list that has something to check.
#[derive(Debug, Clone, Copy)]
enum Step {
    Array(usize),
    Object(usize),
    Def(usize),
}

struct Checker<'d> {
    defs: &'d [Def],
    returns_exceptions: &'d [String],
    r: Resolved<'d>,
    steps: Vec<Step>,
}

/// Defines the schema's types and checks every definition, connecting each one's
/// doc comment to it after its checks.
pub fn resolve<'d>(
    defs: &'d [Def],
    returns_exceptions: &'d [String],
    docs: &mut Docs<'_>,
) -> Result<Resolved<'d>, Error> {
    let mut c = Checker {
        defs,
        returns_exceptions,
        r: Resolved {
            names: HashMap::new(),
            types: Vec::new(),
            objects: Vec::new(),
            states: Vec::new(),
            object_of: HashMap::new(),
        },
        steps: Vec::new(),
    };
    c.predefine();
    for index in 0..defs.len() {
        c.define(index)?;
    }
    for step in std::mem::take(&mut c.steps) {
        match step {
            Step::Array(t) => c.check_array(t)?,
            Step::Object(o) => c.check_object(o)?,
            Step::Def(d) => {
                c.check_def(d)?;
                docs.connect(&defs[d], d)?;
            }
        }
    }
    Ok(c.r)
}

impl<'d> Checker<'d> {
    fn add_type(&mut self, name: String, ty: Type) -> usize {
        self.r.types.push(ty);
        let t = self.r.types.len() - 1;
        self.r.names.insert(name, Entity::Type(t));
        t
    }

    fn add_object(&mut self, object: Object<'d>) -> usize {
        let name = object.name.clone();
        self.r.objects.push(object);
        self.r.states.push(State::Unchecked);
        let o = self.r.objects.len() - 1;
        self.add_type(name, Type::Object(o));
        o
    }

    fn predefine(&mut self) {
        for b in BUILTINS {
            self.add_type(b.name().to_owned(), Type::Builtin(b));
            self.add_type(
                format!("{}List", b.name()),
                Type::Array {
                    element: b.name().to_owned(),
                    info: None,
                },
            );
        }
        self.add_object(Object {
            name: "q_empty".to_owned(),
            def: None,
            implicit: None,
            base: None,
            members: &[],
            branches: None,
            features: &[],
        });
        self.add_type("QType".to_owned(), Type::Enum(None));
    }

    fn lookup_type(&self, name: &str) -> Option<usize> {
        match self.r.names.get(name) {
            Some(Entity::Type(t)) => Some(*t),
            _ => None,
        }
    }

    /// The array type of `element`, defined at its first use.
    fn array(&mut self, element: &str, info: &SourceInfo) {
        let name = format!("{element}List");
        if self.lookup_type(&name).is_none() {
            let t = self.add_type(
                name,
                Type::Array {
                    element: element.to_owned(),
                    info: Some(info.clone()),
                },
            );
            self.steps.push(Step::Array(t));
        }
    }

    fn arrays(&mut self, members: &[RawMember], info: &SourceInfo) {
        for m in members {
            if let RawType::Array(element) = &m.ty {
                self.array(element, info);
            }
        }
    }

    /// The implicit object type of a definition's inline members, if it has any.
    fn implicit(&mut self, def: usize, kind: Implicit, members: &'d [RawMember]) -> Option<String> {
        if members.is_empty() {
            return None;
        }
        let role = match kind {
            Implicit::Arg => "arg",
            Implicit::Base => "base",
        };
        let name = format!("q_obj_{}-{role}", self.defs[def].name);
        // A second definition of the same name reuses it, and is reported as such.
        if !self.r.names.contains_key(&name) {
            let o = self.add_object(Object {
                name: name.clone(),
                def: Some(def),
                implicit: Some(kind),
                base: None,
                members,
                branches: None,
                features: &[],
            });
            self.steps.push(Step::Object(o));
        }
        Some(name)
    }

    /// Defines definition `index`, after the array and implicit types it needs.
    fn define(&mut self, index: usize) -> Result<(), Error> {
        let def = &self.defs[index];
        let info = &def.info;
        let mut union_base = None;
        match &def.kind {
            DefKind::Enum { .. } => {}
            DefKind::Struct { members, .. } => self.arrays(members, info),
            DefKind::Union { base, branches, .. } => {
                union_base = match base {
                    RawData::Inline(members) => {
                        self.arrays(members, info);
                        self.implicit(index, Implicit::Base, members)
                    }
                    RawData::Named(name) => Some(name.clone()).filter(|n| !n.is_empty()),
                };
                self.arrays(branches, info);
            }
            DefKind::Alternate { branches } => self.arrays(branches, info),
            DefKind::Command { data, returns, .. } => {
                if let Some(RawData::Inline(members)) = data {
                    self.arrays(members, info);
                    self.implicit(index, Implicit::Arg, members);
                }
                if let Some(RawType::Array(element)) = returns {
                    self.array(element, info);
                }
            }
            DefKind::Event { data, .. } => {
                if let Some(RawData::Inline(members)) = data {
                    self.arrays(members, info);
                    self.implicit(index, Implicit::Arg, members);
                }
            }
        }
        if let Some(&other) = self.r.names.get(&def.name) {
            let message = match self.entity_info(other) {
                Some(previous) => {
                    let previous = Error::at(previous, "previous definition");
                    format!("'{}' is already defined\n{previous}", def.name)
                }
                None => format!("{} is already defined", self.describe_entity(other)),
            };
            return Err(Error::at(info, message));
        }
        let entity = match &def.kind {
            DefKind::Enum { .. } => {
                Entity::Type(self.add_type(def.name.clone(), Type::Enum(Some(index))))
            }
            DefKind::Alternate { .. } => {
                Entity::Type(self.add_type(def.name.clone(), Type::Alternate(index)))
            }
            DefKind::Struct { members, base } => {
                let o = self.add_object(Object {
                    name: def.name.clone(),
                    def: Some(index),
                    implicit: None,
                    base: base.clone().filter(|b| !b.is_empty()),
                    members,
                    branches: None,
                    features: &def.features,
                });
                self.r.object_of.insert(index, o);
                Entity::Type(self.r.types.len() - 1)
            }
            DefKind::Union {
                discriminator,
                branches,
                ..
            } => {
                let o = self.add_object(Object {
                    name: def.name.clone(),
                    def: Some(index),
                    implicit: None,
                    base: union_base,
                    members: &[],
                    branches: Some((discriminator, branches)),
                    features: &def.features,
                });
                self.r.object_of.insert(index, o);
                Entity::Type(self.r.types.len() - 1)
            }
            DefKind::Command { .. } => Entity::Command(index),
            DefKind::Event { .. } => Entity::Event(index),
        };
        self.r.names.insert(def.name.clone(), entity);
        self.steps.push(Step::Def(index));
        Ok(())
    }

    /// Where an entity is defined; `None` for the predefined ones.
    fn entity_info(&self, entity: Entity) -> Option<&SourceInfo> {
        match entity {
            Entity::Command(d) | Entity::Event(d) => Some(&self.defs[d].info),
            Entity::Type(t) => match &self.r.types[t] {
                Type::Builtin(_) | Type::Enum(None) => None,
                Type::Enum(Some(d)) | Type::Alternate(d) => Some(&self.defs[*d].info),
                Type::Array { info, .. } => info.as_ref(),
                Type::Object(o) => self.r.objects[*o].def.map(|d| &self.defs[d].info),
            },
        }
    }

    /// How QEMU names an entity in messages (`struct type 'X'`).
    fn describe_entity(&self, entity: Entity) -> String {
        match entity {
            Entity::Command(d) => format!("command '{}'", self.defs[d].name),
            Entity::Event(d) => format!("event '{}'", self.defs[d].name),
            Entity::Type(t) => self.describe(t),
        }
    }

    fn describe(&self, t: usize) -> String {
        match &self.r.types[t] {
            Type::Builtin(b) => format!("built-in type '{}'", b.name()),
            Type::Enum(None) => "enum type 'QType'".to_owned(),
            Type::Enum(Some(d)) => format!("enum type '{}'", self.defs[*d].name),
            Type::Alternate(d) => format!("alternate type '{}'", self.defs[*d].name),
            Type::Array { element, .. } => format!("array type ['{element}']"),
            Type::Object(o) => {
                let object = &self.r.objects[*o];
                let meta = if object.branches.is_some() {
                    "union"
                } else {
                    "struct"
                };
                format!("{meta} type '{}'", object.name)
            }
        }
    }

    /// How QEMU describes `seen` from inside definition `current`.
    fn describe_seen(&self, seen: &Seen<'_>, current: &str) -> String {
        let (role, meta, owner) = match seen.owner {
            Owner::Named(owner) => (seen.role, "type", owner),
            Owner::Object(o) => {
                let object = &self.r.objects[o];
                let owner = object.def.map_or("", |d| self.defs[d].name.as_str());
                match object.implicit {
                    Some(Implicit::Arg) => ("parameter", "command", owner),
                    Some(Implicit::Base) => ("base member", "type", owner),
                    None => (seen.role, "type", object.name.as_str()),
                }
            }
        };
        if owner != current {
            format!("{role} '{}' of {meta} '{owner}'", seen.name)
        } else {
            format!("{role} '{}'", seen.name)
        }
    }

    /// Adds `this` to `seen`, unless its C name is there already.
    fn clash(
        &self,
        this: Seen<'d>,
        info: &SourceInfo,
        seen: &mut HashMap<String, Seen<'d>>,
    ) -> Result<(), Error> {
        let key = c_name(this.name);
        if let Some(other) = seen.get(&key) {
            let current = current(info);
            return Err(Error::at(
                info,
                format!(
                    "{} collides with {}",
                    self.describe_seen(&this, current),
                    self.describe_seen(other, current)
                ),
            ));
        }
        seen.insert(key, this);
        Ok(())
    }

    /// The features of a definition, or of its member or value `owner`.
    fn features_clash(
        &self,
        features: &'d [Feature],
        owner: &'d str,
        info: &SourceInfo,
    ) -> Result<(), Error> {
        let mut seen = HashMap::new();
        for f in features {
            let this = Seen {
                role: "feature",
                name: &f.name,
                owner: Owner::Named(owner),
                member: None,
            };
            self.clash(this, info, &mut seen)?;
        }
        Ok(())
    }

    /// The special features are for commands, events and members only.
    fn type_features(&self, features: &[Feature], info: &SourceInfo) -> Result<(), Error> {
        match features
            .iter()
            .find(|f| f.name == "deprecated" || f.name == "unstable")
        {
            Some(f) => Err(Error::at(
                info,
                format!("feature '{}' is not supported for types", f.name),
            )),
            None => Ok(()),
        }
    }

    /// The type a member names (arrays are defined by then).
    fn member_type(&self, ty: &RawType) -> (String, Option<usize>) {
        let name = match ty {
            RawType::Name(name) => name.clone(),
            RawType::Array(element) => format!("{element}List"),
        };
        let t = self.lookup_type(&name);
        (name, t)
    }

    fn check_array(&self, t: usize) -> Result<(), Error> {
        let Type::Array { element, info } = &self.r.types[t] else {
            unreachable!("an array step")
        };
        match (self.lookup_type(element), info) {
            (None, Some(info)) => {
                let meta = info.defn.as_ref().map_or("", |d| d.0);
                Err(Error::at(
                    info,
                    format!("{meta} uses unknown type '{element}'"),
                ))
            }
            _ => Ok(()),
        }
    }

    fn object_info(&self, o: usize) -> &'d SourceInfo {
        let defs = self.defs;
        let def = self.r.objects[o]
            .def
            .expect("only q_empty has no definition, and it has nothing to report");
        &defs[def].info
    }

    /// The members of a checked object type.
    fn done(&self, o: usize) -> &Checked<'d> {
        match &self.r.states[o] {
            State::Done(checked) => checked,
            _ => unreachable!("checked before"),
        }
    }

    /// Checks object type `o` (once), its base and branches first.
    fn check_object(&mut self, o: usize) -> Result<(), Error> {
        match self.r.states[o] {
            State::Done(_) => return Ok(()),
            State::Checking => {
                return Err(Error::at(
                    self.object_info(o),
                    format!("object {} contains itself", self.r.objects[o].name),
                ))
            }
            State::Unchecked => {}
        }
        if self.r.objects[o].def.is_none() {
            self.r.states[o] = State::Done(Checked::default());
            return Ok(());
        }
        self.r.states[o] = State::Checking;
        let info = self.object_info(o);
        let object = &self.r.objects[o];
        let (members, branches, features) = (object.members, object.branches, object.features);
        let base = object.base.clone();
        let defs = self.defs;
        let name: &'d str = match object.implicit {
            Some(_) => "",
            None => &defs[object.def.expect("a definition")].name,
        };
        if object.implicit.is_none() {
            self.features_clash(features, name, info)?;
            self.type_features(features, info)?;
        }
        let mut seen = HashMap::new();
        let mut all = Vec::new();
        if let Some(base) = &base {
            let Some(t) = self.lookup_type(base) else {
                return Err(Error::at(
                    info,
                    format!("'base' uses unknown type '{base}'"),
                ));
            };
            let base_object = match &self.r.types[t] {
                Type::Object(b) if self.r.objects[*b].branches.is_none() => *b,
                _ => {
                    return Err(Error::at(
                        info,
                        format!("'base' requires a struct type, {} isn't", self.describe(t)),
                    ))
                }
            };
            self.check_object(base_object)?;
            for m in self.done(base_object).members.clone() {
                self.clash(self.seen(m), info, &mut seen)?;
                all.push(m);
            }
        }
        for raw in members {
            let (type_name, ty) = self.member_type(&raw.ty);
            let this = Seen {
                role: "member",
                name: &raw.name,
                owner: Owner::Object(o),
                member: None,
            };
            let Some(ty) = ty else {
                return Err(Error::at(
                    info,
                    format!(
                        "{} uses unknown type '{type_name}'",
                        self.describe_seen(&this, current(info))
                    ),
                ));
            };
            self.features_clash(&raw.features, &raw.name, info)?;
            let m = Member { raw, object: o, ty };
            self.clash(self.seen(m), info, &mut seen)?;
            all.push(m);
        }
        let mut branch_types = Vec::new();
        if let Some((tag, branches)) = branches {
            branch_types = self.check_branches(info, name, tag, branches, &seen)?;
            for &b in &branch_types {
                self.clash_object(b, info, &mut seen.clone())?;
            }
        }
        self.r.states[o] = State::Done(Checked {
            members: all,
            branches: branch_types,
        });
        Ok(())
    }

    fn seen(&self, m: Member<'d>) -> Seen<'d> {
        Seen {
            role: "member",
            name: &m.raw.name,
            owner: Owner::Object(m.object),
            member: Some(m),
        }
    }

    /// The members of object type `o` and of its branches, each branch against
    /// its own copy of `seen`.
    fn clash_object(
        &self,
        o: usize,
        info: &SourceInfo,
        seen: &mut HashMap<String, Seen<'d>>,
    ) -> Result<(), Error> {
        let checked = self.done(o);
        for &m in &checked.members {
            self.clash(self.seen(m), info, seen)?;
        }
        for &b in &checked.branches {
            self.clash_object(b, info, &mut seen.clone())?;
        }
        Ok(())
    }

    /// A union's discriminator and branches; returns the object type of each
    /// branch, those of the enum values without one (`q_empty`) included.
    fn check_branches(
        &mut self,
        info: &SourceInfo,
        union: &str,
        tag: &str,
        branches: &'d [RawMember],
        seen: &HashMap<String, Seen<'d>>,
    ) -> Result<Vec<usize>, Error> {
        let tag_member = seen
            .get(&c_name(tag))
            .filter(|s| s.name == tag)
            .and_then(|s| s.member);
        let Some(tag_member) = tag_member else {
            return Err(Error::at(
                info,
                format!("discriminator '{tag}' is not a member of 'base'"),
            ));
        };
        let owner = &self.r.objects[tag_member.object];
        let base = match owner.implicit {
            Some(_) => "'base'".to_owned(),
            None => format!("base type '{}'", owner.name),
        };
        let values: Vec<(&str, bool)> = match &self.r.types[tag_member.ty] {
            Type::Enum(Some(d)) => match &self.defs[*d].kind {
                DefKind::Enum { values, .. } => values
                    .iter()
                    .map(|v| (v.name.as_str(), v.cond.is_some()))
                    .collect(),
                _ => unreachable!("an enum definition"),
            },
            Type::Enum(None) => QTYPE_VALUES.iter().map(|&v| (v, false)).collect(),
            _ => {
                return Err(Error::at(
                    info,
                    format!("discriminator member '{tag}' of {base} must be of enum type"),
                ))
            }
        };
        if tag_member.raw.optional {
            return Err(Error::at(
                info,
                format!("discriminator member '{tag}' of {base} must not be optional"),
            ));
        }
        if tag_member.raw.cond.is_some() {
            return Err(Error::at(
                info,
                format!("discriminator member '{tag}' of {base} must not be conditional"),
            ));
        }
        let uncovered = values
            .iter()
            .filter(|(v, _)| !branches.iter().any(|b| b.name == *v))
            .count();
        if branches.is_empty() && uncovered == 0 {
            return Err(Error::at(info, "union has no branches"));
        }
        let mut types = Vec::new();
        for b in branches {
            let this = Seen {
                role: "branch",
                name: &b.name,
                owner: Owner::Named(union),
                member: None,
            };
            let (type_name, ty) = self.member_type(&b.ty);
            let Some(ty) = ty else {
                return Err(Error::at(
                    info,
                    format!(
                        "{} uses unknown type '{type_name}'",
                        self.describe_seen(&this, current(info))
                    ),
                ));
            };
            if !values.iter().any(|(v, _)| *v == b.name) {
                return Err(Error::at(
                    info,
                    format!(
                        "branch '{}' is not a value of {}",
                        b.name,
                        self.describe(tag_member.ty)
                    ),
                ));
            }
            let Type::Object(branch) = self.r.types[ty] else {
                return Err(Error::at(
                    info,
                    format!(
                        "{} cannot use {}",
                        self.describe_seen(&this, current(info)),
                        self.describe(ty)
                    ),
                ));
            };
            self.check_object(branch)?;
            types.push(branch);
        }
        if uncovered > 0 {
            let Some(Type::Object(empty)) = self.lookup_type("q_empty").map(|t| &self.r.types[t])
            else {
                unreachable!("q_empty is predefined")
            };
            let empty = *empty;
            self.check_object(empty)?;
            types.extend(std::iter::repeat_n(empty, uncovered));
        }
        Ok(types)
    }

    fn check_def(&mut self, d: usize) -> Result<(), Error> {
        let def = &self.defs[d];
        let info = &def.info;
        match &def.kind {
            DefKind::Struct { .. } | DefKind::Union { .. } => {
                let o = self.r.object_of[&d];
                self.check_object(o)
            }
            DefKind::Enum { values, .. } => {
                self.features_clash(&def.features, &def.name, info)?;
                self.type_features(&def.features, info)?;
                let mut seen = HashMap::new();
                for v in values {
                    let this = Seen {
                        role: "value",
                        name: &v.name,
                        owner: Owner::Named(&def.name),
                        member: None,
                    };
                    self.clash(this, info, &mut seen)?;
                }
                Ok(())
            }
            DefKind::Alternate { branches } => self.check_alternate(def, branches),
            DefKind::Command {
                data,
                returns,
                flags,
            } => {
                self.features_clash(&def.features, &def.name, info)?;
                self.check_args(d, data.as_ref(), flags.boxed, "command")?;
                let Some(returns) = returns else {
                    return Ok(());
                };
                let (name, ty) = self.member_type(returns);
                if name.is_empty() {
                    return Ok(());
                }
                let Some(ty) = ty else {
                    return Err(Error::at(
                        info,
                        format!("command's 'returns' uses unknown type '{name}'"),
                    ));
                };
                if self.returns_exceptions.contains(&def.name) {
                    return Ok(());
                }
                let element = match &self.r.types[ty] {
                    Type::Array { element, .. } => self.lookup_type(element).unwrap_or(ty),
                    _ => ty,
                };
                match self.r.types[element] {
                    Type::Object(_) => Ok(()),
                    _ => Err(Error::at(
                        info,
                        format!("command's 'returns' cannot take {}", self.describe(ty)),
                    )),
                }
            }
            DefKind::Event { data, boxed } => {
                self.features_clash(&def.features, &def.name, info)?;
                self.check_args(d, data.as_ref(), *boxed, "event")
            }
        }
    }

    /// The `data` of command or event `d` (`meta`).
    fn check_args(
        &mut self,
        d: usize,
        data: Option<&RawData>,
        boxed: bool,
        meta: &str,
    ) -> Result<(), Error> {
        let def = &self.defs[d];
        let info = &def.info;
        let name = match data {
            None => return Ok(()),
            Some(RawData::Inline(members)) if members.is_empty() => return Ok(()),
            Some(RawData::Inline(_)) => format!("q_obj_{}-arg", def.name),
            Some(RawData::Named(name)) if name.is_empty() => return Ok(()),
            Some(RawData::Named(name)) => name.clone(),
        };
        let what = format!("{meta}'s 'data'");
        let Some(t) = self.lookup_type(&name) else {
            return Err(Error::at(
                info,
                format!("{what} uses unknown type '{name}'"),
            ));
        };
        let Type::Object(o) = self.r.types[t] else {
            return Err(Error::at(
                info,
                format!("{what} cannot take {}", self.describe(t)),
            ));
        };
        if self.r.objects[o].branches.is_some() && !boxed {
            return Err(Error::at(
                info,
                format!(
                    "{what} can take {} only with 'boxed': true",
                    self.describe(t)
                ),
            ));
        }
        self.check_object(o)?;
        let conditional = self.done(o).members.iter().any(|m| m.raw.cond.is_some());
        if conditional && !boxed {
            return Err(Error::at(
                info,
                format!("conditional {meta} arguments require 'boxed': true"),
            ));
        }
        Ok(())
    }

    fn check_alternate(&self, def: &'d Def, branches: &'d [RawMember]) -> Result<(), Error> {
        let info = &def.info;
        self.features_clash(&def.features, &def.name, info)?;
        self.type_features(&def.features, info)?;
        let branch = |b: &'d RawMember| Seen {
            role: "branch",
            name: &b.name,
            owner: Owner::Named(&def.name),
            member: None,
        };
        // Every branch's type first, then what tells them apart.
        let mut types = Vec::new();
        for b in branches {
            let (type_name, ty) = self.member_type(&b.ty);
            match ty {
                Some(ty) => types.push(ty),
                None => {
                    return Err(Error::at(
                        info,
                        format!(
                            "{} uses unknown type '{type_name}'",
                            self.describe_seen(&branch(b), &def.name)
                        ),
                    ))
                }
            }
        }
        let mut seen = HashMap::new();
        let mut kinds: HashMap<QType, &str> = HashMap::new();
        for (b, &ty) in branches.iter().zip(&types) {
            self.clash(branch(b), info, &mut seen)?;
            let Some(qtype) = self.qtype(ty) else {
                return Err(Error::at(
                    info,
                    format!(
                        "{} cannot use {}",
                        self.describe_seen(&branch(b), &def.name),
                        self.describe(ty)
                    ),
                ));
            };
            let mut conflicting = vec![qtype];
            if qtype == QType::String {
                match &self.r.types[ty] {
                    Type::Enum(d) => {
                        let values: Vec<&str> = match d.map(|d| &self.defs[d].kind) {
                            Some(DefKind::Enum { values, .. }) => {
                                values.iter().map(|v| v.name.as_str()).collect()
                            }
                            _ => QTYPE_VALUES.to_vec(),
                        };
                        for v in values {
                            if v == "on" || v == "off" {
                                conflicting.push(QType::Bool);
                            }
                            if v.starts_with(|c: char| "-+0123456789.".contains(c)) {
                                conflicting.push(QType::Num);
                            }
                        }
                    }
                    _ => conflicting.extend([QType::Num, QType::Bool]),
                }
            }
            conflicting.sort();
            conflicting.dedup();
            for k in conflicting {
                if let Some(other) = kinds.get(&k) {
                    return Err(Error::at(
                        info,
                        format!(
                            "{} can't be distinguished from '{other}'",
                            self.describe_seen(&branch(b), &def.name)
                        ),
                    ));
                }
                kinds.insert(k, &b.name);
            }
        }
        Ok(())
    }

    /// The JSON kind of values of type `t`; `None` when values may be of any kind.
    fn qtype(&self, t: usize) -> Option<QType> {
        match &self.r.types[t] {
            Type::Builtin(b) => match b {
                Builtin::Str => Some(QType::String),
                Builtin::Bool => Some(QType::Bool),
                Builtin::Null => Some(QType::Null),
                Builtin::Any => None,
                _ => Some(QType::Num),
            },
            Type::Enum(_) => Some(QType::String),
            Type::Array { .. } => Some(QType::List),
            Type::Object(_) => Some(QType::Dict),
            Type::Alternate(_) => None,
        }
    }
}

/// The definition a place is inside.
fn current(info: &SourceInfo) -> &str {
    info.defn.as_ref().map_or("", |d| d.1.as_str())
}
