//! Context-free checks of each expression (QEMU's expr.py): keys, flags, names,
//! conditions, features and the shape of every member. The output is a normalised
//! definition whose type names are not resolved yet.

use crate::error::{Error, SourceInfo};
use crate::model::{Cond, Doc, EnumValue, Feature, Pragma};
use crate::parse::{Expr, Node, Value};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub doc: Option<Doc>,
    pub doc_info: Option<SourceInfo>,
    pub cond: Option<Cond>,
    pub features: Vec<Feature>,
    pub kind: DefKind,
}

const METAS: [&str; 6] = ["enum", "struct", "union", "alternate", "command", "event"];

/// QEMU's C name of a QAPI name, for clash checks: punctuation becomes `_`.
pub fn c_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Checks one expression.
pub fn check_expr(mut expr: Expr, pragma: &Pragma) -> Result<Def, Error> {
    let (doc, doc_info) = (expr.doc.take(), expr.doc_info.take());
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
    let name = name_is_str(expr.get(meta), info, &format!("'{meta}'"))?.to_owned();
    let info = &info.in_defn(meta, &name);
    check_defn_name(&name, info, meta, pragma)?;

    match (&doc, &doc_info) {
        (Some(doc), Some(doc_info)) => {
            if doc.symbol.as_deref() != Some(name.as_str()) {
                return Err(Error::at(
                    info,
                    format!(
                        "documentation comment is for '{}'",
                        doc.symbol.as_deref().unwrap_or_default()
                    ),
                ));
            }
            if doc.section("Returns").is_some() && meta != "command" {
                return Err(Error::at(doc_info, "'Returns:' is only valid for commands"));
            }
        }
        _ if pragma.doc_required => return Err(Error::at(info, "documentation comment required")),
        _ => {}
    }

    let get = |key: &str| expr.get(key).map(|n| &n.value);
    let keys: Vec<&str> = expr.members.iter().map(|m| m.0.as_str()).collect();
    let kind = match meta {
        "enum" => {
            check_keys(
                &keys,
                info,
                meta,
                &["enum", "data"],
                &["if", "features", "prefix"],
            )?;
            check_enum(&name, get("data"), get("prefix"), info, pragma)?
        }
        "union" => {
            check_keys(
                &keys,
                info,
                meta,
                &["union", "base", "discriminator", "data"],
                &["if", "features"],
            )?;
            let base = match get("base") {
                Some(Value::Str(s)) => RawData::Named(s.clone()),
                Some(Value::Dict(m)) => {
                    RawData::Inline(members(m, info, "'base'", Some(&name), pragma)?)
                }
                Some(Value::List(_)) => return Err(Error::at(info, "'base' cannot be an array")),
                _ => return Err(Error::at(info, "'base' should be an object or type name")),
            };
            let discriminator =
                name_is_str(expr.get("discriminator"), info, "'discriminator'")?.to_owned();
            let Some(Value::Dict(data)) = get("data") else {
                return Err(Error::at(info, "'data' must be an object"));
            };
            let branches = branches(data, info, false, false)?;
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
                meta,
                &["alternate", "data"],
                &["if", "features"],
            )?;
            let data = match get("data") {
                Some(Value::Dict(d)) if d.is_empty() => {
                    return Err(Error::at(info, "'data' must not be empty"))
                }
                Some(Value::Dict(d)) => d,
                Some(Value::List(l)) if l.is_empty() => {
                    return Err(Error::at(info, "'data' must not be empty"))
                }
                Some(Value::Str(s)) if s.is_empty() => {
                    return Err(Error::at(info, "'data' must not be empty"))
                }
                Some(Value::Bool(false)) => {
                    return Err(Error::at(info, "'data' must not be empty"))
                }
                _ => return Err(Error::at(info, "'data' must be an object")),
            };
            DefKind::Alternate {
                branches: branches(data, info, true, true)?,
            }
        }
        "struct" => {
            check_keys(
                &keys,
                info,
                meta,
                &["struct", "data"],
                &["base", "if", "features"],
            )?;
            let members = match get("data") {
                Some(Value::Dict(m)) => members(m, info, "'data'", Some(&name), pragma)?,
                Some(Value::List(_)) => return Err(Error::at(info, "'data' cannot be an array")),
                Some(Value::Str(_)) => return Err(Error::at(info, "'data' should be an object")),
                _ => return Err(Error::at(info, "'data' should be an object or type name")),
            };
            let base = type_name(get("base"), info, "'base'")?;
            DefKind::Struct { base, members }
        }
        "command" => {
            check_keys(
                &keys,
                info,
                meta,
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
            let flags = check_flags(expr, info)?;
            let data = check_data(get("data"), flags.boxed, info, pragma)?;
            let returns = match get("returns") {
                None => None,
                Some(Value::Str(s)) => Some(RawType::Name(s.clone())),
                Some(Value::List(items)) => Some(array_type(items, info, "'returns'")?),
                Some(_) => return Err(Error::at(info, "'returns' should be a type name")),
            };
            DefKind::Command {
                data,
                returns,
                flags,
            }
        }
        "event" => {
            check_keys(
                &keys,
                info,
                meta,
                &["event"],
                &["data", "boxed", "if", "features"],
            )?;
            let flags = check_flags(expr, info)?;
            let data = check_data(get("data"), flags.boxed, info, pragma)?;
            DefKind::Event {
                data,
                boxed: flags.boxed,
            }
        }
        _ => unreachable!("metas are the six above"),
    };
    let cond = check_if(get("if"), info, meta)?;
    let features = check_features(get("features"), info)?;
    if meta != "command" && meta != "event" {
        check_flags(expr, info)?;
    }
    Ok(Def {
        meta,
        name,
        info: info.clone(),
        doc,
        doc_info,
        cond,
        features,
        kind,
    })
}

