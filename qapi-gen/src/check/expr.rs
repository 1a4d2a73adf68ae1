//! Context-free checks of each expression (QEMU's expr.py): keys, flags, names,
//! conditions, features and the shape of every member, in the order QEMU 10.2
//! makes them. The output is a normalised definition whose type names are not
//! resolved yet.

use std::fmt::{self, Display};

use crate::error::{Error, SourceInfo};
use crate::model::{Cond, EnumValue, Feature, Pragma};
use crate::parse::{DocComment, Expr, Node, SectionKind, Value};

/// A type as written: a name, or `['name']`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawType {
    Name(String),
    Array(String),
}

/// A member as written, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMember {
    pub name: String,
    pub optional: bool,
    pub ty: RawType,
    pub cond: Option<Cond>,
    pub features: Vec<Feature>,
}

/// `data` or `base` given as a type name or inline.
#[derive(Debug, Clone, PartialEq)]
pub enum RawData {
    Named(String),
    Inline(Vec<RawMember>),
}

/// What kind of definition, with its normalised parts.
#[derive(Debug, Clone, PartialEq)]
pub enum DefKind {
    Enum {
        values: Vec<EnumValue>,
        prefix: Option<String>,
    },
    Struct {
        base: Option<String>,
        members: Vec<RawMember>,
    },
    Union {
        base: RawData,
        discriminator: String,
        branches: Vec<RawMember>,
    },
    Alternate {
        branches: Vec<RawMember>,
    },
    Command {
        data: Option<RawData>,
        returns: Option<RawType>,
        flags: Flags,
    },
    Event {
        data: Option<RawData>,
        boxed: bool,
    },
}

/// A command's flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub boxed: bool,
    pub gen: bool,
    pub success_response: bool,
    pub allow_oob: bool,
    pub allow_preconfig: bool,
    pub coroutine: bool,
}

/// A definition that passed the context-free checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    pub meta: &'static str,
    pub name: String,
    /// The expression's place, inside the definition (for `In struct 'X':`).
    pub info: SourceInfo,
    pub doc: Option<DocComment>,
    pub cond: Option<Cond>,
    pub features: Vec<Feature>,
    pub kind: DefKind,
}

const METAS: [&str; 6] = ["enum", "struct", "union", "alternate", "command", "event"];

/// `SOURCE member 'KEY'`, as messages name a member, written only for a message.
struct MemberOf<'a>(&'a dyn Display, &'a str);

impl Display for MemberOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} member '{}'", self.0, self.1)
    }
}

/// `SOURCE 'NAME'` (a feature or enum value), written only for a message.
struct Named<'a>(&'a dyn Display, &'a str);

impl Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} '{}'", self.0, self.1)
    }
}

/// Whether [`c_name`] of `name` starts with `prefix` (letters and `_`).
fn c_name_starts_with(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name
            .bytes()
            .zip(prefix.bytes())
            .all(|(n, p)| n == p || (p == b'_' && !n.is_ascii_alphanumeric()))
}

