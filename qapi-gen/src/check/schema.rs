//! Checks that need the whole schema (QEMU's schema.py): every name resolves to a
//! type of the right kind, members do not clash, unions and alternates are
//! well formed, documentation matches its definition. Builds the [`model`](crate::model).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::expr::{c_name, Def, DefKind, RawData, RawMember, RawType};
use crate::error::{Error, SourceInfo};
use crate::model::{self, Builtin, Common, Doc, Entity, Feature, Member, Pragma, Schema, TypeRef};

/// What a name stands for while checking.
#[derive(Debug, Clone)]
enum Kind {
    Builtin(Builtin),
    Enum(usize),
    Struct(usize),
    Union,
    Alternate,
    Array(Box<Kind>, String),
    Command,
    Event,
}

/// The JSON kind of a value of a type, as alternates tell branches apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum JsonKind {
    Null,
    String,
    Number,
    Bool,
    Array,
    Object,
}

/// A member already on the wire, as messages describe it (see [`Checker::member_desc`]).
#[derive(Debug, Clone, Copy)]
struct Seen<'m> {
    role: &'static str,
    name: &'m str,
    defined_in: &'m str,
    current: &'m str,
}

impl std::fmt::Display for Seen<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Seen {
            role,
            name,
            defined_in,
            current,
        } = *self;
        f.write_str(&Checker::member_desc(role, name, defined_in, current))
    }
}

struct Checker<'a> {
    defs: &'a [Def],
    pragma: &'a Pragma,
    names: HashMap<String, Kind>,
}

fn builtin_json(b: Builtin) -> Option<JsonKind> {
    use Builtin::*;
    match b {
        Str | QType => Some(JsonKind::String),
        Number | Int | Int8 | Int16 | Int32 | Int64 | Uint8 | Uint16 | Uint32 | Uint64 | Size => {
            Some(JsonKind::Number)
        }
        Bool => Some(JsonKind::Bool),
        Null => Some(JsonKind::Null),
        Any => None,
    }
}

impl<'a> Checker<'a> {
    fn describe(&self, kind: &Kind, name: &str) -> String {
        match kind {
            Kind::Builtin(Builtin::QType) => "enum type 'QType'".to_owned(),
            Kind::Builtin(_) => format!("built-in type '{name}'"),
            Kind::Enum(_) => format!("enum type '{name}'"),
            Kind::Struct(_) => format!("struct type '{name}'"),
            Kind::Union => format!("union type '{name}'"),
            Kind::Alternate => format!("alternate type '{name}'"),
            Kind::Array(_, element) => format!("array type ['{element}']"),
            Kind::Command => format!("command '{name}'"),
            Kind::Event => format!("event '{name}'"),
        }
    }

    fn lookup_type(&self, name: &str) -> Option<&Kind> {
        self.names
            .get(name)
            .filter(|k| !matches!(k, Kind::Command | Kind::Event))
    }

    fn resolve(
        &self,
        ty: &RawType,
        info: &SourceInfo,
        what: &str,
    ) -> Result<(Kind, String), Error> {
        match ty {
            RawType::Name(name) => match self.lookup_type(name) {
                Some(kind) => Ok((kind.clone(), name.clone())),
                None => Err(Error::at(
                    info,
                    format!("{what} uses unknown type '{name}'"),
                )),
            },
            RawType::Array(element) => match self.lookup_type(element) {
                Some(kind) => Ok((
                    Kind::Array(Box::new(kind.clone()), element.clone()),
                    format!("{element}List"),
                )),
                None => {
                    let meta = info.defn.as_ref().map_or("", |d| d.0);
                    Err(Error::at(
                        info,
                        format!("{meta} uses unknown type '{element}'"),
                    ))
                }
            },
        }
    }

