//! The reference manual backend: the schema's documentation as Markdown, commands
//! first, then types, in schema order.

use std::fmt::Write as _;

use crate::model::{Arguments, Builtin, Doc, Entity, Member, Schema, TypeRef};

fn type_text(ty: &TypeRef) -> String {
    match ty {
        TypeRef::Builtin(Builtin::Str) => "string".into(),
        TypeRef::Builtin(Builtin::Bool) => "boolean".into(),
        TypeRef::Builtin(b) => b.name().into(),
        TypeRef::Named(n) => format!("[`{n}`](#{})", n.to_ascii_lowercase()),
        TypeRef::Array(element) => format!("array of {}", type_text(element)),
    }
}

fn members(out: &mut String, title: &str, members: &[&Member]) {
    if members.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:\n");
    for m in members {
        let optional = if m.optional { " (optional)" } else { "" };
        let doc = m.doc.as_deref().unwrap_or("").replace('\n', " ");
        let _ = writeln!(out, "- `{}`: {}{optional}. {doc}", m.name, type_text(&m.ty));
    }
    out.push('\n');
}

fn sections(out: &mut String, doc: Option<&Doc>) {
    let Some(doc) = doc else { return };
    for (tag, text) in &doc.sections {
        if tag.is_empty() {
            let _ = writeln!(out, "{text}\n");
        } else {
            let _ = writeln!(out, "**{tag}:** {text}\n");
        }
    }
}

/// The manual.
pub fn manual(schema: &Schema) -> String {
    let mut out = String::from("# Reference manual\n\n");
    let mut commands = String::from("## Commands\n\n");
    let mut types = String::from("## Types\n\n");
    for (index, entity) in schema.entities.iter().enumerate() {
        for (_, doc) in schema.free_docs.iter().filter(|(i, _)| *i == index) {
            let _ = writeln!(commands, "{}\n", doc.body);
        }
        let common = entity.common();
        let body = common.doc.as_ref().map_or("", |d| d.body.as_str());
        let target = if matches!(entity, Entity::Command(_) | Entity::Event(_)) { &mut commands } else { &mut types };
        let _ = writeln!(target, "### {} ({})\n", common.name, entity.kind());
        if !body.is_empty() {
            let _ = writeln!(target, "{body}\n");
        }
        match entity {
            Entity::Struct(s) => members(target, "Members", &schema.all_members(s)),
            Entity::Enum(e) => {
                let _ = writeln!(target, "Values:\n");
                for v in &e.values {
                    let _ = writeln!(target, "- `{}`: {}", v.name, v.doc.as_deref().unwrap_or("").replace('\n', " "));
                }
                target.push('\n');
            }
            Entity::Union(u) => {
                members(target, "Members", &u.base_members.iter().collect::<Vec<_>>());
                let _ = writeln!(target, "Depending on `{}`:\n", u.discriminator);
                for b in &u.branches {
                    let _ = writeln!(target, "- `{}`: the members of {}", b.value, type_text(&TypeRef::Named(b.ty.clone())));
                }
                target.push('\n');
            }
            Entity::Alternate(a) => members(target, "One of", &a.branches.iter().collect::<Vec<_>>()),
            Entity::Command(c) => {
                match &c.data {
                    Some(Arguments::Inline(ms)) => members(target, "Arguments", &ms.iter().collect::<Vec<_>>()),
                    Some(Arguments::Named(n)) => {
                        let _ = writeln!(target, "Arguments: the members of {}\n", type_text(&TypeRef::Named(n.clone())));
                    }
                    None => {}
                }
                if let Some(ty) = &c.returns {
                    let _ = writeln!(target, "Returns: {}\n", type_text(ty));
                }
                if !c.success_response {
                    let _ = writeln!(target, "No response on success.\n");
                }
            }
            Entity::Event(e) => {
                if let Some(Arguments::Inline(ms)) = &e.data {
                    members(target, "Data", &ms.iter().collect::<Vec<_>>());
                }
            }
        }
        sections(target, common.doc.as_ref());
    }
    out.push_str(&commands);
    out.push_str(&types);
    out
}