/// QEMU's C name of a QAPI name, for clash checks: punctuation becomes `_`.
pub fn c_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Checks one expression.
pub fn check_expr(mut expr: Expr, pragma: &Pragma) -> Result<Def, Error> {
    let doc = expr.doc.take();
    let expr = &expr;
    let info = &expr.info;
    let metas: Vec<&str> = METAS.iter().copied().filter(|m| expr.has(m)).collect();
    if metas.len() != 1 {
        return Err(Error::at(
            info,
            "expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'",
        ));
    }
    let meta = metas[0];
    let name = name_is_str(expr.get(meta), info, &format_args!("'{meta}'"))?.to_owned();
    let info = &info.in_defn(meta, &name);
    check_defn_name(&name, info, meta, pragma)?;

    match &doc {
        Some(doc) => {
            if doc.symbol.as_deref() != Some(name.as_str()) {
                return Err(Error::at(
                    info,
                    format!(
                        "documentation comment is for '{}'",
                        doc.symbol.as_deref().unwrap_or_default()
                    ),
                ));
            }
            check_doc_sections(doc, meta, expr.has("returns"))?;
        }
        None if pragma.doc_required => {
            return Err(Error::at(info, "documentation comment required"))
        }
        None => {}
    }

    let get = |key: &str| expr.get(key).map(|n| &n.value);
    let keys: Vec<&str> = expr.members.iter().map(|m| m.0.as_str()).collect();
    let kind = match meta {
        "enum" => {
            check_keys(
                &keys,
                info,
                &meta,
                &["enum", "data"],
                &["if", "features", "prefix"],
            )?;
            check_enum(&name, get("data"), get("prefix"), info, pragma)?
        }
        "union" => {
            check_keys(
                &keys,
                info,
                &meta,
                &["union", "base", "discriminator", "data"],
                &["if", "features"],
            )?;
            let base = match get("base") {
                Some(Value::Str(s)) => RawData::Named(s.clone()),
                Some(Value::Dict(m)) => {
                    RawData::Inline(members(m, info, &"'base'", Some(&name), pragma)?)
                }
                _ => return Err(Error::at(info, "'base' should be an object or type name")),
            };
            let discriminator =
                name_is_str(expr.get("discriminator"), info, &"'discriminator'")?.to_owned();
            let Some(Value::Dict(data)) = get("data") else {
                return Err(Error::at(info, "'data' must be an object"));
            };
            let branches = branches(data, info, false)?;
            DefKind::Union {
                base,
                discriminator,
                branches,
            }
        }
        "alternate" => {
            check_keys(
                &keys,
                info,
                &meta,
                &["alternate", "data"],
                &["if", "features"],
            )?;
            let data = match get("data") {
                Some(value) if !truthy(value) => {
                    return Err(Error::at(info, "'data' must not be empty"))
                }
                Some(Value::Dict(d)) => d,
                _ => return Err(Error::at(info, "'data' must be an object")),
            };
            DefKind::Alternate {
                branches: branches(data, info, true)?,
            }
        }
        "struct" => {
            check_keys(
                &keys,
                info,
                &meta,
                &["struct", "data"],
                &["base", "if", "features"],
            )?;
            let members = match get("data") {
                Some(Value::Dict(m)) => members(m, info, &"'data'", Some(&name), pragma)?,
                _ => return Err(Error::at(info, "'data' should be an object or type name")),
            };
            let base = type_name(get("base"), info, &"'base'")?;
            DefKind::Struct { base, members }
        }
        "command" => {
            check_keys(
                &keys,
                info,
                &meta,
                &["command"],
                &[
                    "data",
                    "returns",
                    "boxed",
                    "if",
                    "features",
                    "gen",
                    "success-response",
                    "allow-oob",
                    "allow-preconfig",
                    "coroutine",
                ],
            )?;
            let data = check_data(get("data"), get("boxed"), info, pragma)?;
            let returns = type_name_or_array(get("returns"), info, &"'returns'")?;
            // The flags are checked last, as QEMU does; they are filled in then.
            DefKind::Command {
                data,
                returns,
                flags: Flags::default(),
            }
        }
        "event" => {
            check_keys(
                &keys,
                info,
                &meta,
                &["event"],
                &["data", "boxed", "if", "features"],
            )?;
            let data = check_data(get("data"), get("boxed"), info, pragma)?;
            DefKind::Event { data, boxed: false }
        }
        _ => unreachable!("metas are the six above"),
    };
    let cond = check_if(get("if"), info, &meta)?;
    let features = check_features(get("features"), info)?;
    let flags = check_flags(expr, info)?;
    let kind = match kind {
        DefKind::Command { data, returns, .. } => DefKind::Command {
            data,
            returns,
            flags,
        },
        DefKind::Event { data, .. } => DefKind::Event {
            data,
            boxed: flags.boxed,
        },
        other => other,
    };
    Ok(Def {
        meta,
        name,
        info: info.clone(),
        doc,
        cond,
        features,
        kind,
    })
}