    fn json_kind(&self, kind: &Kind) -> Option<JsonKind> {
        match kind {
            Kind::Builtin(b) => builtin_json(*b),
            Kind::Enum(_) => Some(JsonKind::String),
            Kind::Struct(_) | Kind::Union => Some(JsonKind::Object),
            Kind::Alternate | Kind::Command | Kind::Event => None,
            Kind::Array(..) => Some(JsonKind::Array),
        }
    }

    /// The members of struct `index` with its whole base chain, each with the
    /// struct it is defined in; errors on a base that is not a struct or a cycle.
    fn struct_members(
        &self,
        index: usize,
        stack: &mut Vec<usize>,
    ) -> Result<Vec<(&'a RawMember, &'a str)>, Error> {
        let def = &self.defs[index];
        if stack.contains(&index) {
            return Err(Error::at(
                &def.info,
                format!("object {} contains itself", def.name),
            ));
        }
        stack.push(index);
        let DefKind::Struct { base, members } = &def.kind else {
            unreachable!("index of a struct")
        };
        let mut all = Vec::new();
        if let Some(base) = base {
            let base_index = self.struct_base(base, &def.info)?;
            all = self.struct_members(base_index, stack)?;
        }
        all.extend(members.iter().map(|m| (m, def.name.as_str())));
        stack.pop();
        Ok(all)
    }

    fn struct_base(&self, base: &str, info: &SourceInfo) -> Result<usize, Error> {
        match self.lookup_type(base) {
            None => Err(Error::at(
                info,
                format!("'base' uses unknown type '{base}'"),
            )),
            Some(Kind::Struct(i)) => Ok(*i),
            Some(other) => Err(Error::at(
                info,
                format!(
                    "'base' requires a struct type, {} isn't",
                    self.describe(other, base)
                ),
            )),
        }
    }

    /// How a member is named in messages from inside definition `current`.
    fn member_desc(role: &str, name: &str, defined_in: &str, current: &str) -> String {
        if defined_in == current {
            format!("{role} '{name}'")
        } else {
            format!("{role} '{name}' of type '{defined_in}'")
        }
    }

    fn check_features_clash(features: &[Feature], info: &SourceInfo) -> Result<(), Error> {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for f in features {
            if let Some(other) = seen.insert(c_name(&f.name), &f.name) {
                return Err(Error::at(
                    info,
                    format!("feature '{}' collides with feature '{other}'", f.name),
                ));
            }
        }
        Ok(())
    }

