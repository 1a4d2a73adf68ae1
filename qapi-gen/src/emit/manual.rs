//! The reference manual backend: the schema's documentation as Markdown, like QEMU's
//! qemu-ga-ref. The title and introduction come from a free-form block before the
//! first definition; then the commands and events, then the types, each in schema
//! order, with a heading per definition (so that `#name` links to it). Later
//! free-form blocks head the commands that follow them.

use super::cond::describe;
use super::doc::{command_notes, labelled, list_item, markdown, section_body};
use crate::model::{
    Arguments, Builtin, Command, Common, Cond, Entity, Enum, Event, Feature, Member, Schema,
    TypeRef, Union,
};

/// The manual's text (without the generated-file header).
pub fn manual(schema: &Schema) -> String {
    // A first free-form block before any definition holds the title and the
    // introduction; later ones head the commands that follow them.
    let (intro, later) = match schema.free_docs.split_first() {
        Some((first, rest)) if first.0 == 0 => (Some(&first.1), rest),
        _ => (None, &schema.free_docs[..]),
    };
    let mut body = intro.map_or("", |doc| doc.body.as_str());
    let mut title = "Reference manual";
    if let Some((first, rest)) = title_line(body) {
        title = first;
        body = rest;
    }
    let mut out = vec![format!("# {title}")];
    out.extend(free_form(body, 1));

    let mut commands = Vec::new();
    let mut types = Vec::new();
    let mut later = later.iter().peekable();
    for (index, entity) in schema.entities.iter().enumerate() {
        let entry = entry(schema, entity);
        if matches!(entity, Entity::Command(_) | Entity::Event(_)) {
            while let Some((_, doc)) = later.next_if(|(i, _)| *i <= index) {
                commands.extend(free_form(&doc.body, 3));
            }
            commands.push(entry);
        } else {
            types.push(entry);
        }
    }
    commands.extend(later.filter_map(|(_, doc)| free_form(&doc.body, 3)));
    if !commands.is_empty() {
        out.push("## Commands and events".to_owned());
        out.extend(commands);
    }
    if !types.is_empty() {
        out.push("## Types".to_owned());
        out.extend(types);
    }
    let mut text = out.join("\n\n");
    text.push('\n');
    text
}

/// The text of a `= Title` first line, and what follows it.
fn title_line(body: &str) -> Option<(&str, &str)> {
    let (first, rest) = body.split_once('\n').unwrap_or((body, ""));
    let title = first.strip_prefix("= ")?;
    Some((title.trim(), rest))
}

/// A free-form block as Markdown, its `= Heading` lines as headings with `=` at
/// `level` (`==` one deeper, ...); `None` when it has no text.
fn free_form(body: &str, level: usize) -> Option<String> {
    let lines: Vec<String> = body
        .lines()
        .map(|line| {
            let depth = line.chars().take_while(|&c| c == '=').count();
            match line[depth..].strip_prefix(' ') {
                Some(text) if depth > 0 => {
                    format!("{} {}", "#".repeat((level + depth - 1).min(6)), text.trim())
                }
                _ => line.to_owned(),
            }
        })
        .collect();
    let text = markdown(&lines.join("\n"));
    (!text.trim().is_empty()).then_some(text)
}