/// The sections a definition's kind allows: `Returns` and `Errors` are a
/// command's, and `Returns` only of one that returns something.
fn check_doc_sections(doc: &DocComment, meta: &str, returns: bool) -> Result<(), Error> {
    let returns_section = doc.section(SectionKind::Returns);
    if meta == "command" {
        if let Some(s) = returns_section.filter(|_| !returns) {
            return Err(Error::at(
                &doc.at(s.line),
                "'Returns' section, but command doesn't return anything",
            ));
        }
        return Ok(());
    }
    if let Some(s) = returns_section {
        return Err(Error::at(
            &doc.at(s.line),
            "'Returns' section is only valid for commands",
        ));
    }
    if let Some(s) = doc.section(SectionKind::Errors) {
        return Err(Error::at(
            &doc.at(s.line),
            "'Errors' section is only valid for commands",
        ));
    }
    Ok(())
}

/// Python's truth of a value, which some of QEMU's checks test.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Str(s) => !s.is_empty(),
        Value::Bool(b) => *b,
        Value::List(l) => !l.is_empty(),
        Value::Dict(d) => !d.is_empty(),
    }
}

fn name_is_str<'a>(
    node: Option<&'a Node>,
    info: &SourceInfo,
    source: &dyn Display,
) -> Result<&'a str, Error> {
    match node.map(|n| &n.value) {
        Some(Value::Str(s)) => Ok(s),
        _ => Err(Error::at(info, format!("{source} requires a string name"))),
    }
}

/// A valid name: optional `__RFQDN_` and `x-` prefixes, then a letter, then letters,
/// digits, `-` and `_`; nothing whose C name starts with `q_`. Returns the stem.
fn check_name_str<'a>(
    name: &'a str,
    info: &SourceInfo,
    source: &dyn Display,
) -> Result<&'a str, Error> {
    let invalid = || Error::at(info, format!("{source} has an invalid name"));
    let mut rest = name;
    if let Some(after) = rest.strip_prefix("__") {
        let end = after.find('_').ok_or_else(invalid)?;
        let rfqdn = &after[..end];
        if rfqdn.is_empty()
            || !rfqdn
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(invalid());
        }
        rest = &after[end + 1..];
    }
    let is_stem = |stem: &str| {
        let mut chars = stem.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    // `x-` is the experimental prefix when what follows is a stem; else (as in
    // `x-1`) it is part of the stem, as QEMU's pattern finds by backtracking.
    let stem = match rest.get(..2) {
        Some(x) if x.eq_ignore_ascii_case("x-") && is_stem(&rest[2..]) => &rest[2..],
        _ => rest,
    };
    if !is_stem(stem) || c_name_starts_with(name, "q_") {
        return Err(invalid());
    }
    Ok(stem)
}

fn check_name_lower(
    name: &str,
    info: &SourceInfo,
    source: &dyn Display,
    permit_upper: bool,
    permit_underscore: bool,
) -> Result<(), Error> {
    let stem = check_name_str(name, info, source)?;
    if (!permit_upper && stem.chars().any(|c| c.is_ascii_uppercase()))
        || (!permit_underscore && stem.contains('_'))
    {
        return Err(Error::at(
            info,
            format!("name of {source} must not use uppercase or '_'"),
        ));
    }
    Ok(())
}

fn check_defn_name(
    name: &str,
    info: &SourceInfo,
    meta: &str,
    pragma: &Pragma,
) -> Result<(), Error> {
    match meta {
        "event" => {
            let stem = check_name_str(name, info, &meta)?;
            if stem.chars().any(|c| c.is_ascii_lowercase() || c == '-') {
                return Err(Error::at(
                    info,
                    format!("name of {meta} must not use lowercase or '-'"),
                ));
            }
        }
        "command" => {
            let permit = pragma.command_name_exceptions.iter().any(|n| n == name);
            check_name_lower(name, info, &meta, false, permit)?;
        }
        _ => {
            let stem = check_name_str(name, info, &meta)?;
            let mut chars = stem.chars();
            let camel = chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && stem.chars().all(|c| c.is_ascii_alphanumeric())
                && stem.chars().skip(1).any(|c| c.is_ascii_lowercase());
            if !camel {
                return Err(Error::at(
                    info,
                    format!("name of {meta} must use CamelCase"),
                ));
            }
            if name.ends_with("List") {
                return Err(Error::at(
                    info,
                    format!("{meta} name should not end in 'List'"),
                ));
            }
        }
    }
    Ok(())
}