    /// Resolves and clash-checks a list of members; `seen` holds those already on
    /// the wire (c name → how to describe it). Descriptions are written only for
    /// messages.
    fn check_members<'m>(
        &self,
        members: &[(&'m RawMember, &'m str)],
        role: &'static str,
        current: &'m str,
        info: &SourceInfo,
        seen: &mut HashMap<String, Seen<'m>>,
    ) -> Result<(), Error> {
        for &(m, defined_in) in members {
            let this = Seen {
                role,
                name: &m.name,
                defined_in,
                current,
            };
            if let RawType::Name(name) = &m.ty {
                // The common case, without writing the description.
                if self.lookup_type(name).is_none() {
                    self.resolve(&m.ty, info, &this.to_string())?;
                }
            } else {
                self.resolve(&m.ty, info, &this.to_string())?;
            }
            Self::check_features_clash(&m.features, info)?;
            match seen.entry(c_name(&m.name)) {
                Entry::Occupied(other) => {
                    return Err(Error::at(
                        info,
                        format!("{this} collides with {}", other.get()),
                    ));
                }
                Entry::Vacant(slot) => {
                    slot.insert(this);
                }
            }
        }
        Ok(())
    }

    fn check_def(&self, index: usize) -> Result<(), Error> {
        let def = &self.defs[index];
        let info = &def.info;
        Self::check_features_clash(&def.features, info)?;
        let is_type = !matches!(def.kind, DefKind::Command { .. } | DefKind::Event { .. });
        if is_type {
            if let Some(f) = def
                .features
                .iter()
                .find(|f| f.name == "deprecated" || f.name == "unstable")
            {
                return Err(Error::at(
                    info,
                    format!("feature '{}' is not supported for types", f.name),
                ));
            }
        }
        // Arrays are checked before their owner, as QEMU defines them first.
        for ty in self.referenced_types(def) {
            if let RawType::Array(_) = ty {
                self.resolve(ty, info, "")?;
            }
        }
        match &def.kind {
            DefKind::Enum { values, .. } => {
                let mut seen: HashMap<String, &str> = HashMap::new();
                for v in values {
                    if let Some(other) = seen.insert(c_name(&v.name), &v.name) {
                        return Err(Error::at(
                            info,
                            format!("value '{}' collides with value '{other}'", v.name),
                        ));
                    }
                    Self::check_features_clash(&v.features, info)?;
                }
            }
            DefKind::Struct { .. } => {
                let members = self.struct_members(index, &mut Vec::new())?;
                self.check_members(&members, "member", &def.name, info, &mut HashMap::new())?;
            }
            DefKind::Union {
                base,
                discriminator,
                branches,
            } => self.check_union(def, base, discriminator, branches)?,
            DefKind::Alternate { branches } => self.check_alternate(def, branches)?,
            DefKind::Command {
                data,
                returns,
                flags,
            } => {
                self.check_data(def, data.as_ref(), flags.boxed, "command's 'data'")?;
                if let Some(returns) = returns {
                    let (kind, name) = self.resolve(returns, info, "command's 'returns'")?;
                    if !self.pragma.command_returns_exceptions.contains(&def.name) {
                        let element = match &kind {
                            Kind::Array(element, _) => element.as_ref(),
                            other => other,
                        };
                        if !matches!(element, Kind::Struct(_) | Kind::Union) {
                            return Err(Error::at(
                                info,
                                format!(
                                    "command's 'returns' cannot take {}",
                                    self.describe(&kind, &name)
                                ),
                            ));
                        }
                    }
                }
            }
            DefKind::Event { data, boxed } => {
                self.check_data(def, data.as_ref(), *boxed, "event's 'data'")?
            }
        }
        self.check_doc(def)
    }

    fn referenced_types<'d>(&self, def: &'d Def) -> Vec<&'d RawType> {
        let from = |members: &'d [RawMember]| members.iter().map(|m| &m.ty).collect::<Vec<_>>();
        match &def.kind {
            DefKind::Enum { .. } => Vec::new(),
            DefKind::Struct { members, .. } => from(members),
            DefKind::Union {
                base: RawData::Inline(base),
                branches,
                ..
            } => {
                let mut all = from(base);
                all.extend(from(branches));
                all
            }
            DefKind::Union { branches, .. } | DefKind::Alternate { branches } => from(branches),
            DefKind::Command { data, returns, .. } => {
                let mut all = match data {
                    Some(RawData::Inline(m)) => from(m),
                    _ => Vec::new(),
                };
                all.extend(returns.iter());
                all
            }
            DefKind::Event {
                data: Some(RawData::Inline(m)),
                ..
            } => from(m),
            DefKind::Event { .. } => Vec::new(),
        }
    }

    fn check_data(
        &self,
        def: &'a Def,
        data: Option<&RawData>,
        boxed: bool,
        what: &str,
    ) -> Result<(), Error> {
        let info = &def.info;
        match data {
            None => Ok(()),
            Some(RawData::Inline(members)) => {
                let members: Vec<_> = members.iter().map(|m| (m, def.name.as_str())).collect();
                self.check_members(&members, "parameter", &def.name, info, &mut HashMap::new())
            }
            Some(RawData::Named(name)) => {
                let (kind, name) = self.resolve(&RawType::Name(name.clone()), info, what)?;
                match kind {
                    Kind::Struct(_) => Ok(()),
                    Kind::Union if boxed => Ok(()),
                    Kind::Union => Err(Error::at(
                        info,
                        format!(
                            "{what} can take {} only with 'boxed': true",
                            self.describe(&kind, &name)
                        ),
                    )),
                    other => Err(Error::at(
                        info,
                        format!("{what} cannot take {}", self.describe(&other, &name)),
                    )),
                }
            }
        }
    }

    fn check_union(
        &self,
        def: &'a Def,
        base: &'a RawData,
        discriminator: &str,
        branches: &'a [RawMember],
    ) -> Result<(), Error> {
        let info = &def.info;
        let (base_members, base_desc) = match base {
            RawData::Inline(members) => {
                let members: Vec<_> = members.iter().map(|m| (m, def.name.as_str())).collect();
                (members, "'base'".to_owned())
            }
            RawData::Named(name) => {
                let index = self.struct_base(name, info)?;
                (
                    self.struct_members(index, &mut Vec::new())?,
                    format!("base type '{name}'"),
                )
            }
        };
        let role = if matches!(base, RawData::Inline(_)) {
            "base member"
        } else {
            "member"
        };
        let mut seen = HashMap::new();
        self.check_members(&base_members, role, &def.name, info, &mut seen)?;
        let Some((tag, tag_owner)) = base_members.iter().find(|(m, _)| m.name == discriminator)
        else {
            return Err(Error::at(
                info,
                format!("discriminator '{discriminator}' is not a member of 'base'"),
            ));
        };
        let base_desc = if matches!(base, RawData::Named(_)) {
            format!("base type '{tag_owner}'")
        } else {
            base_desc
        };
        let enum_index = match self.resolve(&tag.ty, info, "")?.0 {
            Kind::Enum(i) => i,
            _ => {
                return Err(Error::at(
                    info,
                    format!(
                    "discriminator member '{discriminator}' of {base_desc} must be of enum type"
                ),
                ))
            }
        };
        if tag.optional {
            return Err(Error::at(
                info,
                format!(
                    "discriminator member '{discriminator}' of {base_desc} must not be optional"
                ),
            ));
        }
        if tag.cond.is_some() {
            return Err(Error::at(
                info,
                format!(
                    "discriminator member '{discriminator}' of {base_desc} must not be conditional"
                ),
            ));
        }
        let enum_def = &self.defs[enum_index];
        let DefKind::Enum { values, .. } = &enum_def.kind else {
            unreachable!("index of an enum")
        };
        if branches.is_empty() && values.is_empty() {
            return Err(Error::at(info, "union has no branches"));
        }
        for b in branches {
            let desc = format!("branch '{}'", b.name);
            let (kind, name) = self.resolve(&b.ty, info, &desc)?;
            if !values.iter().any(|v| v.name == b.name) {
                return Err(Error::at(
                    info,
                    format!(
                        "branch '{}' is not a value of enum type '{}'",
                        b.name, enum_def.name
                    ),
                ));
            }
            let Kind::Struct(index) = kind else {
                return Err(Error::at(
                    info,
                    format!("{desc} cannot use {}", self.describe(&kind, &name)),
                ));
            };
            let members = self.struct_members(index, &mut Vec::new())?;
            let mut branch_seen = seen.clone();
            self.check_members(&members, "member", &def.name, info, &mut branch_seen)?;
        }
        Ok(())
    }

    fn check_alternate(&self, def: &Def, branches: &[RawMember]) -> Result<(), Error> {
        let info = &def.info;
        let mut names: HashMap<String, &str> = HashMap::new();
        let mut kinds: HashMap<JsonKind, &str> = HashMap::new();
        for b in branches {
            let desc = format!("branch '{}'", b.name);
            if let Some(other) = names.insert(c_name(&b.name), &b.name) {
                return Err(Error::at(
                    info,
                    format!("{desc} collides with branch '{other}'"),
                ));
            }
            let (kind, name) = self.resolve(&b.ty, info, &desc)?;
            let Some(json) = self.json_kind(&kind) else {
                return Err(Error::at(
                    info,
                    format!("{desc} cannot use {}", self.describe(&kind, &name)),
                ));
            };
            let mut conflicting = vec![json];
            if json == JsonKind::String {
                match kind {
                    Kind::Enum(i) => {
                        let DefKind::Enum { values, .. } = &self.defs[i].kind else {
                            unreachable!()
                        };
                        for v in values {
                            if v.name == "on" || v.name == "off" {
                                conflicting.push(JsonKind::Bool);
                            }
                            if v.name.starts_with(|c: char| "-+0123456789.".contains(c)) {
                                conflicting.push(JsonKind::Number);
                            }
                        }
                    }
                    Kind::Builtin(Builtin::QType) => {}
                    _ => conflicting.extend([JsonKind::Number, JsonKind::Bool]),
                }
            }
            conflicting.sort_by_key(|k| *k as u8);
            conflicting.dedup();
            for k in conflicting {
                if let Some(other) = kinds.get(&k) {
                    return Err(Error::at(
                        info,
                        format!("{desc} can't be distinguished from '{other}'"),
                    ));
                }
                kinds.insert(k, &b.name);
            }
        }
        Ok(())
    }

    /// Members and features documented as they are defined.
    fn check_doc(&self, def: &Def) -> Result<(), Error> {
        let Some(doc) = &def.doc else { return Ok(()) };
        let doc_info = def.doc_info.as_ref().unwrap_or(&def.info);
        let exempt = self.pragma.documentation_exceptions.contains(&def.name);
        let mut documentable: Vec<(&str, &str)> = Vec::new();
        match &def.kind {
            DefKind::Enum { values, .. } => {
                documentable.extend(values.iter().map(|v| ("value", v.name.as_str())))
            }
            DefKind::Struct { members, .. }
            | DefKind::Union {
                base: RawData::Inline(members),
                ..
            }
            | DefKind::Command {
                data: Some(RawData::Inline(members)),
                ..
            }
            | DefKind::Event {
                data: Some(RawData::Inline(members)),
                ..
            } => documentable.extend(members.iter().map(|m| ("member", m.name.as_str()))),
            DefKind::Alternate { branches } => {
                documentable.extend(branches.iter().map(|b| ("member", b.name.as_str())))
            }
            _ => {}
        }
        let mut all_features: Vec<&str> = def.features.iter().map(|f| f.name.as_str()).collect();
        for f in self.member_features(def) {
            if !all_features.contains(&f) {
                all_features.push(f);
            }
        }
        for f in &all_features {
            if !doc.features.iter().any(|(n, _)| n == f) && !exempt {
                return Err(Error::at(
                    &def.info,
                    format!("feature '{f}' lacks documentation"),
                ));
            }
        }
        if !exempt {
            if let Some((role, name)) = documentable.iter().find(|(_, n)| doc.member(n).is_none()) {
                return Err(Error::at(
                    &def.info,
                    format!("{role} '{name}' lacks documentation"),
                ));
            }
        }
        let bogus =
            |documented: &[(String, String)], known: &[&str], what: &str| -> Result<(), Error> {
                let bogus: Vec<&str> = documented
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .filter(|n| !known.contains(n))
                    .collect();
                if bogus.is_empty() {
                    return Ok(());
                }
                let (s, verb) = if bogus.len() > 1 {
                    ("s", "do")
                } else {
                    ("", "does")
                };
                Err(Error::at(
                    &doc_info.line_only(),
                    format!(
                        "documented {what}{s} '{}' {verb} not exist",
                        bogus.join("', '")
                    ),
                ))
            };
        let known: Vec<&str> = documentable.iter().map(|(_, n)| *n).collect();
        bogus(&doc.members, &known, "member")?;
        bogus(&doc.features, &all_features, "feature")
    }

    /// Features of members and enum values, which the definition's doc lists too.
    fn member_features<'d>(&self, def: &'d Def) -> Vec<&'d str> {
        let from = |members: &'d [RawMember]| {
            members
                .iter()
                .flat_map(|m| m.features.iter().map(|f| f.name.as_str()))
                .collect::<Vec<_>>()
        };
        match &def.kind {
            DefKind::Enum { values, .. } => values
                .iter()
                .flat_map(|v| v.features.iter().map(|f| f.name.as_str()))
                .collect(),
            DefKind::Struct { members, .. }
            | DefKind::Union {
                base: RawData::Inline(members),
                ..
            }
            | DefKind::Command {
                data: Some(RawData::Inline(members)),
                ..
            }
            | DefKind::Event {
                data: Some(RawData::Inline(members)),
                ..
            } => from(members),
            _ => Vec::new(),
        }
    }
}