/// The Markdown anchor of a heading: GitHub's rule for our names, lower case.
fn anchor(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn type_text(ty: &TypeRef) -> String {
    match ty {
        TypeRef::Builtin(Builtin::Str) => "string".into(),
        TypeRef::Builtin(Builtin::Bool) => "boolean".into(),
        TypeRef::Builtin(Builtin::Any) => "any value".into(),
        TypeRef::Builtin(b) => b.name().into(),
        TypeRef::Named(n) => link(n),
        TypeRef::Array(element) => format!("array of {}", type_text(element)),
    }
}

fn link(name: &str) -> String {
    format!("[`{name}`](#{})", anchor(name))
}

/// One entry: heading, kind, body, the parts of its kind, features, sections.
fn entry(schema: &Schema, entity: &Entity) -> String {
    let common = entity.common();
    let mut parts = vec![format!("### {}", common.name)];
    let mut kind = format!("*{}*", entity.kind());
    if common.has_feature("deprecated") {
        kind.push_str(", deprecated");
    }
    if common.has_feature("unstable") {
        kind.push_str(", unstable");
    }
    parts.push(kind);
    let doc = common.doc.as_ref();
    if let Some(body) = doc.map(|d| d.body.as_str()).filter(|b| !b.is_empty()) {
        parts.push(markdown(body));
    }
    match entity {
        Entity::Struct(s) => {
            if let Some(base) = &s.base {
                parts.push(format!("The members of {}, then its own.", link(base)));
            }
            parts.extend(members("Members", &s.members.iter().collect::<Vec<_>>()));
        }
        Entity::Enum(e) => parts.extend(values(e)),
        Entity::Union(u) => parts.extend(union(schema, u)),
        Entity::Alternate(a) => {
            parts.extend(members("One of", &a.branches.iter().collect::<Vec<_>>()))
        }
        Entity::Command(c) => parts.extend(command(c)),
        Entity::Event(e) => parts.extend(event(e)),
    }
    parts.extend(sections(common));
    parts.join("\n\n")
}

/// A list of members: `- `name`: type (optional) — doc`, with their conditions.
fn members(title: &str, members: &[&Member]) -> Option<String> {
    if members.is_empty() {
        return None;
    }
    let items: Vec<String> = members
        .iter()
        .map(|m| {
            let mut facts = vec![type_text(&m.ty)];
            if m.optional {
                facts.push("optional".to_owned());
            }
            facts.extend(qualifiers(&m.features, m.cond.as_ref()));
            list_item(
                &format!("`{}` ({})", m.name, facts.join(", ")),
                m.doc.as_deref().unwrap_or(""),
            )
        })
        .collect();
    Some(format!("**{title}:**\n\n{}", items.join("\n")))
}

fn values(e: &Enum) -> Option<String> {
    if e.values.is_empty() {
        return None;
    }
    let items: Vec<String> = e
        .values
        .iter()
        .map(|v| {
            let facts = qualifiers(&v.features, v.cond.as_ref());
            let head = match facts.is_empty() {
                true => format!("`{}`", v.name),
                false => format!("`{}` ({})", v.name, facts.join(", ")),
            };
            list_item(&head, v.doc.as_deref().unwrap_or(""))
        })
        .collect();
    Some(format!("**Values:**\n\n{}", items.join("\n")))
}

/// A member's or value's features and condition, in a few words each.
fn qualifiers(features: &[Feature], cond: Option<&Cond>) -> Vec<String> {
    let mut facts: Vec<String> = features
        .iter()
        .map(|f| match &f.cond {
            Some(cond) => format!("{} if {}", f.name, describe(cond)),
            None => f.name.clone(),
        })
        .collect();
    facts.extend(cond.map(|c| format!("if {}", describe(c))));
    facts
}

fn union(schema: &Schema, u: &Union) -> Vec<String> {
    let mut parts = Vec::new();
    match &u.base_name {
        Some(base) => parts.push(format!("The members of {}.", link(base))),
        None => parts.extend(members(
            "Members",
            &u.base_members.iter().collect::<Vec<_>>(),
        )),
    }
    let values = schema
        .enum_named(&u.discriminator_enum)
        .map_or(&[][..], |e| &e.values[..]);
    let branches: Vec<String> = values
        .iter()
        .map(|v| {
            let what = match u.branches.iter().find(|b| b.value == v.name) {
                Some(b) => {
                    let cond = b
                        .cond
                        .as_ref()
                        .map(|c| format!(" (if {})", describe(c)))
                        .unwrap_or_default();
                    format!("the members of {}{cond}", link(&b.ty))
                }
                None => "no other members".to_owned(),
            };
            format!("- `{}`: {what}", v.name)
        })
        .collect();
    parts.push(format!(
        "**Depending on `{}`:**\n\n{}",
        u.discriminator,
        branches.join("\n")
    ));
    parts
}

fn data(title: &str, data: Option<&Arguments>) -> Option<String> {
    match data? {
        Arguments::Inline(ms) => members(title, &ms.iter().collect::<Vec<_>>()),
        Arguments::Named(n) => Some(format!("**{title}:** the members of {}", link(n))),
    }
}

fn command(c: &Command) -> Vec<String> {
    let mut parts = Vec::new();
    parts.extend(data("Arguments", c.data.as_ref()));
    let returns_doc = c.common.doc.as_ref().and_then(|d| d.section("Returns"));
    match (&c.returns, returns_doc) {
        (Some(ty), Some(text)) => parts.push(labelled(
            &format!("**Returns:** {} —", type_text(ty)),
            markdown(text),
        )),
        (Some(ty), None) => parts.push(format!("**Returns:** {}", type_text(ty))),
        (None, Some(text)) => parts.push(labelled("**Returns:**", markdown(text))),
        (None, None) => {}
    }
    parts.extend(command_notes(c));
    parts
}

fn event(e: &Event) -> Vec<String> {
    data("Data", e.data.as_ref()).into_iter().collect()
}

/// Features, the doc's tagged sections (`Returns` was given with the type), the
/// condition, and `Since` last.
fn sections(common: &Common) -> Vec<String> {
    let mut parts = Vec::new();
    let doc = common.doc.as_ref();
    if let Some(doc) = doc.filter(|d| !d.features.is_empty()) {
        let items: Vec<String> = doc
            .features
            .iter()
            .map(|(name, text)| list_item(&format!("`{name}`"), text))
            .collect();
        parts.push(format!("**Features:**\n\n{}", items.join("\n")));
    }
    for (tag, text) in doc.map_or(&[][..], |d| &d.sections[..]) {
        if matches!(tag.as_str(), "Returns" | "Since" | "TODO") {
            continue;
        }
        parts.push(match tag.as_str() {
            "" => section_body(tag, text),
            _ => labelled(&format!("**{tag}:**"), section_body(tag, text)),
        });
    }
    if let Some(cond) = &common.cond {
        parts.push(format!("**If:** {}", describe(cond)));
    }
    if let Some(since) = doc.and_then(|d| d.section("Since")) {
        parts.push(format!("**Since:** {since}"));
    }
    parts
}