fn check_keys(
    keys: &[&str],
    info: &SourceInfo,
    source: &dyn Display,
    required: &[&str],
    optional: &[&str],
) -> Result<(), Error> {
    let pprint = |mut elems: Vec<&str>| {
        elems.sort_unstable();
        elems.dedup();
        elems
            .iter()
            .map(|e| format!("'{e}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !keys.contains(r))
        .collect();
    if !missing.is_empty() {
        let s = if missing.len() > 1 { "s" } else { "" };
        return Err(Error::at(
            info,
            format!("{source} misses key{s} {}", pprint(missing)),
        ));
    }
    let unknown: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !required.contains(k) && !optional.contains(k))
        .collect();
    if !unknown.is_empty() {
        let s = if unknown.len() > 1 { "s" } else { "" };
        let allowed = required.iter().chain(optional).copied().collect();
        return Err(Error::at(
            info,
            format!(
                "{source} has unknown key{s} {}\nValid keys are {}.",
                pprint(unknown),
                pprint(allowed)
            ),
        ));
    }
    Ok(())
}

fn check_flags(expr: &Expr, info: &SourceInfo) -> Result<Flags, Error> {
    let flag = |key: &str| expr.get(key).map(|n| &n.value);
    for key in ["gen", "success-response"] {
        if flag(key).is_some_and(|v| *v != Value::Bool(false)) {
            return Err(Error::at(
                info,
                format!("flag '{key}' may only use false value"),
            ));
        }
    }
    for key in ["boxed", "allow-oob", "allow-preconfig", "coroutine"] {
        if flag(key).is_some_and(|v| *v != Value::Bool(true)) {
            return Err(Error::at(
                info,
                format!("flag '{key}' may only use true value"),
            ));
        }
    }
    if expr.has("allow-oob") && expr.has("coroutine") {
        return Err(Error::at(
            info,
            "flags 'allow-oob' and 'coroutine' are incompatible",
        ));
    }
    Ok(Flags {
        boxed: expr.has("boxed"),
        gen: !expr.has("gen"),
        success_response: !expr.has("success-response"),
        allow_oob: expr.has("allow-oob"),
        allow_preconfig: expr.has("allow-preconfig"),
        coroutine: expr.has("coroutine"),
    })
}

/// An `if`: a config name, or `{'all': [...]}`, `{'any': [...]}`, `{'not': ...}`.
fn check_if(
    value: Option<&Value>,
    info: &SourceInfo,
    source: &dyn Display,
) -> Result<Option<Cond>, Error> {
    fn cond(value: &Value, info: &SourceInfo, source: &dyn Display) -> Result<Cond, Error> {
        match value {
            Value::Str(s) => {
                let valid = s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && s.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if !valid {
                    return Err(Error::at(
                        info,
                        format!("'if' condition '{s}' of {source} is not a valid identifier"),
                    ));
                }
                Ok(Cond::Name(s.clone()))
            }
            Value::Dict(members) => {
                let keys: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
                check_keys(
                    &keys,
                    info,
                    &format!("'if' condition of {source}"),
                    &[],
                    &["all", "any", "not"],
                )?;
                if members.len() != 1 {
                    return Err(Error::at(
                        info,
                        format!("'if' condition of {source} has conflicting keys"),
                    ));
                }
                let (op, _, _, operand) = &members[0];
                if op == "not" {
                    return Ok(Cond::Not(Box::new(cond(&operand.value, info, source)?)));
                }
                let Value::List(items) = &operand.value else {
                    return Err(Error::at(
                        info,
                        format!("'{op}' condition of {source} must be an array"),
                    ));
                };
                if items.is_empty() {
                    return Err(Error::at(
                        info,
                        format!("'if' condition [] of {source} is useless"),
                    ));
                }
                let conds = items
                    .iter()
                    .map(|n| cond(&n.value, info, source))
                    .collect::<Result<_, _>>()?;
                Ok(if op == "all" {
                    Cond::All(conds)
                } else {
                    Cond::Any(conds)
                })
            }
            _ => Err(Error::at(
                info,
                format!("'if' condition of {source} must be a string or an object"),
            )),
        }
    }
    value.map(|v| cond(v, info, source)).transpose()
}

fn check_features(value: Option<&Value>, info: &SourceInfo) -> Result<Vec<Feature>, Error> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::List(items) = value else {
        return Err(Error::at(info, "'features' must be an array"));
    };
    let mut features = Vec::new();
    for item in items {
        let source: &dyn Display = &"'features' member";
        let (name, cond) = match &item.value {
            Value::Dict(members) => {
                let keys: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
                check_keys(&keys, info, source, &["name"], &["if"])?;
                let name = name_is_str(item.value.get("name"), info, source)?;
                let source = Named(source, name);
                check_name_lower(name, info, &source, false, false)?;
                (
                    name.to_owned(),
                    check_if(item.value.get("if").map(|n| &n.value), info, &source)?,
                )
            }
            Value::Str(name) => {
                check_name_lower(name, info, &Named(source, name), false, false)?;
                (name.clone(), None)
            }
            _ => return Err(Error::at(info, format!("{source} requires a string name"))),
        };
        features.push(Feature { name, cond });
    }
    Ok(features)
}

fn check_enum(
    name: &str,
    data: Option<&Value>,
    prefix: Option<&Value>,
    info: &SourceInfo,
    pragma: &Pragma,
) -> Result<DefKind, Error> {
    let Some(Value::List(items)) = data else {
        return Err(Error::at(info, "'data' must be an array"));
    };
    let prefix = match prefix {
        None => None,
        Some(Value::Str(p)) => Some(p.clone()),
        Some(_) => return Err(Error::at(info, "'prefix' must be a string")),
    };
    let permissive = pragma.member_name_exceptions.iter().any(|n| n == name);
    let mut values = Vec::new();
    for item in items {
        let source: &dyn Display = &"'data' member";
        let (value_name, cond, features) = match &item.value {
            Value::Dict(members) => {
                let keys: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
                check_keys(&keys, info, source, &["name"], &["if", "features"])?;
                let value_name = name_is_str(item.value.get("name"), info, source)?.to_owned();
                (value_name, item.value.get("if"), item.value.get("features"))
            }
            Value::Str(s) => (s.clone(), None, None),
            _ => return Err(Error::at(info, format!("{source} requires a string name"))),
        };
        let source = Named(source, &value_name);
        // Enum values may start with a digit.
        let checked = if value_name.starts_with(|c: char| c.is_ascii_digit()) {
            format!("d{value_name}")
        } else {
            value_name.clone()
        };
        check_name_lower(&checked, info, &source, permissive, permissive)?;
        let cond = check_if(cond.map(|n| &n.value), info, &source)?;
        let features = check_features(features.map(|n| &n.value), info)?;
        values.push(EnumValue {
            name: value_name,
            cond,
            features,
            doc: None,
        });
    }
    Ok(DefKind::Enum { values, prefix })
}

fn type_name(
    value: Option<&Value>,
    info: &SourceInfo,
    source: &dyn Display,
) -> Result<Option<String>, Error> {
    match value {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::at(info, format!("{source} should be a type name"))),
    }
}