fn name_is_str<'a>(
    node: Option<&'a Node>,
    info: &SourceInfo,
    source: &str,
) -> Result<&'a str, Error> {
    match node.map(|n| &n.value) {
        Some(Value::Str(s)) => Ok(s),
        _ => Err(Error::at(info, format!("{source} requires a string name"))),
    }
}

/// A valid name: optional `__RFQDN_` and `x-` prefixes, then a letter, then letters,
/// digits, `-` and `_`; nothing whose C name starts with `q_`. Returns the stem.
fn check_name_str<'a>(name: &'a str, info: &SourceInfo, source: &str) -> Result<&'a str, Error> {
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
    if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case("x-") {
        rest = &rest[2..];
    }
    let mut chars = rest.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid || c_name(name).starts_with("q_") {
        return Err(invalid());
    }
    Ok(rest)
}

fn check_name_lower(
    name: &str,
    info: &SourceInfo,
    source: &str,
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
            let stem = check_name_str(name, info, meta)?;
            if stem.chars().any(|c| c.is_ascii_lowercase() || c == '-') {
                return Err(Error::at(
                    info,
                    format!("name of {meta} must not use lowercase or '-'"),
                ));
            }
        }
        "command" => {
            let permit = pragma.command_name_exceptions.iter().any(|n| n == name);
            check_name_lower(name, info, meta, false, permit)?;
        }
        _ => {
            let stem = check_name_str(name, info, meta)?;
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
    source: &str,
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
fn check_if(value: Option<&Value>, info: &SourceInfo, source: &str) -> Result<Option<Cond>, Error> {
    fn cond(value: &Value, info: &SourceInfo, source: &str) -> Result<Cond, Error> {
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
        let source = "'features' member";
        let (name, cond) = match &item.value {
            Value::Dict(members) => {
                let keys: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
                check_keys(&keys, info, source, &["name"], &["if"])?;
                let name = name_is_str(item.value.get("name"), info, source)?;
                let source = format!("{source} '{name}'");
                check_name_lower(name, info, &source, false, false)?;
                (
                    name.to_owned(),
                    check_if(item.value.get("if").map(|n| &n.value), info, &source)?,
                )
            }
            Value::Str(name) => {
                check_name_lower(name, info, &format!("{source} '{name}'"), false, false)?;
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
        let source = "'data' member";
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
        let source = format!("{source} '{value_name}'");
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
    source: &str,
) -> Result<Option<String>, Error> {
    match value {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(Value::List(_)) => Err(Error::at(info, format!("{source} cannot be an array"))),
        Some(_) => Err(Error::at(info, format!("{source} should be a type name"))),
    }
}

fn array_type(items: &[Node], info: &SourceInfo, source: &str) -> Result<RawType, Error> {
    match items {
        [Node {
            value: Value::Str(s),
            ..
        }] => Ok(RawType::Array(s.clone())),
        _ => Err(Error::at(
            info,
            format!("{source}: array type must contain single type name"),
        )),
    }
}

/// A member's type: `'T'`, `['T']`, or `{ 'type': ..., 'if': ..., 'features': ... }`.
fn member_type(
    value: &Value,
    info: &SourceInfo,
    source: &str,
    allow_features: bool,
    allow_array: bool,
) -> Result<(RawType, Option<Cond>, Vec<Feature>), Error> {
    let simple = |value: &Value| -> Result<RawType, Error> {
        match value {
            Value::Str(s) => Ok(RawType::Name(s.clone())),
            Value::List(items) if allow_array => array_type(items, info, source),
            Value::List(_) => Err(Error::at(info, format!("{source} cannot be an array"))),
            _ => Err(Error::at(info, format!("{source} should be a type name"))),
        }
    };
    match value {
        Value::Dict(members) => {
            let keys: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
            let optional: &[&str] = if allow_features {
                &["if", "features"]
            } else {
                &["if"]
            };
            check_keys(&keys, info, source, &["type"], optional)?;
            let cond = check_if(value.get("if").map(|n| &n.value), info, source)?;
            let features = check_features(value.get("features").map(|n| &n.value), info)?;
            let ty = simple(&value.get("type").expect("check_keys made sure").value)?;
            Ok((ty, cond, features))
        }
        other => Ok((simple(other)?, None, Vec::new())),
    }
}

/// Members written inline (struct data, union base, command and event data).
fn members(
    data: &[(String, u32, u32, Node)],
    info: &SourceInfo,
    source: &str,
    owner: Option<&str>,
    pragma: &Pragma,
) -> Result<Vec<RawMember>, Error> {
    let permissive = owner.is_some_and(|o| pragma.member_name_exceptions.iter().any(|n| n == o));
    let mut out = Vec::new();
    for (key, _, _, node) in data {
        let key_source = format!("{source} member '{key}'");
        let (name, optional) = match key.strip_prefix('*') {
            Some(name) => (name, true),
            None => (key.as_str(), false),
        };
        check_name_lower(name, info, &key_source, permissive, permissive)?;
        let c = c_name(name);
        if c == "u" || c.starts_with("has_") {
            return Err(Error::at(info, format!("{key_source} uses reserved name")));
        }
        let (ty, cond, features) = member_type(&node.value, info, &key_source, true, true)?;
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

/// Union or alternate branches.
fn branches(
    data: &[(String, u32, u32, Node)],
    info: &SourceInfo,
    check_names: bool,
    allow_array: bool,
) -> Result<Vec<RawMember>, Error> {
    let mut out = Vec::new();
    for (key, _, _, node) in data {
        let source = format!("'data' member '{key}'");
        if check_names {
            check_name_lower(key, info, &source, false, false)?;
        }
        let (ty, cond, _) = member_type(&node.value, info, &source, false, allow_array)?;
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

fn check_data(
    value: Option<&Value>,
    boxed: bool,
    info: &SourceInfo,
    pragma: &Pragma,
) -> Result<Option<RawData>, Error> {
    match value {
        None if boxed => Err(Error::at(info, "'boxed': true requires 'data'")),
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(RawData::Named(s.clone()))),
        Some(Value::List(_)) => Err(Error::at(info, "'data' cannot be an array")),
        Some(Value::Dict(_)) if boxed => Err(Error::at(info, "'data' should be a type name")),
        Some(Value::Dict(m)) => Ok(Some(RawData::Inline(members(
            m, info, "'data'", None, pragma,
        )?))),
        Some(Value::Bool(_)) => Err(Error::at(info, "'data' should be an object or type name")),
    }
}