/// Checks the definitions against each other and builds the model.
pub fn check_schema(
    defs: Vec<Def>,
    pragma: Pragma,
    free_docs: Vec<(usize, Doc)>,
) -> Result<Schema, Error> {
    let mut names: HashMap<String, Kind> = HashMap::new();
    let mut infos: HashMap<String, &SourceInfo> = HashMap::new();
    for (name, b) in Builtin::ALL {
        names.insert(name.to_owned(), Kind::Builtin(b));
        if b != Builtin::QType {
            names.insert(
                format!("{name}List"),
                Kind::Array(Box::new(Kind::Builtin(b)), name.to_owned()),
            );
        }
    }
    let probe = Checker {
        defs: &defs,
        pragma: &pragma,
        names: HashMap::new(),
    };
    for (i, def) in defs.iter().enumerate() {
        let kind = match def.kind {
            DefKind::Enum { .. } => Kind::Enum(i),
            DefKind::Struct { .. } => Kind::Struct(i),
            DefKind::Union { .. } => Kind::Union,
            DefKind::Alternate { .. } => Kind::Alternate,
            DefKind::Command { .. } => Kind::Command,
            DefKind::Event { .. } => Kind::Event,
        };
        if let Some(other) = names.get(&def.name) {
            let message = match infos.get(&def.name) {
                Some(previous) => {
                    let previous = Error::at(previous, "previous definition");
                    format!("'{}' is already defined\n{previous}", def.name)
                }
                None => format!("{} is already defined", probe.describe(other, &def.name)),
            };
            return Err(Error::at(&def.info, message));
        }
        names.insert(def.name.clone(), kind);
        infos.insert(def.name.clone(), &def.info);
    }
    let checker = Checker {
        defs: &defs,
        pragma: &pragma,
        names,
    };
    for i in 0..defs.len() {
        checker.check_def(i)?;
    }
    // The members of named union bases, with their docs from the structs that
    // define them; then the definitions themselves become the model.
    let union_bases: Vec<Option<Vec<Member>>> = defs
        .iter()
        .map(|def| match &def.kind {
            DefKind::Union {
                base: RawData::Named(n),
                ..
            } => {
                let Some(Kind::Struct(i)) = checker.names.get(n) else {
                    unreachable!("checked")
                };
                let all = checker
                    .struct_members(*i, &mut Vec::new())
                    .expect("checked");
                let owner_doc = |owner: &str| match checker.names.get(owner) {
                    Some(Kind::Struct(i)) => defs[*i].doc.as_ref(),
                    _ => None,
                };
                Some(
                    all.iter()
                        .map(|&(m, owner)| member(m.clone(), owner_doc(owner)))
                        .collect(),
                )
            }
            _ => None,
        })
        .collect();
    drop(checker);
    let entities = defs
        .into_iter()
        .zip(union_bases)
        .map(|(def, base)| build(def, base))
        .collect();
    Ok(Schema::new(entities, pragma, free_docs))
}