/// A type name or a one-element array of one.
fn type_name_or_array(
    value: Option<&Value>,
    info: &SourceInfo,
    source: &dyn Display,
) -> Result<Option<RawType>, Error> {
    match value {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(RawType::Name(s.clone()))),
        Some(Value::List(items)) => match &items[..] {
            [Node {
                value: Value::Str(s),
                ..
            }] => Ok(Some(RawType::Array(s.clone()))),
            _ => Err(Error::at(
                info,
                format!("{source}: array type must contain single type name"),
            )),
        },
        Some(_) => Err(Error::at(
            info,
            format!("{source} should be a type name or array"),
        )),
    }
}

/// A member's value: `{ 'type': ..., 'if': ..., 'features': ... }`, or the type
/// alone, which stands for `{ 'type': ... }`. `optional` are the keys allowed
/// beside `type`; `array` whether the type may be an array.
fn member_type(
    value: &Value,
    info: &SourceInfo,
    source: &dyn Display,
    optional: &[&str],
    array: bool,
) -> Result<(RawType, Option<Cond>, Vec<Feature>), Error> {
    let Value::Dict(members) = value else {
        return Ok((
            simple_type(Some(value), info, source, array)?,
            None,
            Vec::new(),
        ));
    };
    let keys: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
    check_keys(&keys, info, source, &["type"], optional)?;
    let cond = check_if(value.get("if").map(|n| &n.value), info, source)?;
    let features = check_features(value.get("features").map(|n| &n.value), info)?;
    let ty = value.get("type").map(|n| &n.value);
    Ok((simple_type(ty, info, source, array)?, cond, features))
}

