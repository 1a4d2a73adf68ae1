//! Doc comments against what they document (QEMU's `connect_doc` and
//! `QAPIDoc.check`): every member, value, branch and feature is described (members
//! may be exempted by the `documentation-exceptions` pragma, features may not), and
//! nothing is described that is not there.
//!
//! Each definition's doc is connected right after its checks, as QEMU does; what
//! is described but does not exist is reported once every definition is checked.

use super::expr::{Def, DefKind, RawData, RawMember};
use crate::error::Error;
use crate::model::Feature;
use crate::parse::{DocComment, SectionKind};

/// What each definition's doc was found to describe, by definition.
pub struct Docs<'p> {
    exceptions: &'p [String],
    /// The doc of each definition, by index.
    docs: &'p [Option<DocComment>],
    connected: Vec<(usize, Vec<String>, Vec<String>)>,
}

impl<'p> Docs<'p> {
    pub fn new(exceptions: &'p [String], docs: &'p [Option<DocComment>]) -> Self {
        Docs {
            exceptions,
            docs,
            connected: Vec::new(),
        }
    }

    /// Connects the doc of `def` (the `index`th definition) to its features and
    /// members.
    pub fn connect(&mut self, def: &Def, index: usize) -> Result<(), Error> {
        let Some(doc) = &self.docs[index] else {
            return Ok(());
        };
        let exempt = self.exceptions.contains(&def.name);
        let mut members = Vec::new();
        let mut features = Vec::new();
        let feature = |f: &Feature, features: &mut Vec<String>| {
            if !doc.described(SectionKind::Feature, &f.name) {
                return Err(Error::at(
                    &def.info,
                    format!("feature '{}' lacks documentation", f.name),
                ));
            }
            features.push(f.name.clone());
            Ok(())
        };
        let member = |role: &str, name: &str, members: &mut Vec<String>| {
            if !doc.described(SectionKind::Member, name) && !exempt {
                return Err(Error::at(
                    &def.info,
                    format!("{role} '{name}' lacks documentation"),
                ));
            }
            members.push(name.to_owned());
            Ok(())
        };
        for f in &def.features {
            feature(f, &mut features)?;
        }
        let inline: &[RawMember] = match &def.kind {
            DefKind::Enum { values, .. } => {
                for v in values {
                    member("value", &v.name, &mut members)?;
                    for f in &v.features {
                        feature(f, &mut features)?;
                    }
                }
                &[]
            }
            DefKind::Alternate { branches } => {
                for b in branches {
                    member("branch", &b.name, &mut members)?;
                }
                &[]
            }
            DefKind::Struct { members, .. } => members,
            DefKind::Union {
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
            } => members,
            _ => &[],
        };
        for m in inline {
            member("member", &m.name, &mut members)?;
            for f in &m.features {
                feature(f, &mut features)?;
            }
        }
        self.connected.push((index, members, features));
        Ok(())
    }

    /// Reports, for the first doc that has any, the members or features it
    /// describes that do not exist, at the first one's line.
    pub fn check(&self) -> Result<(), Error> {
        for (index, members, features) in &self.connected {
            let doc = self.docs[*index].as_ref().expect("connected docs exist");
            for (kind, connected, what) in [
                (SectionKind::Member, members, "member"),
                (SectionKind::Feature, features, "feature"),
            ] {
                let bogus: Vec<_> = doc
                    .sections
                    .iter()
                    .filter(|s| s.kind == kind && !connected.contains(&s.name))
                    .collect();
                let Some(first) = bogus.first() else { continue };
                let names: Vec<&str> = bogus.iter().map(|s| s.name.as_str()).collect();
                let (s, verb) = if bogus.len() > 1 {
                    ("s", "do")
                } else {
                    ("", "does")
                };
                return Err(Error::at(
                    &doc.at(first.line),
                    format!(
                        "documented {what}{s} '{}' {verb} not exist",
                        names.join("', '")
                    ),
                ));
            }
        }
        Ok(())
    }
}
