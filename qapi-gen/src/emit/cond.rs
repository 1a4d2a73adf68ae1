//! `if` conditions: as `cfg` predicates for the Rust backends, as text for the manual.

use std::collections::HashMap;

use quote::ToTokens;

use super::print::write_str_lit;
use crate::model::Cond;

/// How condition names become `cfg` predicates.
#[derive(Debug, Clone, Default)]
pub struct CfgMap {
    /// The caller's predicates, as their tokens print.
    mapped: HashMap<String, String>,
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
                    Ok(meta) => (name.clone(), meta.to_token_stream().to_string()),
                    Err(e) => panic!(
                        "Options::cfg_map: `{predicate}` (for {name}) is not a cfg predicate: {e}"
                    ),
                },
            )
            .collect();
        CfgMap { mapped }
    }

    /// Appends the predicate for a condition to `out`: a mapped name as mapped, any
    /// other name as a cargo feature (`CONFIG_LINUX` → `feature = "config-linux"`).
    /// False when the text is not what prettyplease writes for it: a mapped name is
    /// the caller's syntax, written as its tokens print.
    pub fn write(&self, cond: &Cond, out: &mut String) -> bool {
        let list = |op: &str, conds: &[Cond], out: &mut String| {
            out.push_str(op);
            out.push('(');
            let mut exact = true;
            for (i, c) in conds.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                exact &= self.write(c, out);
            }
            out.push(')');
            exact
        };
        match cond {
            Cond::Name(name) => match self.mapped.get(name) {
                Some(predicate) => {
                    out.push_str(predicate);
                    false
                }
                None => {
                    out.push_str("feature = ");
                    write_str_lit(&name.to_ascii_lowercase().replace('_', "-"), out);
                    true
                }
            },
            Cond::All(conds) => list("all", conds, out),
            Cond::Any(conds) => list("any", conds, out),
            Cond::Not(cond) => {
                out.push_str("not(");
                let exact = self.write(cond, out);
                out.push(')');
                exact
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
        let mut out = String::new();
        assert!(!cfg.write(&cond, &mut out), "a mapped name is not exact");
        assert_eq!(out, r#"all(feature = "config-linux", not(any(unix)))"#);
        out.clear();
        assert!(cfg.write(&name("CONFIG_A_B"), &mut out));
        assert_eq!(out, r#"feature = "config-a-b""#);
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