fn simple_type(
    value: Option<&Value>,
    info: &SourceInfo,
    source: &dyn Display,
    array: bool,
) -> Result<RawType, Error> {
    let ty = if array {
        type_name_or_array(value, info, source)?
    } else {
        type_name(value, info, source)?.map(RawType::Name)
    };
    Ok(ty.expect("check_keys made sure there is a type"))
}

/// Members written inline (struct data, union base, command and event data).
fn members(
    data: &[(String, u32, u32, Node)],
    info: &SourceInfo,
    source: &dyn Display,
    owner: Option<&str>,
    pragma: &Pragma,
) -> Result<Vec<RawMember>, Error> {
    let permissive = owner.is_some_and(|o| pragma.member_name_exceptions.iter().any(|n| n == o));
    let mut out = Vec::new();
    for (key, _, _, node) in data {
        let key_source = MemberOf(source, key);
        let (name, optional) = match key.strip_prefix('*') {
            Some(name) => (name, true),
            None => (key.as_str(), false),
        };
        check_name_lower(name, info, &key_source, permissive, permissive)?;
        if name == "u" || c_name_starts_with(name, "has_") {
            return Err(Error::at(info, format!("{key_source} uses reserved name")));
        }
        let (ty, cond, features) =
            member_type(&node.value, info, &key_source, &["if", "features"], true)?;
        out.push(RawMember {
            name: name.to_owned(),
            optional,
            ty,
            cond,
            features,
        });
    }
    Ok(out)
}

/// Union branches (`alternate` false: their names are checked against the enum
/// later, their types are names) or alternate branches.
fn branches(
    data: &[(String, u32, u32, Node)],
    info: &SourceInfo,
    alternate: bool,
) -> Result<Vec<RawMember>, Error> {
    let mut out = Vec::new();
    for (key, _, _, node) in data {
        let source = MemberOf(&"'data'", key);
        if alternate {
            check_name_lower(key, info, &source, false, false)?;
        }
        let (ty, cond, _) = member_type(&node.value, info, &source, &["if"], alternate)?;
        out.push(RawMember {
            name: key.clone(),
            optional: false,
            ty,
            cond,
            features: Vec::new(),
        });
    }
    Ok(out)
}

/// The `data` of a command or event: with `boxed`, a type name; else a type name
/// or members.
fn check_data(
    value: Option<&Value>,
    boxed: Option<&Value>,
    info: &SourceInfo,
    pragma: &Pragma,
) -> Result<Option<RawData>, Error> {
    if boxed.is_some_and(truthy) {
        let Some(value) = value else {
            return Err(Error::at(info, "'boxed': true requires 'data'"));
        };
        return Ok(type_name(Some(value), info, &"'data'")?.map(RawData::Named));
    }
    match value {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(RawData::Named(s.clone()))),
        Some(Value::Dict(m)) => Ok(Some(RawData::Inline(members(
            m, info, &"'data'", None, pragma,
        )?))),
        Some(_) => Err(Error::at(info, "'data' should be an object or type name")),
    }
}