fn type_ref(ty: &RawType) -> TypeRef {
    let named = |n: &str| {
        Builtin::from_name(n).map_or_else(|| TypeRef::Named(n.to_owned()), TypeRef::Builtin)
    };
    match ty {
        RawType::Name(n) => named(n),
        RawType::Array(n) => TypeRef::Array(Box::new(named(n))),
    }
}

fn member(m: RawMember, doc: Option<&Doc>) -> Member {
    Member {
        doc: doc.and_then(|d| d.member(&m.name)).map(str::to_owned),
        ty: type_ref(&m.ty),
        name: m.name,
        optional: m.optional,
        cond: m.cond,
        features: m.features,
    }
}

/// The model of a checked definition; `union_base` holds the members of a union's
/// named base.
fn build(def: Def, union_base: Option<Vec<Member>>) -> Entity {
    let doc = def.doc;
    let members = |ms: Vec<RawMember>, doc: Option<&Doc>| {
        ms.into_iter().map(|m| member(m, doc)).collect::<Vec<_>>()
    };
    let data = |d: Option<RawData>, doc: Option<&Doc>| match d {
        None => None,
        Some(RawData::Inline(ms)) if ms.is_empty() => None,
        Some(RawData::Inline(ms)) => Some(model::Arguments::Inline(members(ms, doc))),
        Some(RawData::Named(n)) => Some(model::Arguments::Named(n)),
    };
    let info = model::Info {
        file: def.info.file.clone(),
        line: def.info.line,
        col: def.info.col.unwrap_or(1),
    };
    let common = |doc: Option<Doc>| Common {
        name: def.name,
        cond: def.cond,
        features: def.features,
        doc,
        info,
    };
    match def.kind {
        DefKind::Enum { values, prefix } => {
            let values = values
                .into_iter()
                .map(|v| model::EnumValue {
                    doc: doc
                        .as_ref()
                        .and_then(|d| d.member(&v.name))
                        .map(str::to_owned),
                    ..v
                })
                .collect();
            Entity::Enum(model::Enum {
                common: common(doc),
                prefix,
                values,
            })
        }
        DefKind::Struct { base, members: ms } => {
            let members = members(ms, doc.as_ref());
            Entity::Struct(model::Struct {
                common: common(doc),
                base,
                members,
            })
        }
        DefKind::Union {
            base,
            discriminator,
            branches,
        } => {
            let (base_name, base_members) = match base {
                RawData::Inline(ms) => (None, members(ms, doc.as_ref())),
                RawData::Named(n) => (Some(n), union_base.expect("built for named bases")),
            };
            let tag = base_members
                .iter()
                .find(|m| m.name == discriminator)
                .expect("checked");
            let TypeRef::Named(discriminator_enum) = &tag.ty else {
                unreachable!("checked: an enum")
            };
            let discriminator_enum = discriminator_enum.clone();
            let branches = branches
                .into_iter()
                .map(|b| model::Branch {
                    value: b.name,
                    ty: match b.ty {
                        RawType::Name(n) | RawType::Array(n) => n,
                    },
                    cond: b.cond,
                })
                .collect();
            Entity::Union(model::Union {
                common: common(doc),
                base_name,
                discriminator_enum,
                discriminator,
                base_members,
                branches,
            })
        }
        DefKind::Alternate { branches } => {
            let branches = members(branches, doc.as_ref());
            Entity::Alternate(model::Alternate {
                common: common(doc),
                branches,
            })
        }
        DefKind::Command {
            data: d,
            returns,
            flags,
        } => {
            let data = data(d, doc.as_ref());
            Entity::Command(model::Command {
                common: common(doc),
                data,
                boxed: flags.boxed,
                returns: returns.as_ref().map(type_ref),
                success_response: flags.success_response,
                gen: flags.gen,
                allow_oob: flags.allow_oob,
                allow_preconfig: flags.allow_preconfig,
                coroutine: flags.coroutine,
            })
        }
        DefKind::Event { data: d, boxed } => {
            let data = data(d, doc.as_ref());
            Entity::Event(model::Event {
                common: common(doc),
                data,
                boxed,
            })
        }
    }
}
