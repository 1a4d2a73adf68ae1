//! `if` conditions: as `cfg` predicates for the Rust backends, as text for the manual.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Cond;

/// How condition names become `cfg` predicates.
#[derive(Debug, Clone, Default)]
pub struct CfgMap {
    mapped: HashMap<String, TokenStream>,
}

impl CfgMap {
    /// From the caller's map of names to predicate text.
    ///
    /// # Panics
    /// When a predicate is not `cfg` syntax: the map is the caller's code, not input.
    pub fn new(map: &std::collections::BTreeMap<String, String>) -> Self {
        let mapped = map
            .iter()
            .map(
                |(name, predicate)| match syn::parse_str::<syn::Meta>(predicate) {
                    Ok(meta) => (name.clone(), quote! { #meta }),
                    Err(e) => panic!(
                        "Options::cfg_map: `{predicate}` (for {name}) is not a cfg predicate: {e}"
                    ),
                },
            )
            .collect();
        CfgMap { mapped }
    }

    /// [`CfgMap::predicate`] as prettyplease prints it, or `None` when the condition
    /// involves a mapped name (the caller's own syntax) or a name that needs escapes.
    pub fn predicate_text(&self, cond: &Cond) -> Option<String> {
        let mut out = String::new();
        self.write_predicate(cond, &mut out).then_some(out)
    }

    /// Appends [`CfgMap::predicate_text`] to `out`; false when there is none.
    pub fn write_predicate(&self, cond: &Cond, out: &mut String) -> bool {
        let list = |op: &str, conds: &[Cond], out: &mut String| {
            out.push_str(op);
            out.push('(');
            for (i, c) in conds.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if !self.write_predicate(c, out) {
                    return false;
                }
            }
            out.push(')');
            true
        };
        match cond {
            Cond::Name(name) => {
                if self.mapped.contains_key(name)
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return false;
                }
                out.push_str("feature = \"");
                out.extend(name.chars().map(|c| match c {
                    '_' => '-',
                    c => c.to_ascii_lowercase(),
                }));
                out.push('"');
                true
            }
            Cond::All(conds) => list("all", conds, out),
            Cond::Any(conds) => list("any", conds, out),
            Cond::Not(cond) => {
                out.push_str("not(");
                let ok = self.write_predicate(cond, out);
                out.push(')');
                ok
            }
        }
    }

    /// The predicate for a condition: a mapped name as mapped, any other name as a
    /// cargo feature (`CONFIG_LINUX` → `feature = "config-linux"`).
    pub fn predicate(&self, cond: &Cond) -> TokenStream {
        match cond {
            Cond::Name(name) => match self.mapped.get(name) {
                Some(predicate) => predicate.clone(),
                None => {
                    let feature = name.to_ascii_lowercase().replace('_', "-");
                    quote! { feature = #feature }
                }
            },
            Cond::All(conds) => {
                let inner = conds.iter().map(|c| self.predicate(c));
                quote! { all(#(#inner),*) }
            }
            Cond::Any(conds) => {
                let inner = conds.iter().map(|c| self.predicate(c));
                quote! { any(#(#inner),*) }
            }
            Cond::Not(cond) => {
                let inner = self.predicate(cond);
                quote! { not(#inner) }
            }
        }
    }
}

/// A condition in words, for the manual: `CONFIG_A and (CONFIG_B or not CONFIG_C)`.
pub fn describe(cond: &Cond) -> String {
    fn operand(cond: &Cond) -> String {
        match cond {
            Cond::All(c) | Cond::Any(c) if c.len() > 1 => format!("({})", describe(cond)),
            _ => describe(cond),
        }
    }
    match cond {
        Cond::Name(name) => format!("`{name}`"),
        Cond::All(conds) => conds.iter().map(operand).collect::<Vec<_>>().join(" and "),
        Cond::Any(conds) => conds.iter().map(operand).collect::<Vec<_>>().join(" or "),
        Cond::Not(cond) => format!("not {}", operand(cond)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Cond {
        Cond::Name(n.into())
    }

    #[test]
    fn predicates() {
        let mut map = std::collections::BTreeMap::new();
        map.insert("CONFIG_POSIX".to_owned(), "unix".to_owned());
        let cfg = CfgMap::new(&map);
        let cond = Cond::All(vec![
            name("CONFIG_LINUX"),
            Cond::Not(Box::new(Cond::Any(vec![name("CONFIG_POSIX")]))),
        ]);
        assert_eq!(
            cfg.predicate(&cond).to_string(),
            r#"all (feature = "config-linux" , not (any (unix)))"#
        );
    }

    #[test]
    fn words() {
        let cond = Cond::All(vec![
            name("A"),
            Cond::Any(vec![name("B"), Cond::Not(Box::new(name("C")))]),
        ]);
        assert_eq!(describe(&cond), "`A` and (`B` or not `C`)");
        assert_eq!(
            describe(&Cond::Not(Box::new(Cond::All(vec![name("A"), name("B")])))),
            "not (`A` and `B`)"
        );
    }

    #[test]
    #[should_panic(expected = "is not a cfg predicate")]
    fn bad_predicate() {
        let mut map = std::collections::BTreeMap::new();
        map.insert("X".to_owned(), "a b c".to_owned());
        CfgMap::new(&map);
    }
}
